//! A tenancy's clients: the list by status with search and paging, adding a client as a draft
//! (with the group choice the invite takes), and a client's page with their status and
//! history, their details to correct, the contact groups or client teams they are in, the
//! Salesforce record they are linked to (linked by hand there), and the lifecycle actions
//! (send, resend, and revoke after a confirmation). Each read and change is the API's own
//! function called with the session's caller, so each refusal is the API's, in its words.

// A refusal here is the page that answers the request; the error side is that page.
#![allow(clippy::result_large_err)]

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::{Form as ExtraForm, FormRejection as ExtraFormRejection};
use serde::Deserialize;
use uuid::Uuid;

use super::directory::{self, Button, Choice, Done, Errors, Posted, TENANCIES, tenancy_id};
use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::domain::client_status::{ClientStatus, Transition};
use crate::domain::tenancy::GroupKind;
use crate::http::AppState;
use crate::http::api::clients::{
    self as api, ClientQuery, CrmRecord, InviteClient, NewContactGroup, UpdateClient,
};
use crate::http::api::groups as group_api;
use crate::http::api::org_links::{managed_tenancy, visible_links};
use crate::http::api::{PageQuery, team_accounts};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::store::{Client, ClientEvent, Group, OrgLink, PageRequest, RecordRef};

/// `GET /console/clients`: an administrator's own tenancy's clients; an operator picks a
/// tenancy.
pub(super) async fn own(signed: SignedIn) -> Response {
    directory::own_tenancy_page(&signed, "clients")
}

fn clients_path(tenancy: Uuid) -> String {
    directory::tenancy_page(tenancy, "clients")
}

/// A client as the pages show them.
pub(super) struct ClientView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) email: String,
    pub(super) mobile: String,
    pub(super) title: String,
    pub(super) status: &'static str,
    pub(super) status_theme: &'static str,
    pub(super) created: String,
}

/// A status's badge theme.
fn theme(status: ClientStatus) -> &'static str {
    match status {
        ClientStatus::Active => "slds-theme_success",
        ClientStatus::Invited | ClientStatus::Draft => "slds-badge_lightest",
        ClientStatus::Expired => "slds-theme_warning",
        ClientStatus::Declined | ClientStatus::Revoked => "slds-theme_error",
    }
}

impl From<&Client> for ClientView {
    fn from(client: &Client) -> Self {
        Self {
            id: client.id.to_string(),
            name: format!("{} {}", client.first_name, client.last_name),
            email: client.email.clone(),
            mobile: client.mobile.clone().unwrap_or_default(),
            title: client.title.clone(),
            status: client.status.label(),
            status_theme: theme(client.status),
            created: directory::when(client.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/clients.html")]
struct List {
    chrome: Chrome,
    title: String,
    tenancy: String,
    clients: Vec<ClientView>,
    statuses: Vec<Choice>,
    q: String,
    next: Option<String>,
    /// A search the API refuses (its text), beside the field.
    errors: Errors,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Search {
    status: String,
    q: String,
    after: String,
}

impl Search {
    /// The API's query: the status (any other word is every status), the text and the cursor.
    fn query(&self) -> ClientQuery {
        let paging = directory::page_query(Some(&self.after), Some(&self.q));
        ClientQuery {
            status: ClientStatus::parse(&self.status),
            limit: None,
            after: paging.after,
            q: paging.q,
        }
    }

    /// The statuses to choose from, this search's selected.
    fn statuses(&self) -> Vec<Choice> {
        let mut statuses = vec![("", "Every status")];
        statuses.extend(ClientStatus::ALL.iter().map(|s| (s.as_str(), s.label())));
        directory::choices(&statuses, &self.status)
    }
}

/// `GET /console/tenancies/{id}/clients`: by status and search text, a page at a time.
pub(super) async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    Query(search): Query<Search>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Clients);
    let read = async {
        let tenancy = tenancy_id(&tenancy)?;
        let found = api::listed(&state, &signed.caller(), tenancy, &search.query()).await?;
        Ok::<_, ApiError>((state.store.tenancy(tenancy).await?, found))
    };
    let (tenancy, found) = match read.await {
        Ok(read) => read,
        Err(error) => return view::refusal(&chrome, error),
    };
    let path = clients_path(tenancy.id);
    let next = found.next_cursor.map(|after| {
        let query = [
            ("status", search.status.as_str()),
            ("q", &search.q),
            ("after", &after),
        ];
        directory::address(&path, &query)
    });
    let page = List {
        chrome,
        title: format!("Clients of {}", tenancy.name),
        tenancy: tenancy.id.to_string(),
        clients: found.items.iter().map(ClientView::from).collect(),
        statuses: search.statuses(),
        q: search.q,
        next,
        errors: Errors::default(),
    };
    view::render(StatusCode::OK, &page)
}

/// A status change as the history shows it.
pub(super) struct EventView {
    pub(super) at: String,
    pub(super) from: &'static str,
    pub(super) to: &'static str,
    pub(super) actor: String,
}

impl From<ClientEvent> for EventView {
    fn from(event: ClientEvent) -> Self {
        Self {
            at: directory::when(event.at),
            from: event.from_status.map_or("", ClientStatus::label),
            to: event.to_status.label(),
            actor: event.actor,
        }
    }
}

/// A client's details as the edit form holds them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DetailsForm {
    csrf: String,
    first_name: String,
    last_name: String,
    email: String,
    mobile: String,
    title: String,
}

impl Posted for DetailsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl DetailsForm {
    fn of(client: &Client) -> Self {
        Self {
            csrf: String::new(),
            first_name: client.first_name.clone(),
            last_name: client.last_name.clone(),
            email: client.email.clone(),
            mobile: client.mobile.clone().unwrap_or_default(),
            title: client.title.clone(),
        }
    }

    /// The API's change: every field as typed (a blank one is refused as the API refuses it),
    /// the mobile only when given, since the API keeps a mobile it is not sent.
    fn change(&self) -> UpdateClient {
        UpdateClient {
            first_name: Some(self.first_name.clone()),
            last_name: Some(self.last_name.clone()),
            email: Some(self.email.clone()),
            mobile: directory::filled(&self.mobile),
            title: Some(self.title.clone()),
        }
    }
}

/// The Salesforce record to link a client to, as the form sends it.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RecordForm {
    csrf: String,
    org_link_id: String,
    sobject: String,
    record_id: String,
}

impl Posted for RecordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl RecordForm {
    fn of(record: Option<&RecordRef>) -> Self {
        Self {
            csrf: String::new(),
            org_link_id: record.map(|r| r.org_link.to_string()).unwrap_or_default(),
            sobject: record.map_or("Contact", |r| r.sobject).to_string(),
            record_id: record
                .map(|r| r.record_id.as_str().to_string())
                .unwrap_or_default(),
        }
    }

    /// The API's body. A link that is not an id is sent as the nil id, which names no link,
    /// so the API checks the caller first and then refuses it in its own words.
    fn body(&self) -> CrmRecord {
        CrmRecord {
            org_link_id: Uuid::parse_str(self.org_link_id.trim()).unwrap_or_default(),
            sobject: self.sobject.clone(),
            record_id: self.record_id.trim().to_string(),
        }
    }
}

/// The record types a client's record may be.
const SOBJECTS: [(&str, &str); 2] = [("Contact", "Contact"), ("Account", "Person Account")];

/// A group the client is in, linked to its page.
pub(super) struct GroupLink {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) active_staff: i64,
}

/// The record a client is linked to, as the page shows it.
pub(super) struct RecordView {
    /// The org link's name where the caller may see it, else its id.
    pub(super) link: String,
    pub(super) sobject: &'static str,
    pub(super) record_id: String,
    /// The record in Salesforce, where the link's instance (an `https` one) is known to the
    /// caller.
    pub(super) open: Option<String>,
}

/// Everything the client's page shows, read for the caller.
struct Shown {
    client: Client,
    history: Vec<ClientEvent>,
    kind: GroupKind,
    groups: Vec<Group>,
    record: Option<RecordRef>,
    /// The org links serving the tenancy, for callers the API shows links to; others type a
    /// link's id.
    links: Option<Vec<OrgLink>>,
}

/// What the client's page is asked to show: the forms as posted, the API's reasons, a notice.
#[derive(Default)]
struct Asked {
    details: Option<DetailsForm>,
    record: Option<RecordForm>,
    errors: Errors,
    notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "console/clients_detail.html")]
struct Detail {
    chrome: Chrome,
    title: String,
    tenancy: String,
    client: ClientView,
    history: Vec<EventView>,
    /// The actions the client's status allows, by the state machine.
    may_send: bool,
    may_resend: bool,
    may_revoke: bool,
    /// The forms, for those the API lets change clients.
    details: Option<DetailsForm>,
    record_form: Option<RecordForm>,
    link_choices: Option<Vec<Choice>>,
    /// The caller sees the tenancy's org links and there are none to link a record through.
    no_links: bool,
    sobjects: Vec<Choice>,
    group_kind: &'static str,
    groups: Vec<GroupLink>,
    record: Option<RecordView>,
    errors: Errors,
    notice: Option<&'static str>,
}

/// `GET /console/tenancies/{id}/clients/{client}`: the client, their groups, record, history
/// and the forms and actions the caller may use.
pub(super) async fn detail(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((tenancy, client)): Path<(String, String)>,
    Query(shown): Query<Done>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Clients);
    let notice = shown.notice(&[
        (
            "added",
            "The client was added as a draft: send the invitation when ready.",
        ),
        ("saved", "The changes were saved."),
        (
            "linked",
            "The client is linked to the record: their status is written back to it.",
        ),
        ("send", "The invitation was sent."),
        (
            "resend",
            "A new invitation cycle started: older links no longer work.",
        ),
        (
            "revoke",
            "The invitation was revoked: every link of it stopped working.",
        ),
    ]);
    match read_shown(&state, &signed, &tenancy, &client).await {
        Ok(shown) => {
            let asked = Asked {
                notice,
                ..Asked::default()
            };
            detail_page(&signed, chrome, shown, asked)
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// The client and the first page of their history, as the API reads them for the caller.
async fn read(
    state: &AppState,
    signed: &SignedIn,
    tenancy: &str,
    client: &str,
) -> Result<(Client, Vec<ClientEvent>), ApiError> {
    let caller = signed.caller();
    let access = caller.in_tenancy(tenancy_id(tenancy)?)?;
    let id = Uuid::parse_str(client).map_err(|_| ApiError::NotFound("client"))?;
    let client = state
        .store
        .client(access.tenancy, id, access.plain_staff())
        .await?;
    let first = directory::page_query(None, None);
    let history = api::events(state, &caller, access.tenancy, id, &first).await?;
    Ok((client, history.items))
}

/// The client with their history, groups and record, and the org links the caller may pick
/// from, each as the API reads it for the caller.
async fn read_shown(
    state: &AppState,
    signed: &SignedIn,
    tenancy: &str,
    client: &str,
) -> Result<Shown, ApiError> {
    let caller = signed.caller();
    let (client, history) = read(state, signed, tenancy, client).await?;
    let (kind, groups) = api::groups(state, &caller, client.tenancy_id, client.id).await?;
    let record = api::crm_record(state, &caller, client.tenancy_id, client.id).await?;
    let links = match managed_tenancy(&caller) {
        Ok(_) => {
            let most = PageQuery {
                limit: Some(PageRequest::MAX_LIMIT),
                after: None,
                q: None,
            }
            .page()?;
            let mut found = visible_links(state, &caller, &most).await?.items;
            found.retain(|l| l.tenancies.contains(&client.tenancy_id));
            Some(found)
        }
        Err(_) => None,
    };
    Ok(Shown {
        client,
        history,
        kind,
        groups,
        record,
        links,
    })
}

fn kind_label(kind: GroupKind) -> &'static str {
    match kind {
        GroupKind::ContactGroup => "Contact groups",
        GroupKind::ClientTeam => "Client teams",
    }
}

/// The record as the page shows it, its link named where the caller sees it.
fn record_view(record: &RecordRef, links: Option<&[OrgLink]>) -> RecordView {
    let link = links.and_then(|l| l.iter().find(|l| l.id == record.org_link));
    RecordView {
        link: link.map_or_else(|| record.org_link.to_string(), |l| l.name.clone()),
        sobject: record.sobject,
        record_id: record.record_id.as_str().to_string(),
        open: link
            .and_then(|l| l.instance_url.as_ref())
            .filter(|url| url.starts_with("https://"))
            .map(|url| {
                format!(
                    "{}/{}",
                    url.trim_end_matches('/'),
                    record.record_id.as_str()
                )
            }),
    }
}

fn detail_page(signed: &SignedIn, chrome: Chrome, shown: Shown, asked: Asked) -> Response {
    let client = &shown.client;
    let editable = signed
        .caller()
        .in_tenancy(client.tenancy_id)
        .and_then(|a| a.require_users_admin())
        .is_ok();
    let details = editable.then(|| asked.details.unwrap_or_else(|| DetailsForm::of(client)));
    let record_form = editable.then(|| {
        asked
            .record
            .unwrap_or_else(|| RecordForm::of(shown.record.as_ref()))
    });
    let chosen_link = record_form.as_ref().map_or("", |f| f.org_link_id.as_str());
    let link_choices = shown.links.as_ref().map(|links| {
        let options: Vec<(String, String)> = links
            .iter()
            .map(|l| (l.id.to_string(), format!("{} ({})", l.name, l.org_id)))
            .collect();
        directory::owned_choices(&options, chosen_link)
    });
    let chosen_sobject = record_form.as_ref().map_or("", |f| f.sobject.as_str());
    let page = Detail {
        title: format!("{} {}", client.first_name, client.last_name),
        tenancy: client.tenancy_id.to_string(),
        client: ClientView::from(client),
        history: shown.history.into_iter().map(EventView::from).collect(),
        may_send: ClientStatus::send(client.status).is_ok(),
        may_resend: ClientStatus::resend(client.status).is_ok(),
        may_revoke: ClientStatus::revoke(client.status).is_ok(),
        sobjects: directory::choices(&SOBJECTS, chosen_sobject),
        no_links: link_choices.as_ref().is_some_and(Vec::is_empty),
        details,
        record_form,
        link_choices,
        group_kind: kind_label(shown.kind),
        groups: shown
            .groups
            .iter()
            .map(|g| GroupLink {
                id: g.id.to_string(),
                name: g.name.clone(),
                active_staff: g.active_staff,
            })
            .collect(),
        record: shown
            .record
            .as_ref()
            .map(|r| record_view(r, shown.links.as_deref())),
        chrome,
        errors: asked.errors,
        notice: asked.notice,
    };
    view::render(page.errors.status, &page)
}

/// The client's page saying what was done, or again with the API's reasons beside the fields
/// of the form that was sent.
async fn answer(
    state: &AppState,
    signed: &SignedIn,
    (tenancy, client): (&str, &str),
    done: Result<(), ApiError>,
    (what, form): (&str, Asked),
) -> Response {
    let chrome = Chrome::signed_in(signed, Section::Clients);
    let errors = match done.map_err(Errors::of) {
        Ok(()) => {
            let path = format!("{TENANCIES}/{tenancy}/clients/{client}");
            return Redirect::to(&directory::address(&path, &[("done", what)])).into_response();
        }
        Err(Ok(errors)) => errors,
        Err(Err(error)) => return view::refusal(&chrome, error),
    };
    match read_shown(state, signed, tenancy, client).await {
        Ok(shown) => detail_page(signed, chrome, shown, Asked { errors, ..form }),
        Err(error) => view::refusal(&chrome, error),
    }
}

/// `POST /console/tenancies/{id}/clients/{client}`: corrects the client's details through the
/// API's own function.
pub(super) async fn update(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((tenancy, client)): Path<(String, String)>,
    form: Result<Form<DetailsForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let (caller, change) = (signed.caller(), form.change());
    let kept = Asked {
        details: Some(form),
        ..Asked::default()
    };
    let state_ref = &state;
    let save = |t, id| async move { api::update(state_ref, &caller, t, id, change).await };
    changed(&state, &signed, (&tenancy, &client), save, ("saved", kept)).await
}

/// Makes a change to the client a page's path names (its tenancy's and its own id, a
/// malformed one not found as in the API) through `call`, one of the API's own functions, and
/// answers with the client's page saying what was done or with the API's reasons.
async fn changed<T, F>(
    state: &AppState,
    signed: &SignedIn,
    (tenancy, client): (&str, &str),
    call: impl FnOnce(Uuid, Uuid) -> F,
    asked: (&str, Asked),
) -> Response
where
    F: Future<Output = Result<T, ApiError>>,
{
    let done = async {
        let (t, id) = (tenancy_id(tenancy)?, client_id(client)?);
        call(t, id).await.map(|_| ())
    };
    answer(state, signed, (tenancy, client), done.await, asked).await
}

/// `POST /console/tenancies/{id}/clients/{client}/crm-record`: links the client to their
/// Salesforce record through the API's own function.
pub(super) async fn link_record(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((tenancy, client)): Path<(String, String)>,
    form: Result<Form<RecordForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let (caller, body) = (signed.caller(), form.body());
    let kept = Asked {
        record: Some(form),
        ..Asked::default()
    };
    let state_ref = &state;
    let link = |t, id| async move { api::link(state_ref, &caller, t, id, body).await };
    changed(&state, &signed, (&tenancy, &client), link, ("linked", kept)).await
}

/// A client's id from a page's path; one that is not an id is a client not found, as in the
/// API.
fn client_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound("client"))
}

/// The lifecycle action a path names.
fn transition(action: &str) -> Option<Transition> {
    match action {
        "send" => Some(ClientStatus::send),
        "resend" => Some(ClientStatus::resend),
        "revoke" => Some(ClientStatus::revoke),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "console/clients_revoke.html")]
struct Confirm {
    chrome: Chrome,
    title: String,
    tenancy: String,
    client: ClientView,
}

/// `GET …/clients/{client}/revoke`: asks before revoking.
pub(super) async fn confirm_revocation(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((tenancy, client)): Path<(String, String)>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Clients);
    let allowed = read(&state, &signed, &tenancy, &client)
        .await
        .and_then(|(client, _)| {
            let access = signed.caller().in_tenancy(client.tenancy_id)?;
            access.require_users_admin().map(|()| client)
        });
    match allowed {
        Ok(client) => {
            let page = Confirm {
                chrome,
                title: format!(
                    "Revoke {} {}'s invitation?",
                    client.first_name, client.last_name
                ),
                tenancy: client.tenancy_id.to_string(),
                client: ClientView::from(&client),
            };
            view::render(StatusCode::OK, &page)
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// `POST …/clients/{client}/{send|resend|revoke}`: the action through the API's own function;
/// one the status does not allow is shown on the client's page in the API's words.
pub(super) async fn act(
    state: State<AppState>,
    signed: SignedIn,
    Path((tenancy, client, action)): Path<(String, String, String)>,
    form: Result<Form<Button>, FormRejection>,
) -> Response {
    perform(state, signed, (tenancy, client), &action, form).await
}

/// `POST …/clients/{client}/revoke`, the confirmation's button.
pub(super) async fn revoke(
    state: State<AppState>,
    signed: SignedIn,
    Path(path): Path<(String, String)>,
    form: Result<Form<Button>, FormRejection>,
) -> Response {
    perform(state, signed, path, "revoke", form).await
}

async fn perform(
    State(state): State<AppState>,
    signed: SignedIn,
    (tenancy, client): (String, String),
    action: &str,
    form: Result<Form<Button>, FormRejection>,
) -> Response {
    if let Err(refused) = directory::posted(&signed, form) {
        return refused;
    }
    let Some(transition) = transition(action) else {
        return view::not_found();
    };
    let caller = signed.caller();
    let state_ref = &state;
    let act = |t, id| async move { api::administer(state_ref, &caller, t, id, transition).await };
    let asked = (action, Asked::default());
    changed(&state, &signed, (&tenancy, &client), act, asked).await
}

/// A new client as the add form sends it: the invite's fields and the group choice the API
/// takes (ticked groups or teams, or for contact groups a new group with its members).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct NewClientForm {
    csrf: String,
    first_name: String,
    last_name: String,
    email: String,
    mobile: String,
    title: String,
    message: String,
    groups: Vec<String>,
    new_group_name: String,
    new_group_members: Vec<String>,
    confidentiality_override: String,
}

/// Ids as ticked boxes send them; a value that is not an id names nothing and is left out,
/// as a box that was never offered.
fn ids(values: &[String]) -> Vec<Uuid> {
    values
        .iter()
        .filter_map(|v| Uuid::parse_str(v.trim()).ok())
        .collect()
}

impl NewClientForm {
    /// The API's body for a tenancy whose groups are of `kind`.
    fn body(&self, kind: GroupKind) -> InviteClient {
        let groups = ids(&self.groups);
        let new_group = (kind == GroupKind::ContactGroup
            && (!self.new_group_name.trim().is_empty() || !self.new_group_members.is_empty()))
        .then(|| NewContactGroup {
            name: self.new_group_name.clone(),
            members: ids(&self.new_group_members),
        });
        let (contact_groups, client_teams) = match kind {
            GroupKind::ContactGroup => (groups, Vec::new()),
            GroupKind::ClientTeam => (Vec::new(), groups),
        };
        InviteClient {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            mobile: directory::filled(&self.mobile),
            title: directory::filled(&self.title),
            message: directory::filled(&self.message),
            contact_groups,
            new_contact_group: new_group,
            client_teams,
            confidentiality_override: !self.confidentiality_override.is_empty(),
        }
    }
}

/// A box to tick.
pub(super) struct Tick {
    pub(super) id: String,
    pub(super) text: String,
    pub(super) checked: bool,
}

fn ticks(options: Vec<(String, String)>, ticked: &[String]) -> Vec<Tick> {
    options
        .into_iter()
        .map(|(id, text)| Tick {
            checked: ticked.contains(&id),
            id,
            text,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "console/clients_new.html")]
struct New {
    chrome: Chrome,
    title: &'static str,
    tenancy: String,
    contact_groups: bool,
    group_kind: &'static str,
    form: NewClientForm,
    groups: Vec<Tick>,
    members: Vec<Tick>,
    errors: Errors,
}

/// The groups of the tenancy's model, and the active staff and team accounts a new contact
/// group may be made with, as the API lists them for the caller.
async fn choices(
    state: &AppState,
    caller: &Caller,
    tenancy: &str,
) -> Result<
    (
        Uuid,
        GroupKind,
        Vec<(String, String)>,
        Vec<(String, String)>,
    ),
    ApiError,
> {
    let tenancy = caller.in_tenancy(tenancy_id(tenancy)?)?.tenancy;
    let kind = state.store.tenancy(tenancy).await?.group_model.group_kind();
    let most = PageQuery {
        limit: Some(PageRequest::MAX_LIMIT),
        after: None,
        q: None,
    };
    let groups = group_api::listed(state, caller, tenancy, kind, &most)
        .await?
        .items
        .into_iter()
        .map(|g| (g.id.to_string(), g.name))
        .collect();
    let mut members: Vec<(String, String)> = directory::staff_names(state, caller, tenancy)
        .await?
        .into_iter()
        .filter(|(_, _, active)| *active)
        .map(|(id, name, _)| (id.to_string(), name))
        .collect();
    let teams = team_accounts::listed(state, caller, tenancy, &most).await?;
    members.extend(teams.items.into_iter().filter(|t| t.active).map(|t| {
        let name = format!("Team account: {} ({})", t.name, t.email);
        (t.id.to_string(), name)
    }));
    Ok((tenancy, kind, groups, members))
}

/// The add form, with what was typed and the API's reasons.
async fn new_page(
    state: &AppState,
    signed: &SignedIn,
    tenancy: &str,
    form: NewClientForm,
    errors: Errors,
) -> Response {
    let chrome = Chrome::signed_in(signed, Section::Clients);
    let (tenancy, kind, groups, members) = match choices(state, &signed.caller(), tenancy).await {
        Ok(found) => found,
        Err(error) => return view::refusal(&chrome, error),
    };
    let page = New {
        chrome,
        title: "Add a client",
        tenancy: tenancy.to_string(),
        contact_groups: kind == GroupKind::ContactGroup,
        group_kind: kind_label(kind),
        groups: ticks(groups, &form.groups),
        members: ticks(members, &form.new_group_members),
        form,
        errors,
    };
    view::render(page.errors.status, &page)
}

/// `GET /console/tenancies/{id}/clients/new`: the form to add a client as a draft.
pub(super) async fn new(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
) -> Response {
    let (form, errors) = (NewClientForm::default(), Errors::default());
    new_page(&state, &signed, &tenancy, form, errors).await
}

/// `POST /console/tenancies/{id}/clients`: adds the client as a draft through the API's own
/// function; the client's page follows, or the form again with the API's reasons.
pub(super) async fn create(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    form: Result<ExtraForm<NewClientForm>, ExtraFormRejection>,
) -> Response {
    let form = form.map(|ExtraForm(f)| f).unwrap_or_default();
    if let Err(refused) = signed.check(&form.csrf) {
        return refused;
    }
    let caller = signed.caller();
    let created = async {
        let id = caller.in_tenancy(tenancy_id(&tenancy)?)?.tenancy;
        let kind = state.store.tenancy(id).await?.group_model.group_kind();
        api::invite(&state, &caller, id, form.body(kind)).await
    };
    match created.await.map_err(Errors::of) {
        Ok(client) => {
            let path = format!("{}/{}", clients_path(client.tenancy_id), client.id);
            Redirect::to(&directory::address(&path, &[("done", "added")])).into_response()
        }
        Err(Ok(errors)) => new_page(&state, &signed, &tenancy, form, errors).await,
        Err(Err(error)) => view::refusal(&Chrome::signed_in(&signed, Section::Clients), error),
    }
}
