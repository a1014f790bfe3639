//! The write-back worker: sends each org's due status changes to Salesforce, up to 200 records
//! per sObject Collections call with `allOrNone: false`, and settles each record on its own.

use std::time::Duration;

use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;

use crate::clock::{from_millis, to_millis};
use crate::config::{RetryPolicy, WritebackConfig};
use crate::crm::client::{RecordResult, Reply};
use crate::crm::error::{CrmError, classify};
use crate::crm::{Crm, LinkError};
use crate::domain::client_status::ClientStatus;
use crate::domain::org_link::{COLLECTION_LIMIT, FieldMapping};
use crate::store::{
    self, CallSchedule, ClaimedWriteback, LinkState, OrgLink, Store, WritebackOutcome,
};

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
        let limit = config.batch_size.clamp(1, COLLECTION_LIMIT);
        let mut calls_left = config.batches_per_link.max(1);
        while calls_left > 0 {
            let want = config.concurrent_calls.clamp(1, calls_left);
            let claimed = store
                .claim_writebacks(link.id, now, i64::try_from(limit * want).unwrap_or(200))
                .await?;
            if claimed.is_empty() {
                break;
            }
            let (batches, lingering) = batches(claimed, limit, config.linger_ms, now);
            let waited = !lingering.is_empty();
            if waited {
                let release = lingering
                    .into_iter()
                    .map(|row| (row, WritebackOutcome::Release { run_at: None }));
                store
                    .settle_writebacks(&release.collect::<Vec<_>>())
                    .await?;
            }
            if batches.is_empty() {
                break;
            }
            calls_left = calls_left.saturating_sub(batches.len());
            let full = batches.iter().filter(|batch| batch.len() == limit).count();
            let all_full = full == batches.len();
            let stop = send_batches(crm, store, config, &link, batches, &mut report).await?;
            report.full_batches += full;
            if stop || waited || !all_full {
                break;
            }
        }
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
    let wb = &link.field_mapping.write_back;
    let field = |name: &str| FieldMapping::write_back_field(&row.sobject, name);
    let mut record = Map::new();
    record.insert("attributes".into(), json!({ "type": row.sobject }));
    record.insert("id".into(), json!(row.record_id));
    record.insert(field(&wb.status), json!(row.status.as_str()));
    if let Some(name) = &wb.client_id {
        record.insert(field(name), json!(row.client_id.to_string()));
    }
    if let Some(name) = &wb.tenancy {
        record.insert(field(name), json!(row.tenancy_id.to_string()));
    }
    if let Some(name) = &wb.invited_at
        && row.status == ClientStatus::Invited
        && let Ok(at) = from_millis(row.changed_at).format(&Rfc3339)
    {
        record.insert(field(name), json!(at));
    }
    Value::Object(record)
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
    Answered,
    /// The whole call failed transiently: the link waits this long.
    Failed(Duration),
    /// The link cannot be called now (capped, unauthorized, misconfigured) or the batch was
    /// refused whole: no further call in this pass.
    Stop,
}

/// Sends a link's batches as concurrent Collections calls, then settles every row in one
/// transaction. After a failed call the link waits once, for the longest wait any failure
/// asked, and the failed rows come due together then. Returns true when the link should not
/// be called again in this pass.
async fn send_batches(
    crm: &Crm,
    store: &Store,
    config: &WritebackConfig,
    link: &OrgLink,
    batches: Vec<Vec<ClaimedWriteback>>,
    report: &mut PassReport,
) -> Result<bool, store::Error> {
    let answers = futures::future::join_all(batches.into_iter().map(|rows| async move {
        let records: Vec<Value> = rows.iter().map(|row| record_json(link, row)).collect();
        let answer = crm
            .with_worker_session(link, |session| {
                let records = &records;
                async move { crm.salesforce().update_records(&session, records).await }
            })
            .await;
        (rows, answer)
    }))
    .await;
    report.calls += answers.len();
    let now = to_millis(store.clock().now());
    let policy = config.record_retry();
    let mut verdicts = Vec::with_capacity(answers.len());
    let mut settled = Vec::new();
    let mut failed_calls = Vec::new();
    for (rows, answer) in answers {
        match answer {
            Ok(Reply { value, .. }) => {
                verdicts.push(Verdict::Answered);
                settled.extend(rows.into_iter().zip(value).map(|(row, result)| {
                    let outcome = record_outcome(&row, &result, now, &policy);
                    (row, outcome)
                }));
            }
            Err(LinkError::Crm(
                error @ (CrmError::Transient { .. } | CrmError::SessionExpired),
            )) => {
                let wait = call_backoff(config, link.calls.failures, &error);
                tracing::warn!(org_link = %link.id, code = error.code(), wait_ms = millis(wait), "write-back call failed; the link waits");
                verdicts.push(Verdict::Failed(wait));
                failed_calls.push((rows, error));
            }
            Err(LinkError::Crm(
                error @ (CrmError::Permanent { .. } | CrmError::NotFound | CrmError::Deleted),
            )) => {
                verdicts.push(Verdict::Stop);
                let (code, message) = (error.code().to_string(), error.to_string());
                settled.extend(rows.into_iter().map(|row| {
                    let outcome = WritebackOutcome::Refused {
                        code: code.clone(),
                        message: message.clone(),
                    };
                    (row, outcome)
                }));
            }
            Err(error) => {
                // The daily limit (`Crm` capped the link already, as it does on every path),
                // unauthorized (the link is now marked so), a configuration problem, or no
                // key: nothing is lost, the rows wait with no attempt spent.
                if !matches!(error, LinkError::Crm(CrmError::LimitExceeded)) {
                    tracing::warn!(org_link = %link.id, error = %error, "write-back waits for the org link");
                }
                verdicts.push(Verdict::Stop);
                settled.extend(
                    rows.into_iter()
                        .map(|row| (row, WritebackOutcome::Release { run_at: None })),
                );
            }
        }
    }
    let wait = verdicts
        .iter()
        .filter_map(|verdict| match verdict {
            Verdict::Failed(wait) => Some(*wait),
            _ => None,
        })
        .max();
    if let Some(wait) = wait {
        // The whole call failed: the link waits, and its rows come due when it may be called
        // again, to go out with the fresh ones in full batches.
        let next = now + millis(wait);
        store.link_call_failed(link.id, next).await?;
        for (rows, error) in failed_calls {
            settled.extend(rows.into_iter().map(|row| {
                let outcome = WritebackOutcome::Retry {
                    run_at: next,
                    code: error.code().to_string(),
                    message: error.to_string(),
                    give_up: policy.gives_up_after(row.attempts + 1),
                };
                (row, outcome)
            }));
        }
    } else if verdicts.iter().any(|v| matches!(v, Verdict::Answered))
        && link.calls != CallSchedule::default()
    {
        store.link_call_succeeded(link.id).await?;
    }
    for (row, outcome) in &settled {
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
    store.settle_writebacks(&settled).await?;
    Ok(verdicts.iter().any(|v| !matches!(v, Verdict::Answered)))
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
