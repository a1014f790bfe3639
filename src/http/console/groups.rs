//! A tenancy's contact groups or client teams (whichever its model uses) and their members:
//! the list, searched and paged, and a group's page where members are added and removed. Each
//! read and change is the API's own function with the session's caller, so the coverage and
//! confidentiality rules refuse as the API words them, beside the field they name.

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
use crate::http::api::groups as api;
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
}

/// `GET /console/tenancies/{id}/groups`: the groups, searched by name, a page at a time.
pub(super) async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    Query(search): Query<Search>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Groups);
    let caller = signed.caller();
    let query = search.query();
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
    let page = List {
        chrome,
        title: format!("{} of {name}", kind_name(kind)),
        tenancy: tenancy.to_string(),
        groups: found.items.iter().map(GroupView::from).collect(),
        q: search.q,
        next,
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
    errors: Errors,
    notice: Option<&'static str>,
}

/// `GET /console/tenancies/{id}/groups/{group}`: the group, its members and the forms.
pub(super) async fn detail(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((tenancy, group)): Path<(String, String)>,
    Query(shown): Query<Done>,
) -> Response {
    let notice = shown.notice(&[
        ("added", "The member was added."),
        ("removed", "The member was removed."),
    ]);
    let asked = Asked {
        tenancy,
        group,
        chosen: String::new(),
    };
    group_page(&state, &signed, &asked, Errors::default(), notice).await
}

/// Which group a page is about, and the member chosen in its form.
struct Asked {
    tenancy: String,
    group: String,
    chosen: String,
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
    let page = Detail {
        chrome,
        title: group.name.clone(),
        tenancy: group.tenancy_id.to_string(),
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
    let id = Uuid::parse_str(&asked.group).map_err(|_| ApiError::NotFound("group"))?;
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
    Path((tenancy, group)): Path<(String, String)>,
    form: Result<Form<AddForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let asked = Asked {
        tenancy,
        group,
        chosen: form.user_id.clone(),
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
    let asked = Asked {
        tenancy,
        group,
        chosen: String::new(),
    };
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
    let id = Uuid::parse_str(&asked.group).map_err(|_| ApiError::NotFound("group"))?;
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
