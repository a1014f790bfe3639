//! Contact groups and client teams share one set of routes: `{group_kind}` is
//! `contact-groups` or `client-teams`, and a tenancy answers only for the kind its model uses.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::wire::{Group, GroupMember, Page};
use super::{PageQuery, invalid, parsed};
use crate::app::audit::actor_of;
use crate::app::{groups, memberships};
use crate::domain::FieldErrors;
use crate::domain::tenancy::GroupKind;
use crate::domain::user::UserKind;
use crate::domain::values::DisplayName;
use crate::http::AppState;
use crate::http::auth::{Access, Caller};
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{Json, Path, Query};
use crate::store::{self, GroupUpdate, Membership, NewGroupRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_group, list_groups))
        .routes(routes!(get_group, rename_group, delete_group))
        .routes(routes!(list_members))
        .routes(routes!(add_member, remove_member))
}

/// Which kind of group a route is about.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GroupKindPath {
    ContactGroups,
    ClientTeams,
}

impl From<GroupKindPath> for GroupKind {
    fn from(path: GroupKindPath) -> Self {
        match path {
            GroupKindPath::ContactGroups => GroupKind::ContactGroup,
            GroupKindPath::ClientTeams => GroupKind::ClientTeam,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    #[schema(value_type = crate::http::api::schema::DisplayName)]
    pub name: String,
    /// Staff users and team accounts to add; clients join through an invitation.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub members: Vec<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameGroup {
    #[schema(value_type = crate::http::api::schema::DisplayName)]
    pub name: String,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// Confirms that a client joining a contact group that holds other clients shares their
    /// relationship (everyone in a contact group sees everyone else).
    #[serde(default)]
    pub confidentiality_override: bool,
}

/// Plain staff work only with contact groups they belong to; client teams are open to all.
fn member_filter(access: &Access, kind: GroupKind) -> Option<Uuid> {
    match kind {
        GroupKind::ContactGroup => access.plain_staff(),
        GroupKind::ClientTeam => None,
    }
}

/// Plain staff may create contact groups (they join them); client teams are for administrators.
/// The console offers its "new" button only where this allows.
pub(crate) fn require_manager(access: &Access, kind: GroupKind) -> Result<(), ApiError> {
    match kind {
        GroupKind::ContactGroup => Ok(()),
        GroupKind::ClientTeam => access.require_users_admin(),
    }
}

/// Create a contact group or client team.
#[utoipa::path(post, path = "/tenancies/{tenancy_id}/{group_kind}", tag = "groups",
    params(("tenancy_id" = Uuid, Path), ("group_kind" = inline(GroupKindPath), Path)), request_body = CreateGroup,
    responses((status = 201, body = Group), (status = 422, description = "A field is invalid, or a member is not a staff user or team account of the tenancy.", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, kind)): Path<(Uuid, GroupKindPath)>,
    Json(body): Json<CreateGroup>,
) -> ApiResult<(StatusCode, axum::Json<Group>)> {
    let group = create(&state, &caller, (tenancy_id, kind.into()), body).await?;
    Ok((StatusCode::CREATED, axum::Json(group.into())))
}

/// Creates a contact group or client team as `caller` (any staff user a contact group, who
/// then joins it; administrators a client team): the API's and the console's one way to do
/// it. `asked` is the tenancy and the kind its model uses.
pub(crate) async fn create(
    state: &AppState,
    caller: &Caller,
    asked: (Uuid, GroupKind),
    body: CreateGroup,
) -> ApiResult<store::Group> {
    let (tenancy_id, kind) = asked;
    let access = caller.in_tenancy(tenancy_id)?;
    require_manager(&access, kind)?;
    let mut errors = FieldErrors::new();
    let name = errors.take("name", DisplayName::parse(&body.name));
    if body.members.len() > crate::domain::invite::MAX_NEW_GROUP_MEMBERS {
        errors.push(
            "members",
            format!(
                "must list at most {}",
                crate::domain::invite::MAX_NEW_GROUP_MEMBERS
            ),
        );
    }
    errors.finish().map_err(invalid)?;
    let new = NewGroupRequest {
        name: parsed(name)?,
        members: body.members,
    };
    Ok(groups::create(
        &state.store,
        (access.tenancy, kind),
        new,
        member_filter(&access, kind),
        &actor_of(&caller.0),
    )
    .await?)
}

/// List or search (`q`) groups. Plain staff see only the contact groups they belong to.
#[utoipa::path(get, path = "/tenancies/{tenancy_id}/{group_kind}", tag = "groups",
    params(("tenancy_id" = Uuid, Path), ("group_kind" = inline(GroupKindPath), Path), PageQuery),
    responses((status = 200, body = Page<Group>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, kind)): Path<(Uuid, GroupKindPath)>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page<Group>>> {
    let page = listed(&state, &caller, tenancy_id, kind.into(), &query).await?;
    Ok(axum::Json(page.into()))
}

/// A page of the tenancy's groups of `kind`, searched by name, as `caller` may see them (plain
/// staff: only the contact groups they belong to).
pub(crate) async fn listed(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    kind: GroupKind,
    query: &PageQuery,
) -> ApiResult<store::Page<store::Group>> {
    let access = caller.in_tenancy(tenancy_id)?;
    Ok(state
        .store
        .list_groups(
            access.tenancy,
            kind,
            query.q.as_deref(),
            member_filter(&access, kind),
            &query.page()?,
        )
        .await?)
}

#[utoipa::path(get, path = "/tenancies/{tenancy_id}/{group_kind}/{group_id}", tag = "groups",
    params(("tenancy_id" = Uuid, Path), ("group_kind" = inline(GroupKindPath), Path), ("group_id" = Uuid, Path)),
    responses((status = 200, body = Group), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, kind, id)): Path<(Uuid, GroupKindPath, Uuid)>,
) -> ApiResult<axum::Json<Group>> {
    Ok(axum::Json(
        found(&state, &caller, tenancy_id, kind.into(), id)
            .await?
            .into(),
    ))
}

/// One group, for those who may see it.
pub(crate) async fn found(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    kind: GroupKind,
    id: Uuid,
) -> ApiResult<store::Group> {
    let access = caller.in_tenancy(tenancy_id)?;
    Ok(state
        .store
        .group(access.tenancy, kind, id, member_filter(&access, kind))
        .await?)
}

#[utoipa::path(patch, path = "/tenancies/{tenancy_id}/{group_kind}/{group_id}", tag = "groups",
    params(("tenancy_id" = Uuid, Path), ("group_kind" = inline(GroupKindPath), Path), ("group_id" = Uuid, Path)),
    request_body = RenameGroup,
    responses((status = 200, body = Group), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn rename_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, kind, id)): Path<(Uuid, GroupKindPath, Uuid)>,
    Json(body): Json<RenameGroup>,
) -> ApiResult<axum::Json<Group>> {
    let group = rename(&state, &caller, (tenancy_id, kind.into(), id), body).await?;
    Ok(axum::Json(group.into()))
}

/// Renames a group as `caller` (administrators): the API's and the console's one way to do
/// it. `asked` is the tenancy, the group's kind and its id.
pub(crate) async fn rename(
    state: &AppState,
    caller: &Caller,
    asked: (Uuid, GroupKind, Uuid),
    body: RenameGroup,
) -> ApiResult<store::Group> {
    let (tenancy_id, kind, id) = asked;
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    let name =
        DisplayName::parse(&body.name).map_err(|reason| ApiError::invalid("name", reason))?;
    Ok(groups::rename(
        &state.store,
        (access.tenancy, kind, id),
        GroupUpdate { name },
        &actor_of(&caller.0),
    )
    .await?)
}

/// Delete a group (administrators); refused while one of its clients has no other cover.
#[utoipa::path(delete, path = "/tenancies/{tenancy_id}/{group_kind}/{group_id}", tag = "groups",
    params(("tenancy_id" = Uuid, Path), ("group_kind" = inline(GroupKindPath), Path), ("group_id" = Uuid, Path)),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn delete_group(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, kind, id)): Path<(Uuid, GroupKindPath, Uuid)>,
) -> ApiResult<StatusCode> {
    delete(&state, &caller, (tenancy_id, kind.into(), id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a group as `caller` (administrators), unless one of its clients would be left
/// with no other cover: the API's and the console's one way to do it.
pub(crate) async fn delete(
    state: &AppState,
    caller: &Caller,
    asked: (Uuid, GroupKind, Uuid),
) -> ApiResult<()> {
    let (tenancy_id, kind, id) = asked;
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    Ok(groups::delete(
        &state.store,
        (access.tenancy, kind, id),
        &actor_of(&caller.0),
    )
    .await?)
}

#[utoipa::path(get, path = "/tenancies/{tenancy_id}/{group_kind}/{group_id}/members", tag = "groups",
    params(("tenancy_id" = Uuid, Path), ("group_kind" = inline(GroupKindPath), Path), ("group_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<GroupMember>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, kind, id)): Path<(Uuid, GroupKindPath, Uuid)>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page<GroupMember>>> {
    let page = members(&state, &caller, tenancy_id, kind.into(), id, &query).await?;
    Ok(axum::Json(page.into()))
}

/// A page of a group's members, as `caller` may see them.
pub(crate) async fn members(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    kind: GroupKind,
    id: Uuid,
    query: &PageQuery,
) -> ApiResult<store::Page<store::GroupMember>> {
    let access = caller.in_tenancy(tenancy_id)?;
    Ok(state
        .store
        .list_group_members(
            access.tenancy,
            kind,
            id,
            member_filter(&access, kind),
            access.plain_staff(),
            &query.page()?,
        )
        .await?)
}

/// Add a user to a group. A client joining a contact group that already holds clients needs
/// `confidentiality_override`. Plain staff may add only to contact groups they belong to, and
/// only clients they already see (a client they do not see is answered as one that does not exist).
#[utoipa::path(put, path = "/tenancies/{tenancy_id}/{group_kind}/{group_id}/members/{user_id}", tag = "groups",
    params(("tenancy_id" = Uuid, Path), ("group_kind" = inline(GroupKindPath), Path), ("group_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    request_body(content = Option<AddMember>),
    responses((status = 200, body = GroupMember), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, kind, id, user_id)): Path<(Uuid, GroupKindPath, Uuid, Uuid)>,
    body: Option<Json<Option<AddMember>>>,
) -> ApiResult<axum::Json<GroupMember>> {
    // The body is optional, and the document allows `null` for it: both mean the defaults.
    let body = body.and_then(|Json(b)| b).unwrap_or_default();
    let membership = (tenancy_id, kind.into(), id, user_id);
    let member = add(&state, &caller, membership, body.confidentiality_override).await?;
    Ok(axum::Json(member.into()))
}

/// Adds a user to a group as `caller` (see `add_member` for who may): the API's and the
/// console's one way to do it. `asked` is the tenancy, the group's kind and id, and the user.
pub(crate) async fn add(
    state: &AppState,
    caller: &Caller,
    asked: (Uuid, GroupKind, Uuid, Uuid),
    confidentiality_override: bool,
) -> ApiResult<store::GroupMember> {
    let (tenancy_id, kind, id, user_id) = asked;
    let access = caller.in_tenancy(tenancy_id)?;
    require_manager(&access, kind)?;
    if let Some(me) = access.plain_staff() {
        // The group is checked first, as the store would, so the answer for an unseen client
        // is the one for a client that does not exist.
        state
            .store
            .group(access.tenancy, kind, id, member_filter(&access, kind))
            .await?;
        // Plain staff may bring into their groups only clients they already see; to them any
        // other client does not exist.
        if state.store.user_kind(access.tenancy, user_id).await? == UserKind::Client
            && !state.store.sees(access.tenancy, me, user_id).await?
        {
            return Err(ApiError::NotFound("user"));
        }
    }
    let membership = Membership {
        tenancy: access.tenancy,
        kind,
        group: id,
        user: user_id,
    };
    Ok(memberships::add(
        &state.store,
        membership,
        confidentiality_override,
        member_filter(&access, kind),
        &actor_of(&caller.0),
    )
    .await?)
}

/// Remove a user from a group (administrators); refused when a client would be left uncovered.
#[utoipa::path(delete, path = "/tenancies/{tenancy_id}/{group_kind}/{group_id}/members/{user_id}", tag = "groups",
    params(("tenancy_id" = Uuid, Path), ("group_kind" = inline(GroupKindPath), Path), ("group_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, kind, id, user_id)): Path<(Uuid, GroupKindPath, Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    remove(&state, &caller, (tenancy_id, kind.into(), id, user_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user from a group as `caller` (administrators), unless a client would be left
/// uncovered: the API's and the console's one way to do it.
pub(crate) async fn remove(
    state: &AppState,
    caller: &Caller,
    asked: (Uuid, GroupKind, Uuid, Uuid),
) -> ApiResult<()> {
    let (tenancy_id, kind, id, user_id) = asked;
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    let membership = Membership {
        tenancy: access.tenancy,
        kind,
        group: id,
        user: user_id,
    };
    Ok(memberships::remove(&state.store, membership, &actor_of(&caller.0)).await?)
}
