//! A tenancy's invitation funnel, for its system administrators and operators: as JSON, or as
//! CSV for a spreadsheet.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::app;
use crate::domain::funnel::{Funnel, Period};
use crate::domain::user::StaffRole;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{Path, Query};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(tenancy_funnel))
}

/// The period asked for, and how to answer.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FunnelQuery {
    /// The first day (UTC, `YYYY-MM-DD`); 30 days before `to` when left out.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<String>,
    /// The last day, included (UTC, `YYYY-MM-DD`); today when left out.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<String>,
    /// `csv` for a CSV file of the same numbers.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

/// The tenancy's invitation funnel over a period: how many clients moved to
/// draft, invited, active (accepted), declined, revoked and expired; of the clients first
/// invited in the period, how many accepted and the median time to accept; e-mails sent,
/// waiting for a retry and failed; bounce-like failures by recipient domain. System
/// administrators and operators.
#[utoipa::path(get, path = "/tenancies/{tenancy_id}/funnel", tag = "reports",
    params(("tenancy_id" = Uuid, Path), FunnelQuery),
    responses((status = 200, description = "the funnel, as JSON or (format=csv) as CSV",
            content((Funnel = "application/json"), (String = "text/csv"))),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn tenancy_funnel(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
    Query(query): Query<FunnelQuery>,
) -> ApiResult<Response> {
    let csv = matches!(query.format.as_deref(), Some("csv"));
    if !matches!(query.format.as_deref(), None | Some("json" | "csv")) {
        return Err(ApiError::bad_request("format", "must be json or csv"));
    }
    let funnel = report(&state, &caller, tenancy_id, &query).await?;
    Ok(if csv {
        csv_file(&funnel)
    } else {
        axum::Json(funnel).into_response()
    })
}

/// The funnel `caller` asked for: the API's and the console's one way to read it.
pub(crate) async fn report(
    state: &AppState,
    caller: &Caller,
    tenancy: Uuid,
    query: &FunnelQuery,
) -> ApiResult<Funnel> {
    let access = caller.in_tenancy(tenancy)?;
    if !access.role.is_none_or(StaffRole::administers_tenancy) {
        return Err(ApiError::Forbidden(
            "only system administrators may read the tenancy's invitation funnel".into(),
        ));
    }
    let today = state.store.clock().now().date();
    let period =
        Period::parse(query.from.as_deref(), query.to.as_deref(), today).map_err(|errors| {
            ApiError::BadRequest {
                detail: "the period is not one the funnel covers".into(),
                errors,
            }
        })?;
    Ok(app::funnel::report(&state.store, access.tenancy, period).await?)
}

/// The funnel as a CSV file, one `metric,value` row each (bounce-like failures as
/// `bounce_like_failures:DOMAIN`), named after its period.
pub(crate) fn csv_file(funnel: &Funnel) -> Response {
    let mut out = csv::Writer::from_writer(Vec::new());
    for (metric, value) in funnel.rows() {
        // Writing to memory cannot fail.
        let _ = out.write_record([metric.as_str(), value.as_str()]);
    }
    let body = out.into_inner().unwrap_or_default();
    let name = format!(
        "attachment; filename=\"invitation-funnel-{}-{}.csv\"",
        funnel.from, funnel.to
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        body,
    )
        .into_response()
}
