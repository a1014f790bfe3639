//! A client and their Salesforce record: their details corrected and the two linked by hand,
//! each recorded in the audit trail with the change; and a client's status moved from the
//! record it is linked to (the canvas form's buttons), which only a users administrator may,
//! and which changes nothing when the state machine refuses it.

use uuid::Uuid;

use super::{Error, Result, audit};
use crate::domain::FieldErrors;
use crate::domain::audit::{Action, Actor, Change, Event, Target, TargetKind};
use crate::domain::client_status::Transition;
use crate::domain::values::SalesforceId;
use crate::store::{self, ActingStaff, Client, ClientUpdate, RecordRef, Store};

/// An entry about a client, in their tenancy's trail.
fn client_event(
    actor: &Actor,
    action: Action,
    tenancy: Uuid,
    client: Uuid,
    change: Change,
) -> Event {
    Event {
        tenancy: Some(tenancy),
        actor: actor.clone(),
        action,
        target: Target {
            kind: TargetKind::Client,
            id: client,
        },
        change,
    }
}

/// Corrects a client's details (parsed by the caller; the mobile against the tenancy's policy
/// and the e-mail's rules are checked under the tenancy's lock). The trail records each field
/// that changed, and nothing when none did.
pub async fn update(
    store: &Store,
    tenancy: Uuid,
    id: Uuid,
    update: ClientUpdate,
    actor: &Actor,
) -> Result<Client> {
    let mut tx = store.write_tx().await?;
    let (before, after) = store.update_client_in(&mut tx, tenancy, id, update).await?;
    let change = Change::new()
        .diff("first_name", &before.first_name, &after.first_name)
        .diff("last_name", &before.last_name, &after.last_name)
        .diff("email", &before.email, &after.email)
        .diff("mobile", &before.mobile, &after.mobile)
        .diff("title", &before.title, &after.title);
    if !change.is_empty() {
        let event = client_event(actor, Action::ClientUpdated, tenancy, id, change);
        audit::record(store, &mut tx, &event).await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// What linking changed: each of the record's fields before (when the client was linked
/// already) and after.
fn link_change(before: Option<&RecordRef>, after: &RecordRef) -> Change {
    let org_link = after.org_link.to_string();
    let record = after.record_id.as_str();
    match before {
        None => Change::new()
            .set("org_link_id", &org_link)
            .set("sobject", &after.sobject)
            .set("record_id", &record),
        Some(before) => Change::new()
            .diff("org_link_id", &before.org_link.to_string(), &org_link)
            .diff("sobject", &before.sobject, &after.sobject)
            .diff("record_id", &before.record_id.as_str(), &record),
    }
}

/// A record to link a client to, as asked for, before parsing.
#[derive(Debug, Clone)]
pub struct RecordInput {
    /// An org link that serves the client's tenancy.
    pub org_link: Uuid,
    /// `Contact`, or `Account` for a Person Account.
    pub sobject: String,
    pub record_id: String,
}

/// Links a client to their Salesforce record, so that every status change from now on, the
/// current one first, is written back to it. The record's id must be of its kind (`003…` a
/// Contact, `001…` an Account). Linking again to the same record writes the current status
/// back again and records nothing in the trail.
pub async fn link_record(
    store: &Store,
    tenancy: Uuid,
    client: Uuid,
    input: &RecordInput,
    actor: &Actor,
) -> Result<()> {
    let mut errors = FieldErrors::new();
    let prefix = match input.sobject.as_str() {
        "Contact" => Some("003"),
        "Account" => Some("001"),
        _ => {
            errors.push("sobject", "must be Contact or Account");
            None
        }
    };
    let record = errors.take(
        "record_id",
        SalesforceId::parse(&input.record_id).and_then(|id| match prefix {
            Some(p) if !id.as_str().starts_with(p) => Err(format!(
                "is not a {} id (they start with {p})",
                input.sobject
            )),
            _ => Ok(id),
        }),
    );
    errors.finish().map_err(Error::Invalid)?;
    let record = record.ok_or_else(|| Error::invalid("record_id", "is missing"))?;
    let (link, sobject) = (input.org_link, &input.sobject);
    let mut tx = store.write_tx().await?;
    let (before, after) = store
        .link_crm_record_in(&mut tx, tenancy, client, link, sobject, record.as_str())
        .await?;
    let change = link_change(before.as_ref(), &after);
    if !change.is_empty() {
        let event = client_event(actor, Action::ClientRecordLinked, tenancy, client, change);
        audit::record(store, &mut tx, &event).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// How a status move from a record ended.
#[derive(Debug, Clone)]
pub enum StatusMove {
    Moved(Client),
    /// The move is not allowed from the client's status (or it changed meanwhile): the client
    /// as it was, and why.
    Refused {
        client: Client,
        reason: String,
    },
}

/// Moves the status of the record's client in the acting staff user's tenancy. Refuses, in
/// this order: a record with no client (`NotFound`), a staff user who does not administer
/// users (`Forbidden`), a request that names no move (`Invalid`).
pub async fn move_record_client(
    store: &Store,
    acting: &ActingStaff,
    org_link: Uuid,
    record: &SalesforceId,
    transition: Option<Transition>,
    actor: &str,
) -> Result<StatusMove> {
    let id = store
        .client_of_record(acting.tenancy, org_link, record)
        .await?
        .ok_or(store::Error::NotFound("client"))?;
    let client = store.client(acting.tenancy, id, None).await?;
    if !acting.role.administers_users() {
        return Err(Error::Forbidden(
            "only users administrators may change a client's status".into(),
        ));
    }
    let transition = transition.ok_or_else(|| Error::invalid("action", "is not known"))?;
    match store
        .transition_client(acting.tenancy, client.id, transition, actor)
        .await
    {
        Ok(after) => Ok(StatusMove::Moved(after)),
        Err(store::Error::Conflict { reason, .. }) => Ok(StatusMove::Refused { client, reason }),
        Err(error) => Err(error.into()),
    }
}
