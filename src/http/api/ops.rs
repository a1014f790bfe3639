//! Sync health for ops: `GET /ops/health` answers what the console's overview draws, from
//! `app::ops`, which decides who sees what.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app;
use crate::domain::ops::Health;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiResult, Problem};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_health))
}

/// Sync health at a glance: per org link its state, the org's API usage and the link's own
/// calls in the last 24 hours against its share; each queue's depth, oldest item's age,
/// failures in the last hour and throughput; each worker's last pass. Every number carries a
/// level (`ok`, `warning`, `critical`) from the `[ops]` thresholds. Operators see everything; a
/// system administrator the links serving their tenancy and their tenancy's items.
#[utoipa::path(get, path = "/ops/health", tag = "ops",
    responses((status = 200, body = Health), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_health(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Health>> {
    Ok(axum::Json(health(&state, &caller).await?))
}

/// The health the caller may see: the API's answer and the console's overview alike.
pub(crate) async fn health(state: &AppState, caller: &Caller) -> ApiResult<Health> {
    Ok(app::ops::health(&state.store, &state.ops, &caller.0).await?)
}
