use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::wire::{CreatedToken, Page, TokenInfo};
use super::{PageQuery, invalid, parsed, present};
use crate::app::audit::actor_of;
use crate::app::tokens;
use crate::domain::FieldErrors;
use crate::domain::token;
use crate::domain::user::StaffRole;
use crate::domain::values::DisplayName;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{Json, Path, Query};
use crate::store;

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
    /// Days until the token stops working, 1 to 3650; `null` for a token that never expires;
    /// left out, the installation's default (`api.token_expiry_days`).
    #[serde(default, deserialize_with = "whole_days")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<Option<u32>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperatorToken {
    #[schema(value_type = crate::http::api::schema::DisplayName)]
    pub name: String,
    /// Days until the token stops working, 1 to 3650; `null` for a token that never expires;
    /// left out, the installation's default (`api.token_expiry_days`).
    #[serde(default, deserialize_with = "whole_days")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<Option<u32>>,
}

/// A number of days as JSON Schema counts integers: `66` and `66.0` alike; `null` is "never".
fn whole_days<'de, D>(deserializer: D) -> Result<Option<Option<u32>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let number: Option<serde_json::Number> = present(deserializer)?.flatten();
    let Some(number) = number else {
        return Ok(Some(None));
    };
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    whole
        .and_then(|days| u32::try_from(days).ok())
        .map(|days| Some(Some(days)))
        .ok_or_else(|| serde::de::Error::custom("must be a whole number of days"))
}

/// The new token's name and lifetime, every field error at once.
fn parse_token(
    state: &AppState,
    name: &str,
    expires_in_days: Option<Option<u32>>,
) -> Result<(String, Option<time::Duration>), ApiError> {
    let mut errors = FieldErrors::new();
    let name = errors.take(
        "name",
        DisplayName::parse(name).map(|n| n.as_str().to_string()),
    );
    let lifetime = errors.take(
        "expires_in_days",
        token::lifetime(expires_in_days, state.token_expiry),
    );
    errors.finish().map_err(invalid)?;
    Ok((parsed(name)?, parsed(lifetime)?))
}

/// Issue a token that acts as a staff user of the tenancy (administrators). The secret is in
/// this response only. An expired token is refused like an unknown one.
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
    let asked = TokenRequest {
        staff: Some((tenancy_id, body.staff_id)),
        name: body.name,
        expires_in_days: body.expires_in_days,
    };
    let created = issue(&state, &caller, asked).await?;
    Ok((StatusCode::CREATED, axum::Json(created.into())))
}

/// A token as asked for, before parsing.
pub(crate) struct TokenRequest {
    /// The tenancy and the staff user the token acts as; `None` for an operator token.
    pub(crate) staff: Option<(Uuid, Uuid)>,
    pub(crate) name: String,
    /// Left out, the installation's default; `Some(None)`, never.
    pub(crate) expires_in_days: Option<Option<u32>>,
}

/// Issues a token as `caller`: one acting as a staff user (the tenancy's users administrators;
/// one acting as a system administrator only by those who may appoint one), or an operator
/// token (operators). The API's and the console's one way to do it.
pub(crate) async fn issue(
    state: &AppState,
    caller: &Caller,
    asked: TokenRequest,
) -> ApiResult<store::CreatedToken> {
    let tenancy = scope(caller, asked.staff.map(|(tenancy, _)| tenancy))?;
    let (name, lifetime) = parse_token(state, &asked.name, asked.expires_in_days)?;
    let staff = tenancy.zip(asked.staff.map(|(_, staff)| staff));
    // A token carries its staff user's rights: only those who may appoint system
    // administrators may issue one that acts as a system administrator.
    if let Some((tenancy, staff_id)) = staff
        && !caller
            .in_tenancy(tenancy)?
            .role
            .is_none_or(StaffRole::administers_tenancy)
        && let Ok(staff) = state.store.staff(tenancy, staff_id).await
        && staff.role == StaffRole::SystemAdministrator
    {
        return Err(ApiError::Forbidden(
            "only system administrators may issue tokens that act as a system administrator".into(),
        ));
    }
    Ok(tokens::create(&state.store, staff, &name, lifetime, &actor_of(&caller.0)).await?)
}

/// Whose tokens `caller` may list, issue and revoke: a tenancy's (its users administrators,
/// operators) or, for `None`, the operator tokens (operators).
pub(crate) fn scope(caller: &Caller, tenancy: Option<Uuid>) -> ApiResult<Option<Uuid>> {
    let Some(tenancy_id) = tenancy else {
        caller.require_operator()?;
        return Ok(None);
    };
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    Ok(Some(access.tenancy))
}

/// The tokens of a tenancy (its users administrators) or, for `None`, the operator tokens
/// (operators), a page at a time.
pub(crate) async fn listed(
    state: &AppState,
    caller: &Caller,
    tenancy: Option<Uuid>,
    query: &PageQuery,
) -> ApiResult<store::Page<store::TokenInfo>> {
    let tenancy = scope(caller, tenancy)?;
    Ok(state.store.list_tokens(tenancy, &query.page()?).await?)
}

/// Revokes a token of a tenancy (its users administrators) or, for `None`, an operator token
/// (operators).
pub(crate) async fn revoked(
    state: &AppState,
    caller: &Caller,
    tenancy: Option<Uuid>,
    token_id: Uuid,
) -> ApiResult<store::TokenInfo> {
    let tenancy = scope(caller, tenancy)?;
    let actor = actor_of(&caller.0);
    Ok(tokens::revoke(&state.store, tenancy, token_id, &actor).await?)
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
    Ok(axum::Json(
        listed(&state, &caller, Some(tenancy_id), &query)
            .await?
            .into(),
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
    let revoked = revoked(&state, &caller, Some(tenancy_id), token_id).await?;
    Ok(axum::Json(revoked.into()))
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
    let asked = TokenRequest {
        staff: None,
        name: body.name,
        expires_in_days: body.expires_in_days,
    };
    let created = issue(&state, &caller, asked).await?;
    Ok((StatusCode::CREATED, axum::Json(created.into())))
}

#[utoipa::path(get, path = "/operator/tokens", tag = "tokens", params(PageQuery),
    responses((status = 200, body = Page<TokenInfo>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_operator_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page<TokenInfo>>> {
    Ok(axum::Json(
        listed(&state, &caller, None, &query).await?.into(),
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
    Ok(axum::Json(
        revoked(&state, &caller, None, token_id).await?.into(),
    ))
}
