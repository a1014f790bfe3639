//! Creating, changing and deleting an org link: a new link and its intake secrets are written
//! together; who may change or delete one is decided under the link's lock. Each change is
//! recorded in the audit trail with who made it.

use uuid::Uuid;

use super::{Error, Result, audit};
use crate::crm::{Crm, LinkResult};
use crate::domain::audit::{Action, Actor, Change, Event, Target, TargetKind, link_tenancy};
use crate::domain::org_link::{LinkState, OrgLink};
use crate::store::ops::set_state_reason_in;
use crate::store::org_links::{SealedIntake, lock_link, set_intake_secrets_in};
use crate::store::{NewOrgLink, OrgLinkUpdate, Store};

/// A new link's secrets, sealed under its id (`id`, chosen by the caller).
#[derive(Debug, Clone)]
pub struct NewLinkSecrets {
    pub id: Uuid,
    pub consumer_secret: Option<String>,
    pub private_key: Option<String>,
    pub intake: SealedIntake,
}

/// Links an org to its tenancies, with its intake secrets, in one transaction: a link is
/// never left without the secrets its Outbound Message URL and webhooks are checked with.
pub async fn create(
    store: &Store,
    new: NewOrgLink,
    secrets: NewLinkSecrets,
    actor: &Actor,
) -> Result<OrgLink> {
    let NewLinkSecrets {
        id,
        consumer_secret,
        private_key,
        intake,
    } = secrets;
    let given = Change::new()
        .secret("consumer_secret", consumer_secret.is_some())
        .secret("private_key", private_key.is_some());
    let mut tx = store.write_tx().await?;
    store
        .insert_link_in(&mut tx, id, new, consumer_secret, private_key)
        .await?;
    set_intake_secrets_in(&mut tx, id, &intake, store.now()).await?;
    let created = store.link_in(&mut tx, id, None).await?;
    let change = settings(given, &created)
        .secret("outbound_message_url", true)
        .secret("webhook_secret", true);
    let event = link_event(actor, Action::OrgLinkCreated, &created, change);
    audit::record(store, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(created)
}

/// A new link's settings, as its entry in the trail shows them (its secrets only named).
fn settings(change: Change, link: &OrgLink) -> Change {
    change
        .set("name", &link.name)
        .set("org_id", &link.org_id)
        .set("login_host", &link.login_host)
        .set("auth_kind", &link.auth_kind)
        .set("consumer_key", &link.consumer_key)
        .set("integration_username", &link.integration_username)
        .set("api_version", &link.api_version)
        .set("field_mapping", &link.field_mapping)
        .set("staff_match", &link.staff_match)
        .set("api_budget_percent", &link.api_budget_percent)
        .set("tenancies", &link.tenancies)
        .set("integration_user_id", &link.integration_user_id)
        .set("auto_invite", &link.auto_invite)
}

/// An entry about `link`, in the trail of the tenancy it serves alone (see `link_tenancy`).
fn link_event(actor: &Actor, action: Action, link: &OrgLink, change: Change) -> Event {
    Event {
        tenancy: link_tenancy(&link.tenancies),
        actor: actor.clone(),
        action,
        target: Target {
            kind: TargetKind::OrgLink,
            id: link.id,
        },
        change,
    }
}

/// What an update did to a link, as entries of the trail: its settings (new secrets only
/// named), its field mapping before and after, and each tenancy it began or stopped serving,
/// in that tenancy's trail.
fn update_events(
    actor: &Actor,
    before: &OrgLink,
    after: &OrgLink,
    secrets: (bool, bool),
) -> Vec<Event> {
    let settings = Change::new()
        .diff("name", &before.name, &after.name)
        .diff("login_host", &before.login_host, &after.login_host)
        .diff("consumer_key", &before.consumer_key, &after.consumer_key)
        .diff(
            "integration_username",
            &before.integration_username,
            &after.integration_username,
        )
        .diff("api_version", &before.api_version, &after.api_version)
        .diff("staff_match", &before.staff_match, &after.staff_match)
        .diff(
            "api_budget_percent",
            &before.api_budget_percent,
            &after.api_budget_percent,
        )
        .diff("state", &before.state, &after.state)
        .diff("state_reason", &before.state_reason, &after.state_reason)
        .diff(
            "integration_user_id",
            &before.integration_user_id,
            &after.integration_user_id,
        )
        .diff("auto_invite", &before.auto_invite, &after.auto_invite)
        .secret("consumer_secret", secrets.0)
        .secret("private_key", secrets.1);
    let mapping = Change::new().diff("field_mapping", &before.field_mapping, &after.field_mapping);
    let mut events: Vec<Event> = [
        (Action::OrgLinkUpdated, settings),
        (Action::OrgLinkMappingChanged, mapping),
    ]
    .into_iter()
    .filter(|(_, change)| !change.is_empty())
    .map(|(action, change)| link_event(actor, action, after, change))
    .collect();
    let served = |action, tenancy: Uuid, change: Change| Event {
        tenancy: Some(tenancy),
        ..link_event(actor, action, after, change)
    };
    for added in after
        .tenancies
        .iter()
        .filter(|t| !before.tenancies.contains(t))
    {
        let change = Change::new().set("tenancy_id", added);
        events.push(served(Action::OrgLinkTenancyAdded, *added, change));
    }
    for removed in before
        .tenancies
        .iter()
        .filter(|t| !after.tenancies.contains(t))
    {
        let change = Change::new().unset("tenancy_id", removed);
        events.push(served(Action::OrgLinkTenancyRemoved, *removed, change));
    }
    events
}

/// Changes a link; `managed_by` is the tenancy of the administrator changing it (`None` for
/// an operator), which must be the only tenancy the link serves.
pub async fn update(
    store: &Store,
    id: Uuid,
    managed_by: Option<Uuid>,
    update: OrgLinkUpdate,
    consumer_secret: Option<String>,
    private_key: Option<String>,
    actor: &Actor,
) -> Result<OrgLink> {
    let change = Update {
        update,
        consumer_secret,
        private_key,
        pause_reason: None,
    };
    update_with_reason(store, id, managed_by, change, actor).await
}

/// A change of a link with its new secrets, and why it is paused when it is.
pub struct Update {
    pub update: OrgLinkUpdate,
    pub consumer_secret: Option<String>,
    pub private_key: Option<String>,
    /// Kept as the paused link's state reason, and in the trail.
    pub pause_reason: Option<String>,
}

/// As `update`; a link paused by the change keeps `pause_reason` as its state's reason, in
/// the same transaction as the change and its entry in the trail.
pub async fn update_with_reason(
    store: &Store,
    id: Uuid,
    managed_by: Option<Uuid>,
    change: Update,
    actor: &Actor,
) -> Result<OrgLink> {
    let Update {
        update,
        consumer_secret,
        private_key,
        pause_reason,
    } = change;
    let secrets = (consumer_secret.is_some(), private_key.is_some());
    let mut tx = store.write_tx().await?;
    let before = managed(store, &mut tx, id, managed_by).await?;
    let mut after = store
        .update_link_in(&mut tx, &before, update, consumer_secret, private_key)
        .await?;
    if let Some(reason) = pause_reason.filter(|_| after.state == LinkState::Paused) {
        set_state_reason_in(&mut tx, id, &reason).await?;
        after.state_reason = Some(reason);
    }
    let events = update_events(actor, &before, &after, secrets);
    audit::record_all(store, &mut tx, &events).await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes a link; `managed_by` as for `update`.
pub async fn delete(
    store: &Store,
    id: Uuid,
    managed_by: Option<Uuid>,
    actor: &Actor,
) -> Result<()> {
    let mut tx = store.write_tx().await?;
    let before = managed(store, &mut tx, id, managed_by).await?;
    store.delete_link_in(&mut tx, id).await?;
    let change = Change::new()
        .unset("name", &before.name)
        .unset("org_id", &before.org_id);
    let event = link_event(actor, Action::OrgLinkDeleted, &before, change);
    audit::record(store, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces a link's intake secrets (the Outbound Message URL's token and the webhook signing
/// secret); the trail names them, never their values.
pub async fn rotate_intake_secrets(
    store: &Store,
    id: Uuid,
    intake: &SealedIntake,
    actor: &Actor,
) -> Result<()> {
    let mut tx = store.write_tx().await?;
    set_intake_secrets_in(&mut tx, id, intake, store.now()).await?;
    let link = store.link_in(&mut tx, id, None).await?;
    let change = Change::new()
        .secret("outbound_message_url", true)
        .secret("webhook_secret", true);
    let event = link_event(actor, Action::IntakeSecretsRotated, &link, change);
    audit::record(store, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Replaces the link's API key with the one of `key_hash`; the trail keeps the keys' ids,
/// never a key.
pub async fn issue_api_key(store: &Store, id: Uuid, key_hash: &str, actor: &Actor) -> Result<()> {
    let mut tx = store.write_tx().await?;
    let before = store.link_in(&mut tx, id, None).await?;
    store.set_org_link_api_key(&mut tx, id, key_hash).await?;
    let after = store.link_in(&mut tx, id, None).await?;
    let change = Change::new()
        .diff("api_key_id", &before.api_key_id, &after.api_key_id)
        .secret("api_key", true);
    let event = link_event(actor, Action::OrgLinkApiKeyIssued, &after, change);
    audit::record(store, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(())
}

/// Connects a JWT bearer link at once (see `Crm::connect_jwt`), recording who did with the
/// tokens.
pub async fn connect_jwt(crm: &Crm, link: &OrgLink, actor: &Actor) -> LinkResult<OrgLink> {
    let event = connection_event(
        actor,
        Action::OrgLinkConnected,
        link,
        link.state.once_connected(),
    );
    crm.connect_jwt(link, Some(&event)).await
}

/// Finishes the web-server flow Salesforce sent the browser back from (see
/// `Crm::finish_web_flow`), recorded as done by whoever started the flow.
pub async fn finish_connect(
    crm: &Crm,
    state: &str,
    binding: &str,
    code: &str,
) -> LinkResult<OrgLink> {
    let audit = |link: &OrgLink, started_by: &str| {
        let actor = Actor::from_label(started_by);
        connection_event(
            &actor,
            Action::OrgLinkConnected,
            link,
            link.state.once_connected(),
        )
    };
    crm.finish_web_flow(state, binding, code, &audit).await
}

/// Revokes the link's token at Salesforce and forgets it (see `Crm::disconnect`), recording
/// who did with it.
pub async fn disconnect(crm: &Crm, link: &OrgLink, actor: &Actor) -> LinkResult<OrgLink> {
    let event = connection_event(
        actor,
        Action::OrgLinkDisconnected,
        link,
        LinkState::NotConnected,
    );
    crm.disconnect(link, Some(&event)).await
}

/// A connection's entry: the link's state after it, its tokens only named.
fn connection_event(actor: &Actor, action: Action, link: &OrgLink, after: LinkState) -> Event {
    let change = Change::new()
        .set("state", &after)
        .secret("access_token", true);
    link_event(actor, action, link, change)
}

/// The link, locked (PostgreSQL) before its tenancies are read so a concurrent change of them
/// commits first and is seen. One changed by the administrator of `managed_by` must serve that
/// tenancy (else it is not found, as for an unknown link) and no other (a shared link is the
/// operators').
async fn managed(
    store: &Store,
    tx: &mut sqlx::AnyConnection,
    id: Uuid,
    managed_by: Option<Uuid>,
) -> Result<OrgLink> {
    lock_link(tx, id).await?;
    let link = store.link_in(tx, id, managed_by).await?;
    match managed_by {
        Some(own) if link.tenancies != [own] => Err(Error::Forbidden(
            "this org link serves several tenancies: only an operator may change it".into(),
        )),
        _ => Ok(link),
    }
}
