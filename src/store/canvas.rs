//! What the invite flow inside Salesforce keeps: short sessions opened by a verified canvas
//! signed request, the staff a Salesforce user acts as, and the org link's API key for callers
//! that are not a browser.

use uuid::Uuid;

use super::{Error, Result, Store, rows};
use crate::domain::org_link::StaffMatch;
use crate::domain::tenancy::{GroupModel, MobilePolicy};
use crate::domain::user::StaffRole;
use crate::domain::values::{Email, SalesforceId};

/// The Salesforce user behind a request, as Salesforce vouched for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceUser {
    pub user_id: SalesforceId,
    pub username: Option<String>,
    pub email: Option<String>,
    /// For the page's greeting.
    pub name: String,
}

/// A canvas session: who, from which org link, on which record.
#[derive(Debug, Clone)]
pub struct CanvasSession {
    pub org_link: Uuid,
    pub user: SalesforceUser,
    /// `Contact` or `Account`, with the record's id; absent when the app is not on a record.
    pub record: Option<(String, SalesforceId)>,
    pub csrf: String,
}

/// A tenancy where the Salesforce user is an active staff user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingStaff {
    pub tenancy: Uuid,
    pub tenancy_name: String,
    pub staff: Uuid,
    pub role: StaffRole,
    /// The tenancy's settings an invitation is parsed with, read with the staff user.
    pub group_model: GroupModel,
    pub mobile_policy: MobilePolicy,
}

impl Store {
    /// Opens a session; `token_hash` is the digest of the cookie's value.
    pub async fn open_canvas_session(
        &self,
        token_hash: &str,
        session: &CanvasSession,
        lifetime_ms: i64,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        // Sessions past their time are of no use to anyone.
        sqlx::query("DELETE FROM canvas_sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO canvas_sessions (token_hash, org_link_id, salesforce_user_id, salesforce_username, \
               salesforce_email, user_name, sobject, record_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(token_hash.to_string())
        .bind(session.org_link.to_string())
        .bind(session.user.user_id.as_str().to_string())
        .bind(session.user.username.clone())
        .bind(session.user.email.clone())
        .bind(session.user.name.clone())
        .bind(session.record.as_ref().map(|(sobject, _)| sobject.clone()))
        .bind(
            session
                .record
                .as_ref()
                .map(|(_, id)| id.as_str().to_string()),
        )
        .bind(session.csrf.clone())
        .bind(now)
        .bind(now + lifetime_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The live session with this token hash.
    pub async fn canvas_session(&self, token_hash: &str) -> Result<CanvasSession> {
        let row = sqlx::query(
            "SELECT org_link_id, salesforce_user_id, salesforce_username, salesforce_email, user_name, sobject, \
               record_id, csrf FROM canvas_sessions WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash.to_string())
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("session"))?;
        let id = |column: &str| -> Result<SalesforceId> {
            SalesforceId::parse(&rows::text(&row, column)?).map_err(|_| Error::NotFound("session"))
        };
        let record = match (
            rows::opt_text(&row, "sobject")?,
            rows::opt_text(&row, "record_id")?,
        ) {
            (Some(sobject), Some(record)) => Some((
                sobject,
                SalesforceId::parse(&record).map_err(|_| Error::NotFound("session"))?,
            )),
            _ => None,
        };
        Ok(CanvasSession {
            org_link: rows::id(&row, "org_link_id")?,
            user: SalesforceUser {
                user_id: id("salesforce_user_id")?,
                username: rows::opt_text(&row, "salesforce_username")?,
                email: rows::opt_text(&row, "salesforce_email")?,
                name: rows::text(&row, "user_name")?,
            },
            record,
            csrf: rows::text(&row, "csrf")?,
        })
    }

    /// The tenancies of the org link where this Salesforce user is an active staff user, and
    /// who they are there, matched the way the link says.
    pub async fn acting_staff(
        &self,
        org_link: Uuid,
        how: StaffMatch,
        user: &SalesforceUser,
    ) -> Result<Vec<ActingStaff>> {
        let (condition, value) = match how {
            StaffMatch::UserId => (
                "u.salesforce_user_id = $2",
                Some(user.user_id.as_str().to_string()),
            ),
            StaffMatch::Username => (
                "LOWER(u.salesforce_username) = $2",
                user.username.as_deref().map(str::to_lowercase),
            ),
            StaffMatch::Email => (
                "u.email_key = $2",
                user.email
                    .as_deref()
                    .and_then(|e| Email::parse(e).ok())
                    .map(|e| e.key()),
            ),
        };
        let Some(value) = value else {
            return Ok(vec![]);
        };
        let sql = format!(
            "SELECT t.id AS tenancy_id, t.name AS tenancy_name, t.group_model, t.mobile_policy, u.id AS staff_id, u.role \
             FROM org_link_tenancies l \
             JOIN tenancies t ON t.id = l.tenancy_id \
             JOIN users u ON u.tenancy_id = l.tenancy_id AND u.kind = 'staff' AND u.deactivated_at IS NULL \
             WHERE l.org_link_id = $1 AND {condition} ORDER BY t.name, t.id"
        );
        sqlx::query(&sql)
            .bind(org_link.to_string())
            .bind(value)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(ActingStaff {
                    tenancy: rows::id(row, "tenancy_id")?,
                    tenancy_name: rows::text(row, "tenancy_name")?,
                    staff: rows::id(row, "staff_id")?,
                    role: rows::parsed(row, "role", StaffRole::parse)?,
                    group_model: rows::parsed(row, "group_model", GroupModel::parse)?,
                    mobile_policy: rows::parsed(row, "mobile_policy", MobilePolicy::parse)?,
                })
            })
            .collect()
    }

    /// The client a record is linked to in a tenancy, if any.
    pub async fn client_of_record(
        &self,
        tenancy: Uuid,
        org_link: Uuid,
        record: &SalesforceId,
    ) -> Result<Option<Uuid>> {
        let row = sqlx::query(
            "SELECT client_id FROM crm_records WHERE org_link_id = $1 AND record_id = $2 AND tenancy_id = $3",
        )
        .bind(org_link.to_string())
        .bind(record.as_str().to_string())
        .bind(tenancy.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| rows::id(&r, "client_id")).transpose()?)
    }

    /// Replaces the org link's API key (its hash); the old key stops working at once.
    pub(crate) async fn set_org_link_api_key(
        &self,
        conn: &mut sqlx::AnyConnection,
        org_link: Uuid,
        key_hash: &str,
    ) -> Result<()> {
        let done = sqlx::query("UPDATE org_links SET api_key_hash = $2 WHERE id = $1")
            .bind(org_link.to_string())
            .bind(key_hash.to_string())
            .execute(conn)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("org link"));
        }
        Ok(())
    }

    /// The org link whose API key has this hash.
    pub async fn org_link_by_api_key(&self, key_hash: &str) -> Result<Uuid> {
        let row = sqlx::query("SELECT id FROM org_links WHERE api_key_hash = $1")
            .bind(key_hash.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("org link"))?;
        Ok(rows::id(&row, "id")?)
    }

    /// The org link of a Salesforce org.
    pub async fn org_link_of_org(&self, org_id: &SalesforceId) -> Result<Uuid> {
        let row = sqlx::query("SELECT id FROM org_links WHERE org_id = $1")
            .bind(org_id.as_str().to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("org link"))?;
        Ok(rows::id(&row, "id")?)
    }
}
