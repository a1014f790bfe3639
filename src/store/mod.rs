//! Persistence for both backends behind one `Store`.
//!
//! The SQL is written once: SQLite and PostgreSQL both accept `$n` parameters, partial indexes
//! and the statements used here, and sqlx's `Any` driver runs them on either. What differs by
//! backend (connection set-up, the write lock, row-lock clauses, the claim of due work) lives in
//! `backend.rs`, so a store reads as plain SQL. Every function on
//! tenancy data takes the tenancy and puts it in its `WHERE` clause.

pub(crate) mod audit;
mod backend;
mod canvas;
pub(crate) mod clients;
pub(crate) mod console;
mod describes;
mod funnel;
pub(crate) mod groups;
pub(crate) mod inbox;
mod invitations;
mod mappings;
pub(crate) mod metrics;
pub(crate) mod ops;
pub(crate) mod org_links;
mod rows;
pub(crate) mod tenancies;
mod tokens;
pub(crate) mod users;
mod writeback;

use std::sync::Arc;

use sqlx::AnyConnection;
use sqlx::AnyPool;
use uuid::Uuid;

pub use audit::{AuditEvent, AuditFilter};
/// Who invites is the domain's; re-exported where it always was.
pub use backend::Backend;
pub use canvas::{ActingStaff, CanvasSession, SalesforceUser};
pub use clients::{Client, ClientEvent, ClientUpdate, Contact, RecordRef};
pub use console::{ConsoleSession, ConsoleUser, SessionStaff, StaffAddress};
pub use groups::{Group, GroupMember, GroupUpdate, Membership, NewGroupRequest};
pub use inbox::{INBOX_LEASE_MS, InboxItem, IntakeLink, refusal_reason};
pub use invitations::{
    Answer, CYCLE_LEASE_MS, Delivery, DueCycle, DueNotification, EmailDelivery, InvitationCycle,
    InvitationLink, LinkView,
};
pub use org_links::{NewOrgLink, OrgLinkUpdate, api_key_id};
pub use tenancies::{NewTenancy, Tenancy, TenancyUpdate};
pub use tokens::{Actor, CreatedToken, TokenInfo};
pub use users::{NewStaff, NewTeamAccount, Staff, StaffUpdate, TeamAccount, TeamAccountUpdate};
pub use writeback::{ClaimedWriteback, LEASE_MS, Writeback, WritebackOutcome};

/// The org link and the record change the store reads and writes; they are the domain's, named
/// here too for the API's answers, the write-back worker and the benchmark.
pub use crate::domain::org_link::{ApiUsage, CallSchedule, OrgLink};
/// The states and kinds the store's records carry; they are the domain's.
pub use crate::domain::org_link::{
    AuthKind, ChangeSource, InboxState, LinkState, StaffMatch, WritebackState,
};
pub use crate::domain::record_change::RecordChange;

use crate::clock::{Clock, to_millis};
use crate::config::DatabaseConfig;
use crate::domain::FieldError;
use crate::domain::conflict::{ConflictCode, Refusal};

/// What a store operation can refuse or fail with. The HTTP layer maps each to one status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object does not exist in this tenancy (or the caller may not know it does).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Fields that parsed but refer to something wrong (an unknown member, say).
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The request is valid but breaks a rule in the current state.
    #[error("{reason}")]
    Conflict {
        code: ConflictCode,
        field: Option<String>,
        reason: String,
    },
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// Whether the database could not be reached or dropped the connection (restarted, cut off,
/// out of connections): a moment's trouble to retry, not a fault in the request.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE classes 08 (connection exception) and 57 (operator intervention: the server
        // shutting down or ending the session); SQLite's BUSY.
        sqlx::Error::Database(e) => e
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57") || code == "5"),
        _ => false,
    }
}

impl Error {
    /// A conflict named by its code, with the field it concerns, if one.
    pub fn conflict(code: ConflictCode, field: Option<&str>, reason: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            field: field.map(str::to_string),
            reason: reason.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, reason)])
    }
}

/// A rule's refusal, decided and worded by the domain, as the store passes it on when the rule
/// is checked under its locks.
impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        Self::Conflict {
            code: refusal.code,
            field: refusal.field,
            reason: refusal.reason,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Keyset pagination: items after a cursor (an id), in id order, which is creation order.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<Uuid>,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u32 = 50;
    pub const MAX_LIMIT: u32 = 200;

    fn after(&self) -> String {
        self.after.map(|id| id.to_string()).unwrap_or_default()
    }

    /// One more row than asked, to learn whether another page follows.
    fn fetch(&self) -> i64 {
        i64::from(self.limit.clamp(1, Self::MAX_LIMIT)) + 1
    }
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    fn from_rows(mut items: Vec<T>, request: &PageRequest, id: impl Fn(&T) -> Uuid) -> Self {
        let limit = request.limit.clamp(1, PageRequest::MAX_LIMIT) as usize;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| id(last).to_string())
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

/// A `LIKE` pattern that finds `query` anywhere in a lower-cased key.
fn contains_pattern(query: Option<&str>) -> String {
    let q = query.unwrap_or("").trim().to_lowercase();
    let escaped: String = q
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    clock: Arc<dyn Clock>,
    /// On SQLite, this instance's writers queue here for the one write lock (see `write_tx`).
    writer_gate: Arc<tokio::sync::Mutex<()>>,
}

impl Store {
    /// Connects to `url` (creating a SQLite file and its folder if needed) and runs the
    /// migrations.
    pub async fn open(url: &str, config: &DatabaseConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let (pool, backend) = backend::connect(url, config).await?;
        let store = Self {
            pool,
            backend,
            clock,
            writer_gate: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<()> {
        backend::MIGRATIONS
            .run(&self.pool)
            .await
            .map_err(sqlx::Error::from)?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn now(&self) -> i64 {
        to_millis(self.clock.now())
    }

    /// A transaction that will write. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`): a transaction that read first and wrote later could otherwise fail with
    /// `SQLITE_BUSY` when another writer came in between, which no busy timeout can wait out.
    /// SQLite has one writer at a time, so this instance's writers queue for it here, in
    /// order, rather than in SQLite's busy handler, which polls with growing sleeps and left a
    /// waiting writer idle long after the lock was free.
    pub(crate) async fn write_tx(&self) -> sqlx::Result<WriteTx> {
        let turn = self.write_turn().await;
        Ok(WriteTx {
            tx: self.pool.begin_with(self.backend.begin_write()).await?,
            _turn: turn,
        })
    }

    /// This instance's turn to write, on a backend with one writer at a time; none elsewhere.
    async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        if self.backend.single_writer() {
            Some(self.writer_gate.clone().lock_owned().await)
        } else {
            None
        }
    }

    /// A connection for one write statement outside a transaction. On SQLite it takes its turn
    /// at the same gate as `write_tx`: a statement that went around the gate would wait in
    /// SQLite's busy handler and keep losing the lock to the gate's queue, which under load
    /// held the write-back worker's claims for seconds.
    async fn writer(&self) -> sqlx::Result<Writer> {
        let turn = self.write_turn().await;
        Ok(Writer {
            conn: self.pool.acquire().await?,
            _turn: turn,
        })
    }

    /// One page of an org link's queue, in id order, optionally only the rows in one state or
    /// of one tenancy.
    async fn list_link_queue<T>(
        &self,
        queue: &Queue,
        link: Uuid,
        filter: QueueFilter<'_>,
        page: &PageRequest,
        row: impl Fn(&sqlx::any::AnyRow) -> sqlx::Result<T>,
        id: impl Fn(&T) -> Uuid,
    ) -> Result<Page<T>> {
        let Queue { table, columns, .. } = queue;
        let concerns = (queue.concerns)("$5");
        let sql = format!(
            "SELECT {columns} FROM {table} WHERE org_link_id = $1 AND ($2 = '' OR state = $2) AND id > $3 \
             AND ($5 = '' OR {concerns}) ORDER BY id LIMIT $4"
        );
        let found = sqlx::query(&sql)
            .bind(link.to_string())
            .bind(filter.state.unwrap_or(""))
            .bind(page.after())
            .bind(page.fetch())
            .bind(filter.tenancy.map(|t| t.to_string()).unwrap_or_default())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(row)
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Page::from_rows(found, page, id))
    }
}

/// An org link's queue of work that ops list, retry and dismiss: its write-backs or its inbox.
struct Queue {
    table: &'static str,
    columns: &'static str,
    /// What ops call one item, when it is not found.
    noun: &'static str,
    /// The items ops may move to the state `$3`.
    movable: &'static str,
    /// The condition, on the tenancy id's placeholder, true of the items that concern that
    /// tenancy.
    concerns: fn(&str) -> String,
}

/// Which rows of a link's queue to list.
struct QueueFilter<'a> {
    state: Option<&'a str>,
    /// Only the rows of this tenancy, as the queue's `concerns` says.
    tenancy: Option<Uuid>,
}

impl Store {
    /// Ops move one item of a link's queue to `state` now: back to pending with fresh attempts
    /// (a retry, a replay), or dismissed. With `tenancy`, an item that does not concern that
    /// tenancy is not found. Answers the item as it is now and whether it moved: it does only
    /// when the queue's `movable` holds.
    async fn move_queue_item(
        &self,
        queue: &Queue,
        link: Uuid,
        tenancy: Option<Uuid>,
        id: Uuid,
        state: &str,
    ) -> Result<(sqlx::any::AnyRow, bool)> {
        let Queue {
            table,
            columns,
            noun,
            movable,
            concerns,
        } = queue;
        let now = self.now();
        let tenancy = tenancy.map(|t| t.to_string()).unwrap_or_default();
        let update = format!(
            "UPDATE {table} SET state = $3, attempts = CASE WHEN $3 = 'pending' THEN 0 ELSE attempts END, \
             run_at = $4, lease_until = NULL, updated_at = $4 \
             WHERE org_link_id = $1 AND id = $2 AND {movable} AND ($5 = '' OR {})",
            concerns("$5")
        );
        let moved = sqlx::query(&update)
            .bind(link.to_string())
            .bind(id.to_string())
            .bind(state.to_string())
            .bind(now)
            .bind(tenancy.clone())
            .execute(&mut *self.writer().await?)
            .await?
            .rows_affected()
            > 0;
        let select = format!(
            "SELECT {columns} FROM {table} WHERE org_link_id = $1 AND id = $2 AND ($3 = '' OR {})",
            concerns("$3")
        );
        let row = sqlx::query(&select)
            .bind(link.to_string())
            .bind(id.to_string())
            .bind(tenancy)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound(noun))?;
        Ok((row, moved))
    }
}

/// A pooled connection holding this instance's turn to write on SQLite (see `Store::writer`).
struct Writer {
    conn: sqlx::pool::PoolConnection<sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl std::ops::Deref for Writer {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Writer {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// A write transaction, holding this instance's turn to write on SQLite until it ends.
pub(crate) struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> sqlx::Result<()> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

/// What an invite is checked against, read as its transaction opens.
pub(crate) struct InviteOpening {
    /// The tenancy's group model, which the lock holds still.
    pub model: crate::domain::tenancy::GroupModel,
    /// Whether the invite's org link serves the tenancy (false without a record).
    pub serves: bool,
    /// The client the record is already linked to in this tenancy.
    pub record_client: Option<Uuid>,
    /// The kind of user who already has the invite's e-mail in this tenancy.
    pub email_taken_by: Option<crate::domain::user::UserKind>,
}

impl Store {
    /// Opens an invite: takes the tenancy's lock in shared mode and, in the same round trip,
    /// reads what the invite is checked against (see `InviteOpening`).
    ///
    /// The shared lock keeps out a change of the tenancy's rules' inputs (staff deactivated,
    /// members removed, groups deleted: those take the lock exclusively, see `lock_tenancy`) but
    /// lets invites of different clients run side by side on PostgreSQL. On SQLite the write
    /// transaction already excludes every other writer.
    pub(crate) async fn open_invite(
        &self,
        conn: &mut AnyConnection,
        tenancy: Uuid,
        record: Option<&RecordRef>,
        email: &crate::domain::values::Email,
    ) -> Result<InviteOpening> {
        let lock = self.backend.share_lock_of("t");
        let sql = format!(
            "SELECT t.group_model, \
               (SELECT COUNT(*) FROM org_link_tenancies l WHERE l.org_link_id = $2 AND l.tenancy_id = t.id) AS serves, \
               (SELECT r.client_id FROM crm_records r \
                 WHERE r.org_link_id = $2 AND r.record_id = $3 AND r.tenancy_id = t.id) AS client_id, \
               (SELECT u.kind FROM users u WHERE u.tenancy_id = t.id AND u.email_key = $4) AS email_taken_by \
             FROM tenancies t WHERE t.id = $1{lock}"
        );
        let row = sqlx::query(&sql)
            .bind(tenancy.to_string())
            .bind(record.map(|r| r.org_link.to_string()).unwrap_or_default())
            .bind(
                record
                    .map(|r| r.record_id.as_str().to_string())
                    .unwrap_or_default(),
            )
            .bind(email.key())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(Error::NotFound("tenancy"))?;
        Ok(InviteOpening {
            model: rows::parsed(
                &row,
                "group_model",
                crate::domain::tenancy::GroupModel::parse,
            )?,
            serves: rows::int(&row, "serves")? > 0,
            record_client: rows::opt_id(&row, "client_id")?,
            email_taken_by: rows::opt_parsed(
                &row,
                "email_taken_by",
                crate::domain::user::UserKind::parse,
            )?,
        })
    }

    /// Locks groups for the rest of the transaction, in id order (PostgreSQL; SQLite's write
    /// transaction already excludes other writers).
    pub(crate) async fn lock_groups(
        &self,
        conn: &mut AnyConnection,
        tenancy: Uuid,
        groups: &[Uuid],
    ) -> Result<()> {
        if !self.backend.row_locks() || groups.is_empty() {
            return Ok(());
        }
        let mut ids: Vec<String> = groups.iter().map(Uuid::to_string).collect();
        ids.sort();
        ids.dedup();
        let placeholders = (2..ids.len() + 2)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT id FROM user_groups WHERE tenancy_id = $1 AND id IN ({placeholders}) ORDER BY id FOR UPDATE"
        );
        let mut query = sqlx::query(&sql).bind(tenancy.to_string());
        for id in ids {
            query = query.bind(id);
        }
        query.fetch_all(&mut *conn).await?;
        Ok(())
    }
}

/// A unique index refused the write: another transaction got there first.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Takes the tenancy's write lock for the rest of the transaction, so rules that span rows
/// (coverage, uniqueness) are checked against a state no other writer changes meanwhile. On
/// PostgreSQL this is a row lock; on SQLite the transaction already holds the database's
/// write lock (see `write_tx`), and this only checks that the tenancy exists.
pub(crate) async fn lock_tenancy(conn: &mut AnyConnection, tenancy: Uuid) -> Result<()> {
    let locked = sqlx::query("UPDATE tenancies SET updated_at = updated_at WHERE id = $1")
        .bind(tenancy.to_string())
        .execute(&mut *conn)
        .await?;
    if locked.rows_affected() == 0 {
        return Err(Error::NotFound("tenancy"));
    }
    Ok(())
}

pub(crate) mod failures;
pub use failures::{Attempt, FailureFilter, FailureItem, NewAttempt, WrittenWriteback};
pub use writeback::CallSummary;
