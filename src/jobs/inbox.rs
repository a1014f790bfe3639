//! The inbox worker: applies the record changes Salesforce sent, per record in the order of
//! the record's modification time. Echoes of our own write-back are skipped; a change whose
//! values are invalid fails at once with the reason; a failure of ours (the database) is
//! retried with backoff and then kept as failed for ops to replay.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::to_millis;
use crate::crm::intake::{Decision, decide};
use crate::store::{self, ClaimedChange, InboxState, OrgLink, Store};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxConfig {
    /// Changes claimed per batch.
    pub batch_size: i64,
    /// Batches per pass, so the other workers get their turn.
    pub batches_per_pass: usize,
    /// Tries of a change that fails for a passing reason before it is kept as failed.
    pub max_attempts: i64,
    pub min_backoff_seconds: u64,
    pub max_backoff_seconds: u64,
}

impl Default for InboxConfig {
    fn default() -> Self {
        Self {
            batch_size: 200,
            batches_per_pass: 10,
            max_attempts: 8,
            min_backoff_seconds: 10,
            max_backoff_seconds: 3600,
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PassReport {
    pub claimed: usize,
    pub applied: usize,
    pub skipped: usize,
    pub retried: usize,
    pub failed: usize,
    pub invited: usize,
}

/// The delay before retry number `attempt` (0-based): exponential with jitter.
fn backoff(config: &InboxConfig, attempt: i64) -> Duration {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(config.min_backoff_seconds))
        .with_max_delay(Duration::from_secs(config.max_backoff_seconds))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
        .nth(usize::try_from(attempt).unwrap_or(0))
        .unwrap_or(Duration::from_secs(config.max_backoff_seconds))
}

/// Who a change from the CRM acts as in a client's history.
fn actor(link: &OrgLink) -> String {
    match &link.integration_user_id {
        Some(user) => format!("salesforce:{}:{user}", link.id),
        None => format!("salesforce:{}", link.id),
    }
}

/// A reason for ops, from a store refusal.
fn reason(error: &store::Error) -> String {
    match error {
        store::Error::Invalid(errors) => errors
            .iter()
            .map(|e| format!("{} {}", e.field, e.reason))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// One pass: claims due changes in batches and applies each.
pub async fn pass(store: &Store, config: &InboxConfig) -> Result<PassReport, store::Error> {
    let mut report = PassReport::default();
    let mut links: HashMap<Uuid, Option<OrgLink>> = HashMap::new();
    for _ in 0..config.batches_per_pass.max(1) {
        let now = to_millis(store.clock().now());
        let claimed = store.claim_changes(now, config.batch_size.max(1)).await?;
        if claimed.is_empty() {
            break;
        }
        report.claimed += claimed.len();
        for item in claimed {
            if let Entry::Vacant(slot) = links.entry(item.org_link_id) {
                slot.insert(match store.org_link(item.org_link_id, None).await {
                    Ok(link) => Some(link),
                    Err(store::Error::NotFound(_)) => None,
                    Err(e) => return Err(e),
                });
            }
            let Some(Some(link)) = links.get(&item.org_link_id) else {
                store.skip_change(item.id, "the org link is gone").await?;
                report.skipped += 1;
                continue;
            };
            let result = apply(store, link, &item).await;
            match result {
                Ok(Applied::State(InboxState::Skipped)) => report.skipped += 1,
                Ok(Applied::State(_)) => report.applied += 1,
                Ok(Applied::Invited) => {
                    report.applied += 1;
                    report.invited += 1;
                }
                Err(store::Error::Database(error)) => {
                    let give_up = item.attempts + 1 >= config.max_attempts;
                    let delay = i64::try_from(backoff(config, item.attempts).as_millis())
                        .unwrap_or(i64::MAX / 2);
                    tracing::warn!(error = %error, inbox_item = %item.id, give_up, "applying a CRM change failed");
                    store
                        .fail_change(
                            item.id,
                            "the database failed; will retry",
                            now + delay,
                            give_up,
                        )
                        .await?;
                    if give_up {
                        report.failed += 1;
                    } else {
                        report.retried += 1;
                    }
                }
                // Invalid values and broken rules do not heal by waiting: a newer change of
                // the record, or ops replaying this one after a fix, will.
                Err(refusal) => {
                    store
                        .fail_change(item.id, &reason(&refusal), now, true)
                        .await?;
                    report.failed += 1;
                }
            }
        }
    }
    Ok(report)
}

enum Applied {
    State(InboxState),
    Invited,
}

async fn apply(
    store: &Store,
    link: &OrgLink,
    item: &ClaimedChange,
) -> Result<Applied, store::Error> {
    let linked = match &link.auto_invite {
        Some(auto) => {
            store
                .record_is_linked(link.id, &item.change.record_id, auto.tenancy_id)
                .await?
        }
        None => true,
    };
    match decide(link, item, linked) {
        Decision::Skip(why) => {
            store.skip_change(item.id, &why).await?;
            Ok(Applied::State(InboxState::Skipped))
        }
        Decision::Apply(effect) => {
            let (state, _) = store.apply_change(item, &effect, &actor(link)).await?;
            Ok(Applied::State(state))
        }
        Decision::Invite(invite) => {
            let (auto, details) = *invite;
            store
                .invite_from_change(link, item, &auto, &details, &actor(link))
                .await?;
            Ok(Applied::Invited)
        }
    }
}
