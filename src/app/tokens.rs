//! API tokens as administrators and operators issue and revoke them: each recorded in the
//! audit trail (a staff user's token in their tenancy's, an operator's in the installation's),
//! by its id and name, never the token.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::{Result, audit};
use crate::domain::audit::{Action, Actor, Change, Event, Target, TargetKind};
use crate::store::{CreatedToken, Store, TokenInfo};

/// Issues a token: one that acts as `staff`'s active staff user of their tenancy (`Some((tenancy,
/// staff))`), or another operator token (`None`).
pub async fn create(
    store: &Store,
    staff: Option<(Uuid, Uuid)>,
    name: &str,
    lifetime: Option<time::Duration>,
    actor: &Actor,
) -> Result<CreatedToken> {
    let mut tx = store.write_tx().await?;
    let created = match staff {
        Some((tenancy, staff)) => {
            store
                .create_staff_token_in(&mut tx, tenancy, staff, name, lifetime)
                .await?
        }
        None => {
            store
                .create_operator_token_in(&mut tx, name, lifetime)
                .await?
        }
    };
    audit::record(store, &mut tx, &created_event(actor, &created.info)).await?;
    tx.commit().await?;
    Ok(created)
}

/// Revokes a token of the tenancy (an operator token when `tenancy` is `None`). Revoking
/// twice is harmless, and only the first time is a change the trail records.
pub async fn revoke(
    store: &Store,
    tenancy: Option<Uuid>,
    id: Uuid,
    actor: &Actor,
) -> Result<TokenInfo> {
    let mut tx = store.write_tx().await?;
    let (info, revoked_now) = store.revoke_token_in(&mut tx, tenancy, id).await?;
    if revoked_now {
        let change = Change::new().set("revoked_at", &rfc3339(info.revoked_at));
        let event = token_event(actor, Action::TokenRevoked, &info, change);
        audit::record(store, &mut tx, &event).await?;
    }
    tx.commit().await?;
    Ok(info)
}

fn created_event(actor: &Actor, info: &TokenInfo) -> Event {
    let change = Change::new()
        .set("name", &info.name)
        .set("staff_id", &info.staff_id)
        .set("expires_at", &rfc3339(info.expires_at));
    token_event(actor, Action::TokenCreated, info, change)
}

/// An entry about a token, in its tenancy's trail (the installation's for an operator token).
fn token_event(actor: &Actor, action: Action, info: &TokenInfo, change: Change) -> Event {
    Event {
        tenancy: info.tenancy_id,
        actor: actor.clone(),
        action,
        target: Target {
            kind: TargetKind::Token,
            id: info.id,
        },
        change,
    }
}

/// A time as the API writes it.
fn rfc3339(at: Option<OffsetDateTime>) -> Option<String> {
    at.and_then(|t| t.format(&Rfc3339).ok())
}
