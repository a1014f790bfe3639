//! Failures ops act on, across the queues that can fail: write-backs, inbox items and e-mail
//! deliveries. Every attempt at an item is kept (`queue_attempts`), written by the statement
//! that settles it; lists filter by org link, tenancy, error code and age; retry and dismiss
//! run in the caller's transaction, so the service audits them in the same one.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Error, Page, PageRequest, Result, Store, rows};
use crate::domain::conflict::ConflictCode;
use crate::domain::failure::{DismissReason, FailureQueue, FailureState};

/// One attempt at an item, as its history shows it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub at: OffsetDateTime,
    /// written, retry, failed, refused; done, skipped; sent.
    pub outcome: String,
    /// What was sent to Salesforce.
    pub request: Option<String>,
    /// Salesforce's HTTP status, when it answered.
    pub http_status: Option<i64>,
    /// Salesforce's `errorCode` / `statusCode`, or the failure's code.
    pub code: Option<String>,
    pub message: Option<String>,
}

/// An attempt to record, in the transaction that settles it.
#[derive(Debug, Clone)]
pub struct NewAttempt<'a> {
    pub item_id: Uuid,
    pub outcome: &'a str,
    pub request: Option<&'a str>,
    pub http_status: Option<i64>,
    pub code: Option<&'a str>,
    pub message: Option<&'a str>,
}

/// Records attempts of one queue in one multi-row statement (a statement per 3,000 rows).
pub(crate) async fn insert_attempts(
    conn: &mut AnyConnection,
    queue: FailureQueue,
    now: i64,
    attempts: &[NewAttempt<'_>],
) -> Result<()> {
    const PER_ROW: usize = 7;
    for chunk in attempts.chunks(3_000) {
        let mut sql = String::with_capacity(120 + chunk.len() * 40);
        sql.push_str(
            "INSERT INTO queue_attempts (queue, at, id, item_id, outcome, request, http_status, code, message) VALUES ",
        );
        for i in 0..chunk.len() {
            let p = 3 + i * PER_ROW;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "($1, $2, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                p,
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6
            ));
        }
        let mut query = sqlx::query(&sql).bind(queue.attempt_queue()).bind(now);
        for attempt in chunk {
            query = query
                .bind(Uuid::now_v7().to_string())
                .bind(attempt.item_id.to_string())
                .bind(attempt.outcome.to_string())
                .bind(attempt.request.map(str::to_string))
                .bind(attempt.http_status)
                .bind(attempt.code.map(str::to_string))
                .bind(attempt.message.map(str::to_string));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A failed or waiting item of a queue, as ops see it.
#[derive(Debug, Clone)]
pub struct FailureItem {
    pub queue: FailureQueue,
    pub id: Uuid,
    /// None for e-mails.
    pub org_link_id: Option<Uuid>,
    /// The client's tenancy (write-backs, e-mails); none for an inbox item, whose record may
    /// be linked to clients of several.
    pub tenancy_id: Option<Uuid>,
    /// pending, failed, dismissed (write-backs, inbox); failed, sent, retried, dismissed
    /// (e-mails).
    pub state: String,
    /// The record (`Contact 003…`) or the recipient.
    pub subject: String,
    /// The status to write, where the change came from, or the e-mail's kind.
    pub detail: String,
    pub attempts: i64,
    /// Salesforce's code for the last failure (write-backs).
    pub last_error_code: Option<String>,
    pub last_error: Option<String>,
    /// Since when the item waits: the change, its receipt, or the delivery's end.
    pub since: OffsetDateTime,
    /// When it is next tried, while it waits.
    pub next_attempt_at: Option<OffsetDateTime>,
    pub dismiss_reason: Option<String>,
    /// The id its attempts are kept under (an e-mail's invitation cycle or notification).
    history_of: Option<Uuid>,
}

/// Which items of a queue to list or retry.
#[derive(Debug, Clone, Default)]
pub struct FailureFilter {
    pub org_link: Option<Uuid>,
    pub tenancy: Option<Uuid>,
    /// A write-back's exact `errorCode`; for inbox items and e-mails, text of the error.
    pub code: Option<String>,
    /// Only items waiting longer than this many minutes.
    pub older_than_minutes: Option<i64>,
    pub state: FailureState,
}

/// A written write-back, kept for `writeback.history_days`.
#[derive(Debug, Clone)]
pub struct WrittenWriteback {
    pub writeback_id: Uuid,
    pub org_link_id: Uuid,
    pub tenancy_id: Uuid,
    pub client_id: Uuid,
    pub sobject: String,
    pub record_id: String,
    pub status: String,
    pub attempts: i64,
    pub changed_at: OffsetDateTime,
    pub written_at: OffsetDateTime,
}

/// A bound value of a filter's SQL.
enum Bind {
    Text(String),
    Int(i64),
}

/// A `WHERE` clause under construction, numbering its parameters.
#[derive(Default)]
struct Conditions {
    sql: Vec<String>,
    binds: Vec<Bind>,
}

impl Conditions {
    /// Adds a condition whose `?` stands for one new parameter each (in order).
    fn push(&mut self, condition: &str, values: Vec<Bind>) {
        let mut out = String::with_capacity(condition.len() + 8);
        let mut values = values.into_iter();
        for c in condition.chars() {
            if c == '?' {
                if let Some(value) = values.next() {
                    self.binds.push(value);
                    out.push('$');
                    out.push_str(&self.binds.len().to_string());
                }
            } else {
                out.push(c);
            }
        }
        self.sql.push(out);
    }

    fn clause(&self) -> String {
        if self.sql.is_empty() {
            "1 = 1".into()
        } else {
            self.sql.join(" AND ")
        }
    }

    fn query<'q>(
        &self,
        sql: &'q str,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        let mut query = sqlx::query(sql);
        for bind in &self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.clone()),
                Bind::Int(n) => query.bind(*n),
            };
        }
        query
    }
}

/// Each queue's table and its columns under the names a `FailureItem` reads.
fn select(queue: FailureQueue) -> &'static str {
    match queue {
        FailureQueue::Writebacks => {
            "SELECT id, org_link_id, tenancy_id, state, sobject || ' ' || record_id AS subject, status AS detail, \
             attempts, last_error_code, last_error, changed_at AS since, \
             CASE WHEN state = 'pending' THEN run_at END AS next_at, dismiss_reason, id AS history_of \
             FROM crm_writebacks"
        }
        FailureQueue::Inbox => {
            "SELECT id, org_link_id, CAST(NULL AS TEXT) AS tenancy_id, state, sobject || ' ' || record_id AS subject, \
             source AS detail, attempts, CAST(NULL AS TEXT) AS last_error_code, last_error, received_at AS since, \
             CASE WHEN state = 'pending' THEN run_at END AS next_at, dismiss_reason, id AS history_of \
             FROM crm_inbox"
        }
        FailureQueue::Emails => {
            "SELECT id, CAST(NULL AS TEXT) AS org_link_id, tenancy_id, COALESCE(resolution, state) AS state, \
             recipient AS subject, kind AS detail, attempts, CAST(NULL AS TEXT) AS last_error_code, last_error, \
             at AS since, CAST(NULL AS BIGINT) AS next_at, resolution_reason AS dismiss_reason, \
             COALESCE(cycle_id, notification_id) AS history_of FROM email_deliveries"
        }
    }
}

fn failure_item(queue: FailureQueue, row: &AnyRow) -> sqlx::Result<FailureItem> {
    Ok(FailureItem {
        queue,
        id: rows::id(row, "id")?,
        org_link_id: rows::opt_id(row, "org_link_id")?,
        tenancy_id: rows::opt_id(row, "tenancy_id")?,
        state: rows::text(row, "state")?,
        subject: rows::text(row, "subject")?,
        detail: rows::text(row, "detail")?,
        attempts: rows::int(row, "attempts")?,
        last_error_code: rows::opt_text(row, "last_error_code")?,
        last_error: rows::opt_text(row, "last_error")?,
        since: rows::time(row, "since")?,
        next_attempt_at: rows::opt_time(row, "next_at")?,
        dismiss_reason: rows::opt_text(row, "dismiss_reason")?,
        history_of: rows::opt_id(row, "history_of")?,
    })
}

/// The items of `queue` a system administrator of `tenancy` may see: their clients'
/// write-backs and e-mails; the inbox of the links that serve them, and of a link that serves
/// other tenancies too only the changes of records linked to their clients.
fn scope(queue: FailureQueue, tenancy: Uuid, conditions: &mut Conditions) {
    let t = || Bind::Text(tenancy.to_string());
    match queue {
        FailureQueue::Writebacks | FailureQueue::Emails => {
            conditions.push("tenancy_id = ?", vec![t()])
        }
        FailureQueue::Inbox => conditions.push(
            "org_link_id IN (SELECT org_link_id FROM org_link_tenancies WHERE tenancy_id = ?) \
             AND (NOT EXISTS (SELECT 1 FROM org_link_tenancies o WHERE o.org_link_id = crm_inbox.org_link_id \
               AND o.tenancy_id <> ?) \
             OR EXISTS (SELECT 1 FROM crm_records r WHERE r.org_link_id = crm_inbox.org_link_id \
               AND r.record_id = crm_inbox.record_id AND r.tenancy_id = ?))",
            vec![t(), t(), t()],
        ),
    }
}

/// The states a filter's state names, per queue.
fn state_condition(queue: FailureQueue, state: FailureState) -> &'static str {
    match (queue, state) {
        (FailureQueue::Emails, FailureState::Open | FailureState::Failed) => {
            "state = 'failed' AND resolution IS NULL"
        }
        (FailureQueue::Emails, FailureState::Waiting) => "1 = 0",
        (FailureQueue::Emails, FailureState::Dismissed) => "resolution = 'dismissed'",
        (_, FailureState::Open) => "state IN ('pending', 'failed')",
        (_, FailureState::Failed) => "state = 'failed'",
        (_, FailureState::Waiting) => "state = 'pending'",
        (_, FailureState::Dismissed) => "state = 'dismissed'",
    }
}

/// The column an item's age counts from.
fn since_column(queue: FailureQueue) -> &'static str {
    match queue {
        FailureQueue::Writebacks => "changed_at",
        FailureQueue::Inbox => "received_at",
        FailureQueue::Emails => "at",
    }
}

/// The conditions of a filter (the state's too), within `scope_tenancy` when given.
fn conditions(
    queue: FailureQueue,
    filter: &FailureFilter,
    scope_tenancy: Option<Uuid>,
    now: i64,
) -> Conditions {
    let mut c = Conditions::default();
    c.push(state_condition(queue, filter.state), vec![]);
    if let Some(tenancy) = scope_tenancy {
        scope(queue, tenancy, &mut c);
    }
    match filter.org_link {
        Some(link) if queue.has_links() => {
            c.push("org_link_id = ?", vec![Bind::Text(link.to_string())]);
        }
        // E-mail deliveries belong to no org link: a link's filter matches none of them.
        Some(_) => c.push("1 = 0", vec![]),
        None => {}
    }
    if let Some(tenancy) = filter.tenancy {
        let t = Bind::Text(tenancy.to_string());
        match queue {
            FailureQueue::Inbox => c.push(
                "EXISTS (SELECT 1 FROM crm_records r WHERE r.org_link_id = crm_inbox.org_link_id \
                 AND r.record_id = crm_inbox.record_id AND r.tenancy_id = ?)",
                vec![t],
            ),
            _ => c.push("tenancy_id = ?", vec![t]),
        }
    }
    if let Some(code) = &filter.code {
        match queue {
            FailureQueue::Writebacks => {
                c.push("last_error_code = ?", vec![Bind::Text(code.clone())])
            }
            _ => c.push(
                "LOWER(last_error) LIKE ? ESCAPE '\\'",
                vec![Bind::Text(super::contains_pattern(Some(code)))],
            ),
        }
    }
    if let Some(minutes) = filter.older_than_minutes {
        let before = now - minutes.saturating_mul(60_000);
        c.push(
            &format!("{} <= ?", since_column(queue)),
            vec![Bind::Int(before)],
        );
    }
    c
}

/// The table of a queue.
fn table(queue: FailureQueue) -> &'static str {
    match queue {
        FailureQueue::Writebacks => "crm_writebacks",
        FailureQueue::Inbox => "crm_inbox",
        FailureQueue::Emails => "email_deliveries",
    }
}

impl Store {
    /// One page of a queue's items that match the filter, in id order (the order they were
    /// made), within the tenancy `scope` of a system administrator when given.
    pub async fn list_failures(
        &self,
        queue: FailureQueue,
        filter: &FailureFilter,
        scope: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Page<FailureItem>> {
        let mut c = conditions(queue, filter, scope, self.now());
        c.push("id > ?", vec![Bind::Text(page.after())]);
        let sql = format!(
            "{} WHERE {} ORDER BY id LIMIT {}",
            select(queue),
            c.clause(),
            page.fetch()
        );
        let found = c
            .query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| failure_item(queue, row))
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Page::from_rows(found, page, |item| item.id))
    }

    /// How many failed items of a queue a retry of all matching `filter` would take (its
    /// state aside), within `scope`.
    pub async fn count_failed(
        &self,
        queue: FailureQueue,
        filter: &FailureFilter,
        scope: Option<Uuid>,
    ) -> Result<i64> {
        let filter = FailureFilter {
            state: FailureState::Failed,
            ..filter.clone()
        };
        let c = conditions(queue, &filter, scope, self.now());
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {} WHERE {}",
            table(queue),
            c.clause()
        );
        let row = c.query(&sql).fetch_one(&self.pool).await?;
        Ok(rows::int(&row, "n")?)
    }

    /// One item of a queue, in any state, within `scope`.
    pub async fn failure(
        &self,
        queue: FailureQueue,
        id: Uuid,
        scope: Option<Uuid>,
    ) -> Result<FailureItem> {
        find(&mut *self.pool.acquire().await?, queue, id, scope).await
    }

    /// Every attempt at an item, oldest first: an e-mail's are those of its invitation cycle
    /// or notification, every e-mail of which it was one.
    pub async fn attempts(&self, item: &FailureItem) -> Result<Vec<Attempt>> {
        match item.history_of {
            Some(of) => self.attempts_of(item.queue, of).await,
            None => Ok(Vec::new()),
        }
    }

    /// Every attempt kept under `of` in a queue, oldest first (a written write-back's too, for
    /// as long as its write is remembered).
    pub async fn attempts_of(&self, queue: FailureQueue, of: Uuid) -> Result<Vec<Attempt>> {
        Ok(sqlx::query(
            "SELECT at, outcome, request, http_status, code, message FROM queue_attempts \
             WHERE item_id = $1 AND queue = $2 ORDER BY at, id LIMIT 500",
        )
        .bind(of.to_string())
        .bind(queue.attempt_queue())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Attempt {
                at: rows::time(row, "at")?,
                outcome: rows::text(row, "outcome")?,
                request: rows::opt_text(row, "request")?,
                http_status: sqlx::Row::try_get(row, "http_status")?,
                code: rows::opt_text(row, "code")?,
                message: rows::opt_text(row, "message")?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?)
    }

    /// What was written to a record in the retention window, newest first, of the clients of
    /// `scope` when given.
    pub async fn written_writebacks(
        &self,
        link: Uuid,
        record_ids: &[String],
        scope: Option<Uuid>,
    ) -> Result<Vec<WrittenWriteback>> {
        let c = of_record(link, record_ids, scope);
        let sql = format!(
            "SELECT writeback_id, org_link_id, tenancy_id, client_id, sobject, record_id, status, attempts, \
             changed_at, written_at FROM crm_writebacks_written WHERE {} ORDER BY written_at DESC, id DESC LIMIT 200",
            c.clause()
        );
        Ok(c.query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(WrittenWriteback {
                    writeback_id: rows::id(row, "writeback_id")?,
                    org_link_id: rows::id(row, "org_link_id")?,
                    tenancy_id: rows::id(row, "tenancy_id")?,
                    client_id: rows::id(row, "client_id")?,
                    sobject: rows::text(row, "sobject")?,
                    record_id: rows::text(row, "record_id")?,
                    status: rows::text(row, "status")?,
                    attempts: rows::int(row, "attempts")?,
                    changed_at: rows::time(row, "changed_at")?,
                    written_at: rows::time(row, "written_at")?,
                })
            })
            .collect::<sqlx::Result<Vec<_>>>()?)
    }

    /// Write-backs of a record not yet written (waiting, failed or dismissed), of the clients
    /// of `scope` when given.
    pub async fn record_writebacks(
        &self,
        link: Uuid,
        record_ids: &[String],
        scope: Option<Uuid>,
    ) -> Result<Vec<FailureItem>> {
        let c = of_record(link, record_ids, scope);
        let sql = format!(
            "{} WHERE {} ORDER BY id",
            select(FailureQueue::Writebacks),
            c.clause()
        );
        Ok(c.query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| failure_item(FailureQueue::Writebacks, row))
            .collect::<sqlx::Result<Vec<_>>>()?)
    }

    /// Forgets, past the retention (`before`), written write-backs and the attempts of items
    /// that are over: write-backs no longer in the outbox, inbox items applied, skipped or
    /// dismissed, and e-mails whose invitation cycle ended or whose staff notification has
    /// nothing left to send nor a failure waiting for ops. At most `limit` of each kind: a read
    /// per kind that usually finds nothing (by the `(queue, at)` index), and a delete by
    /// primary key only when it does. An item still open keeps its whole history. Answers how
    /// many rows were forgotten.
    pub async fn prune_history(&self, before: i64, limit: i64) -> Result<u64> {
        let written = ids(
            &self.pool,
            "SELECT id FROM crm_writebacks_written WHERE written_at < $1 ORDER BY written_at LIMIT $2",
            before,
            limit,
        )
        .await?;
        let mut attempts = ids(
            &self.pool,
            "SELECT id FROM queue_attempts a WHERE a.queue = 'writeback' AND a.at < $1 \
             AND NOT EXISTS (SELECT 1 FROM crm_writebacks w WHERE w.id = a.item_id) ORDER BY a.at LIMIT $2",
            before,
            limit,
        )
        .await?;
        attempts.extend(
            ids(
                &self.pool,
                "SELECT id FROM queue_attempts a WHERE a.queue = 'inbox' AND a.at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM crm_inbox i WHERE i.id = a.item_id \
                   AND i.state IN ('pending', 'failed')) ORDER BY a.at LIMIT $2",
                before,
                limit,
            )
            .await?,
        );
        // An e-mail's attempts are kept under its cycle or its notification. A cycle still
        // running may send again; a notification is open while it is due or its failure waits
        // for ops (who may send it again).
        attempts.extend(
            ids(
                &self.pool,
                "SELECT id FROM queue_attempts a WHERE a.queue = 'email' AND a.at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM invitation_cycles c WHERE c.id = a.item_id AND c.ended_at IS NULL) \
                 AND NOT EXISTS (SELECT 1 FROM staff_notifications n WHERE n.id = a.item_id \
                   AND (n.next_due_at IS NOT NULL OR EXISTS (SELECT 1 FROM email_deliveries d \
                     WHERE d.notification_id = n.id AND d.state = 'failed' AND d.resolution IS NULL))) \
                 ORDER BY a.at LIMIT $2",
                before,
                limit,
            )
            .await?,
        );
        if written.is_empty() && attempts.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write_tx().await?;
        let mut forgotten = 0;
        for (table, ids) in [
            ("crm_writebacks_written", written),
            ("queue_attempts", attempts),
        ] {
            if ids.is_empty() {
                continue;
            }
            let list = (1..=ids.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("DELETE FROM {table} WHERE id IN ({list})");
            let mut query = sqlx::query(&sql);
            for id in ids {
                query = query.bind(id);
            }
            forgotten += query.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(forgotten)
    }
}

async fn ids(pool: &sqlx::AnyPool, sql: &str, before: i64, limit: i64) -> Result<Vec<String>> {
    Ok(sqlx::query(sql)
        .bind(before)
        .bind(limit)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| rows::text(row, "id"))
        .collect::<sqlx::Result<Vec<_>>>()?)
}

/// A record's rows (under each form of its id) of a link, of the clients of `scope` when given.
fn of_record(link: Uuid, record_ids: &[String], scope: Option<Uuid>) -> Conditions {
    let mut c = Conditions::default();
    c.push("org_link_id = ?", vec![Bind::Text(link.to_string())]);
    let list = record_ids
        .iter()
        .map(|_| "?")
        .collect::<Vec<_>>()
        .join(", ");
    c.push(
        &format!("record_id IN ({list})"),
        record_ids.iter().map(|r| Bind::Text(r.clone())).collect(),
    );
    if let Some(tenancy) = scope {
        c.push("tenancy_id = ?", vec![Bind::Text(tenancy.to_string())]);
    }
    c
}

/// One item of a queue in any state, within `scope`; not found otherwise.
async fn find(
    conn: &mut AnyConnection,
    queue: FailureQueue,
    id: Uuid,
    scope_tenancy: Option<Uuid>,
) -> Result<FailureItem> {
    let mut c = Conditions::default();
    c.push("id = ?", vec![Bind::Text(id.to_string())]);
    if let Some(tenancy) = scope_tenancy {
        scope(queue, tenancy, &mut c);
    }
    let sql = format!("{} WHERE {}", select(queue), c.clause());
    let row = c
        .query(&sql)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound(queue.noun()))?;
    Ok(failure_item(queue, &row)?)
}

/// Ops retry one item now, in the caller's transaction: a write-back or inbox item goes back
/// to pending with fresh attempts; a failed e-mail's invitation cycle or notification comes
/// due now (the worker sends it through the normal path) and the delivery is marked retried.
/// Answers the item as it was.
pub(crate) async fn retry(
    conn: &mut AnyConnection,
    queue: FailureQueue,
    id: Uuid,
    scope_tenancy: Option<Uuid>,
    now: i64,
) -> Result<FailureItem> {
    let item = find(conn, queue, id, scope_tenancy).await?;
    match queue {
        FailureQueue::Writebacks | FailureQueue::Inbox => {
            if item.state == "pending" {
                return Err(not_retriable(queue, &item.state));
            }
            sqlx::query(&format!(
                "UPDATE {} SET state = 'pending', attempts = 0, run_at = $2, lease_until = NULL, \
                 dismiss_reason = NULL, updated_at = $2 WHERE id = $1 AND state <> 'pending'",
                table(queue)
            ))
            .bind(id.to_string())
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        FailureQueue::Emails => retry_email(conn, &item, now).await?,
    }
    Ok(item)
}

fn not_retriable(queue: FailureQueue, state: &str) -> Error {
    let code = match queue {
        FailureQueue::Writebacks => ConflictCode::WritebackPending,
        _ => ConflictCode::InboxItemNotFailed,
    };
    Error::conflict(
        code,
        Some("state"),
        format!(
            "only a failed or dismissed {} can be retried; this one is {state}",
            queue.noun()
        ),
    )
}

async fn retry_email(conn: &mut AnyConnection, item: &FailureItem, now: i64) -> Result<()> {
    if !matches!(item.state.as_str(), "failed" | "dismissed") {
        return Err(not_retriable(FailureQueue::Emails, &item.state));
    }
    let source = item.history_of.map(|s| s.to_string()).unwrap_or_default();
    let due = if item.detail == "invitation" {
        sqlx::query(
            "UPDATE invitation_cycles SET next_due_at = $2, failed_attempts = 0, lease_until = NULL \
             WHERE id = $1 AND ended_at IS NULL",
        )
    } else {
        sqlx::query(
            "UPDATE staff_notifications SET next_due_at = $2, attempts = 0, lease_until = NULL \
             WHERE id = $1 AND sent_at IS NULL",
        )
    }
    .bind(source)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if due.rows_affected() == 0 {
        return Err(Error::conflict(
            ConflictCode::IllegalTransition,
            None,
            if item.detail == "invitation" {
                "this invitation's cycle is over (accepted, declined, revoked or expired): resend the invitation instead"
            } else {
                "this e-mail cannot be sent again: what it announced is no longer pending"
            },
        ));
    }
    sqlx::query(
        "UPDATE email_deliveries SET resolution = 'retried', resolution_reason = NULL, resolved_at = $2 WHERE id = $1",
    )
    .bind(item.id.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ops dismiss one failed or waiting item with their reason, in the caller's transaction; it
/// stays listed as dismissed. Answers the item as it was.
pub(crate) async fn dismiss(
    conn: &mut AnyConnection,
    queue: FailureQueue,
    id: Uuid,
    scope_tenancy: Option<Uuid>,
    reason: &DismissReason,
    now: i64,
) -> Result<FailureItem> {
    let item = find(conn, queue, id, scope_tenancy).await?;
    let open = match queue {
        FailureQueue::Emails => item.state == "failed",
        _ => matches!(item.state.as_str(), "pending" | "failed"),
    };
    if !open {
        return Err(Error::conflict(
            ConflictCode::InboxItemNotFailed,
            Some("state"),
            format!(
                "only a failed or waiting {} can be dismissed; this one is {}",
                queue.noun(),
                item.state
            ),
        ));
    }
    let sql = match queue {
        FailureQueue::Emails => {
            "UPDATE email_deliveries SET resolution = 'dismissed', resolution_reason = $2, resolved_at = $3 WHERE id = $1"
        }
        FailureQueue::Writebacks => {
            "UPDATE crm_writebacks SET state = 'dismissed', dismiss_reason = $2, lease_until = NULL, updated_at = $3 WHERE id = $1"
        }
        FailureQueue::Inbox => {
            "UPDATE crm_inbox SET state = 'dismissed', dismiss_reason = $2, lease_until = NULL, updated_at = $3 WHERE id = $1"
        }
    };
    sqlx::query(sql)
        .bind(id.to_string())
        .bind(reason.as_str().to_string())
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(item)
}

/// Ops retry every failed item that matches the filter (its state aside), in the caller's
/// transaction: one statement for write-backs and inbox items; e-mails one by one, skipping
/// those whose cycle or notification is over. Answers how many were retried.
pub(crate) async fn retry_matching(
    conn: &mut AnyConnection,
    queue: FailureQueue,
    filter: &FailureFilter,
    scope_tenancy: Option<Uuid>,
    now: i64,
) -> Result<u64> {
    let filter = FailureFilter {
        state: FailureState::Failed,
        ..filter.clone()
    };
    let mut c = conditions(queue, &filter, scope_tenancy, now);
    match queue {
        FailureQueue::Writebacks | FailureQueue::Inbox => {
            c.push("1 = 1", vec![]);
            let n = c.binds.len() + 1;
            let sql = format!(
                "UPDATE {} SET state = 'pending', attempts = 0, run_at = ${n}, lease_until = NULL, \
                 dismiss_reason = NULL, updated_at = ${n} WHERE {}",
                table(queue),
                c.clause()
            );
            Ok(c.query(&sql)
                .bind(now)
                .execute(&mut *conn)
                .await?
                .rows_affected())
        }
        FailureQueue::Emails => {
            let sql = format!(
                "{} WHERE {} ORDER BY id LIMIT 1000",
                select(queue),
                c.clause()
            );
            let items = c
                .query(&sql)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|row| failure_item(queue, row))
                .collect::<sqlx::Result<Vec<_>>>()?;
            let mut retried = 0;
            for item in &items {
                match retry_email(conn, item, now).await {
                    Ok(()) => retried += 1,
                    Err(Error::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(retried)
        }
    }
}
