use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::wire::{Page, Tenancy};
use super::{PageQuery, invalid, optional, parsed};
use crate::domain::FieldErrors;
use crate::domain::tenancy::{
    DEFAULT_GROUP_NAME_CONVENTION, GroupModel, MobilePolicy, parse_group_name_convention,
};
use crate::domain::values::{DisplayName, PhoneRegion};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{Json, Path, Query};
use crate::store::{self, NewTenancy, TenancyUpdate};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenancy, list_tenancies))
        .routes(routes!(get_tenancy, update_tenancy))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenancy {
    #[schema(value_type = crate::http::api::schema::DisplayName)]
    pub name: String,
    /// Default `client_teams`, the newer model.
    pub group_model: Option<GroupModel>,
    /// Default `optional`.
    pub mobile_policy: Option<MobilePolicy>,
    /// Default `{last_name} Relationship`.
    #[schema(value_type = Option<crate::http::api::schema::GroupNameConvention>)]
    pub group_name_convention: Option<String>,
    /// The country (ISO 3166 alpha-2, e.g. `GB`) a national phone number from Salesforce is
    /// read in, unless the org link's mapping names one. Default `GB`.
    #[schema(pattern = "^[A-Za-z]{2}$")]
    pub phone_region: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenancy {
    #[schema(value_type = Option<crate::http::api::schema::DisplayName>)]
    pub name: Option<String>,
    pub mobile_policy: Option<MobilePolicy>,
    #[schema(value_type = Option<crate::http::api::schema::GroupNameConvention>)]
    pub group_name_convention: Option<String>,
    /// ISO 3166 alpha-2, e.g. `GB`.
    #[schema(pattern = "^[A-Za-z]{2}$")]
    pub phone_region: Option<String>,
}

/// Create a tenancy (operator only).
#[utoipa::path(post, path = "/tenancies", tag = "tenancies", request_body = CreateTenancy,
    responses((status = 201, body = Tenancy), (status = 422, description = "A field is invalid, or `phone_region` names two letters that are not a country with a telephone numbering plan.", body = Problem, content_type = "application/problem+json"), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn create_tenancy(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateTenancy>,
) -> ApiResult<(StatusCode, axum::Json<Tenancy>)> {
    let tenancy = create(&state, &caller, body).await?;
    Ok((StatusCode::CREATED, axum::Json(tenancy.into())))
}

/// Creates a tenancy as `caller` (an operator), every field's error at once: the API's and the
/// console's one way to do it.
pub(crate) async fn create(
    state: &AppState,
    caller: &Caller,
    body: CreateTenancy,
) -> ApiResult<store::Tenancy> {
    caller.require_operator()?;
    let mut errors = FieldErrors::new();
    let name = errors.take("name", DisplayName::parse(&body.name));
    let convention = errors.take(
        "group_name_convention",
        parse_group_name_convention(
            body.group_name_convention
                .as_deref()
                .unwrap_or(DEFAULT_GROUP_NAME_CONVENTION),
        ),
    );
    let phone_region = match body.phone_region.as_deref() {
        Some(raw) => errors.take("phone_region", PhoneRegion::parse(raw)),
        None => Some(PhoneRegion::default()),
    };
    errors.finish().map_err(invalid)?;
    let (name, group_name_convention, phone_region) =
        (parsed(name)?, parsed(convention)?, parsed(phone_region)?);
    Ok(state
        .store
        .create_tenancy(NewTenancy {
            name,
            group_model: body.group_model.unwrap_or(GroupModel::ClientTeams),
            mobile_policy: body.mobile_policy.unwrap_or(MobilePolicy::Optional),
            group_name_convention,
            phone_region,
        })
        .await?)
}

/// List tenancies: all of them for an operator, one's own for anyone else.
#[utoipa::path(get, path = "/tenancies", tag = "tenancies", params(PageQuery),
    responses((status = 200, body = Page<Tenancy>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_tenancies(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page<Tenancy>>> {
    let page = state
        .store
        .list_tenancies(caller.own_tenancy(), &query.page()?)
        .await?;
    Ok(axum::Json(page.into()))
}

#[utoipa::path(get, path = "/tenancies/{tenancy_id}", tag = "tenancies", params(("tenancy_id" = Uuid, Path)),
    responses((status = 200, body = Tenancy), (status = 422, description = "A field is invalid, or `phone_region` names two letters that are not a country with a telephone numbering plan.", body = Problem, content_type = "application/problem+json"), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_tenancy(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
) -> ApiResult<axum::Json<Tenancy>> {
    let access = caller.in_tenancy(tenancy_id)?;
    Ok(axum::Json(
        state.store.tenancy(access.tenancy).await?.into(),
    ))
}

/// Change a tenancy's name or settings (system administrators). The group model changes only
/// through the one-way migration to client teams.
#[utoipa::path(patch, path = "/tenancies/{tenancy_id}", tag = "tenancies", params(("tenancy_id" = Uuid, Path)),
    request_body = UpdateTenancy,
    responses((status = 200, body = Tenancy), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn update_tenancy(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
    Json(body): Json<UpdateTenancy>,
) -> ApiResult<axum::Json<Tenancy>> {
    Ok(axum::Json(
        update(&state, &caller, tenancy_id, body).await?.into(),
    ))
}

/// Changes a tenancy's name or settings as `caller` (its system administrators, operators):
/// the API's and the console's one way to do it.
pub(crate) async fn update(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    body: UpdateTenancy,
) -> ApiResult<store::Tenancy> {
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_tenancy_admin()?;
    let mut errors = FieldErrors::new();
    let update = TenancyUpdate {
        name: optional(
            &mut errors,
            "name",
            body.name.as_deref(),
            DisplayName::parse,
        ),
        mobile_policy: body.mobile_policy,
        group_name_convention: optional(
            &mut errors,
            "group_name_convention",
            body.group_name_convention.as_deref(),
            parse_group_name_convention,
        ),
        phone_region: optional(
            &mut errors,
            "phone_region",
            body.phone_region.as_deref(),
            PhoneRegion::parse,
        ),
    };
    errors.finish().map_err(invalid)?;
    Ok(state.store.update_tenancy(access.tenancy, update).await?)
}
