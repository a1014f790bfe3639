//! Inviting a client from a Salesforce record, as the staff user a Salesforce user maps to.
//! The canvas form, the JSON API and automatic invitations all come through here, so they share
//! the rules (parsing, groups, coverage, confidentiality) and the idempotency per record.

use uuid::Uuid;

use super::record::RecordKind;
use crate::domain::FieldError;
use crate::domain::invite::{Invite, InviteInput};
use crate::domain::values::SalesforceId;
use crate::store::{self, ActingStaff, InviteOptions, Invited, Inviter, RecordRef, Store};

#[derive(Debug)]
pub enum InviteError {
    /// The input does not parse: every field's reason.
    Fields(Vec<FieldError>),
    /// The store refused it (a rule, a duplicate e-mail) or failed.
    Store(store::Error),
}

impl From<store::Error> for InviteError {
    fn from(error: store::Error) -> Self {
        Self::Store(error)
    }
}

/// The record a client is invited from.
#[derive(Debug, Clone)]
pub struct FromRecord {
    pub org_link: Uuid,
    pub kind: RecordKind,
    pub record: SalesforceId,
}

/// Who the change is recorded as: the staff user, and the Salesforce user acting as them.
pub fn actor(acting: &ActingStaff, salesforce_user: &SalesforceId) -> String {
    format!(
        "staff:{} via Salesforce user {}",
        acting.staff,
        salesforce_user.as_str()
    )
}

/// Who the change is recorded as when a link's API key acts: the link and which of its keys
/// (so a leaked or misused key can be traced), then the staff user and the Salesforce user.
pub fn key_actor(
    link: Uuid,
    key_id: &str,
    acting: &ActingStaff,
    salesforce_user: &SalesforceId,
) -> String {
    format!(
        "salesforce:{link}:key:{key_id} as {}",
        actor(acting, salesforce_user)
    )
}

/// Parses the input against the tenancy's settings and creates the client (or finds the
/// record's client already made), linked to the record, sent or kept as a draft.
pub async fn invite_from_record(
    store: &Store,
    acting: &ActingStaff,
    actor: &str,
    from: &FromRecord,
    input: InviteInput,
    send: bool,
) -> Result<Invited, InviteError> {
    let invite = Invite::parse(input, acting.group_model, acting.mobile_policy)
        .map_err(InviteError::Fields)?;
    let options = InviteOptions {
        record: Some(RecordRef {
            org_link: from.org_link,
            sobject: from.kind.sobject(),
            record_id: from.record.clone(),
        }),
        send,
    };
    let inviter = Inviter {
        staff: Some(acting.staff),
        administers_users: acting.role.administers_users(),
    };
    Ok(store
        .invite_client_with(acting.tenancy, invite, inviter, actor, options)
        .await?)
}
