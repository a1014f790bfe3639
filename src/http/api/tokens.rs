use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::PageQuery;
use crate::domain::user::StaffRole;
use crate::domain::values::DisplayName;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{Json, Path, Query};
use crate::store::{CreatedToken, Page, TokenInfo};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
        .routes(routes!(create_operator_token, list_operator_tokens))
        .routes(routes!(revoke_operator_token))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// The active staff user the token acts as; it carries their role.
    pub staff_id: Uuid,
    /// What the token is for, e.g. "Salesforce integration".
    #[schema(value_type = crate::http::api::schema::DisplayName)]
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperatorToken {
    #[schema(value_type = crate::http::api::schema::DisplayName)]
    pub name: String,
}

fn token_name(raw: &str) -> Result<String, ApiError> {
    DisplayName::parse(raw)
        .map(|n| n.as_str().to_string())
        .map_err(|reason| ApiError::invalid("name", reason))
}

/// Issue a token that acts as a staff user of the tenancy (administrators). The secret is in
/// this response only.
#[utoipa::path(post, path = "/tenancies/{tenancy_id}/tokens", tag = "tokens",
    params(("tenancy_id" = Uuid, Path)), request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 422, description = "A field is invalid, or `staff_id` is not an active staff user of the tenancy.", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
    Json(body): Json<CreateToken>,
) -> ApiResult<(StatusCode, axum::Json<CreatedToken>)> {
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    let name = token_name(&body.name)?;
    // A token carries its staff user's rights: only those who may appoint system
    // administrators may issue one that acts as a system administrator.
    if !access.role.is_none_or(StaffRole::administers_tenancy)
        && let Ok(staff) = state.store.staff(access.tenancy, body.staff_id).await
        && staff.role == StaffRole::SystemAdministrator
    {
        return Err(ApiError::Forbidden(
            "only system administrators may issue tokens that act as a system administrator".into(),
        ));
    }
    let created = state
        .store
        .create_staff_token(access.tenancy, body.staff_id, &name)
        .await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

#[utoipa::path(get, path = "/tenancies/{tenancy_id}/tokens", tag = "tokens",
    params(("tenancy_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<TokenInfo>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page<TokenInfo>>> {
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    Ok(axum::Json(
        state
            .store
            .list_tokens(Some(access.tenancy), &query.page()?)
            .await?,
    ))
}

/// Revoke a token at once (administrators). Revoking twice is harmless.
#[utoipa::path(delete, path = "/tenancies/{tenancy_id}/tokens/{token_id}", tag = "tokens",
    params(("tenancy_id" = Uuid, Path), ("token_id" = Uuid, Path)),
    responses((status = 200, body = TokenInfo), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, token_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<TokenInfo>> {
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    Ok(axum::Json(
        state
            .store
            .revoke_token(Some(access.tenancy), token_id)
            .await?,
    ))
}

/// Issue another operator token (operators).
#[utoipa::path(post, path = "/operator/tokens", tag = "tokens", request_body = CreateOperatorToken,
    responses((status = 201, body = CreatedToken), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn create_operator_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateOperatorToken>,
) -> ApiResult<(StatusCode, axum::Json<CreatedToken>)> {
    caller.require_operator()?;
    let name = token_name(&body.name)?;
    Ok((
        StatusCode::CREATED,
        axum::Json(state.store.create_operator_token(&name).await?),
    ))
}

#[utoipa::path(get, path = "/operator/tokens", tag = "tokens", params(PageQuery),
    responses((status = 200, body = Page<TokenInfo>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_operator_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page<TokenInfo>>> {
    caller.require_operator()?;
    Ok(axum::Json(
        state.store.list_tokens(None, &query.page()?).await?,
    ))
}

#[utoipa::path(delete, path = "/operator/tokens/{token_id}", tag = "tokens", params(("token_id" = Uuid, Path)),
    responses((status = 200, body = TokenInfo), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn revoke_operator_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(token_id): Path<Uuid>,
) -> ApiResult<axum::Json<TokenInfo>> {
    caller.require_operator()?;
    Ok(axum::Json(state.store.revoke_token(None, token_id).await?))
}
