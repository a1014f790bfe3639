//! Reading a client's Salesforce record through the link's field mapping: a Contact, or a
//! Person Account (`PersonEmail`, `PersonMobilePhone`, custom fields as `__pc`).

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{Crm, LinkResult};
use crate::domain::org_link::{FieldMapping, InviteField, OrgLink, RecordFields};

/// The kinds of record an invitation starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum RecordKind {
    Contact,
    PersonAccount,
}

impl RecordKind {
    /// The sObject the REST API knows it by.
    pub fn sobject(self) -> &'static str {
        match self {
            Self::Contact => "Contact",
            Self::PersonAccount => "Account",
        }
    }
}

/// The invite fields as the record holds them, before any parsing: the form shows them and
/// says what is wrong with each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Prefill {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub title: Option<String>,
    /// Fields the form shows but does not let staff change.
    pub read_only: Vec<InviteField>,
}

fn mapped(mapping: &FieldMapping, kind: RecordKind) -> &RecordFields {
    match kind {
        RecordKind::Contact => &mapping.contact,
        RecordKind::PersonAccount => &mapping.person_account,
    }
}

/// The fields to ask Salesforce for.
pub fn fields_to_read(mapping: &FieldMapping, kind: RecordKind) -> Vec<String> {
    let fields = mapped(mapping, kind);
    let mut names = vec![
        fields.first_name.clone(),
        fields.last_name.clone(),
        fields.email.clone(),
    ];
    names.extend(fields.mobile.iter().cloned());
    names.extend(fields.title.iter().cloned());
    if kind == RecordKind::PersonAccount {
        names.push("IsPersonAccount".into());
    }
    names.dedup();
    names
}

fn text(record: &Map<String, Value>, field: Option<&String>) -> Option<String> {
    let value = record.get(field?)?.as_str()?.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// Maps a read record onto the invite fields.
pub fn prefill(mapping: &FieldMapping, kind: RecordKind, record: &Map<String, Value>) -> Prefill {
    let fields = mapped(mapping, kind);
    Prefill {
        first_name: text(record, Some(&fields.first_name)),
        last_name: text(record, Some(&fields.last_name)),
        email: text(record, Some(&fields.email)),
        mobile: text(record, fields.mobile.as_ref()),
        title: text(record, fields.title.as_ref()),
        read_only: mapping.read_only.clone(),
    }
}

/// Why a record cannot start an invitation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Account is a business account, not a Person Account")]
pub struct NotAPerson;

impl Crm {
    /// Reads the record with the mapped fields and maps it onto the invite fields.
    pub async fn read_prefill(
        &self,
        link: &OrgLink,
        kind: RecordKind,
        record_id: &str,
    ) -> LinkResult<Prefill> {
        let fields = fields_to_read(&link.field_mapping, kind);
        let reply = self
            .with_session(link, |session| {
                let fields = &fields;
                async move {
                    self.salesforce()
                        .get_record(&session, kind.sobject(), record_id, fields)
                        .await
                }
            })
            .await?;
        if kind == RecordKind::PersonAccount
            && reply.value.get("IsPersonAccount") == Some(&Value::Bool(false))
        {
            return Err(super::error::CrmError::Permanent {
                code: "NOT_A_PERSON_ACCOUNT".into(),
                message: NotAPerson.to_string(),
                fields: vec![],
                http_status: None,
            }
            .into());
        }
        Ok(prefill(&link.field_mapping, kind, &reply.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_accounts_read_their_person_fields() {
        let fields = fields_to_read(&FieldMapping::default(), RecordKind::PersonAccount);
        assert_eq!(
            fields,
            [
                "FirstName",
                "LastName",
                "PersonEmail",
                "PersonMobilePhone",
                "PersonTitle",
                "IsPersonAccount"
            ]
        );
    }

    #[test]
    fn blank_and_absent_fields_prefill_nothing() {
        let record: Map<String, Value> = serde_json::from_str(
            r#"{"FirstName":"Jane","LastName":"Smith","Email":"  ","MobilePhone":null}"#,
        )
        .unwrap();
        let filled = prefill(&FieldMapping::default(), RecordKind::Contact, &record);
        assert_eq!(filled.first_name.as_deref(), Some("Jane"));
        assert_eq!(filled.email, None);
        assert_eq!(filled.mobile, None);
        assert_eq!(filled.title, None);
    }
}
