//! Sign in with Salesforce: an administrator names their org by its My Domain (or opens a
//! link's own sign-in address), signs in at Salesforce through the org link's connected app,
//! and comes back signed in as the staff user the link's staff-matching rule finds, in the
//! tenancy (or, where they administer several, the tenancy they choose).

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use uuid::Uuid;

use super::sign_in::{SignInForm, sign_in_page};
use super::view::{self, Chrome};
use super::{HOME, SIGN_IN, session, sign_in_path};
use crate::app::console::{self as service, SalesforceSignIn, SalesforceSignInError, SignInChoice};
use crate::crm::LinkError;
use crate::crm::error::CrmError;
use crate::domain::console::SalesforceDomain;
use crate::http::AppState;

/// The cookie that keeps a sign-in's flow, sealed, while the browser is at Salesforce.
const FLOW_COOKIE: &str = "liaison_console_sso";
const FLOW_PATH: &str = "/console/sign-in/salesforce";

/// The sign-in form's second half, as posted.
#[derive(Default, Deserialize)]
pub(super) struct AskDomain {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domain: String,
}

/// Finds the org the typed My Domain names and sends the browser there to sign in.
pub(super) async fn by_domain(
    State(state): State<AppState>,
    jar: CookieJar,
    form: Result<Form<AskDomain>, FormRejection>,
) -> Response {
    let AskDomain { csrf, domain } = form.map(|Form(f)| f).unwrap_or_default();
    if !session::form_ok(&jar, &csrf) {
        return view::stale_form();
    }
    let refused = |why: &str| {
        let shown = SignInForm {
            domain: &domain,
            domain_error: Some(why),
            ..SignInForm::default()
        };
        sign_in_page(&csrf, &shown)
    };
    let parsed = match SalesforceDomain::parse(&domain) {
        Ok(parsed) => parsed,
        Err(why) => return refused(why),
    };
    match service::begin_salesforce_sign_in_at(&state.crm, &parsed).await {
        Ok(Some((url, flow))) => to_salesforce(&state, jar, &url, flow),
        Ok(None) => refused(&format!(
            "No Salesforce org at {} signs in to Liaison. Check the domain, or ask for an e-mail link above.",
            parsed.as_str()
        )),
        Err(error) => not_signed_in(error),
    }
}

/// A link's own sign-in address: straight to Salesforce through that link.
pub(super) async fn by_link(
    State(state): State<AppState>,
    jar: CookieJar,
    Path(link): Path<Uuid>,
) -> Response {
    match service::begin_salesforce_sign_in(&state.crm, link).await {
        Ok((url, flow)) => to_salesforce(&state, jar, &url, flow),
        Err(error) => not_signed_in(error),
    }
}

/// Sends the browser to Salesforce, keeping the sealed flow in a cookie only the callback reads.
fn to_salesforce(state: &AppState, jar: CookieJar, url: &str, flow: String) -> Response {
    let minutes = i64::try_from(state.crm.config().oauth_flow_minutes).unwrap_or(10);
    let cookie = Cookie::build((FLOW_COOKIE, flow))
        .path(FLOW_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.crm.config().public_url.starts_with("https://"))
        .max_age(time::Duration::minutes(minutes))
        .build();
    let headers = [(header::CACHE_CONTROL, "no-store")];
    (jar.add(cookie), headers, Redirect::to(url)).into_response()
}

/// What Salesforce sends the browser back with.
#[derive(Deserialize)]
pub(super) struct Answer {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The tenancies to choose from, each signing in with its one-time link.
#[derive(Template)]
#[template(path = "console/sign_in_choose.html")]
struct Choose<'a> {
    chrome: Chrome,
    title: &'a str,
    csrf: &'a str,
    choices: Vec<(String, String)>,
}

/// Salesforce sent the browser back: the flow it started here, the code, and who signed in.
pub(super) async fn callback(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(answer): Query<Answer>,
) -> Response {
    if let Some(error) = answer.error {
        let detail = answer.error_description.unwrap_or_default();
        return refused(&format!(
            "Salesforce did not sign you in ({error}: {detail})."
        ));
    }
    let flow = jar
        .get(FLOW_COOKIE)
        .zip(answer.state)
        .and_then(|(cookie, sent)| state.crm.sign_in_flow(cookie.value(), &sent));
    let (Some(flow), Some(code)) = (flow, answer.code) else {
        return refused(
            "This browser did not start this sign-in, or it took too long. Start again.",
        );
    };
    let jar = jar.remove(Cookie::build(FLOW_COOKIE).path(FLOW_PATH));
    let times = state.console.config.session_times();
    let lifetime = state.console.config.link_lifetime();
    let done = service::sign_in_with_salesforce(&state.crm, &flow, &code, times, lifetime);
    match done.await {
        Ok(SalesforceSignIn::Opened(opened)) => {
            (session::start(&state, jar, &opened), Redirect::to(HOME)).into_response()
        }
        Ok(SalesforceSignIn::Choose(choices)) => choose(&state, jar, choices),
        Ok(SalesforceSignIn::NotAdministrator { name }) => {
            (jar, not_administrator(&name)).into_response()
        }
        Err(error) => (jar, not_signed_in(error)).into_response(),
    }
}

fn choose(state: &AppState, jar: CookieJar, choices: Vec<SignInChoice>) -> Response {
    let (jar, csrf) = session::form_token(state, jar);
    let page = Choose {
        chrome: Chrome::anonymous(),
        title: "Choose a tenancy",
        csrf: &csrf,
        choices: choices
            .into_iter()
            .map(|c| (c.tenancy_name, sign_in_path(&c.token)))
            .collect(),
    };
    (jar, view::render(StatusCode::OK, &page)).into_response()
}

fn not_administrator(name: &str) -> Response {
    let why = format!(
        "Salesforce signed you in as {name}, who is not an active system or users administrator \
         of any tenancy this org serves. A system administrator can map your Salesforce user on \
         your staff page; or ask for an e-mail link."
    );
    view::message(
        StatusCode::FORBIDDEN,
        &Chrome::anonymous(),
        "Not signed in",
        &why,
        Some((SIGN_IN, "Back to sign-in")),
    )
}

fn refused(why: &str) -> Response {
    view::message(
        StatusCode::BAD_REQUEST,
        &Chrome::anonymous(),
        "Not signed in",
        why,
        Some((SIGN_IN, "Back to sign-in")),
    )
}

/// Why Salesforce, or the link, signed no one in, in words an administrator can act on.
fn not_signed_in(error: SalesforceSignInError) -> Response {
    let error = match error {
        SalesforceSignInError::App(error) => return view::failure(error.into()),
        SalesforceSignInError::Salesforce(LinkError::Store(error)) => {
            return view::failure(error.into());
        }
        SalesforceSignInError::Salesforce(error) => error,
    };
    let why = match &error {
        LinkError::Paused => {
            "This org's link to Liaison is paused, so Liaison does not call Salesforce. Ask for an e-mail link instead."
        }
        LinkError::Crm(CrmError::Permanent { code, .. }) if code == "WRONG_ORG" => {
            "You signed in to another Salesforce org than the one linked. Sign out of Salesforce, then sign in to your firm's org."
        }
        LinkError::Crm(CrmError::Permanent { code, .. }) if code == "INACTIVE_USER" => {
            "Your Salesforce user is not active in the org."
        }
        LinkError::Crm(CrmError::Unauthorized { .. }) => {
            "Salesforce did not accept the sign-in (the connected app refused it). Start again, or ask for an e-mail link."
        }
        _ => {
            tracing::warn!(code = %crm_code(&error), "signing in with Salesforce failed");
            "Salesforce could not be asked who you are just now. Try again shortly, or ask for an e-mail link."
        }
    };
    refused(why)
}

fn crm_code(error: &LinkError) -> String {
    match error {
        LinkError::Crm(error) => error.code().to_string(),
        other => other.to_string(),
    }
}
