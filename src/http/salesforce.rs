//! What Salesforce and an admin's browser call: the OAuth web-server flow's start and callback.
//! Pages here are plain HTML; an error page says what went wrong and what to do, never a
//! secret. A flow started from the admin console names the console page to come back to
//! (`return_to`), which the browser keeps with the flow's binding and the callback sends it to.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;

use super::AppState;
use super::html::page;
use crate::crm::LinkError;

const BINDING_COOKIE: &str = "liaison_oauth";
/// The console page a flow started from the console comes back to.
const RETURN_COOKIE: &str = "liaison_oauth_return";

/// The query parameter that names the console page to come back to, for a flow's start link.
pub(crate) fn return_to_query(console_path: &str) -> String {
    format!("return_to={console_path}")
}

/// A page to come back to: only a path of the console, of plain characters, so the callback
/// sends the browser nowhere else.
fn console_page(path: &str) -> Option<&str> {
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'-' || b == b'_');
    (plain && path.starts_with("/console/") && !path.contains("//")).then_some(path)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/salesforce/oauth/start", get(start))
        .route("/salesforce/oauth/callback", get(callback))
}

#[derive(Debug, Deserialize)]
struct StartQuery {
    ticket: Option<String>,
    return_to: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Opens the single-use ticket from `connect`: binds the flow to this browser with a cookie and
/// sends it to Salesforce to approve.
async fn start(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<StartQuery>,
) -> Response {
    let Some(ticket) = query.ticket.filter(|t| !t.is_empty() && t.len() < 100) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Link incomplete",
            "This connection link has no ticket. Start again from Liaison.",
        );
    };
    match state.crm.begin_web_flow(&ticket).await {
        Ok((authorize_url, binding)) => {
            let back = query.return_to.as_deref().and_then(console_page);
            to_salesforce(&state, jar, authorize_url, binding, back)
        }
        Err(_) => page(
            StatusCode::NOT_FOUND,
            "Link expired or used",
            "This connection link was already used or has expired. Ask Liaison for a new one.",
        ),
    }
}

/// A cookie of the flow, kept by the browser for as long as the flow lasts.
fn flow_cookie(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    let config = state.crm.config();
    Cookie::build((name, value))
        .path("/salesforce/oauth")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::minutes(
            i64::try_from(config.oauth_flow_minutes).unwrap_or(10),
        ))
        .secure(config.public_url.starts_with("https://"))
        .build()
}

/// Sends the browser to Salesforce's authorize URL, holding the cookie that binds the flow to
/// it (and the console page to come back to, if any) for as long as the flow lasts.
fn to_salesforce(
    state: &AppState,
    jar: CookieJar,
    authorize_url: String,
    binding: String,
    back: Option<&str>,
) -> Response {
    let cookie = flow_cookie(state, BINDING_COOKIE, binding);
    let jar = match back {
        Some(path) => jar.add(flow_cookie(state, RETURN_COOKIE, path.to_string())),
        // A page named by an earlier flow is not this one's.
        None if jar.get(RETURN_COOKIE).is_some() => {
            jar.remove(Cookie::build(RETURN_COOKIE).path("/salesforce/oauth"))
        }
        None => jar,
    };
    let Ok(location) = header::HeaderValue::try_from(authorize_url) else {
        return StatusCode::SEE_OTHER.into_response();
    };
    let headers = [
        (header::LOCATION, location),
        (
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        ),
    ];
    (StatusCode::SEE_OTHER, jar.add(cookie), headers).into_response()
}

/// What Salesforce's redirect brings: a code and the flow's state, or why not.
enum Answer {
    /// The code to exchange, and the flow's state.
    Approved { code: String, state: String },
    /// Salesforce did not approve, or the answer is incomplete: the page that says so.
    Refused(Response),
}

impl CallbackQuery {
    fn answer(self) -> Answer {
        if let Some(error) = self.error {
            let detail = self.error_description.unwrap_or_default();
            return Answer::Refused(page(
                StatusCode::BAD_REQUEST,
                "Connection not approved",
                &format!(
                    "Salesforce did not approve the connection ({error}: {detail}). Nothing was changed."
                ),
            ));
        }
        match (self.code, self.state) {
            (Some(code), Some(state)) => Answer::Approved { code, state },
            _ => Answer::Refused(page(
                StatusCode::BAD_REQUEST,
                "Connection incomplete",
                "Salesforce's answer is missing its code or state. Nothing was changed.",
            )),
        }
    }
}

/// Salesforce sends the browser back here with a code (or an error).
async fn callback(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let (code, flow_state) = match query.answer() {
        Answer::Approved { code, state } => (code, state),
        Answer::Refused(page) => return page,
    };
    let Some(binding) = jar.get(BINDING_COOKIE).map(|c| c.value().to_string()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Connection not recognised",
            "This browser did not start this connection (or its cookie expired). Start again from Liaison; nothing was changed.",
        );
    };
    let back = jar
        .get(RETURN_COOKIE)
        .and_then(|c| console_page(c.value()).map(str::to_string));
    let finished = crate::app::org_links::finish_connect(&state.crm, &flow_state, &binding, &code);
    match (finished.await, back) {
        (Ok(_), Some(path)) => {
            let jar = jar.remove(Cookie::build(RETURN_COOKIE).path("/salesforce/oauth"));
            (jar, axum::response::Redirect::to(&path)).into_response()
        }
        (Ok(link), None) => page(
            StatusCode::OK,
            "Salesforce connected",
            &format!(
                "The org link \u{201c}{}\u{201d} is connected. You can close this page.",
                link.name
            ),
        ),
        (Err(error), _) => not_connected(error),
    }
}

/// Why finishing the flow connected nothing, as a page that says what to do.
fn not_connected(error: LinkError) -> Response {
    match error {
        LinkError::Store(_) => page(
            StatusCode::BAD_REQUEST,
            "Connection not recognised",
            "This connection attempt is unknown, was already used, or has expired. Start again from Liaison; nothing was changed.",
        ),
        LinkError::Crm(crate::crm::error::CrmError::HostRefused(reason)) => {
            tracing::warn!(reason = %reason, "OAuth callback refused: host outside Salesforce");
            page(
                StatusCode::BAD_GATEWAY,
                "Connection refused",
                &format!(
                    "Liaison calls only Salesforce's hosts, and {reason}. Nothing was stored; check the org link's login host and start again from Liaison."
                ),
            )
        }
        LinkError::Crm(error) => {
            tracing::warn!(code = error.code(), "OAuth callback refused by Salesforce");
            page(
                StatusCode::BAD_GATEWAY,
                "Connection failed",
                &format!(
                    "Salesforce refused the connection ({}). Nothing was changed; start again from Liaison.",
                    error.code()
                ),
            )
        }
        LinkError::NoKey => page(
            StatusCode::CONFLICT,
            "Liaison is not configured",
            "Liaison has no encryption key for Salesforce secrets; ask its operator to set crm.encryption_key.",
        ),
        // Connecting makes no REST call, so neither arises; said plainly if one ever did.
        error @ (LinkError::Paused | LinkError::Capped(_)) => page(
            StatusCode::CONFLICT,
            "Connection failed",
            &format!("{error}. Nothing was changed."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::console_page;

    #[test]
    fn a_flow_comes_back_only_to_a_console_page() {
        let link = "/console/org-links/0191c1d2-0000-7000-8000-000000000000";
        assert_eq!(console_page(link), Some(link));
        for elsewhere in [
            "https://evil.example/console/",
            "//evil.example/console/",
            "/console//evil.example",
            "/consoles/x",
            "/console/../api/v1",
            "/console/org-links/x?next=https://evil.example",
            "/console/a b",
            "",
        ] {
            assert_eq!(console_page(elsewhere), None, "{elsewhere}");
        }
    }
}
