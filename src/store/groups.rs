//! Contact groups and client teams, their members, and the rules that guard them.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Error, Page, PageRequest, Result, Store, contains_pattern, lock_tenancy, rows};
use crate::domain::client_status::ClientStatus;
use crate::domain::conflict::ConflictCode;
use crate::domain::coverage::{self, GroupFacts};
use crate::domain::tenancy::{GroupKind, GroupModel};
use crate::domain::user::UserKind;
use crate::domain::values::DisplayName;

#[derive(Debug, Clone)]
pub struct Group {
    pub id: Uuid,
    pub tenancy_id: Uuid,
    pub kind: GroupKind,
    pub name: String,
    /// Active staff users in the group; a client is covered only by a group with at least one.
    pub active_staff: i64,
    pub team_accounts: i64,
    pub clients: i64,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct GroupMember {
    pub user_id: Uuid,
    pub kind: UserKind,
    /// Full name, or the team account's name.
    pub name: String,
    pub email: String,
    /// False for a deactivated staff user or team account.
    pub active: bool,
    /// A client's status; absent for staff and team accounts.
    pub status: Option<ClientStatus>,
    pub added_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewGroupRequest {
    pub name: DisplayName,
    /// Staff users and team accounts to add.
    pub members: Vec<Uuid>,
}

#[derive(Debug, Clone)]
pub struct GroupUpdate {
    pub name: DisplayName,
}

const GROUP_SELECT: &str = "SELECT g.id, g.tenancy_id, g.kind, g.name, g.created_at, \
    (SELECT COUNT(*) FROM group_members m \
      WHERE m.group_id = g.id AND m.member_kind = 'staff' AND m.member_active = 1) AS active_staff, \
    (SELECT COUNT(*) FROM group_members m \
      WHERE m.group_id = g.id AND m.member_kind = 'team_account') AS team_accounts, \
    (SELECT COUNT(*) FROM group_members m \
      WHERE m.group_id = g.id AND m.member_kind = 'client') AS clients \
    FROM user_groups g";

/// One membership to change: a group (of its kind) of the tenancy, and the user.
#[derive(Debug, Clone, Copy)]
pub struct Membership {
    pub tenancy: Uuid,
    pub kind: GroupKind,
    pub group: Uuid,
    pub user: Uuid,
}

fn group(row: &AnyRow) -> sqlx::Result<Group> {
    Ok(Group {
        id: rows::id(row, "id")?,
        tenancy_id: rows::id(row, "tenancy_id")?,
        kind: rows::parsed(row, "kind", GroupKind::parse)?,
        name: rows::text(row, "name")?,
        active_staff: rows::int(row, "active_staff")?,
        team_accounts: rows::int(row, "team_accounts")?,
        clients: rows::int(row, "clients")?,
        created_at: rows::time(row, "created_at")?,
    })
}

fn member(row: &AnyRow) -> sqlx::Result<GroupMember> {
    let kind = rows::parsed(row, "kind", UserKind::parse)?;
    let first = rows::text(row, "first_name")?;
    let last = rows::text(row, "last_name")?;
    Ok(GroupMember {
        user_id: rows::id(row, "user_id")?,
        kind,
        name: if last.is_empty() {
            first
        } else {
            format!("{first} {last}")
        },
        email: rows::text(row, "email")?,
        active: rows::opt_time(row, "deactivated_at")?.is_none(),
        status: rows::opt_text(row, "status")?
            .as_deref()
            .and_then(ClientStatus::parse),
        added_at: rows::time(row, "added_at")?,
    })
}

/// The statuses whose clients must stay covered, as an SQL list built from the domain rule.
fn statuses_needing_coverage() -> String {
    ClientStatus::ALL
        .into_iter()
        .filter(|s| s.needs_coverage())
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses to work with groups of the kind the tenancy does not use.
pub(super) async fn tenancy_model(conn: &mut AnyConnection, tenancy: Uuid) -> Result<GroupModel> {
    let row = sqlx::query("SELECT group_model FROM tenancies WHERE id = $1")
        .bind(tenancy.to_string())
        .fetch_optional(conn)
        .await?
        .ok_or(Error::NotFound("tenancy"))?;
    Ok(rows::parsed(&row, "group_model", GroupModel::parse)?)
}

async fn require_kind(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    kind: GroupKind,
) -> Result<GroupModel> {
    let model = tenancy_model(conn, tenancy).await?;
    model.check_kind(kind)?;
    Ok(model)
}

fn not_found(kind: GroupKind) -> Error {
    Error::NotFound(match kind {
        GroupKind::ContactGroup => "contact group",
        GroupKind::ClientTeam => "client team",
    })
}

/// What the coverage and confidentiality rules need to know of each group, checking that every
/// id is a group of this kind in this tenancy: its active staff, and (contact groups only: a
/// client team covers many relationships by design, and counting its clients would grow with
/// them) the clients of other relationships it holds. `field` names the request field for errors.
pub(crate) async fn group_facts(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    kind: GroupKind,
    groups: &[Uuid],
    excluding_client: Option<Uuid>,
    field: &str,
) -> Result<Vec<GroupFacts>> {
    let mut facts = Vec::with_capacity(groups.len());
    for (i, id) in groups.iter().enumerate() {
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM group_members m \
                 WHERE m.group_id = g.id AND m.member_kind = 'staff' AND m.member_active = 1) AS active_staff, \
               CASE WHEN g.kind = 'contact_group' THEN (SELECT COUNT(*) FROM group_members m \
                 WHERE m.group_id = g.id AND m.member_kind = 'client' AND m.user_id <> $4) ELSE 0 END AS other_clients \
             FROM user_groups g WHERE g.tenancy_id = $1 AND g.kind = $2 AND g.id = $3",
        )
        .bind(tenancy.to_string())
        .bind(kind.as_str())
        .bind(id.to_string())
        .bind(excluding_client.map(|c| c.to_string()).unwrap_or_default())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::invalid(format!("{field}[{i}]"), format!("is not a {} of this tenancy", kind.noun())))?;
        facts.push(GroupFacts {
            active_staff: rows::int(&row, "active_staff")?.max(0) as u64,
            other_clients: rows::int(&row, "other_clients")?.max(0) as u64,
        });
    }
    Ok(facts)
}

/// Checks, inside the transaction that just changed memberships, that none of `clients` is
/// left without an active staff user in any of their groups or teams: the store finds who
/// would be, the domain's coverage rule decides.
pub(super) async fn ensure_clients_covered(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    clients: &[Uuid],
) -> Result<()> {
    let uncovered = uncovered_clients(conn, tenancy, clients).await?;
    Ok(coverage::check_still_covered(&uncovered)?)
}

/// The names of those of `clients` who need cover and have no active staff user in any of
/// their groups or teams: as many as a refusal names, and one more if there are others.
async fn uncovered_clients(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    clients: &[Uuid],
) -> Result<Vec<String>> {
    let mut uncovered = Vec::new();
    for chunk in clients.chunks(500) {
        let placeholders = (0..chunk.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT c.first_name, c.last_name FROM users c \
             WHERE c.tenancy_id = $1 AND c.kind = 'client' AND c.id IN ({placeholders}) \
               AND c.status IN ({statuses}) \
               AND NOT EXISTS (SELECT 1 FROM group_members cm \
                   JOIN group_members sm ON sm.group_id = cm.group_id \
                   WHERE cm.user_id = c.id AND sm.member_kind = 'staff' AND sm.member_active = 1) \
             ORDER BY c.id LIMIT {limit}",
            limit = coverage::UNCOVERED_NAMED + 1,
            statuses = statuses_needing_coverage()
        );
        let mut query = sqlx::query(&sql).bind(tenancy.to_string());
        for id in chunk {
            query = query.bind(id.to_string());
        }
        for row in query.fetch_all(&mut *conn).await? {
            uncovered.push(format!(
                "{} {}",
                rows::text(&row, "first_name")?,
                rows::text(&row, "last_name")?
            ));
        }
        if uncovered.len() > coverage::UNCOVERED_NAMED {
            break;
        }
    }
    Ok(uncovered)
}

async fn clients_of_groups(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    member_of: &str,
    id: Uuid,
) -> Result<Vec<Uuid>> {
    let sql = format!(
        "SELECT DISTINCT cm.user_id FROM group_members cm \
         WHERE cm.tenancy_id = $1 AND cm.member_kind = 'client' AND cm.group_id IN ({member_of})"
    );
    sqlx::query(&sql)
        .bind(tenancy.to_string())
        .bind(id.to_string())
        .fetch_all(conn)
        .await?
        .iter()
        .map(|row| rows::id(row, "user_id").map_err(Error::from))
        .collect()
}

/// After a staff user is deactivated: every client of their groups must still be covered.
pub(super) async fn ensure_groups_of_user_cover_their_clients(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    user: Uuid,
) -> Result<()> {
    let clients = clients_of_groups(
        conn,
        tenancy,
        "SELECT group_id FROM group_members WHERE user_id = $2",
        user,
    )
    .await?;
    ensure_clients_covered(conn, tenancy, &clients).await
}

/// Adds firm-side users (staff, team accounts) to a group, checking each belongs here.
pub(crate) async fn add_firm_members(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    group: Uuid,
    members: &[Uuid],
    field: &str,
    now: i64,
) -> Result<()> {
    for (i, user) in members.iter().enumerate() {
        let row = sqlx::query("SELECT kind FROM users WHERE tenancy_id = $1 AND id = $2")
            .bind(tenancy.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut *conn)
            .await?;
        match row
            .map(|r| rows::parsed(&r, "kind", UserKind::parse))
            .transpose()?
        {
            Some(kind) if kind.is_firm_side() => {}
            Some(_) => {
                return Err(Error::invalid(
                    format!("{field}[{i}]"),
                    "is a client; clients join through an invitation",
                ));
            }
            None => {
                return Err(Error::invalid(
                    format!("{field}[{i}]"),
                    "is not a staff user or team account of this tenancy",
                ));
            }
        }
        insert_member(conn, tenancy, group, *user, now).await?;
    }
    Ok(())
}

pub(crate) async fn insert_member(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    group: Uuid,
    user: Uuid,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO group_members (tenancy_id, group_id, user_id, added_at, member_kind, member_active) \
         SELECT $1, $2, u.id, $4, u.kind, CASE WHEN u.deactivated_at IS NULL THEN 1 ELSE 0 END \
         FROM users u WHERE u.id = $3 AND u.tenancy_id = $1 \
         ON CONFLICT (group_id, user_id) DO NOTHING",
    )
    .bind(tenancy.to_string())
    .bind(group.to_string())
    .bind(user.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether `user` is a member of the group.
pub(crate) async fn is_member(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    group: Uuid,
    user: Uuid,
) -> Result<bool> {
    Ok(sqlx::query(
        "SELECT 1 FROM group_members WHERE tenancy_id = $1 AND group_id = $2 AND user_id = $3",
    )
    .bind(tenancy.to_string())
    .bind(group.to_string())
    .bind(user.to_string())
    .fetch_optional(conn)
    .await?
    .is_some())
}

/// Creates a group row (the caller has taken the tenancy lock).
pub(crate) async fn insert_group(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    kind: GroupKind,
    name: &DisplayName,
    now: i64,
) -> Result<Uuid> {
    if kind == GroupKind::ClientTeam {
        let taken = sqlx::query("SELECT 1 FROM user_groups WHERE tenancy_id = $1 AND kind = 'client_team' AND name_key = $2")
            .bind(tenancy.to_string())
            .bind(name.as_str().to_lowercase())
            .fetch_optional(&mut *conn)
            .await?;
        if taken.is_some() {
            return Err(Error::conflict(
                ConflictCode::DuplicateName,
                Some("name"),
                "a client team with this name already exists",
            ));
        }
    }
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO user_groups (id, tenancy_id, kind, name, name_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(id.to_string())
    .bind(tenancy.to_string())
    .bind(kind.as_str())
    .bind(name.as_str().to_string())
    .bind(name.as_str().to_lowercase())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(id)
}

impl Store {
    async fn group_in(
        &self,
        conn: &mut AnyConnection,
        tenancy: Uuid,
        kind: GroupKind,
        id: Uuid,
    ) -> Result<Group> {
        let sql = format!("{GROUP_SELECT} WHERE g.tenancy_id = $1 AND g.kind = $2 AND g.id = $3");
        let row = sqlx::query(&sql)
            .bind(tenancy.to_string())
            .bind(kind.as_str())
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?
            .ok_or_else(|| not_found(kind))?;
        Ok(group(&row)?)
    }

    /// Creates a contact group or client team in a transaction of its own, recording nothing
    /// in the audit trail: for seeding a tenancy (the benchmarks'); an administrator's goes
    /// through `app::groups::create`.
    pub async fn create_group(
        &self,
        tenancy: Uuid,
        kind: GroupKind,
        new: NewGroupRequest,
        creator: Option<Uuid>,
    ) -> Result<Group> {
        let mut tx = self.write_tx().await?;
        let created = self
            .create_group_in(&mut tx, tenancy, kind, new, creator)
            .await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Creates a contact group or client team in the caller's transaction. `creator` (a plain
    /// staff user creating a contact group) joins it, since plain staff may only use groups
    /// they belong to.
    pub(crate) async fn create_group_in(
        &self,
        tx: &mut AnyConnection,
        tenancy: Uuid,
        kind: GroupKind,
        new: NewGroupRequest,
        creator: Option<Uuid>,
    ) -> Result<Group> {
        lock_tenancy(&mut *tx, tenancy).await?;
        require_kind(&mut *tx, tenancy, kind).await?;
        let now = self.now();
        let id = insert_group(&mut *tx, tenancy, kind, &new.name, now).await?;
        add_firm_members(&mut *tx, tenancy, id, &new.members, "members", now).await?;
        if let Some(creator) = creator {
            insert_member(&mut *tx, tenancy, id, creator, now).await?;
        }
        self.group_in(tx, tenancy, kind, id).await
    }

    pub async fn group(
        &self,
        tenancy: Uuid,
        kind: GroupKind,
        id: Uuid,
        member: Option<Uuid>,
    ) -> Result<Group> {
        let mut conn = self.pool.acquire().await?;
        let found = self.group_in(&mut conn, tenancy, kind, id).await?;
        if let Some(member) = member
            && !is_member(&mut conn, tenancy, id, member).await?
        {
            return Err(not_found(kind));
        }
        Ok(found)
    }

    /// Groups of one kind, optionally only those `member` belongs to, searched by name.
    pub async fn list_groups(
        &self,
        tenancy: Uuid,
        kind: GroupKind,
        query: Option<&str>,
        member: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Page<Group>> {
        require_kind(&mut *self.pool.acquire().await?, tenancy, kind).await?;
        let sql = format!(
            "{GROUP_SELECT} WHERE g.tenancy_id = $1 AND g.kind = $2 AND g.name_key LIKE $3 ESCAPE '\\' AND g.id > $4 \
             AND ($5 = '' OR EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.user_id = $5)) \
             ORDER BY g.id LIMIT $6"
        );
        let found = sqlx::query(&sql)
            .bind(tenancy.to_string())
            .bind(kind.as_str())
            .bind(contains_pattern(query))
            .bind(page.after())
            .bind(member.map(|m| m.to_string()).unwrap_or_default())
            .bind(page.fetch())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(group)
            .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Page::from_rows(found, page, |g| g.id))
    }

    /// Renames a group in the caller's transaction; answers the group before and after. A
    /// client team's name is unique in its tenancy, whatever its case.
    pub(crate) async fn rename_group_in(
        &self,
        tx: &mut AnyConnection,
        tenancy: Uuid,
        kind: GroupKind,
        id: Uuid,
        update: GroupUpdate,
    ) -> Result<(Group, Group)> {
        lock_tenancy(&mut *tx, tenancy).await?;
        let before = self.group_in(&mut *tx, tenancy, kind, id).await?;
        if kind == GroupKind::ClientTeam
            && before.name.to_lowercase() != update.name.as_str().to_lowercase()
        {
            let taken = sqlx::query("SELECT 1 FROM user_groups WHERE tenancy_id = $1 AND kind = 'client_team' AND name_key = $2")
                .bind(tenancy.to_string())
                .bind(update.name.as_str().to_lowercase())
                .fetch_optional(&mut *tx)
                .await?;
            if taken.is_some() {
                return Err(Error::conflict(
                    ConflictCode::DuplicateName,
                    Some("name"),
                    "a client team with this name already exists",
                ));
            }
        }
        sqlx::query("UPDATE user_groups SET name = $3, name_key = $4, updated_at = $5 WHERE tenancy_id = $1 AND id = $2")
            .bind(tenancy.to_string())
            .bind(id.to_string())
            .bind(update.name.as_str().to_string())
            .bind(update.name.as_str().to_lowercase())
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
        let after = self.group_in(tx, tenancy, kind, id).await?;
        Ok((before, after))
    }

    /// Deletes a group in the caller's transaction, unless that would leave one of its clients
    /// uncovered; answers the group as it was.
    pub(crate) async fn delete_group_in(
        &self,
        tx: &mut AnyConnection,
        tenancy: Uuid,
        kind: GroupKind,
        id: Uuid,
    ) -> Result<Group> {
        lock_tenancy(&mut *tx, tenancy).await?;
        let gone = self.group_in(&mut *tx, tenancy, kind, id).await?;
        let clients = clients_of_groups(&mut *tx, tenancy, "$2", id).await?;
        sqlx::query("DELETE FROM group_members WHERE tenancy_id = $1 AND group_id = $2")
            .bind(tenancy.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM user_groups WHERE tenancy_id = $1 AND id = $2")
            .bind(tenancy.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        ensure_clients_covered(tx, tenancy, &clients).await?;
        Ok(gone)
    }

    /// Adds a user to a group in the caller's transaction. A client joining a contact group
    /// that holds another client needs `confidentiality_override`. `acting_member` restricts
    /// plain staff to groups they belong to.
    pub(crate) async fn add_group_member_in(
        &self,
        tx: &mut AnyConnection,
        membership: Membership,
        confidentiality_override: bool,
        acting_member: Option<Uuid>,
    ) -> Result<GroupMember> {
        let Membership {
            tenancy,
            kind,
            group: group_id,
            user,
        } = membership;
        lock_tenancy(&mut *tx, tenancy).await?;
        let model = require_kind(&mut *tx, tenancy, kind).await?;
        self.group_in(&mut *tx, tenancy, kind, group_id).await?;
        // To plain staff a contact group they are not in is as if it did not exist.
        if let Some(actor) = acting_member
            && !is_member(&mut *tx, tenancy, group_id, actor).await?
        {
            return Err(not_found(kind));
        }
        let row = sqlx::query("SELECT kind FROM users WHERE tenancy_id = $1 AND id = $2")
            .bind(tenancy.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(Error::NotFound("user"))?;
        if rows::parsed(&row, "kind", UserKind::parse)? == UserKind::Client {
            let facts =
                group_facts(&mut *tx, tenancy, kind, &[group_id], Some(user), "group").await?;
            coverage::check_confidentiality(model, &facts, confidentiality_override)
                .map_err(|v| v.refusal("confidentiality_override"))?;
        }
        insert_member(&mut *tx, tenancy, group_id, user, self.now()).await?;
        self.member_in(tx, tenancy, group_id, user).await
    }

    /// Removes a user from a group in the caller's transaction, unless that leaves a client
    /// uncovered.
    pub(crate) async fn remove_group_member_in(
        &self,
        tx: &mut AnyConnection,
        m: Membership,
    ) -> Result<()> {
        lock_tenancy(&mut *tx, m.tenancy).await?;
        self.group_in(&mut *tx, m.tenancy, m.kind, m.group).await?;
        let clients = clients_of_groups(&mut *tx, m.tenancy, "$2", m.group).await?;
        let done = sqlx::query(
            "DELETE FROM group_members WHERE tenancy_id = $1 AND group_id = $2 AND user_id = $3",
        )
        .bind(m.tenancy.to_string())
        .bind(m.group.to_string())
        .bind(m.user.to_string())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("member"));
        }
        ensure_clients_covered(tx, m.tenancy, &clients).await
    }

    async fn member_in(
        &self,
        conn: &mut AnyConnection,
        tenancy: Uuid,
        group: Uuid,
        user: Uuid,
    ) -> Result<GroupMember> {
        let row = sqlx::query(
            "SELECT m.user_id, m.added_at, u.kind, u.first_name, u.last_name, u.email, u.deactivated_at, u.status \
             FROM group_members m JOIN users u ON u.id = m.user_id \
             WHERE m.tenancy_id = $1 AND m.group_id = $2 AND m.user_id = $3",
        )
        .bind(tenancy.to_string())
        .bind(group.to_string())
        .bind(user.to_string())
        .fetch_optional(conn)
        .await?
        .ok_or(Error::NotFound("member"))?;
        Ok(member(&row)?)
    }

    pub async fn list_group_members(
        &self,
        tenancy: Uuid,
        kind: GroupKind,
        group_id: Uuid,
        member_filter: Option<Uuid>,
        clients_visible_to: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Page<GroupMember>> {
        self.group(tenancy, kind, group_id, member_filter).await?;
        // Staff see the clients of the groups and teams they are in, and no others: a member
        // list shown to someone outside the team leaves its clients out.
        let found = sqlx::query(
            "SELECT m.user_id, m.added_at, u.kind, u.first_name, u.last_name, u.email, u.deactivated_at, u.status \
             FROM group_members m JOIN users u ON u.id = m.user_id \
             WHERE m.tenancy_id = $1 AND m.group_id = $2 AND m.user_id > $3 \
               AND ($5 = '' OR m.member_kind <> 'client' \
                    OR EXISTS (SELECT 1 FROM group_members v WHERE v.group_id = m.group_id AND v.user_id = $5)) \
             ORDER BY m.user_id LIMIT $4",
        )
        .bind(tenancy.to_string())
        .bind(group_id.to_string())
        .bind(page.after())
        .bind(page.fetch())
        .bind(clients_visible_to.map(|v| v.to_string()).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(member)
        .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Page::from_rows(found, page, |m| m.user_id))
    }
}
