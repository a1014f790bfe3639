//! Clients: the hand-made invitation (as a draft), their details, status moves, history and
//! address book.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::groups::ensure_clients_covered;
use super::users::{USER_COLUMNS, check_unique_contact, prefixed};
use super::{
    Backend, Error, Page, PageRequest, Result, Store, contains_pattern, lock_tenancy, rows,
};
use crate::domain::client_status::{ClientStatus, Transition};
use crate::domain::conflict::{ConflictCode, Refusal};
use crate::domain::invite::{Invite, parse_mobile};
use crate::domain::tenancy::{GroupModel, MobilePolicy};
use crate::domain::user::UserKind;
use crate::domain::values::{Email, PersonName, SalesforceId, Title};
use crate::domain::visibility::visible_kinds;

#[derive(Debug, Clone)]
pub struct Client {
    pub id: Uuid,
    pub tenancy_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: Option<String>,
    pub title: String,
    pub status: ClientStatus,
    /// The status as staff see it, e.g. "Pending (Draft)".
    pub status_label: String,
    /// The personal message staff added to the invitation.
    pub message: Option<String>,
    pub created_at: OffsetDateTime,
}

/// One entry of a user's address book: only what the messenger shows.
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: Uuid,
    pub kind: UserKind,
    pub name: String,
    pub title: Option<String>,
    /// A team account's displayed contact number (never its secure mobile).
    pub contact_number: Option<String>,
    /// A client's status, so staff can tell who has joined.
    pub status: Option<ClientStatus>,
}

/// One status change of a client.
#[derive(Debug, Clone)]
pub struct ClientEvent {
    pub id: Uuid,
    pub from_status: Option<ClientStatus>,
    pub to_status: ClientStatus,
    /// Who made the change: `staff:<id>`, `operator:<token id>`, `client` or `system`; from
    /// Salesforce, `staff:<id> via Salesforce user <user id>` (the Invite form),
    /// `salesforce:<link>:key:<key id> as staff:<id> via Salesforce user <user id>` (the JSON
    /// API with the link's key) or `salesforce:<link>:<integration user>` (auto-invite).
    pub actor: String,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, Default)]
pub struct ClientUpdate {
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub email: Option<Email>,
    /// Raw, since whether it is allowed depends on the tenancy's mobile policy.
    pub mobile: Option<String>,
    pub title: Option<Title>,
}

fn client(row: &AnyRow) -> sqlx::Result<Client> {
    let status = rows::parsed(row, "status", ClientStatus::parse)?;
    Ok(Client {
        id: rows::id(row, "id")?,
        tenancy_id: rows::id(row, "tenancy_id")?,
        first_name: rows::text(row, "first_name")?,
        last_name: rows::text(row, "last_name")?,
        email: rows::text(row, "email")?,
        mobile: rows::opt_text(row, "mobile")?,
        title: rows::opt_text(row, "title")?.unwrap_or_else(|| Title::CLIENT_DEFAULT.into()),
        status,
        status_label: status.label().into(),
        message: rows::opt_text(row, "invite_message")?,
        created_at: rows::time(row, "created_at")?,
    })
}

fn contact(row: &AnyRow) -> sqlx::Result<Contact> {
    let first = rows::text(row, "first_name")?;
    let last = rows::text(row, "last_name")?;
    Ok(Contact {
        id: rows::id(row, "id")?,
        kind: rows::parsed(row, "kind", UserKind::parse)?,
        name: if last.is_empty() {
            first
        } else {
            format!("{first} {last}")
        },
        title: rows::opt_text(row, "title")?,
        contact_number: rows::opt_text(row, "contact_number")?,
        status: rows::opt_text(row, "status")?
            .as_deref()
            .and_then(ClientStatus::parse),
    })
}

const CLIENT_COLUMNS: &str = "id, tenancy_id, first_name, last_name, email, mobile, title, status, invite_message, created_at";

pub(super) async fn record_event(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    client: Uuid,
    from: Option<ClientStatus>,
    to: ClientStatus,
    actor: &str,
    now: i64,
) -> Result<()> {
    insert_event(conn, tenancy, client, from, to, actor, now).await?;
    // Every status change goes back to the client's CRM record, in this same transaction.
    super::writeback::enqueue(conn, tenancy, client, to, now).await
}

/// Records a status change in the client's history.
async fn insert_event(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    client: Uuid,
    from: Option<ClientStatus>,
    to: ClientStatus,
    actor: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO client_events (id, tenancy_id, client_id, from_status, to_status, actor, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(tenancy.to_string())
    .bind(client.to_string())
    .bind(from.map(|s| s.as_str().to_string()))
    .bind(to.as_str())
    .bind(actor.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A client's details as they are to be stored.
#[derive(Debug, Clone)]
pub(crate) struct ClientDetails {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: Option<String>,
    pub title: String,
}

/// Stores a client's details (the caller has checked them and holds the tenancy lock).
pub(crate) async fn set_details(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    client: Uuid,
    details: &ClientDetails,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE users SET first_name = $3, last_name = $4, email = $5, email_key = $6, mobile = $7, title = $8, \
         updated_at = $9 WHERE tenancy_id = $1 AND id = $2",
    )
    .bind(tenancy.to_string())
    .bind(client.to_string())
    .bind(details.first_name.clone())
    .bind(details.last_name.clone())
    .bind(details.email.clone())
    .bind(details.email.to_lowercase())
    .bind(details.mobile.clone())
    .bind(details.title.clone())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A client an invite is about to create, with everything that goes with it.
pub(crate) struct NewClient<'a> {
    pub id: Uuid,
    pub tenancy: Uuid,
    pub invite: &'a Invite,
    pub status: ClientStatus,
    pub groups: &'a [Uuid],
    pub record: Option<&'a RecordRef>,
    pub actor: &'a str,
    pub now: i64,
}

/// Writes a new client: the user row, the memberships, the record link, the first event, the
/// write-back, and (sent at once) the invitation cycle, as one query (see
/// `Backend::chain_writes`): on PostgreSQL one round trip instead of six, which is most of an
/// invite's time on a busy server.
pub(crate) async fn insert_client(
    conn: &mut AnyConnection,
    backend: Backend,
    c: &NewClient<'_>,
) -> Result<()> {
    let mut writes = vec![
        (
            "u",
            "INSERT INTO users (id, tenancy_id, kind, first_name, last_name, email, email_key, mobile, title, status, \
               invite_message, created_at, updated_at) VALUES ($1, $2, 'client', $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)"
                .to_string(),
        ),
        (
            "m",
            format!(
                "INSERT INTO group_members (tenancy_id, group_id, user_id, added_at, member_kind, member_active) \
                   SELECT $2, g, $1, $11, 'client', 1 FROM {}",
                backend.comma_list_rows("$12", "g")
            ),
        ),
        (
            "e",
            "INSERT INTO client_events (id, tenancy_id, client_id, from_status, to_status, actor, at) \
               VALUES ($13, $2, $1, NULL, $9, $14, $11)"
                .to_string(),
        ),
    ];
    if c.record.is_some() {
        writes.push((
            "r",
            "INSERT INTO crm_records (client_id, tenancy_id, org_link_id, sobject, record_id, linked_at) \
               VALUES ($1, $2, $15, $16, $17, $11)"
                .to_string(),
        ));
        // The first status goes back to the record.
        writes.push((
            "w",
            super::writeback::upsert_sql(["$18", "$15", "$2", "$1", "$16", "$17", "$9", "$11"]),
        ));
    }
    // Sent at once, the client is created invited (one event, its cycle started); the
    // coverage just checked holds for both statuses.
    let cycle = if c.record.is_some() { "$19" } else { "$15" };
    if c.status == ClientStatus::Invited {
        writes.push((
            "c",
            format!(
                "INSERT INTO invitation_cycles (id, tenancy_id, client_id, started_at, next_due_at, emails_sent, \
                   failed_attempts) VALUES ({cycle}, $2, $1, $11, $11, 0, 0)"
            ),
        ));
    }
    let sql = backend.chain_writes(&writes);
    let mut query = sqlx::query(&sql)
        .bind(c.id.to_string())
        .bind(c.tenancy.to_string())
        .bind(c.invite.first_name.as_str().to_string())
        .bind(c.invite.last_name.as_str().to_string())
        .bind(c.invite.email.as_str().to_string())
        .bind(c.invite.email.key())
        .bind(c.invite.mobile.as_ref().map(|m| m.as_str().to_string()))
        .bind(c.invite.title.as_str().to_string())
        .bind(c.status.as_str())
        .bind(c.invite.message.as_ref().map(|m| m.as_str().to_string()))
        .bind(c.now)
        .bind(
            c.groups
                .iter()
                .map(Uuid::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
        .bind(Uuid::now_v7().to_string())
        .bind(c.actor.to_string());
    if let Some(record) = c.record {
        query = query
            .bind(record.org_link.to_string())
            .bind(record.sobject)
            .bind(record.record_id.as_str().to_string())
            .bind(Uuid::now_v7().to_string());
    }
    if c.status == ClientStatus::Invited {
        query = query.bind(Uuid::now_v7().to_string());
    }
    query.execute(conn).await?;
    Ok(())
}

/// The Salesforce record a client is invited from.
#[derive(Debug, Clone)]
pub struct RecordRef {
    pub org_link: Uuid,
    /// `Contact`, or `Account` for a Person Account.
    pub sobject: &'static str,
    pub record_id: SalesforceId,
}

impl Store {
    pub(crate) async fn client_in(
        &self,
        conn: &mut AnyConnection,
        tenancy: Uuid,
        id: Uuid,
    ) -> Result<Client> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM users WHERE tenancy_id = $1 AND id = $2 AND kind = 'client'"
        );
        let row = sqlx::query(&sql)
            .bind(tenancy.to_string())
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?
            .ok_or(Error::NotFound("client"))?;
        Ok(client(&row)?)
    }

    /// The tenancy's model and mobile policy, which shape how an invitation is parsed.
    pub async fn invite_settings(&self, tenancy: Uuid) -> Result<(GroupModel, MobilePolicy)> {
        let t = self.tenancy(tenancy).await?;
        Ok((t.group_model, t.mobile_policy))
    }

    /// `visible_to` limits the answer to clients who share a group with that staff user.
    pub async fn client(
        &self,
        tenancy: Uuid,
        id: Uuid,
        visible_to: Option<Uuid>,
    ) -> Result<Client> {
        let mut conn = self.pool.acquire().await?;
        let found = self.client_in(&mut conn, tenancy, id).await?;
        if let Some(viewer) = visible_to
            && !self.share_a_group(&mut conn, viewer, id).await?
        {
            return Err(Error::NotFound("client"));
        }
        Ok(found)
    }

    /// Whether `viewer` sees `other` in their address book: the domain's visibility rule over
    /// the groups or teams they share. A user of another tenancy, or none, is not seen.
    pub async fn sees(&self, tenancy: Uuid, viewer: Uuid, other: Uuid) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        let model = super::groups::tenancy_model(&mut conn, tenancy).await?;
        let row = sqlx::query(
            "SELECT v.kind AS viewer_kind, o.kind AS other_kind FROM users v JOIN users o ON o.tenancy_id = v.tenancy_id \
             WHERE v.tenancy_id = $1 AND v.id = $2 AND o.id = $3",
        )
        .bind(tenancy.to_string())
        .bind(viewer.to_string())
        .bind(other.to_string())
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let viewer_kind = rows::parsed(&row, "viewer_kind", UserKind::parse)?;
        let other_kind = rows::parsed(&row, "other_kind", UserKind::parse)?;
        let share = self.share_a_group(&mut conn, viewer, other).await?;
        Ok(crate::domain::visibility::sees(
            model,
            viewer_kind,
            other_kind,
            share,
        ))
    }

    async fn share_a_group(&self, conn: &mut AnyConnection, a: Uuid, b: Uuid) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM group_members x JOIN group_members y ON y.group_id = x.group_id \
             WHERE x.user_id = $1 AND y.user_id = $2 LIMIT 1",
        )
        .bind(a.to_string())
        .bind(b.to_string())
        .fetch_optional(conn)
        .await?
        .is_some())
    }

    pub async fn list_clients(
        &self,
        tenancy: Uuid,
        status: Option<ClientStatus>,
        query: Option<&str>,
        visible_to: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Page<Client>> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM users u WHERE tenancy_id = $1 AND kind = 'client' AND id > $2 \
             AND ($3 = '' OR status = $3) \
             AND (LOWER(first_name || ' ' || last_name) LIKE $4 ESCAPE '\\' OR email_key LIKE $4 ESCAPE '\\') \
             AND ($5 = '' OR EXISTS (SELECT 1 FROM group_members x JOIN group_members y ON y.group_id = x.group_id \
                  WHERE x.user_id = u.id AND y.user_id = $5)) \
             ORDER BY id LIMIT $6"
        );
        let found = sqlx::query(&sql)
            .bind(tenancy.to_string())
            .bind(page.after())
            .bind(status.map(|s| s.as_str()).unwrap_or(""))
            .bind(contains_pattern(query))
            .bind(visible_to.map(|v| v.to_string()).unwrap_or_default())
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(client)
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Page::from_rows(found, page, |c| c.id))
    }

    /// Corrects a client's details in the caller's transaction; answers the client before and
    /// after. The e-mail of an active client is their sign-in and is changed in the messenger,
    /// not here.
    pub(crate) async fn update_client_in(
        &self,
        tx: &mut AnyConnection,
        tenancy: Uuid,
        id: Uuid,
        update: ClientUpdate,
    ) -> Result<(Client, Client)> {
        lock_tenancy(&mut *tx, tenancy).await?;
        let before = self.client_in(&mut *tx, tenancy, id).await?;
        let policy = self.tenancy(tenancy).await.map(|t| t.mobile_policy)?;
        let mobile = match update.mobile.as_deref() {
            Some(raw) => parse_mobile(Some(raw), policy)
                .map_err(|reason| Error::invalid("mobile", reason))?,
            None => None,
        };
        if let Some(email) = &update.email {
            if email.key() != before.email.to_lowercase() {
                before.status.check_email_change()?;
            }
            check_unique_contact(&mut *tx, tenancy, Some(email), None, Some(id)).await?;
        }
        sqlx::query(
            "UPDATE users SET first_name = COALESCE($3, first_name), last_name = COALESCE($4, last_name), \
             email = COALESCE($5, email), email_key = COALESCE($6, email_key), mobile = COALESCE($7, mobile), \
             title = COALESCE($8, title), updated_at = $9 WHERE tenancy_id = $1 AND id = $2",
        )
        .bind(tenancy.to_string())
        .bind(id.to_string())
        .bind(update.first_name.map(|v| v.as_str().to_string()))
        .bind(update.last_name.map(|v| v.as_str().to_string()))
        .bind(update.email.as_ref().map(|v| v.as_str().to_string()))
        .bind(update.email.as_ref().map(Email::key))
        .bind(mobile.map(|v| v.as_str().to_string()))
        .bind(update.title.map(|v| v.as_str().to_string()))
        .bind(self.now())
        .execute(&mut *tx)
        .await?;
        let after = self.client_in(tx, tenancy, id).await?;
        Ok((before, after))
    }

    /// Moves a client's status through the state machine, recording who did it. A client who
    /// becomes covered again (a revoked one re-invited) must have an active staff user.
    pub async fn transition_client(
        &self,
        tenancy: Uuid,
        id: Uuid,
        transition: Transition,
        actor: &str,
    ) -> Result<Client> {
        // A move that brings a client back under the coverage rule must see the tenancy's groups
        // held still, so it takes the tenancy lock (first, as every writer does). Any other move
        // locks only the client's row, so status changes of different clients run side by side.
        let mut tx = self.write_tx().await?;
        let after = self
            .transition_in(&mut tx, tenancy, id, transition, actor)
            .await?;
        tx.commit().await?;
        Ok(after)
    }

    /// A status move inside the caller's transaction (see `transition_client`).
    pub(crate) async fn transition_in(
        &self,
        tx: &mut AnyConnection,
        tenancy: Uuid,
        id: Uuid,
        transition: Transition,
        actor: &str,
    ) -> Result<Client> {
        let reenters_cover = |from: ClientStatus| {
            transition(from).is_ok_and(|next| next.needs_coverage() && !from.needs_coverage())
        };
        let peek = self.client_in(tx, tenancy, id).await?;
        let tenancy_locked = reenters_cover(peek.status);
        if tenancy_locked {
            lock_tenancy(tx, tenancy).await?;
        }
        sqlx::query("UPDATE users SET updated_at = updated_at WHERE tenancy_id = $1 AND id = $2")
            .bind(tenancy.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let before = self.client_in(tx, tenancy, id).await?;
        if reenters_cover(before.status) && !tenancy_locked {
            return Err(Error::conflict(
                ConflictCode::ChangedMeanwhile,
                Some("status"),
                "the client's status changed while this request ran; try again",
            ));
        }
        let next = transition(before.status).map_err(Refusal::from)?;
        let now = self.now();
        sqlx::query(
            "UPDATE users SET status = $3, updated_at = $4 WHERE tenancy_id = $1 AND id = $2",
        )
        .bind(tenancy.to_string())
        .bind(id.to_string())
        .bind(next.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        record_event(tx, tenancy, id, Some(before.status), next, actor, now).await?;
        super::invitations::apply_status(tx, tenancy, id, next, now).await?;
        if tenancy_locked {
            ensure_clients_covered(tx, tenancy, &[id]).await?;
        }
        self.client_in(tx, tenancy, id).await
    }

    pub async fn client_events(
        &self,
        tenancy: Uuid,
        id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<ClientEvent>> {
        self.client(tenancy, id, None).await?;
        let found = sqlx::query(
            "SELECT id, from_status, to_status, actor, at FROM client_events \
             WHERE tenancy_id = $1 AND client_id = $2 AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(tenancy.to_string())
        .bind(id.to_string())
        .bind(page.after())
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(ClientEvent {
                id: rows::id(row, "id")?,
                from_status: rows::opt_text(row, "from_status")?
                    .as_deref()
                    .and_then(ClientStatus::parse),
                to_status: rows::parsed(row, "to_status", ClientStatus::parse)?,
                actor: rows::text(row, "actor")?,
                at: rows::time(row, "at")?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Page::from_rows(found, page, |e| e.id))
    }

    /// The user's kind, if they are a user of this tenancy.
    pub async fn user_kind(&self, tenancy: Uuid, id: Uuid) -> Result<UserKind> {
        let row = sqlx::query("SELECT kind FROM users WHERE tenancy_id = $1 AND id = $2")
            .bind(tenancy.to_string())
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(Error::NotFound("user"))?;
        Ok(rows::parsed(&row, "kind", UserKind::parse)?)
    }

    pub async fn is_delegate(&self, tenancy: Uuid, team: Uuid, staff: Uuid) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM team_delegates WHERE tenancy_id = $1 AND team_account_id = $2 AND staff_id = $3")
            .bind(tenancy.to_string())
            .bind(team.to_string())
            .bind(staff.to_string())
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// A user's address book: the fellow members of their groups or teams whom the tenancy's
    /// model lets them see. Deactivated staff and declined or revoked clients are left out.
    pub async fn contacts(
        &self,
        tenancy: Uuid,
        user: Uuid,
        page: &PageRequest,
    ) -> Result<Page<Contact>> {
        let model = self.tenancy(tenancy).await?.group_model;
        let viewer = self.user_kind(tenancy, user).await?;
        let kinds = visible_kinds(model, viewer)
            .iter()
            .map(|k| format!("'{}'", k.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let hidden_statuses = ClientStatus::ALL
            .into_iter()
            .filter(|s| !s.needs_coverage())
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT DISTINCT {} FROM group_members me \
             JOIN group_members other ON other.group_id = me.group_id \
             JOIN users u ON u.id = other.user_id \
             WHERE me.tenancy_id = $1 AND me.user_id = $2 AND u.tenancy_id = $1 AND u.id <> $2 \
               AND u.kind IN ({kinds}) AND u.deactivated_at IS NULL \
               AND (u.status IS NULL OR u.status NOT IN ({hidden_statuses})) AND u.id > $3 \
             ORDER BY u.id LIMIT $4",
            prefixed("u", USER_COLUMNS)
        );
        let found = sqlx::query(&sql)
            .bind(tenancy.to_string())
            .bind(user.to_string())
            .bind(page.after())
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(contact)
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Page::from_rows(found, page, |c| c.id))
    }
}
