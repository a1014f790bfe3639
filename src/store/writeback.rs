//! The CRM write-back outbox: a client's status change enqueues, in its own transaction, the
//! write of that status to the client's Salesforce record; workers claim due rows with a lease
//! (and `FOR UPDATE SKIP LOCKED` on PostgreSQL), so several instances never send one row at
//! once.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::backend::Claim;
use super::failures::{NewAttempt, insert_attempts};
use super::{Error, Page, PageRequest, Queue, Result, Store, rows};
use crate::domain::client_status::ClientStatus;
use crate::domain::conflict::ConflictCode;
use crate::domain::failure::FailureQueue;
use crate::domain::org_link::WritebackState;
use crate::domain::values::SalesforceId;

/// Milliseconds a claim stays with one worker; past it another may take the row over.
pub const LEASE_MS: i64 = 60_000;

/// A write-back as ops see it.
#[derive(Debug, Clone)]
pub struct Writeback {
    pub id: Uuid,
    pub org_link_id: Uuid,
    pub tenancy_id: Uuid,
    pub client_id: Uuid,
    /// `Contact` or `Account` (a Person Account).
    pub sobject: String,
    pub record_id: String,
    /// The newest status, the one to write.
    pub status: ClientStatus,
    pub state: WritebackState,
    pub attempts: i64,
    /// Salesforce's code for the last failure, e.g. `ENTITY_IS_DELETED`.
    pub last_error_code: Option<String>,
    /// Salesforce's message for the last failure.
    pub last_error: Option<String>,
    pub changed_at: OffsetDateTime,
    pub next_attempt_at: OffsetDateTime,
}

/// A claimed row, for the worker.
#[derive(Debug, Clone)]
pub struct ClaimedWriteback {
    pub id: Uuid,
    pub org_link_id: Uuid,
    pub tenancy_id: Uuid,
    pub client_id: Uuid,
    pub sobject: String,
    pub record_id: String,
    pub status: ClientStatus,
    pub version: i64,
    pub attempts: i64,
    pub changed_at: i64,
    /// When the row last became due: its change, or the retry it was given.
    pub due_at: i64,
}

const COLUMNS: &str = "id, org_link_id, tenancy_id, client_id, sobject, record_id, status, state, attempts, \
    last_error_code, last_error, changed_at, run_at";

/// The write-backs as ops see them: a write-back concerns the tenancy of its client.
const QUEUE: Queue = Queue {
    table: "crm_writebacks",
    columns: COLUMNS,
    noun: "write-back",
    movable: "state <> 'pending'",
    concerns: of_tenancy,
};

fn of_tenancy(param: &str) -> String {
    format!("tenancy_id = {param}")
}

fn writeback(row: &AnyRow) -> sqlx::Result<Writeback> {
    Ok(Writeback {
        id: rows::id(row, "id")?,
        org_link_id: rows::id(row, "org_link_id")?,
        tenancy_id: rows::id(row, "tenancy_id")?,
        client_id: rows::id(row, "client_id")?,
        sobject: rows::text(row, "sobject")?,
        record_id: rows::text(row, "record_id")?,
        status: rows::parsed(row, "status", ClientStatus::parse)?,
        state: rows::parsed(row, "state", WritebackState::parse)?,
        attempts: rows::int(row, "attempts")?,
        last_error_code: rows::opt_text(row, "last_error_code")?,
        last_error: rows::opt_text(row, "last_error")?,
        changed_at: rows::time(row, "changed_at")?,
        next_attempt_at: rows::time(row, "run_at")?,
    })
}

/// Enqueues the write-back of a client's new status, inside the caller's transaction. A client
/// with no CRM record has nothing to write.
pub(super) async fn enqueue(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    client: Uuid,
    status: ClientStatus,
    now: i64,
) -> Result<()> {
    let record = sqlx::query(
        "SELECT org_link_id, sobject, record_id FROM crm_records WHERE tenancy_id = $1 AND client_id = $2",
    )
    .bind(tenancy.to_string())
    .bind(client.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(record) = record else { return Ok(()) };
    let (link, sobject, id) = (
        rows::text(&record, "org_link_id")?,
        rows::text(&record, "sobject")?,
        rows::text(&record, "record_id")?,
    );
    enqueue_record(conn, tenancy, client, status, (&link, &sobject, &id), now).await
}

/// As `enqueue`, for a client whose record the caller knows: (org link, sObject, record id).
pub(super) async fn enqueue_record(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    client: Uuid,
    status: ClientStatus,
    (link, sobject, record): (&str, &str, &str),
    now: i64,
) -> Result<()> {
    sqlx::query(&upsert_sql([
        "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8",
    ]))
    .bind(Uuid::now_v7().to_string())
    .bind(link.to_string())
    .bind(tenancy.to_string())
    .bind(client.to_string())
    .bind(sobject.to_string())
    .bind(record.to_string())
    .bind(status.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The outbox upsert, with its parameters named: id, org link, tenancy, client, sObject,
/// record id, status, now. A newer status replaces one not yet written, and starts over a
/// failed one.
pub(super) fn upsert_sql(
    [id, link, tenancy, client, sobject, record, status, now]: [&str; 8],
) -> String {
    format!(
        "INSERT INTO crm_writebacks (id, org_link_id, tenancy_id, client_id, sobject, record_id, status, version, \
           changed_at, state, run_at, attempts, updated_at) \
         VALUES ({id}, {link}, {tenancy}, {client}, {sobject}, {record}, {status}, 1, {now}, 'pending', {now}, 0, {now}) \
         ON CONFLICT (org_link_id, record_id) DO UPDATE SET status = excluded.status, \
           tenancy_id = excluded.tenancy_id, client_id = excluded.client_id, sobject = excluded.sobject, \
           version = crm_writebacks.version + 1, changed_at = excluded.changed_at, state = 'pending', \
           run_at = excluded.run_at, attempts = 0, last_error_code = NULL, last_error = NULL, \
           dismiss_reason = NULL, updated_at = excluded.updated_at"
    )
}

/// Refuses an org link that does not serve the tenancy, naming the `org_link_id` field.
pub(super) async fn serves_tenancy(
    conn: &mut AnyConnection,
    org_link: Uuid,
    tenancy: Uuid,
) -> Result<()> {
    let serves =
        sqlx::query("SELECT 1 FROM org_link_tenancies WHERE org_link_id = $1 AND tenancy_id = $2")
            .bind(org_link.to_string())
            .bind(tenancy.to_string())
            .fetch_optional(conn)
            .await?;
    if serves.is_none() {
        return Err(Error::invalid(
            "org_link_id",
            "is not an org link of this tenancy",
        ));
    }
    Ok(())
}

/// The Salesforce record a client is linked to, if any, read on `conn`.
async fn client_record_in(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    client: Uuid,
) -> Result<Option<super::RecordRef>> {
    let row = sqlx::query(
        "SELECT org_link_id, sobject, record_id FROM crm_records WHERE tenancy_id = $1 AND client_id = $2",
    )
    .bind(tenancy.to_string())
    .bind(client.to_string())
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(super::RecordRef {
        org_link: rows::id(&row, "org_link_id")?,
        sobject: rows::parsed(&row, "sobject", |s| match s {
            "Contact" => Some("Contact"),
            "Account" => Some("Account"),
            _ => None,
        })?,
        record_id: rows::parsed(&row, "record_id", |s| SalesforceId::parse(s).ok())?,
    }))
}

/// How one claimed row ended.
#[derive(Debug, Clone)]
pub enum WritebackOutcome {
    Written,
    /// Try again at `run_at` (milliseconds); `failed` when retries are exhausted.
    Retry {
        run_at: i64,
        code: String,
        message: String,
        give_up: bool,
    },
    Refused {
        code: String,
        message: String,
    },
    /// Put back untouched (the link cannot be called now).
    Release {
        run_at: Option<i64>,
    },
}

impl Store {
    /// Links a client to their Salesforce record in the caller's transaction, so their status
    /// changes are written back; answers the record they were linked to before, if any, and
    /// the one they are linked to now.
    pub(crate) async fn link_crm_record_in(
        &self,
        tx: &mut AnyConnection,
        tenancy: Uuid,
        client: Uuid,
        org_link: Uuid,
        sobject: &str,
        record_id: &str,
    ) -> Result<(Option<super::RecordRef>, super::RecordRef)> {
        let client_row = self.client_in(&mut *tx, tenancy, client).await?;
        serves_tenancy(&mut *tx, org_link, tenancy).await?;
        let taken = sqlx::query(
            "SELECT client_id FROM crm_records WHERE org_link_id = $1 AND record_id = $2 AND tenancy_id = $3 AND client_id <> $4",
        )
        .bind(org_link.to_string())
        .bind(record_id.to_string())
        .bind(tenancy.to_string())
        .bind(client.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Err(Error::conflict(
                ConflictCode::RecordLinked,
                Some("record_id"),
                "this record is already linked to another client",
            ));
        }
        let before = client_record_in(&mut *tx, tenancy, client).await?;
        let now = self.now();
        sqlx::query(
            "INSERT INTO crm_records (client_id, tenancy_id, org_link_id, sobject, record_id, linked_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (client_id) DO UPDATE SET org_link_id = excluded.org_link_id, \
             sobject = excluded.sobject, record_id = excluded.record_id, linked_at = excluded.linked_at",
        )
        .bind(client.to_string())
        .bind(tenancy.to_string())
        .bind(org_link.to_string())
        .bind(sobject.to_string())
        .bind(record_id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // The record learns the client's current status at once.
        enqueue(&mut *tx, tenancy, client, client_row.status, now).await?;
        let after = client_record_in(tx, tenancy, client)
            .await?
            .ok_or(Error::NotFound("crm record"))?;
        Ok((before, after))
    }

    /// The Salesforce record a client is linked to, if any.
    pub async fn client_record(
        &self,
        tenancy: Uuid,
        client: Uuid,
    ) -> Result<Option<super::RecordRef>> {
        let mut conn = self.pool.acquire().await?;
        client_record_in(&mut conn, tenancy, client).await
    }

    /// Org links the write-back worker looks at: those with write-backs due now, and capped
    /// links, whose cap may lift (a window that rolled, a probe that shows room) with no row due.
    pub async fn links_for_writeback(&self, now: i64) -> Result<Vec<Uuid>> {
        sqlx::query(
            "SELECT DISTINCT org_link_id FROM crm_writebacks \
             WHERE state = 'pending' AND run_at <= $1 AND (lease_until IS NULL OR lease_until < $1) \
             UNION SELECT id AS org_link_id FROM org_links WHERE state = 'budget_capped'",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| rows::id(row, "org_link_id").map_err(Error::from))
        .collect()
    }

    /// Claims up to `limit` due write-backs of one link for `LEASE_MS`, those due longest
    /// first (the worker orders them into batches).
    pub async fn claim_writebacks(
        &self,
        link: Uuid,
        now: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedWriteback>> {
        let claimed = self
            .claim(
                Claim {
                    table: "crm_writebacks",
                    due: "org_link_id = $4 AND state = 'pending' AND run_at <= $1",
                    order: "run_at",
                    returning: "id, org_link_id, tenancy_id, client_id, sobject, record_id, status, version, attempts, changed_at, run_at",
                    args: &[link.to_string()],
                },
                now,
                now + LEASE_MS,
                limit,
            )
            .await?;
        claimed
            .iter()
            .map(|row| {
                Ok(ClaimedWriteback {
                    id: rows::id(row, "id")?,
                    org_link_id: rows::id(row, "org_link_id")?,
                    tenancy_id: rows::id(row, "tenancy_id")?,
                    client_id: rows::id(row, "client_id")?,
                    sobject: rows::text(row, "sobject")?,
                    record_id: rows::text(row, "record_id")?,
                    status: rows::parsed(row, "status", ClientStatus::parse)?,
                    version: rows::int(row, "version")?,
                    attempts: rows::int(row, "attempts")?,
                    changed_at: rows::int(row, "changed_at")?,
                    due_at: rows::int(row, "run_at")?,
                })
            })
            .collect::<sqlx::Result<Vec<_>>>()
            .map_err(Error::from)
    }

    /// Records how each claimed row ended, in one transaction. A row whose status changed
    /// while it was being written (a newer version) stays pending for the next pass. With the
    /// `call` that sent them, each row's attempt is kept in its history, and each written
    /// row's write for `writeback.history_days`: two statements for the whole call.
    pub async fn settle_writebacks(
        &self,
        settled: &[(ClaimedWriteback, WritebackOutcome)],
        call: Option<&CallSummary>,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        if let Some(call) = call {
            record_attempts(&mut tx, settled, call, now).await?;
        }
        for (row, outcome) in settled {
            let id = row.id.to_string();
            match outcome {
                WritebackOutcome::Written => {
                    let done =
                        sqlx::query("DELETE FROM crm_writebacks WHERE id = $1 AND version = $2")
                            .bind(&id)
                            .bind(row.version)
                            .execute(&mut *tx)
                            .await?;
                    if done.rows_affected() == 0 {
                        sqlx::query("UPDATE crm_writebacks SET lease_until = NULL WHERE id = $1")
                            .bind(&id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                WritebackOutcome::Retry {
                    run_at,
                    code,
                    message,
                    give_up,
                } => {
                    sqlx::query(
                        "UPDATE crm_writebacks SET attempts = attempts + 1, run_at = $3, lease_until = NULL, \
                         state = CASE WHEN $4 = 1 THEN 'failed' ELSE state END, \
                         last_error_code = $5, last_error = $6, updated_at = $7 WHERE id = $1 AND version = $2",
                    )
                    .bind(&id)
                    .bind(row.version)
                    .bind(*run_at)
                    .bind(i64::from(*give_up))
                    .bind(code.clone())
                    .bind(message.clone())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    release_newer(&mut tx, &id, row.version).await?;
                }
                WritebackOutcome::Refused { code, message } => {
                    sqlx::query(
                        "UPDATE crm_writebacks SET attempts = attempts + 1, state = 'failed', lease_until = NULL, \
                         last_error_code = $3, last_error = $4, updated_at = $5 WHERE id = $1 AND version = $2",
                    )
                    .bind(&id)
                    .bind(row.version)
                    .bind(code.clone())
                    .bind(message.clone())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    release_newer(&mut tx, &id, row.version).await?;
                }
                WritebackOutcome::Release { run_at } => {
                    sqlx::query("UPDATE crm_writebacks SET lease_until = NULL, run_at = COALESCE($2, run_at) WHERE id = $1")
                        .bind(&id)
                        .bind(*run_at)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Write-backs of a link, optionally in one state or of one tenancy's clients, for ops.
    pub async fn list_writebacks(
        &self,
        link: Uuid,
        tenancy: Option<Uuid>,
        state: Option<WritebackState>,
        page: &PageRequest,
    ) -> Result<Page<Writeback>> {
        self.list_link_queue(
            &QUEUE,
            link,
            super::QueueFilter {
                state: state.map(|s| s.as_str()),
                tenancy,
            },
            page,
            writeback,
            |w| w.id,
        )
        .await
    }

    /// An admin retries a failed (or dismissed) write-back now, with fresh attempts. With
    /// `tenancy`, a write-back of another tenancy's client is not found.
    pub async fn retry_writeback(
        &self,
        link: Uuid,
        tenancy: Option<Uuid>,
        id: Uuid,
    ) -> Result<Writeback> {
        self.set_writeback_state(link, tenancy, id, WritebackState::Pending)
            .await
    }

    /// An admin decides a failed write-back will not be written; it stays listed. `tenancy` as
    /// for `retry_writeback`.
    pub async fn dismiss_writeback(
        &self,
        link: Uuid,
        tenancy: Option<Uuid>,
        id: Uuid,
    ) -> Result<Writeback> {
        self.set_writeback_state(link, tenancy, id, WritebackState::Dismissed)
            .await
    }

    async fn set_writeback_state(
        &self,
        link: Uuid,
        tenancy: Option<Uuid>,
        id: Uuid,
        state: WritebackState,
    ) -> Result<Writeback> {
        let (row, moved) = self
            .move_queue_item(&QUEUE, link, tenancy, id, state.as_str())
            .await?;
        if !moved {
            return Err(Error::conflict(
                ConflictCode::WritebackPending,
                None,
                "this write-back is already pending",
            ));
        }
        Ok(writeback(&row)?)
    }

    /// Counts one API call of this service to the org, in the current hour.
    pub async fn count_api_call(&self, link: Uuid, calls: i64) -> Result<()> {
        let hour = self.now() / 3_600_000;
        sqlx::query(
            "INSERT INTO crm_api_calls (org_link_id, hour, calls) VALUES ($1, $2, $3) \
             ON CONFLICT (org_link_id, hour) DO UPDATE SET calls = crm_api_calls.calls + excluded.calls",
        )
        .bind(link.to_string())
        .bind(hour)
        .bind(calls)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    /// This service's calls to the org in the last 24 hours.
    pub async fn api_calls_last_day(&self, link: Uuid) -> Result<i64> {
        let hour = self.now() / 3_600_000;
        let row = sqlx::query("SELECT CAST(COALESCE(SUM(calls), 0) AS BIGINT) AS n FROM crm_api_calls WHERE org_link_id = $1 AND hour > $2")
            .bind(link.to_string())
            .bind(hour - 24)
            .fetch_one(&self.pool)
            .await?;
        Ok(rows::int(&row, "n")?)
    }

    /// Records the org's usage from `Sforce-Limit-Info`. An answer that shows room (under 98 %
    /// of the limit) clears an earlier sign that the org's limit was spent.
    pub async fn record_api_usage(&self, link: Uuid, used: i64, max: i64) -> Result<()> {
        sqlx::query(
            "UPDATE org_links SET api_used = $2, api_max = $3, api_checked_at = $4, \
             org_limit_at = CASE WHEN $2 * 100 < $3 * 98 THEN NULL ELSE org_limit_at END WHERE id = $1",
        )
        .bind(link.to_string())
        .bind(used)
        .bind(max)
        .bind(self.now())
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    /// A call showed the org's daily limit spent: the link is capped (unless it is paused or
    /// unauthorized) until an answer shows room, and is next probed at `probe_at`.
    pub async fn org_limit_reached(
        &self,
        link: Uuid,
        reason: &str,
        probe_at: Option<i64>,
    ) -> Result<()> {
        let now = self.now();
        sqlx::query(
            "UPDATE org_links SET org_limit_at = $2, next_call_at = COALESCE($4, next_call_at), \
             state = CASE WHEN state IN ('connected', 'budget_capped') THEN 'budget_capped' ELSE state END, \
             state_reason = CASE WHEN state IN ('connected', 'budget_capped') THEN $3 ELSE state_reason END, \
             updated_at = $2 WHERE id = $1",
        )
        .bind(link.to_string())
        .bind(now)
        .bind(reason.to_string())
        .bind(probe_at)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    /// A whole call to the link failed: no call before `next_call_at`, and the next failure
    /// waits longer.
    pub async fn link_call_failed(&self, link: Uuid, next_call_at: i64) -> Result<()> {
        sqlx::query(
            "UPDATE org_links SET next_call_at = $2, call_failures = call_failures + 1 WHERE id = $1",
        )
        .bind(link.to_string())
        .bind(next_call_at)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    /// A call to the link was answered: any backoff ends (a no-op write is skipped).
    pub async fn link_call_succeeded(&self, link: Uuid) -> Result<()> {
        sqlx::query(
            "UPDATE org_links SET next_call_at = NULL, call_failures = 0 \
             WHERE id = $1 AND (next_call_at IS NOT NULL OR call_failures <> 0)",
        )
        .bind(link.to_string())
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    /// No call to the link before `at` (the next limit probe).
    pub async fn set_next_call_at(&self, link: Uuid, at: i64) -> Result<()> {
        sqlx::query("UPDATE org_links SET next_call_at = $2 WHERE id = $1")
            .bind(link.to_string())
            .bind(at)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    /// Moves a link between connected and budget-capped (never out of another state).
    pub async fn set_budget_capped(
        &self,
        link: Uuid,
        capped: bool,
        reason: Option<&str>,
    ) -> Result<()> {
        let (from, to) = if capped {
            ("connected", "budget_capped")
        } else {
            ("budget_capped", "connected")
        };
        sqlx::query("UPDATE org_links SET state = $3, state_reason = $4, updated_at = $5 WHERE id = $1 AND state = $2")
            .bind(link.to_string())
            .bind(from)
            .bind(to)
            .bind(reason.map(str::to_string))
            .bind(self.now())
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }
}

/// One Collections call, as the history of each row it carried tells it.
#[derive(Debug, Clone)]
pub struct CallSummary {
    /// e.g. `PATCH /services/data/v62.0/composite/sobjects, 37 records, fields Status__c`.
    pub request: String,
    /// Salesforce's HTTP status, when it answered (a call that failed whole too: a 503, a
    /// 403 `REQUEST_LIMIT_EXCEEDED`); none when nothing answered (a timeout, a refused
    /// connection), whose error code says how.
    pub http_status: Option<i64>,
}

/// Each settled row's attempt (a row put back untouched had none), and each written row's
/// write, in one multi-row statement each.
async fn record_attempts(
    conn: &mut AnyConnection,
    settled: &[(ClaimedWriteback, WritebackOutcome)],
    call: &CallSummary,
    now: i64,
) -> Result<()> {
    let attempts: Vec<NewAttempt<'_>> = settled
        .iter()
        .filter_map(|(row, outcome)| {
            let (outcome, code, message) = match outcome {
                WritebackOutcome::Written => ("written", None, None),
                WritebackOutcome::Retry {
                    code,
                    message,
                    give_up,
                    ..
                } => (
                    if *give_up { "failed" } else { "retry" },
                    Some(code.as_str()),
                    Some(message.as_str()),
                ),
                WritebackOutcome::Refused { code, message } => {
                    ("refused", Some(code.as_str()), Some(message.as_str()))
                }
                WritebackOutcome::Release { .. } => return None,
            };
            Some(NewAttempt {
                item_id: row.id,
                outcome,
                request: Some(call.request.as_str()),
                http_status: call.http_status,
                code,
                message,
            })
        })
        .collect();
    if attempts.is_empty() {
        return Ok(());
    }
    insert_attempts(conn, FailureQueue::Writebacks, now, &attempts).await?;
    let written: Vec<&ClaimedWriteback> = settled
        .iter()
        .filter(|(_, outcome)| matches!(outcome, WritebackOutcome::Written))
        .map(|(row, _)| row)
        .collect();
    const PER_ROW: usize = 10;
    for chunk in written.chunks(3_000) {
        let mut sql = String::with_capacity(160 + chunk.len() * 48);
        sql.push_str(
            "INSERT INTO crm_writebacks_written (written_at, id, writeback_id, org_link_id, tenancy_id, client_id, \
             sobject, record_id, status, attempts, changed_at) VALUES ",
        );
        for i in 0..chunk.len() {
            let p = 2 + i * PER_ROW;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("($1, ${}", p));
            for j in 1..PER_ROW {
                sql.push_str(&format!(", ${}", p + j));
            }
            sql.push(')');
        }
        let mut query = sqlx::query(&sql).bind(now);
        for row in chunk {
            query = query
                .bind(Uuid::now_v7().to_string())
                .bind(row.id.to_string())
                .bind(row.org_link_id.to_string())
                .bind(row.tenancy_id.to_string())
                .bind(row.client_id.to_string())
                .bind(row.sobject.clone())
                .bind(row.record_id.clone())
                .bind(row.status.as_str())
                .bind(row.attempts + 1)
                .bind(row.changed_at);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A row that moved on to a newer status while it was being sent loses its lease and stays
/// pending, so the newer status goes out on the next pass.
async fn release_newer(conn: &mut AnyConnection, id: &str, version: i64) -> Result<()> {
    sqlx::query("UPDATE crm_writebacks SET lease_until = NULL WHERE id = $1 AND version <> $2")
        .bind(id.to_string())
        .bind(version)
        .execute(conn)
        .await?;
    Ok(())
}
