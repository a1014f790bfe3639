//! Totals of events the database keeps for good, read for `/metrics` as counters: they survive
//! restarts and every instance reports the same numbers. Each is one grouped count.

use uuid::Uuid;

use super::{Result, Store, rows};

/// Event totals, each grouped by a column of a few fixed values (or by org link).
#[derive(Debug, Clone, Default)]
pub struct EventTotals {
    /// E-mail attempts by outcome as the attempt history words it (sent, retry, failed).
    pub email_attempts: Vec<(String, i64)>,
    /// Client status moves as (from, to, count); `from` is absent for a client's first status.
    pub status_moves: Vec<(Option<String>, String, i64)>,
    /// Salesforce API calls made per org link, ever.
    pub api_calls: Vec<(Uuid, i64)>,
    /// Items each worker finished and gave up on, ever, as (worker, done, failed).
    pub worker_items: Vec<(String, i64, i64)>,
}

impl Store {
    /// Every total of `EventTotals`: four grouped counts.
    pub async fn event_totals(&self) -> Result<EventTotals> {
        let email_attempts = sqlx::query(
            "SELECT outcome, COUNT(*) AS n FROM queue_attempts WHERE queue = 'email' GROUP BY outcome",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| Ok((rows::text(row, "outcome")?, rows::int(row, "n")?)))
        .collect::<sqlx::Result<Vec<_>>>()?;
        let status_moves = sqlx::query(
            "SELECT from_status, to_status, COUNT(*) AS n FROM client_events \
             GROUP BY from_status, to_status",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok((
                rows::opt_text(row, "from_status")?,
                rows::text(row, "to_status")?,
                rows::int(row, "n")?,
            ))
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
        let api_calls = sqlx::query(
            "SELECT org_link_id, CAST(SUM(calls) AS BIGINT) AS n FROM crm_api_calls GROUP BY org_link_id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| Ok((rows::id(row, "org_link_id")?, rows::int(row, "n")?)))
        .collect::<sqlx::Result<Vec<_>>>()?;
        let worker_items = sqlx::query(
            "SELECT worker, CAST(SUM(done) AS BIGINT) AS done, CAST(SUM(failed) AS BIGINT) AS failed \
             FROM worker_hours GROUP BY worker",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok((
                rows::text(row, "worker")?,
                rows::int(row, "done")?,
                rows::int(row, "failed")?,
            ))
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(EventTotals {
            email_attempts,
            status_moves,
            api_calls,
            worker_items,
        })
    }
}
