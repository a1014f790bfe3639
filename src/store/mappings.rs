//! An org link's field-mapping changes as its audit trail holds them, newest first: what the
//! mapping editor lists and what undoing the last change restores.

use uuid::Uuid;

use super::audit::{AuditEvent, audit_event};
use super::{Result, Store};
use crate::domain::audit::Action;

impl Store {
    /// The link's latest `limit` mapping changes, newest first.
    pub async fn mapping_changes(&self, link: Uuid, limit: i64) -> Result<Vec<AuditEvent>> {
        let found = sqlx::query(
            "SELECT id, tenancy_id, at, actor_kind, actor_id, actor_label, action, target_kind, target_id, changes \
             FROM audit_events WHERE target_id = $1 AND action = $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(link.to_string())
        .bind(Action::OrgLinkMappingChanged.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(audit_event)
        .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(found)
    }
}
