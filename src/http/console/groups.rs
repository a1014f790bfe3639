//! A tenancy's contact groups or client teams (whichever its model uses) and their members:
//! the list, searched and paged; a new group, of the kind the tenancy's model uses, with its
//! first staff and team accounts; a group's page where it is renamed and its members are added
//! and removed; and deleting one after a confirmation. Each read and change is the API's own
//! function with the session's caller, so the coverage and confidentiality rules refuse as the
//! API words them, beside the field they name.

// A refusal here is the page that answers the request; the error side is that page.
#![allow(clippy::result_large_err)]

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::directory::{self, Button, Choice, Done, Errors, Posted, Search, TENANCIES, tenancy_id};
use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::domain::tenancy::GroupKind;
use crate::domain::user::UserKind;
use crate::http::AppState;
use crate::http::api::groups::{self as api, CreateGroup, RenameGroup};
use crate::http::api::{PageQuery, clients};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::store::{Group, GroupMember, PageRequest};

/// `GET /console/groups`: an administrator's own tenancy's groups; an operator picks a
/// tenancy.
pub(super) async fn own(signed: SignedIn) -> Response {
    directory::own_tenancy_page(&signed, "groups")
}

/// What the tenancy's model calls its groups.
fn kind_name(kind: GroupKind) -> &'static str {
    match kind {
        GroupKind::ContactGroup => "Contact groups",
        GroupKind::ClientTeam => "Client teams",
    }
}

/// What the tenancy's model calls one of its groups.
fn one_kind(kind: GroupKind) -> &'static str {
    match kind {
        GroupKind::ContactGroup => "contact group",
        GroupKind::ClientTeam => "client team",
    }
}

/// Whether the API lets `caller` create groups of `kind` in the tenancy.
fn may_create(caller: &Caller, tenancy: Uuid, kind: GroupKind) -> bool {
    caller
        .in_tenancy(tenancy)
        .and_then(|access| api::require_manager(&access, kind))
        .is_ok()
}

/// Whether the API lets `caller` rename and delete the tenancy's groups.
fn may_manage(caller: &Caller, tenancy: Uuid) -> bool {
    caller
        .in_tenancy(tenancy)
        .and_then(|access| access.require_users_admin())
        .is_ok()
}

/// A group's id from a page's path; one that is not an id is a group not found, as in the API.
fn group_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound("group"))
}

/// The tenancy (by its path) and the kind of group its model uses, for `caller`.
async fn tenancy_kind(
    state: &AppState,
    caller: &Caller,
    tenancy: &str,
) -> Result<(Uuid, String, GroupKind), ApiError> {
    let access = caller.in_tenancy(tenancy_id(tenancy)?)?;
    let tenancy = state.store.tenancy(access.tenancy).await?;
    Ok((tenancy.id, tenancy.name, tenancy.group_model.group_kind()))
}

/// A group as the list shows it.
pub(super) struct GroupView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) active_staff: i64,
    pub(super) team_accounts: i64,
    pub(super) clients: i64,
}

impl From<&Group> for GroupView {
    fn from(group: &Group) -> Self {
        Self {
            id: group.id.to_string(),
            name: group.name.clone(),
            active_staff: group.active_staff,
            team_accounts: group.team_accounts,
            clients: group.clients,
        }
    }
}

#[derive(Template)]
#[template(path = "console/groups.html")]
struct List {
    chrome: Chrome,
    title: String,
    tenancy: String,
    groups: Vec<GroupView>,
    q: String,
    next: Option<String>,
    /// "New contact group" or "New client team", for those the API lets create one.
    new_button: Option<String>,
    notice: Option<&'static str>,
}

/// `GET /console/tenancies/{id}/groups`: the groups, searched by name, a page at a time.
pub(super) async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    Query(search): Query<Search>,
    Query(shown): Query<Done>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Groups);
    let caller = signed.caller();
    let query = search.query();
    let notice = shown.notice(&[("deleted", "It was deleted; its clients stay.")]);
    let read = async {
        let (tenancy, name, kind) = tenancy_kind(&state, &caller, &tenancy).await?;
        let found = api::listed(&state, &caller, tenancy, kind, &query).await?;
        Ok::<_, ApiError>((tenancy, name, kind, found))
    };
    let (tenancy, name, kind, found) = match read.await {
        Ok(read) => read,
        Err(error) => return view::refusal(&chrome, error),
    };
    let path = directory::tenancy_page(tenancy, "groups");
    let next = found.next_cursor.map(|after| search.next(&path, &after));
    let new_button = may_create(&caller, tenancy, kind).then(|| format!("New {}", one_kind(kind)));
    let page = List {
        chrome,
        title: format!("{} of {name}", kind_name(kind)),
        tenancy: tenancy.to_string(),
        groups: found.items.iter().map(GroupView::from).collect(),
        q: search.q,
        next,
        new_button,
        notice,
    };
    view::render(StatusCode::OK, &page)
}

/// A member as the group's page shows them.
pub(super) struct MemberView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) email: String,
    pub(super) kind: &'static str,
    pub(super) active: bool,
}

impl From<&GroupMember> for MemberView {
    fn from(member: &GroupMember) -> Self {
        Self {
            id: member.user_id.to_string(),
            name: member.name.clone(),
            email: member.email.clone(),
            kind: user_kind(member.kind),
            active: member.active,
        }
    }
}

fn user_kind(kind: UserKind) -> &'static str {
    match kind {
        UserKind::Staff => "Staff",
        UserKind::TeamAccount => "Team account",
        UserKind::Client => "Client",
    }
}

/// The member to add, as the form sends them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AddForm {
    csrf: String,
    user_id: String,
    confidentiality_override: String,
}

impl Posted for AddForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Template)]
#[template(path = "console/groups_detail.html")]
struct Detail {
    chrome: Chrome,
    title: String,
    tenancy: String,
    group: GroupView,
    kind: &'static str,
    members: Vec<MemberView>,
    candidates: Vec<Choice>,
    /// The name the rename form holds, for those the API lets rename and delete the group.
    rename: Option<String>,
    errors: Errors,
    notice: Option<&'static str>,
}

/// `GET /console/tenancies/{id}/groups/{group}`: the group, its members and the forms.
pub(super) async fn detail(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(path): Path<(String, String)>,
    Query(shown): Query<Done>,
) -> Response {
    let notice = shown.notice(&[
        ("created", "It was created: add its members here."),
        ("renamed", "The new name was saved."),
        ("added", "The member was added."),
        ("removed", "The member was removed."),
    ]);
    group_page(
        &state,
        &signed,
        &Asked::page(path),
        Errors::default(),
        notice,
    )
    .await
}

/// Which group a page is about, the member chosen in its form and the name sent to rename it.
struct Asked {
    tenancy: String,
    group: String,
    chosen: String,
    name: Option<String>,
}

impl Asked {
    /// The group a page's path names, its forms as they first stand.
    fn page((tenancy, group): (String, String)) -> Self {
        Self {
            tenancy,
            group,
            chosen: String::new(),
            name: None,
        }
    }
}

/// The group's page, with the API's reasons for a refused change.
async fn group_page(
    state: &AppState,
    signed: &SignedIn,
    asked: &Asked,
    errors: Errors,
    notice: Option<&'static str>,
) -> Response {
    let chrome = Chrome::signed_in(signed, Section::Groups);
    let (group, kind, members, candidates) = match read(state, signed, asked).await {
        Ok(read) => read,
        Err(error) => return view::refusal(&chrome, error),
    };
    let rename = may_manage(&signed.caller(), group.tenancy_id)
        .then(|| asked.name.clone().unwrap_or_else(|| group.name.clone()));
    let page = Detail {
        chrome,
        title: group.name.clone(),
        tenancy: group.tenancy_id.to_string(),
        rename,
        kind: kind_name(kind),
        group: GroupView::from(&group),
        members: members.iter().map(MemberView::from).collect(),
        candidates: directory::owned_choices(&candidates, &asked.chosen),
        errors,
        notice,
    };
    view::render(page.errors.status, &page)
}

/// The group, its members and who may join it (the tenancy's active staff, team accounts and
/// clients), as the API reads them for the caller.
async fn read(
    state: &AppState,
    signed: &SignedIn,
    asked: &Asked,
) -> Result<(Group, GroupKind, Vec<GroupMember>, Vec<(String, String)>), ApiError> {
    let caller = signed.caller();
    let (tenancy, _, kind) = tenancy_kind(state, &caller, &asked.tenancy).await?;
    let id = group_id(&asked.group)?;
    let group = api::found(state, &caller, tenancy, kind, id).await?;
    let most = PageQuery {
        limit: Some(PageRequest::MAX_LIMIT),
        after: None,
        q: None,
    };
    let members = api::members(state, &caller, tenancy, kind, id, &most).await?;
    let mut candidates: Vec<(String, String)> = directory::staff_names(state, &caller, tenancy)
        .await?
        .into_iter()
        .filter(|(_, _, active)| *active)
        .map(|(id, name, _)| (id.to_string(), format!("Staff: {name}")))
        .collect();
    let teams = state
        .store
        .list_team_accounts(tenancy, None, &most.page()?)
        .await?;
    candidates.extend(teams.items.into_iter().filter(|t| t.active).map(|t| {
        (
            t.id.to_string(),
            format!("Team account: {} ({})", t.name, t.email),
        )
    }));
    let everyone = clients::ClientQuery {
        status: None,
        limit: Some(PageRequest::MAX_LIMIT),
        after: None,
        q: None,
    };
    let found = clients::listed(state, &caller, tenancy, &everyone).await?;
    candidates.extend(found.items.into_iter().map(|c| {
        let name = format!("Client: {} {} ({})", c.first_name, c.last_name, c.email);
        (c.id.to_string(), name)
    }));
    Ok((group, kind, members.items, candidates))
}

/// `POST /console/tenancies/{id}/groups/{group}/members`: adds the member through the API's
/// own function; a refusal (confidentiality, a member of another tenancy) stands beside the
/// field it names.
pub(super) async fn add(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(path): Path<(String, String)>,
    form: Result<Form<AddForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let asked = Asked {
        chosen: form.user_id.clone(),
        ..Asked::page(path)
    };
    let confirmed = !form.confidentiality_override.is_empty();
    let added = async {
        let user = Uuid::parse_str(form.user_id.trim())
            .map_err(|_| ApiError::invalid("user_id", "choose who joins the group"))?;
        change(&state, &signed, &asked, user, Some(confirmed)).await
    };
    answer(&state, &signed, &asked, added.await, "added").await
}

/// `POST /console/tenancies/{id}/groups/{group}/members/{user}/remove`: removes the member
/// through the API's own function, unless a client would be left uncovered.
pub(super) async fn remove(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((tenancy, group, user)): Path<(String, String, String)>,
    form: Result<Form<Button>, FormRejection>,
) -> Response {
    if let Err(refused) = directory::posted(&signed, form) {
        return refused;
    }
    let asked = Asked::page((tenancy, group));
    let removed = match Uuid::parse_str(&user) {
        Ok(user) => change(&state, &signed, &asked, user, None).await,
        Err(_) => Err(ApiError::NotFound("user")),
    };
    answer(&state, &signed, &asked, removed, "removed").await
}

/// Adds (`Some(override)`) or removes (`None`) a member through the API's own function.
async fn change(
    state: &AppState,
    signed: &SignedIn,
    asked: &Asked,
    user: Uuid,
    add: Option<bool>,
) -> Result<(), ApiError> {
    let caller = signed.caller();
    let (tenancy, _, kind) = tenancy_kind(state, &caller, &asked.tenancy).await?;
    let id = group_id(&asked.group)?;
    match add {
        Some(confirmed) => api::add(state, &caller, (tenancy, kind, id, user), confirmed)
            .await
            .map(|_| ()),
        None => api::remove(state, &caller, (tenancy, kind, id, user)).await,
    }
}

/// The group's page saying what was done, or again with the API's reasons.
async fn answer(
    state: &AppState,
    signed: &SignedIn,
    asked: &Asked,
    done: Result<(), ApiError>,
    what: &str,
) -> Response {
    match done.map_err(Errors::of) {
        Ok(()) => {
            let path = format!("{TENANCIES}/{}/groups/{}", asked.tenancy, asked.group);
            Redirect::to(&directory::address(&path, &[("done", what)])).into_response()
        }
        Err(Ok(errors)) => group_page(state, signed, asked, errors, None).await,
        Err(Err(error)) => view::refusal(&Chrome::signed_in(signed, Section::Groups), error),
    }
}

/// A new group as its form sends it: its name and the staff users and team accounts ticked.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct NewForm {
    csrf: String,
    name: String,
    members: Vec<String>,
}

/// A staff user or team account the new group's form offers, ticked or not.
pub(super) struct Candidate {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) ticked: bool,
}

#[derive(Template)]
#[template(path = "console/groups_new.html")]
struct New {
    chrome: Chrome,
    title: String,
    tenancy: String,
    kind: &'static str,
    group_name: String,
    candidates: Vec<Candidate>,
    errors: Errors,
}

/// Where a new group goes: the tenancy, its name, the kind its model uses, and who may join
/// (its active staff users and team accounts, as the API lists them for the caller).
struct Creation {
    tenancy: Uuid,
    kind: GroupKind,
    candidates: Vec<(String, String)>,
}

/// What the new group's form needs, for a caller the API lets create the tenancy's groups.
async fn creation(state: &AppState, caller: &Caller, tenancy: &str) -> Result<Creation, ApiError> {
    let (tenancy, _, kind) = tenancy_kind(state, caller, tenancy).await?;
    api::require_manager(&caller.in_tenancy(tenancy)?, kind)?;
    let mut candidates: Vec<(String, String)> = directory::staff_names(state, caller, tenancy)
        .await?
        .into_iter()
        .filter(|(_, _, active)| *active)
        .map(|(id, name, _)| (id.to_string(), format!("Staff: {name}")))
        .collect();
    let most = PageQuery {
        limit: Some(PageRequest::MAX_LIMIT),
        after: None,
        q: None,
    };
    let teams = crate::http::api::team_accounts::listed(state, caller, tenancy, &most).await?;
    candidates.extend(teams.items.into_iter().filter(|t| t.active).map(|t| {
        let name = format!("Team account: {} ({})", t.name, t.email);
        (t.id.to_string(), name)
    }));
    Ok(Creation {
        tenancy,
        kind,
        candidates,
    })
}

fn new_page(chrome: Chrome, creation: Creation, form: NewForm, errors: Errors) -> Response {
    let status = errors.status;
    let page = New {
        chrome,
        title: format!("New {}", one_kind(creation.kind)),
        tenancy: creation.tenancy.to_string(),
        kind: one_kind(creation.kind),
        candidates: creation
            .candidates
            .into_iter()
            .map(|(id, name)| Candidate {
                ticked: form.members.contains(&id),
                id,
                name,
            })
            .collect(),
        group_name: form.name,
        errors,
    };
    view::render(status, &page)
}

/// `GET /console/tenancies/{id}/groups/new`: the form, for those the API lets create a group.
pub(super) async fn new(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Groups);
    match creation(&state, &signed.caller(), &tenancy).await {
        Ok(creation) => new_page(chrome, creation, NewForm::default(), Errors::default()),
        Err(error) => view::refusal(&chrome, error),
    }
}

/// `POST /console/tenancies/{id}/groups`: creates the group, of the kind the tenancy's model
/// uses, through the API's own function; refused, the form again with the API's reasons.
pub(super) async fn create(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    form: Result<axum_extra::extract::Form<NewForm>, axum_extra::extract::FormRejection>,
) -> Response {
    let Ok(axum_extra::extract::Form(form)) = form else {
        return view::stale_form();
    };
    if let Err(refused) = signed.check(&form.csrf) {
        return refused;
    }
    let chrome = Chrome::signed_in(&signed, Section::Groups);
    let caller = signed.caller();
    match created(&state, &caller, &tenancy, &form).await {
        Ok(group) => {
            let path = format!(
                "{}/{}",
                directory::tenancy_page(group.tenancy_id, "groups"),
                group.id
            );
            Redirect::to(&directory::address(&path, &[("done", "created")])).into_response()
        }
        Err(error) => match Errors::of(error) {
            Ok(errors) => match creation(&state, &caller, &tenancy).await {
                Ok(creation) => new_page(chrome, creation, form, errors),
                Err(error) => view::refusal(&chrome, error),
            },
            Err(error) => view::refusal(&chrome, error),
        },
    }
}

/// The group the form asks for, created as `caller`: ticked members that are not ids are
/// refused as the API refuses a body whose `members` are not ids.
async fn created(
    state: &AppState,
    caller: &Caller,
    tenancy: &str,
    form: &NewForm,
) -> Result<Group, ApiError> {
    let (tenancy, _, kind) = tenancy_kind(state, caller, tenancy).await?;
    api::require_manager(&caller.in_tenancy(tenancy)?, kind)?;
    let members = form
        .members
        .iter()
        .map(|id| Uuid::parse_str(id.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ApiError::invalid("members", "must name staff users and team accounts"))?;
    let body = CreateGroup {
        name: form.name.clone(),
        members,
    };
    api::create(state, caller, (tenancy, kind), body).await
}

/// The new name, as the rename form sends it.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RenameForm {
    csrf: String,
    name: String,
}

impl Posted for RenameForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /console/tenancies/{id}/groups/{group}`: renames the group through the API's own
/// function; a refused name stands beside the field with the API's reason.
pub(super) async fn rename(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(path): Path<(String, String)>,
    form: Result<Form<RenameForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let asked = Asked {
        name: Some(form.name.clone()),
        ..Asked::page(path)
    };
    let renamed = async {
        let caller = signed.caller();
        let (tenancy, _, kind) = tenancy_kind(&state, &caller, &asked.tenancy).await?;
        let id = group_id(&asked.group)?;
        let body = RenameGroup { name: form.name };
        api::rename(&state, &caller, (tenancy, kind, id), body).await
    };
    answer(
        &state,
        &signed,
        &asked,
        renamed.await.map(|_| ()),
        "renamed",
    )
    .await
}

#[derive(Template)]
#[template(path = "console/groups_delete.html")]
struct Deletion {
    chrome: Chrome,
    title: String,
    tenancy: String,
    group: GroupView,
    kind: &'static str,
    errors: Errors,
}

/// `GET …/groups/{group}/delete`: says what deleting does, and asks first.
pub(super) async fn confirm_deletion(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(path): Path<(String, String)>,
) -> Response {
    deletion_page(&state, &signed, &path, Errors::default()).await
}

/// The confirmation, with the API's reason when it refused the deletion.
async fn deletion_page(
    state: &AppState,
    signed: &SignedIn,
    (tenancy, group): &(String, String),
    errors: Errors,
) -> Response {
    let chrome = Chrome::signed_in(signed, Section::Groups);
    let caller = signed.caller();
    // As the API's DELETE: the role is checked before the group is looked for.
    let read = async {
        let (tenancy, _, kind) = tenancy_kind(state, &caller, tenancy).await?;
        caller.in_tenancy(tenancy)?.require_users_admin()?;
        let group = api::found(state, &caller, tenancy, kind, group_id(group)?).await?;
        Ok::<_, ApiError>((group, kind))
    };
    match read.await {
        Ok((group, kind)) => {
            let page = Deletion {
                title: format!("Delete {}?", group.name),
                tenancy: group.tenancy_id.to_string(),
                group: GroupView::from(&group),
                kind: one_kind(kind),
                chrome,
                errors,
            };
            view::render(page.errors.status, &page)
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// `POST …/groups/{group}/delete`: deletes the group through the API's own function, unless
/// one of its clients would be left with no other cover (then the confirmation says why).
pub(super) async fn delete(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(path): Path<(String, String)>,
    form: Result<Form<Button>, FormRejection>,
) -> Response {
    if let Err(refused) = directory::posted(&signed, form) {
        return refused;
    }
    let caller = signed.caller();
    let deleted = async {
        let (tenancy, _, kind) = tenancy_kind(&state, &caller, &path.0).await?;
        api::delete(&state, &caller, (tenancy, kind, group_id(&path.1)?)).await?;
        Ok::<_, ApiError>(tenancy)
    };
    match deleted.await.map_err(Errors::of) {
        Ok(tenancy) => {
            let list = directory::tenancy_page(tenancy, "groups");
            Redirect::to(&directory::address(&list, &[("done", "deleted")])).into_response()
        }
        Err(Ok(errors)) => deletion_page(&state, &signed, &path, errors).await,
        Err(Err(error)) => view::refusal(&Chrome::signed_in(&signed, Section::Groups), error),
    }
}
