//! Team accounts as administrators create and change them: each change is recorded in the
//! tenancy's audit trail, with every field it changed before and after, in the transaction
//! that makes it, so a refused one (an e-mail or mobile taken, a contact number equal to the
//! secure one) leaves no entry.

use uuid::Uuid;

use super::{Result, audit};
use crate::domain::audit::{Action, Actor, Change, Event, Target, TargetKind};
use crate::store::{NewTeamAccount, Store, TeamAccount, TeamAccountUpdate};

/// Adds a team account to the tenancy.
pub async fn create(
    store: &Store,
    tenancy: Uuid,
    new: NewTeamAccount,
    actor: &Actor,
) -> Result<TeamAccount> {
    let mut tx = store.write_tx().await?;
    let created = store.create_team_account_in(&mut tx, tenancy, new).await?;
    let change = Change::new()
        .set("name", &created.name)
        .set("email", &created.email)
        .set("mobile", &created.mobile)
        .set("contact_number", &created.contact_number)
        .set("title", &created.title);
    let event = team_account_event(actor, Action::TeamAccountCreated, &created, change);
    audit::record(store, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(created)
}

/// Changes a team account's details or status; a change that changes nothing leaves no entry.
pub async fn update(
    store: &Store,
    (tenancy, id): (Uuid, Uuid),
    update: TeamAccountUpdate,
    actor: &Actor,
) -> Result<TeamAccount> {
    let mut tx = store.write_tx().await?;
    let (before, after) = store
        .update_team_account_in(&mut tx, tenancy, id, update)
        .await?;
    let change = changed(&before, &after);
    if !change.is_empty() {
        let event = team_account_event(actor, Action::TeamAccountUpdated, &after, change);
        audit::record(store, &mut tx, &event).await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// Each field of the account that differs, before and after.
fn changed(before: &TeamAccount, after: &TeamAccount) -> Change {
    Change::new()
        .diff("name", &before.name, &after.name)
        .diff("mobile", &before.mobile, &after.mobile)
        .diff(
            "contact_number",
            &before.contact_number,
            &after.contact_number,
        )
        .diff("title", &before.title, &after.title)
        .diff("active", &before.active, &after.active)
}

/// An entry about the team account, in its tenancy's trail.
fn team_account_event(
    actor: &Actor,
    action: Action,
    account: &TeamAccount,
    change: Change,
) -> Event {
    Event {
        tenancy: Some(account.tenancy_id),
        actor: actor.clone(),
        action,
        target: Target {
            kind: TargetKind::TeamAccount,
            id: account.id,
        },
        change,
    }
}
