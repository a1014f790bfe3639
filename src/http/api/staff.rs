use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::PageQuery;
use super::wire::{Contact, Page, Staff};
use crate::app::audit::actor_of;
use crate::app::staff;
use crate::domain::user::{StaffRole, UserKind};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{Json, Path, Query};
use crate::store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_staff, list_staff))
        .routes(routes!(get_staff, update_staff))
        .routes(routes!(list_contacts))
        .routes(routes!(set_salesforce_user))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaff {
    #[schema(value_type = crate::http::api::schema::PersonName)]
    pub first_name: String,
    #[schema(value_type = crate::http::api::schema::PersonName)]
    pub last_name: String,
    #[schema(value_type = crate::http::api::schema::Email)]
    pub email: String,
    /// E.164 with a leading `+`.
    #[schema(value_type = Option<crate::http::api::schema::E164Phone>)]
    pub mobile: Option<String>,
    #[schema(value_type = Option<crate::http::api::schema::Title>)]
    pub title: Option<String>,
    /// Default `staff`.
    pub role: Option<StaffRole>,
}

impl From<CreateStaff> for staff::NewStaffInput {
    fn from(body: CreateStaff) -> Self {
        Self {
            first_name: body.first_name,
            last_name: body.last_name,
            email: body.email,
            mobile: body.mobile,
            title: body.title,
            role: body.role,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaff {
    #[schema(value_type = Option<crate::http::api::schema::PersonName>)]
    pub first_name: Option<String>,
    #[schema(value_type = Option<crate::http::api::schema::PersonName>)]
    pub last_name: Option<String>,
    #[schema(value_type = Option<crate::http::api::schema::E164Phone>)]
    pub mobile: Option<String>,
    #[schema(value_type = Option<crate::http::api::schema::Title>)]
    pub title: Option<String>,
    pub role: Option<StaffRole>,
    /// `false` deactivates the user; refused while a client depends on them alone.
    pub active: Option<bool>,
}

impl From<UpdateStaff> for staff::StaffChange {
    fn from(body: UpdateStaff) -> Self {
        Self {
            first_name: body.first_name,
            last_name: body.last_name,
            mobile: body.mobile,
            title: body.title,
            role: body.role,
            active: body.active,
        }
    }
}

/// Add a staff user (administrators).
#[utoipa::path(post, path = "/tenancies/{tenancy_id}/staff", tag = "staff", params(("tenancy_id" = Uuid, Path)),
    request_body = CreateStaff,
    responses((status = 201, body = Staff), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn create_staff(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
    Json(body): Json<CreateStaff>,
) -> ApiResult<(StatusCode, axum::Json<Staff>)> {
    let created = create(&state, &caller, tenancy_id, body.into()).await?;
    Ok((StatusCode::CREATED, axum::Json(created.into())))
}

/// Adds a staff user as `caller` (the tenancy's users administrators, operators): the API's
/// and the console's one way to do it.
pub(crate) async fn create(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    input: staff::NewStaffInput,
) -> ApiResult<store::Staff> {
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    let actor = actor_of(&caller.0);
    Ok(staff::create(&state.store, access.tenancy, access.role, input, &actor).await?)
}

#[utoipa::path(get, path = "/tenancies/{tenancy_id}/staff", tag = "staff", params(("tenancy_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Staff>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_staff(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page<Staff>>> {
    Ok(axum::Json(
        listed(&state, &caller, tenancy_id, &query).await?.into(),
    ))
}

/// A page of the tenancy's staff, searched by name or e-mail (anyone of the tenancy).
pub(crate) async fn listed(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    query: &PageQuery,
) -> ApiResult<store::Page<store::Staff>> {
    let access = caller.in_tenancy(tenancy_id)?;
    Ok(state
        .store
        .list_staff(access.tenancy, query.q.as_deref(), &query.page()?)
        .await?)
}

#[utoipa::path(get, path = "/tenancies/{tenancy_id}/staff/{staff_id}", tag = "staff",
    params(("tenancy_id" = Uuid, Path), ("staff_id" = Uuid, Path)),
    responses((status = 200, body = Staff), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_staff(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, staff_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<Staff>> {
    let access = caller.in_tenancy(tenancy_id)?;
    Ok(axum::Json(
        state.store.staff(access.tenancy, staff_id).await?.into(),
    ))
}

/// Change a staff user (administrators). Deactivating is refused while a client would be
/// left without an active staff user.
#[utoipa::path(patch, path = "/tenancies/{tenancy_id}/staff/{staff_id}", tag = "staff",
    params(("tenancy_id" = Uuid, Path), ("staff_id" = Uuid, Path)), request_body = UpdateStaff,
    responses((status = 200, body = Staff), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn update_staff(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, staff_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<UpdateStaff>,
) -> ApiResult<axum::Json<Staff>> {
    let updated = update(&state, &caller, tenancy_id, staff_id, body.into()).await?;
    Ok(axum::Json(updated.into()))
}

/// Changes a staff user as `caller` (the tenancy's users administrators, operators; a system
/// administrator's role and activation as the domain allows): the API's and the console's one
/// way to do it.
pub(crate) async fn update(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    staff_id: Uuid,
    change: staff::StaffChange,
) -> ApiResult<store::Staff> {
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    let (tenancy, by) = (access.tenancy, access.role);
    let actor = actor_of(&caller.0);
    Ok(staff::update(&state.store, tenancy, by, staff_id, change, &actor).await?)
}

/// A user's address book: who they see, per the tenancy's model. Administrators may look at
/// anyone's; staff at their own and at those of team accounts they are delegates of.
#[utoipa::path(get, path = "/tenancies/{tenancy_id}/users/{user_id}/contacts", tag = "clients",
    params(("tenancy_id" = Uuid, Path), ("user_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<Contact>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_contacts(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, user_id)): Path<(Uuid, Uuid)>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page<Contact>>> {
    let access = caller.in_tenancy(tenancy_id)?;
    if let Some(me) = access.plain_staff()
        && me != user_id
    {
        // An id that names no one is refused like anyone else's book, so the refusal does not
        // tell plain staff whether the id is a user's.
        let allowed = match state.store.user_kind(access.tenancy, user_id).await {
            Ok(UserKind::TeamAccount) => {
                state.store.is_delegate(access.tenancy, user_id, me).await?
            }
            Ok(_) | Err(crate::store::Error::NotFound(_)) => false,
            Err(e) => return Err(e.into()),
        };
        if !allowed {
            return Err(ApiError::Forbidden(
                "staff may see only their own address book and those of team accounts they are delegates of".into(),
            ));
        }
    }
    Ok(axum::Json(
        state
            .store
            .contacts(access.tenancy, user_id, &query.page()?)
            .await?
            .into(),
    ))
}

/// The Salesforce user a staff user acts as. Needed for org links that match staff by user id or
/// username (`staff_match`); links that match by e-mail use the staff user's e-mail.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SalesforceUser {
    /// The user's id (`005…`), 15 or 18 characters; absent or null clears it.
    #[schema(value_type = Option<crate::http::api::schema::SalesforceUserId>)]
    pub user_id: Option<String>,
    /// The user's Salesforce username; absent or null clears it.
    #[schema(max_length = 80, pattern = "^[!-~]*@[!-~]*$")]
    pub username: Option<String>,
}

/// Set which Salesforce user acts as this staff user (administrators).
#[utoipa::path(put, path = "/tenancies/{tenancy_id}/staff/{staff_id}/salesforce-user", tag = "staff",
    params(("tenancy_id" = Uuid, Path), ("staff_id" = Uuid, Path)), request_body = SalesforceUser,
    responses((status = 200, body = Staff), (status = 422, description = "A field is invalid: an 18-character `user_id` whose last three characters do not match the case of the first fifteen.", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn set_salesforce_user(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, staff_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<SalesforceUser>,
) -> ApiResult<axum::Json<Staff>> {
    let mapped = map_salesforce_user(&state, &caller, tenancy_id, staff_id, body).await?;
    Ok(axum::Json(mapped.into()))
}

/// Sets or clears the Salesforce user who acts as a staff user, as `caller` (users
/// administrators): the API's and the console's one way to do it.
pub(crate) async fn map_salesforce_user(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    staff_id: Uuid,
    body: SalesforceUser,
) -> ApiResult<store::Staff> {
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    let input = staff::SalesforceUserInput {
        user_id: body.user_id,
        username: body.username,
    };
    let actor = actor_of(&caller.0);
    Ok(staff::set_salesforce_user(&state.store, access.tenancy, staff_id, input, &actor).await?)
}
