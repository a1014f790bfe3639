//! The audit trail's rows: written in the caller's transaction, read a page at a time.

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Page, PageRequest, Result, Store, rows};
use crate::domain::audit::{Action, Actor, ActorKind, Event, Target, TargetKind};

/// One entry of the trail as stored.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: Uuid,
    pub tenancy_id: Option<Uuid>,
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub action: Action,
    pub target: Target,
    /// The change as a JSON object (see `domain::audit::Change`).
    pub changes: String,
}

/// Which entries to list; each filter left out lets every entry through.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// One tenancy's trail; `None` is the whole installation's.
    pub tenancy: Option<Uuid>,
    pub action: Option<Action>,
    /// The actor's id: an operator's token or a staff user.
    pub actor: Option<Uuid>,
    pub target: Option<Uuid>,
    /// From this time on (milliseconds, inclusive).
    pub from: Option<i64>,
    /// Before this time (milliseconds, exclusive).
    pub until: Option<i64>,
}

/// Writes one entry in the caller's transaction.
pub(crate) async fn insert(conn: &mut AnyConnection, at: i64, event: &Event) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, tenancy_id, at, actor_kind, actor_id, actor_label, action, target_kind, target_id, changes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(event.tenancy.map(|t| t.to_string()))
    .bind(at)
    .bind(event.actor.kind.as_str())
    .bind(event.actor.id.map(|a| a.to_string()))
    .bind(event.actor.label.clone())
    .bind(event.action.as_str())
    .bind(event.target.kind.as_str())
    .bind(event.target.id.to_string())
    .bind(event.change.clone().into_json().to_string())
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) fn audit_event(row: &AnyRow) -> sqlx::Result<AuditEvent> {
    Ok(AuditEvent {
        id: rows::id(row, "id")?,
        tenancy_id: rows::opt_id(row, "tenancy_id")?,
        at: rows::time(row, "at")?,
        actor: Actor {
            kind: rows::parsed(row, "actor_kind", ActorKind::parse)?,
            id: rows::opt_id(row, "actor_id")?,
            label: rows::text(row, "actor_label")?,
        },
        action: rows::parsed(row, "action", Action::parse)?,
        target: Target {
            kind: rows::parsed(row, "target_kind", TargetKind::parse)?,
            id: rows::id(row, "target_id")?,
        },
        changes: rows::text(row, "changes")?,
    })
}

impl Store {
    /// A page of the trail, oldest first.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEvent>> {
        let text = |id: Option<Uuid>| id.map(|i| i.to_string()).unwrap_or_default();
        let found = sqlx::query(
            "SELECT id, tenancy_id, at, actor_kind, actor_id, actor_label, action, target_kind, target_id, changes \
             FROM audit_events \
             WHERE ($1 = '' OR tenancy_id = $1) AND ($2 = '' OR action = $2) \
               AND ($3 = '' OR actor_id = $3) AND ($4 = '' OR target_id = $4) \
               AND at >= $5 AND at < $6 AND id > $7 \
             ORDER BY id LIMIT $8",
        )
        .bind(text(filter.tenancy))
        .bind(filter.action.map(Action::as_str).unwrap_or_default())
        .bind(text(filter.actor))
        .bind(text(filter.target))
        .bind(filter.from.unwrap_or(i64::MIN))
        .bind(filter.until.unwrap_or(i64::MAX))
        .bind(page.after())
        .bind(page.fetch())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(audit_event)
        .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(Page::from_rows(found, page, |e| e.id))
    }
}
