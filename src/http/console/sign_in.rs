//! Signing in: the form that e-mails an administrator their links, the page a link opens (a
//! button, not the sign-in itself: mail scanners open links), and the post that uses the link
//! and opens the session.

use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

use super::view::{self, Chrome};
use super::{HOME, Posted, SIGN_IN, session, sign_in_path};
use crate::app::console::{self as service, SignInMail};
use crate::domain::values::Email;
use crate::http::AppState;
use crate::secrets::digest;

/// Where signing out leads: the sign-in page, saying so.
pub(super) const SIGNED_OUT: &str = "/console/sign-in?signed_out=1";

/// The sign-in page: the e-mail form, and Sign in with Salesforce.
#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage<'a> {
    chrome: Chrome,
    title: &'a str,
    csrf: &'a str,
    form: &'a SignInForm<'a>,
}

/// What the sign-in page's forms show: what was typed, and why it was refused.
#[derive(Default)]
pub(super) struct SignInForm<'a> {
    pub(super) email: &'a str,
    pub(super) error: Option<&'a str>,
    pub(super) domain: &'a str,
    pub(super) domain_error: Option<&'a str>,
    pub(super) notice: Option<&'a str>,
}

pub(super) fn sign_in_page(csrf: &str, form: &SignInForm) -> Response {
    let status = if form.error.is_some() || form.domain_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = SignInPage {
        chrome: Chrome::anonymous(),
        title: "Sign in to the Liaison console",
        csrf,
        form,
    };
    view::render(status, &page)
}

#[derive(Deserialize)]
pub(super) struct Shown {
    signed_out: Option<String>,
}

pub(super) async fn form(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(shown): Query<Shown>,
) -> Response {
    let (jar, csrf) = session::form_token(&state, jar);
    let form = SignInForm {
        notice: shown.signed_out.map(|_| "You are signed out."),
        ..SignInForm::default()
    };
    (jar, sign_in_page(&csrf, &form)).into_response()
}

/// The sign-in form as posted.
#[derive(Default, Deserialize)]
pub(super) struct Ask {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// E-mails the address its links, if it has any, and answers the same page whether or not it
/// has: nothing here tells who is staff where. An address asked for too often this hour is
/// answered the same and sent nothing more.
pub(super) async fn ask(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<Form<Ask>, FormRejection>,
) -> Response {
    let Ask { csrf, email } = form.map(|Form(ask)| ask).unwrap_or_default();
    if !session::form_ok(&jar, &csrf) {
        return view::stale_form();
    }
    let Ok(address) = Email::parse(&email) else {
        let form = SignInForm {
            email: &email,
            error: Some("Enter your work e-mail address, such as ada@firm.example."),
            ..SignInForm::default()
        };
        return sign_in_page(&csrf, &form);
    };
    if state.console.per_address.check_key(&address.key()).is_ok()
        && let Err(error) = service::send_sign_in_links(&state.store, &mail(&state), &address).await
    {
        return view::failure(error.into());
    }
    let told = format!(
        "If {} belongs to a system or users administrator, a sign-in link is on its way to it, one \
         for each tenancy they administer. A link works once, for {} minutes.",
        address.as_str(),
        state.console.config.link_minutes
    );
    let chrome = Chrome::anonymous();
    view::message(
        StatusCode::OK,
        &chrome,
        "Check your e-mail",
        &told,
        Some((SIGN_IN, "Back to sign-in")),
    )
}

/// How sign-in e-mails go out: through the console's mailer, with links to this service.
fn mail(state: &AppState) -> SignInMail {
    let base = state
        .crm
        .config()
        .public_url
        .trim_end_matches('/')
        .to_string();
    SignInMail {
        mailer: state.console.mailer.clone(),
        link: Arc::new(move |token| format!("{base}{}", sign_in_path(token))),
        lifetime: state.console.config.link_lifetime(),
    }
}

/// The page a sign-in link opens.
#[derive(Template)]
#[template(path = "console/confirm.html")]
struct Confirm<'a> {
    chrome: Chrome,
    title: &'a str,
    csrf: &'a str,
    action: &'a str,
}

/// Shows the button that signs in with a live link; a dead link says so.
pub(super) async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
) -> Response {
    match state.store.sign_in_link(&digest(&token)).await {
        Ok(Some(_)) => {
            let (jar, csrf) = session::form_token(&state, jar);
            let page = Confirm {
                chrome: Chrome::anonymous(),
                title: "Sign in to the Liaison console",
                csrf: &csrf,
                action: &sign_in_path(&token),
            };
            (jar, view::render(StatusCode::OK, &page)).into_response()
        }
        Ok(None) => dead_link(&state),
        Err(error) => view::failure(error.into()),
    }
}

/// Uses the link and opens the session: its cookie is set and the browser goes home.
pub(super) async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
    form: Result<Form<Posted>, FormRejection>,
) -> Response {
    if !session::form_ok(&jar, &Posted::csrf(form)) {
        return view::stale_form();
    }
    let times = state.console.config.session_times();
    match service::sign_in(&state.store, &token, times).await {
        Ok(Some(opened)) => {
            (session::start(&state, jar, &opened), Redirect::to(HOME)).into_response()
        }
        Ok(None) => dead_link(&state),
        Err(error) => view::failure(error.into()),
    }
}

/// Unknown, used and expired links alike.
fn dead_link(state: &AppState) -> Response {
    let why = format!(
        "Sign-in links work once, for {} minutes. Ask for a new one.",
        state.console.config.link_minutes
    );
    let chrome = Chrome::anonymous();
    let next = Some((SIGN_IN, "Ask for a new link"));
    view::message(
        StatusCode::NOT_FOUND,
        &chrome,
        "This sign-in link does not work",
        &why,
        next,
    )
}
