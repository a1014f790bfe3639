//! The CRM inbox for ops: record changes received from Salesforce, what each did, and the
//! failed ones to replay or dismiss. Operators see every link; a system administrator the
//! links that serve their tenancy.

use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::PageQuery;
use super::org_links::managed_link;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{Path, Query};
use crate::store::{InboxItem, InboxState, Page};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_inbox))
        .routes(routes!(replay_inbox_item))
        .routes(routes!(dismiss_inbox_item))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only items in this state (`failed` to see what needs attention).
    pub state: Option<InboxState>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub after: Option<Uuid>,
}

/// Record changes received for the link, oldest first, with what each did (or why not).
#[utoipa::path(get, path = "/org-links/{org_link_id}/inbox", tag = "salesforce",
    params(("org_link_id" = Uuid, Path), InboxQuery),
    responses((status = 200, body = Page<InboxItem>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_inbox(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(query): Query<InboxQuery>,
) -> ApiResult<axum::Json<Page<InboxItem>>> {
    managed_link(&state, &caller, id).await?;
    let page = PageQuery {
        limit: query.limit,
        after: query.after,
        q: None,
    }
    .page()?;
    Ok(axum::Json(
        state.store.list_changes(id, query.state, &page).await?,
    ))
}

/// Apply a failed (or dismissed) change again now, with fresh attempts.
#[utoipa::path(post, path = "/org-links/{org_link_id}/inbox/{item_id}/replay", tag = "salesforce",
    params(("org_link_id" = Uuid, Path), ("item_id" = Uuid, Path)),
    responses((status = 200, body = InboxItem), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn replay_inbox_item(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, item)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<InboxItem>> {
    managed_link(&state, &caller, id).await?;
    let replayed = state.store.replay_change(id, item).await?;
    state.wake_workers.notify_one();
    Ok(axum::Json(replayed))
}

/// Give up on a failed change; it stays listed as dismissed.
#[utoipa::path(post, path = "/org-links/{org_link_id}/inbox/{item_id}/dismiss", tag = "salesforce",
    params(("org_link_id" = Uuid, Path), ("item_id" = Uuid, Path)),
    responses((status = 200, body = InboxItem), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn dismiss_inbox_item(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, item)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<InboxItem>> {
    managed_link(&state, &caller, id).await?;
    Ok(axum::Json(state.store.dismiss_change(id, item).await?))
}
