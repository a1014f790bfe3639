//! A change of a Salesforce record as the inbox holds it, and what it does to the clients linked
//! to the record: their details follow it, or a deleted or merged record is unlinked.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::values::PhoneRegion;

/// A record change as it arrives, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordChange {
    /// The notification id, or the webhook id and the record's place in it.
    pub delivery_id: String,
    pub sobject: String,
    /// The record id in its 18-character form.
    pub record_id: String,
    /// The record's modification time in milliseconds.
    pub modstamp: i64,
    pub deleted: bool,
    pub master_record_id: Option<String>,
    pub fields: Map<String, Value>,
    pub changed_fields: Option<Vec<String>>,
    /// The Salesforce user who made the change (18 characters).
    pub changed_by: Option<String>,
}

/// A stored change a worker has claimed to apply: its inbox item, its link and the attempts
/// made so far.
#[derive(Debug, Clone)]
pub struct ClaimedChange {
    pub id: Uuid,
    pub org_link_id: Uuid,
    pub change: RecordChange,
    pub attempts: i64,
}

/// A field the record carried: absent (unchanged), empty, or a value.
pub type RecordValue = Option<Option<String>>;

/// A linked client's details as the record now holds them, through the link's mapping.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordDetails {
    /// Each mapped field: (the record's field API name, its value).
    pub first_name: (String, RecordValue),
    pub last_name: (String, RecordValue),
    pub email: (String, RecordValue),
    pub mobile: (String, RecordValue),
    pub title: (String, RecordValue),
    /// The mapping's phone region, which overrides the tenancy's for a national number.
    pub phone_region: Option<PhoneRegion>,
}

/// What a change does.
#[derive(Debug, Clone)]
pub enum RecordEffect {
    /// The linked clients' details follow the record.
    Update(Box<RecordDetails>),
    /// The record was deleted or merged: its clients are unlinked (never deleted).
    Unlink,
}
