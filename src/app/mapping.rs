//! The field mapping checked against the org: the describes the editor offers, a dry run of a
//! candidate mapping on a real record (the invite it would pre-fill and the write-back it
//! would send, with every problem per field, writing nothing), and undoing the last saved
//! change from the audit trail.

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Error, Result, org_links};
use crate::crm::describe::FoundRecord;
use crate::crm::record::{Prefill, RecordKind};
use crate::crm::{Crm, LinkError, LinkResult};
use crate::domain::audit::Actor;
use crate::domain::client_status::ClientStatus;
use crate::domain::org_link::{FieldMapping, OrgLink, SObjectDescribe, StatusWrite};
use crate::domain::values::{E164Phone, Email, PersonName, PhoneRegion, SalesforceId, Title};
use crate::domain::{FieldError, FieldErrors};
use crate::store::{OrgLinkUpdate, Store};

/// The org's fields of the sObject `kind` is read from (see `Crm::describe`).
pub async fn describe(crm: &Crm, link: &OrgLink, kind: RecordKind) -> LinkResult<SObjectDescribe> {
    crm.describe(link, kind).await
}

/// Records of `kind` whose name holds `name`, to pick one for a dry run.
pub async fn find_records(
    crm: &Crm,
    link: &OrgLink,
    kind: RecordKind,
    name: &str,
) -> LinkResult<Vec<FoundRecord>> {
    crm.find_records(link, kind, name).await
}

/// What a candidate mapping would do with one record.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// The invite form's pre-fill, as the record's fields hold it.
    pub prefill: Prefill,
    /// The record the status write-back would send when the client is invited.
    pub write_back: Value,
    /// Each field whose mapping does not fit the org, or whose value would not be accepted.
    pub problems: Vec<FieldError>,
}

/// Why a dry run or a save of a mapping did not run.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The mapping or the record id does not parse, or the mapping does not fit the org:
    /// every field's reason.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The org's describe could not be read.
    #[error(transparent)]
    Describe(LinkError),
    /// The record could not be read.
    #[error(transparent)]
    Record(LinkError),
    /// The change was refused or failed (see `org_links::update`).
    #[error(transparent)]
    Refused(#[from] Error),
}

/// Runs `mapping` (not the saved one) on the record `record_id` of `kind`: describes the
/// sObject, reads the record through the mapping and builds the write-back. Nothing is written
/// to Salesforce or the directory.
pub async fn dry_run(
    crm: &Crm,
    link: &OrgLink,
    mapping: FieldMapping,
    kind: RecordKind,
    record_id: &str,
) -> Result<DryRun, MappingError> {
    let mut errors = FieldErrors::new();
    mapping.validate(&mut errors, "field_mapping");
    let record = errors.take("record_id", SalesforceId::parse(record_id));
    errors.finish().map_err(MappingError::Invalid)?;
    let record = record.map(|r| r.as_str().to_string()).unwrap_or_default();
    let described = crm
        .describe(link, kind)
        .await
        .map_err(MappingError::Describe)?;
    let mut problems = FieldErrors::new();
    match kind {
        RecordKind::Contact => {
            mapping.check_against(Some(&described), None, &mut problems, "field_mapping")
        }
        RecordKind::PersonAccount => {
            mapping.check_against(None, Some(&described), &mut problems, "field_mapping")
        }
    }
    let trial = OrgLink {
        field_mapping: mapping,
        ..link.clone()
    };
    let prefill = crm
        .read_prefill(&trial, kind, &record)
        .await
        .map_err(MappingError::Record)?;
    let region = match (trial.field_mapping.phone_region(), link.tenancies.first()) {
        (Some(own), _) => Some(own),
        (None, Some(tenancy)) => {
            let served = crm.store().tenancy(*tenancy).await.map_err(Error::from)?;
            Some(served.phone_region)
        }
        (None, None) => None,
    };
    check_prefill(&prefill, region, &mut problems);
    let write_back = trial.field_mapping.write_back_record(&StatusWrite {
        sobject: kind.sobject(),
        record_id: &record,
        status: ClientStatus::Invited,
        client_id: Uuid::nil(),
        tenancy_id: link.tenancies.first().copied().unwrap_or_default(),
        changed_at: crm.store().clock().now(),
    });
    Ok(DryRun {
        prefill,
        write_back,
        problems: problems.finish().err().unwrap_or_default(),
    })
}

/// What the invite form would say of each pre-filled value; a mobile without `+` is read in
/// `region` (the mapping's, else the served tenancy's), as the form reads it.
fn check_prefill(prefill: &Prefill, region: Option<PhoneRegion>, problems: &mut FieldErrors) {
    let mut check =
        |field: &str, value: &Option<String>, parse: &dyn Fn(&str) -> Result<(), String>| {
            let path = format!("prefill.{field}");
            match value {
                Some(value) => {
                    if let Err(reason) = parse(value) {
                        problems.push(path, reason);
                    }
                }
                None if matches!(field, "first_name" | "last_name" | "email") => {
                    problems.push(path, "the record has no value for this required field")
                }
                None => {}
            }
        };
    check("first_name", &prefill.first_name, &|v| {
        PersonName::parse(v).map(|_| ())
    });
    check("last_name", &prefill.last_name, &|v| {
        PersonName::parse(v).map(|_| ())
    });
    check("email", &prefill.email, &|v| Email::parse(v).map(|_| ()));
    check("mobile", &prefill.mobile, &|v| {
        E164Phone::parse_in_region(v, region).map(|_| ())
    });
    check("title", &prefill.title, &|v| Title::parse(v).map(|_| ()));
}

/// One saved change of a link's mapping, as its trail holds it.
#[derive(Debug, Clone)]
pub struct MappingChange {
    pub at: OffsetDateTime,
    /// Who made it, as clients' histories name actors.
    pub actor: String,
    pub before: Option<FieldMapping>,
    pub after: Option<FieldMapping>,
}

/// How many of a link's latest mapping changes the editor lists.
pub const HISTORY: i64 = 5;

/// The link's latest mapping changes, newest first.
pub async fn history(store: &Store, link: Uuid) -> Result<Vec<MappingChange>> {
    let found = store.mapping_changes(link, HISTORY).await?;
    Ok(found
        .into_iter()
        .map(|event| {
            let change: Value = serde_json::from_str(&event.changes).unwrap_or_default();
            let side =
                |which: &str| serde_json::from_value(change["field_mapping"][which].clone()).ok();
            MappingChange {
                at: event.at,
                actor: event.actor.label,
                before: side("before"),
                after: side("after"),
            }
        })
        .collect())
}

/// Puts back the mapping the link had before its last saved change, through the same update
/// (and so the same audit entry, before and after) as any change of it; `managed_by` as for
/// `org_links::update`. A link whose trail holds no earlier mapping is refused.
pub async fn restore_previous(
    store: &Store,
    id: Uuid,
    managed_by: Option<Uuid>,
    actor: &Actor,
) -> Result<OrgLink> {
    store.org_link(id, managed_by).await?;
    let previous = history(store, id)
        .await?
        .into_iter()
        .next()
        .and_then(|change| change.before)
        .ok_or_else(|| {
            Error::invalid(
                "field_mapping",
                "the audit trail holds no earlier mapping of this link to restore",
            )
        })?;
    let update = OrgLinkUpdate {
        field_mapping: Some(previous),
        ..OrgLinkUpdate::default()
    };
    org_links::update(store, id, managed_by, update, None, None, actor).await
}

/// The describes a whole mapping is checked against: Contact's, and Account's when the org
/// has Person Accounts (an org without them has no person fields to map).
pub async fn org_fields(
    crm: &Crm,
    link: &OrgLink,
) -> LinkResult<(SObjectDescribe, Option<SObjectDescribe>)> {
    let contact = crm.describe(link, RecordKind::Contact).await?;
    let account = crm.describe(link, RecordKind::PersonAccount).await?;
    let persons = account.field("IsPersonAccount").is_some();
    Ok((contact, persons.then_some(account)))
}

/// Saves `mapping` as the link's once it parses and fits the org's fields (see
/// `FieldMapping::check_against`), through `org_links::update`, which records it with its
/// before and after in the audit trail; `managed_by` as there.
pub async fn save(
    crm: &Crm,
    link: &OrgLink,
    managed_by: Option<Uuid>,
    mapping: FieldMapping,
    actor: &Actor,
) -> Result<OrgLink, MappingError> {
    let mut errors = FieldErrors::new();
    mapping.validate(&mut errors, "field_mapping");
    let (contact, account) = org_fields(crm, link)
        .await
        .map_err(MappingError::Describe)?;
    mapping.check_against(
        Some(&contact),
        account.as_ref(),
        &mut errors,
        "field_mapping",
    );
    errors.finish().map_err(MappingError::Invalid)?;
    let update = OrgLinkUpdate {
        field_mapping: Some(mapping),
        ..OrgLinkUpdate::default()
    };
    let saved =
        org_links::update(crm.store(), link.id, managed_by, update, None, None, actor).await?;
    Ok(saved)
}
