//! A client's status moved from the Salesforce record it is linked to (the canvas form's
//! buttons): only a users administrator may, and a move the state machine refuses changes
//! nothing.

use super::{Error, Result};
use crate::domain::client_status::Transition;
use crate::domain::values::SalesforceId;
use crate::store::{self, ActingStaff, Client, Store};

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
    org_link: uuid::Uuid,
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
