//! What the directory's pages (tenancies, staff, API tokens, the audit trail) share: a posted
//! form checked for its CSRF token, the API's refusals of a form shown beside its fields,
//! paging links, and how times and roles read.

// A refusal here is the page that answers the request; the error side is that page.
#![allow(clippy::result_large_err)]

use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;

use super::session::SignedIn;
use super::view::{self, NavItem, Section};
use super::{audit, clients, funnel, groups, staff, team_accounts, tenancies, tokens};
use crate::domain::FieldError;
use crate::domain::user::StaffRole;
use crate::http::AppState;
use crate::http::api;
use crate::http::api::PageQuery;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::store::PageRequest;

/// The tenancies: all of them for an operator, one's own for an administrator.
pub(super) const TENANCIES: &str = "/console/tenancies";
/// The staff of one's own tenancy (an operator picks a tenancy first).
pub(super) const STAFF: &str = "/console/staff";
/// The clients of one's own tenancy (an operator picks a tenancy first).
pub(super) const CLIENTS: &str = "/console/clients";
/// The contact groups or client teams of one's own tenancy.
pub(super) const GROUPS: &str = "/console/groups";
/// The API tokens one may manage: an administrator's tenancy's, an operator's own.
pub(super) const TOKENS: &str = "/console/tokens";
/// The audit trail: an administrator's tenancy's, the installation's for an operator.
pub(super) const AUDIT: &str = "/console/audit";

/// The directory's pages: tenancies, staff, clients, groups, team accounts, API tokens and the
/// audit trail.
pub(super) fn routes() -> Router<AppState> {
    let tenancy = "/console/tenancies/{tenancy}";
    Router::new()
        .route(TENANCIES, get(tenancies::list).post(tenancies::create))
        .route("/console/tenancies/new", get(tenancies::new))
        .route(tenancy, get(tenancies::detail).post(tenancies::update))
        .route(STAFF, get(staff::own))
        .route(
            &format!("{tenancy}/staff"),
            get(staff::list).post(staff::create),
        )
        .route(&format!("{tenancy}/staff/new"), get(staff::new))
        .route(
            &format!("{tenancy}/staff/{{staff}}"),
            get(staff::detail).post(staff::update),
        )
        .route(
            &format!("{tenancy}/staff/{{staff}}/deactivate"),
            get(staff::confirm_deactivation).post(staff::deactivate),
        )
        .route(
            &format!("{tenancy}/staff/{{staff}}/reactivate"),
            post(staff::reactivate),
        )
        .route(CLIENTS, get(clients::own))
        .route(&format!("{tenancy}/clients"), get(clients::list))
        .route(
            &format!("{tenancy}/clients/{{client}}"),
            get(clients::detail),
        )
        .route(
            &format!("{tenancy}/clients/{{client}}/revoke"),
            get(clients::confirm_revocation).post(clients::revoke),
        )
        .route(
            &format!("{tenancy}/clients/{{client}}/{{action}}"),
            post(clients::act),
        )
        .route(GROUPS, get(groups::own))
        .route(&format!("{tenancy}/groups"), get(groups::list))
        .route(&format!("{tenancy}/groups/{{group}}"), get(groups::detail))
        .route(
            &format!("{tenancy}/groups/{{group}}/members"),
            post(groups::add),
        )
        .route(
            &format!("{tenancy}/groups/{{group}}/members/{{user}}/remove"),
            post(groups::remove),
        )
        .route(
            &format!("{tenancy}/team-accounts"),
            get(team_accounts::list),
        )
        .route(
            &format!("{tenancy}/team-accounts/{{account}}"),
            get(team_accounts::detail),
        )
        .route(
            &format!("{tenancy}/team-accounts/{{account}}/delegates"),
            post(team_accounts::add),
        )
        .route(
            &format!("{tenancy}/team-accounts/{{account}}/delegates/{{staff}}/remove"),
            post(team_accounts::remove),
        )
        .route(&format!("{tenancy}/groups"), post(groups::create))
        .route(&format!("{tenancy}/groups/new"), get(groups::new))
        .route(&format!("{tenancy}/groups/{{group}}"), post(groups::rename))
        .route(
            &format!("{tenancy}/groups/{{group}}/delete"),
            get(groups::confirm_deletion).post(groups::delete),
        )
        .route(
            &format!("{tenancy}/team-accounts"),
            post(team_accounts::create),
        )
        .route(
            &format!("{tenancy}/team-accounts/new"),
            get(team_accounts::new),
        )
        .route(
            &format!("{tenancy}/team-accounts/{{account}}"),
            post(team_accounts::update),
        )
        .route(TOKENS, get(tokens::own).post(tokens::create_operator))
        .route(
            "/console/tokens/{token}/revoke",
            get(tokens::confirm_operator).post(tokens::revoke_operator),
        )
        .route(
            &format!("{tenancy}/tokens"),
            get(tokens::list).post(tokens::create),
        )
        .route(
            &format!("{tenancy}/tokens/{{token}}/revoke"),
            get(tokens::confirm_revocation).post(tokens::revoke_token),
        )
        .route(AUDIT, get(audit::own))
        .route(&format!("{tenancy}/audit"), get(audit::tenancy))
        .route(&format!("{tenancy}/funnel"), get(funnel::page))
        .route(&format!("{tenancy}/funnel.csv"), get(funnel::csv))
        .route(&format!("{tenancy}/clients/new"), get(clients::new))
        .route(&format!("{tenancy}/clients"), post(clients::create))
        .route(
            &format!("{tenancy}/clients/{{client}}"),
            post(clients::update),
        )
        .route(
            &format!("{tenancy}/clients/{{client}}/crm-record"),
            post(clients::link_record),
        )
        .route(
            &format!("{tenancy}/staff/{{staff}}/salesforce-user"),
            post(staff::map_salesforce_user),
        )
}

/// The directory's entries of the navigation, each offered only where the API lets the
/// caller read it.
pub(super) fn nav(caller: &Caller, section: Section) -> Vec<NavItem> {
    let own = caller.own_tenancy();
    let mut nav = vec![NavItem {
        label: if own.is_some() {
            "Tenancy"
        } else {
            "Tenancies"
        },
        href: TENANCIES,
        current: section == Section::Tenancies,
    }];
    if own.is_some() {
        nav.push(NavItem {
            label: "Staff",
            href: STAFF,
            current: section == Section::Staff,
        });
        nav.push(NavItem {
            label: "Clients",
            href: CLIENTS,
            current: section == Section::Clients,
        });
        nav.push(NavItem {
            label: "Groups",
            href: GROUPS,
            current: section == Section::Groups,
        });
    }
    if api::tokens::scope(caller, own).is_ok() {
        nav.push(NavItem {
            label: "API tokens",
            href: TOKENS,
            current: section == Section::Tokens,
        });
    }
    if api::audit::scope(caller, own).is_ok() {
        nav.push(NavItem {
            label: "Audit trail",
            href: AUDIT,
            current: section == Section::Audit,
        });
    }
    nav
}

/// The tenancy's staff users by id, named with their e-mail, as the API lists them for
/// `caller` (the first page of the most it lists at once).
pub(super) async fn staff_names(
    state: &AppState,
    caller: &Caller,
    tenancy: Uuid,
) -> Result<Vec<(Uuid, String, bool)>, ApiError> {
    let all = PageQuery {
        limit: Some(PageRequest::MAX_LIMIT),
        after: None,
        q: None,
    };
    let found = api::staff::listed(state, caller, tenancy, &all).await?;
    Ok(found
        .items
        .into_iter()
        .map(|s| {
            let name = format!("{} {} ({})", s.first_name, s.last_name, s.email);
            (s.id, name, s.active)
        })
        .collect())
}

/// A tenancy's id from a page's path; one that is not an id is a tenancy not found, as in the
/// API.
pub(super) fn tenancy_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound("tenancy"))
}

/// The address of one of a tenancy's pages (`staff`, `clients`…).
pub(super) fn tenancy_page(tenancy: Uuid, area: &str) -> String {
    format!("{TENANCIES}/{tenancy}/{area}")
}

/// A navigation entry's page of one's own tenancy: an administrator's, or for an operator
/// (who has none) the tenancies to pick one from.
pub(super) fn own_tenancy_page(signed: &SignedIn, area: &str) -> Response {
    let to = match signed.caller().own_tenancy() {
        Some(tenancy) => tenancy_page(tenancy, area),
        None => TENANCIES.to_string(),
    };
    Redirect::to(&to).into_response()
}

/// A form that carries only its CSRF token: a button's (send, deactivate, revoke…).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Button {
    csrf: String,
}

impl Posted for Button {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A form a signed-in page posts: it carries the session's CSRF token.
pub(super) trait Posted {
    fn csrf(&self) -> &str;
}

/// The posted form, when it is one and carries the session's CSRF token; otherwise the page
/// saying nothing was changed.
pub(super) fn posted<T: Posted>(
    signed: &SignedIn,
    form: Result<Form<T>, FormRejection>,
) -> Result<T, Response> {
    let Ok(Form(form)) = form else {
        return Err(view::stale_form());
    };
    signed.check(form.csrf())?;
    Ok(form)
}

/// Why the API refused what a form sent, each reason beside its field, with the status the
/// API answers.
pub(super) struct Errors {
    pub(super) status: StatusCode,
    list: Vec<FieldError>,
}

impl Default for Errors {
    fn default() -> Self {
        Self {
            status: StatusCode::OK,
            list: Vec::new(),
        }
    }
}

impl Errors {
    /// The API's refusal as a form shows it: field errors (422, 400) and a rule's refusal
    /// (409, beside the field it names); anything else is the page's refusal, given back.
    pub(super) fn of(error: ApiError) -> Result<Self, ApiError> {
        let status = StatusCode::from_u16(error.problem().status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let list = match error {
            ApiError::Invalid(list) | ApiError::BadRequest { errors: list, .. } => list,
            ApiError::Conflict { detail, field, .. } => vec![FieldError::new(
                field.unwrap_or_else(|| "form".into()),
                detail,
            )],
            other => return Err(other),
        };
        Ok(Self { status, list })
    }

    /// One field's refusal, found before the API was asked, with the status the API answers
    /// such a field with.
    pub(super) fn field(status: StatusCode, field: &str, reason: &str) -> Self {
        Self {
            status,
            list: vec![FieldError::new(field, reason)],
        }
    }

    /// The reason a field was refused.
    pub(super) fn on(&self, field: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.reason.as_str())
    }

    pub(super) fn any(&self) -> bool {
        !self.list.is_empty()
    }

    /// The reasons of fields the form does not show (`shown` names those it does, separated
    /// by spaces), as `field: reason`, for above the form.
    pub(super) fn others(&self, shown: &str) -> Vec<String> {
        self.list
            .iter()
            .filter(|e| !shown.split_whitespace().any(|field| field == e.field))
            .map(|e| match e.field.as_str() {
                "form" | "body" => e.reason.clone(),
                field => format!("{field}: {}", e.reason),
            })
            .collect()
    }
}

/// The page a form's post answers when the API refused it: the form again with its errors,
/// or the API's refusal of the page itself.
pub(super) fn refused(
    chrome: view::Chrome,
    error: ApiError,
    form: impl FnOnce(view::Chrome, Errors) -> Response,
) -> Response {
    match Errors::of(error) {
        Ok(errors) => form(chrome, errors),
        Err(error) => view::refusal(&chrome, error),
    }
}

/// The API's paging of a list page: the cursor (an id; anything else is the first page) and
/// the search text.
pub(super) fn page_query(after: Option<&str>, q: Option<&str>) -> PageQuery {
    PageQuery {
        limit: None,
        after: after.and_then(|a| Uuid::parse_str(a).ok()),
        q: q.map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_string),
    }
}

/// A list page's search: the text and the cursor.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Search {
    pub(super) q: String,
    pub(super) after: String,
}

impl Search {
    /// The API's paging for this search.
    pub(super) fn query(&self) -> PageQuery {
        page_query(Some(&self.after), Some(&self.q))
    }

    /// The address of the page after `cursor`, with this search.
    pub(super) fn next(&self, path: &str, cursor: &str) -> String {
        address(path, &[("q", &self.q), ("after", cursor)])
    }
}

/// What a page was sent back after (`?done=`), to say it was done.
#[derive(Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

impl Done {
    /// The notice `notices` gives for what was done, if any.
    pub(super) fn notice(&self, notices: &[(&str, &'static str)]) -> Option<&'static str> {
        let done = self.done.as_deref()?;
        notices
            .iter()
            .find(|(what, _)| *what == done)
            .map(|(_, notice)| *notice)
    }
}

/// A list page's address with its query (each value encoded; empty ones left out).
pub(super) fn address(path: &str, query: &[(&str, &str)]) -> String {
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (name, value) in query.iter().filter(|(_, v)| !v.is_empty()) {
        encoded.append_pair(name, value);
    }
    let encoded = encoded.finish();
    if encoded.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{encoded}")
    }
}

/// A time as the console shows it.
pub(super) fn when(at: OffsetDateTime) -> String {
    let format = format_description!("[day] [month repr:short] [year], [hour]:[minute] UTC");
    at.format(&format).unwrap_or_default()
}

/// A staff role as people name it.
pub(super) fn role_name(role: StaffRole) -> &'static str {
    match role {
        StaffRole::SystemAdministrator => "System administrator",
        StaffRole::UsersAdministrator => "Users administrator",
        StaffRole::Staff => "Staff",
    }
}

/// The roles a form offers, each with its value and its name.
pub(super) const ROLES: [(&str, &str); 3] = [
    ("staff", "Staff"),
    ("users_administrator", "Users administrator"),
    ("system_administrator", "System administrator"),
];

/// One option of a select.
pub(super) struct Choice {
    pub(super) value: String,
    pub(super) text: String,
    pub(super) selected: bool,
}

/// The options, the one whose value is `chosen` selected.
pub(super) fn choices(options: &[(&'static str, &'static str)], chosen: &str) -> Vec<Choice> {
    options
        .iter()
        .map(|&(value, text)| Choice {
            value: value.into(),
            text: text.into(),
            selected: value == chosen,
        })
        .collect()
}

/// Options read from the store (value, text), the one whose value is `chosen` selected.
pub(super) fn owned_choices(options: &[(String, String)], chosen: &str) -> Vec<Choice> {
    options
        .iter()
        .map(|(value, text)| Choice {
            value: value.clone(),
            text: text.clone(),
            selected: value == chosen,
        })
        .collect()
}

/// A field left empty is a field left out.
pub(super) fn filled(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_address_encodes_its_query_and_leaves_out_empty_values() {
        assert_eq!(
            address("/console/x", &[("q", ""), ("after", "")]),
            "/console/x"
        );
        assert_eq!(
            address("/console/x", &[("q", "Ann & Bo"), ("after", "1")]),
            "/console/x?q=Ann+%26+Bo&after=1"
        );
    }

    #[test]
    fn a_rule_refusal_stands_beside_the_field_it_names() {
        let errors = Errors::of(ApiError::Invalid(vec![FieldError::new("name", "is blank")]))
            .ok()
            .unwrap();
        assert_eq!(errors.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(errors.on("name"), Some("is blank"));
        assert!(errors.others("name email").is_empty());
        assert!(Errors::of(ApiError::NotFound("tenancy")).is_err());
    }
}
