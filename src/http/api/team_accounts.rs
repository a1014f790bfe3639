use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::wire::{Page, Staff, TeamAccount};
use super::{PageQuery, invalid, optional, parsed};
use crate::app::audit::actor_of;
use crate::app::team_accounts;
use crate::domain::FieldErrors;
use crate::domain::values::{DisplayName, E164Phone, Email, Title};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{Json, Path, Query};
use crate::store::{self, NewTeamAccount, TeamAccountUpdate};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_team_account, list_team_accounts))
        .routes(routes!(get_team_account, update_team_account))
        .routes(routes!(list_delegates))
        .routes(routes!(add_delegate, remove_delegate))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeamAccount {
    /// The team's name, e.g. "Support".
    #[schema(value_type = crate::http::api::schema::DisplayName)]
    pub name: String,
    /// The account's own unique company e-mail.
    #[schema(value_type = crate::http::api::schema::Email)]
    pub email: String,
    /// The secure mobile number (E.164) that receives sign-in codes; unique.
    #[schema(value_type = crate::http::api::schema::E164Phone)]
    pub mobile: String,
    /// The number shown to clients, distinct from `mobile`.
    #[schema(value_type = Option<crate::http::api::schema::E164Phone>)]
    pub contact_number: Option<String>,
    /// Shown under the name, e.g. opening hours.
    #[schema(value_type = Option<crate::http::api::schema::Title>)]
    pub title: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeamAccount {
    #[schema(value_type = Option<crate::http::api::schema::DisplayName>)]
    pub name: Option<String>,
    #[schema(value_type = Option<crate::http::api::schema::E164Phone>)]
    pub mobile: Option<String>,
    #[schema(value_type = Option<crate::http::api::schema::E164Phone>)]
    pub contact_number: Option<String>,
    #[schema(value_type = Option<crate::http::api::schema::Title>)]
    pub title: Option<String>,
    pub active: Option<bool>,
}

/// Create a team account (administrators).
#[utoipa::path(post, path = "/tenancies/{tenancy_id}/team-accounts", tag = "team accounts",
    params(("tenancy_id" = Uuid, Path)), request_body = CreateTeamAccount,
    responses((status = 201, body = TeamAccount), (status = 422, description = "A field is invalid, or `contact_number` equals `mobile` (clients never see the secure number).", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn create_team_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
    Json(body): Json<CreateTeamAccount>,
) -> ApiResult<(StatusCode, axum::Json<TeamAccount>)> {
    let created = create(&state, &caller, tenancy_id, body).await?;
    Ok((StatusCode::CREATED, axum::Json(created.into())))
}

/// Creates a team account as `caller` (users administrators): the API's and the console's one
/// way to do it, every field's reason at once.
pub(crate) async fn create(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    body: CreateTeamAccount,
) -> ApiResult<store::TeamAccount> {
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    let mut errors = FieldErrors::new();
    let name = errors.take("name", DisplayName::parse(&body.name));
    let email = errors.take("email", Email::parse(&body.email));
    let mobile = errors.take("mobile", E164Phone::parse(&body.mobile));
    let contact_number = optional(
        &mut errors,
        "contact_number",
        body.contact_number.as_deref(),
        E164Phone::parse,
    );
    let title = optional(&mut errors, "title", body.title.as_deref(), Title::parse);
    errors.finish().map_err(invalid)?;
    let new = NewTeamAccount {
        name: parsed(name)?,
        email: parsed(email)?,
        mobile: parsed(mobile)?,
        contact_number,
        title,
    };
    Ok(team_accounts::create(&state.store, access.tenancy, new, &actor_of(&caller.0)).await?)
}

#[utoipa::path(get, path = "/tenancies/{tenancy_id}/team-accounts", tag = "team accounts",
    params(("tenancy_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<TeamAccount>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_team_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page<TeamAccount>>> {
    Ok(axum::Json(
        listed(&state, &caller, tenancy_id, &query).await?.into(),
    ))
}

/// A page of the tenancy's team accounts, searched by name or e-mail (anyone of the tenancy).
pub(crate) async fn listed(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    query: &PageQuery,
) -> ApiResult<store::Page<store::TeamAccount>> {
    let access = caller.in_tenancy(tenancy_id)?;
    Ok(state
        .store
        .list_team_accounts(access.tenancy, query.q.as_deref(), &query.page()?)
        .await?)
}

#[utoipa::path(get, path = "/tenancies/{tenancy_id}/team-accounts/{team_account_id}", tag = "team accounts",
    params(("tenancy_id" = Uuid, Path), ("team_account_id" = Uuid, Path)),
    responses((status = 200, body = TeamAccount), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_team_account(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<TeamAccount>> {
    let access = caller.in_tenancy(tenancy_id)?;
    Ok(axum::Json(
        state.store.team_account(access.tenancy, id).await?.into(),
    ))
}

#[utoipa::path(patch, path = "/tenancies/{tenancy_id}/team-accounts/{team_account_id}", tag = "team accounts",
    params(("tenancy_id" = Uuid, Path), ("team_account_id" = Uuid, Path)), request_body = UpdateTeamAccount,
    responses((status = 200, body = TeamAccount), (status = 422, description = "A field is invalid, or `contact_number` equals the secure `mobile`.", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn update_team_account(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
    Json(body): Json<UpdateTeamAccount>,
) -> ApiResult<axum::Json<TeamAccount>> {
    let updated = update(&state, &caller, (tenancy_id, id), body).await?;
    Ok(axum::Json(updated.into()))
}

/// Changes a team account as `caller` (users administrators): the API's and the console's one
/// way to do it. `asked` is the tenancy and the team account.
pub(crate) async fn update(
    state: &AppState,
    caller: &Caller,
    asked: (Uuid, Uuid),
    body: UpdateTeamAccount,
) -> ApiResult<store::TeamAccount> {
    let (tenancy_id, id) = asked;
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    let mut errors = FieldErrors::new();
    let update = TeamAccountUpdate {
        name: optional(
            &mut errors,
            "name",
            body.name.as_deref(),
            DisplayName::parse,
        ),
        mobile: optional(
            &mut errors,
            "mobile",
            body.mobile.as_deref(),
            E164Phone::parse,
        ),
        contact_number: optional(
            &mut errors,
            "contact_number",
            body.contact_number.as_deref(),
            E164Phone::parse,
        ),
        title: optional(&mut errors, "title", body.title.as_deref(), Title::parse),
        active: body.active,
    };
    errors.finish().map_err(invalid)?;
    Ok(team_accounts::update(
        &state.store,
        (access.tenancy, id),
        update,
        &actor_of(&caller.0),
    )
    .await?)
}

/// The staff users who may act as the team account.
#[utoipa::path(get, path = "/tenancies/{tenancy_id}/team-accounts/{team_account_id}/delegates", tag = "team accounts",
    params(("tenancy_id" = Uuid, Path), ("team_account_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Staff>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_delegates(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page<Staff>>> {
    Ok(axum::Json(
        delegates(&state, &caller, tenancy_id, id, &query)
            .await?
            .into(),
    ))
}

/// A page of the staff users who may act as the team account (anyone of the tenancy).
pub(crate) async fn delegates(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    id: Uuid,
    query: &PageQuery,
) -> ApiResult<store::Page<store::Staff>> {
    let access = caller.in_tenancy(tenancy_id)?;
    Ok(state
        .store
        .list_delegates(access.tenancy, id, &query.page()?)
        .await?)
}

/// Let a staff user act as the team account (administrators). Adding twice is harmless.
#[utoipa::path(put, path = "/tenancies/{tenancy_id}/team-accounts/{team_account_id}/delegates/{staff_id}",
    tag = "team accounts",
    params(("tenancy_id" = Uuid, Path), ("team_account_id" = Uuid, Path), ("staff_id" = Uuid, Path)),
    responses((status = 200, body = Staff),
        (status = 422, description = "`staff_id` names a user of the tenancy who is not a staff user (a client or a team account).", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn add_delegate(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id, staff_id)): Path<(Uuid, Uuid, Uuid)>,
) -> ApiResult<axum::Json<Staff>> {
    let added = appoint(&state, &caller, (tenancy_id, id, staff_id)).await?;
    Ok(axum::Json(added.into()))
}

#[utoipa::path(delete, path = "/tenancies/{tenancy_id}/team-accounts/{team_account_id}/delegates/{staff_id}",
    tag = "team accounts",
    params(("tenancy_id" = Uuid, Path), ("team_account_id" = Uuid, Path), ("staff_id" = Uuid, Path)),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn remove_delegate(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id, staff_id)): Path<(Uuid, Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    dismiss(&state, &caller, (tenancy_id, id, staff_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lets a staff user act as the team account, as `caller` (users administrators): the API's
/// and the console's one way to do it. `asked` is the tenancy, the team account and the staff
/// user.
pub(crate) async fn appoint(
    state: &AppState,
    caller: &Caller,
    asked: (Uuid, Uuid, Uuid),
) -> ApiResult<store::Staff> {
    let (tenancy_id, id, staff_id) = asked;
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    Ok(state
        .store
        .add_delegate(access.tenancy, id, staff_id)
        .await?)
}

/// Stops a staff user acting as the team account, as `caller` (users administrators).
pub(crate) async fn dismiss(
    state: &AppState,
    caller: &Caller,
    asked: (Uuid, Uuid, Uuid),
) -> ApiResult<()> {
    let (tenancy_id, id, staff_id) = asked;
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    Ok(state
        .store
        .remove_delegate(access.tenancy, id, staff_id)
        .await?)
}
