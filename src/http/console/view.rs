//! The console's pages: view models built whole from what a handler read, then rendered from
//! `templates/console/` (askama; every value escaped by the engine), each inside the layout's
//! global header, navigation and footer.

use askama::Template;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use time::macros::format_description;

use super::assets;
use super::session::SignedIn;
use crate::domain::user::StaffRole;
use crate::http::api::org_links::managed_tenancy;
use crate::http::error::ApiError;
use crate::store::{AuthKind, ConsoleUser, LinkState, OrgLink};

/// The parts of the console a signed-in user may open, in the navigation's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    Home,
    OrgLinks,
    Tenancies,
    Staff,
    Clients,
    Groups,
    TeamAccounts,
    Tokens,
    Audit,
    Failures,
    Ops,
}

/// One entry of the navigation.
pub(super) struct NavItem {
    pub(super) label: &'static str,
    pub(super) href: &'static str,
    pub(super) current: bool,
}

/// Who is signed in, as the header shows them, and the forms it holds.
pub(super) struct UserBar {
    pub(super) name: String,
    /// Their tenancy, or every tenancy for an operator.
    pub(super) place: String,
    pub(super) role: &'static str,
    pub(super) csrf: String,
    pub(super) nav: Vec<NavItem>,
}

/// What every page around its content needs.
pub(super) struct Chrome {
    pub(super) assets: String,
    pub(super) slds_version: &'static str,
    /// Absent on the pages shown before sign-in.
    pub(super) user: Option<UserBar>,
}

impl Chrome {
    /// The chrome of a page shown before sign-in.
    pub(super) fn anonymous() -> Self {
        Self {
            assets: assets::base(),
            slds_version: assets::SLDS_VERSION.trim(),
            user: None,
        }
    }

    /// The chrome of a signed-in page in `section`. The navigation offers a section only to
    /// those the API would let read it.
    pub(super) fn signed_in(signed: &SignedIn, section: Section) -> Self {
        let session = &signed.session;
        let (name, place) = match (session.user, &session.staff) {
            (ConsoleUser::Staff { .. }, Some(staff)) => {
                (staff.name.clone(), staff.tenancy_name.clone())
            }
            _ => ("Operator".to_string(), "Every tenancy".to_string()),
        };
        let mut nav = vec![NavItem {
            label: "Home",
            href: super::HOME,
            current: section == Section::Home,
        }];
        if managed_tenancy(&signed.caller()).is_ok() {
            nav.push(NavItem {
                label: "Org links",
                href: super::ORG_LINKS,
                current: section == Section::OrgLinks,
            });
        }
        nav.extend(super::directory::nav(&signed.caller(), section));
        if managed_tenancy(&signed.caller()).is_ok() {
            nav.push(NavItem {
                label: "Sync health",
                href: super::OPS,
                current: section == Section::Ops,
            });
        }
        nav.extend(super::failures::nav(&signed.caller(), section));
        Self {
            user: Some(UserBar {
                name,
                place,
                role: role_label(signed),
                csrf: session.csrf.clone(),
                nav,
            }),
            ..Self::anonymous()
        }
    }

    pub(super) fn csrf(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.csrf.as_str())
    }
}

/// The signed-in user's role, for people.
pub(super) fn role_label(signed: &SignedIn) -> &'static str {
    match signed.caller().0 {
        crate::store::Actor::Operator { .. } => "Operator",
        crate::store::Actor::Staff { role, .. } => match role {
            StaffRole::SystemAdministrator => "System administrator",
            StaffRole::UsersAdministrator => "Users administrator",
            StaffRole::Staff => "Staff",
        },
    }
}

/// A console page with its status: never cached, no referrer (the content security policy is
/// the console router's, `content_policy`).
pub(super) fn render(status: StatusCode, page: &impl Template) -> Response {
    crate::http::html::render(status, page)
}

/// The console's content security policy, set on every answer of its router: load only the
/// console's own scripts, styles and images, never be framed, and post forms only to the
/// console, whose answer may send the browser on to Salesforce (`browser_origins`) and nowhere
/// else: a browser checks every redirect of a form's post against `form-action`.
pub(super) fn content_policy(origins: &str) -> HeaderValue {
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         form-action 'self' {origins}; frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| {
        HeaderValue::from_static(
            "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
    })
}

/// A page that says one thing, with a way on.
#[derive(Template)]
#[template(path = "console/message.html")]
pub(super) struct Message<'a> {
    pub(super) chrome: &'a Chrome,
    pub(super) title: &'a str,
    pub(super) message: &'a str,
    /// Where to go next, and what the link says.
    pub(super) next: Option<(&'a str, &'a str)>,
}

pub(super) fn message(
    status: StatusCode,
    chrome: &Chrome,
    title: &str,
    message: &str,
    next: Option<(&str, &str)>,
) -> Response {
    render(
        status,
        &Message {
            chrome,
            title,
            message,
            next,
        },
    )
}

pub(super) fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        &Chrome::anonymous(),
        "Not found",
        "There is no such page in the console.",
        Some((super::HOME, "Go to the console")),
    )
}

/// A form whose CSRF token does not match: it was old, or posted from elsewhere.
pub(super) fn stale_form() -> Response {
    message(
        StatusCode::FORBIDDEN,
        &Chrome::anonymous(),
        "Please try again",
        "This form could not be checked: it may be too old, or it was sent from another site. \
         Nothing was changed.",
        Some((super::HOME, "Go to the console")),
    )
}

/// What the API would answer, as a page with the same status: a refusal says why, and a
/// failure says only that it failed (logged once, here).
pub(super) fn refusal(chrome: &Chrome, error: ApiError) -> Response {
    let problem = error.problem();
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let back = Some((super::HOME, "Back to the console"));
    match status {
        StatusCode::FORBIDDEN => {
            let why = format!("Your role does not allow this page: {}.", problem.detail);
            message(status, chrome, "Not allowed", &why, back)
        }
        StatusCode::NOT_FOUND => message(
            status,
            chrome,
            "Not found",
            "There is nothing here, or it is not yours to see.",
            back,
        ),
        _ => {
            if let ApiError::Internal(cause) = &error {
                tracing::error!(error = format!("{cause:#}"), "a console page failed");
            }
            message(
                status,
                chrome,
                "Please try again shortly",
                "Liaison could not answer just now. Nothing was changed.",
                back,
            )
        }
    }
}

/// A failure before anyone is known to be signed in.
pub(super) fn failure(error: ApiError) -> Response {
    refusal(&Chrome::anonymous(), error)
}

/// How an org link's login host is known to admins.
fn host_kind(login_host: &str) -> &'static str {
    let host = login_host
        .split_once("://")
        .map_or(login_host, |(_, rest)| rest)
        .trim_end_matches('/');
    if host == "login.salesforce.com" {
        "Production"
    } else if host == "test.salesforce.com" || host.contains(".sandbox.my.salesforce") {
        "Sandbox"
    } else if host.contains(".my.salesforce") {
        "My Domain"
    } else {
        "Other host"
    }
}

fn auth_label(kind: AuthKind) -> &'static str {
    match kind {
        AuthKind::WebServer => "OAuth web-server flow",
        AuthKind::JwtBearer => "JWT bearer",
    }
}

/// A state's words and the badge's theme.
pub(super) fn state_badge(state: LinkState) -> (&'static str, &'static str) {
    match state {
        LinkState::NotConnected => ("Not connected", "slds-badge_lightest"),
        LinkState::Connected => ("Connected", "slds-theme_success"),
        LinkState::Unauthorized => ("Unauthorized", "slds-theme_error"),
        LinkState::Paused => ("Paused", "slds-theme_warning"),
        LinkState::BudgetCapped => ("Over its API budget", "slds-theme_warning"),
    }
}

/// An org link as the console shows it.
pub(super) struct LinkView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) org_id: String,
    pub(super) host_kind: &'static str,
    pub(super) login_host: String,
    pub(super) auth: &'static str,
    pub(super) state: &'static str,
    pub(super) state_theme: &'static str,
    pub(super) state_reason: Option<String>,
    /// The tenancies served, by name, as far as the viewer may see them.
    pub(super) tenancies: Vec<String>,
    /// The org's API usage, when Salesforce has reported it.
    pub(super) usage: Option<String>,
    pub(super) usage_checked: Option<String>,
    pub(super) instance_url: Option<String>,
    pub(super) api_version: String,
    pub(super) budget_percent: i64,
    pub(super) staff_match: &'static str,
    /// Where its administrators sign in with Salesforce, for a web-server link.
    pub(super) sign_in: Option<String>,
}

impl LinkView {
    /// The link, its tenancies named from `names` (an id stands for a tenancy not found).
    pub(super) fn of(link: OrgLink, names: &std::collections::HashMap<uuid::Uuid, String>) -> Self {
        let (state, state_theme) = state_badge(link.state);
        let when = format_description!("[day] [month repr:short] [year], [hour]:[minute] UTC");
        let web_server = link.auth_kind == crate::domain::org_link::AuthKind::WebServer;
        Self {
            id: link.id.to_string(),
            sign_in: web_server.then(|| format!("/console/sign-in/salesforce/{}", link.id)),
            host_kind: host_kind(&link.login_host),
            auth: auth_label(link.auth_kind),
            state,
            state_theme,
            tenancies: link
                .tenancies
                .iter()
                .map(|t| names.get(t).cloned().unwrap_or_else(|| t.to_string()))
                .collect(),
            usage: link.api_usage.as_ref().map(|u| {
                let percent = if u.max > 0 { u.used * 100 / u.max } else { 0 };
                format!("{} of {} calls today ({percent} %)", u.used, u.max)
            }),
            usage_checked: link
                .api_usage
                .as_ref()
                .and_then(|u| u.checked_at.format(&when).ok()),
            staff_match: match link.staff_match {
                crate::store::StaffMatch::Email => "E-mail address",
                crate::store::StaffMatch::UserId => "Salesforce user id",
                crate::store::StaffMatch::Username => "Salesforce username",
            },
            name: link.name,
            org_id: link.org_id,
            login_host: link.login_host,
            state_reason: link.state_reason,
            instance_url: link.instance_url,
            api_version: link.api_version,
            budget_percent: link.api_budget_percent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_hosts_are_told_apart_as_admins_know_them() {
        for (host, kind) in [
            ("https://login.salesforce.com", "Production"),
            ("https://test.salesforce.com/", "Sandbox"),
            ("https://acme--uat.sandbox.my.salesforce.com", "Sandbox"),
            ("https://acme.my.salesforce.com", "My Domain"),
            ("https://agency.my.salesforce-gov.com", "My Domain"),
            ("http://127.0.0.1:4040", "Other host"),
        ] {
            assert_eq!(host_kind(host), kind, "{host}");
        }
    }
}
