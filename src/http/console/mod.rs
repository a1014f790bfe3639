//! The admin console under `/console`: server-rendered pages styled with the Salesforce
//! Lightning Design System (served by Liaison, `assets`), usable without JavaScript. Operators
//! sign in through a link `liaison console-link --operator` prints; system and users
//! administrators through a link e-mailed to them (`sign_in`). A session (`session`) is seen as
//! the API's `Caller`, so each page runs the API's own checks and reads: it never shows what the
//! API would refuse that user.

mod assets;
mod audit;
mod clients;
mod directory;
mod failures;
mod funnel;
mod groups;
mod mapping;
mod ops;
mod org_link_forms;
mod org_link_pages;
mod org_links;
mod salesforce_sign_in;
mod session;
mod sign_in;
mod staff;
mod team_accounts;
mod tenancies;
mod tokens;
mod view;

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Form;
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use axum_extra::extract::CookieJar;
use serde::Deserialize;

pub use assets::SLDS_VERSION;

use crate::config::ConsoleConfig;
use crate::http::AppState;
use crate::mail::Mailer;
use session::SignedIn;
use view::{Chrome, Section};

const HOME: &str = "/console";
const SIGN_IN: &str = "/console/sign-in";
const ORG_LINKS: &str = "/console/org-links";
const OPS: &str = "/console/ops";

/// The path of the page a sign-in link opens, for the e-mail and `liaison console-link`.
pub fn sign_in_path(token: &str) -> String {
    format!("{SIGN_IN}/{token}")
}

/// The console's settings, the mailer its sign-in e-mails go through, and its rate limits.
pub struct Console {
    pub config: ConsoleConfig,
    mailer: Option<Arc<dyn Mailer>>,
    /// Sign-in requests per client address.
    per_client: governor::DefaultKeyedRateLimiter<IpAddr>,
    /// Sign-in e-mails per address asked for.
    per_address: governor::DefaultKeyedRateLimiter<String>,
}

impl Console {
    pub fn new(config: ConsoleConfig, mailer: Option<Arc<dyn Mailer>>) -> Self {
        let count = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        Self {
            per_client: governor::RateLimiter::keyed(governor::Quota::per_minute(count(
                config.requests_per_client_per_minute,
            ))),
            per_address: governor::RateLimiter::keyed(governor::Quota::per_hour(count(
                config.emails_per_address_per_hour,
            ))),
            config,
            mailer,
        }
    }
}

pub fn router(state: &AppState) -> Router<AppState> {
    let signing_in = Router::new()
        .route(SIGN_IN, get(sign_in::form).post(sign_in::ask))
        .route(
            "/console/sign-in/salesforce",
            post(salesforce_sign_in::by_domain),
        )
        .route(
            "/console/sign-in/salesforce/callback",
            get(salesforce_sign_in::callback),
        )
        .route(
            "/console/sign-in/salesforce/{link}",
            get(salesforce_sign_in::by_link),
        )
        .route(
            "/console/sign-in/{token}",
            get(sign_in::confirm).post(sign_in::open),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            throttle,
        ));
    Router::new()
        .merge(signing_in)
        .route(HOME, get(home))
        .route("/console/sign-out", post(sign_out))
        .route("/console/sign-out-everywhere", post(sign_out_everywhere))
        .route(ORG_LINKS, get(org_links::list))
        .route("/console/org-links/{id}", get(org_links::detail))
        .route(
            "/console/org-links/new",
            get(org_link_forms::new).post(org_link_forms::create),
        )
        .route(
            "/console/org-links/{id}/edit",
            get(org_link_forms::edit).post(org_link_forms::update),
        )
        .route(
            "/console/org-links/{id}/connect",
            post(org_link_pages::connect),
        )
        .route(
            "/console/org-links/{id}/disconnect",
            get(org_link_pages::ask_disconnect).post(org_link_pages::disconnect),
        )
        .route(
            "/console/org-links/{id}/tenancies",
            get(org_link_pages::tenancies).post(org_link_pages::add_tenancy),
        )
        .route(
            "/console/org-links/{id}/tenancies/{tenancy}/remove",
            get(org_link_pages::ask_remove_tenancy),
        )
        .route(
            "/console/org-links/{id}/tenancies/remove",
            post(org_link_pages::remove_tenancy),
        )
        .route(
            "/console/org-links/{id}/intake",
            get(org_link_pages::intake),
        )
        .route(
            "/console/org-links/{id}/intake/rotate",
            get(org_link_pages::ask_rotate).post(org_link_pages::rotate),
        )
        .route(
            "/console/org-links/{id}/mapping",
            get(mapping::show).post(mapping::act),
        )
        .route(
            "/console/org-links/{id}/mapping/undo",
            get(mapping::confirm_undo).post(mapping::undo),
        )
        .route(OPS, get(ops::show))
        .route(
            "/console/org-links/{id}/pause",
            get(org_link_pages::ask_pause).post(org_link_pages::pause),
        )
        .route(
            "/console/org-links/{id}/resume",
            get(org_link_pages::ask_resume).post(org_link_pages::resume),
        )
        .merge(directory::routes())
        .route(failures::FAILURES, get(failures::home))
        .route("/console/ops/failures/{queue}", get(failures::list))
        .route(
            "/console/ops/failures/{queue}/retry-all",
            get(failures::ask_retry_all).post(failures::retry_all),
        )
        .route("/console/ops/failures/{queue}/{id}", get(failures::item))
        .route(
            "/console/ops/failures/{queue}/{id}/retry",
            get(failures::ask_retry).post(failures::retry),
        )
        .route(
            "/console/ops/failures/{queue}/{id}/dismiss",
            get(failures::ask_dismiss).post(failures::dismiss),
        )
        .route("/console/assets/{version}/{*path}", get(assets::serve))
        .route("/console/{*rest}", any(nothing_here))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            with_content_policy,
        ))
}

/// Every console answer carries the console's content security policy.
async fn with_content_policy(State(state): State<AppState>, mut response: Response) -> Response {
    let policy = view::content_policy(&state.crm.hosts().browser_origins());
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, policy);
    response
}

async fn nothing_here() -> Response {
    view::not_found()
}

/// Sign-in requests are limited per client address (as the trusted proxies report it): links
/// carry 256 random bits, so this keeps out floods, not guesses.
async fn throttle(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let client = state.trusted_proxies.client(peer.ip(), request.headers());
    if state.console.per_client.check_key(&client).is_ok() {
        return next.run(request).await;
    }
    let mut busy = view::message(
        StatusCode::TOO_MANY_REQUESTS,
        &Chrome::anonymous(),
        "Too many attempts",
        "Please wait a minute, then try again.",
        None,
    );
    busy.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
    busy
}

/// The home page: who is signed in, and where they may go.
#[derive(askama::Template)]
#[template(path = "console/home.html")]
struct Home {
    chrome: Chrome,
    title: &'static str,
    org_links: bool,
}

async fn home(signed: SignedIn) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Home);
    let org_links = chrome
        .user
        .as_ref()
        .is_some_and(|u| u.nav.iter().any(|n| n.href == ORG_LINKS));
    let page = Home {
        chrome,
        title: "Liaison console",
        org_links,
    };
    view::render(StatusCode::OK, &page)
}

/// A posted form of a signed-in page: its CSRF token.
#[derive(Deserialize)]
struct Posted {
    #[serde(default)]
    csrf: String,
}

impl Posted {
    /// The token a post carries; a body that is not a form carries none.
    fn csrf(form: Result<Form<Posted>, FormRejection>) -> String {
        form.map(|Form(f)| f.csrf).unwrap_or_default()
    }
}

async fn sign_out(
    state: State<AppState>,
    signed: SignedIn,
    jar: CookieJar,
    form: Result<Form<Posted>, FormRejection>,
) -> Response {
    end(state, signed, jar, form, false).await
}

/// Ends every session of the signed-in user (every operator session, for an operator).
async fn sign_out_everywhere(
    state: State<AppState>,
    signed: SignedIn,
    jar: CookieJar,
    form: Result<Form<Posted>, FormRejection>,
) -> Response {
    end(state, signed, jar, form, true).await
}

async fn end(
    State(state): State<AppState>,
    signed: SignedIn,
    jar: CookieJar,
    form: Result<Form<Posted>, FormRejection>,
    everywhere: bool,
) -> Response {
    if let Err(refused) = signed.check(&Posted::csrf(form)) {
        return refused;
    }
    match state
        .store
        .end_console_sessions(&signed.session, everywhere)
        .await
    {
        Ok(()) => (session::forget(jar), Redirect::to(sign_in::SIGNED_OUT)).into_response(),
        Err(error) => view::failure(error.into()),
    }
}
