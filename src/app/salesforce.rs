//! What a Salesforce user asks of Liaison, through the canvas form or the org link's API key:
//! who they act as (the staff user they map to in each tenancy the link serves), and the
//! invite the API key makes from a record as that staff user.

use uuid::Uuid;

use super::invites::{self, FromRecord, Invited};
use crate::crm::record::{Prefill, RecordKind};
use crate::crm::{Crm, LinkError};
use crate::domain::invite::{Invite, InviteInput};
use crate::domain::org_link::{InviteField, OrgLink};
use crate::domain::values::SalesforceId;
use crate::store::{self, ActingStaff, SalesforceUser, Store};

/// Why a Salesforce user's request showed or made nothing. Each side words these its own way:
/// the canvas as a page, the JSON API as a problem.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Salesforce user is an active staff user of none of the link's tenancies.
    #[error("the Salesforce user is not an active staff user of any tenancy the org link serves")]
    NotStaff,
    /// The tenancy asked for is not one where the Salesforce user is active staff.
    #[error("the tenancy is not one where the Salesforce user is active staff")]
    NotStaffThere,
    /// Salesforce, or the link, could not read the record.
    #[error(transparent)]
    Record(LinkError),
    /// The invite's rules refused it, or the store failed.
    #[error(transparent)]
    App(#[from] super::Error),
}

impl From<store::Error> for Error {
    fn from(error: store::Error) -> Self {
        Self::App(error.into())
    }
}

/// The staff user the Salesforce user is in each tenancy the link serves, matched the way the
/// link says (active staff only); `NotStaff` when there is none.
pub async fn acting_staff(
    store: &Store,
    link: &OrgLink,
    user: &SalesforceUser,
) -> Result<Vec<ActingStaff>, Error> {
    let acting = store.acting_staff(link.id, link.staff_match, user).await?;
    if acting.is_empty() {
        return Err(Error::NotStaff);
    }
    Ok(acting)
}

/// The staff user acting in `tenancy`, when the Salesforce user is active staff there.
pub fn acting_in(acting: &[ActingStaff], tenancy: Uuid) -> Result<&ActingStaff, Error> {
    acting
        .iter()
        .find(|a| a.tenancy == tenancy)
        .ok_or(Error::NotStaffThere)
}

/// An invite from a record that a caller holding the link's API key asks for, on behalf of a
/// Salesforce user.
#[derive(Debug, Clone)]
pub struct RecordInvite {
    pub user: SalesforceUser,
    pub kind: RecordKind,
    pub record: SalesforceId,
    /// The tenancy to invite in: one where the user is active staff.
    pub tenancy: Uuid,
    pub input: InviteInput,
    /// Send the invitation now rather than keep a draft.
    pub send: bool,
}

/// Creates the record's client (or finds the one made earlier) as the staff user the
/// Salesforce user maps to in the tenancy asked for. The record is read again whatever was
/// typed: one deleted or merged since the form was filled creates nothing, and read-only
/// mapped fields take the record's values. The client's history names the link, its key and
/// the user.
pub async fn invite(
    store: &Store,
    crm: &Crm,
    link: &OrgLink,
    key_id: &str,
    request: RecordInvite,
) -> Result<Invited, Error> {
    let RecordInvite {
        user,
        kind,
        record,
        tenancy,
        mut input,
        send,
    } = request;
    let acting = acting_staff(store, link, &user).await?;
    let chosen = acting_in(&acting, tenancy)?;
    // Field errors need no call to Salesforce, so they come first (a read-only field's value
    // comes from the record, so it cannot be judged before).
    if link.field_mapping.read_only.is_empty() {
        Invite::parse(input.clone(), chosen.group_model, chosen.mobile_policy)
            .map_err(super::Error::Invalid)?;
    }
    let prefill = crm
        .read_prefill(link, kind, record.as_str())
        .await
        .map_err(Error::Record)?;
    keep_read_only(&mut input, &prefill);
    let actor = invites::key_actor(link.id, key_id, chosen, &user.user_id);
    let from = FromRecord {
        org_link: link.id,
        kind,
        record,
    };
    Ok(invites::from_record(store, chosen, &actor, &from, input, send).await?)
}

/// Read-only fields take the record's value.
fn keep_read_only(input: &mut InviteInput, prefill: &Prefill) {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    for field in &prefill.read_only {
        match field {
            InviteField::FirstName => input.first_name = text(&prefill.first_name),
            InviteField::LastName => input.last_name = text(&prefill.last_name),
            InviteField::Email => input.email = text(&prefill.email),
            InviteField::Mobile => input.mobile = prefill.mobile.clone(),
            InviteField::Title => input.title = prefill.title.clone(),
        }
    }
}
