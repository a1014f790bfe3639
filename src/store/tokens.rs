//! API bearer tokens. Only a SHA-256 hash of each token is stored: the secret is shown once,
//! when it is created. Tokens carry 256 random bits, so a fast hash is enough.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Error, Page, PageRequest, Result, Store, rows};
use crate::domain::user::StaffRole;
use crate::secrets::{digest as hash, random_token};

/// Who is calling, as proven by their token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// Runs the installation: creates tenancies and acts in any of them.
    Operator { token_id: Uuid },
    /// A staff user of one tenancy, with the role they hold now (not when the token was made).
    Staff {
        token_id: Uuid,
        tenancy_id: Uuid,
        staff_id: Uuid,
        role: StaffRole,
    },
}

#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    /// Absent for an operator token.
    pub tenancy_id: Option<Uuid>,
    /// The staff user the token acts as; absent for an operator token.
    pub staff_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// When the token stops working; absent for a token that does not expire.
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct CreatedToken {
    /// The bearer token. Shown only now; store it safely.
    pub token: String,
    pub info: TokenInfo,
}

const PREFIX: &str = "lsn_";

fn token_info(row: &AnyRow) -> sqlx::Result<TokenInfo> {
    Ok(TokenInfo {
        id: rows::id(row, "id")?,
        name: rows::text(row, "name")?,
        tenancy_id: rows::opt_id(row, "tenancy_id")?,
        staff_id: rows::opt_id(row, "staff_id")?,
        created_at: rows::time(row, "created_at")?,
        revoked_at: rows::opt_time(row, "revoked_at")?,
        expires_at: rows::opt_time(row, "expires_at")?,
    })
}

impl Store {
    async fn insert_token(
        &self,
        name: &str,
        staff: Option<(Uuid, Uuid)>,
        lifetime: Option<time::Duration>,
    ) -> Result<CreatedToken> {
        let mut tx = self.write_tx().await?;
        let created = self.insert_token_in(&mut tx, name, staff, lifetime).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn insert_token_in(
        &self,
        conn: &mut AnyConnection,
        name: &str,
        staff: Option<(Uuid, Uuid)>,
        lifetime: Option<time::Duration>,
    ) -> Result<CreatedToken> {
        let token = format!("{PREFIX}{}", random_token());
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO api_tokens (id, token_hash, name, tenancy_id, staff_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.to_string())
        .bind(hash(&token))
        .bind(name.to_string())
        .bind(staff.map(|(t, _)| t.to_string()))
        .bind(staff.map(|(_, s)| s.to_string()))
        .bind(self.now())
        .bind(lifetime.map(|l| crate::clock::to_millis(self.clock.now() + l)))
        .execute(&mut *conn)
        .await?;
        let row = sqlx::query("SELECT id, name, tenancy_id, staff_id, created_at, revoked_at, expires_at FROM api_tokens WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(&mut *conn)
            .await?;
        Ok(CreatedToken {
            token,
            info: token_info(&row)?,
        })
    }

    pub async fn create_operator_token(
        &self,
        name: &str,
        lifetime: Option<time::Duration>,
    ) -> Result<CreatedToken> {
        self.insert_token(name, None, lifetime).await
    }

    /// An operator token, made in the caller's transaction.
    pub(crate) async fn create_operator_token_in(
        &self,
        conn: &mut AnyConnection,
        name: &str,
        lifetime: Option<time::Duration>,
    ) -> Result<CreatedToken> {
        self.insert_token_in(conn, name, None, lifetime).await
    }

    /// A token that acts as an active staff user of the tenancy.
    pub async fn create_staff_token(
        &self,
        tenancy: Uuid,
        staff: Uuid,
        name: &str,
        lifetime: Option<time::Duration>,
    ) -> Result<CreatedToken> {
        let mut tx = self.write_tx().await?;
        let created = self
            .create_staff_token_in(&mut tx, tenancy, staff, name, lifetime)
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// As `create_staff_token`, in the caller's transaction.
    pub(crate) async fn create_staff_token_in(
        &self,
        conn: &mut AnyConnection,
        tenancy: Uuid,
        staff: Uuid,
        name: &str,
        lifetime: Option<time::Duration>,
    ) -> Result<CreatedToken> {
        let user = match self.staff_in(&mut *conn, tenancy, staff).await {
            Ok(user) => user,
            Err(Error::NotFound(_)) => {
                return Err(Error::invalid(
                    "staff_id",
                    "is not a staff user of this tenancy",
                ));
            }
            Err(e) => return Err(e),
        };
        if !user.active {
            return Err(Error::invalid("staff_id", "is a deactivated staff user"));
        }
        self.insert_token_in(conn, name, Some((tenancy, staff)), lifetime)
            .await
    }

    /// The caller behind a bearer token, if it is live (not revoked, not expired) and its
    /// staff user is active.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Actor>> {
        if !token.starts_with(PREFIX) || token.len() > 100 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT t.id, t.tenancy_id, t.staff_id, u.role, u.deactivated_at FROM api_tokens t \
             LEFT JOIN users u ON u.id = t.staff_id AND u.tenancy_id = t.tenancy_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > $2)",
        )
        .bind(hash(token))
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let token_id = rows::id(&row, "id")?;
        match (
            rows::opt_id(&row, "tenancy_id")?,
            rows::opt_id(&row, "staff_id")?,
        ) {
            (None, _) => Ok(Some(Actor::Operator { token_id })),
            (Some(tenancy_id), Some(staff_id)) => {
                let role = rows::opt_text(&row, "role")?
                    .as_deref()
                    .and_then(StaffRole::parse);
                match (role, rows::opt_time(&row, "deactivated_at")?) {
                    (Some(role), None) => Ok(Some(Actor::Staff {
                        token_id,
                        tenancy_id,
                        staff_id,
                        role,
                    })),
                    _ => Ok(None),
                }
            }
            (Some(_), None) => Ok(None),
        }
    }

    /// Tokens of a tenancy, or the operator tokens when `tenancy` is `None`.
    pub async fn list_tokens(
        &self,
        tenancy: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Page<TokenInfo>> {
        let found = sqlx::query(
            "SELECT id, name, tenancy_id, staff_id, created_at, revoked_at, expires_at FROM api_tokens \
             WHERE COALESCE(tenancy_id, '') = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(tenancy.map(|t| t.to_string()).unwrap_or_default())
        .bind(page.after())
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(token_info)
        .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Page::from_rows(found, page, |t| t.id))
    }

    /// Revokes a token of the tenancy (or an operator token when `tenancy` is `None`).
    /// Revoking twice is harmless; the first time is kept.
    pub async fn revoke_token(&self, tenancy: Option<Uuid>, id: Uuid) -> Result<TokenInfo> {
        let mut tx = self.write_tx().await?;
        let (info, _) = self.revoke_token_in(&mut tx, tenancy, id).await?;
        tx.commit().await?;
        Ok(info)
    }

    /// As `revoke_token`, in the caller's transaction; also answers whether this call revoked
    /// it (`false` when it was revoked before).
    pub(crate) async fn revoke_token_in(
        &self,
        conn: &mut AnyConnection,
        tenancy: Option<Uuid>,
        id: Uuid,
    ) -> Result<(TokenInfo, bool)> {
        let tenancy = tenancy.map(|t| t.to_string()).unwrap_or_default();
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND COALESCE(tenancy_id, '') = $2 AND revoked_at IS NULL",
        )
        .bind(id.to_string())
        .bind(tenancy.clone())
        .bind(self.now())
        .execute(&mut *conn)
        .await?;
        let row = sqlx::query("SELECT id, name, tenancy_id, staff_id, created_at, revoked_at, expires_at FROM api_tokens WHERE id = $1 AND COALESCE(tenancy_id, '') = $2")
            .bind(id.to_string())
            .bind(tenancy)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(Error::NotFound("token"))?;
        Ok((token_info(&row)?, done.rows_affected() > 0))
    }
}
