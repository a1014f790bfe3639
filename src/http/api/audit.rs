//! The audit trail: a tenancy's for its system administrators and operators, the whole
//! installation's for operators.

use axum::extract::State;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::PageQuery;
use super::wire::{AuditEvent, Page};
use crate::clock::to_millis;
use crate::domain::audit::Action;
use crate::domain::user::StaffRole;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{Path, Query};
use crate::store::{self, AuditFilter, PageRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_audit))
        .routes(routes!(list_installation_audit))
}

/// Which entries of the trail to list, and the page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries of this action.
    pub action: Option<Action>,
    /// Only entries by this actor: an operator's token id or a staff user's id.
    pub actor: Option<Uuid>,
    /// Only entries about this object (an org link, a staff user, a group, a token).
    pub target: Option<Uuid>,
    /// Only entries from this time on (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<String>,
    /// Only entries before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub until: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<Uuid>,
}

impl AuditQuery {
    /// The filter on `tenancy`'s trail (`None`: the installation's) and the page asked for.
    fn filter(self, tenancy: Option<Uuid>) -> ApiResult<(AuditFilter, PageRequest)> {
        let page = PageQuery {
            limit: self.limit,
            after: self.after,
            q: None,
        }
        .page()?;
        let filter = AuditFilter {
            tenancy,
            action: self.action,
            actor: self.actor,
            target: self.target,
            from: time_param("from", self.from.as_deref())?,
            until: time_param("until", self.until.as_deref())?,
        };
        Ok((filter, page))
    }
}

/// A time parameter in RFC 3339, as milliseconds.
fn time_param(field: &str, raw: Option<&str>) -> ApiResult<Option<i64>> {
    raw.map(|raw| {
        OffsetDateTime::parse(raw, &Rfc3339)
            .map(to_millis)
            .map_err(|_| ApiError::bad_request(field, "must be a time in RFC 3339 form"))
    })
    .transpose()
}

/// The tenancy's audit trail, oldest first (system administrators and operators): every
/// change of its org links, staff, group memberships and tokens, with who made it, when and
/// what changed. A secret is only ever named as changed.
#[utoipa::path(get, path = "/tenancies/{tenancy_id}/audit", tag = "audit",
    params(("tenancy_id" = Uuid, Path), AuditQuery),
    responses((status = 200, body = Page<AuditEvent>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_audit(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
    Query(query): Query<AuditQuery>,
) -> ApiResult<axum::Json<Page<AuditEvent>>> {
    Ok(axum::Json(
        trail(&state, &caller, Some(tenancy_id), query)
            .await?
            .into(),
    ))
}

/// Whose trail `caller` may read: a tenancy's (its system administrators, operators) or, for
/// `None`, the installation's (operators).
pub(crate) fn scope(caller: &Caller, tenancy: Option<Uuid>) -> ApiResult<Option<Uuid>> {
    let Some(tenancy_id) = tenancy else {
        caller.require_operator()?;
        return Ok(None);
    };
    let access = caller.in_tenancy(tenancy_id)?;
    if !access.role.is_none_or(StaffRole::administers_tenancy) {
        return Err(ApiError::Forbidden(
            "only system administrators may read the tenancy's audit trail".into(),
        ));
    }
    Ok(Some(access.tenancy))
}

/// A page of a tenancy's trail (its system administrators, operators) or, for `None`, of the
/// installation's (operators): the API's and the console's one way to read it.
pub(crate) async fn trail(
    state: &AppState,
    caller: &Caller,
    tenancy: Option<Uuid>,
    query: AuditQuery,
) -> ApiResult<store::Page<store::AuditEvent>> {
    let (filter, page) = query.filter(scope(caller, tenancy)?)?;
    Ok(state.store.list_audit(&filter, &page).await?)
}

/// The whole installation's audit trail, oldest first (operators): every tenancy's entries
/// and those of no tenancy (operator tokens, links several tenancies share).
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditEvent>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_installation_audit(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<AuditQuery>,
) -> ApiResult<axum::Json<Page<AuditEvent>>> {
    Ok(axum::Json(
        trail(&state, &caller, None, query).await?.into(),
    ))
}
