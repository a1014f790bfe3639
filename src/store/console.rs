//! What the admin console keeps: one-time sign-in links and sessions, each found by the hash of
//! its secret, and the facts signing in needs (which tenancies an address administers, who a
//! session's user is now).

use std::collections::HashMap;

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Result, Store, rows};
use crate::clock::to_millis;
use crate::domain::user::StaffRole;

/// Who a sign-in link or a session is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleUser {
    /// The installation's operator: every tenancy, no user row.
    Operator,
    /// A staff user of one tenancy.
    Staff { tenancy: Uuid, staff: Uuid },
}

impl ConsoleUser {
    fn tenancy(self) -> Option<String> {
        match self {
            Self::Operator => None,
            Self::Staff { tenancy, .. } => Some(tenancy.to_string()),
        }
    }

    fn staff(self) -> Option<String> {
        match self {
            Self::Operator => None,
            Self::Staff { staff, .. } => Some(staff.to_string()),
        }
    }

    fn of_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(
            match (
                rows::opt_id(row, "tenancy_id")?,
                rows::opt_id(row, "staff_id")?,
            ) {
                (Some(tenancy), Some(staff)) => Self::Staff { tenancy, staff },
                _ => Self::Operator,
            },
        )
    }
}

/// A staff user as a session shows them, read with the session: as they are now.
#[derive(Debug, Clone)]
pub struct SessionStaff {
    /// Absent when the row holds no role the domain knows (never, given the table's check).
    pub role: Option<StaffRole>,
    pub active: bool,
    pub name: String,
    pub tenancy_name: String,
}

/// A console session, ended or not: the service decides whether it still runs.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub id: Uuid,
    pub user: ConsoleUser,
    /// The token every form of the session carries.
    pub csrf: String,
    pub opened: OffsetDateTime,
    pub last_seen: OffsetDateTime,
    pub ended: bool,
    /// The staff user behind a staff session; absent for an operator's.
    pub staff: Option<SessionStaff>,
}

/// A tenancy where an e-mail address is an active staff user, with their role there.
#[derive(Debug, Clone)]
pub struct StaffAddress {
    pub tenancy: Uuid,
    pub tenancy_name: String,
    pub staff: Uuid,
    pub first_name: String,
    pub email: String,
    pub role: StaffRole,
}

/// Keeps a new sign-in link's hash, valid until `expires_at`. Links past their time go.
pub(crate) async fn insert_sign_in_link(
    conn: &mut AnyConnection,
    token_hash: &str,
    user: ConsoleUser,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<()> {
    sqlx::query("DELETE FROM console_sign_in_links WHERE expires_at < $1")
        .bind(to_millis(now))
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO console_sign_in_links (token_hash, tenancy_id, staff_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash.to_string())
    .bind(user.tenancy())
    .bind(user.staff())
    .bind(to_millis(now))
    .bind(to_millis(expires_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Uses a live sign-in link: marks it used and answers whom it was for; `None` for a link that
/// is unknown, used or expired, alike.
pub(crate) async fn use_sign_in_link(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: OffsetDateTime,
) -> Result<Option<ConsoleUser>> {
    let row = sqlx::query(
        "UPDATE console_sign_in_links SET used_at = $2 \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING tenancy_id, staff_id",
    )
    .bind(token_hash.to_string())
    .bind(to_millis(now))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.as_ref().map(ConsoleUser::of_row).transpose()?)
}

/// Opens a session. Sessions that began before `forget_before` have ended by any reckoning and
/// go.
pub(crate) async fn insert_session(
    conn: &mut AnyConnection,
    token_hash: &str,
    session: &ConsoleSession,
    forget_before: OffsetDateTime,
) -> Result<()> {
    sqlx::query("DELETE FROM console_sessions WHERE created_at < $1")
        .bind(to_millis(forget_before))
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO console_sessions (id, token_hash, tenancy_id, staff_id, csrf, created_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(session.id.to_string())
    .bind(token_hash.to_string())
    .bind(session.user.tenancy())
    .bind(session.user.staff())
    .bind(session.csrf.clone())
    .bind(to_millis(session.opened))
    .bind(to_millis(session.last_seen))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends every running console session of a staff user, in the caller's transaction.
pub(crate) async fn end_staff_sessions(
    conn: &mut AnyConnection,
    staff: Uuid,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE console_sessions SET ended_at = $1 WHERE ended_at IS NULL AND staff_id = $2",
    )
    .bind(now)
    .bind(staff.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// Whom a live, unused sign-in link is for, without using it.
    pub async fn sign_in_link(&self, token_hash: &str) -> Result<Option<ConsoleUser>> {
        let row = sqlx::query(
            "SELECT tenancy_id, staff_id FROM console_sign_in_links \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash.to_string())
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(ConsoleUser::of_row).transpose()?)
    }

    /// The tenancies where `email_key` is an active staff user, by tenancy name.
    pub async fn staff_addresses(&self, email_key: &str) -> Result<Vec<StaffAddress>> {
        sqlx::query(
            "SELECT t.id AS tenancy_id, t.name AS tenancy_name, u.id AS staff_id, u.first_name, u.email, u.role \
             FROM users u JOIN tenancies t ON t.id = u.tenancy_id \
             WHERE u.email_key = $1 AND u.kind = 'staff' AND u.deactivated_at IS NULL ORDER BY t.name, t.id",
        )
        .bind(email_key.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(StaffAddress {
                tenancy: rows::id(row, "tenancy_id")?,
                tenancy_name: rows::text(row, "tenancy_name")?,
                staff: rows::id(row, "staff_id")?,
                first_name: rows::text(row, "first_name")?,
                email: rows::text(row, "email")?,
                role: rows::parsed(row, "role", StaffRole::parse)?,
            })
        })
        .collect()
    }

    /// The session whose cookie has this hash, with its staff user as they are now.
    pub async fn console_session(&self, token_hash: &str) -> Result<Option<ConsoleSession>> {
        let row = sqlx::query(
            "SELECT s.id, s.tenancy_id, s.staff_id, s.csrf, s.created_at, s.last_seen_at, s.ended_at, \
               u.role, u.deactivated_at, u.first_name, u.last_name, t.name AS tenancy_name \
             FROM console_sessions s \
             LEFT JOIN users u ON u.id = s.staff_id AND u.tenancy_id = s.tenancy_id AND u.kind = 'staff' \
             LEFT JOIN tenancies t ON t.id = s.tenancy_id \
             WHERE s.token_hash = $1",
        )
        .bind(token_hash.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = ConsoleUser::of_row(&row)?;
        let staff = match (user, rows::opt_text(&row, "first_name")?) {
            (ConsoleUser::Staff { .. }, Some(first)) => Some(SessionStaff {
                role: rows::opt_parsed(&row, "role", StaffRole::parse)?,
                active: rows::opt_time(&row, "deactivated_at")?.is_none(),
                name: format!("{first} {}", rows::text(&row, "last_name")?),
                tenancy_name: rows::opt_text(&row, "tenancy_name")?.unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(Some(ConsoleSession {
            id: rows::id(&row, "id")?,
            user,
            csrf: rows::text(&row, "csrf")?,
            opened: rows::time(&row, "created_at")?,
            last_seen: rows::time(&row, "last_seen_at")?,
            ended: rows::opt_time(&row, "ended_at")?.is_some(),
            staff,
        }))
    }

    /// Notes a request of the session now, which its idle time counts from.
    pub async fn touch_console_session(&self, id: Uuid) -> Result<()> {
        sqlx::query("UPDATE console_sessions SET last_seen_at = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(self.now())
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    /// Ends one session (sign-out), or with `everywhere` every running session of its user:
    /// a staff user's, or for an operator every operator session.
    pub async fn end_console_sessions(
        &self,
        session: &ConsoleSession,
        everywhere: bool,
    ) -> Result<()> {
        let now = self.now();
        let (condition, key) = match (everywhere, session.user) {
            (false, _) => ("id = $2", session.id.to_string()),
            (true, ConsoleUser::Staff { staff, .. }) => ("staff_id = $2", staff.to_string()),
            (true, ConsoleUser::Operator) => ("staff_id IS NULL AND $2 <> ''", "all".to_string()),
        };
        let sql = format!(
            "UPDATE console_sessions SET ended_at = $1 WHERE ended_at IS NULL AND {condition}"
        );
        sqlx::query(&sql)
            .bind(now)
            .bind(key)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    /// The names of these tenancies, by id (those that exist).
    pub async fn tenancy_names(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, String>> {
        let list = ids
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT id, name FROM tenancies WHERE id IN (SELECT wanted FROM {})",
            self.backend.comma_list_rows("$1", "wanted")
        );
        sqlx::query(&sql)
            .bind(list)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| Ok((rows::id(row, "id")?, rows::text(row, "name")?)))
            .collect()
    }
}
