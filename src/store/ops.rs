//! Sync health's SQL: each worker's last pass (one upsert per worker per round), and the
//! queues counted where they are kept: what waits and since when, what failed and what was
//! done, per hour, from the timestamps the tables already have.

use sqlx::AnyConnection;
use uuid::Uuid;

use super::{Result, Store, rows};
use crate::domain::ops::{
    PassOutcome, PassRecord, Queue, QueueCounts, Worker, WorkerPass, hour_of,
};

/// A query's parameter.
enum Param {
    Text(String),
    Int(i64),
}

/// SQL with its parameters numbered as they are added.
#[derive(Default)]
struct Sql {
    text: String,
    params: Vec<Param>,
}

impl Sql {
    fn param(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }

    fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut query = sqlx::query(&self.text);
        for param in &self.params {
            query = match param {
                Param::Text(text) => query.bind(text.clone()),
                Param::Int(n) => query.bind(*n),
            };
        }
        query
    }
}

/// Rows of one table in one condition, timed by one column.
#[derive(Clone, Copy)]
struct Part {
    table: &'static str,
    condition: &'static str,
    at: &'static str,
}

/// Where a queue's numbers are: what waits (timed by when it began to wait), what failed and
/// what was done (each timed by when), and which scopes its tables have.
struct QueueSql {
    waiting: Part,
    failed: Part,
    done: Option<Part>,
}

/// Whose items are counted: one link's, one tenancy's, or both.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope {
    pub link: Option<Uuid>,
    pub tenancy: Option<Uuid>,
}

impl Scope {
    fn filter(&self, sql: &mut Sql) -> String {
        let mut parts = Vec::new();
        if let Some(link) = self.link {
            parts.push(format!(
                "org_link_id = {}",
                sql.param(Param::Text(link.to_string()))
            ));
        }
        if let Some(tenancy) = self.tenancy {
            parts.push(format!(
                "tenancy_id = {}",
                sql.param(Param::Text(tenancy.to_string()))
            ));
        }
        parts.into_iter().map(|p| format!(" AND {p}")).collect()
    }
}

const WRITEBACKS: QueueSql = QueueSql {
    waiting: Part {
        table: "crm_writebacks",
        condition: "state = 'pending'",
        at: "changed_at",
    },
    failed: Part {
        table: "crm_writebacks",
        condition: "state = 'failed'",
        at: "updated_at",
    },
    done: None,
};

const INBOX: QueueSql = QueueSql {
    waiting: Part {
        table: "crm_inbox",
        condition: "state = 'pending'",
        at: "received_at",
    },
    failed: Part {
        table: "crm_inbox",
        condition: "state = 'failed'",
        at: "updated_at",
    },
    done: Some(Part {
        table: "crm_inbox",
        condition: "state IN ('done', 'skipped')",
        at: "updated_at",
    }),
};

/// A cycle waits from when its next e-mail (or retry, or end) came due.
const INVITATION_EMAILS: QueueSql = QueueSql {
    waiting: Part {
        table: "invitation_cycles",
        condition: "next_due_at IS NOT NULL AND next_due_at <= {now}",
        at: "next_due_at",
    },
    failed: Part {
        table: "email_deliveries",
        condition: "kind = 'invitation' AND state = 'failed'",
        at: "at",
    },
    done: Some(Part {
        table: "email_deliveries",
        condition: "kind = 'invitation' AND state = 'sent'",
        at: "at",
    }),
};

const STAFF_NOTIFICATIONS: QueueSql = QueueSql {
    waiting: Part {
        table: "staff_notifications",
        condition: "next_due_at IS NOT NULL",
        at: "created_at",
    },
    failed: Part {
        table: "email_deliveries",
        condition: "kind = 'client_accepted' AND state = 'failed'",
        at: "at",
    },
    done: Some(Part {
        table: "email_deliveries",
        condition: "kind = 'client_accepted' AND state = 'sent'",
        at: "at",
    }),
};

/// A link notice kept no time of its last failure: one failed for good counts by when it was
/// queued.
const LINK_NOTICES: QueueSql = QueueSql {
    waiting: Part {
        table: "link_notices",
        condition: "next_due_at IS NOT NULL",
        at: "created_at",
    },
    failed: Part {
        table: "link_notices",
        condition: "sent_at IS NULL AND next_due_at IS NULL AND last_error IS NOT NULL",
        at: "created_at",
    },
    done: Some(Part {
        table: "link_notices",
        condition: "sent_at IS NOT NULL",
        at: "sent_at",
    }),
};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

impl Store {
    /// Records a worker's pass: one upsert, and one more for its hour when it did something.
    pub async fn record_pass(&self, pass: &PassRecord) -> Result<()> {
        let success = pass.error.is_none().then_some(pass.finished_at);
        let mut conn = self.writer().await?;
        sqlx::query(
            "INSERT INTO worker_passes (worker, started_at, finished_at, duration_ms, outcome, error, \
             last_success_at, next_run_at, passes, failures) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9) \
             ON CONFLICT (worker) DO UPDATE SET started_at = excluded.started_at, \
             finished_at = excluded.finished_at, duration_ms = excluded.duration_ms, \
             outcome = excluded.outcome, error = excluded.error, \
             last_success_at = COALESCE(excluded.last_success_at, worker_passes.last_success_at), \
             next_run_at = excluded.next_run_at, passes = worker_passes.passes + 1, \
             failures = worker_passes.failures + excluded.failures",
        )
        .bind(pass.worker.as_str())
        .bind(pass.started_at)
        .bind(pass.finished_at)
        .bind((pass.finished_at - pass.started_at).max(0))
        .bind(pass.outcome().as_str())
        .bind(pass.error.clone())
        .bind(success)
        .bind(pass.next_run_at)
        .bind(i64::from(pass.error.is_some()))
        .execute(&mut *conn)
        .await?;
        if pass.done > 0 || pass.failed > 0 {
            sqlx::query(
                "INSERT INTO worker_hours (worker, hour, done, failed) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (worker, hour) DO UPDATE SET done = worker_hours.done + excluded.done, \
                 failed = worker_hours.failed + excluded.failed",
            )
            .bind(pass.worker.as_str())
            .bind(hour_of(pass.finished_at))
            .bind(pass.done)
            .bind(pass.failed)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Every worker's last pass, of those that have passed.
    pub async fn worker_passes(&self) -> Result<Vec<WorkerPass>> {
        let found = sqlx::query(
            "SELECT worker, started_at, finished_at, duration_ms, outcome, error, last_success_at, \
             next_run_at, passes, failures FROM worker_passes ORDER BY worker",
        )
        .fetch_all(&self.pool)
        .await?;
        let passes = found
            .iter()
            .map(|row| {
                Ok(WorkerPass {
                    worker: rows::parsed(row, "worker", Worker::parse)?,
                    started_at: rows::time(row, "started_at")?,
                    finished_at: rows::time(row, "finished_at")?,
                    duration_ms: rows::int(row, "duration_ms")?,
                    outcome: rows::parsed(row, "outcome", PassOutcome::parse)?,
                    error: rows::opt_text(row, "error")?,
                    last_success_at: rows::opt_time(row, "last_success_at")?,
                    next_run_at: rows::time(row, "next_run_at")?,
                    passes: rows::int(row, "passes")?,
                    failures: rows::int(row, "failures")?,
                })
            })
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(passes)
    }

    /// A worker's items done and failed per hour since `since_hour`, as (hour, done, failed).
    pub async fn worker_hours(
        &self,
        worker: Worker,
        since_hour: i64,
    ) -> Result<Vec<(i64, i64, i64)>> {
        let sql = "SELECT hour, done, failed FROM worker_hours WHERE worker = $1 AND hour >= $2";
        let found = self
            .by_hour(
                sql,
                worker.as_str(),
                since_hour,
                &["hour", "done", "failed"],
            )
            .await?;
        Ok(found
            .iter()
            .filter_map(|row| match row.as_slice() {
                [hour, done, failed] => Some((*hour, *done, *failed)),
                _ => None,
            })
            .collect())
    }

    /// A link's own calls per hour since `since_hour`, as (hour, calls).
    pub async fn api_calls_by_hour(&self, link: Uuid, since_hour: i64) -> Result<Vec<(i64, i64)>> {
        let sql = "SELECT hour, calls FROM crm_api_calls WHERE org_link_id = $1 AND hour >= $2";
        let key = link.to_string();
        let found = self
            .by_hour(sql, &key, since_hour, &["hour", "calls"])
            .await?;
        Ok(found
            .iter()
            .filter_map(|row| match row.as_slice() {
                [hour, calls] => Some((*hour, *calls)),
                _ => None,
            })
            .collect())
    }

    /// The integer `columns` of the rows `sql` finds for `key` since `since_hour`.
    async fn by_hour(
        &self,
        sql: &str,
        key: &str,
        since_hour: i64,
        columns: &[&str],
    ) -> Result<Vec<Vec<i64>>> {
        let found = sqlx::query(sql)
            .bind(key.to_string())
            .bind(since_hour)
            .fetch_all(&self.pool)
            .await?;
        let values = found
            .iter()
            .map(|row| columns.iter().map(|c| rows::int(row, c)).collect())
            .collect::<sqlx::Result<Vec<Vec<i64>>>>()?;
        Ok(values)
    }

    /// A queue's numbers, of one link's or one tenancy's items (each as far as the queue's
    /// tables know links and tenancies: the inbox has no tenancy, e-mails no link).
    pub async fn queue_counts(&self, queue: Queue, scope: Scope) -> Result<QueueCounts> {
        let (sql, scope) = match queue {
            Queue::Writebacks => (&WRITEBACKS, scope),
            Queue::Inbox => (
                &INBOX,
                Scope {
                    tenancy: None,
                    ..scope
                },
            ),
            Queue::InvitationEmails => (
                &INVITATION_EMAILS,
                Scope {
                    link: None,
                    ..scope
                },
            ),
            Queue::StaffNotifications => (
                &STAFF_NOTIFICATIONS,
                Scope {
                    link: None,
                    ..scope
                },
            ),
            Queue::LinkNotices => (&LINK_NOTICES, scope),
        };
        self.counts(sql, scope).await
    }

    async fn counts(&self, queue: &QueueSql, scope: Scope) -> Result<QueueCounts> {
        let now = self.now();
        let mut sql = Sql::default();
        let filter = scope.filter(&mut sql);
        let now_param = sql.param(Param::Int(now));
        let Part {
            table,
            condition,
            at,
        } = queue.waiting;
        let condition = condition.replace("{now}", &now_param);
        sql.text = format!(
            "SELECT COUNT(*) AS depth, MIN({at}) AS oldest FROM {table} WHERE {condition}{filter}"
        );
        let row = sql.query().fetch_one(&self.pool).await?;
        let mut counts = QueueCounts {
            depth: rows::int(&row, "depth")?,
            oldest_at: sqlx::Row::try_get::<Option<i64>, _>(&row, "oldest")?,
            ..QueueCounts::default()
        };
        counts.failed_hours = self.hours(queue.failed, scope, now - DAY_MS).await?;
        counts.failed_last_hour = self.count_since(queue.failed, scope, now - HOUR_MS).await?;
        if let Some(done) = queue.done {
            counts.done_hours = self.hours(done, scope, now - DAY_MS).await?;
            counts.done_last_hour = Some(self.count_since(done, scope, now - HOUR_MS).await?);
        }
        Ok(counts)
    }

    /// Rows of `part` per hour since `since`, as (hour, count).
    async fn hours(&self, part: Part, scope: Scope, since: i64) -> Result<Vec<(i64, i64)>> {
        let hour = format!("CAST({} / {HOUR_MS} AS BIGINT)", part.at);
        let select = format!("{hour} AS hour, COUNT(*) AS n");
        let sql = since_sql(part, scope, since, &select, &format!(" GROUP BY {hour}"));
        let found = sql.query().fetch_all(&self.pool).await?;
        let hours = found
            .iter()
            .map(|row| Ok((rows::int(row, "hour")?, rows::int(row, "n")?)))
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(hours)
    }

    async fn count_since(&self, part: Part, scope: Scope, since: i64) -> Result<i64> {
        let sql = since_sql(part, scope, since, "COUNT(*) AS n", "");
        let row = sql.query().fetch_one(&self.pool).await?;
        Ok(rows::int(&row, "n")?)
    }
}

/// `SELECT select` over the rows of `part` in `scope` since `since`, then `rest`.
fn since_sql(part: Part, scope: Scope, since: i64, select: &str, rest: &str) -> Sql {
    let mut sql = Sql::default();
    let filter = scope.filter(&mut sql);
    let since = sql.param(Param::Int(since));
    let Part {
        table,
        condition,
        at,
    } = part;
    sql.text =
        format!("SELECT {select} FROM {table} WHERE {condition} AND {at} >= {since}{filter}{rest}");
    sql
}

/// Keeps why a link was paused as its state's reason, in the pause's transaction.
pub(crate) async fn set_state_reason_in(
    tx: &mut AnyConnection,
    id: Uuid,
    reason: &str,
) -> Result<()> {
    sqlx::query("UPDATE org_links SET state_reason = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(reason.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(())
}
