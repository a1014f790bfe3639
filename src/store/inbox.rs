//! The CRM inbox: record changes from Salesforce, stored (deduplicated on their delivery id) in
//! one statement before Salesforce is answered, then applied by a worker per record in the
//! order of the record's modification time. A change older than the newest one applied to its
//! record changes nothing.

use serde_json::{Map, Value};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::backend::Claim;
use super::failures::{NewAttempt, insert_attempts};
use super::{Error, Page, PageRequest, Queue, Result, Store, rows};
use crate::domain::failure::FailureQueue;
use crate::domain::org_link::{ChangeSource, InboxState};
use crate::domain::record_change::{ClaimedChange, RecordChange};

/// Milliseconds a claimed change stays with one worker.
pub const INBOX_LEASE_MS: i64 = 60_000;

/// An inbox item as ops see it.
#[derive(Debug, Clone)]
pub struct InboxItem {
    pub id: Uuid,
    pub org_link_id: Uuid,
    /// The notification id (Outbound Messages) or `webhook-id#n` (webhooks).
    pub delivery_id: String,
    pub source: ChangeSource,
    pub sobject: String,
    pub record_id: String,
    /// The record's LastModifiedDate.
    pub modified_at: OffsetDateTime,
    pub deleted: bool,
    pub master_record_id: Option<String>,
    /// The fields the message carried.
    pub fields: Map<String, Value>,
    pub changed_by: Option<String>,
    pub state: InboxState,
    /// What applying it did, or why it was skipped.
    pub outcome: Option<String>,
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub received_at: OffsetDateTime,
    pub next_attempt_at: OffsetDateTime,
}

/// What the link needs to check a delivery: its org and intake secrets.
#[derive(Debug, Clone)]
pub struct IntakeLink {
    pub org_id: String,
    pub outbound_token_hash: Option<String>,
    pub webhook_secret_sealed: Option<String>,
}

const COLUMNS: &str = "id, org_link_id, delivery_id, source, sobject, record_id, modstamp, deleted, master_record_id, \
    fields, changed_fields, changed_by, state, outcome, attempts, run_at, last_error, received_at";

fn json_map(raw: &str) -> sqlx::Result<Map<String, Value>> {
    serde_json::from_str(raw).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn change(row: &AnyRow) -> sqlx::Result<RecordChange> {
    let changed_fields = rows::opt_text(row, "changed_fields")?
        .map(|raw| serde_json::from_str(&raw).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()?;
    Ok(RecordChange {
        delivery_id: rows::text(row, "delivery_id")?,
        sobject: rows::text(row, "sobject")?,
        record_id: rows::text(row, "record_id")?,
        modstamp: rows::int(row, "modstamp")?,
        deleted: rows::int(row, "deleted")? == 1,
        master_record_id: rows::opt_text(row, "master_record_id")?,
        fields: json_map(&rows::text(row, "fields")?)?,
        changed_fields,
        changed_by: rows::opt_text(row, "changed_by")?,
    })
}

fn item(row: &AnyRow) -> sqlx::Result<InboxItem> {
    let c = change(row)?;
    Ok(InboxItem {
        id: rows::id(row, "id")?,
        org_link_id: rows::id(row, "org_link_id")?,
        delivery_id: c.delivery_id,
        source: rows::parsed(row, "source", ChangeSource::parse)?,
        sobject: c.sobject,
        record_id: c.record_id,
        modified_at: rows::time(row, "modstamp")?,
        deleted: c.deleted,
        master_record_id: c.master_record_id,
        fields: c.fields,
        changed_by: c.changed_by,
        state: rows::parsed(row, "state", InboxState::parse)?,
        outcome: rows::opt_text(row, "outcome")?,
        attempts: rows::int(row, "attempts")?,
        last_error: rows::opt_text(row, "last_error")?,
        received_at: rows::time(row, "received_at")?,
        next_attempt_at: rows::time(row, "run_at")?,
    })
}

/// Records `modstamp` as the newest change applied to the record, unless a change as new or
/// newer was applied already. On PostgreSQL the upsert locks the record's row, so two workers
/// applying changes of one record take turns and the older one loses.
pub(crate) async fn claim_newest(
    conn: &mut AnyConnection,
    link: &str,
    record: &str,
    modstamp: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO crm_record_versions (org_link_id, record_id, modstamp) VALUES ($1, $2, $3) \
         ON CONFLICT (org_link_id, record_id) DO UPDATE SET modstamp = excluded.modstamp \
         WHERE crm_record_versions.modstamp < excluded.modstamp",
    )
    .bind(link.to_string())
    .bind(record.to_string())
    .bind(modstamp)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn finish(
    conn: &mut AnyConnection,
    id: Uuid,
    state: InboxState,
    outcome: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE crm_inbox SET state = $2, outcome = $3, attempts = attempts + 1, lease_until = NULL, \
         last_error = NULL, updated_at = $4 WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(state.as_str())
    .bind(outcome.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let attempt = NewAttempt {
        item_id: id,
        outcome: state.as_str(),
        request: None,
        http_status: None,
        code: None,
        message: Some(outcome),
    };
    insert_attempts(conn, FailureQueue::Inbox, now, &[attempt]).await
}

/// Records a failed attempt of a change: retried at `run_at`, or kept as failed when `give_up`.
pub(crate) async fn fail_in(
    conn: &mut AnyConnection,
    id: Uuid,
    reason: &str,
    run_at: i64,
    give_up: bool,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE crm_inbox SET attempts = attempts + 1, lease_until = NULL, run_at = $2, last_error = $3, \
         state = CASE WHEN $4 = 1 THEN 'failed' ELSE state END, updated_at = $5 WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(run_at)
    .bind(reason.to_string())
    .bind(i64::from(give_up))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let attempt = NewAttempt {
        item_id: id,
        outcome: if give_up { "failed" } else { "retry" },
        request: None,
        http_status: None,
        code: None,
        message: Some(reason),
    };
    insert_attempts(conn, FailureQueue::Inbox, now, &[attempt]).await
}

/// Unlinks a deleted or merged record from its clients (never deleting them), and drops its
/// pending write-back, which a deleted record cannot take. Answers the unlinked clients' ids.
pub(crate) async fn unlink_record(
    conn: &mut AnyConnection,
    link: &str,
    record: &str,
) -> Result<Vec<String>> {
    let unlinked = sqlx::query(
        "DELETE FROM crm_records WHERE org_link_id = $1 AND record_id = $2 RETURNING client_id",
    )
    .bind(link.to_string())
    .bind(record.to_string())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| rows::text(row, "client_id"))
    .collect::<sqlx::Result<Vec<_>>>()?;
    sqlx::query("DELETE FROM crm_writebacks WHERE org_link_id = $1 AND record_id = $2")
        .bind(link.to_string())
        .bind(record.to_string())
        .execute(conn)
        .await?;
    Ok(unlinked)
}

/// The clients linked to a record, as (tenancy, client), in tenancy order.
pub(crate) async fn linked_clients(
    conn: &mut AnyConnection,
    link: &str,
    record: &str,
) -> Result<Vec<(Uuid, Uuid)>> {
    Ok(sqlx::query(
        "SELECT client_id, tenancy_id FROM crm_records WHERE org_link_id = $1 AND record_id = $2 \
         ORDER BY tenancy_id",
    )
    .bind(link.to_string())
    .bind(record.to_string())
    .fetch_all(conn)
    .await?
    .iter()
    .map(|row| Ok((rows::id(row, "tenancy_id")?, rows::id(row, "client_id")?)))
    .collect::<sqlx::Result<Vec<_>>>()?)
}

/// A refusal as ops read it on the item: each field and its reason.
pub fn refusal_reason(error: &Error) -> String {
    match error {
        Error::Invalid(errors) => errors
            .iter()
            .map(|e| format!("{} {}", e.field, e.reason))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// `count` groups of `width` parameters, numbered from `$first`: `$1, $2` or `($1, $2), ($3, $4)`.
fn placeholders(first: usize, count: usize, width: usize) -> String {
    let mut out = String::with_capacity(count * width * 6);
    for i in 0..count {
        if i > 0 {
            out.push_str(", ");
        }
        if width > 1 {
            out.push('(');
        }
        for j in 0..width {
            if j > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + i * width + j).to_string());
        }
        if width > 1 {
            out.push(')');
        }
    }
    out
}

/// True of an inbox row (`crm_inbox`) whose record is linked to a client of the tenancy in
/// parameter `param`: the changes that concern that tenancy.
/// The inbox as ops see it: a change concerns the tenancies of the clients its record is
/// linked to.
const QUEUE: Queue = Queue {
    table: "crm_inbox",
    columns: COLUMNS,
    noun: "inbox item",
    movable: "state IN ('failed', 'dismissed') AND state <> $3",
    concerns: concerns_tenancy,
};

fn concerns_tenancy(param: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM crm_records r WHERE r.org_link_id = crm_inbox.org_link_id \
         AND r.record_id = crm_inbox.record_id AND r.tenancy_id = {param})"
    )
}

impl Store {
    /// The org and intake secrets of a link, for checking a delivery.
    pub async fn intake_link(&self, link: Uuid) -> Result<Option<IntakeLink>> {
        let row = sqlx::query(
            "SELECT org_id, outbound_token_hash, webhook_secret_sealed FROM org_links WHERE id = $1",
        )
        .bind(link.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(IntakeLink {
                org_id: rows::text(&row, "org_id")?,
                outbound_token_hash: rows::opt_text(&row, "outbound_token_hash")?,
                webhook_secret_sealed: rows::opt_text(&row, "webhook_secret_sealed")?,
            })
        })
        .transpose()
    }

    /// Replaces a link's intake secrets: the hash of the Outbound Message URL's token and the
    /// sealed webhook signing secret.
    pub async fn set_intake_secrets(
        &self,
        link: Uuid,
        outbound_token_hash: &str,
        webhook_secret_sealed: &str,
    ) -> Result<()> {
        let secrets = super::org_links::SealedIntake {
            outbound_token_hash: outbound_token_hash.to_string(),
            webhook_secret_sealed: webhook_secret_sealed.to_string(),
        };
        super::org_links::set_intake_secrets_in(
            &mut *self.writer().await?,
            link,
            &secrets,
            self.now(),
        )
        .await
    }

    /// Stores the changes of one delivery in one statement (so all or none), skipping those
    /// already received. Returns how many were new.
    pub async fn receive_changes(
        &self,
        link: Uuid,
        source: ChangeSource,
        changes: &[RecordChange],
    ) -> Result<u64> {
        const PER_ROW: usize = 10;
        if changes.is_empty() {
            return Ok(0);
        }
        let mut sql = String::with_capacity(120 + changes.len() * 90);
        sql.push_str(
            "INSERT INTO crm_inbox (id, org_link_id, source, received_at, run_at, updated_at, state, attempts, \
             delivery_id, sobject, record_id, modstamp, deleted, master_record_id, fields, changed_fields, changed_by) VALUES ",
        );
        for i in 0..changes.len() {
            let p = 4 + i * PER_ROW;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, $1, $2, $3, $3, $3, 'pending', 0, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                p,
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7,
                p + 8,
                p + 9
            ));
        }
        sql.push_str(" ON CONFLICT (org_link_id, delivery_id) DO NOTHING");
        let mut query = sqlx::query(&sql)
            .bind(link.to_string())
            .bind(source.as_str())
            .bind(self.now());
        for c in changes {
            let fields = serde_json::to_string(&c.fields)
                .map_err(|e| Error::Database(sqlx::Error::Encode(Box::new(e))))?;
            let changed = c
                .changed_fields
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| Error::Database(sqlx::Error::Encode(Box::new(e))))?;
            query = query
                .bind(Uuid::now_v7().to_string())
                .bind(c.delivery_id.clone())
                .bind(c.sobject.clone())
                .bind(c.record_id.clone())
                .bind(c.modstamp)
                .bind(i64::from(c.deleted))
                .bind(c.master_record_id.clone())
                .bind(fields)
                .bind(changed)
                .bind(c.changed_by.clone());
        }
        let _turn = self.write_turn().await;
        Ok(query.execute(&self.pool).await?.rows_affected())
    }

    /// Claims up to `limit` due changes for `INBOX_LEASE_MS`, in the order of the records'
    /// modification times.
    ///
    /// A paused link's changes are not claimed: pausing a link stops all of its work, not only
    /// its calls to Salesforce, so its inbox waits (pending, listed as waiting) and is applied
    /// in order once the link is resumed. The check is one `NOT EXISTS` on the link's primary
    /// key beside the due index, so a pass still costs what is due.
    pub async fn claim_changes(&self, now: i64, limit: i64) -> Result<Vec<ClaimedChange>> {
        let mut claimed = self
            .claim(
                Claim {
                    table: "crm_inbox",
                    due: "state = 'pending' AND run_at <= $1 AND NOT EXISTS (SELECT 1 FROM org_links l \
                          WHERE l.id = crm_inbox.org_link_id AND l.state = 'paused')",
                    order: "run_at, modstamp",
                    returning: COLUMNS,
                    args: &[],
                },
                now,
                now + INBOX_LEASE_MS,
                limit,
            )
            .await?
            .iter()
            .map(|row| {
                Ok(ClaimedChange {
                    id: rows::id(row, "id")?,
                    org_link_id: rows::id(row, "org_link_id")?,
                    change: change(row)?,
                    attempts: rows::int(row, "attempts")?,
                })
            })
            .collect::<sqlx::Result<Vec<_>>>()?;
        claimed.sort_by(|a, b| {
            (a.org_link_id, &a.change.record_id, a.change.modstamp).cmp(&(
                b.org_link_id,
                &b.change.record_id,
                b.change.modstamp,
            ))
        });
        Ok(claimed)
    }

    /// Marks a change skipped without applying it (an echo of our own write-back, say).
    pub async fn skip_change(&self, id: Uuid, reason: &str) -> Result<()> {
        let mut conn = self.writer().await?;
        finish(&mut conn, id, InboxState::Skipped, reason, self.now()).await
    }

    /// Records a failed attempt: retried at `run_at`, or kept as failed when `give_up`.
    pub async fn fail_change(
        &self,
        id: Uuid,
        reason: &str,
        run_at: i64,
        give_up: bool,
    ) -> Result<()> {
        let now = self.now();
        fail_in(&mut *self.writer().await?, id, reason, run_at, give_up, now).await
    }

    /// Settles changes that need no work in one transaction, a statement per outcome and
    /// chunk: echoes, changes of records no client is linked to, changes of links that are
    /// gone. `versions` (one per record, its newest modification time) are recorded as
    /// applied as the one-at-a-time path would, so a late older change stays older.
    pub async fn skip_changes(
        &self,
        skipped: &[(Uuid, String)],
        versions: &[(Uuid, String, i64)],
    ) -> Result<()> {
        if skipped.is_empty() && versions.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let per_statement = self.backend.max_bind_params().min(10_000);
        let mut by_outcome: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for (id, outcome) in skipped {
            by_outcome
                .entry(outcome.as_str())
                .or_default()
                .push(id.to_string());
        }
        let mut tx = self.write_tx().await?;
        for (outcome, ids) in &by_outcome {
            for chunk in ids.chunks(per_statement - 2) {
                let list = placeholders(3, chunk.len(), 1);
                // Each skip is an attempt of its item, kept with the outcome.
                let history = format!(
                    "INSERT INTO queue_attempts (id, queue, item_id, at, outcome, message) \
                     SELECT id || ':' || CAST(attempts + 1 AS TEXT), 'inbox', id, $2, 'skipped', $1 \
                     FROM crm_inbox WHERE id IN ({list})"
                );
                let mut query = sqlx::query(&history).bind(outcome.to_string()).bind(now);
                for id in chunk {
                    query = query.bind(id.clone());
                }
                query.execute(&mut *tx).await?;
                let sql = format!(
                    "UPDATE crm_inbox SET state = 'skipped', outcome = $1, attempts = attempts + 1, lease_until = NULL, \
                     last_error = NULL, updated_at = $2 WHERE id IN ({list})"
                );
                let mut query = sqlx::query(&sql).bind(outcome.to_string()).bind(now);
                for id in chunk {
                    query = query.bind(id.clone());
                }
                query.execute(&mut *tx).await?;
            }
        }
        for chunk in versions.chunks(per_statement / 3) {
            let rows = placeholders(1, chunk.len(), 3);
            // One row per record: PostgreSQL refuses an upsert that touches a row twice.
            let sql = format!(
                "INSERT INTO crm_record_versions (org_link_id, record_id, modstamp) VALUES {rows} \
                 ON CONFLICT (org_link_id, record_id) DO UPDATE SET modstamp = excluded.modstamp \
                 WHERE crm_record_versions.modstamp < excluded.modstamp"
            );
            let mut query = sqlx::query(&sql);
            for (link, record, modstamp) in chunk {
                query = query
                    .bind(link.to_string())
                    .bind(record.clone())
                    .bind(*modstamp);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The tenancies each record (of `link`) has a linked client in, for records that have
    /// one; a query per chunk of records.
    pub async fn linked_tenancies(
        &self,
        link: Uuid,
        records: &[&str],
    ) -> Result<std::collections::HashMap<String, Vec<Uuid>>> {
        let mut linked: std::collections::HashMap<String, Vec<Uuid>> = Default::default();
        let per_statement = self.backend.max_bind_params().min(10_000);
        for chunk in records.chunks(per_statement - 1) {
            let list = placeholders(2, chunk.len(), 1);
            let sql = format!(
                "SELECT record_id, tenancy_id FROM crm_records WHERE org_link_id = $1 AND record_id IN ({list})"
            );
            let mut query = sqlx::query(&sql).bind(link.to_string());
            for record in chunk {
                query = query.bind(record.to_string());
            }
            for row in query.fetch_all(&self.pool).await? {
                linked
                    .entry(rows::text(&row, "record_id")?)
                    .or_default()
                    .push(rows::id(&row, "tenancy_id")?);
            }
        }
        Ok(linked)
    }

    /// Whether a client of `tenancy` is linked to the record.
    pub async fn record_is_linked(&self, link: Uuid, record: &str, tenancy: Uuid) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM crm_records WHERE org_link_id = $1 AND record_id = $2 AND tenancy_id = $3",
        )
        .bind(link.to_string())
        .bind(record.to_string())
        .bind(tenancy.to_string())
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    /// Changes of a link, optionally in one state or of records linked to one tenancy's
    /// clients, for ops.
    pub async fn list_changes(
        &self,
        link: Uuid,
        tenancy: Option<Uuid>,
        state: Option<InboxState>,
        page: &PageRequest,
    ) -> Result<Page<InboxItem>> {
        self.list_link_queue(
            &QUEUE,
            link,
            super::QueueFilter {
                state: state.map(|s| s.as_str()),
                tenancy,
            },
            page,
            item,
            |i| i.id,
        )
        .await
    }

    /// Ops apply a failed (or dismissed) change again now, with fresh attempts. With
    /// `tenancy`, a change of a record not linked to a client of that tenancy is not found.
    pub async fn replay_change(
        &self,
        link: Uuid,
        tenancy: Option<Uuid>,
        id: Uuid,
    ) -> Result<InboxItem> {
        self.set_change_state(link, tenancy, id, InboxState::Pending)
            .await
    }

    /// Ops decide a failed change will not be applied; it stays listed. `tenancy` as for
    /// `replay_change`.
    pub async fn dismiss_change(
        &self,
        link: Uuid,
        tenancy: Option<Uuid>,
        id: Uuid,
    ) -> Result<InboxItem> {
        self.set_change_state(link, tenancy, id, InboxState::Dismissed)
            .await
    }

    async fn set_change_state(
        &self,
        link: Uuid,
        tenancy: Option<Uuid>,
        id: Uuid,
        state: InboxState,
    ) -> Result<InboxItem> {
        let (row, moved) = self
            .move_queue_item(&QUEUE, link, tenancy, id, state.as_str())
            .await?;
        let found = item(&row)?;
        if !moved {
            return Err(Error::conflict(
                crate::domain::conflict::ConflictCode::InboxItemNotFailed,
                Some("state"),
                format!(
                    "only a failed or dismissed item can be replayed or dismissed; this one is {}",
                    found.state.as_str()
                ),
            ));
        }
        Ok(found)
    }
}
