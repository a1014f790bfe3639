//! The invite form inside Salesforce. Salesforce POSTs a canvas signed request; once verified
//! it opens a short session (bound to the Salesforce user, org link and record, carried by a
//! cookie and by the pages' forms) and the form is served from it: the record's client if one exists, else the tenancy pick, the form
//! pre-filled from the record, the groups or teams, and send or draft.

// Handlers here answer with a page either way; the error side is that page.
#![allow(clippy::result_large_err)]

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use axum_extra::extract::{Form as Posted, FormRejection};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::AppState;
use super::html::render;
use crate::crm::canvas::SignedRequest;
use crate::crm::error::CrmError;
use crate::crm::invite::{self, FromRecord, InviteError};
use crate::crm::oauth::random_token;
use crate::crm::record::{Prefill, RecordKind};
use crate::crm::{LinkError, digest};
use crate::domain::client_status::{ClientStatus, Transition};
use crate::domain::invite::{InviteInput, NewGroupInput};
use crate::domain::tenancy::{GroupModel, MobilePolicy};
use crate::domain::text;
use crate::domain::values::SalesforceId;
use crate::store::{
    self, ActingStaff, CanvasSession, Client, OrgLink, PageRequest, SalesforceUser,
};

const SESSION_COOKIE: &str = "liaison_canvas";
/// How long a canvas session lasts; Salesforce signs a new request each time the app opens.
const SESSION_MS: i64 = 30 * 60 * 1000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/salesforce/canvas", post(canvas))
        .route("/salesforce/invite", get(show).post(create))
        .route("/salesforce/invite/action", post(action))
}

/// A page Salesforce may frame.
fn framed(status: StatusCode, page: &impl Template) -> Response {
    let mut response = render(status, page);
    let headers = response.headers_mut();
    headers.remove("x-frame-options");
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "frame-ancestors 'self' https://*.salesforce.com https://*.force.com https://*.lightning.force.com \
             https://*.salesforce-setup.com https://*.visualforce.com",
        ),
    );
    response
}

/// A framed page with a title and one paragraph of plain text.
#[derive(Template)]
#[template(path = "canvas/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    framed(
        status,
        &MessagePage {
            title,
            message: text,
        },
    )
}

fn refused() -> Response {
    message(
        StatusCode::UNAUTHORIZED,
        "This page cannot be opened",
        "Liaison could not verify that this request came from your Salesforce org. Open Invite again \
         from the record; if it keeps happening, ask your Salesforce administrator to check the Liaison \
         canvas app.",
    )
}

fn session_ended() -> Response {
    message(
        StatusCode::UNAUTHORIZED,
        "Your session has ended",
        "Open Invite again from the Salesforce record to continue. Nothing was created.",
    )
}

fn unavailable(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %error, "invite page failed");
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Liaison is not available just now",
        "Nothing was created. Please try again in a minute.",
    )
}

/// Salesforce opens the app: verify, open a session, show the form.
async fn canvas(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<Posted<CanvasPost>, FormRejection>,
) -> Response {
    let Some(signed) = read(form).signed_request else {
        return refused();
    };
    let Ok(request) = SignedRequest::parse(&signed) else {
        return refused();
    };
    let (link, user) = match verify(&state, &request).await {
        Ok(Some(found)) => found,
        Ok(None) => return refused(),
        Err(error) => return unavailable(&error),
    };
    let token = random_token();
    let session = CanvasSession {
        org_link: link.id,
        user,
        record: request.record(),
        csrf: random_token(),
    };
    if let Err(error) = state
        .store
        .open_canvas_session(&digest(&token), &session, SESSION_MS)
        .await
    {
        return unavailable(&error);
    }
    let visit = Visit { token, session };
    let response = match start(&state, &visit, &link, None).await {
        Ok(page) | Err(page) => page,
    };
    // The page is the answer to Salesforce's POST, so its forms carry the session even where
    // the cookie is refused (see `Visit`). Inside Salesforce's iframe the cookie is a
    // third-party one: it needs SameSite=None, which browsers accept only with Secure (HTTPS),
    // and Partitioned keeps it (keyed to the Salesforce page) where browsers block
    // unpartitioned third-party cookies. Served over plain HTTP (development) it is Lax.
    let cookie = Cookie::build((SESSION_COOKIE, visit.token))
        .path("/salesforce")
        .http_only(true)
        .max_age(time::Duration::milliseconds(SESSION_MS));
    let cookie = if state.crm.config().public_url.starts_with("https://") {
        cookie
            .same_site(SameSite::None)
            .secure(true)
            .partitioned(true)
    } else {
        cookie.same_site(SameSite::Lax)
    };
    (jar.add(cookie), response).into_response()
}

/// The org link whose consumer secret signed the request, and the user it vouches for.
/// `None` for anything that does not verify, alike.
async fn verify(
    state: &AppState,
    request: &SignedRequest<'_>,
) -> Result<Option<(OrgLink, SalesforceUser)>, store::Error> {
    let (Ok(org), Ok(user_id)) = (request.org_id(), request.user_id()) else {
        return Ok(None);
    };
    let link = match state.store.org_link_of_org(&org).await {
        Ok(id) => state.store.org_link(id, None).await?,
        Err(store::Error::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Ok(Some(secret)) = state.crm.consumer_secret(&link).await else {
        return Ok(None);
    };
    if request.verify(&secret).is_err() {
        tracing::warn!(org_link = %link.id, "canvas signed request did not verify");
        return Ok(None);
    }
    let context = &request.envelope.context.user;
    Ok(Some((
        link,
        SalesforceUser {
            user_id,
            username: context.user_name.clone(),
            email: context.email.clone(),
            name: context
                .full_name
                .clone()
                .unwrap_or_else(|| "there".to_string()),
        },
    )))
}

/// A session as a page holds it: its token, and what it was opened for.
///
/// The token travels in two ways: in the session cookie, and in a hidden field of every form
/// the pages show. A browser that keeps no third-party cookie inside Salesforce's iframe (Safari
/// by default) still carries the session from page to page. A token in the body is also proof
/// against cross-site requests, as the CSRF token is: a third-party page cannot know it.
struct Visit {
    token: String,
    session: CanvasSession,
}

impl Visit {
    /// The hidden fields that carry the session in a form, and the tenancy it is for.
    fn keys(&self, tenancy: Option<Uuid>) -> Hidden<'_> {
        Hidden {
            session: &self.token,
            csrf: &self.session.csrf,
            tenancy,
        }
    }
}

/// What `templates/canvas/keys.html` puts in every form.
struct Hidden<'a> {
    session: &'a str,
    csrf: &'a str,
    tenancy: Option<Uuid>,
}

impl std::ops::Deref for Visit {
    type Target = CanvasSession;

    fn deref(&self) -> &CanvasSession {
        &self.session
    }
}

/// The session a posted form or the cookie names, with its org link.
async fn session(
    state: &AppState,
    jar: &CookieJar,
    posted: Option<&str>,
) -> Result<(Visit, OrgLink), Response> {
    let token = posted
        .or_else(|| jar.get(SESSION_COOKIE).map(Cookie::value))
        .map(str::to_string)
        .ok_or_else(session_ended)?;
    let session = match state.store.canvas_session(&digest(&token)).await {
        Ok(session) => session,
        Err(store::Error::NotFound(_)) => return Err(session_ended()),
        Err(error) => return Err(unavailable(&error)),
    };
    let link = state
        .store
        .org_link(session.org_link, None)
        .await
        .map_err(|_| session_ended())?;
    Ok((Visit { token, session }, link))
}

/// The record the session is on, as a kind the form knows.
fn record_of(session: &CanvasSession) -> Result<(RecordKind, SalesforceId), Response> {
    match &session.record {
        Some((sobject, id)) if sobject == "Contact" => Ok((RecordKind::Contact, id.clone())),
        Some((sobject, id)) if sobject == "Account" => Ok((RecordKind::PersonAccount, id.clone())),
        _ => Err(message(
            StatusCode::BAD_REQUEST,
            "Open Invite from a client's record",
            "Liaison invites a client from a Contact or a Person Account. Open the record and click Invite there.",
        )),
    }
}

/// Tenancies where the Salesforce user is active staff; none is a page saying why.
async fn acting(
    state: &AppState,
    link: &OrgLink,
    user: &SalesforceUser,
) -> Result<Vec<ActingStaff>, Response> {
    let acting = state
        .store
        .acting_staff(link.id, link.staff_match, user)
        .await
        .map_err(|e| unavailable(&e))?;
    if acting.is_empty() {
        let who = match link.staff_match {
            store::StaffMatch::Email => user.email.clone().unwrap_or_default(),
            store::StaffMatch::Username => user.username.clone().unwrap_or_default(),
            store::StaffMatch::UserId => user.user_id.as_str().to_string(),
        };
        return Err(message(
            StatusCode::FORBIDDEN,
            "You cannot invite clients from this org yet",
            &format!(
                "Your Salesforce user ({who}) is not an active staff user of any tenancy linked to \
                 “{}”. Ask a Liaison administrator of your firm to add you as staff with this {}.",
                link.name,
                match link.staff_match {
                    store::StaffMatch::Email => "e-mail address",
                    store::StaffMatch::Username => "Salesforce username",
                    store::StaffMatch::UserId => "Salesforce user id",
                }
            ),
        ));
    }
    Ok(acting)
}

#[derive(Deserialize)]
struct Show {
    tenancy: Option<Uuid>,
}

async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<Show>,
) -> Response {
    match show_inner(&state, &jar, query.tenancy).await {
        Ok(response) | Err(response) => response,
    }
}

async fn show_inner(
    state: &AppState,
    jar: &CookieJar,
    tenancy: Option<Uuid>,
) -> Result<Response, Response> {
    let (session, link) = session(state, jar, None).await?;
    start(state, &session, &link, tenancy).await
}

/// The first page of a visit: the tenancy pick, the record's client, or the form pre-filled.
async fn start(
    state: &AppState,
    session: &Visit,
    link: &OrgLink,
    tenancy: Option<Uuid>,
) -> Result<Response, Response> {
    let (kind, record) = record_of(session)?;
    let acting = acting(state, link, &session.user).await?;
    let chosen = match (tenancy, acting.as_slice()) {
        (Some(id), _) => acting
            .iter()
            .find(|a| a.tenancy == id)
            .cloned()
            .ok_or_else(|| {
                message(
                    StatusCode::NOT_FOUND,
                    "Tenancy not available",
                    "You are not an active staff user of that tenancy.",
                )
            })?,
        (None, [only]) => only.clone(),
        (None, _) => return pick_tenancy(state, session, link, &record, &acting).await,
    };
    if let Some(client) = existing(state, &chosen, link, &record).await? {
        return Ok(client_state(
            session,
            &chosen,
            &client,
            None,
            StatusCode::OK,
        ));
    }
    let prefill = read_record(state, link, kind, &record).await?;
    let form = Form::from_prefill(&prefill);
    render_form(
        state,
        session,
        link,
        &chosen,
        &acting,
        &form,
        &prefill,
        &[],
        StatusCode::OK,
    )
    .await
}

async fn existing(
    state: &AppState,
    acting: &ActingStaff,
    link: &OrgLink,
    record: &SalesforceId,
) -> Result<Option<Client>, Response> {
    let Some(id) = state
        .store
        .client_of_record(acting.tenancy, link.id, record)
        .await
        .map_err(|e| unavailable(&e))?
    else {
        return Ok(None);
    };
    state
        .store
        .client(acting.tenancy, id, None)
        .await
        .map(Some)
        .map_err(|e| unavailable(&e))
}

/// Reads the record; when Salesforce or the link cannot, a page that says what to do.
async fn read_record(
    state: &AppState,
    link: &OrgLink,
    kind: RecordKind,
    record: &SalesforceId,
) -> Result<Prefill, Response> {
    state
        .crm
        .read_prefill(link, kind, record.as_str())
        .await
        .map_err(|error| salesforce_trouble(link, &error))
}

fn salesforce_trouble(link: &OrgLink, error: &LinkError) -> Response {
    let (status, title, text) = match error {
        LinkError::Crm(CrmError::NotFound) => (
            StatusCode::NOT_FOUND,
            "The Salesforce record was not found",
            "It may have been deleted or merged. Nothing was created.".to_string(),
        ),
        LinkError::Crm(CrmError::Deleted) => (
            StatusCode::NOT_FOUND,
            "This Salesforce record was deleted",
            "It was deleted or merged into another record in Salesforce. Open the record that \
             remains to invite this person. Nothing was created."
                .to_string(),
        ),
        LinkError::Crm(CrmError::Unauthorized { .. }) => (
            StatusCode::CONFLICT,
            "Liaison is disconnected from Salesforce",
            format!(
                "The org link “{}” is no longer authorised. A CRM administrator must reconnect it in \
                 Liaison (Org links → Connect). Nothing was created.",
                link.name
            ),
        ),
        LinkError::Crm(CrmError::Permanent { code, .. }) if code == "NOT_A_PERSON_ACCOUNT" => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "This Account is not a person",
            "Liaison invites people: open a Contact or a Person Account.".to_string(),
        ),
        LinkError::Crm(CrmError::Permanent { code, message, .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "The record could not be read",
            format!(
                "Salesforce refused to read the mapped fields ({code}: {message}). A CRM administrator \
                 should check the org link's field mapping and the integration user's field access. \
                 Nothing was created."
            ),
        ),
        LinkError::Paused => (
            StatusCode::CONFLICT,
            "The org link is paused",
            format!(
                "A CRM administrator paused the org link “{}”, so Liaison does not call Salesforce. \
                 Nothing was created; ask them to resume it.",
                link.name
            ),
        ),
        LinkError::Capped(_) => (
            StatusCode::CONFLICT,
            "Salesforce's API limit is reached",
            format!(
                "The org link “{}” has used its share of the org's daily API requests, or the org has \
                 none left, so Liaison does not call Salesforce until there is room. Nothing was created; \
                 try again later.",
                link.name
            ),
        ),
        LinkError::Crm(CrmError::Transient { .. } | CrmError::LimitExceeded) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Salesforce is not answering",
            "Salesforce did not answer in time or is over its API limit. Nothing was created; try again in a few minutes."
                .to_string(),
        ),
        other => {
            tracing::error!(error = %other, org_link = %link.id, "reading the record failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The record could not be read",
                "Nothing was created; try again in a few minutes.".to_string(),
            )
        }
    };
    message(status, title, &text)
}

#[derive(Template)]
#[template(path = "canvas/pick.html")]
struct PickPage<'a> {
    title: &'a str,
    user_name: &'a str,
    keys: Hidden<'a>,
    options: Vec<TenancyOption<'a>>,
}

struct TenancyOption<'a> {
    id: Uuid,
    name: &'a str,
    /// The record's client in that tenancy, by its status.
    client_status: Option<String>,
}

async fn pick_tenancy(
    state: &AppState,
    session: &Visit,
    link: &OrgLink,
    record: &SalesforceId,
    acting: &[ActingStaff],
) -> Result<Response, Response> {
    let mut options = Vec::with_capacity(acting.len());
    for a in acting {
        options.push(TenancyOption {
            id: a.tenancy,
            name: &a.tenancy_name,
            client_status: existing(state, a, link, record)
                .await?
                .map(|client| client.status_label),
        });
    }
    Ok(framed(
        StatusCode::OK,
        &PickPage {
            title: "Invite a client",
            user_name: &session.user.name,
            keys: session.keys(None),
            options,
        },
    ))
}

/// What an administrator may do to a record's client from the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StatusAction {
    Send,
    Resend,
    Revoke,
}

impl StatusAction {
    const ALL: [StatusAction; 3] = [Self::Send, Self::Resend, Self::Revoke];

    fn value(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Resend => "resend",
            Self::Revoke => "revoke",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Send => "Send the invitation",
            Self::Resend => "Resend the invitation",
            Self::Revoke => "Revoke",
        }
    }

    fn primary(self) -> bool {
        self != Self::Revoke
    }

    fn transition(self) -> Transition {
        match self {
            Self::Send => ClientStatus::send,
            Self::Resend => ClientStatus::resend,
            Self::Revoke => ClientStatus::revoke,
        }
    }

    fn done(self) -> &'static str {
        match self {
            Self::Send => "Invitation sent.",
            Self::Resend => "A new invitation was sent; older links no longer work.",
            Self::Revoke => "Invitation revoked.",
        }
    }
}

#[derive(Template)]
#[template(path = "canvas/client.html")]
struct ClientPage<'a> {
    title: String,
    done: Option<&'a str>,
    tenancy_name: &'a str,
    status_label: &'a str,
    email: &'a str,
    client_title: &'a str,
    keys: Hidden<'a>,
    actions: Vec<StatusAction>,
}

/// The record's client and the actions that fit its status and the user's role.
fn client_state(
    session: &Visit,
    acting: &ActingStaff,
    client: &Client,
    done: Option<&str>,
    status: StatusCode,
) -> Response {
    let actions = if acting.role.administers_users() {
        StatusAction::ALL
            .into_iter()
            .filter(|action| action.transition()(client.status).is_ok())
            .collect()
    } else {
        Vec::new()
    };
    framed(
        status,
        &ClientPage {
            title: format!("{} {}", client.first_name, client.last_name),
            done,
            tenancy_name: &acting.tenancy_name,
            status_label: &client.status_label,
            email: &client.email,
            client_title: &client.title,
            keys: session.keys(Some(acting.tenancy)),
            actions,
        },
    )
}

/// What Salesforce posts to open the app.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CanvasPost {
    signed_request: Option<String>,
}

/// The invite form as posted: the keys every form carries (see `Visit`), the button pressed,
/// and what was typed and ticked. A value that does not parse (an id, a choice) reads as
/// absent, as it would if the browser had not sent it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InvitePost {
    #[serde(flatten)]
    keys: Keys,
    #[serde(deserialize_with = "lenient")]
    action: Option<FormAction>,
    #[serde(flatten)]
    form: Form,
}

/// What every form on the pages carries (see `Visit`): the session (else the cookie's), its
/// CSRF token, and the tenancy the form is for.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Keys {
    session: Option<String>,
    csrf: String,
    #[serde(deserialize_with = "lenient")]
    tenancy: Option<Uuid>,
}

/// A status action's form: the keys, and the button pressed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StatusPost {
    #[serde(flatten)]
    keys: Keys,
    #[serde(deserialize_with = "lenient")]
    action: Option<StatusAction>,
}

/// The invite form's buttons.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FormAction {
    /// Create the client and send the invitation.
    Send,
    /// Create the client without an invitation.
    Draft,
    /// Open the chosen tenancy's form (from the tenancy pick).
    Open,
    /// Go back to the tenancy pick.
    Choose,
    /// Show the form again with its lists searched (also Enter in a field).
    #[default]
    Search,
}

/// How a contact group is chosen for the client.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum GroupMode {
    /// A new group for this relationship.
    New,
    /// One or more existing groups.
    #[default]
    Existing,
}

/// A posted form. One that does not read as a form at all (another content type, a malformed
/// body) reads as empty, so the page says what is missing as for any form without its fields.
fn read<T: Default>(form: Result<Posted<T>, FormRejection>) -> T {
    form.map(|Posted(form)| form).unwrap_or_default()
}

/// A value that does not parse as `T` reads as absent.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let raw = Option::<String>::deserialize(deserializer)?;
    Ok(raw.and_then(|value| parse(&value)))
}

/// A value that does not parse as `T` (or none) reads as `T`'s default.
fn lenient_or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    Ok(lenient(deserializer)?.unwrap_or_default())
}

/// A checkbox: ticked when it sends `yes`.
fn ticked<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.is_some_and(|value| value == "yes"))
}

/// Each value that parses as `T`; the others are left out.
fn lenient_all<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    /// A key sent once reads as one value where the form is read through `flatten`.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Values {
        One(String),
        Many(Vec<String>),
    }
    let raw = match Values::deserialize(deserializer)? {
        Values::One(value) => vec![value],
        Values::Many(values) => values,
    };
    Ok(raw.iter().filter_map(|value| parse(value)).collect())
}

fn parse<T: serde::de::DeserializeOwned>(value: &str) -> Option<T> {
    use serde::de::IntoDeserializer;
    let value: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        value.into_deserializer();
    T::deserialize(value).ok()
}

/// What the form holds, from the record or as the user typed it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
struct Form {
    first_name: String,
    last_name: String,
    email: String,
    mobile: String,
    title: String,
    message: String,
    #[serde(deserialize_with = "lenient_all")]
    groups: Vec<Uuid>,
    #[serde(deserialize_with = "lenient_or_default")]
    group_mode: GroupMode,
    /// Only when a new group is made (see `Form::posted`).
    new_group_name: Option<String>,
    #[serde(deserialize_with = "lenient_all")]
    new_group_members: Vec<Uuid>,
    #[serde(deserialize_with = "ticked")]
    confidentiality_override: bool,
    /// What the lists of groups or teams, and of new group members, are searched for.
    q_groups: String,
    q_members: String,
}

impl Form {
    fn from_prefill(prefill: &Prefill) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            first_name: text(&prefill.first_name),
            last_name: text(&prefill.last_name),
            email: text(&prefill.email),
            mobile: text(&prefill.mobile),
            title: prefill.title.clone().unwrap_or_else(|| "Client".into()),
            group_mode: GroupMode::New,
            ..Self::default()
        }
    }

    /// The form as posted: a new group's name counts only when a new group is made.
    fn posted(mut self) -> Self {
        self.new_group_name = match self.group_mode {
            GroupMode::New => Some(self.new_group_name.unwrap_or_default()),
            GroupMode::Existing => None,
        };
        self
    }

    /// Refuses control characters in what was typed, before any of it reaches a search or
    /// the database. A refused field is emptied, so the form shown again does not echo it.
    fn control_errors(&mut self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut check = |name: &str, value: &mut String, multiline: bool| {
            let checked = if multiline {
                text::check_multiline(value)
            } else {
                text::check_line(value)
            };
            if let Err(reason) = checked {
                value.clear();
                errors.push((name.to_string(), reason));
            }
        };
        check("first_name", &mut self.first_name, false);
        check("last_name", &mut self.last_name, false);
        check("email", &mut self.email, false);
        check("mobile", &mut self.mobile, false);
        check("title", &mut self.title, false);
        check("message", &mut self.message, true);
        if let Some(name) = self.new_group_name.as_mut() {
            check("new_contact_group.name", name, false);
        }
        check("q_groups", &mut self.q_groups, false);
        check("q_members", &mut self.q_members, false);
        errors
    }

    /// Read-only fields take the record's value, whatever the browser sent.
    fn keep_read_only(&mut self, prefill: &Prefill) {
        use crate::crm::mapping::InviteField;
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        for field in &prefill.read_only {
            match field {
                InviteField::FirstName => self.first_name = text(&prefill.first_name),
                InviteField::LastName => self.last_name = text(&prefill.last_name),
                InviteField::Email => self.email = text(&prefill.email),
                InviteField::Mobile => self.mobile = text(&prefill.mobile),
                InviteField::Title => self.title = text(&prefill.title),
            }
        }
    }
}

#[derive(Template)]
#[template(path = "canvas/form.html")]
struct FormPage<'a> {
    title: String,
    /// Every error, linked to the field it concerns.
    errors: Vec<ErrorLink<'a>>,
    keys: Hidden<'a>,
    fields: Vec<Field<'a>>,
    message: &'a str,
    message_error: String,
    groups: Groups,
    /// Offer to choose another tenancy.
    switch: bool,
}

struct ErrorLink<'a> {
    anchor: &'a str,
    reason: &'a str,
}

/// One input of the form.
struct Field<'a> {
    name: &'static str,
    label: &'static str,
    value: &'a str,
    kind: &'static str,
    read_only: bool,
    required: bool,
    hint: Option<Hint>,
    error: String,
}

enum Hint {
    Text(&'static str),
    /// The record's number, and the same in E.164 to use instead.
    Mobile {
        raw: String,
        e164: String,
    },
}

/// The groups or teams part of the form, by the tenancy's group model.
enum Groups {
    Teams {
        teams: Choices,
        search_error: String,
        teams_error: String,
    },
    Contact(Box<ContactGroups>),
}

struct ContactGroups {
    /// A new group is made (else existing ones are chosen).
    new_mode: bool,
    name: String,
    name_error: String,
    members: Choices,
    members_search_error: String,
    members_error: String,
    existing: Choices,
    groups_search_error: String,
    groups_error: String,
    confidentiality_override: bool,
    confidentiality_error: String,
}

/// The errors about one field (or its items, `field[0]`, `field.name`), joined.
fn error_for(errors: &[(String, String)], field: &str) -> String {
    errors
        .iter()
        .filter(|(f, _)| {
            f == field || f.starts_with(&format!("{field}[")) || f.starts_with(&format!("{field}."))
        })
        .map(|(_, reason)| reason.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

#[allow(clippy::too_many_arguments)]
async fn render_form(
    state: &AppState,
    session: &Visit,
    link: &OrgLink,
    acting: &ActingStaff,
    all: &[ActingStaff],
    form: &Form,
    prefill: &Prefill,
    errors: &[(String, String)],
    status: StatusCode,
) -> Result<Response, Response> {
    use crate::crm::mapping::InviteField;
    let tenancy = state
        .store
        .tenancy(acting.tenancy)
        .await
        .map_err(|e| unavailable(&e))?;
    let read_only = |f: InviteField| prefill.read_only.contains(&f);
    let field = |name: &'static str, label: &'static str, value, kind, field, required| Field {
        name,
        label,
        value,
        kind,
        read_only: read_only(field),
        required,
        hint: None,
        error: error_for(errors, name),
    };
    let mut fields = vec![
        field(
            "first_name",
            "First name",
            &form.first_name,
            "text",
            InviteField::FirstName,
            true,
        ),
        field(
            "last_name",
            "Last name",
            &form.last_name,
            "text",
            InviteField::LastName,
            true,
        ),
        field(
            "email",
            "E-mail",
            &form.email,
            "email",
            InviteField::Email,
            true,
        ),
    ];
    if tenancy.mobile_policy != MobilePolicy::Hidden {
        let mandatory = tenancy.mobile_policy == MobilePolicy::Mandatory;
        let label = if mandatory {
            "Mobile"
        } else {
            "Mobile (optional)"
        };
        let mut mobile = field(
            "mobile",
            label,
            &form.mobile,
            "tel",
            InviteField::Mobile,
            mandatory,
        );
        let suggestion =
            (!mobile.read_only && !form.mobile.is_empty() && !form.mobile.starts_with('+'))
                .then(|| {
                    crate::crm::mapping::suggest_e164(
                        &form.mobile,
                        link.field_mapping
                            .phone_region()
                            .or(Some(tenancy.phone_region)),
                    )
                })
                .flatten();
        mobile.hint = Some(match suggestion {
            Some(e164) => Hint::Mobile {
                raw: form.mobile.clone(),
                e164,
            },
            None => Hint::Text("In international form with +, e.g. +447768887464."),
        });
        fields.push(mobile);
    }
    let mut title = field(
        "title",
        "Title",
        &form.title,
        "text",
        InviteField::Title,
        false,
    );
    title.hint = Some(Hint::Text("Shown under the client’s name."));
    fields.push(title);
    let groups = groups_section(state, acting, &tenancy, form, errors).await?;
    Ok(framed(
        status,
        &FormPage {
            title: format!("Invite to {}", tenancy.name),
            errors: errors
                .iter()
                .map(|(f, r)| ErrorLink {
                    anchor: anchor(f),
                    reason: r,
                })
                .collect(),
            keys: session.keys(Some(acting.tenancy)),
            fields,
            message: &form.message,
            message_error: error_for(errors, "message"),
            groups,
            switch: all.len() > 1,
        },
    ))
}

/// The element an error's link jumps to.
fn anchor(field: &str) -> &str {
    let base = field.split(['[', '.']).next().unwrap_or(field);
    match base {
        "contact_groups" | "client_teams" => "groups",
        "new_contact_group" => "new_group_name",
        other => other,
    }
}

/// One list of choices in the form: what the search found (at most a page), plus the ones
/// already ticked, so a search never drops a choice.
struct Choices {
    /// Form field name, and the list's name in element ids.
    name: &'static str,
    list: &'static str,
    /// The search field's label.
    search: &'static str,
    query: String,
    options: Vec<Choice>,
    /// More matched than are shown.
    more: bool,
    /// How many are shown at most.
    max: u32,
    /// Nothing matched (the ticked ones are shown all the same).
    none: bool,
}

struct Choice {
    id: Uuid,
    label: String,
    checked: bool,
}

impl Choices {
    /// The list shows what a search found, not everything.
    fn searched(&self) -> bool {
        !self.query.trim().is_empty()
    }
}

/// Builds a list from a search's page and the ticked ids, fetching any ticked one the page
/// does not hold (a choice that no longer exists is dropped; creating reports it).
async fn choices<F, Fut>(
    list: (&'static str, &'static str, &'static str),
    query: &str,
    found: store::Page<(Uuid, String)>,
    ticked: &[Uuid],
    fetch: F,
) -> Choices
where
    F: Fn(Uuid) -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let none = found.items.is_empty();
    let mut options = Vec::with_capacity(found.items.len());
    for &id in ticked {
        if !found.items.iter().any(|(f, _)| *f == id)
            && let Some(label) = fetch(id).await
        {
            options.push(Choice {
                id,
                label,
                checked: true,
            });
        }
    }
    options.extend(found.items.into_iter().map(|(id, label)| Choice {
        id,
        label,
        checked: ticked.contains(&id),
    }));
    Choices {
        name: list.0,
        list: list.1,
        search: list.2,
        query: query.to_string(),
        options,
        more: found.next_cursor.is_some(),
        max: PageRequest::MAX_LIMIT,
        none,
    }
}

/// The groups or teams to choose from: those the form's search finds (only the user's own
/// contact groups for plain staff), with the ticked ones kept.
async fn group_choices(
    state: &AppState,
    tenancy: Uuid,
    kind: crate::domain::tenancy::GroupKind,
    member: Option<Uuid>,
    form: &Form,
    search: &'static str,
) -> Result<Choices, Response> {
    let first = PageRequest {
        limit: PageRequest::MAX_LIMIT,
        after: None,
    };
    let found = state
        .store
        .list_groups(tenancy, kind, Some(&form.q_groups), member, &first)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(choices(
        ("groups", "groups", search),
        &form.q_groups,
        store::Page {
            items: found.items.iter().map(|g| (g.id, g.name.clone())).collect(),
            next_cursor: found.next_cursor,
        },
        &form.groups,
        |id| async move {
            let group = state.store.group(tenancy, kind, id, member).await.ok()?;
            Some(group.name)
        },
    )
    .await)
}

async fn groups_section(
    state: &AppState,
    acting: &ActingStaff,
    tenancy: &store::Tenancy,
    form: &Form,
    errors: &[(String, String)],
) -> Result<Groups, Response> {
    let first = PageRequest {
        limit: PageRequest::MAX_LIMIT,
        after: None,
    };
    match tenancy.group_model {
        GroupModel::ClientTeams => {
            let teams = group_choices(
                state,
                tenancy.id,
                crate::domain::tenancy::GroupKind::ClientTeam,
                None,
                form,
                "Search teams",
            )
            .await?;
            Ok(Groups::Teams {
                teams,
                search_error: error_for(errors, "q_groups"),
                teams_error: error_for(errors, "client_teams"),
            })
        }
        GroupModel::ContactGroups => {
            let member = (!acting.role.administers_users()).then_some(acting.staff);
            let staff = state
                .store
                .list_staff(tenancy.id, Some(&form.q_members), &first)
                .await
                .map_err(|e| unavailable(&e))?;
            let teams = state
                .store
                .list_team_accounts(tenancy.id, Some(&form.q_members), &first)
                .await
                .map_err(|e| unavailable(&e))?;
            let name = form.new_group_name.clone().unwrap_or_else(|| {
                crate::domain::tenancy::group_name_for(
                    &tenancy.group_name_convention,
                    &form.first_name,
                    &form.last_name,
                )
            });
            // The new group's members: the user is ticked until the form says otherwise.
            let ticked = if form.new_group_members.is_empty() && form.new_group_name.is_none() {
                vec![acting.staff]
            } else {
                form.new_group_members.clone()
            };
            let mut found: Vec<(Uuid, String)> = staff
                .items
                .iter()
                .filter(|s| s.active)
                .map(|s| (s.id, format!("{} {} (staff)", s.first_name, s.last_name)))
                .collect();
            found.extend(
                teams
                    .items
                    .iter()
                    .filter(|t| t.active)
                    .map(|t| (t.id, format!("{} (team account)", t.name))),
            );
            let members = choices(
                (
                    "new_group_members",
                    "members",
                    "Search staff and team accounts",
                ),
                &form.q_members,
                store::Page {
                    items: found,
                    next_cursor: staff.next_cursor.or(teams.next_cursor),
                },
                &ticked,
                |id| async move {
                    if let Ok(s) = state.store.staff(tenancy.id, id).await {
                        return s
                            .active
                            .then(|| format!("{} {} (staff)", s.first_name, s.last_name));
                    }
                    let t = state.store.team_account(tenancy.id, id).await.ok()?;
                    Some(format!("{} (team account)", t.name))
                },
            )
            .await;
            let existing = group_choices(
                state,
                tenancy.id,
                crate::domain::tenancy::GroupKind::ContactGroup,
                member,
                form,
                "Search groups",
            )
            .await?;
            Ok(Groups::Contact(Box::new(ContactGroups {
                new_mode: form.group_mode == GroupMode::New,
                name,
                name_error: error_for(errors, "new_contact_group.name"),
                members,
                members_search_error: error_for(errors, "q_members"),
                members_error: error_for(errors, "new_contact_group"),
                existing,
                groups_search_error: error_for(errors, "q_groups"),
                groups_error: error_for(errors, "contact_groups"),
                confidentiality_override: form.confidentiality_override,
                confidentiality_error: error_for(errors, "confidentiality_override"),
            })))
        }
    }
}

fn csrf_ok(session: &CanvasSession, sent: &str) -> bool {
    bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes()))
}

fn stale_form() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "Nothing was created. Open Invite again from the Salesforce record.",
    )
}

/// A form posted from a session: checked against the session's CSRF token, for a tenancy
/// where the user is active staff.
struct Checked {
    session: Visit,
    link: OrgLink,
    kind: RecordKind,
    record: SalesforceId,
    all: Vec<ActingStaff>,
    chosen: ActingStaff,
}

async fn checked(state: &AppState, jar: &CookieJar, keys: &Keys) -> Result<Checked, Response> {
    let (session, link) = session(state, jar, keys.session.as_deref()).await?;
    if !csrf_ok(&session, &keys.csrf) {
        return Err(stale_form());
    }
    let (kind, record) = record_of(&session)?;
    let all = acting(state, &link, &session.user).await?;
    let Some(chosen) = all
        .iter()
        .find(|a| Some(a.tenancy) == keys.tenancy)
        .cloned()
    else {
        return Err(message(
            StatusCode::NOT_FOUND,
            "Tenancy not available",
            "You are not an active staff user of that tenancy. Nothing was changed.",
        ));
    };
    Ok(Checked {
        session,
        link,
        kind,
        record,
        all,
        chosen,
    })
}

async fn create(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<Posted<InvitePost>, FormRejection>,
) -> Response {
    match create_inner(&state, &jar, read(form)).await {
        Ok(response) | Err(response) => response,
    }
}

async fn create_inner(
    state: &AppState,
    jar: &CookieJar,
    post: InvitePost,
) -> Result<Response, Response> {
    let Checked {
        session,
        link,
        kind,
        record,
        all,
        chosen,
    } = checked(state, jar, &post.keys).await?;
    let action = post.action.unwrap_or_default();
    let mut form = post.form.posted();
    let refused = form.control_errors();
    // A send or a draft reads the record again, so one deleted or merged while the form was
    // open creates nothing; read-only fields come from the record as it is now, never from
    // the browser.
    let submits = matches!(action, FormAction::Send | FormAction::Draft);
    let prefill = if submits || !link.field_mapping.read_only.is_empty() {
        let prefill = read_record(state, &link, kind, &record).await?;
        form.keep_read_only(&prefill);
        prefill
    } else {
        Prefill::default()
    };
    if !refused.is_empty() && !matches!(action, FormAction::Open | FormAction::Choose) {
        return render_form(
            state,
            &session,
            &link,
            &chosen,
            &all,
            &form,
            &prefill,
            &refused,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let send = match action {
        FormAction::Send => true,
        FormAction::Draft => false,
        FormAction::Open => return start(state, &session, &link, Some(chosen.tenancy)).await,
        FormAction::Choose => return pick_tenancy(state, &session, &link, &record, &all).await,
        // A search (or Enter in a field, whose default button is a search) shows the form
        // again with the lists searched and everything entered kept; it creates nothing.
        FormAction::Search => {
            return render_form(
                state,
                &session,
                &link,
                &chosen,
                &all,
                &form,
                &prefill,
                &[],
                StatusCode::OK,
            )
            .await;
        }
    };
    let outcome = invite(
        state,
        &link,
        &chosen,
        &session.user,
        kind,
        &record,
        &form,
        send,
    )
    .await;
    match outcome {
        Ok((client, created)) => {
            let done = match (created, client.status) {
                (false, _) => {
                    "This record’s client already exists; nothing new was created.".to_string()
                }
                (true, ClientStatus::Invited) => format!(
                    "Invitation sent: {} will receive an e-mail with a link shortly.",
                    client.email
                ),
                (true, _) => {
                    "Saved as a draft: no e-mail was sent. Send the invitation when you are ready."
                        .into()
                }
            };
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(client_state(
                &session,
                &chosen,
                &client,
                Some(&done),
                status,
            ))
        }
        Err(InviteFailure::Fields(errors)) => {
            render_form(
                state,
                &session,
                &link,
                &chosen,
                &all,
                &form,
                &prefill,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(InviteFailure::Page(response)) => Err(response),
    }
}

enum InviteFailure {
    /// Shown next to the fields they concern.
    Fields(Vec<(String, String)>),
    Page(Response),
}

/// Parses and creates, as the acting staff user, idempotently per record.
#[allow(clippy::too_many_arguments)]
async fn invite(
    state: &AppState,
    link: &OrgLink,
    acting: &ActingStaff,
    user: &SalesforceUser,
    kind: RecordKind,
    record: &SalesforceId,
    form: &Form,
    send: bool,
) -> Result<(Client, bool), InviteFailure> {
    let model = acting.group_model;
    let optional = |v: &str| (!v.trim().is_empty()).then(|| v.to_string());
    let new_group = form.group_mode == GroupMode::New;
    let input = InviteInput {
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
        email: form.email.clone(),
        mobile: optional(&form.mobile),
        title: optional(&form.title),
        message: optional(&form.message),
        contact_groups: match model {
            GroupModel::ContactGroups if !new_group => form.groups.clone(),
            _ => vec![],
        },
        new_contact_group: match (model, &form.new_group_name) {
            (GroupModel::ContactGroups, Some(name)) if new_group => Some(NewGroupInput {
                name: name.clone(),
                members: form.new_group_members.clone(),
            }),
            _ => None,
        },
        client_teams: match model {
            GroupModel::ClientTeams => form.groups.clone(),
            GroupModel::ContactGroups => vec![],
        },
        confidentiality_override: form.confidentiality_override,
    };
    let from = FromRecord {
        org_link: link.id,
        kind,
        record: record.clone(),
    };
    let actor = invite::actor(acting, &user.user_id);
    match invite::invite_from_record(&state.store, acting, &actor, &from, input, send).await {
        Ok(invited) => {
            if send && invited.created {
                state.wake_workers.notify_one();
            }
            Ok((invited.client, invited.created))
        }
        Err(InviteError::Fields(errors))
        | Err(InviteError::Store(store::Error::Invalid(errors))) => Err(InviteFailure::Fields(
            errors.into_iter().map(|e| (e.field, e.reason)).collect(),
        )),
        Err(InviteError::Store(store::Error::Conflict {
            field,
            reason,
            code,
        })) => Err(InviteFailure::Fields(vec![(
            field.unwrap_or_else(|| match code {
                "confidentiality" => "confidentiality_override".into(),
                _ => "email".into(),
            }),
            reason,
        )])),
        Err(InviteError::Store(store::Error::Forbidden(reason))) => Err(InviteFailure::Page(
            message(StatusCode::FORBIDDEN, "Not allowed", &reason),
        )),
        Err(InviteError::Store(error)) => Err(InviteFailure::Page(unavailable(&error))),
    }
}

async fn action(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<Posted<StatusPost>, FormRejection>,
) -> Response {
    match action_inner(&state, &jar, read(form)).await {
        Ok(response) | Err(response) => response,
    }
}

async fn action_inner(
    state: &AppState,
    jar: &CookieJar,
    post: StatusPost,
) -> Result<Response, Response> {
    let Checked {
        session,
        link,
        record,
        chosen,
        ..
    } = checked(state, jar, &post.keys).await?;
    let Some(client) = existing(state, &chosen, &link, &record).await? else {
        return Err(message(
            StatusCode::NOT_FOUND,
            "No client for this record",
            "Nothing was changed.",
        ));
    };
    if !chosen.role.administers_users() {
        return Err(message(
            StatusCode::FORBIDDEN,
            "Only administrators can do this",
            "Ask a users administrator of your firm. Nothing was changed.",
        ));
    }
    let Some(requested) = post.action else {
        return Err(message(
            StatusCode::BAD_REQUEST,
            "Unknown action",
            "Nothing was changed.",
        ));
    };
    let (transition, done) = (requested.transition(), requested.done());
    let actor = format!(
        "staff:{} via Salesforce user {}",
        chosen.staff,
        session.user.user_id.as_str()
    );
    match state
        .store
        .transition_client(chosen.tenancy, client.id, transition, &actor)
        .await
    {
        Ok(after) => {
            state.wake_workers.notify_one();
            Ok(client_state(
                &session,
                &chosen,
                &after,
                Some(done),
                StatusCode::OK,
            ))
        }
        Err(store::Error::Conflict { reason, .. }) => Ok(client_state(
            &session,
            &chosen,
            &client,
            Some(&format!("Nothing was changed: {reason}")),
            StatusCode::CONFLICT,
        )),
        Err(error) => Err(unavailable(&error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::FromRequest;

    async fn posted<T>(body: &str) -> T
    where
        T: Default + serde::de::DeserializeOwned,
    {
        let request = axum::http::Request::post("/salesforce/invite")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body.to_string()))
            .expect("request");
        read(Posted::<T>::from_request(request, &()).await)
    }

    #[tokio::test]
    async fn ticked_boxes_are_all_read_and_what_does_not_parse_reads_as_absent() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let post: InvitePost = posted(&format!(
            "csrf=c&tenancy=nope&groups={a}&groups=garbage&groups={b}&group_mode=sideways\
             &action=explode&first_name=Ja%20ne&confidentiality_override=yes"
        ))
        .await;
        assert_eq!(post.form.groups, vec![a, b]);
        assert_eq!(post.keys.tenancy, None);
        assert_eq!(post.action, None);
        let form = post.form.posted();
        assert_eq!(form.first_name, "Ja ne");
        assert_eq!(form.group_mode, GroupMode::Existing);
        assert!(form.confidentiality_override);

        let post: InvitePost = posted(&format!("groups={a}&new_group_members={b}")).await;
        assert_eq!(
            (post.form.groups, post.form.new_group_members),
            (vec![a], vec![b])
        );
        let post: InvitePost = posted("action=draft&group_mode=new&new_group_name=Smith").await;
        assert_eq!(post.action, Some(FormAction::Draft));
        assert_eq!(post.form.posted().new_group_name.as_deref(), Some("Smith"));
        let post: InvitePost = posted("group_mode=new&new_group_name=").await;
        assert_eq!(post.form.posted().new_group_name.as_deref(), Some(""));
        let post: InvitePost = posted("new_group_name=Smith").await;
        assert_eq!(post.form.posted().new_group_name, None);
    }

    #[tokio::test]
    async fn a_status_action_is_one_of_the_three_and_a_body_that_is_no_form_reads_as_empty() {
        let post: StatusPost = posted("action=resend&csrf=c").await;
        assert_eq!(post.action, Some(StatusAction::Resend));
        assert_eq!(post.keys.csrf, "c");
        let post: StatusPost = posted("action=delete").await;
        assert_eq!(post.action, None);

        let request = axum::http::Request::post("/salesforce/invite/action")
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from("{\"action\":\"send\"}"))
            .expect("request");
        let post: StatusPost = read(Posted::from_request(request, &()).await);
        assert_eq!((post.action, post.keys.csrf.as_str()), (None, ""));
    }
}
