//! Salesforce org links and their OAuth flows. Secrets arrive here already sealed; the store
//! never sees them in the clear.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Error, Page, PageRequest, Result, Store, rows};
use crate::domain::audit::Event;
use crate::domain::conflict::ConflictCode;
use crate::domain::org_link::{
    ApiUsage, AuthKind, AutoInvite, CallSchedule, FieldMapping, LinkSecrets, LinkState, OrgLink,
    StaffMatch,
};

#[derive(Debug, Clone)]
pub struct NewOrgLink {
    pub name: String,
    pub org_id: String,
    pub login_host: String,
    pub auth_kind: AuthKind,
    pub consumer_key: String,
    pub integration_username: Option<String>,
    pub api_version: String,
    pub field_mapping: FieldMapping,
    pub staff_match: StaffMatch,
    pub api_budget_percent: i64,
    pub tenancies: Vec<Uuid>,
    pub integration_user_id: Option<String>,
    pub auto_invite: Option<AutoInvite>,
}

#[derive(Debug, Clone, Default)]
pub struct OrgLinkUpdate {
    pub name: Option<String>,
    pub login_host: Option<String>,
    pub consumer_key: Option<String>,
    pub integration_username: Option<String>,
    pub api_version: Option<String>,
    pub field_mapping: Option<FieldMapping>,
    pub staff_match: Option<StaffMatch>,
    pub api_budget_percent: Option<i64>,
    pub tenancies: Option<Vec<Uuid>>,
    /// `Some(true)` pauses a link; `Some(false)` resumes a paused one.
    pub paused: Option<bool>,
    pub integration_user_id: Option<String>,
    /// `Some(None)` turns auto-invite off.
    pub auto_invite: Option<Option<AutoInvite>>,
}

/// What a link keeps of its intake secrets: the SHA-256 of the Outbound Message URL's token
/// and the webhook signing secret, sealed. The secrets themselves are shown once, when made.
#[derive(Debug, Clone)]
pub struct SealedIntake {
    pub outbound_token_hash: String,
    pub webhook_secret_sealed: String,
}

const LINK_COLUMNS: &str = "id, name, org_id, login_host, auth_kind, consumer_key, consumer_secret_sealed, \
    private_key_sealed, integration_username, api_version, field_mapping, staff_match, api_budget_percent, state, \
    state_reason, instance_url, api_used, api_max, api_checked_at, created_at, integration_user_id, auto_invite, \
    outbound_token_hash, webhook_secret_sealed, api_key_hash, next_call_at, call_failures, org_limit_at";

fn link(row: &AnyRow, tenancies: Vec<Uuid>) -> sqlx::Result<OrgLink> {
    let mapping: String = rows::text(row, "field_mapping")?;
    let api_usage = match (
        row_opt_int(row, "api_used")?,
        row_opt_int(row, "api_max")?,
        rows::opt_time(row, "api_checked_at")?,
    ) {
        (Some(used), Some(max), Some(checked_at)) => Some(ApiUsage {
            used,
            max,
            checked_at,
        }),
        _ => None,
    };
    Ok(OrgLink {
        id: rows::id(row, "id")?,
        name: rows::text(row, "name")?,
        org_id: rows::text(row, "org_id")?,
        login_host: rows::text(row, "login_host")?,
        auth_kind: rows::parsed(row, "auth_kind", AuthKind::parse)?,
        consumer_key: rows::text(row, "consumer_key")?,
        has_consumer_secret: rows::opt_text(row, "consumer_secret_sealed")?.is_some(),
        has_private_key: rows::opt_text(row, "private_key_sealed")?.is_some(),
        integration_username: rows::opt_text(row, "integration_username")?,
        api_version: rows::text(row, "api_version")?,
        field_mapping: serde_json::from_str(&mapping)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        staff_match: rows::parsed(row, "staff_match", StaffMatch::parse)?,
        api_budget_percent: rows::int(row, "api_budget_percent")?,
        state: rows::parsed(row, "state", LinkState::parse)?,
        state_reason: rows::opt_text(row, "state_reason")?,
        instance_url: rows::opt_text(row, "instance_url")?,
        api_usage,
        tenancies,
        created_at: rows::time(row, "created_at")?,
        integration_user_id: rows::opt_text(row, "integration_user_id")?,
        auto_invite: rows::opt_text(row, "auto_invite")?
            .map(|raw| serde_json::from_str(&raw).map_err(|e| sqlx::Error::Decode(Box::new(e))))
            .transpose()?,
        has_outbound_token: rows::opt_text(row, "outbound_token_hash")?.is_some(),
        has_webhook_secret: rows::opt_text(row, "webhook_secret_sealed")?.is_some(),
        api_key_id: rows::opt_text(row, "api_key_hash")?
            .as_deref()
            .map(api_key_id),
        calls: CallSchedule {
            next_call_at: row_opt_int(row, "next_call_at")?,
            failures: rows::int(row, "call_failures")?,
            org_limit_at: row_opt_int(row, "org_limit_at")?,
        },
    })
}

/// An API key's id: the first 8 hex digits of its SHA-256 (`key_hash`), enough to tell one key
/// from the next in a client's history and nothing towards guessing the key.
pub fn api_key_id(key_hash: &str) -> String {
    key_hash.chars().take(8).collect()
}

/// Takes the link's row lock (PostgreSQL) before its tenancies are read, so a concurrent
/// change of them commits first and is seen.
pub(crate) async fn lock_link(conn: &mut AnyConnection, id: Uuid) -> Result<()> {
    sqlx::query("UPDATE org_links SET updated_at = updated_at WHERE id = $1")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces a link's intake secrets (the hash of the Outbound Message URL's token and the
/// sealed webhook signing secret), in the caller's transaction or on one connection.
pub(crate) async fn set_intake_secrets_in(
    conn: &mut AnyConnection,
    link: Uuid,
    secrets: &SealedIntake,
    now: i64,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE org_links SET outbound_token_hash = $2, webhook_secret_sealed = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(link.to_string())
    .bind(secrets.outbound_token_hash.clone())
    .bind(secrets.webhook_secret_sealed.clone())
    .bind(now)
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("org link"));
    }
    Ok(())
}

fn row_opt_int(row: &AnyRow, column: &str) -> sqlx::Result<Option<i64>> {
    sqlx::Row::try_get(row, column)
}

fn auto_invite_json(auto: &AutoInvite) -> Result<String> {
    serde_json::to_string(auto).map_err(|e| Error::Database(sqlx::Error::Encode(Box::new(e))))
}

fn mapping_json(mapping: &FieldMapping) -> Result<String> {
    serde_json::to_string(mapping).map_err(|e| Error::Database(sqlx::Error::Encode(Box::new(e))))
}

async fn link_tenancies(conn: &mut AnyConnection, link: Uuid) -> Result<Vec<Uuid>> {
    sqlx::query(
        "SELECT tenancy_id FROM org_link_tenancies WHERE org_link_id = $1 ORDER BY tenancy_id",
    )
    .bind(link.to_string())
    .fetch_all(conn)
    .await?
    .iter()
    .map(|row| rows::id(row, "tenancy_id").map_err(Error::from))
    .collect()
}

async fn set_tenancies(conn: &mut AnyConnection, link: Uuid, tenancies: &[Uuid]) -> Result<()> {
    sqlx::query("DELETE FROM org_link_tenancies WHERE org_link_id = $1")
        .bind(link.to_string())
        .execute(&mut *conn)
        .await?;
    for (i, tenancy) in tenancies.iter().enumerate() {
        let exists = sqlx::query("SELECT 1 FROM tenancies WHERE id = $1")
            .bind(tenancy.to_string())
            .fetch_optional(&mut *conn)
            .await?;
        if exists.is_none() {
            return Err(Error::invalid(
                format!("tenancies[{i}]"),
                "is not a tenancy",
            ));
        }
        sqlx::query("INSERT INTO org_link_tenancies (org_link_id, tenancy_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(link.to_string())
            .bind(tenancy.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

impl Store {
    pub(crate) async fn link_in(
        &self,
        conn: &mut AnyConnection,
        id: Uuid,
        serving: Option<Uuid>,
    ) -> Result<OrgLink> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM org_links l WHERE id = $1 AND ($2 = '' OR EXISTS \
             (SELECT 1 FROM org_link_tenancies t WHERE t.org_link_id = l.id AND t.tenancy_id = $2))"
        );
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .bind(serving.map(|t| t.to_string()).unwrap_or_default())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(Error::NotFound("org link"))?;
        let tenancies = link_tenancies(conn, id).await?;
        Ok(link(&row, tenancies)?)
    }

    /// An org link; `serving` limits the answer to links that serve that tenancy.
    pub async fn org_link(&self, id: Uuid, serving: Option<Uuid>) -> Result<OrgLink> {
        let mut conn = self.pool.acquire().await?;
        self.link_in(&mut conn, id, serving).await
    }

    /// Each web-server link's id with its login host and instance URL (when connected), for
    /// finding the link an administrator signing in with Salesforce names by its domain.
    pub async fn web_server_link_hosts(&self) -> Result<Vec<(Uuid, String, Option<String>)>> {
        sqlx::query(
            "SELECT id, login_host, instance_url FROM org_links WHERE auth_kind = 'web_server' ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok((
                rows::id(row, "id")?,
                rows::text(row, "login_host")?,
                rows::opt_text(row, "instance_url")?,
            ))
        })
        .collect()
    }

    /// Creates a link under `id` (chosen by the caller, who seals its secrets under it).
    pub async fn create_org_link(
        &self,
        id: Uuid,
        new: NewOrgLink,
        consumer_secret: Option<String>,
        private_key: Option<String>,
    ) -> Result<OrgLink> {
        let mut tx = self.write_tx().await?;
        self.insert_link_in(&mut tx, id, new, consumer_secret, private_key)
            .await?;
        let created = self.link_in(&mut tx, id, None).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Inserts a link under `id` and its tenancies, in the caller's transaction; an org
    /// already linked is a conflict.
    pub(crate) async fn insert_link_in(
        &self,
        tx: &mut AnyConnection,
        id: Uuid,
        new: NewOrgLink,
        consumer_secret: Option<String>,
        private_key: Option<String>,
    ) -> Result<()> {
        let taken = sqlx::query("SELECT 1 FROM org_links WHERE org_id = $1")
            .bind(new.org_id.clone())
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(Error::conflict(
                ConflictCode::DuplicateOrg,
                Some("org_id"),
                "this Salesforce org is already linked",
            ));
        }
        let now = self.now();
        sqlx::query(
            "INSERT INTO org_links (id, name, org_id, login_host, auth_kind, consumer_key, consumer_secret_sealed, \
             private_key_sealed, integration_username, api_version, field_mapping, staff_match, api_budget_percent, \
             state, created_at, updated_at, integration_user_id, auto_invite) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'not_connected', $14, $14, $15, $16)",
        )
        .bind(id.to_string())
        .bind(new.name)
        .bind(new.org_id)
        .bind(new.login_host)
        .bind(new.auth_kind.as_str())
        .bind(new.consumer_key)
        .bind(consumer_secret)
        .bind(private_key)
        .bind(new.integration_username)
        .bind(new.api_version)
        .bind(mapping_json(&new.field_mapping)?)
        .bind(new.staff_match.as_str())
        .bind(new.api_budget_percent)
        .bind(now)
        .bind(new.integration_user_id)
        .bind(new.auto_invite.as_ref().map(auto_invite_json).transpose()?)
        .execute(&mut *tx)
        .await?;
        set_tenancies(tx, id, &new.tenancies).await
    }

    pub async fn list_org_links(
        &self,
        serving: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Page<OrgLink>> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM org_links l WHERE id > $1 AND ($2 = '' OR EXISTS \
             (SELECT 1 FROM org_link_tenancies t WHERE t.org_link_id = l.id AND t.tenancy_id = $2)) \
             ORDER BY id LIMIT $3"
        );
        let mut conn = self.pool.acquire().await?;
        let found = sqlx::query(&sql)
            .bind(page.after())
            .bind(serving.map(|t| t.to_string()).unwrap_or_default())
            .bind(page.fetch())
            .fetch_all(&mut *conn)
            .await?;
        let mut links = Vec::with_capacity(found.len());
        for row in &found {
            let id = rows::id(row, "id")?;
            let tenancies = link_tenancies(&mut conn, id).await?;
            links.push(link(row, tenancies)?);
        }
        Ok(Page::from_rows(links, page, |l| l.id))
    }

    /// Changes a link, in the caller's transaction, which holds its lock (`lock_link`).
    pub(crate) async fn update_link_in(
        &self,
        tx: &mut AnyConnection,
        before: &OrgLink,
        update: OrgLinkUpdate,
        consumer_secret: Option<String>,
        private_key: Option<String>,
    ) -> Result<OrgLink> {
        let id = before.id;
        let state = match update.paused {
            Some(true) => Some(LinkState::Paused),
            Some(false) if before.state == LinkState::Paused => {
                Some(if before.instance_url.is_some() {
                    LinkState::Connected
                } else {
                    LinkState::NotConnected
                })
            }
            _ => None,
        };
        let mapping = update
            .field_mapping
            .as_ref()
            .map(mapping_json)
            .transpose()?;
        sqlx::query(
            "UPDATE org_links SET name = COALESCE($2, name), login_host = COALESCE($3, login_host), \
             consumer_key = COALESCE($4, consumer_key), integration_username = COALESCE($5, integration_username), \
             api_version = COALESCE($6, api_version), field_mapping = COALESCE($7, field_mapping), \
             staff_match = COALESCE($8, staff_match), api_budget_percent = COALESCE($9, api_budget_percent), \
             consumer_secret_sealed = COALESCE($10, consumer_secret_sealed), \
             private_key_sealed = COALESCE($11, private_key_sealed), \
             state = COALESCE($12, state), state_reason = CASE WHEN $12 IS NULL THEN state_reason ELSE NULL END, \
             updated_at = $13, integration_user_id = COALESCE($14, integration_user_id), \
             auto_invite = CASE WHEN $15 = 1 THEN $16 ELSE auto_invite END WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(update.name)
        .bind(update.login_host)
        .bind(update.consumer_key)
        .bind(update.integration_username)
        .bind(update.api_version)
        .bind(mapping)
        .bind(update.staff_match.map(|m| m.as_str().to_string()))
        .bind(update.api_budget_percent)
        .bind(consumer_secret)
        .bind(private_key)
        .bind(state.map(|s| s.as_str().to_string()))
        .bind(self.now())
        .bind(update.integration_user_id)
        .bind(i64::from(update.auto_invite.is_some()))
        .bind(update.auto_invite.flatten().as_ref().map(auto_invite_json).transpose()?)
        .execute(&mut *tx)
        .await?;
        if let Some(tenancies) = &update.tenancies {
            set_tenancies(tx, id, tenancies).await?;
        }
        self.link_in(tx, id, None).await
    }

    /// Deletes a link, in the caller's transaction, which holds its lock (`lock_link`).
    pub(crate) async fn delete_link_in(&self, tx: &mut AnyConnection, id: Uuid) -> Result<()> {
        for sql in [
            "DELETE FROM oauth_flows WHERE org_link_id = $1",
            "DELETE FROM org_link_tenancies WHERE org_link_id = $1",
            "DELETE FROM org_links WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    pub async fn count_org_links(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM org_links")
            .fetch_one(&self.pool)
            .await?;
        Ok(rows::int(&row, "n")?)
    }

    pub async fn link_secrets(&self, id: Uuid) -> Result<LinkSecrets> {
        let row = sqlx::query(
            "SELECT consumer_secret_sealed, private_key_sealed, access_token_sealed, refresh_token_sealed, token_version \
             FROM org_links WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(Error::NotFound("org link"))?;
        Ok(LinkSecrets {
            consumer_secret: rows::opt_text(&row, "consumer_secret_sealed")?,
            private_key: rows::opt_text(&row, "private_key_sealed")?,
            access_token: rows::opt_text(&row, "access_token_sealed")?,
            refresh_token: rows::opt_text(&row, "refresh_token_sealed")?,
            token_version: rows::int(&row, "token_version")?,
        })
    }

    /// Stores new tokens (sealed) if nobody changed them since `expected_version`; keeps the
    /// old refresh token when `refresh_token` is `None` (Salesforce sends one only when it
    /// rotates). Returns whether the tokens were stored; with `audit`, the trail's entry for a
    /// connection is written with them, in the same transaction.
    pub async fn store_tokens(
        &self,
        id: Uuid,
        expected_version: i64,
        instance_url: &str,
        access_token: &str,
        refresh_token: Option<&str>,
        audit: Option<&Event>,
    ) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE org_links SET instance_url = $3, access_token_sealed = $4, \
             refresh_token_sealed = COALESCE($5, refresh_token_sealed), token_version = token_version + 1, \
             state = CASE WHEN state IN ('not_connected', 'unauthorized') THEN 'connected' ELSE state END, \
             state_reason = CASE WHEN state IN ('not_connected', 'unauthorized') THEN NULL ELSE state_reason END, \
             unauthorized_noticed_at = NULL, updated_at = $6 WHERE id = $1 AND token_version = $2",
        )
        .bind(id.to_string())
        .bind(expected_version)
        .bind(instance_url.to_string())
        .bind(access_token.to_string())
        .bind(refresh_token.map(str::to_string))
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        let stored = done.rows_affected() == 1;
        if let (true, Some(event)) = (stored, audit) {
            super::audit::insert(&mut tx, self.now(), event).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// Forgets the tokens and records why the link is no longer usable; with `audit`, the
    /// trail's entry for it, in the same transaction.
    pub async fn clear_tokens(
        &self,
        id: Uuid,
        state: LinkState,
        reason: Option<&str>,
        audit: Option<&Event>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE org_links SET access_token_sealed = NULL, refresh_token_sealed = NULL, \
             token_version = token_version + 1, state = $2, state_reason = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(state.as_str())
        .bind(reason.map(str::to_string))
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        if let Some(event) = audit {
            super::audit::insert(&mut tx, self.now(), event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Starts a web-server flow: a single-use ticket for the admin's browser, valid until
    /// `expires_at` (milliseconds).
    pub async fn create_oauth_flow(
        &self,
        link: Uuid,
        started_by: &str,
        ticket_hash: &str,
        expires_at: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO oauth_flows (id, org_link_id, started_by, ticket_hash, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(link.to_string())
        .bind(started_by.to_string())
        .bind(ticket_hash.to_string())
        .bind(expires_at)
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }

    /// Spends a ticket once, binding the flow to a browser and its state. Returns the link.
    pub async fn begin_oauth_flow(
        &self,
        ticket_hash: &str,
        state_hash: &str,
        binding_hash: &str,
        verifier_sealed: &str,
    ) -> Result<Uuid> {
        let row = sqlx::query(
            "UPDATE oauth_flows SET ticket_used_at = $2, state_hash = $3, binding_hash = $4, verifier_sealed = $5 \
             WHERE ticket_hash = $1 AND ticket_used_at IS NULL AND expires_at > $2 RETURNING org_link_id",
        )
        .bind(ticket_hash.to_string())
        .bind(self.now())
        .bind(state_hash.to_string())
        .bind(binding_hash.to_string())
        .bind(verifier_sealed.to_string())
        .fetch_optional(&mut *self.writer().await?)
        .await?
        .ok_or(Error::NotFound("connection ticket"))?;
        Ok(rows::id(&row, "org_link_id")?)
    }

    /// Spends a state once, if it belongs to the browser that began the flow. Returns the link,
    /// who started it, and the sealed PKCE verifier.
    pub async fn finish_oauth_flow(
        &self,
        state_hash: &str,
        binding_hash: &str,
    ) -> Result<(Uuid, String, String)> {
        let row = sqlx::query(
            "UPDATE oauth_flows SET finished_at = $3 \
             WHERE state_hash = $1 AND binding_hash = $2 AND finished_at IS NULL AND expires_at > $3 \
             RETURNING org_link_id, started_by, verifier_sealed",
        )
        .bind(state_hash.to_string())
        .bind(binding_hash.to_string())
        .bind(self.now())
        .fetch_optional(&mut *self.writer().await?)
        .await?
        .ok_or(Error::NotFound("connection attempt"))?;
        Ok((
            rows::id(&row, "org_link_id")?,
            rows::text(&row, "started_by")?,
            rows::opt_text(&row, "verifier_sealed")?.unwrap_or_default(),
        ))
    }
}

impl Store {
    /// Who started the web-server flow whose state has this hash, as `create_oauth_flow`
    /// recorded them.
    pub async fn oauth_flow_starter(&self, state_hash: &str) -> Result<String> {
        let row = sqlx::query("SELECT started_by FROM oauth_flows WHERE state_hash = $1")
            .bind(state_hash.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("connection attempt"))?;
        Ok(rows::text(&row, "started_by")?)
    }
}

/// An e-mail due to a system administrator about an org link serving their tenancy that
/// Salesforce no longer accepts.
#[derive(Debug, Clone)]
pub struct DueLinkNotice {
    pub id: Uuid,
    pub org_link_id: Uuid,
    pub link_name: String,
    pub tenancy_name: String,
    /// Why the link is unauthorized, as its state says.
    pub reason: String,
    pub staff_first_name: String,
    pub staff_email: String,
    pub attempts: i64,
}

impl Store {
    /// Forgets the link's tokens and marks it unauthorized for `reason`; the first time since
    /// it was last connected, queues an e-mail to each active system administrator of the
    /// tenancies it serves, in the same transaction.
    pub async fn mark_unauthorized(&self, id: Uuid, reason: &str) -> Result<()> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE org_links SET access_token_sealed = NULL, refresh_token_sealed = NULL, \
             token_version = token_version + 1, state = 'unauthorized', state_reason = $2, updated_at = $3 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(reason.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let first = sqlx::query(
            "UPDATE org_links SET unauthorized_noticed_at = $2 WHERE id = $1 AND unauthorized_noticed_at IS NULL",
        )
        .bind(id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if first {
            let admins = sqlx::query(
                "SELECT u.id, u.tenancy_id FROM org_link_tenancies lt JOIN users u ON u.tenancy_id = lt.tenancy_id \
                 WHERE lt.org_link_id = $1 AND u.kind = 'staff' AND u.role = 'system_administrator' \
                 AND u.deactivated_at IS NULL ORDER BY u.id",
            )
            .bind(id.to_string())
            .fetch_all(&mut *tx)
            .await?;
            for admin in admins {
                sqlx::query(
                    "INSERT INTO link_notices (id, org_link_id, tenancy_id, staff_id, reason, next_due_at, attempts, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 0, $6)",
                )
                .bind(Uuid::now_v7().to_string())
                .bind(id.to_string())
                .bind(rows::text(&admin, "tenancy_id")?)
                .bind(rows::text(&admin, "id")?)
                .bind(reason.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Claims the link notices due at `now`.
    pub async fn claim_due_link_notices(&self, now: i64, limit: i64) -> Result<Vec<DueLinkNotice>> {
        let claim = super::backend::Claim {
            table: "link_notices",
            due: "next_due_at IS NOT NULL AND next_due_at <= $1",
            order: "next_due_at",
            returning: "id",
            args: &[],
        };
        let ids = self
            .claim(claim, now, now + super::CYCLE_LEASE_MS, limit)
            .await?;
        let mut due = Vec::with_capacity(ids.len());
        for id in ids {
            let row = sqlx::query(
                "SELECT n.id, n.org_link_id, l.name AS link_name, t.name AS tenancy_name, n.reason, \
                   s.first_name, s.email, n.attempts \
                 FROM link_notices n JOIN org_links l ON l.id = n.org_link_id \
                 JOIN tenancies t ON t.id = n.tenancy_id JOIN users s ON s.id = n.staff_id WHERE n.id = $1",
            )
            .bind(rows::text(&id, "id")?)
            .fetch_one(&self.pool)
            .await?;
            due.push(DueLinkNotice {
                id: rows::id(&row, "id")?,
                org_link_id: rows::id(&row, "org_link_id")?,
                link_name: rows::text(&row, "link_name")?,
                tenancy_name: rows::text(&row, "tenancy_name")?,
                reason: rows::text(&row, "reason")?,
                staff_first_name: rows::text(&row, "first_name")?,
                staff_email: rows::text(&row, "email")?,
                attempts: rows::int(&row, "attempts")?,
            });
        }
        Ok(due)
    }

    /// Settles a link notice: sent, or retried at `retry_at`, or (with `None`) failed for good.
    pub async fn settle_link_notice(
        &self,
        id: Uuid,
        error: Option<&str>,
        retry_at: Option<i64>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE link_notices SET attempts = attempts + 1, lease_until = NULL, last_error = $2, \
             next_due_at = $3, sent_at = CASE WHEN $2 IS NULL THEN $4 ELSE sent_at END WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(error.map(str::to_string))
        .bind(retry_at)
        .bind(self.now())
        .execute(&mut *self.writer().await?)
        .await?;
        Ok(())
    }
}
