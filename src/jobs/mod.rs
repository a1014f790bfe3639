//! Background work. Each job is a function that does one pass and reports what it did (tests
//! call it directly, with a clock they move), plus a thin loop that runs passes until shutdown.

pub mod inbox;
pub mod invitations;
pub mod link_notices;
pub mod writeback;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use crate::config::{InboxConfig, InvitationConfig, WritebackConfig};
use crate::crm::Crm;
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
/// logged and the round going on. True when any of them found work, so the loop goes again
/// at once instead of idling.
pub async fn round(workers: &Workers) -> bool {
    let mut busy = false;
    match invitations::pass(
        &workers.store,
        workers.mailer.as_ref(),
        &workers.invitations,
        &workers.link_base_url,
    )
    .await
    {
        Ok(report) => busy |= report.due > 0,
        Err(error) => tracing::error!(error = %error, "invitation pass failed"),
    }
    match link_notices::pass(
        &workers.store,
        workers.mailer.as_ref(),
        &workers.invitations,
        &workers.link_base_url,
    )
    .await
    {
        Ok(due) => busy |= due > 0,
        Err(error) => tracing::error!(error = %error, "link notice pass failed"),
    }
    match inbox::pass(&workers.store, &workers.inbox).await {
        Ok(report) => busy |= report.claimed > 0,
        Err(error) => tracing::error!(error = %error, "inbox pass failed"),
    }
    match writeback::pass(&workers.crm, &workers.store, &workers.writeback).await {
        Ok(report) => busy |= report.full_batches > 0,
        Err(error) => tracing::error!(error = %error, "write-back pass failed"),
    }
    busy
}

/// Runs the workers until `shutdown` turns true, then finishes the round in progress.
pub async fn run(workers: Workers, mut shutdown: watch::Receiver<bool>) {
    let idle = Duration::from_millis(
        workers
            .writeback
            .poll_interval_ms
            .min(workers.invitations.poll_interval_ms),
    );
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
