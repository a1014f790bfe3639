//! Contact groups and client teams as administrators and staff create, rename and delete them:
//! each change is recorded in the tenancy's audit trail in the transaction that makes it, so a
//! refused one (a name taken, a client left uncovered) leaves no entry.

use uuid::Uuid;

use super::{Result, audit};
use crate::domain::audit::{Action, Actor, Change, Event, Target};
use crate::domain::tenancy::GroupKind;
use crate::store::{Group, GroupUpdate, NewGroupRequest, Store};

/// Creates a contact group or client team with its first members; `creator` (a plain staff
/// user creating a contact group) joins it too. The entry lists the members by id.
pub async fn create(
    store: &Store,
    (tenancy, kind): (Uuid, GroupKind),
    new: NewGroupRequest,
    creator: Option<Uuid>,
    actor: &Actor,
) -> Result<Group> {
    let members = first_members(&new.members, creator);
    let mut tx = store.write_tx().await?;
    let created = store
        .create_group_in(&mut tx, tenancy, kind, new, creator)
        .await?;
    let change = Change::new()
        .set("name", &created.name)
        .set("members", &members);
    let event = group_event(actor, Action::GroupCreated, &created, change);
    audit::record(store, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(created)
}

/// Renames a group; a name given again as it was is no change, and no entry.
pub async fn rename(
    store: &Store,
    (tenancy, kind, id): (Uuid, GroupKind, Uuid),
    update: GroupUpdate,
    actor: &Actor,
) -> Result<Group> {
    let mut tx = store.write_tx().await?;
    let (before, after) = store
        .rename_group_in(&mut tx, tenancy, kind, id, update)
        .await?;
    let change = Change::new().diff("name", &before.name, &after.name);
    if !change.is_empty() {
        let event = group_event(actor, Action::GroupRenamed, &after, change);
        audit::record(store, &mut tx, &event).await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// Deletes a group, unless one of its clients would be left with no other cover; the entry
/// keeps the name it had.
pub async fn delete(
    store: &Store,
    (tenancy, kind, id): (Uuid, GroupKind, Uuid),
    actor: &Actor,
) -> Result<()> {
    let mut tx = store.write_tx().await?;
    let gone = store.delete_group_in(&mut tx, tenancy, kind, id).await?;
    let change = Change::new().unset("name", &gone.name);
    let event = group_event(actor, Action::GroupDeleted, &gone, change);
    audit::record(store, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// The members a new group starts with, each once, in the order asked, the creator last.
fn first_members(asked: &[Uuid], creator: Option<Uuid>) -> Vec<Uuid> {
    let mut members: Vec<Uuid> = Vec::with_capacity(asked.len() + 1);
    for id in asked.iter().copied().chain(creator) {
        if !members.contains(&id) {
            members.push(id);
        }
    }
    members
}

/// An entry about the group, in its tenancy's trail.
fn group_event(actor: &Actor, action: Action, group: &Group, change: Change) -> Event {
    Event {
        tenancy: Some(group.tenancy_id),
        actor: actor.clone(),
        action,
        target: Target {
            kind: group.kind.into(),
            id: group.id,
        },
        change,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_groups_members_are_listed_once_with_its_creator_last() {
        let (a, b, me) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(first_members(&[a, b, a], Some(me)), [a, b, me]);
        assert_eq!(first_members(&[me, a], Some(me)), [me, a]);
        assert!(first_members(&[], None).is_empty());
    }
}
