//! A tenancy's clients: the list by status with search and paging, and a client's page with
//! their status, its history and the lifecycle actions (send, resend, and revoke after a
//! confirmation). Each read and action is the API's own function called with the session's
//! caller; an action the status does not allow is refused in the state machine's words.

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

use super::directory::{self, Button, Choice, Done, Errors, tenancy_id};
use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::domain::client_status::{ClientStatus, Transition};
use crate::http::AppState;
use crate::http::api::clients::{self as api, ClientQuery};
use crate::http::error::ApiError;
use crate::store::{Client, ClientEvent};

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
    errors: Errors,
    notice: Option<&'static str>,
}

/// `GET /console/tenancies/{id}/clients/{client}`: the client, their history and actions.
pub(super) async fn detail(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((tenancy, client)): Path<(String, String)>,
    Query(shown): Query<Done>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Clients);
    let notice = shown.notice(&[
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
    match read(&state, &signed, &tenancy, &client).await {
        Ok((client, history)) => {
            let history = history.into_iter().map(EventView::from).collect();
            detail_page(chrome, &client, history, Errors::default(), notice)
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

fn detail_page(
    chrome: Chrome,
    client: &Client,
    history: Vec<EventView>,
    errors: Errors,
    notice: Option<&'static str>,
) -> Response {
    let page = Detail {
        chrome,
        title: format!("{} {}", client.first_name, client.last_name),
        tenancy: client.tenancy_id.to_string(),
        client: ClientView::from(client),
        history,
        may_send: ClientStatus::send(client.status).is_ok(),
        may_resend: ClientStatus::resend(client.status).is_ok(),
        may_revoke: ClientStatus::revoke(client.status).is_ok(),
        errors,
        notice,
    };
    view::render(page.errors.status, &page)
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
    let chrome = Chrome::signed_in(&signed, Section::Clients);
    let Some(transition) = transition(action) else {
        return view::not_found();
    };
    let (before, history) = match read(&state, &signed, &tenancy, &client).await {
        Ok(read) => read,
        Err(error) => return view::refusal(&chrome, error),
    };
    let caller = signed.caller();
    match api::administer(&state, &caller, before.tenancy_id, before.id, transition).await {
        Ok(after) => {
            let path = format!("{}/{}", clients_path(after.tenancy_id), after.id);
            Redirect::to(&directory::address(&path, &[("done", action)])).into_response()
        }
        Err(error) => directory::refused(chrome, error, |chrome, errors| {
            let history = history.into_iter().map(EventView::from).collect();
            detail_page(chrome, &before, history, errors, None)
        }),
    }
}
