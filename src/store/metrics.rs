//! Totals of events the database keeps for good, read for `/metrics` as counters: they survive
//! restarts and every instance reports the same numbers.

use std::collections::BTreeMap;

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

/// Counts of the append-only event tables (e-mail attempts, status moves) settled below a
/// boundary id. Their ids are UUIDv7, whose text orders by creation time, so a scrape counts
/// only the rows at or above the boundary, by primary key, and adds what is settled: the cost
/// is the recent rows', not the table's. The boundary trails the clock by `SETTLE_AFTER_MS`,
/// so a transaction that commits late is still counted.
#[derive(Debug, Clone, Default)]
pub struct SettledTotals {
    below: String,
    email_attempts: BTreeMap<String, i64>,
    status_moves: BTreeMap<(Option<String>, String), i64>,
}

/// How long a row may take to commit after its id was made and still be counted.
pub const SETTLE_AFTER_MS: i64 = 10 * 60 * 1000;

/// The smallest UUIDv7 text made at `unix_ms` or later: its 48-bit time, as the first two
/// groups of hex digits.
pub fn v7_boundary(unix_ms: i64) -> String {
    let ms = unix_ms.max(0);
    format!("{:08x}-{:04x}-", ms >> 16, ms & 0xffff)
}

/// Rows grouped by their columns, counted from the id `from` (and below `to`, when given).
async fn grouped(
    store: &Store,
    table_sql: &str,
    columns: &[&str],
    from: &str,
    to: Option<&str>,
) -> Result<Vec<(Vec<Option<String>>, i64)>> {
    let list = columns.join(", ");
    let upper = if to.is_some() { " AND id < $2" } else { "" };
    let sql = format!(
        "SELECT {list}, COUNT(*) AS n FROM {table_sql} WHERE id >= $1{upper} GROUP BY {list}"
    );
    let mut query = sqlx::query(&sql).bind(from.to_string());
    if let Some(to) = to {
        query = query.bind(to.to_string());
    }
    let found = query.fetch_all(&store.pool).await?;
    let counted = found
        .iter()
        .map(|row| {
            let values = columns
                .iter()
                .map(|c| rows::opt_text(row, c))
                .collect::<sqlx::Result<Vec<_>>>()?;
            Ok((values, rows::int(row, "n")?))
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    Ok(counted)
}

/// E-mail attempts by outcome. Every queue's rows are counted and e-mails kept, and the
/// grouping starts with the outcome, so the only index that fits is the primary key's (SQLite
/// would otherwise walk the `(queue, at)` index whole for its order).
async fn email_attempts(
    store: &Store,
    from: &str,
    to: Option<&str>,
) -> Result<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for (values, n) in grouped(store, "queue_attempts", &["outcome", "queue"], from, to).await? {
        if let [Some(outcome), Some(queue)] = values.as_slice()
            && queue == "email"
        {
            *out.entry(outcome.clone()).or_default() += n;
        }
    }
    Ok(out)
}

async fn status_moves(
    store: &Store,
    from: &str,
    to: Option<&str>,
) -> Result<BTreeMap<(Option<String>, String), i64>> {
    let mut out = BTreeMap::new();
    let columns = ["from_status", "to_status"];
    for (values, n) in grouped(store, "client_events", &columns, from, to).await? {
        if let [from_status, Some(to_status)] = values.as_slice() {
            *out.entry((from_status.clone(), to_status.clone()))
                .or_default() += n;
        }
    }
    Ok(out)
}

fn merged<K: Ord + Clone>(a: &BTreeMap<K, i64>, b: &BTreeMap<K, i64>) -> BTreeMap<K, i64> {
    let mut out = a.clone();
    for (k, n) in b {
        *out.entry(k.clone()).or_default() += n;
    }
    out
}

impl Store {
    /// Every total of `EventTotals`. The event tables are counted above `settled`'s boundary,
    /// which moves up to `boundary` first (counting the rows it passes once).
    pub async fn event_totals(
        &self,
        settled: &mut SettledTotals,
        boundary: &str,
    ) -> Result<EventTotals> {
        if boundary > settled.below.as_str() {
            let emails = email_attempts(self, &settled.below, Some(boundary)).await?;
            let moves = status_moves(self, &settled.below, Some(boundary)).await?;
            settled.email_attempts = merged(&settled.email_attempts, &emails);
            settled.status_moves = merged(&settled.status_moves, &moves);
            settled.below = boundary.to_string();
        }
        let emails = email_attempts(self, &settled.below, None).await?;
        let moves = status_moves(self, &settled.below, None).await?;
        let email_attempts = merged(&settled.email_attempts, &emails)
            .into_iter()
            .collect();
        let status_moves = merged(&settled.status_moves, &moves)
            .into_iter()
            .map(|((from, to), n)| (from, to, n))
            .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v7_boundary_orders_ids_by_the_time_they_were_made() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let id = Uuid::now_v7().to_string();
        assert!(v7_boundary(before).as_str() <= id.as_str(), "{id}");
        assert!(v7_boundary(before + 60_000).as_str() > id.as_str(), "{id}");
        assert!(v7_boundary(before - SETTLE_AFTER_MS).as_str() < id.as_str());
    }
}
