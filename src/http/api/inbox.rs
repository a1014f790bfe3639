//! The CRM inbox for ops: record changes received from Salesforce, what each did, and the
//! failed ones to replay or dismiss. Operators see every link; a system administrator the
//! links that serve their tenancy, and of a link that serves other tenancies too only the
//! changes of records linked to their tenancy's clients.

use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::PageQuery;
use super::org_links::{LinkAccess, link_access};
use super::wire::{InboxItem, Page};
use crate::domain::values::SalesforceId;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{Path, Query};
use crate::store::{self, InboxState};

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
    let (_, access) = link_access(&state, &caller, id).await?;
    let page = PageQuery {
        limit: query.limit,
        after: query.after,
        q: None,
    }
    .page()?;
    let changes = state
        .store
        .list_changes(id, access.tenancy(), query.state, &page)
        .await?;
    let mut items = Vec::with_capacity(changes.items.len());
    for item in changes.items {
        items.push(as_seen(&state, access, item).await?);
    }
    Ok(axum::Json(Page {
        items,
        next_cursor: changes.next_cursor,
    }))
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
    let (_, access) = link_access(&state, &caller, id).await?;
    let replayed = state
        .store
        .replay_change(id, access.tenancy(), item)
        .await?;
    state.wake_workers.notify_one();
    Ok(axum::Json(as_seen(&state, access, replayed).await?))
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
    let (_, access) = link_access(&state, &caller, id).await?;
    let dismissed = state
        .store
        .dismiss_change(id, access.tenancy(), item)
        .await?;
    Ok(axum::Json(as_seen(&state, access, dismissed).await?))
}

/// An item as the caller may see it. A record may be linked to a client in each tenancy the
/// link serves, and the outcome names each client's effect (`client <id>: …`): a served
/// tenancy's administrator sees only their own client's.
async fn as_seen(
    state: &AppState,
    access: LinkAccess,
    item: store::InboxItem,
) -> ApiResult<InboxItem> {
    let mut item = InboxItem::from(item);
    let Some(tenancy) = access.tenancy() else {
        return Ok(item);
    };
    let own = match SalesforceId::parse(&item.record_id) {
        Ok(record) => {
            state
                .store
                .client_of_record(tenancy, item.org_link_id, &record)
                .await?
        }
        Err(_) => None,
    };
    item.outcome = item.outcome.map(|outcome| own_notes(&outcome, own));
    Ok(item)
}

/// The parts of an outcome that are not about another client than `own`: a part that starts
/// `client <id>:` begins that client's notes, which run until the next such part.
fn own_notes(outcome: &str, own: Option<Uuid>) -> String {
    let mut keep = true;
    let mut kept = Vec::new();
    for part in outcome.split("; ") {
        if let Some(client) = part
            .strip_prefix("client ")
            .and_then(|rest| rest.split_once(':'))
            .and_then(|(id, _)| Uuid::parse_str(id).ok())
        {
            keep = Some(client) == own;
        }
        if keep {
            kept.push(part);
        }
    }
    kept.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_clients_notes_are_left_out_of_an_outcome() {
        let (mine, theirs) = (Uuid::now_v7(), Uuid::now_v7());
        let outcome = format!(
            "client {theirs}: updated email; invitation re-sent to the new e-mail; client {mine}: updated title"
        );
        assert_eq!(
            own_notes(&outcome, Some(mine)),
            format!("client {mine}: updated title")
        );
        assert_eq!(own_notes(&outcome, None), "");
        assert_eq!(
            own_notes("nothing Liaison follows changed", Some(mine)),
            "nothing Liaison follows changed"
        );
    }
}
