//! Who is signed in to the console: the session cookie, the session it names, seen as the
//! API's `Caller` so every page checks roles exactly as the API does, and the CSRF token every
//! POST carries (the session's, or before sign-in the browser's own, kept in a cookie).

// A refusal here is the page that answers the request; the error side is that page.
#![allow(clippy::result_large_err)]

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use subtle::ConstantTimeEq;

use super::view;
use crate::app::console::{self as service, Opened};
use crate::domain::user::StaffRole;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::secrets::random_token;
use crate::store::{Actor, ConsoleSession, ConsoleUser};

/// The session's cookie: a random token, whose hash finds the session.
const SESSION_COOKIE: &str = "liaison_console";
/// The CSRF value of the forms shown before sign-in.
const FORM_COOKIE: &str = "liaison_console_form";

/// A request of a running session.
pub(super) struct SignedIn {
    pub(super) session: ConsoleSession,
}

impl SignedIn {
    /// The session as the API's caller: an operator, or the staff user with their role now.
    /// The session's id stands where a token's would, in actors' labels.
    pub(super) fn caller(&self) -> Caller {
        let token_id = self.session.id;
        Caller(match self.session.user {
            ConsoleUser::Operator => Actor::Operator { token_id },
            ConsoleUser::Staff { tenancy, staff } => Actor::Staff {
                token_id,
                tenancy_id: tenancy,
                staff_id: staff,
                role: self
                    .session
                    .staff
                    .as_ref()
                    .and_then(|s| s.role)
                    .unwrap_or(StaffRole::Staff),
            },
        })
    }

    /// Whether a posted form carries this session's CSRF token; a page saying it does not.
    pub(super) fn check(&self, sent: &str) -> Result<(), Response> {
        if same(sent, &self.session.csrf) {
            Ok(())
        } else {
            Err(view::stale_form())
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    /// No running session sends the browser to sign in, and forgets its cookie.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = jar.get(SESSION_COOKIE).map(Cookie::value) else {
            return Err(Redirect::to(super::SIGN_IN).into_response());
        };
        match service::resume(&state.store, token, state.console.config.session_times()).await {
            Ok(Some(session)) => Ok(Self { session }),
            Ok(None) => Err((forget(jar), Redirect::to(super::SIGN_IN)).into_response()),
            Err(error) => Err(view::failure(error.into())),
        }
    }
}

fn same(sent: &str, expected: &str) -> bool {
    !sent.is_empty() && bool::from(sent.as_bytes().ct_eq(expected.as_bytes()))
}

/// Whether the console is served over HTTPS, where its cookies are `Secure`.
fn https(state: &AppState) -> bool {
    state.crm.config().public_url.starts_with("https://")
}

/// The cookie of a session just opened: HttpOnly, SameSite=Lax, only under `/console`, Secure
/// over HTTPS (plain HTTP is for development and tests), kept no longer than a session lasts.
pub(super) fn start(state: &AppState, jar: CookieJar, opened: &Opened) -> CookieJar {
    let lifetime = state.console.config.session_times().absolute;
    jar.add(
        Cookie::build((SESSION_COOKIE, opened.token.clone()))
            .path("/console")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(https(state))
            .max_age(lifetime)
            .build(),
    )
}

/// The jar without the session's cookie.
pub(super) fn forget(jar: CookieJar) -> CookieJar {
    jar.remove(Cookie::build(SESSION_COOKIE).path("/console"))
}

/// The CSRF value for a form shown before sign-in: the one the browser holds, so every open tab
/// stays good, or a new one; with the jar that keeps it (SameSite=Strict: a form posted from
/// another site arrives without it).
pub(super) fn form_token(state: &AppState, jar: CookieJar) -> (CookieJar, String) {
    let held = jar
        .get(FORM_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == 43);
    let value = held.unwrap_or_else(random_token);
    let cookie = Cookie::build((FORM_COOKIE, value.clone()))
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https(state))
        .build();
    (jar.add(cookie), value)
}

/// Whether a form posted before sign-in carries the browser's CSRF value.
pub(super) fn form_ok(jar: &CookieJar, sent: &str) -> bool {
    jar.get(FORM_COOKIE)
        .is_some_and(|held| same(sent, held.value()))
}
