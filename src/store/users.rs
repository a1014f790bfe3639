//! Staff users and team accounts (with their delegates).

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Error, Page, PageRequest, Result, Store, contains_pattern, lock_tenancy, rows};
use crate::domain::conflict::ConflictCode;
use crate::domain::user::{self, StaffRole, UserKind};
use crate::domain::values::{DisplayName, E164Phone, Email, PersonName, SalesforceId, Title};

#[derive(Debug, Clone)]
pub struct Staff {
    pub id: Uuid,
    pub tenancy_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: Option<String>,
    pub title: Option<String>,
    pub role: StaffRole,
    /// Only active staff count towards covering a client, and only they can sign in.
    pub active: bool,
    /// The Salesforce user this staff user acts as, for org links that match staff by user id.
    pub salesforce_user_id: Option<String>,
    /// The same, for org links that match staff by Salesforce username.
    pub salesforce_username: Option<String>,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct TeamAccount {
    pub id: Uuid,
    pub tenancy_id: Uuid,
    /// The team's name as clients see it, e.g. "Support".
    pub name: String,
    pub email: String,
    /// The secure mobile number that receives the account's sign-in codes.
    pub mobile: String,
    /// The number shown to clients, distinct from the secure one.
    pub contact_number: Option<String>,
    /// Shown under the name; often the team's opening hours.
    pub title: Option<String>,
    pub active: bool,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewStaff {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: Email,
    pub mobile: Option<E164Phone>,
    pub title: Option<Title>,
    pub role: StaffRole,
}

#[derive(Debug, Clone, Default)]
pub struct StaffUpdate {
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub mobile: Option<E164Phone>,
    pub title: Option<Title>,
    pub role: Option<StaffRole>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct NewTeamAccount {
    pub name: DisplayName,
    pub email: Email,
    pub mobile: E164Phone,
    pub contact_number: Option<E164Phone>,
    pub title: Option<Title>,
}

#[derive(Debug, Clone, Default)]
pub struct TeamAccountUpdate {
    pub name: Option<DisplayName>,
    pub mobile: Option<E164Phone>,
    pub contact_number: Option<E164Phone>,
    pub title: Option<Title>,
    pub active: Option<bool>,
}

pub(super) const USER_COLUMNS: &str = "id, tenancy_id, kind, first_name, last_name, email, mobile, title, role, \
     status, contact_number, deactivated_at, created_at, salesforce_user_id, salesforce_username";

fn staff(row: &AnyRow) -> sqlx::Result<Staff> {
    Ok(Staff {
        id: rows::id(row, "id")?,
        tenancy_id: rows::id(row, "tenancy_id")?,
        first_name: rows::text(row, "first_name")?,
        last_name: rows::text(row, "last_name")?,
        email: rows::text(row, "email")?,
        mobile: rows::opt_text(row, "mobile")?,
        title: rows::opt_text(row, "title")?,
        role: rows::parsed(row, "role", StaffRole::parse)?,
        active: rows::opt_time(row, "deactivated_at")?.is_none(),
        created_at: rows::time(row, "created_at")?,
        salesforce_user_id: rows::opt_text(row, "salesforce_user_id")?,
        salesforce_username: rows::opt_text(row, "salesforce_username")?,
    })
}

impl Store {
    /// Sets (or clears) the Salesforce user a staff user acts as, in the caller's transaction;
    /// answers the staff user before and after. One Salesforce user maps to one staff user per
    /// tenancy.
    pub(crate) async fn set_staff_salesforce_user_in(
        &self,
        tx: &mut AnyConnection,
        tenancy: Uuid,
        staff_id: Uuid,
        user_id: Option<&SalesforceId>,
        username: Option<&str>,
    ) -> Result<(Staff, Staff)> {
        let before = self.user::<Staff>(&mut *tx, tenancy, staff_id).await?;
        let user_id = user_id.map(|id| id.as_str().to_string());
        let username = username.map(str::to_lowercase);
        let taken = sqlx::query(
            "SELECT 1 FROM users WHERE tenancy_id = $1 AND kind = 'staff' AND id <> $2 \
             AND ((salesforce_user_id IS NOT NULL AND salesforce_user_id = $3) OR (salesforce_username IS NOT NULL AND LOWER(salesforce_username) = $4))",
        )
        .bind(tenancy.to_string())
        .bind(staff_id.to_string())
        .bind(user_id.clone().unwrap_or_default())
        .bind(username.clone().unwrap_or_default())
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Err(Error::conflict(
                ConflictCode::SalesforceUserTaken,
                Some("user_id"),
                "this Salesforce user already acts as another staff user of this tenancy",
            ));
        }
        sqlx::query(
            "UPDATE users SET salesforce_user_id = $3, salesforce_username = $4, updated_at = $5 \
             WHERE tenancy_id = $1 AND id = $2",
        )
        .bind(tenancy.to_string())
        .bind(staff_id.to_string())
        .bind(user_id)
        .bind(username)
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        let after = self.user::<Staff>(tx, tenancy, staff_id).await?;
        Ok((before, after))
    }
}

fn team_account(row: &AnyRow) -> sqlx::Result<TeamAccount> {
    Ok(TeamAccount {
        id: rows::id(row, "id")?,
        tenancy_id: rows::id(row, "tenancy_id")?,
        name: rows::text(row, "first_name")?,
        email: rows::text(row, "email")?,
        mobile: rows::opt_text(row, "mobile")?.unwrap_or_default(),
        contact_number: rows::opt_text(row, "contact_number")?,
        title: rows::opt_text(row, "title")?,
        active: rows::opt_time(row, "deactivated_at")?.is_none(),
        created_at: rows::time(row, "created_at")?,
    })
}

/// Refuses an e-mail or (firm-side) mobile already held by another user of the tenancy, by
/// the domain's rules, from who holds them now. Run under the tenancy lock, so the answer holds
/// until the transaction commits.
pub(crate) async fn check_unique_contact(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    email: Option<&Email>,
    firm_mobile: Option<&E164Phone>,
    except: Option<Uuid>,
) -> Result<()> {
    if let Some(email) = email {
        user::check_email_free(email_holder(conn, tenancy, email, except).await?)?;
    }
    if let Some(mobile) = firm_mobile {
        user::check_firm_mobile_free(firm_mobile_taken(conn, tenancy, mobile, except).await?)?;
    }
    Ok(())
}

/// The kind of the tenancy's user (other than `except`) whose e-mail is `email`, if any.
pub(crate) async fn email_holder(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    email: &Email,
    except: Option<Uuid>,
) -> Result<Option<UserKind>> {
    let holder =
        sqlx::query("SELECT kind FROM users WHERE tenancy_id = $1 AND email_key = $2 AND id <> $3")
            .bind(tenancy.to_string())
            .bind(email.key())
            .bind(except.map(|id| id.to_string()).unwrap_or_default())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(holder
        .map(|row| rows::parsed(&row, "kind", UserKind::parse))
        .transpose()?)
}

/// Whether a staff user or team account of the tenancy (other than `except`) has `mobile`.
async fn firm_mobile_taken(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    mobile: &E164Phone,
    except: Option<Uuid>,
) -> Result<bool> {
    let taken = sqlx::query(
        "SELECT 1 FROM users WHERE tenancy_id = $1 AND mobile = $2 AND kind <> 'client' AND id <> $3",
    )
    .bind(tenancy.to_string())
    .bind(mobile.as_str().to_string())
    .bind(except.map(|id| id.to_string()).unwrap_or_default())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(taken.is_some())
}

/// A kind of user read whole from its row of `users`: staff users and team accounts are
/// fetched and listed alike.
trait UserRecord: Sized {
    const KIND: UserKind;
    fn read(row: &AnyRow) -> sqlx::Result<Self>;
    fn id(&self) -> Uuid;
}

impl UserRecord for Staff {
    const KIND: UserKind = UserKind::Staff;

    fn read(row: &AnyRow) -> sqlx::Result<Self> {
        staff(row)
    }

    fn id(&self) -> Uuid {
        self.id
    }
}

impl UserRecord for TeamAccount {
    const KIND: UserKind = UserKind::TeamAccount;

    fn read(row: &AnyRow) -> sqlx::Result<Self> {
        team_account(row)
    }

    fn id(&self) -> Uuid {
        self.id
    }
}

impl Store {
    /// The tenancy's user `id`, if it is a `T`.
    async fn user<T: UserRecord>(
        &self,
        conn: &mut AnyConnection,
        tenancy: Uuid,
        id: Uuid,
    ) -> Result<T> {
        Ok(T::read(&self.user_row(conn, tenancy, id, T::KIND).await?)?)
    }

    async fn user_row(
        &self,
        conn: &mut AnyConnection,
        tenancy: Uuid,
        id: Uuid,
        kind: UserKind,
    ) -> Result<AnyRow> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenancy_id = $1 AND id = $2 AND kind = $3"
        );
        sqlx::query(&sql)
            .bind(tenancy.to_string())
            .bind(id.to_string())
            .bind(kind.as_str())
            .fetch_optional(conn)
            .await?
            .ok_or(Error::NotFound(match kind {
                UserKind::Staff => "staff user",
                UserKind::Client => "client",
                UserKind::TeamAccount => "team account",
            }))
    }

    /// A page of the tenancy's users that are a `T`, found by name or e-mail.
    async fn list_users<T: UserRecord>(
        &self,
        tenancy: Uuid,
        query: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<T>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE tenancy_id = $1 AND kind = $2 AND id > $3 \
             AND (LOWER(first_name || ' ' || last_name) LIKE $4 ESCAPE '\\' OR email_key LIKE $4 ESCAPE '\\') \
             ORDER BY id LIMIT $5"
        );
        let found = sqlx::query(&sql)
            .bind(tenancy.to_string())
            .bind(T::KIND.as_str())
            .bind(page.after())
            .bind(contains_pattern(query))
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?;
        let found = found
            .iter()
            .map(T::read)
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Page::from_rows(found, page, T::id))
    }

    pub async fn create_staff(&self, tenancy: Uuid, new: NewStaff) -> Result<Staff> {
        let mut tx = self.write_tx().await?;
        let created = self.create_staff_in(&mut tx, tenancy, new).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Adds a staff user in the caller's transaction.
    pub(crate) async fn create_staff_in(
        &self,
        tx: &mut AnyConnection,
        tenancy: Uuid,
        new: NewStaff,
    ) -> Result<Staff> {
        lock_tenancy(&mut *tx, tenancy).await?;
        check_unique_contact(
            &mut *tx,
            tenancy,
            Some(&new.email),
            new.mobile.as_ref(),
            None,
        )
        .await?;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO users (id, tenancy_id, kind, first_name, last_name, email, email_key, mobile, title, role, created_at, updated_at) \
             VALUES ($1, $2, 'staff', $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(id.to_string())
        .bind(tenancy.to_string())
        .bind(new.first_name.as_str().to_string())
        .bind(new.last_name.as_str().to_string())
        .bind(new.email.as_str().to_string())
        .bind(new.email.key())
        .bind(new.mobile.map(|m| m.as_str().to_string()))
        .bind(new.title.map(|t| t.as_str().to_string()))
        .bind(new.role.as_str())
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        self.user::<Staff>(tx, tenancy, id).await
    }

    pub async fn staff(&self, tenancy: Uuid, id: Uuid) -> Result<Staff> {
        let mut conn = self.pool.acquire().await?;
        self.user(&mut conn, tenancy, id).await
    }

    /// A staff user, read in the caller's transaction.
    pub(crate) async fn staff_in(
        &self,
        conn: &mut AnyConnection,
        tenancy: Uuid,
        id: Uuid,
    ) -> Result<Staff> {
        self.user(conn, tenancy, id).await
    }

    pub async fn list_staff(
        &self,
        tenancy: Uuid,
        query: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Staff>> {
        self.list_users(tenancy, query, page).await
    }

    /// Changes a staff user in the caller's transaction; answers the user before and after.
    /// Deactivating one must leave every client they cover covered by another active staff
    /// user.
    pub(crate) async fn update_staff_in(
        &self,
        tx: &mut AnyConnection,
        tenancy: Uuid,
        id: Uuid,
        update: StaffUpdate,
    ) -> Result<(Staff, Staff)> {
        lock_tenancy(&mut *tx, tenancy).await?;
        let before = self.user::<Staff>(&mut *tx, tenancy, id).await?;
        check_unique_contact(&mut *tx, tenancy, None, update.mobile.as_ref(), Some(id)).await?;
        let now = self.now();
        let deactivated_at = activation_change(before.active, update.active, now);
        sqlx::query(
            "UPDATE users SET first_name = COALESCE($3, first_name), last_name = COALESCE($4, last_name), \
             mobile = COALESCE($5, mobile), title = COALESCE($6, title), role = COALESCE($7, role), \
             deactivated_at = CASE WHEN $8 = 1 THEN $9 ELSE deactivated_at END, updated_at = $10 \
             WHERE tenancy_id = $1 AND id = $2",
        )
        .bind(tenancy.to_string())
        .bind(id.to_string())
        .bind(update.first_name.map(|v| v.as_str().to_string()))
        .bind(update.last_name.map(|v| v.as_str().to_string()))
        .bind(update.mobile.map(|v| v.as_str().to_string()))
        .bind(update.title.map(|v| v.as_str().to_string()))
        .bind(update.role.map(|r| r.as_str().to_string()))
        .bind(i64::from(deactivated_at.is_some()))
        .bind(deactivated_at.flatten())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(change) = deactivated_at {
            sync_member_active(&mut *tx, id, change.is_none()).await?;
        }
        if deactivated_at == Some(Some(now)) {
            super::groups::ensure_groups_of_user_cover_their_clients(&mut *tx, tenancy, id).await?;
            // A deactivated user's tokens end with them: reactivating the user must not bring
            // back credentials issued before, which may have leaked in the meantime.
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $3 WHERE tenancy_id = $1 AND staff_id = $2 AND revoked_at IS NULL",
            )
            .bind(tenancy.to_string())
            .bind(id.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // Their console sessions end now too, not on their next request: a session left
            // unused until a reactivation must not come back with it.
            super::console::end_staff_sessions(&mut *tx, id, now).await?;
        }
        let after = self.user::<Staff>(tx, tenancy, id).await?;
        Ok((before, after))
    }

    /// Adds a team account in the caller's transaction. Its e-mail and mobile are the
    /// tenancy's alone, and the number clients see differs from the secure one.
    pub(crate) async fn create_team_account_in(
        &self,
        tx: &mut AnyConnection,
        tenancy: Uuid,
        new: NewTeamAccount,
    ) -> Result<TeamAccount> {
        if new.contact_number.as_ref() == Some(&new.mobile) {
            return Err(Error::invalid(
                "contact_number",
                "must differ from the secure mobile number, which clients never see",
            ));
        }
        lock_tenancy(&mut *tx, tenancy).await?;
        check_unique_contact(&mut *tx, tenancy, Some(&new.email), Some(&new.mobile), None).await?;
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO users (id, tenancy_id, kind, first_name, last_name, email, email_key, mobile, title, contact_number, created_at, updated_at) \
             VALUES ($1, $2, 'team_account', $3, '', $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(id.to_string())
        .bind(tenancy.to_string())
        .bind(new.name.as_str().to_string())
        .bind(new.email.as_str().to_string())
        .bind(new.email.key())
        .bind(new.mobile.as_str().to_string())
        .bind(new.title.map(|t| t.as_str().to_string()))
        .bind(new.contact_number.map(|c| c.as_str().to_string()))
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        self.user::<TeamAccount>(tx, tenancy, id).await
    }

    pub async fn team_account(&self, tenancy: Uuid, id: Uuid) -> Result<TeamAccount> {
        let mut conn = self.pool.acquire().await?;
        self.user(&mut conn, tenancy, id).await
    }

    pub async fn list_team_accounts(
        &self,
        tenancy: Uuid,
        query: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<TeamAccount>> {
        self.list_users(tenancy, query, page).await
    }

    /// Changes a team account in the caller's transaction; answers it before and after.
    pub(crate) async fn update_team_account_in(
        &self,
        tx: &mut AnyConnection,
        tenancy: Uuid,
        id: Uuid,
        update: TeamAccountUpdate,
    ) -> Result<(TeamAccount, TeamAccount)> {
        lock_tenancy(&mut *tx, tenancy).await?;
        let before = self.user::<TeamAccount>(&mut *tx, tenancy, id).await?;
        let mobile = update
            .mobile
            .as_ref()
            .map(|m| m.as_str())
            .unwrap_or(&before.mobile);
        let contact = update
            .contact_number
            .as_ref()
            .map(|c| c.as_str())
            .or(before.contact_number.as_deref());
        if contact == Some(mobile) {
            return Err(Error::invalid(
                "contact_number",
                "must differ from the secure mobile number, which clients never see",
            ));
        }
        check_unique_contact(&mut *tx, tenancy, None, update.mobile.as_ref(), Some(id)).await?;
        let now = self.now();
        let deactivated_at = activation_change(before.active, update.active, now);
        sqlx::query(
            "UPDATE users SET first_name = COALESCE($3, first_name), mobile = COALESCE($4, mobile), \
             contact_number = COALESCE($5, contact_number), title = COALESCE($6, title), \
             deactivated_at = CASE WHEN $7 = 1 THEN $8 ELSE deactivated_at END, updated_at = $9 \
             WHERE tenancy_id = $1 AND id = $2",
        )
        .bind(tenancy.to_string())
        .bind(id.to_string())
        .bind(update.name.map(|v| v.as_str().to_string()))
        .bind(update.mobile.map(|v| v.as_str().to_string()))
        .bind(update.contact_number.map(|v| v.as_str().to_string()))
        .bind(update.title.map(|v| v.as_str().to_string()))
        .bind(i64::from(deactivated_at.is_some()))
        .bind(deactivated_at.flatten())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if let Some(change) = deactivated_at {
            sync_member_active(&mut *tx, id, change.is_none()).await?;
        }
        let after = self.user::<TeamAccount>(tx, tenancy, id).await?;
        Ok((before, after))
    }

    /// Lets a staff user act as the team account. Only active staff of the same tenancy.
    pub async fn add_delegate(&self, tenancy: Uuid, team: Uuid, staff_id: Uuid) -> Result<Staff> {
        let mut tx = self.write_tx().await?;
        lock_tenancy(&mut tx, tenancy).await?;
        self.user_row(&mut tx, tenancy, team, UserKind::TeamAccount)
            .await?;
        let delegate = match self
            .user_row(&mut tx, tenancy, staff_id, UserKind::Staff)
            .await
        {
            Ok(row) => staff(&row)?,
            Err(Error::NotFound(_)) => {
                return Err(Error::invalid(
                    "staff_id",
                    "is not a staff user of this tenancy",
                ));
            }
            Err(e) => return Err(e),
        };
        if !delegate.active {
            return Err(Error::invalid("staff_id", "is a deactivated staff user"));
        }
        sqlx::query(
            "INSERT INTO team_delegates (tenancy_id, team_account_id, staff_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (team_account_id, staff_id) DO NOTHING",
        )
        .bind(tenancy.to_string())
        .bind(team.to_string())
        .bind(staff_id.to_string())
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(delegate)
    }

    pub async fn remove_delegate(&self, tenancy: Uuid, team: Uuid, staff_id: Uuid) -> Result<()> {
        let done = sqlx::query("DELETE FROM team_delegates WHERE tenancy_id = $1 AND team_account_id = $2 AND staff_id = $3")
            .bind(tenancy.to_string())
            .bind(team.to_string())
            .bind(staff_id.to_string())
            .execute(&mut *self.writer().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("delegate"));
        }
        Ok(())
    }

    pub async fn list_delegates(
        &self,
        tenancy: Uuid,
        team: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Staff>> {
        self.team_account(tenancy, team).await?;
        let sql = format!(
            "SELECT {} FROM users u JOIN team_delegates d ON d.staff_id = u.id \
             WHERE d.tenancy_id = $1 AND d.team_account_id = $2 AND u.tenancy_id = $1 AND u.id > $3 \
             ORDER BY u.id LIMIT $4",
            prefixed("u", USER_COLUMNS)
        );
        let found = sqlx::query(&sql)
            .bind(tenancy.to_string())
            .bind(team.to_string())
            .bind(page.after())
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(staff)
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Page::from_rows(found, page, |s| s.id))
    }
}

/// What an `active` flag in an update does to `deactivated_at`: `Some(Some(now))` deactivates,
/// `Some(None)` reactivates, `None` leaves it as it is.
fn activation_change(active_now: bool, requested: Option<bool>, now: i64) -> Option<Option<i64>> {
    match requested {
        Some(false) if active_now => Some(Some(now)),
        Some(true) if !active_now => Some(None),
        _ => None,
    }
}

/// Keeps the memberships' copy of whether a user is active in step with the user.
async fn sync_member_active(conn: &mut AnyConnection, user: Uuid, active: bool) -> Result<()> {
    sqlx::query("UPDATE group_members SET member_active = $2 WHERE user_id = $1")
        .bind(user.to_string())
        .bind(i64::from(active))
        .execute(conn)
        .await?;
    Ok(())
}

/// `a, b` → `u.a, u.b`, for joins.
pub(super) fn prefixed(alias: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
