//! Who is asking: the canvas signed request's org link and user, the session it opens (a
//! cookie, and hidden fields in every form), its CSRF token, and the tenancies where the
//! Salesforce user is active staff.

// Functions here answer with a page either way; the error side is that page.
#![allow(clippy::result_large_err)]

use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::form::Keys;
use super::view::{Hidden, message, refusal, session_ended, stale_form, unavailable};
use crate::app::salesforce;
use crate::crm::canvas::SignedRequest;
use crate::crm::record::RecordKind;
use crate::domain::org_link::OrgLink;
use crate::domain::values::SalesforceId;
use crate::http::AppState;
use crate::secrets::digest;
use crate::store::{self, ActingStaff, CanvasSession, SalesforceUser};

pub(super) const SESSION_COOKIE: &str = "liaison_canvas";
/// How long a canvas session lasts; Salesforce signs a new request each time the app opens.
pub(super) const SESSION_MS: i64 = 30 * 60 * 1000;

/// The org link whose consumer secret signed the request, and the user it vouches for.
/// `None` for anything that does not verify, alike.
pub(super) async fn verify(
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
pub(super) struct Visit {
    pub(super) token: String,
    pub(super) session: CanvasSession,
}

impl Visit {
    /// The hidden fields that carry the session in a form, and the tenancy it is for.
    pub(super) fn keys(&self, tenancy: Option<Uuid>) -> Hidden<'_> {
        Hidden {
            session: &self.token,
            csrf: &self.session.csrf,
            tenancy,
        }
    }
}

impl std::ops::Deref for Visit {
    type Target = CanvasSession;

    fn deref(&self) -> &CanvasSession {
        &self.session
    }
}

/// The session a posted form or the cookie names, with its org link.
pub(super) async fn resume(
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
pub(super) fn record_of(session: &CanvasSession) -> Result<(RecordKind, SalesforceId), Response> {
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
pub(super) async fn acting(
    state: &AppState,
    link: &OrgLink,
    user: &SalesforceUser,
) -> Result<Vec<ActingStaff>, Response> {
    salesforce::acting_staff(&state.store, link, user)
        .await
        .map_err(|error| refusal(link, user, error))
}

pub(super) fn csrf_ok(session: &CanvasSession, sent: &str) -> bool {
    bool::from(sent.as_bytes().ct_eq(session.csrf.as_bytes()))
}

/// A form posted from a session: checked against the session's CSRF token, for a tenancy
/// where the user is active staff.
pub(super) struct Checked {
    pub(super) session: Visit,
    pub(super) link: OrgLink,
    pub(super) kind: RecordKind,
    pub(super) record: SalesforceId,
    pub(super) all: Vec<ActingStaff>,
    pub(super) chosen: ActingStaff,
}

pub(super) async fn checked(
    state: &AppState,
    jar: &CookieJar,
    keys: &Keys,
) -> Result<Checked, Response> {
    let (session, link) = resume(state, jar, keys.session.as_deref()).await?;
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

/// The session's cookie. The page is the answer to Salesforce's POST, so its forms carry the
/// session even where the cookie is refused (see `Visit`). Inside Salesforce's iframe the cookie
/// is a third-party one: it needs SameSite=None, which browsers accept only with Secure
/// (HTTPS), and Partitioned keeps it (keyed to the Salesforce page) where browsers block
/// unpartitioned third-party cookies. Served over plain HTTP (development) it is Lax.
pub(super) fn cookie(token: String, https: bool) -> Cookie<'static> {
    let cookie = Cookie::build((SESSION_COOKIE, token))
        .path("/salesforce")
        .http_only(true)
        .max_age(time::Duration::milliseconds(SESSION_MS));
    if https {
        cookie
            .same_site(SameSite::None)
            .secure(true)
            .partitioned(true)
            .build()
    } else {
        cookie.same_site(SameSite::Lax).build()
    }
}

impl Checked {
    /// Who a form shown from this post is for.
    pub(super) fn viewer(&self) -> super::view::Viewer<'_> {
        super::view::Viewer {
            session: &self.session,
            link: &self.link,
            acting: &self.chosen,
            switch: self.all.len() > 1,
        }
    }
}
