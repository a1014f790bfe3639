//! Acting on failures: retry one item, retry every failed item a filter matches, dismiss one
//! with a reason. Who may act on which items is decided by the caller before the store runs
//! (`scope`: `None` for operators, or the one tenancy a system administrator manages); each
//! change is audited in its own transaction.

use serde_json::json;
use uuid::Uuid;

use super::Result;
use super::audit;
use crate::domain::audit::{Action, Actor, Change, Event, Target, TargetKind};
use crate::domain::failure::{DismissReason, FailureQueue};
use crate::store::Store;
use crate::store::failures::{self, FailureFilter, FailureItem};

fn target_kind(queue: FailureQueue) -> TargetKind {
    match queue {
        FailureQueue::Writebacks => TargetKind::Writeback,
        FailureQueue::Inbox => TargetKind::InboxItem,
        FailureQueue::Emails => TargetKind::EmailDelivery,
    }
}

/// Retries one item now; answers it as it is after the retry.
pub async fn retry(
    store: &Store,
    queue: FailureQueue,
    id: Uuid,
    scope: Option<Uuid>,
    actor: &Actor,
) -> Result<FailureItem> {
    let mut tx = store.write_tx().await?;
    let before = failures::retry(&mut tx, queue, id, scope, store.now()).await?;
    let event = Event {
        tenancy: before.tenancy_id.or(scope),
        actor: actor.clone(),
        action: Action::FailureRetried,
        target: Target {
            kind: target_kind(queue),
            id,
        },
        change: Change::new().diff("state", &before.state, &"retried".to_string()),
    };
    audit::record(store, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(store.failure(queue, id, scope).await?)
}

/// Dismisses one failed or waiting item with the reason given; answers it as it is after.
pub async fn dismiss(
    store: &Store,
    queue: FailureQueue,
    id: Uuid,
    scope: Option<Uuid>,
    reason: &DismissReason,
    actor: &Actor,
) -> Result<FailureItem> {
    let mut tx = store.write_tx().await?;
    let before = failures::dismiss(&mut tx, queue, id, scope, reason, store.now()).await?;
    let event = Event {
        tenancy: before.tenancy_id.or(scope),
        actor: actor.clone(),
        action: Action::FailureDismissed,
        target: Target {
            kind: target_kind(queue),
            id,
        },
        change: Change::new()
            .diff("state", &before.state, &"dismissed".to_string())
            .set("reason", &reason.as_str()),
    };
    audit::record(store, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(store.failure(queue, id, scope).await?)
}

/// Retries every failed item the filter matches; one audit entry names the filter and the
/// count (none when nothing matched). Answers the count.
pub async fn retry_matching(
    store: &Store,
    queue: FailureQueue,
    filter: &FailureFilter,
    scope: Option<Uuid>,
    actor: &Actor,
) -> Result<u64> {
    let mut tx = store.write_tx().await?;
    let count = failures::retry_matching(&mut tx, queue, filter, scope, store.now()).await?;
    if count > 0 {
        let described = json!({
            "queue": queue.as_str(),
            "org_link_id": filter.org_link,
            "tenancy_id": filter.tenancy,
            "code": filter.code,
            "older_than_minutes": filter.older_than_minutes,
        });
        let event = Event {
            tenancy: scope.or(filter.tenancy),
            actor: actor.clone(),
            action: Action::FailuresRetried,
            target: Target {
                kind: target_kind(queue),
                id: filter.org_link.unwrap_or(Uuid::nil()),
            },
            change: Change::new().set("filter", &described).set("count", &count),
        };
        audit::record(store, &mut tx, &event).await?;
    }
    tx.commit().await?;
    Ok(count)
}
