//! Failures ops act on (`/ops/failures/{queue}`): the failed and waiting items of each queue
//! (status write-backs, inbox items, e-mail deliveries), filterable by org link, tenancy, error
//! code and age, each with every attempt made; retry one, retry every failed item a filter
//! matches, dismiss one with a reason. And what reached a Salesforce record, and when.
//! Operators see everything; a system administrator their tenancy's items (of a link several
//! tenancies share, only their own clients'); other staff are refused.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::PageQuery;
use super::org_links::{link_access, managed_tenancy};
use super::wire::Page;
use crate::app::audit::actor_of;
use crate::app::failures;
use crate::domain::FieldErrors;
use crate::domain::failure::{
    AGE_MAX_MINUTES, DismissReason, FailureQueue, FailureState, parse_code,
};
use crate::domain::values::SalesforceId;
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{Json, Path, Query};
use crate::store::{self, FailureFilter};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_failures))
        .routes(routes!(retry_all_failures))
        .routes(routes!(get_failure))
        .routes(routes!(retry_failure))
        .routes(routes!(dismiss_failure))
        .routes(routes!(record_writebacks))
}

/// Which items to list (or retry): all filters together.
#[derive(Debug, Clone, Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FailureQuery {
    /// Only items of this org link (write-backs and inbox items).
    pub org_link_id: Option<Uuid>,
    /// Only items of this tenancy's clients.
    pub tenancy_id: Option<Uuid>,
    /// A write-back's Salesforce error code (e.g. `ENTITY_IS_DELETED`); for inbox items and
    /// e-mails, text their error contains.
    #[param(max_length = 100, pattern = "^[A-Za-z0-9_.: -]+$")]
    #[schema(max_length = 100, pattern = "^[A-Za-z0-9_.: -]+$")]
    pub code: Option<String>,
    /// Only items waiting longer than this many minutes.
    #[param(minimum = 0, maximum = 525_600)]
    #[schema(minimum = 0, maximum = 525_600)]
    #[serde(default, deserialize_with = "whole")]
    pub older_than_minutes: Option<i64>,
    /// `open` (failed and waiting, the default), `failed`, `waiting` or `dismissed`.
    pub state: Option<FailureState>,
    #[param(minimum = 1, maximum = 200)]
    #[schema(minimum = 1, maximum = 200)]
    #[serde(default, deserialize_with = "whole")]
    pub limit: Option<u32>,
    pub after: Option<Uuid>,
}

/// A whole number as JSON Schema counts integers, `50` and `50.0` alike, from a JSON body or a
/// query string (where it arrives as text).
fn whole<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Float(f64),
        Text(String),
    }
    let number = match Option::<Raw>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(Raw::Int(n)) => Some(n),
        Some(Raw::Float(f)) => (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64),
        Some(Raw::Text(t)) => t.trim().parse::<i64>().ok(),
    };
    number
        .and_then(|n| T::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("must be a whole number"))
}

impl FailureQuery {
    /// The store's filter, every field checked: 422 naming each bad one.
    pub fn filter(&self) -> ApiResult<FailureFilter> {
        let mut errors = FieldErrors::default();
        let code = self
            .code
            .as_deref()
            .filter(|c| !c.trim().is_empty())
            .and_then(|c| errors.take("code", parse_code(c)));
        if let Some(minutes) = self.older_than_minutes
            && !(0..=AGE_MAX_MINUTES).contains(&minutes)
        {
            errors.push(
                "older_than_minutes",
                format!("must be between 0 and {AGE_MAX_MINUTES}"),
            );
        }
        errors.finish().map_err(ApiError::Invalid)?;
        Ok(FailureFilter {
            org_link: self.org_link_id,
            tenancy: self.tenancy_id,
            code,
            older_than_minutes: self.older_than_minutes,
            state: self.state.unwrap_or_default(),
        })
    }

    fn page(&self) -> ApiResult<store::PageRequest> {
        PageQuery {
            limit: self.limit,
            after: self.after,
            q: None,
        }
        .page()
    }
}

/// A failed or waiting item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailureItem {
    pub queue: FailureQueue,
    pub id: Uuid,
    /// None for e-mails.
    pub org_link_id: Option<Uuid>,
    /// The client's tenancy; none for inbox items, whose record may be linked in several.
    pub tenancy_id: Option<Uuid>,
    /// `pending` (waiting), `failed`, `dismissed`; for e-mails `failed`, `retried`, `dismissed`.
    pub state: String,
    /// The record (`Contact 003…`), or the e-mail's recipient.
    pub subject: String,
    /// The status to write, where a change came from, or the e-mail's kind.
    pub detail: String,
    pub attempts: i64,
    /// Salesforce's code for a write-back's last failure.
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    /// Since when the item waits.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// When it is next tried, while it waits.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    pub dismiss_reason: Option<String>,
}

impl From<store::FailureItem> for FailureItem {
    fn from(item: store::FailureItem) -> Self {
        Self {
            queue: item.queue,
            id: item.id,
            org_link_id: item.org_link_id,
            tenancy_id: item.tenancy_id,
            state: item.state,
            subject: item.subject,
            detail: item.detail,
            attempts: item.attempts,
            last_error_code: item.last_error_code,
            last_error: item.last_error,
            since: item.since,
            next_attempt_at: item.next_attempt_at,
            dismiss_reason: item.dismiss_reason,
        }
    }
}

/// One attempt at an item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// `written`, `retry`, `failed`, `refused`; `done`, `skipped`; `sent`.
    pub outcome: String,
    /// What was sent to Salesforce (method, path, how many records, which fields).
    pub request: Option<String>,
    /// Salesforce's HTTP status, when it answered.
    pub http_status: Option<i64>,
    /// Salesforce's `errorCode` / `statusCode`.
    pub code: Option<String>,
    pub message: Option<String>,
}

impl From<store::Attempt> for Attempt {
    fn from(a: store::Attempt) -> Self {
        Self {
            at: a.at,
            outcome: a.outcome,
            request: a.request,
            http_status: a.http_status,
            code: a.code,
            message: a.message,
        }
    }
}

/// An item with every attempt made, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailureDetail {
    pub item: FailureItem,
    pub history: Vec<Attempt>,
}

/// How many failed items a retry of all matching took.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Retried {
    pub retried: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dismissal {
    /// Why the item is given up on; kept with it and in the audit trail.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub reason: String,
}

/// A status written to a record (kept for `writeback.history_days`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WrittenStatus {
    pub writeback_id: Uuid,
    pub tenancy_id: Uuid,
    pub client_id: Uuid,
    pub sobject: String,
    pub record_id: String,
    pub status: String,
    /// Attempts it took.
    pub attempts: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub written_at: OffsetDateTime,
    /// Every attempt it took, the last the one that wrote it.
    pub history: Vec<Attempt>,
}

/// What reached a record and when, and what is still on its way.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordWritebacks {
    /// Written, newest first, within the retention.
    pub written: Vec<WrittenStatus>,
    /// Not yet written: waiting, failed or dismissed.
    pub outstanding: Vec<FailureItem>,
}

/// One page of a queue's items as the caller may see them.
pub(crate) async fn listed(
    state: &AppState,
    caller: &Caller,
    queue: FailureQueue,
    query: &FailureQuery,
) -> ApiResult<store::Page<store::FailureItem>> {
    let scope = managed_tenancy(caller)?;
    let filter = query.filter()?;
    let page = query.page()?;
    Ok(state
        .store
        .list_failures(queue, &filter, scope, &page)
        .await?)
}

/// One item and its history, as the caller may see it.
pub(crate) async fn detail(
    state: &AppState,
    caller: &Caller,
    queue: FailureQueue,
    id: Uuid,
) -> ApiResult<(store::FailureItem, Vec<store::Attempt>)> {
    let scope = managed_tenancy(caller)?;
    let item = state.store.failure(queue, id, scope).await?;
    let history = state.store.attempts(&item).await?;
    Ok((item, history))
}

/// Retries one item, as the caller may.
pub(crate) async fn retry(
    state: &AppState,
    caller: &Caller,
    queue: FailureQueue,
    id: Uuid,
) -> ApiResult<store::FailureItem> {
    let scope = managed_tenancy(caller)?;
    let item = failures::retry(&state.store, queue, id, scope, &actor_of(&caller.0)).await?;
    state.wake_workers.notify_one();
    Ok(item)
}

/// Dismisses one item with the reason given, as the caller may.
pub(crate) async fn dismiss(
    state: &AppState,
    caller: &Caller,
    queue: FailureQueue,
    id: Uuid,
    reason: &str,
) -> ApiResult<store::FailureItem> {
    let scope = managed_tenancy(caller)?;
    let reason = DismissReason::parse(reason).map_err(|r| ApiError::invalid("reason", r))?;
    Ok(failures::dismiss(
        &state.store,
        queue,
        id,
        scope,
        &reason,
        &actor_of(&caller.0),
    )
    .await?)
}

/// Retries every failed item the filter matches, as the caller may.
pub(crate) async fn retry_all(
    state: &AppState,
    caller: &Caller,
    queue: FailureQueue,
    query: &FailureQuery,
) -> ApiResult<u64> {
    let scope = managed_tenancy(caller)?;
    let filter = query.filter()?;
    let count =
        failures::retry_matching(&state.store, queue, &filter, scope, &actor_of(&caller.0)).await?;
    state.wake_workers.notify_one();
    Ok(count)
}

/// The failed and waiting items of a queue, oldest first, filtered.
#[utoipa::path(get, path = "/ops/failures/{queue}", tag = "ops",
    params(("queue" = FailureQueue, Path), FailureQuery),
    responses((status = 200, body = Page<FailureItem>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_failures(
    State(state): State<AppState>,
    caller: Caller,
    Path(queue): Path<FailureQueue>,
    Query(query): Query<FailureQuery>,
) -> ApiResult<axum::Json<Page<FailureItem>>> {
    Ok(axum::Json(
        listed(&state, &caller, queue, &query).await?.into(),
    ))
}

/// Retry every failed item the filter matches (its `state` aside); one audit entry names the
/// filter and the count.
#[utoipa::path(post, path = "/ops/failures/{queue}/retry", tag = "ops",
    params(("queue" = FailureQueue, Path)), request_body = FailureQuery,
    responses((status = 200, body = Retried), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn retry_all_failures(
    State(state): State<AppState>,
    caller: Caller,
    Path(queue): Path<FailureQueue>,
    Json(query): Json<FailureQuery>,
) -> ApiResult<axum::Json<Retried>> {
    let retried = retry_all(&state, &caller, queue, &query).await?;
    Ok(axum::Json(Retried { retried }))
}

/// One item with every attempt made.
#[utoipa::path(get, path = "/ops/failures/{queue}/{item_id}", tag = "ops",
    params(("queue" = FailureQueue, Path), ("item_id" = Uuid, Path)),
    responses((status = 200, body = FailureDetail), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_failure(
    State(state): State<AppState>,
    caller: Caller,
    Path((queue, id)): Path<(FailureQueue, Uuid)>,
) -> ApiResult<axum::Json<FailureDetail>> {
    let (item, history) = detail(&state, &caller, queue, id).await?;
    Ok(axum::Json(FailureDetail {
        item: item.into(),
        history: history.into_iter().map(Into::into).collect(),
    }))
}

/// Try a failed or dismissed item again now: a write-back or inbox item with fresh attempts;
/// an e-mail sent again through the normal path (a new invitation link, or the notification).
#[utoipa::path(post, path = "/ops/failures/{queue}/{item_id}/retry", tag = "ops",
    params(("queue" = FailureQueue, Path), ("item_id" = Uuid, Path)),
    responses((status = 200, body = FailureItem), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn retry_failure(
    State(state): State<AppState>,
    caller: Caller,
    Path((queue, id)): Path<(FailureQueue, Uuid)>,
) -> ApiResult<axum::Json<FailureItem>> {
    Ok(axum::Json(retry(&state, &caller, queue, id).await?.into()))
}

/// Give up on a failed or waiting item, saying why; it stays listed as dismissed.
#[utoipa::path(post, path = "/ops/failures/{queue}/{item_id}/dismiss", tag = "ops",
    params(("queue" = FailureQueue, Path), ("item_id" = Uuid, Path)), request_body = Dismissal,
    responses((status = 200, body = FailureItem), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn dismiss_failure(
    State(state): State<AppState>,
    caller: Caller,
    Path((queue, id)): Path<(FailureQueue, Uuid)>,
    Json(body): Json<Dismissal>,
) -> ApiResult<axum::Json<FailureItem>> {
    let item = dismiss(&state, &caller, queue, id, &body.reason).await?;
    Ok(axum::Json(item.into()))
}

/// What reached a Salesforce record and when (within `writeback.history_days`), and the
/// write-backs of it still waiting, failed or dismissed. An administrator of one of several
/// tenancies the link serves sees those of their own clients only.
#[utoipa::path(get, path = "/org-links/{org_link_id}/records/{record_id}/writebacks", tag = "salesforce",
    params(("org_link_id" = Uuid, Path), ("record_id" = String, Path, description = "15 or 18 characters")),
    responses((status = 200, body = RecordWritebacks), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn record_writebacks(
    State(state): State<AppState>,
    caller: Caller,
    Path((link, record)): Path<(Uuid, String)>,
) -> ApiResult<axum::Json<RecordWritebacks>> {
    Ok(axum::Json(
        record_history(&state, &caller, link, &record).await?,
    ))
}

/// What reached a record and what is on its way, as the caller may see it.
pub(crate) async fn record_history(
    state: &AppState,
    caller: &Caller,
    link: Uuid,
    record: &str,
) -> ApiResult<RecordWritebacks> {
    let (_, access) = link_access(state, caller, link).await?;
    let record = SalesforceId::parse(record).map_err(|r| ApiError::invalid("record_id", r))?;
    let forms = vec![record.as_str().to_string(), record.short().to_string()];
    let scope = access.tenancy();
    let written = state.store.written_writebacks(link, &forms, scope).await?;
    let outstanding = state.store.record_writebacks(link, &forms, scope).await?;
    let mut statuses = Vec::with_capacity(written.len());
    for w in written {
        let history = state
            .store
            .attempts_of(FailureQueue::Writebacks, w.writeback_id)
            .await?;
        statuses.push(written_status(w, history));
    }
    Ok(RecordWritebacks {
        written: statuses,
        outstanding: outstanding.into_iter().map(Into::into).collect(),
    })
}

fn written_status(w: store::WrittenWriteback, history: Vec<store::Attempt>) -> WrittenStatus {
    WrittenStatus {
        history: history.into_iter().map(Into::into).collect(),
        writeback_id: w.writeback_id,
        tenancy_id: w.tenancy_id,
        client_id: w.client_id,
        sobject: w.sobject,
        record_id: w.record_id,
        status: w.status,
        attempts: w.attempts,
        changed_at: w.changed_at,
        written_at: w.written_at,
    }
}

/// How many failed items a retry of all matching the filter would take, as the caller may.
pub(crate) async fn count_failed(
    state: &AppState,
    caller: &Caller,
    queue: FailureQueue,
    query: &FailureQuery,
) -> ApiResult<i64> {
    let scope = managed_tenancy(caller)?;
    let filter = query.filter()?;
    Ok(state.store.count_failed(queue, &filter, scope).await?)
}
