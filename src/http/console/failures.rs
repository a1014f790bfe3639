//! Failures ops act on, in the console (`/console/ops/failures`): a tab per queue, the
//! filters as a GET form, the failed and waiting items, an item's page with every attempt made,
//! and retry, retry all matching and dismiss (with a reason), each asked first. Every read and
//! change goes through the API's own functions with the session's caller.

// A refusal here is the page that answers the request; the error side is that page.
#![allow(clippy::result_large_err)]

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::directory::{self, Choice, Errors, Posted};
use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::domain::failure::{FailureQueue, FailureState};
use crate::http::AppState;
use crate::http::api::failures::{self as api, FailureQuery};
use crate::http::error::ApiError;
use crate::store::{Attempt, FailureItem};

pub(super) const FAILURES: &str = "/console/ops/failures";

/// The navigation's entry, for those the API lets read failures: operators and system
/// administrators.
pub(super) fn nav(caller: &crate::http::auth::Caller, section: Section) -> Option<view::NavItem> {
    crate::http::api::org_links::managed_tenancy(caller)
        .ok()
        .map(|_| view::NavItem {
            label: "Failures",
            href: FAILURES,
            current: section == Section::Failures,
        })
}

fn queue_path(queue: FailureQueue) -> String {
    format!("{FAILURES}/{}", queue.as_str())
}

fn item_path(queue: FailureQueue, id: Uuid) -> String {
    format!("{FAILURES}/{}/{id}", queue.as_str())
}

fn queue_of(raw: &str) -> Result<FailureQueue, ApiError> {
    FailureQueue::parse(raw).ok_or(ApiError::NotFound("queue"))
}

fn item_of(queue: &str, id: &str) -> Result<(FailureQueue, Uuid), ApiError> {
    let queue = queue_of(queue)?;
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound(queue.noun()))?;
    Ok((queue, id))
}

/// The filters as the GET form (and the retry-all form) carries them.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub(super) struct Filters {
    org_link_id: String,
    tenancy_id: String,
    code: String,
    older_than_minutes: String,
    state: String,
    after: String,
    csrf: String,
}

impl Posted for Filters {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl Filters {
    /// The API's query, or why a field is not one it takes.
    fn query(&self) -> Result<FailureQuery, Errors> {
        let bad = |field: &str, reason: &str| {
            Errors::field(StatusCode::UNPROCESSABLE_ENTITY, field, reason)
        };
        let id = |field: &str, raw: &str| match raw.trim() {
            "" => Ok(None),
            raw => Uuid::parse_str(raw)
                .map(Some)
                .map_err(|_| bad(field, "must be an id")),
        };
        let older = match self.older_than_minutes.trim() {
            "" => None,
            raw => Some(
                raw.parse::<i64>()
                    .map_err(|_| bad("older_than_minutes", "must be a whole number of minutes"))?,
            ),
        };
        Ok(FailureQuery {
            org_link_id: id("org_link_id", &self.org_link_id)?,
            tenancy_id: id("tenancy_id", &self.tenancy_id)?,
            code: directory::filled(&self.code),
            older_than_minutes: older,
            state: FailureState::parse(self.state.trim()),
            limit: None,
            after: Uuid::parse_str(self.after.trim()).ok(),
        })
    }

    /// The filters as an address's query (the cursor left out).
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("org_link_id", self.org_link_id.trim()),
            ("tenancy_id", self.tenancy_id.trim()),
            ("code", self.code.trim()),
            ("older_than_minutes", self.older_than_minutes.trim()),
            ("state", self.state.trim()),
        ]
    }
}

/// A queue's tab.
pub(super) struct Tab {
    pub(super) title: &'static str,
    pub(super) href: String,
    pub(super) current: bool,
}

/// An item as the list and its page show it.
pub(super) struct ItemView {
    pub(super) href: String,
    pub(super) subject: String,
    pub(super) detail: String,
    pub(super) state: String,
    pub(super) state_theme: &'static str,
    pub(super) attempts: i64,
    pub(super) code: String,
    pub(super) error: String,
    pub(super) since: String,
    pub(super) next_attempt: String,
    pub(super) org_link: String,
    pub(super) tenancy: String,
    pub(super) dismiss_reason: String,
    pub(super) retriable: bool,
    pub(super) dismissible: bool,
}

impl ItemView {
    fn of(item: FailureItem) -> Self {
        let (state, state_theme, retriable, dismissible) = match item.state.as_str() {
            "pending" => ("Waiting", "slds-theme_warning", false, true),
            "failed" => ("Failed", "slds-theme_error", true, true),
            "dismissed" => ("Dismissed", "slds-badge_lightest", true, false),
            "retried" => ("Retried", "slds-badge_lightest", false, false),
            other => (other, "slds-badge_lightest", false, false),
        };
        // An e-mail dismissed stays so: its cycle has moved on.
        let retriable = retriable && !(item.queue == FailureQueue::Emails && state == "Dismissed");
        Self {
            href: item_path(item.queue, item.id),
            state: state.to_string(),
            state_theme,
            retriable,
            dismissible,
            subject: item.subject,
            detail: item.detail,
            attempts: item.attempts,
            code: item.last_error_code.unwrap_or_default(),
            error: item.last_error.unwrap_or_default(),
            since: directory::when(item.since),
            next_attempt: item
                .next_attempt_at
                .map(directory::when)
                .unwrap_or_default(),
            org_link: item.org_link_id.map(|l| l.to_string()).unwrap_or_default(),
            tenancy: item.tenancy_id.map(|t| t.to_string()).unwrap_or_default(),
            dismiss_reason: item.dismiss_reason.unwrap_or_default(),
        }
    }
}

/// One attempt as the timeline shows it.
pub(super) struct AttemptView {
    pub(super) at: String,
    pub(super) outcome: String,
    pub(super) failed: bool,
    pub(super) request: String,
    pub(super) answer: String,
}

impl AttemptView {
    fn of(attempt: Attempt) -> Self {
        let answer = [
            attempt.http_status.map(|s| format!("HTTP {s}")),
            attempt.code,
            attempt.message,
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" · ");
        Self {
            at: directory::when(attempt.at),
            failed: matches!(attempt.outcome.as_str(), "failed" | "refused" | "retry"),
            outcome: attempt.outcome,
            request: attempt.request.unwrap_or_default(),
            answer,
        }
    }
}

#[derive(Template)]
#[template(path = "console/failures.html")]
struct List {
    chrome: Chrome,
    title: String,
    queue: &'static str,
    action: String,
    tabs: Vec<Tab>,
    links: bool,
    filters: Filters,
    states: Vec<Choice>,
    items: Vec<ItemView>,
    errors: Errors,
    retry_all: String,
    notice: Option<&'static str>,
    next: Option<String>,
}

const NOTICES: [(&str, &str); 3] = [
    (
        "retried",
        "Retried: the item is waiting for its next attempt.",
    ),
    (
        "dismissed",
        "Dismissed: the item stays listed with your reason.",
    ),
    (
        "retried-all",
        "Retried every failed item that matched: they are waiting for their next attempt.",
    ),
];

/// What a page says was just done (`?done=`).
fn notice(done: Option<&str>) -> Option<&'static str> {
    let done = done?;
    NOTICES
        .iter()
        .find(|(what, _)| *what == done)
        .map(|(_, notice)| *notice)
}

const STATES: [(&str, &str); 4] = [
    ("", "Failed and waiting"),
    ("failed", "Failed"),
    ("waiting", "Waiting"),
    ("dismissed", "Dismissed"),
];

/// `GET /console/ops/failures`: the write-backs' tab.
pub(super) async fn home(signed: SignedIn) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Failures);
    match crate::http::api::org_links::managed_tenancy(&signed.caller()) {
        Ok(_) => Redirect::to(&queue_path(FailureQueue::Writebacks)).into_response(),
        Err(error) => view::refusal(&chrome, error),
    }
}

#[derive(Deserialize)]
pub(super) struct Shown {
    done: Option<String>,
}

/// `GET /console/ops/failures/{queue}`: a queue's items, filtered.
pub(super) async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(queue): Path<String>,
    Query(filters): Query<Filters>,
    Query(shown): Query<Shown>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Failures);
    let queue = match queue_of(&queue) {
        Ok(queue) => queue,
        Err(error) => return view::refusal(&chrome, error),
    };
    let read = match filters.query() {
        Ok(query) => api::listed(&state, &signed.caller(), queue, &query)
            .await
            .map_err(Errors::of),
        Err(errors) => Err(Ok(errors)),
    };
    let (found, errors) = match read {
        Ok(found) => (found, Errors::default()),
        Err(Ok(errors)) => (
            crate::store::Page {
                items: Vec::new(),
                next_cursor: None,
            },
            errors,
        ),
        Err(Err(error)) => return view::refusal(&chrome, error),
    };
    let path = queue_path(queue);
    let pairs = filters.pairs();
    let next = found.next_cursor.map(|after| {
        let mut query = pairs.clone();
        query.push(("after", &after));
        directory::address(&path, &query)
    });
    let page = List {
        chrome,
        title: "Failures".into(),
        queue: queue.title(),
        tabs: FailureQueue::ALL
            .into_iter()
            .map(|q| Tab {
                title: q.title(),
                href: queue_path(q),
                current: q == queue,
            })
            .collect(),
        links: queue.has_links(),
        states: directory::choices(&STATES, filters.state.trim()),
        items: found.items.into_iter().map(ItemView::of).collect(),
        retry_all: directory::address(&format!("{path}/retry-all"), &pairs),
        notice: notice(shown.done.as_deref()),
        next,
        action: path,
        filters,
        errors,
    };
    view::render(page.errors.status, &page)
}

#[derive(Template)]
#[template(path = "console/failures_item.html")]
struct ItemPage {
    chrome: Chrome,
    title: String,
    queue: &'static str,
    back: String,
    item: ItemView,
    history: Vec<AttemptView>,
    notice: Option<&'static str>,
}

/// `GET /console/ops/failures/{queue}/{id}`: an item and every attempt made.
pub(super) async fn item(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((queue, id)): Path<(String, String)>,
    Query(shown): Query<Shown>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Failures);
    let read = match item_of(&queue, &id) {
        Ok((queue, id)) => api::detail(&state, &signed.caller(), queue, id)
            .await
            .map(|found| (queue, found)),
        Err(error) => Err(error),
    };
    let (queue, found) = match read {
        Ok(read) => read,
        Err(error) => return view::refusal(&chrome, error),
    };
    let (found, history) = found;
    let page = ItemPage {
        chrome,
        title: found.subject.clone(),
        queue: queue.title(),
        back: queue_path(queue),
        history: history.into_iter().map(AttemptView::of).collect(),
        item: ItemView::of(found),
        notice: notice(shown.done.as_deref()),
    };
    view::render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "console/failures_confirm.html")]
struct Confirm {
    chrome: Chrome,
    title: String,
    message: String,
    action: String,
    back: String,
    /// Hidden fields the post carries (the filters of a retry of all matching).
    hidden: Vec<(&'static str, String)>,
    button: &'static str,
    reason: Option<String>,
    errors: Errors,
}

/// `GET …/{queue}/{id}/retry`: asks before retrying one item.
pub(super) async fn ask_retry(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((queue, id)): Path<(String, String)>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Failures);
    let (queue, id) = match item_of(&queue, &id) {
        Ok(asked) => asked,
        Err(error) => return view::refusal(&chrome, error),
    };
    match api::detail(&state, &signed.caller(), queue, id).await {
        Ok(found) => {
            let back = item_path(queue, id);
            let page = Confirm {
                chrome,
                title: format!("Retry this {}?", queue.noun()),
                message: retry_message(queue, &found.0.subject),
                action: format!("{back}/retry"),
                back,
                hidden: Vec::new(),
                button: "Retry",
                reason: None,
                errors: Errors::default(),
            };
            view::render(StatusCode::OK, &page)
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

fn retry_message(queue: FailureQueue, subject: &str) -> String {
    match queue {
        FailureQueue::Writebacks => {
            format!(
                "{subject} will be written to Salesforce again on the worker's next pass, with fresh attempts."
            )
        }
        FailureQueue::Inbox => {
            format!("The change of {subject} will be applied again, with fresh attempts.")
        }
        FailureQueue::Emails => {
            format!("The e-mail to {subject} will be sent again (an invitation with a new link).")
        }
    }
}

/// `POST …/{queue}/{id}/retry`.
pub(super) async fn retry(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((queue, id)): Path<(String, String)>,
    form: Result<Form<directory::Button>, FormRejection>,
) -> Response {
    if let Err(refused) = directory::posted(&signed, form) {
        return refused;
    }
    let chrome = Chrome::signed_in(&signed, Section::Failures);
    let done = match item_of(&queue, &id) {
        Ok((queue, id)) => api::retry(&state, &signed.caller(), queue, id)
            .await
            .map(|_| item_path(queue, id)),
        Err(error) => Err(error),
    };
    match done {
        Ok(path) => Redirect::to(&format!("{path}?done=retried")).into_response(),
        Err(error) => view::refusal(&chrome, error),
    }
}

/// The reason a dismissal form carries.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Dismissal {
    csrf: String,
    reason: String,
}

impl Posted for Dismissal {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn dismiss_page(
    chrome: Chrome,
    queue: FailureQueue,
    id: Uuid,
    reason: String,
    errors: Errors,
) -> Response {
    let back = item_path(queue, id);
    let page = Confirm {
        chrome,
        title: format!("Dismiss this {}?", queue.noun()),
        message: "It will not be tried again unless someone retries it; it stays listed as \
                  dismissed with your reason."
            .into(),
        action: format!("{back}/dismiss"),
        back,
        hidden: Vec::new(),
        button: "Dismiss",
        reason: Some(reason),
        errors,
    };
    view::render(page.errors.status, &page)
}

/// `GET …/{queue}/{id}/dismiss`: asks for the reason before dismissing.
pub(super) async fn ask_dismiss(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((queue, id)): Path<(String, String)>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Failures);
    let read = match item_of(&queue, &id) {
        Ok((queue, id)) => api::detail(&state, &signed.caller(), queue, id)
            .await
            .map(|_| (queue, id)),
        Err(error) => Err(error),
    };
    match read {
        Ok((queue, id)) => dismiss_page(chrome, queue, id, String::new(), Errors::default()),
        Err(error) => view::refusal(&chrome, error),
    }
}

/// `POST …/{queue}/{id}/dismiss`: dismisses with the reason, or asks again with the API's
/// refusal beside it.
pub(super) async fn dismiss(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((queue, id)): Path<(String, String)>,
    form: Result<Form<Dismissal>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let chrome = Chrome::signed_in(&signed, Section::Failures);
    let (queue, id) = match item_of(&queue, &id) {
        Ok(asked) => asked,
        Err(error) => return view::refusal(&chrome, error),
    };
    match api::dismiss(&state, &signed.caller(), queue, id, &form.reason).await {
        Ok(_) => Redirect::to(&format!("{}?done=dismissed", item_path(queue, id))).into_response(),
        Err(error) => directory::refused(chrome, error, |chrome, errors| {
            dismiss_page(chrome, queue, id, form.reason, errors)
        }),
    }
}

/// `GET …/{queue}/retry-all`: says how many failed items the filters match, and asks.
pub(super) async fn ask_retry_all(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(queue): Path<String>,
    Query(filters): Query<Filters>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Failures);
    let queue = match queue_of(&queue) {
        Ok(queue) => queue,
        Err(error) => return view::refusal(&chrome, error),
    };
    let query = match filters.query() {
        Ok(query) => query,
        Err(_) => return view::refusal(&chrome, ApiError::invalid("filters", "are not valid")),
    };
    let count = match api::count_failed(&state, &signed.caller(), queue, &query).await {
        Ok(count) => count,
        Err(error) => return view::refusal(&chrome, error),
    };
    let path = queue_path(queue);
    let noun = if count == 1 {
        queue.noun().to_string()
    } else {
        format!("{}s", queue.noun())
    };
    let page = Confirm {
        chrome,
        title: format!("Retry {count} failed {noun}?"),
        message: format!(
            "Every failed {} that matches the filters ({count}) will be tried again, with fresh \
             attempts. One entry in the audit trail will name the filters and the count.",
            queue.noun()
        ),
        action: format!("{path}/retry-all"),
        back: directory::address(&path, &filters.pairs()),
        hidden: filters
            .pairs()
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k, v.to_string()))
            .collect(),
        button: "Retry all",
        reason: None,
        errors: Errors::default(),
    };
    view::render(StatusCode::OK, &page)
}

/// `POST …/{queue}/retry-all`.
pub(super) async fn retry_all(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(queue): Path<String>,
    form: Result<Form<Filters>, FormRejection>,
) -> Response {
    let filters = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let chrome = Chrome::signed_in(&signed, Section::Failures);
    let asked = queue_of(&queue).and_then(|queue| {
        filters
            .query()
            .map(|query| (queue, query))
            .map_err(|_| ApiError::invalid("filters", "are not valid"))
    });
    let (queue, query) = match asked {
        Ok(asked) => asked,
        Err(error) => return view::refusal(&chrome, error),
    };
    match api::retry_all(&state, &signed.caller(), queue, &query).await {
        Ok(_) => {
            let mut pairs = filters.pairs();
            pairs.push(("done", "retried-all"));
            Redirect::to(&directory::address(&queue_path(queue), &pairs)).into_response()
        }
        Err(error) => view::refusal(&chrome, error),
    }
}
