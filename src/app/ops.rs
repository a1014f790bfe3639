//! Sync health at a glance: per org link its state, the org's API usage and the link's own
//! calls against its share; each queue's depth, oldest item, failures and throughput; each
//! worker's last pass. Who sees what is decided here, before the store runs: operators see
//! everything; a system administrator the links serving their tenancy and their tenancy's
//! items (of a link shared with other tenancies, only what concerns theirs, as the org-link API
//! shows it); other staff are refused, as the org-link API refuses them.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Error, Result};
use crate::clock::to_millis;
use crate::domain::ops::{
    HOURS, Health, Level, LinkHealth, LinkShare, OrgUsage, Queue, QueueHealth, Thresholds, Worker,
    WorkerHealth, hour_of, hourly,
};
use crate::domain::org_link::OrgLink;
use crate::domain::user::StaffRole;
use crate::store::ops::Scope;
use crate::store::{Actor, PageRequest, Store};

/// Who asks, as far as sync health is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Viewer {
    Operator,
    /// A system administrator of this tenancy.
    Administrator(Uuid),
}

impl Viewer {
    fn of(actor: &Actor) -> Result<Self> {
        match actor {
            Actor::Operator { .. } => Ok(Self::Operator),
            Actor::Staff {
                tenancy_id,
                role: StaffRole::SystemAdministrator,
                ..
            } => Ok(Self::Administrator(*tenancy_id)),
            Actor::Staff { .. } => Err(Error::Forbidden(
                "only operators and system administrators see sync health".into(),
            )),
        }
    }

    fn tenancy(self) -> Option<Uuid> {
        match self {
            Self::Operator => None,
            Self::Administrator(tenancy) => Some(tenancy),
        }
    }

    /// Whether the viewer manages the link as a whole (and so sees its inbox, which belongs to
    /// no one tenancy, and may pause it).
    fn manages(self, link: &OrgLink) -> bool {
        match self {
            Self::Operator => true,
            Self::Administrator(own) => link.tenancies == [own],
        }
    }
}

/// The health of everything `actor` may see, with levels from `thresholds`.
pub async fn health(store: &Store, thresholds: &Thresholds, actor: &Actor) -> Result<Health> {
    let viewer = Viewer::of(actor)?;
    let now = store.clock().now();
    let now_ms = to_millis(now);
    let since_hour = hour_of(now_ms) - HOURS + 1;
    let tenancy = viewer.tenancy();
    let page = PageRequest {
        limit: PageRequest::MAX_LIMIT,
        after: None,
    };
    let links = store.list_org_links(tenancy, &page).await?.items;

    let mut link_health = Vec::with_capacity(links.len());
    let mut queues = Vec::new();
    for link in &links {
        let calls = store.api_calls_by_hour(link.id, since_hour).await?;
        link_health.push(link_health_of(
            link,
            hourly(now_ms, &calls),
            viewer,
            thresholds,
        ));
        let named = Some((link.id, link.name.clone()));
        let scope = Scope {
            link: Some(link.id),
            tenancy,
        };
        let mut link_queues = vec![Queue::Writebacks];
        if viewer.manages(link) {
            link_queues.push(Queue::Inbox);
        }
        for queue in link_queues {
            let counts = store.queue_counts(queue, scope).await?;
            let named = named.clone();
            queues.push(QueueHealth::new(queue, named, counts, now_ms, thresholds));
        }
    }
    let scope = Scope {
        link: None,
        tenancy,
    };
    for queue in [
        Queue::InvitationEmails,
        Queue::StaffNotifications,
        Queue::LinkNotices,
    ] {
        let counts = store.queue_counts(queue, scope).await?;
        queues.push(QueueHealth::new(queue, None, counts, now_ms, thresholds));
    }
    let workers = workers(store, thresholds, viewer, now, since_hour).await?;
    let level = link_health
        .iter()
        .map(|l| l.level)
        .chain(queues.iter().map(|q| q.level))
        .chain(workers.iter().map(|w| w.level))
        .max()
        .unwrap_or(Level::Ok);
    Ok(Health {
        at: now,
        level,
        links: link_health,
        queues,
        workers,
    })
}

fn link_health_of(
    link: &OrgLink,
    calls_per_hour: Vec<i64>,
    viewer: Viewer,
    thresholds: &Thresholds,
) -> LinkHealth {
    let org_usage = link.api_usage.as_ref().map(|u| {
        let percent = if u.max > 0 { u.used * 100 / u.max } else { 0 };
        OrgUsage {
            used: u.used,
            max: u.max,
            percent,
            level: thresholds.usage(percent),
            checked_at: u.checked_at,
        }
    });
    let share = LinkShare::new(
        calls_per_hour,
        link.api_budget_percent,
        link.api_usage.as_ref().map(|u| u.max),
        thresholds,
    );
    let level = thresholds
        .link_state(link.state)
        .max(share.level)
        .max(org_usage.as_ref().map_or(Level::Ok, |u| u.level));
    LinkHealth {
        id: link.id,
        name: link.name.clone(),
        state: link.state,
        state_reason: link.state_reason.clone(),
        level,
        org_usage,
        share,
        manageable: viewer.manages(link),
    }
}

/// Every worker's last pass. The workers serve every tenancy: an administrator sees whether
/// they pass, not why one failed nor how much they did for others.
async fn workers(
    store: &Store,
    thresholds: &Thresholds,
    viewer: Viewer,
    now: OffsetDateTime,
    since_hour: i64,
) -> Result<Vec<WorkerHealth>> {
    let passes = store.worker_passes().await?;
    let any_passed = !passes.is_empty();
    let mut found = Vec::with_capacity(Worker::ALL.len());
    for worker in Worker::ALL {
        let pass = passes.iter().find(|p| p.worker == worker);
        let mut health = WorkerHealth::new(worker, pass, any_passed, now, thresholds);
        if viewer == Viewer::Operator {
            let hours = store.worker_hours(worker, since_hour).await?;
            let now_ms = to_millis(now);
            let done: Vec<(i64, i64)> = hours.iter().map(|(h, d, _)| (*h, *d)).collect();
            let failed: Vec<(i64, i64)> = hours.iter().map(|(h, _, f)| (*h, *f)).collect();
            health.done_per_hour = hourly(now_ms, &done);
            health.failed_per_hour = hourly(now_ms, &failed);
        } else {
            health.error = None;
        }
        found.push(health);
    }
    Ok(found)
}
