//! The invite form inside Salesforce. Salesforce POSTs a canvas signed request; once verified
//! it opens a short session (bound to the Salesforce user, org link and record, carried by a
//! cookie and by the pages' forms) and the form is served from it: the record's client if one
//! exists, else the tenancy pick, the form pre-filled from the record, the groups or teams, and
//! send or draft.
//!
//! `session` checks who is asking, `form` reads what was posted into typed input, `view` builds
//! the pages' view models and renders them from `templates/canvas/`; the handlers here extract,
//! call, and map.

// Functions here answer with a page either way; the error side is that page.
#![allow(clippy::result_large_err)]

mod form;
mod session;
mod view;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use axum_extra::extract::{Form as Posted, FormRejection};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use crate::app::clients::StatusMove;
use crate::app::invite_context::{self, Asking, Search, TenancyPick};
use crate::app::{self, invites, invites::FromRecord};
use crate::crm::canvas::SignedRequest;
use crate::crm::record::{Prefill, RecordKind};
use crate::domain::org_link::OrgLink;
use crate::domain::values::SalesforceId;
use crate::secrets::{digest, random_token};
use crate::store::{self, ActingStaff, CanvasSession, Client};
use form::{CanvasPost, Form, FormAction, InvitePost, StatusAction, StatusPost, read};
use session::{Checked, SESSION_MS, Visit, checked, record_of, verify};
use view::{refused, render_form, salesforce_trouble, unavailable};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/salesforce/canvas", post(canvas))
        .route("/salesforce/invite", get(show).post(create))
        .route("/salesforce/invite/action", post(action))
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
    let https = state.crm.config().public_url.starts_with("https://");
    (jar.add(session::cookie(visit.token, https)), response).into_response()
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
    let (session, link) = session::resume(state, jar, None).await?;
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
    let asking = Asking {
        link,
        user: &session.user,
        kind,
        record: &record,
    };
    let pick = tenancy.map_or(TenancyPick::Only, TenancyPick::Asked);
    let context = invite_context::load(&state.store, &state.crm, &asking, pick, &Search::default())
        .await
        .map_err(|error| view::refusal(link, &session.user, error))?;
    view::first_page(state, session, link, context).await
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

/// The tenancy pick, each tenancy with the record's client there.
async fn pick_tenancy(
    state: &AppState,
    session: &Visit,
    link: &OrgLink,
    record: &SalesforceId,
    acting: &[ActingStaff],
) -> Result<Response, Response> {
    let tenancies = invite_context::tenancies(&state.store, link.id, record, acting)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(view::pick_tenancy(session, &tenancies))
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
    let posted = checked(state, jar, &post.keys).await?;
    let action = post.action.unwrap_or_default();
    let mut form = post.form.posted();
    let refused = form.control_errors();
    let prefill = prefill(state, &posted, action, &mut form).await?;
    let viewer = posted.viewer();
    let shown = |errors, status| render_form(state, &viewer, &form, &prefill, errors, status);
    if !refused.is_empty() && !matches!(action, FormAction::Open | FormAction::Choose) {
        return shown(&refused, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let (session, link) = (&posted.session, &posted.link);
    let send = match action {
        FormAction::Send => true,
        FormAction::Draft => false,
        FormAction::Open => return start(state, session, link, Some(posted.chosen.tenancy)).await,
        FormAction::Choose => {
            return pick_tenancy(state, session, link, &posted.record, &posted.all).await;
        }
        // A search (or Enter in a field, whose default button is a search) shows the form
        // again with the lists searched and everything entered kept; it creates nothing.
        FormAction::Search => return shown(&[], StatusCode::OK).await,
    };
    match invite(state, &posted, &form, send).await {
        Ok((client, created)) => Ok(view::invited(&posted, &client, created)),
        Err(InviteFailure::Fields(errors)) => {
            shown(&errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(InviteFailure::Page(response)) => Err(response),
    }
}

/// The record as the form needs it. A send or a draft reads the record again, so one deleted
/// or merged while the form was open creates nothing; read-only fields come from the record as
/// it is now, never from the browser.
async fn prefill(
    state: &AppState,
    posted: &Checked,
    action: FormAction,
    form: &mut Form,
) -> Result<Prefill, Response> {
    let submits = matches!(action, FormAction::Send | FormAction::Draft);
    if !submits && posted.link.field_mapping.read_only.is_empty() {
        return Ok(Prefill::default());
    }
    let prefill = read_record(state, &posted.link, posted.kind, &posted.record).await?;
    form.keep_read_only(&prefill);
    Ok(prefill)
}

/// Why an invite made nothing, as the user is shown it.
enum InviteFailure {
    /// Shown next to the fields they concern.
    Fields(Vec<(String, String)>),
    Page(Response),
}

/// Parses and creates, as the acting staff user, idempotently per record.
impl From<app::Error> for InviteFailure {
    fn from(error: app::Error) -> Self {
        match error {
            app::Error::Invalid(errors) | app::Error::Store(store::Error::Invalid(errors)) => {
                Self::Fields(errors.into_iter().map(|e| (e.field, e.reason)).collect())
            }
            // The rules' conflicts name their field (the confidentiality override's among
            // them); one that names none is shown at the e-mail, which identifies the client.
            app::Error::Store(store::Error::Conflict { field, reason, .. }) => {
                Self::Fields(vec![(field.unwrap_or_else(|| "email".into()), reason)])
            }
            app::Error::Forbidden(reason) => {
                Self::Page(view::message(StatusCode::FORBIDDEN, "Not allowed", &reason))
            }
            app::Error::Store(error) => Self::Page(unavailable(&error)),
        }
    }
}

async fn invite(
    state: &AppState,
    posted: &Checked,
    form: &Form,
    send: bool,
) -> Result<(Client, bool), InviteFailure> {
    let (acting, user) = (&posted.chosen, &posted.session.user);
    let input = form.input(acting.group_model);
    let from = FromRecord {
        org_link: posted.link.id,
        kind: posted.kind,
        record: posted.record.clone(),
    };
    let actor = invites::actor(acting, &user.user_id);
    match invites::from_record(&state.store, acting, &actor, &from, input, send).await {
        Ok(invited) => {
            if send && invited.created {
                state.wake_workers.notify_one();
            }
            Ok((invited.client, invited.created))
        }
        Err(error) => Err(InviteFailure::from(error)),
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
    let actor = invites::actor(&chosen, &session.user.user_id);
    let moved = app::clients::move_record_client(
        &state.store,
        &chosen,
        link.id,
        &record,
        post.action.map(StatusAction::transition),
        &actor,
    )
    .await;
    if let (Ok(StatusMove::Moved(_)), Some(_)) = (&moved, post.action) {
        state.wake_workers.notify_one();
    }
    view::moved(&session, &chosen, moved, post.action)
}
