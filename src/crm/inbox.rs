//! Record changes from Salesforce, from either intake (Outbound Messages or JSON webhooks),
//! turned into inbox rows; and what a stored change should do: nothing (an echo of our own
//! write-back), unlink (a deleted or merged record), follow the record, or auto-invite.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::outbound::Notification;
use super::webhook::WebhookRecord;
use crate::clock::to_millis;
use crate::domain::org_link::{AutoInvite, FieldMapping, OrgLink, is_field_name};
use crate::domain::record_change::{
    ClaimedChange, RecordChange, RecordDetails, RecordEffect, RecordValue,
};
use crate::domain::values::SalesforceId;

/// Parses a Salesforce date-time (`2017-09-01T16:27:19.000Z`) into milliseconds.
pub fn millis(raw: &str) -> Result<i64, String> {
    OffsetDateTime::parse(raw.trim(), &Rfc3339)
        .map(to_millis)
        .map_err(|_| "must be an ISO 8601 date-time such as 2017-09-01T16:27:19.000Z".into())
}

fn text(value: Option<&Value>) -> Option<&str> {
    value.and_then(Value::as_str)
}

/// A notification of an Outbound Message as an inbox row. The reason names the field.
pub fn from_notification(n: &Notification) -> Result<RecordChange, String> {
    let valid_id =
        !n.id.is_empty() && n.id.len() <= 18 && n.id.bytes().all(|b| b.is_ascii_alphanumeric());
    if !valid_id {
        return Err("Id is not a notification id".into());
    }
    if !is_field_name(&n.sobject) {
        return Err("sObject type is not an sObject API name".into());
    }
    let record_id = text(n.fields.get("Id"))
        .ok_or("sObject has no Id field")
        .and_then(|raw| {
            SalesforceId::parse(raw).map_err(|_| "sObject Id is not a Salesforce id")
        })?;
    let modstamp = match (
        text(n.fields.get("LastModifiedDate")),
        text(n.fields.get("SystemModstamp")),
    ) {
        (Some(raw), _) | (None, Some(raw)) => {
            millis(raw).map_err(|reason| format!("sObject LastModifiedDate {reason}"))?
        }
        (None, None) => {
            return Err(
                "sObject carries neither LastModifiedDate nor SystemModstamp; add one to the outbound message's fields"
                    .into(),
            );
        }
    };
    let changed_by = text(n.fields.get("LastModifiedById"))
        .map(|raw| {
            SalesforceId::parse(raw)
                .map(|id| id.as_str().to_string())
                .map_err(|_| "sObject LastModifiedById is not a Salesforce id".to_string())
        })
        .transpose()?;
    Ok(RecordChange {
        delivery_id: n.id.clone(),
        sobject: n.sobject.clone(),
        record_id: record_id.as_str().to_string(),
        modstamp,
        deleted: false,
        master_record_id: None,
        fields: n.fields.clone(),
        changed_fields: None,
        changed_by,
    })
}

/// A record of a webhook as an inbox row; `Err` holds the field (relative to the record) and
/// the reason.
pub fn from_webhook(
    webhook_id: &str,
    index: usize,
    r: &WebhookRecord,
) -> Result<RecordChange, (&'static str, String)> {
    let sobject = r.sobject.trim();
    if !is_field_name(sobject) {
        return Err(("sobject", "is not an sObject API name".into()));
    }
    let record_id = SalesforceId::parse(&r.id).map_err(|reason| ("Id", reason))?;
    let modstamp = millis(&r.last_modified_date).map_err(|reason| ("LastModifiedDate", reason))?;
    let changed_by = r
        .last_modified_by_id
        .as_deref()
        .map(SalesforceId::parse)
        .transpose()
        .map_err(|reason| ("LastModifiedById", reason))?;
    let master = r
        .master_record_id
        .as_deref()
        .map(SalesforceId::parse)
        .transpose()
        .map_err(|reason| ("MasterRecordId", reason))?;
    if master.is_some() && !r.deleted {
        return Err((
            "MasterRecordId",
            "is only sent with \"deleted\": true".into(),
        ));
    }
    if r.fields.len() > 500 {
        return Err(("fields", "must hold at most 500 fields".into()));
    }
    if let Some(changed) = &r.changed_fields
        && changed.len() > 500
    {
        return Err(("changed_fields", "must list at most 500 fields".into()));
    }
    Ok(RecordChange {
        delivery_id: format!("{webhook_id}#{index}"),
        sobject: sobject.to_string(),
        record_id: record_id.as_str().to_string(),
        modstamp,
        deleted: r.deleted,
        master_record_id: master.map(|m| m.as_str().to_string()),
        fields: r.fields.clone(),
        changed_fields: r.changed_fields.clone(),
        changed_by: changed_by.map(|id| id.as_str().to_string()),
    })
}

/// What a stored change should do.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Nothing, and why.
    Skip(String),
    Apply(RecordEffect),
    /// No client is linked yet and the auto-invite checkbox is on: invite, then follow.
    Invite(Box<(AutoInvite, RecordDetails)>),
}

fn is_on(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(on)) => *on,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true") || s == "1",
        _ => false,
    }
}

/// Fields every change of a record carries, which never make it a change of its own.
const SYSTEM_FIELDS: [&str; 5] = [
    "Id",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "IsPersonAccount",
];

/// Decides what a change does, before any database work. `linked` says whether a client is
/// linked to the record already.
pub fn decide(link: &OrgLink, claimed: &ClaimedChange, linked: bool) -> Decision {
    let c = &claimed.change;
    // Echo suppression: our own write-back (made as the integration user, or touching only
    // the write-back fields) comes back as a change and must start no work.
    if let (Some(by), Some(ours)) = (&c.changed_by, &link.integration_user_id)
        && by == ours
    {
        return Decision::Skip("made by the link's integration user (our own write-back)".into());
    }
    let wb = &link.field_mapping.write_back;
    let ours: Vec<String> = [
        Some(&wb.status),
        wb.client_id.as_ref(),
        wb.invited_at.as_ref(),
        wb.tenancy.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(|f| FieldMapping::write_back_field(&c.sobject, f))
    .collect();
    if let Some(changed) = &c.changed_fields
        && changed
            .iter()
            .all(|f| ours.contains(f) || SYSTEM_FIELDS.contains(&f.as_str()))
    {
        return Decision::Skip("touched only Liaison's write-back fields".into());
    }
    if c.deleted {
        return Decision::Apply(RecordEffect::Unlink);
    }
    let mapped = match c.sobject.as_str() {
        "Contact" => &link.field_mapping.contact,
        "Account" => &link.field_mapping.person_account,
        other => return Decision::Skip(format!("{other} records are not followed")),
    };
    let value = |name: &Option<String>| -> (String, RecordValue) {
        let Some(name) = name else {
            return (String::new(), None);
        };
        let v = c.fields.get(name).map(|v| match v {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        });
        (name.clone(), v)
    };
    let details = RecordDetails {
        first_name: value(&Some(mapped.first_name.clone())),
        last_name: value(&Some(mapped.last_name.clone())),
        email: value(&Some(mapped.email.clone())),
        mobile: value(&mapped.mobile),
        title: value(&mapped.title),
        phone_region: link.field_mapping.phone_region(),
    };
    if !linked
        && let Some(auto) = &link.auto_invite
        && is_on(
            c.fields
                .get(&FieldMapping::write_back_field(&c.sobject, &auto.field)),
        )
    {
        return Decision::Invite(Box::new((auto.clone(), details)));
    }
    Decision::Apply(RecordEffect::Update(Box::new(details)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_times_parse_to_milliseconds() {
        assert_eq!(millis("1970-01-01T00:00:01.500Z"), Ok(1500));
        assert_eq!(millis("2017-09-01T16:27:19.000Z"), Ok(1_504_283_239_000));
        assert!(millis("yesterday").is_err());
    }

    #[test]
    fn checkbox_values_read_as_on_only_when_true() {
        assert!(is_on(Some(&Value::Bool(true))));
        assert!(is_on(Some(&Value::String("true".into()))));
        assert!(!is_on(Some(&Value::String("false".into()))));
        assert!(!is_on(Some(&Value::Null)));
        assert!(!is_on(None));
    }
}
