//! Who is in a contact group or client team, as administrators and staff change it: each
//! member added or removed is recorded in the tenancy's audit trail with the change.

use uuid::Uuid;

use super::{Result, audit};
use crate::domain::audit::{Action, Actor, Change, Event, Target, TargetKind};
use crate::domain::tenancy::GroupKind;
use crate::store::{GroupMember, Membership, Store};

/// Adds the user to the group (see `Store::add_group_member_in` for the rules and for
/// `acting_member`), and records it.
pub async fn add(
    store: &Store,
    membership: Membership,
    confidentiality_override: bool,
    acting_member: Option<Uuid>,
    actor: &Actor,
) -> Result<GroupMember> {
    let mut tx = store.write_tx().await?;
    let added = store
        .add_group_member_in(&mut tx, membership, confidentiality_override, acting_member)
        .await?;
    let mut change = Change::new().set("user_id", &membership.user);
    if confidentiality_override {
        change = change.set("confidentiality_override", &true);
    }
    let event = membership_event(actor, Action::GroupMemberAdded, &membership, change);
    audit::record(store, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(added)
}

/// Removes the user from the group, unless that leaves a client uncovered, and records it.
pub async fn remove(store: &Store, membership: Membership, actor: &Actor) -> Result<()> {
    let mut tx = store.write_tx().await?;
    store.remove_group_member_in(&mut tx, membership).await?;
    let change = Change::new().unset("user_id", &membership.user);
    let event = membership_event(actor, Action::GroupMemberRemoved, &membership, change);
    audit::record(store, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// An entry about the group, in its tenancy's trail.
fn membership_event(
    actor: &Actor,
    action: Action,
    membership: &Membership,
    change: Change,
) -> Event {
    Event {
        tenancy: Some(membership.tenancy),
        actor: actor.clone(),
        action,
        target: Target {
            kind: match membership.kind {
                GroupKind::ContactGroup => TargetKind::ContactGroup,
                GroupKind::ClientTeam => TargetKind::ClientTeam,
            },
            id: membership.group,
        },
        change,
    }
}
