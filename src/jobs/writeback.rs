//! The write-back worker: sends each org's due status changes to Salesforce, up to 200 records
//! per sObject Collections call with `allOrNone: false`, and settles each record on its own.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;

use crate::clock::{from_millis, to_millis};
use crate::config::WritebackConfig;
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

/// The link's wait after its call failed `failures` times in a row (0-based): exponential
/// with jitter, so links and instances that failed together do not come back together.
pub fn backoff(config: &WritebackConfig, failures: i64) -> Duration {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(config.min_backoff_seconds))
        .with_max_delay(Duration::from_secs(config.max_backoff_seconds))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
        .nth(usize::try_from(failures).unwrap_or(0))
        .unwrap_or(Duration::from_secs(config.max_backoff_seconds))
}

/// A record's wait before retry number `attempt` (0-based) after a transient failure of its
/// own: exponential without jitter, so records that failed together come due together and
/// go out in one batch.
pub fn record_backoff(config: &WritebackConfig, attempt: i64) -> Duration {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(config.min_backoff_seconds))
        .with_max_delay(Duration::from_secs(config.max_backoff_seconds))
        .with_factor(2.0)
        .without_max_times()
        .build()
        .nth(usize::try_from(attempt).unwrap_or(0))
        .unwrap_or(Duration::from_secs(config.max_backoff_seconds))
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
        for _ in 0..config.batches_per_link.max(1) {
            let limit = i64::try_from(config.batch_size.clamp(1, COLLECTION_LIMIT)).unwrap_or(200);
            let claimed = store.claim_writebacks(link.id, now, limit).await?;
            if claimed.is_empty() {
                break;
            }
            let full = claimed.len() as i64 == limit;
            let linger = i64::try_from(config.linger_ms).unwrap_or(0);
            let oldest = claimed.iter().map(|row| row.due_at).min().unwrap_or(now);
            if !full && now - oldest < linger {
                let release = claimed
                    .into_iter()
                    .map(|row| (row, WritebackOutcome::Release { run_at: None }));
                store
                    .settle_writebacks(&release.collect::<Vec<_>>())
                    .await?;
                break;
            }
            let stop = send_batch(crm, store, config, &link, claimed, &mut report).await?;
            if full {
                report.full_batches += 1;
            }
            if stop || !full {
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
    match error.retry_after() {
        Some(after) => after.max(Duration::from_secs(config.min_backoff_seconds)),
        None => backoff(config, failures),
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

/// Sends one batch and settles each row. Returns true when the link should not be called
/// again in this pass.
async fn send_batch(
    crm: &Crm,
    store: &Store,
    config: &WritebackConfig,
    link: &OrgLink,
    claimed: Vec<ClaimedWriteback>,
    report: &mut PassReport,
) -> Result<bool, store::Error> {
    let records: Vec<Value> = claimed.iter().map(|row| record_json(link, row)).collect();
    let answer = crm
        .with_worker_session(link, |session| {
            let records = &records;
            async move { crm.salesforce().update_records(&session, records).await }
        })
        .await;
    report.calls += 1;
    let now = to_millis(store.clock().now());
    // A record that failed on its own comes due again with the others that failed with it,
    // after its own backoff; it keeps its attempt count for giving up.
    let retry = |row: &ClaimedWriteback, error: &CrmError| WritebackOutcome::Retry {
        run_at: now + millis(record_backoff(config, row.attempts)),
        code: error.code().to_string(),
        message: error.to_string(),
        give_up: row.attempts + 1 >= config.max_attempts,
    };
    let (settled, stop): (Vec<_>, bool) = match answer {
        Ok(Reply { value, .. }) => {
            if link.calls != CallSchedule::default() {
                store.link_call_succeeded(link.id).await?;
            }
            let settled = claimed
                .into_iter()
                .zip(value)
                .map(|(row, result)| {
                    let outcome = record_outcome(&row, &result, &retry);
                    (row, outcome)
                })
                .collect();
            (settled, false)
        }
        Err(LinkError::Crm(CrmError::LimitExceeded)) => {
            // `Crm` capped the link already, as it does on every path; the rows wait with no
            // attempt spent.
            (
                claimed
                    .into_iter()
                    .map(|row| (row, WritebackOutcome::Release { run_at: None }))
                    .collect(),
                true,
            )
        }
        Err(LinkError::Crm(error @ (CrmError::Transient { .. } | CrmError::SessionExpired))) => {
            // The whole call failed: the link waits, and its rows come due when it may be
            // called again, to go out with the fresh ones in full batches.
            let next = now + millis(call_backoff(config, link.calls.failures, &error));
            tracing::warn!(org_link = %link.id, code = error.code(), wait_ms = next - now, "write-back call failed; the link waits");
            store.link_call_failed(link.id, next).await?;
            (
                claimed
                    .into_iter()
                    .map(|row| {
                        let outcome = WritebackOutcome::Retry {
                            run_at: next,
                            code: error.code().to_string(),
                            message: error.to_string(),
                            give_up: row.attempts + 1 >= config.max_attempts,
                        };
                        (row, outcome)
                    })
                    .collect(),
                true,
            )
        }
        Err(LinkError::Crm(
            error @ (CrmError::Permanent { .. } | CrmError::NotFound | CrmError::Deleted),
        )) => {
            let (code, message) = (error.code().to_string(), error.to_string());
            let settled = claimed
                .into_iter()
                .map(|row| {
                    (
                        row,
                        WritebackOutcome::Refused {
                            code: code.clone(),
                            message: message.clone(),
                        },
                    )
                })
                .collect();
            (settled, true)
        }
        Err(error) => {
            // Unauthorized (the link is now marked so), a configuration problem, or no key:
            // nothing is lost, the rows wait for the link to be fixed.
            tracing::warn!(org_link = %link.id, error = %error, "write-back waits for the org link");
            (
                claimed
                    .into_iter()
                    .map(|row| (row, WritebackOutcome::Release { run_at: None }))
                    .collect(),
                true,
            )
        }
    };
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
    Ok(stop)
}

fn record_outcome(
    row: &ClaimedWriteback,
    result: &RecordResult,
    retry: &impl Fn(&ClaimedWriteback, &CrmError) -> WritebackOutcome,
) -> WritebackOutcome {
    if result.success {
        return WritebackOutcome::Written;
    }
    let Some(first) = result.errors.first() else {
        return retry(
            row,
            &CrmError::Transient {
                code: "UNKNOWN".into(),
                message: "no error given".into(),
                retry_after: None,
            },
        );
    };
    let error = classify(first);
    match error {
        CrmError::Transient { .. } => retry(row, &error),
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
        let first = backoff(&config, 0);
        assert!(
            first >= Duration::from_secs(10) && first <= Duration::from_secs(20),
            "{first:?}"
        );
        assert!(backoff(&config, 3) >= Duration::from_secs(80));
        assert!(backoff(&config, 30) <= Duration::from_secs(200));
    }
}
