//! Background work. Each job is a function that does one pass and reports what it did (tests
//! call it directly, with a clock they move), plus a thin loop that runs passes until shutdown.

pub mod writeback;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::crm::Crm;
use crate::store::Store;

/// Runs the workers until `shutdown` turns true, then finishes the pass in progress.
pub async fn run(
    store: Store,
    crm: Arc<Crm>,
    config: writeback::WritebackConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let idle = Duration::from_millis(config.poll_interval_ms);
    loop {
        let busy = match writeback::pass(&crm, &store, &config).await {
            Ok(report) => report.full_batches > 0,
            Err(error) => {
                tracing::error!(error = %error, "write-back pass failed");
                false
            }
        };
        if *shutdown.borrow() {
            break;
        }
        if !busy {
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = shutdown.changed() => break,
            }
        }
    }
    tracing::info!("workers stopped");
}
