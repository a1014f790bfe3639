//! The audit trail: a tenancy's (its system administrators, operators) and the installation's
//! (operators), filtered by action, actor, target and date, a page at a time, read through the
//! API's own function. Each entry shows who acted, when, on what, and each field before and
//! after; a secret only ever as "changed".

// A refusal here is the page that answers the request, or why the filters were refused.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::directory::{self, AUDIT, Choice, Errors};
use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::domain::audit::{Action, ActorKind};
use crate::http::AppState;
use crate::http::api::audit::{self as api, AuditQuery};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::store::AuditEvent;

/// Whose trail a page shows: a tenancy's, or (`None`) the installation's.
type Scope = Option<Uuid>;

fn audit_path(scope: Scope) -> String {
    match scope {
        Some(tenancy) => directory::tenancy_page(tenancy, "audit"),
        None => AUDIT.to_string(),
    }
}

/// The filters as the form sends them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Filters {
    action: String,
    actor: String,
    target: String,
    /// A day, `YYYY-MM-DD`, from its start.
    from: String,
    /// A day, `YYYY-MM-DD`, to its end.
    until: String,
    after: String,
}

impl Filters {
    /// The API's query for these filters, or why a filter cannot be one.
    fn query(&self) -> Result<AuditQuery, Errors> {
        let id = |field: &str, raw: &str| match raw.trim() {
            "" => Ok(None),
            raw => Uuid::parse_str(raw).map(Some).map_err(|_| {
                Errors::field(StatusCode::BAD_REQUEST, field, "must be an id (a UUID)")
            }),
        };
        let day = |raw: &str, days: i64| {
            let raw = raw.trim();
            let parsed = time::Date::parse(
                raw,
                time::macros::format_description!("[year]-[month]-[day]"),
            );
            match parsed {
                _ if raw.is_empty() => None,
                Ok(date) => date
                    .checked_add(time::Duration::days(days))
                    .map(|day| format!("{day}T00:00:00Z")),
                // The API says why this is no time.
                Err(_) => Some(raw.to_string()),
            }
        };
        Ok(AuditQuery {
            action: Action::parse(self.action.trim()),
            actor: id("actor", &self.actor)?,
            target: id("target", &self.target)?,
            from: day(&self.from, 0),
            until: day(&self.until, 1),
            limit: None,
            after: Uuid::parse_str(&self.after).ok(),
        })
    }

    /// The next page's address: these filters and the cursor.
    fn next(&self, path: &str, after: &str) -> String {
        let query = [
            ("action", self.action.as_str()),
            ("actor", self.actor.as_str()),
            ("target", self.target.as_str()),
            ("from", self.from.as_str()),
            ("until", self.until.as_str()),
            ("after", after),
        ];
        directory::address(path, &query)
    }
}

/// One field's change as the page shows it.
pub(super) struct FieldChange {
    pub(super) field: String,
    /// What it was, when it was anything.
    pub(super) before: Option<String>,
    /// What it became, when it became anything.
    pub(super) after: Option<String>,
}

/// An entry as the page shows it.
pub(super) struct EntryView {
    pub(super) at: String,
    pub(super) actor: String,
    pub(super) action: &'static str,
    pub(super) target: String,
    pub(super) changes: Vec<FieldChange>,
}

impl EntryView {
    fn of(event: AuditEvent, names: &HashMap<Uuid, String>) -> Self {
        let name = |id: Uuid| names.get(&id).cloned();
        let actor = match (event.actor.kind, event.actor.id) {
            (ActorKind::Staff, Some(id)) => name(id).unwrap_or(event.actor.label),
            (ActorKind::Operator, _) => format!("Operator ({})", event.actor.label),
            _ => event.actor.label,
        };
        let target = name(event.target.id).unwrap_or_else(|| event.target.id.to_string());
        Self {
            at: directory::when(event.at),
            actor,
            action: event.action.as_str(),
            target: format!("{} {target}", event.target.kind.as_str().replace('_', " ")),
            changes: changes(&event.changes),
        }
    }
}

/// The stored change, field by field; a secret reads "changed".
fn changes(stored: &str) -> Vec<FieldChange> {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(stored) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .map(|(field, value)| match value {
            Value::Object(sides) => FieldChange {
                field,
                before: sides.get("before").map(shown),
                after: sides.get("after").map(shown),
            },
            other => FieldChange {
                field,
                before: None,
                after: Some(shown(&other)),
            },
        })
        .collect()
}

/// A value as people read it: text without quotes, nothing as "none".
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct Trail {
    chrome: Chrome,
    title: String,
    path: String,
    filters: Filters,
    actions: Vec<Choice>,
    entries: Vec<EntryView>,
    errors: Errors,
    next: Option<String>,
}

/// `GET /console/audit`: the installation's trail for an operator; an administrator's
/// tenancy's.
pub(super) async fn own(
    state: State<AppState>,
    signed: SignedIn,
    filters: Query<Filters>,
) -> Response {
    match signed.caller().own_tenancy() {
        Some(tenancy) => Redirect::to(&audit_path(Some(tenancy))).into_response(),
        None => trail(state, signed, None, filters).await,
    }
}

/// `GET /console/tenancies/{id}/audit`.
pub(super) async fn tenancy(
    state: State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    filters: Query<Filters>,
) -> Response {
    match directory::tenancy_id(&tenancy) {
        Ok(id) => trail(state, signed, Some(id), filters).await,
        Err(error) => view::refusal(&Chrome::signed_in(&signed, Section::Audit), error),
    }
}

async fn trail(
    State(state): State<AppState>,
    signed: SignedIn,
    scope: Scope,
    Query(filters): Query<Filters>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Audit);
    let path = audit_path(scope);
    let read = entries(&state, &signed.caller(), scope, &filters, &path).await;
    let (entries, next, errors) = match read {
        Ok((entries, next)) => (entries, next, Errors::default()),
        Err(refused) => match refused.or_else(Errors::of) {
            Ok(errors) => (Vec::new(), None, errors),
            Err(error) => return view::refusal(&chrome, error),
        },
    };
    let mut actions = vec![("", "Every action")];
    actions.extend(Action::ALL.iter().map(|a| (a.as_str(), a.as_str())));
    let page = Trail {
        chrome,
        title: scope
            .map_or("The installation's audit trail", |_| "Audit trail")
            .into(),
        actions: directory::choices(&actions, &filters.action),
        path,
        filters,
        entries,
        errors,
        next,
    };
    view::render(page.errors.status, &page)
}

/// A page of entries as the API reads them for `caller`, staff named, and the next page's
/// address; or why the filters were refused (`Ok`) or the trail was (`Err`).
async fn entries(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    filters: &Filters,
    path: &str,
) -> Result<(Vec<EntryView>, Option<String>), Result<Errors, ApiError>> {
    let query = filters.query().map_err(Ok)?;
    let found = api::trail(state, caller, scope, query).await.map_err(Err)?;
    let names: HashMap<Uuid, String> = match scope {
        Some(tenancy) => directory::staff_names(state, caller, tenancy)
            .await
            .map_err(Err)?
            .into_iter()
            .map(|(id, name, _)| (id, name))
            .collect(),
        None => HashMap::new(),
    };
    let next = found.next_cursor.map(|after| filters.next(path, &after));
    let entries = found
        .items
        .into_iter()
        .map(|e| EntryView::of(e, &names))
        .collect();
    Ok((entries, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_reads_before_and_after_and_a_secret_only_as_changed() {
        let read = changes(
            r#"{"name":{"before":"Old","after":"New"},"consumer_secret":"changed","mobile":{"after":null}}"#,
        );
        let by_field: HashMap<_, _> = read.iter().map(|c| (c.field.as_str(), c)).collect();
        assert_eq!(by_field["name"].before.as_deref(), Some("Old"));
        assert_eq!(by_field["name"].after.as_deref(), Some("New"));
        assert_eq!(
            by_field["consumer_secret"].after.as_deref(),
            Some("changed")
        );
        assert_eq!(by_field["consumer_secret"].before, None);
        assert_eq!(by_field["mobile"].after.as_deref(), Some("none"));
    }

    #[test]
    fn days_filter_from_the_start_of_one_to_the_end_of_the_other() {
        let filters = Filters {
            from: "2026-03-02".into(),
            until: "2026-03-02".into(),
            ..Filters::default()
        };
        let query = filters.query().ok().unwrap();
        assert_eq!(query.from.as_deref(), Some("2026-03-02T00:00:00Z"));
        assert_eq!(query.until.as_deref(), Some("2026-03-03T00:00:00Z"));
        let bad = Filters {
            actor: "nobody".into(),
            ..Filters::default()
        };
        assert_eq!(
            bad.query().err().unwrap().on("actor"),
            Some("must be an id (a UUID)")
        );
    }
}
