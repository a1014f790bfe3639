//! The inbox worker: applies the record changes Salesforce sent, per record in the order of
//! the record's modification time. Echoes of our own write-back are skipped; a change whose
//! values are invalid fails at once with the reason; a failure of ours (the database) is
//! retried with backoff and then kept as failed for ops to replay.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use uuid::Uuid;

use crate::app;
use crate::clock::to_millis;
use crate::config::InboxConfig;
use crate::crm::inbox::{Decision, decide};
use crate::domain::org_link::OrgLink;
use crate::domain::record_change::{ClaimedChange, RecordEffect};
use crate::store::{self, InboxState, Store};

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

/// Who a change from the CRM acts as in a client's history.
fn actor(link: &OrgLink) -> String {
    match &link.integration_user_id {
        Some(user) => format!("salesforce:{}:{user}", link.id),
        None => format!("salesforce:{}", link.id),
    }
}

/// One pass: claims due changes in batches and settles each batch in bulk where it can.
///
/// A batch is sorted per record by modification time. Echoes, unfollowed objects and changes
/// of records no client is linked to are settled as skipped in one transaction, without a
/// round trip per change. Changes of linked records are applied in groups, one transaction
/// per group of whole records. Records with a deletion or an auto-invite in the batch keep the
/// one-change-at-a-time path, since each change may link or unlink the record for the next.
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
        for item in &claimed {
            if let Entry::Vacant(slot) = links.entry(item.org_link_id) {
                slot.insert(match store.org_link(item.org_link_id, None).await {
                    Ok(link) => Some(link),
                    Err(store::Error::NotFound(_)) => None,
                    Err(e) => return Err(e),
                });
            }
        }
        let plan = plan(store, &links, &claimed).await?;
        store.skip_changes(&plan.skipped, &plan.versions).await?;
        report.skipped += plan.skipped.len();
        for (link, group) in &plan.groups {
            apply_group(store, config, link, group, now, &mut report).await?;
        }
        for (link, item) in plan.one_by_one {
            settle_one(store, config, link, item, now, &mut report).await?;
        }
    }
    Ok(report)
}

/// Linked records' changes applied in one transaction.
struct Group<'a> {
    changes: Vec<(&'a ClaimedChange, RecordEffect)>,
    tenancies: Vec<Uuid>,
}

/// What a batch does, decided with one query per link for the records' links.
struct Plan<'a> {
    skipped: Vec<(Uuid, String)>,
    versions: Vec<(Uuid, String, i64)>,
    groups: Vec<(&'a OrgLink, Group<'a>)>,
    one_by_one: Vec<(&'a OrgLink, &'a ClaimedChange)>,
}

/// Changes applied per transaction on the grouped path: big enough that a commit (an fsync on
/// SQLite) is shared by many records, small enough that the write lock is held briefly.
const GROUP_SIZE: usize = 100;

async fn plan<'a>(
    store: &Store,
    links: &'a HashMap<Uuid, Option<OrgLink>>,
    claimed: &'a [ClaimedChange],
) -> Result<Plan<'a>, store::Error> {
    let mut plan = Plan {
        skipped: Vec::new(),
        versions: Vec::new(),
        groups: Vec::new(),
        one_by_one: Vec::new(),
    };
    // The batch is sorted by link, record and modification time: runs of one link, and
    // within them runs of one record.
    for link_items in claimed.chunk_by(|a, b| a.org_link_id == b.org_link_id) {
        let Some(Some(link)) = links.get(&link_items[0].org_link_id) else {
            plan.skipped.extend(
                link_items
                    .iter()
                    .map(|i| (i.id, "the org link is gone".to_string())),
            );
            continue;
        };
        let mut records: Vec<&str> = link_items
            .iter()
            .map(|i| i.change.record_id.as_str())
            .collect();
        records.dedup();
        let linked = store.linked_tenancies(link.id, &records).await?;
        let mut group = Group {
            changes: Vec::new(),
            tenancies: Vec::new(),
        };
        for items in link_items.chunk_by(|a, b| a.change.record_id == b.change.record_id) {
            let record = &items[0].change.record_id;
            let tenancies = linked.get(record).map(Vec::as_slice).unwrap_or_default();
            let linked_for_invite = match &link.auto_invite {
                Some(auto) => tenancies.contains(&auto.tenancy_id),
                None => true,
            };
            let decisions: Vec<Decision> = items
                .iter()
                .map(|item| decide(link, item, linked_for_invite))
                .collect();
            let sequential = decisions.iter().any(|d| {
                matches!(
                    d,
                    Decision::Invite(_) | Decision::Apply(RecordEffect::Unlink)
                )
            });
            let mut newest = None;
            for (item, decision) in items.iter().zip(decisions) {
                match decision {
                    // Echoes and unfollowed objects change nothing, whatever the record's state.
                    Decision::Skip(why) => plan.skipped.push((item.id, why)),
                    _ if sequential => plan.one_by_one.push((link, item)),
                    Decision::Apply(effect) if !tenancies.is_empty() => {
                        group.changes.push((item, effect));
                    }
                    _ => {
                        plan.skipped
                            .push((item.id, "no client is linked to this record".to_string()));
                        newest = Some(item.change.modstamp);
                    }
                }
            }
            if let Some(modstamp) = newest {
                plan.versions.push((link.id, record.clone(), modstamp));
            }
            if !sequential && !tenancies.is_empty() {
                group.tenancies.extend_from_slice(tenancies);
                if group.changes.len() >= GROUP_SIZE {
                    let full = std::mem::replace(
                        &mut group,
                        Group {
                            changes: Vec::new(),
                            tenancies: Vec::new(),
                        },
                    );
                    plan.groups.push((link, full));
                }
            }
        }
        if !group.changes.is_empty() {
            plan.groups.push((link, group));
        }
    }
    Ok(plan)
}

/// Applies a group of linked records' changes in one transaction; when the database fails
/// the whole group rolls back and each change takes the one-at-a-time path, with its retries.
async fn apply_group(
    store: &Store,
    config: &InboxConfig,
    link: &OrgLink,
    group: &Group<'_>,
    now: i64,
    report: &mut PassReport,
) -> Result<(), store::Error> {
    match app::records::apply_all(store, &group.changes, &group.tenancies, &actor(link)).await {
        Ok(results) => {
            for result in results {
                match result {
                    Ok((InboxState::Skipped, _)) => report.skipped += 1,
                    Ok(_) => report.applied += 1,
                    // Kept as failed with its reason in the group's transaction.
                    Err(_) => report.failed += 1,
                }
            }
            Ok(())
        }
        Err(store::Error::Database(error)) => {
            tracing::warn!(error = %error, changes = group.changes.len(), "applying a group of CRM changes failed; applying them one at a time");
            for (item, _) in &group.changes {
                settle_one(store, config, link, item, now, report).await?;
            }
            Ok(())
        }
        Err(other) => Err(other),
    }
}

/// Applies one change in its own transaction and records the outcome, retrying database
/// failures with backoff.
async fn settle_one(
    store: &Store,
    config: &InboxConfig,
    link: &OrgLink,
    item: &ClaimedChange,
    now: i64,
    report: &mut PassReport,
) -> Result<(), store::Error> {
    match apply(store, link, item).await {
        Ok(Applied::State(InboxState::Skipped)) => report.skipped += 1,
        Ok(Applied::State(_)) => report.applied += 1,
        Ok(Applied::Invited) => {
            report.applied += 1;
            report.invited += 1;
        }
        Err(app::Error::Store(store::Error::Database(error))) => {
            let policy = config.retry();
            let give_up = policy.gives_up_after(item.attempts + 1);
            let delay = policy.delay_ms(item.attempts);
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
        // Invalid values and broken rules do not heal by waiting: a newer change of the
        // record, or ops replaying this one after a fix, will.
        Err(refusal) => {
            store
                .fail_change(item.id, &app::refusal_reason(&refusal), now, true)
                .await?;
            report.failed += 1;
        }
    }
    Ok(())
}

enum Applied {
    State(InboxState),
    Invited,
}

async fn apply(store: &Store, link: &OrgLink, item: &ClaimedChange) -> app::Result<Applied> {
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
            let (state, _) = app::records::apply(store, item, &effect, &actor(link)).await?;
            Ok(Applied::State(state))
        }
        Decision::Invite(invite) => {
            let (auto, details) = *invite;
            app::invites::from_change(store, link, item, &auto, &details, &actor(link)).await?;
            Ok(Applied::Invited)
        }
    }
}
