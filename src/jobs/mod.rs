//! Background work. Each job is a function that does one pass and reports what it did (tests
//! call it directly, with a clock they move), plus a thin loop that runs passes until shutdown.

pub mod inbox;
pub mod invitations;
pub mod link_notices;
pub mod writeback;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::clock::to_millis;
use crate::config::{InboxConfig, InvitationConfig, WritebackConfig};
use crate::crm::Crm;
use crate::domain::ops::{PassRecord, Worker};
use crate::mail::Mailer;
use crate::store::Store;

/// What the workers need.
pub struct Workers {
    pub store: Store,
    pub crm: Arc<Crm>,
    pub mailer: Arc<dyn Mailer>,
    pub writeback: WritebackConfig,
    pub invitations: InvitationConfig,
    pub inbox: InboxConfig,
    pub link_base_url: String,
    /// Requests that made work due now wake the loop early.
    pub wake: Arc<Notify>,
}

/// One round of every worker: a re-send pass, link notices, an inbox pass and a write-back pass, each failure
/// logged and the round going on. Each pass is recorded (one upsert per worker) with the store's
/// clock, for sync health. True when any of them found work, so the loop goes again at once
/// instead of idling.
pub async fn round(workers: &Workers) -> bool {
    let mut busy = false;
    let started = workers.now();
    let pass = invitations::pass(
        &workers.store,
        workers.mailer.as_ref(),
        &workers.invitations,
        &workers.link_base_url,
    )
    .await;
    let counts = match &pass {
        Ok(report) => {
            busy |= report.due > 0;
            ((report.sent + report.notified) as i64, report.failed as i64)
        }
        Err(error) => {
            tracing::error!(error = %error, "invitation pass failed");
            (0, 0)
        }
    };
    workers
        .record(Worker::Invitations, started, counts, pass.as_ref().err())
        .await;

    let started = workers.now();
    let pass = link_notices::pass(
        &workers.store,
        workers.mailer.as_ref(),
        &workers.invitations,
        &workers.link_base_url,
    )
    .await;
    let counts = match &pass {
        Ok(due) => {
            busy |= *due > 0;
            (*due as i64, 0)
        }
        Err(error) => {
            tracing::error!(error = %error, "link notice pass failed");
            (0, 0)
        }
    };
    workers
        .record(Worker::LinkNotices, started, counts, pass.as_ref().err())
        .await;

    let started = workers.now();
    let pass = inbox::pass(&workers.store, &workers.inbox).await;
    let counts = match &pass {
        Ok(report) => {
            busy |= report.claimed > 0;
            (
                (report.applied + report.skipped) as i64,
                report.failed as i64,
            )
        }
        Err(error) => {
            tracing::error!(error = %error, "inbox pass failed");
            (0, 0)
        }
    };
    workers
        .record(Worker::Inbox, started, counts, pass.as_ref().err())
        .await;

    let started = workers.now();
    let pass = writeback::pass(&workers.crm, &workers.store, &workers.writeback).await;
    let counts = match &pass {
        Ok(report) => {
            busy |= report.full_batches > 0;
            (report.written as i64, report.failed as i64)
        }
        Err(error) => {
            tracing::error!(error = %error, "write-back pass failed");
            (0, 0)
        }
    };
    workers
        .record(Worker::Writeback, started, counts, pass.as_ref().err())
        .await;
    busy
}

impl Workers {
    /// The loop's wait between rounds when none found work.
    pub fn idle(&self) -> Duration {
        Duration::from_millis(
            self.writeback
                .poll_interval_ms
                .min(self.invitations.poll_interval_ms),
        )
    }

    fn now(&self) -> i64 {
        to_millis(self.store.clock().now())
    }

    /// Records a pass, with `(done, failed)` items and the error it failed with, if it did.
    /// A record that cannot be written is logged and the round goes on.
    async fn record(
        &self,
        worker: Worker,
        started_at: i64,
        (done, failed): (i64, i64),
        error: Option<&crate::store::Error>,
    ) {
        let finished_at = self.now();
        let idle = i64::try_from(self.idle().as_millis()).unwrap_or(i64::MAX / 4);
        let pass = PassRecord {
            worker,
            started_at,
            finished_at,
            next_run_at: finished_at + idle,
            error: error.map(|e| PassRecord::summary(&e.to_string())),
            done,
            failed,
        };
        if let Err(error) = self.store.record_pass(&pass).await {
            tracing::error!(error = %error, worker = worker.as_str(), "a worker's pass was not recorded");
        }
    }
}

/// Runs the workers until `shutdown` turns true, then finishes the round in progress.
pub async fn run(workers: Workers, mut shutdown: watch::Receiver<bool>) {
    let idle = workers.idle();
    loop {
        let busy = round(&workers).await;
        if *shutdown.borrow() {
            break;
        }
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = workers.wake.notified() => {}
                _ = shutdown.changed() => break,
            }
        }
    }
    tracing::info!("workers stopped");
}
