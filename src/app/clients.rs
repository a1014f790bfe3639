//! A client and their Salesforce record: linking the two by hand, and a client's status moved
//! from the record it is linked to (the canvas form's buttons), which only a users
//! administrator may, and which changes nothing when the state machine refuses it.

use uuid::Uuid;

use super::{Error, Result};
use crate::domain::FieldErrors;
use crate::domain::client_status::Transition;
use crate::domain::values::SalesforceId;
use crate::store::{self, ActingStaff, Client, Store};

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
/// Contact, `001…` an Account).
pub async fn link_record(
    store: &Store,
    tenancy: Uuid,
    client: Uuid,
    input: &RecordInput,
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
    Ok(store
        .link_crm_record(tenancy, client, link, sobject, record.as_str())
        .await?)
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
