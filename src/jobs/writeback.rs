//! The write-back worker: sends each org's due status changes to Salesforce, up to 200 records
//! per sObject Collections call with `allOrNone: false`, and settles each record on its own.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::clock::{from_millis, to_millis};
use crate::config::{RetryPolicy, WritebackConfig};
use crate::crm::client::{RecordResult, Reply};
use crate::crm::error::{CrmError, classify};
use crate::crm::{Crm, LinkError};
use crate::domain::org_link::{COLLECTION_LIMIT, StatusWrite};
use crate::store::{
    self, CallSchedule, CallSummary, ClaimedWriteback, LinkState, OrgLink, Store, WritebackOutcome,
};

/// Written write-backs, and attempts of each queue (write-backs, inbox items, e-mails),
/// forgotten per pass at most, past the retention (`writeback.history_days`, the one history
/// setting).
const PRUNE_BATCH: i64 = 1_000;

/// What one pass did.
#[derive(Debug, Default, Clone)]
pub struct PassReport {
    /// Collections calls.
    pub calls: usize,
    /// Limit probes (`GET …/limits`) of links capped on the org's daily limit.
    pub probes: usize,
    pub full_batches: usize,
    pub written: usize,
    pub retried: usize,
    pub failed: usize,
    /// For each written record, milliseconds from its status change to Salesforce's answer.
    pub latencies_ms: Vec<i64>,
}

fn millis(delay: Duration) -> i64 {
    i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2)
}

/// One pass over every org link with due write-backs, and every capped link.
pub async fn pass(
    crm: &Crm,
    store: &Store,
    config: &WritebackConfig,
) -> Result<PassReport, store::Error> {
    let mut report = PassReport::default();
    crm.flush_api_usage().await?;
    let now = to_millis(store.clock().now());
    store
        .prune_history(now - config.history_ms(), PRUNE_BATCH)
        .await?;
    for link_id in store.links_for_writeback(now).await? {
        let mut link = match store.org_link(link_id, None).await {
            Ok(link) => link,
            Err(store::Error::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        // Paused, unauthorized and unconnected links keep their work until they can be called.
        if !matches!(link.state, LinkState::Connected | LinkState::BudgetCapped) {
            continue;
        }
        // A link backing off after a failed call is not called at all; its rows, retried and
        // fresh, wait and then go out together.
        if link.calls.next_call_at.is_some_and(|at| now < at) {
            continue;
        }
        match budget(store, &link).await? {
            Budget::Room => {}
            Budget::ShareSpent(reason) => {
                store
                    .set_budget_capped(link.id, true, Some(&reason))
                    .await?;
                continue;
            }
            Budget::OrgSpent(reason) => {
                store
                    .set_budget_capped(link.id, true, Some(&reason))
                    .await?;
                if !probe_due(config, &link, now)
                    || !probe(crm, store, config, &link, &mut report).await?
                {
                    continue;
                }
            }
        }
        if link.state == LinkState::BudgetCapped {
            store.set_budget_capped(link.id, false, None).await?;
            link.state = LinkState::Connected;
        }
        send_window(crm, store, config, &link, &mut report).await?;
    }
    // Counts made by this pass's interactive neighbours are not left for a later one.
    crm.flush_api_usage().await?;
    Ok(report)
}

/// Whether a link may spend calls on write-backs now.
enum Budget {
    Room,
    /// This link's share of the org's limit is spent; the window rolling lifts it, no call.
    ShareSpent(String),
    /// The org's limit is spent or nearly: only a call can show room again.
    OrgSpent(String),
}

/// Whether the link is at its share of the org's daily limit, or the org's limit is spent or
/// nearly spent (98 %) by the last usage any answer reported.
async fn budget(store: &Store, link: &OrgLink) -> Result<Budget, store::Error> {
    let usage = link.api_usage.as_ref().filter(|usage| usage.max > 0);
    if let Some(usage) = usage {
        let ours = store.api_calls_last_day(link.id).await?;
        let share = usage.max * link.api_budget_percent / 100;
        if ours >= share {
            return Ok(Budget::ShareSpent(format!(
                "this link made {ours} calls in 24 hours, its share ({}%) of the org's daily limit of {}; \
                 write-backs wait until the window rolls",
                link.api_budget_percent, usage.max
            )));
        }
    }
    if link.calls.org_limit_at.is_some() {
        return Ok(Budget::OrgSpent(
            "the org's daily API request limit is exceeded; write-backs wait for room".into(),
        ));
    }
    if let Some(usage) = usage
        && usage.used * 100 >= usage.max * 98
    {
        return Ok(Budget::OrgSpent(format!(
            "the org has used {} of its {} daily API requests; write-backs wait for room",
            usage.used, usage.max
        )));
    }
    Ok(Budget::Room)
}

/// A link capped on the org's limit is probed once per interval after the last answer that
/// showed the limit spent.
fn probe_due(config: &WritebackConfig, link: &OrgLink, now: i64) -> bool {
    let seen = link
        .api_usage
        .as_ref()
        .map(|usage| to_millis(usage.checked_at))
        .max(link.calls.org_limit_at)
        .unwrap_or(0);
    let interval = i64::try_from(config.limit_probe_interval_seconds)
        .unwrap_or(300)
        .saturating_mul(1000);
    now - seen >= interval
}

/// One cheap call that reports the org's usage. True when it shows room: the cap lifts.
async fn probe(
    crm: &Crm,
    store: &Store,
    config: &WritebackConfig,
    link: &OrgLink,
    report: &mut PassReport,
) -> Result<bool, store::Error> {
    report.probes += 1;
    let answer = crm
        .with_worker_session(link, |session| async move {
            crm.salesforce().limits(&session).await
        })
        .await;
    let now = to_millis(store.clock().now());
    let reason = "the org's daily API request limit is exceeded; write-backs wait for room";
    match answer {
        Ok(Reply {
            limit: Some(limit), ..
        }) => {
            store
                .record_api_usage(link.id, limit.used, limit.max)
                .await?;
            if limit.used * 100 < limit.max * 98 {
                store.link_call_succeeded(link.id).await?;
                return Ok(true);
            }
            store.org_limit_reached(link.id, reason, None).await?;
            Ok(false)
        }
        Ok(Reply { limit: None, .. }) => {
            store.org_limit_reached(link.id, reason, None).await?;
            Ok(false)
        }
        Err(LinkError::Crm(error @ (CrmError::Transient { .. } | CrmError::SessionExpired))) => {
            let failures = link.calls.failures;
            let wait = call_backoff(config, failures, &error);
            store.link_call_failed(link.id, now + millis(wait)).await?;
            Ok(false)
        }
        Err(LinkError::Store(e)) => Err(e),
        Err(_) => Ok(false),
    }
}

/// How long a link waits after a failed call: what `Retry-After` asks, at least the minimum,
/// else its exponential backoff.
fn call_backoff(config: &WritebackConfig, failures: i64, error: &CrmError) -> Duration {
    let policy = config.call_retry();
    match error.retry_after() {
        Some(after) => after.max(policy.min),
        None => policy.delay(failures),
    }
}

fn record_json(link: &OrgLink, row: &ClaimedWriteback) -> Value {
    link.field_mapping.write_back_record(&StatusWrite {
        sobject: &row.sobject,
        record_id: &row.record_id,
        status: row.status,
        client_id: row.client_id,
        tenancy_id: row.tenancy_id,
        changed_at: from_millis(row.changed_at),
    })
}

/// Splits claimed rows, in the order they came due, into batches of `limit`. A last partial
/// batch whose oldest row has been due for less than `linger_ms` is held back for company.
fn batches(
    mut claimed: Vec<ClaimedWriteback>,
    limit: usize,
    linger_ms: u64,
    now: i64,
) -> (Vec<Vec<ClaimedWriteback>>, Vec<ClaimedWriteback>) {
    claimed.sort_by_key(|row| (row.due_at, row.changed_at));
    let linger = i64::try_from(linger_ms).unwrap_or(0);
    let mut batches = Vec::with_capacity(claimed.len().div_ceil(limit));
    let mut rows = claimed.into_iter().peekable();
    while rows.peek().is_some() {
        batches.push(rows.by_ref().take(limit).collect::<Vec<_>>());
    }
    let lingering = match batches.last() {
        Some(last)
            if last.len() < limit && last.first().is_some_and(|row| now - row.due_at < linger) =>
        {
            batches.pop().unwrap_or_default()
        }
        _ => Vec::new(),
    };
    (batches, lingering)
}

/// What one call's answer means for the link.
enum Verdict {
    /// Salesforce answered (`200`, a result per record).
    Answered,
    /// The whole call failed transiently: the link waits this long, and its rows with it.
    Failed(Duration, Vec<ClaimedWriteback>, CrmError),
    /// The link cannot be called now (capped, unauthorized, misconfigured) or the batch was
    /// refused whole: no further call in this pass. With the status of the answer that
    /// refused the batch, kept in its rows' history.
    Stop(Option<i64>),
}

/// One Collections call's rows, Salesforce's answer, and the request's summary.
type Answer = (
    Vec<ClaimedWriteback>,
    Result<Reply<Vec<RecordResult>>, LinkError>,
    String,
);

/// Sends a link's due rows as a sliding window of up to `concurrent_calls` Collections calls:
/// each slot sends its next batch as soon as its last call is answered and settled, so a call
/// held up by Salesforce (a retry honouring `Retry-After`) holds up only its own slot. A young
/// partial batch waits for company while another slot is busy; when none is, the pass ends and
/// the loop comes back. A call that fails stops the link starting more in this pass: the calls
/// already out finish, then the link waits once, for the longest wait any failure asked, and
/// the failed rows come due together then, to go out with the fresh ones in full batches. At
/// most `batches_per_link` calls per pass, so one busy org does not hold up the others.
async fn send_window(
    crm: &Crm,
    store: &Store,
    config: &WritebackConfig,
    link: &OrgLink,
    report: &mut PassReport,
) -> Result<(), store::Error> {
    let window = Window {
        crm,
        store,
        config,
        link,
        calls_left: AtomicUsize::new(config.batches_per_link.max(1)),
        busy: AtomicUsize::new(0),
        closed: AtomicBool::new(false),
        answered: AtomicBool::new(false),
        failed: Mutex::new(Vec::new()),
        report: Mutex::new(std::mem::take(report)),
    };
    // The slots run in this task, polled together: one waiting on the store never stalls
    // another's call.
    let slots = (0..config.concurrent_calls.max(1)).map(|_| window.slot());
    let outcome = futures::future::try_join_all(slots).await;
    *report = window
        .report
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    outcome?;
    let failed = window
        .failed
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(wait) = failed.iter().map(|(_, _, wait, _)| *wait).max() {
        // The link waits, and its failed rows come due when it may be called again.
        let next = to_millis(store.clock().now()) + millis(wait);
        store.link_call_failed(link.id, next).await?;
        let policy = config.record_retry();
        // Each call's rows are settled with its request, so their history says what was sent.
        for (rows, error, _, request) in failed {
            let (code, message) = (error.code().to_string(), error.to_string());
            let retry: Vec<_> = rows
                .into_iter()
                .map(|row| {
                    let outcome = WritebackOutcome::Retry {
                        run_at: next,
                        code: code.clone(),
                        message: message.clone(),
                        give_up: policy.gives_up_after(row.attempts + 1),
                    };
                    (row, outcome)
                })
                .collect();
            count(&retry, report, next);
            let call = CallSummary {
                request,
                http_status: error.status().map(i64::from),
            };
            store.settle_writebacks(&retry, Some(&call)).await?;
        }
    } else if window.answered.into_inner() && link.calls != CallSchedule::default() {
        store.link_call_succeeded(link.id).await?;
    }
    Ok(())
}

/// A call that failed whole: its rows, the error, the wait it asked for, and the request's
/// summary.
type FailedCall = (Vec<ClaimedWriteback>, CrmError, Duration, String);

/// A link's calls in one pass, shared by its slots.
struct Window<'a> {
    crm: &'a Crm,
    store: &'a Store,
    config: &'a WritebackConfig,
    link: &'a OrgLink,
    /// Calls this pass may still start.
    calls_left: AtomicUsize,
    /// Slots with a call out.
    busy: AtomicUsize,
    /// No new call in this pass: one failed, or the link cannot be called.
    closed: AtomicBool,
    answered: AtomicBool,
    failed: Mutex<Vec<FailedCall>>,
    report: Mutex<PassReport>,
}

impl Window<'_> {
    /// One slot: claims a batch, sends it, settles it, and again, until the window closes, the
    /// pass's calls are spent, or nothing is ready to send while no other slot is busy.
    async fn slot(&self) -> Result<(), store::Error> {
        let limit = self.config.batch_size.clamp(1, COLLECTION_LIMIT);
        let linger = Duration::from_millis(self.config.linger_ms.max(1));
        loop {
            if self.closed.load(Ordering::Acquire)
                || self
                    .calls_left
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                    .is_err()
            {
                return Ok(());
            }
            let now = to_millis(self.store.clock().now());
            let claimed = self
                .store
                .claim_writebacks(self.link.id, now, i64::try_from(limit).unwrap_or(200))
                .await?;
            // A call that failed meanwhile closed the window: what was claimed goes back.
            let (mut sent, young) = if self.closed.load(Ordering::Acquire) {
                (Vec::new(), claimed)
            } else {
                batches(claimed, limit, self.config.linger_ms, now)
            };
            if !young.is_empty() {
                let release: Vec<_> = young
                    .into_iter()
                    .map(|row| (row, WritebackOutcome::Release { run_at: None }))
                    .collect();
                self.store.settle_writebacks(&release, None).await?;
            }
            let Some(rows) = sent.pop() else {
                self.calls_left.fetch_add(1, Ordering::AcqRel);
                if self.busy.load(Ordering::Acquire) == 0 || self.closed.load(Ordering::Acquire) {
                    return Ok(());
                }
                // Another slot's call is out: rows may come due, or company arrive, meanwhile.
                tokio::time::sleep(linger).await;
                continue;
            };
            if rows.len() == limit {
                self.lock_report().full_batches += 1;
            }
            self.busy.fetch_add(1, Ordering::AcqRel);
            let answer = call(self.crm, self.link, rows).await;
            let settled = self.settle(answer).await;
            self.busy.fetch_sub(1, Ordering::AcqRel);
            settled?;
        }
    }

    /// Settles one call: the window closes (or not) before the rows are written back, so no
    /// slot claims a row this call released in the meantime.
    async fn settle(&self, answer: Answer) -> Result<(), store::Error> {
        let now = to_millis(self.store.clock().now());
        let request = answer.2.clone();
        let (verdict, settled) = judge(self.config, self.link, answer, now);
        let mut http_status = None;
        match verdict {
            Verdict::Answered => {
                http_status = Some(200);
                self.answered.store(true, Ordering::Release)
            }
            Verdict::Stop(status) => {
                http_status = status;
                self.closed.store(true, Ordering::Release)
            }
            Verdict::Failed(wait, rows, error) => {
                self.closed.store(true, Ordering::Release);
                self.failed.lock().unwrap_or_else(|e| e.into_inner()).push((
                    rows,
                    error,
                    wait,
                    request.clone(),
                ));
            }
        }
        {
            let mut report = self.lock_report();
            report.calls += 1;
            count(&settled, &mut report, now);
        }
        let call = CallSummary {
            request,
            http_status,
        };
        self.store.settle_writebacks(&settled, Some(&call)).await
    }

    fn lock_report(&self) -> std::sync::MutexGuard<'_, PassReport> {
        self.report.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One Collections call of a batch, in the link's worker session.
async fn call(crm: &Crm, link: &OrgLink, rows: Vec<ClaimedWriteback>) -> Answer {
    let records: Vec<Value> = rows.iter().map(|row| record_json(link, row)).collect();
    let request = request_summary(&link.api_version, &records);
    let answer = crm
        .with_worker_session(link, |session| {
            let records = &records;
            async move { crm.salesforce().update_records(&session, records).await }
        })
        .await;
    (rows, answer, request)
}

/// What a Collections call sends, as a record's history tells it: the method and path, how
/// many records, and the fields written (never their values).
fn request_summary(api_version: &str, records: &[Value]) -> String {
    let mut fields: Vec<&str> = records
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|record| record.keys())
        .map(String::as_str)
        .filter(|field| !matches!(*field, "attributes" | "id" | "Id"))
        .collect();
    fields.sort_unstable();
    fields.dedup();
    let noun = if records.len() == 1 {
        "record"
    } else {
        "records"
    };
    format!(
        "PATCH /services/data/v{api_version}/composite/sobjects, {} {noun}, fields {}",
        records.len(),
        fields.join(", ")
    )
}

/// What one call's answer means: for the link, and for each of its rows. A call that failed
/// whole hands its rows back, for the link's wait to settle once every call is in.
fn judge(
    config: &WritebackConfig,
    link: &OrgLink,
    (rows, answer, _): Answer,
    now: i64,
) -> (Verdict, Vec<(ClaimedWriteback, WritebackOutcome)>) {
    match answer {
        Ok(Reply { value, .. }) => {
            let policy = config.record_retry();
            let settled = rows
                .into_iter()
                .zip(value)
                .map(|(row, result)| {
                    let outcome = record_outcome(&row, &result, now, &policy);
                    (row, outcome)
                })
                .collect();
            (Verdict::Answered, settled)
        }
        Err(LinkError::Crm(error @ (CrmError::Transient { .. } | CrmError::SessionExpired))) => {
            let wait = call_backoff(config, link.calls.failures, &error);
            tracing::warn!(org_link = %link.id, code = error.code(), wait_ms = millis(wait), "write-back call failed; the link waits");
            (Verdict::Failed(wait, rows, error), Vec::new())
        }
        Err(LinkError::Crm(
            error @ (CrmError::Permanent { .. } | CrmError::NotFound | CrmError::Deleted),
        )) => {
            let (code, message) = (error.code().to_string(), error.to_string());
            let settled = rows
                .into_iter()
                .map(|row| {
                    let outcome = WritebackOutcome::Refused {
                        code: code.clone(),
                        message: message.clone(),
                    };
                    (row, outcome)
                })
                .collect();
            (Verdict::Stop(error.status().map(i64::from)), settled)
        }
        Err(error) => {
            // The daily limit (`Crm` capped the link already, as it does on every path),
            // unauthorized (the link is now marked so), a configuration problem, or no key:
            // nothing is lost, the rows wait with no attempt spent.
            if !matches!(error, LinkError::Crm(CrmError::LimitExceeded)) {
                tracing::warn!(org_link = %link.id, error = %error, "write-back waits for the org link");
            }
            let settled = rows
                .into_iter()
                .map(|row| (row, WritebackOutcome::Release { run_at: None }))
                .collect();
            (Verdict::Stop(None), settled)
        }
    }
}

/// Adds settled rows to the pass's report; `now` is when Salesforce answered.
fn count(settled: &[(ClaimedWriteback, WritebackOutcome)], report: &mut PassReport, now: i64) {
    for (row, outcome) in settled {
        match outcome {
            WritebackOutcome::Written => {
                report.written += 1;
                report.latencies_ms.push(now - row.changed_at);
            }
            WritebackOutcome::Retry { give_up: false, .. } => report.retried += 1,
            WritebackOutcome::Retry { give_up: true, .. } | WritebackOutcome::Refused { .. } => {
                report.failed += 1
            }
            WritebackOutcome::Release { .. } => {}
        }
    }
}

/// A record that failed on its own comes due again with the others that failed with it,
/// after its own backoff; it keeps its attempt count for giving up.
fn record_outcome(
    row: &ClaimedWriteback,
    result: &RecordResult,
    now: i64,
    policy: &RetryPolicy,
) -> WritebackOutcome {
    if result.success {
        return WritebackOutcome::Written;
    }
    let retry = |error: &CrmError| WritebackOutcome::Retry {
        run_at: now + policy.delay_ms(row.attempts),
        code: error.code().to_string(),
        message: error.to_string(),
        give_up: policy.gives_up_after(row.attempts + 1),
    };
    let Some(first) = result.errors.first() else {
        return retry(&CrmError::Transient {
            code: "UNKNOWN".into(),
            message: "no error given".into(),
            retry_after: None,
            http_status: None,
        });
    };
    match classify(first) {
        error @ CrmError::Transient { .. } => retry(&error),
        _ => WritebackOutcome::Refused {
            code: first.code.clone(),
            message: first.message.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client_status::ClientStatus;

    #[test]
    fn backoff_grows_with_attempts_and_stays_under_the_cap() {
        let config = WritebackConfig {
            min_backoff_seconds: 10,
            max_backoff_seconds: 100,
            ..Default::default()
        };
        let backoff = |failures| config.call_retry().delay(failures);
        let first = backoff(0);
        assert!(
            first >= Duration::from_secs(10) && first <= Duration::from_secs(20),
            "{first:?}"
        );
        assert!(backoff(3) >= Duration::from_secs(80));
        assert!(backoff(30) <= Duration::from_secs(200));
    }

    fn due(at: i64) -> ClaimedWriteback {
        ClaimedWriteback {
            id: uuid::Uuid::now_v7(),
            org_link_id: uuid::Uuid::nil(),
            tenancy_id: uuid::Uuid::nil(),
            client_id: uuid::Uuid::now_v7(),
            sobject: "Contact".into(),
            record_id: "003000000000001".into(),
            status: ClientStatus::Invited,
            version: 1,
            attempts: 0,
            changed_at: at,
            due_at: at,
        }
    }

    #[test]
    fn rows_go_in_the_order_they_came_due_and_a_young_partial_batch_waits() {
        let now = 10_000;
        // 450 rows claimed newest first: two full batches of the oldest, 50 of the newest.
        let claimed: Vec<_> = (0..450).rev().map(|n| due(now - 600 + n)).collect();
        let (sent, lingering) = batches(claimed.clone(), 200, 500, now);
        let sizes: Vec<_> = sent.iter().map(Vec::len).collect();
        assert_eq!(sizes, [200, 200]);
        assert_eq!(lingering.len(), 50);
        assert!(sent[0].iter().all(|row| row.due_at < sent[1][0].due_at));
        assert!(lingering.iter().all(|row| row.due_at >= now - 600 + 400));

        // Once the partial batch's oldest row has been due long enough, it goes too.
        assert_eq!(
            batches_of_len(claimed, now + 1_000),
            (vec![200, 200, 50], 0)
        );

        // Full batches never wait, and nothing claimed is nothing sent.
        let full: Vec<_> = (0..200).map(|_| due(now)).collect();
        assert_eq!(batches_of_len(full, now), (vec![200], 0));
        assert_eq!(batches_of_len(Vec::new(), now), (vec![], 0));
    }

    fn batches_of_len(rows: Vec<ClaimedWriteback>, now: i64) -> (Vec<usize>, usize) {
        let (sent, lingering) = batches(rows, 200, 500, now);
        (sent.iter().map(Vec::len).collect(), lingering.len())
    }
}
