//! The pages a client sees from an invitation e-mail. Opening a link only shows the choice;
//! accepting or declining is a POST with a CSRF token (mail scanners follow links). A dead link
//! says why it died, and an unknown one says nothing about anyone.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::{Form, Router};
use serde::Deserialize;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use subtle::ConstantTimeEq;

use super::AppState;
use super::client_ip::TrustedProxies;
use super::extract::Path;
use super::html::{page, render};
use crate::domain::invitation::DeadLink;
use crate::secrets::{digest, random_token};
use crate::store::{Answer, LinkView};

const CSRF_COOKIE: &str = "liaison_csrf";

/// Requests per minute one address may make to the invitation pages: plenty for a person, too
/// few to try tokens at scale (they carry 256 random bits anyway).
pub type PageLimiter = governor::DefaultKeyedRateLimiter<std::net::IpAddr>;

pub fn limiter(per_minute: u32) -> Arc<PageLimiter> {
    let per_minute =
        std::num::NonZeroU32::new(per_minute.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
    Arc::new(governor::RateLimiter::keyed(governor::Quota::per_minute(
        per_minute,
    )))
}

/// The pages' limit, keyed on the client's address as the trusted proxies report it.
#[derive(Clone)]
pub struct PageGuard {
    pub limiter: Arc<PageLimiter>,
    pub proxies: Arc<TrustedProxies>,
}

pub fn router(guard: PageGuard) -> Router<AppState> {
    Router::new()
        .route("/invitations/{token}", get(open))
        .route("/invitations/{token}/accept", post(accept))
        .route("/invitations/{token}/decline", post(decline))
        .layer(axum::middleware::from_fn_with_state(guard, limit))
}

async fn limit(
    State(guard): State<PageGuard>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let client = guard.proxies.client(peer.ip(), request.headers());
    if guard.limiter.check_key(&client).is_err() {
        let mut response = page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Please wait a minute, then open the link from your e-mail again.",
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
        return response;
    }
    next.run(request).await
}

fn plausible(token: &str) -> bool {
    (20..=100).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn unknown() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "This link is not valid",
        "Check that you opened the whole link from your invitation e-mail.",
    )
}

fn dead(reason: DeadLink) -> Response {
    let (title, message) = match reason {
        DeadLink::Expired => (
            "This link has expired",
            "Invitation links work for 48 hours. Look for a newer invitation e-mail, which comes every day \
             while your invitation is open, or ask the firm that invited you to send a new one.",
        ),
        DeadLink::Replaced => (
            "This link was replaced",
            "A newer invitation e-mail was sent to you. Please use the link in the latest e-mail.",
        ),
        DeadLink::Revoked => (
            "This invitation was withdrawn",
            "Contact the firm that invited you if you think this is a mistake.",
        ),
        DeadLink::Used | DeadLink::Undelivered => (
            "This invitation was already answered",
            "Nothing more to do here. Contact the firm that invited you if you want to change your answer.",
        ),
    };
    page(StatusCode::GONE, title, message)
}

/// The choice a link opens: accept or decline, each a form carrying the CSRF value.
#[derive(Template)]
#[template(path = "invitation.html")]
struct Invitation<'a> {
    title: String,
    first_name: &'a str,
    tenancy_name: &'a str,
    token: &'a str,
    csrf: &'a str,
}

async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
) -> Response {
    if !plausible(&token) {
        return unknown();
    }
    let view = match state.store.invitation_link(&digest(&token)).await {
        Ok(Some(view)) => view,
        Ok(None) => return unknown(),
        Err(error) => return unavailable(error),
    };
    if let Some(reason) = view.dead {
        return dead(reason);
    }
    // A browser keeps the CSRF value it already has, so every open tab's form stays good;
    // one that has none (or a malformed one) gets a new value.
    let csrf = jar
        .get(CSRF_COOKIE)
        .map(|cookie| cookie.value().to_string())
        .filter(|value| plausible(value))
        .unwrap_or_else(random_token);
    let response = render(
        StatusCode::OK,
        &Invitation {
            title: format!("Your invitation from {}", view.tenancy_name),
            first_name: &view.first_name,
            tenancy_name: &view.tenancy_name,
            token: &token,
            csrf: &csrf,
        },
    );
    let cookie = Cookie::build((CSRF_COOKIE, csrf))
        .path("/invitations")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.crm.config().public_url.starts_with("https://"));
    (jar.add(cookie), response).into_response()
}

/// An answer's form: the CSRF value the page gave.
#[derive(Deserialize)]
struct AnswerForm {
    #[serde(default)]
    csrf: String,
}

async fn accept(
    state: State<AppState>,
    token: Path<String>,
    jar: CookieJar,
    form: Result<Form<AnswerForm>, FormRejection>,
) -> Response {
    answer(state, token, jar, form, Answer::Accept).await
}

async fn decline(
    state: State<AppState>,
    token: Path<String>,
    jar: CookieJar,
    form: Result<Form<AnswerForm>, FormRejection>,
) -> Response {
    answer(state, token, jar, form, Answer::Decline).await
}

async fn answer(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
    form: Result<Form<AnswerForm>, FormRejection>,
    answer: Answer,
) -> Response {
    if !plausible(&token) {
        return unknown();
    }
    // A body that is not a form carries no CSRF value, and is refused as one without it.
    let sent = form.map(|Form(form)| form.csrf).unwrap_or_default();
    let expected = jar.get(CSRF_COOKIE).map(Cookie::value);
    let genuine = matches!(expected, Some(expected) if !sent.is_empty() && bool::from(sent.as_bytes().ct_eq(expected.as_bytes())));
    if !genuine {
        return page(
            StatusCode::FORBIDDEN,
            "Please try again",
            "This form could not be checked (it may be too old, or your browser blocked its cookie). \
             Open the link from your e-mail again and choose once more. Nothing was changed.",
        );
    }
    match state.store.answer_invitation(&digest(&token), answer).await {
        Ok(Ok(view)) => answered(&view, answer),
        Ok(Err(Some(reason))) => dead(reason),
        Ok(Err(None)) => unknown(),
        Err(error) => unavailable(error),
    }
}

fn answered(view: &LinkView, answer: Answer) -> Response {
    match answer {
        Answer::Accept => page(
            StatusCode::OK,
            "Welcome",
            &format!(
                "Your invitation is accepted. {} has been told, and you can now talk with them in the secure messenger.",
                view.tenancy_name
            ),
        ),
        Answer::Decline => page(
            StatusCode::OK,
            "Invitation declined",
            &format!(
                "You declined the invitation. If this was a mistake, contact {}.",
                view.tenancy_name
            ),
        ),
    }
}

fn unavailable(error: crate::store::Error) -> Response {
    tracing::error!(error = %error, "invitation page failed");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Please try again shortly",
        "We could not open your invitation just now. Nothing was changed; please try again in a few minutes.",
    )
}
