//! The mapping editor's pages as view models: the posted form and the mapping it stands for,
//! each invite field's row with the org's fields to choose from and its problem, the dry run's
//! findings, and the link's recent mapping changes.

use askama::Template;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use time::macros::format_description;

use super::Acted;
use crate::app::mapping::{DryRun, MappingChange};
use crate::crm::LinkResult;
use crate::crm::describe::FoundRecord;
use crate::crm::record::RecordKind;
use crate::domain::FieldError;
use crate::domain::org_link::{
    FieldMapping, InviteField, OrgLink, RecordFields, SObjectDescribe, WriteBackFields,
};
use crate::http::console::view::Chrome;
use crate::http::error::ApiError;

/// The editor's form as posted: every field's chosen API name (blank for "not mapped").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(in crate::http::console) struct MappingForm {
    pub(in crate::http::console) csrf: String,
    /// `save`, `search` or `dry_run`.
    pub(in crate::http::console) action: String,
    contact_first_name: String,
    contact_last_name: String,
    contact_email: String,
    contact_mobile: String,
    contact_title: String,
    person_account_first_name: String,
    person_account_last_name: String,
    person_account_email: String,
    person_account_mobile: String,
    person_account_title: String,
    write_back_status: String,
    write_back_client_id: String,
    write_back_invited_at: String,
    write_back_tenancy: String,
    read_only: Vec<String>,
    phone_region: String,
    /// `contact` or `person_account`.
    record_kind: String,
    record_id: String,
    /// A record picked from a search's results, which wins over `record_id`.
    picked: String,
    pub(in crate::http::console) q: String,
}

fn blank_is_none(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_string())
}

fn invite_field_code(field: InviteField) -> &'static str {
    match field {
        InviteField::FirstName => "first_name",
        InviteField::LastName => "last_name",
        InviteField::Email => "email",
        InviteField::Mobile => "mobile",
        InviteField::Title => "title",
    }
}

const INVITE_FIELDS: [(InviteField, &str); 5] = [
    (InviteField::FirstName, "First name"),
    (InviteField::LastName, "Last name"),
    (InviteField::Email, "E-mail"),
    (InviteField::Mobile, "Mobile"),
    (InviteField::Title, "Title"),
];

impl MappingForm {
    /// The form showing `mapping`.
    pub(in crate::http::console) fn of(mapping: &FieldMapping) -> Self {
        let name = |v: &Option<String>| v.clone().unwrap_or_default();
        let (c, p, w) = (
            &mapping.contact,
            &mapping.person_account,
            &mapping.write_back,
        );
        Self {
            contact_first_name: c.first_name.clone(),
            contact_last_name: c.last_name.clone(),
            contact_email: c.email.clone(),
            contact_mobile: name(&c.mobile),
            contact_title: name(&c.title),
            person_account_first_name: p.first_name.clone(),
            person_account_last_name: p.last_name.clone(),
            person_account_email: p.email.clone(),
            person_account_mobile: name(&p.mobile),
            person_account_title: name(&p.title),
            write_back_status: w.status.clone(),
            write_back_client_id: name(&w.client_id),
            write_back_invited_at: name(&w.invited_at),
            write_back_tenancy: name(&w.tenancy),
            read_only: mapping
                .read_only
                .iter()
                .map(|f| invite_field_code(*f).to_string())
                .collect(),
            phone_region: name(&mapping.phone_region),
            ..Self::default()
        }
    }

    /// The mapping the form stands for; what does not parse is left for its checks to name.
    pub(in crate::http::console) fn mapping(&self) -> FieldMapping {
        let fields = |f: [&String; 5]| RecordFields {
            first_name: f[0].trim().to_string(),
            last_name: f[1].trim().to_string(),
            email: f[2].trim().to_string(),
            mobile: blank_is_none(f[3]),
            title: blank_is_none(f[4]),
        };
        FieldMapping {
            contact: fields([
                &self.contact_first_name,
                &self.contact_last_name,
                &self.contact_email,
                &self.contact_mobile,
                &self.contact_title,
            ]),
            person_account: fields([
                &self.person_account_first_name,
                &self.person_account_last_name,
                &self.person_account_email,
                &self.person_account_mobile,
                &self.person_account_title,
            ]),
            read_only: INVITE_FIELDS
                .iter()
                .map(|(field, _)| *field)
                .filter(|f| self.read_only.iter().any(|r| r == invite_field_code(*f)))
                .collect(),
            write_back: WriteBackFields {
                status: self.write_back_status.trim().to_string(),
                client_id: blank_is_none(&self.write_back_client_id),
                invited_at: blank_is_none(&self.write_back_invited_at),
                tenancy: blank_is_none(&self.write_back_tenancy),
            },
            phone_region: blank_is_none(&self.phone_region),
        }
    }

    pub(in crate::http::console) fn kind(&self) -> RecordKind {
        match self.record_kind.as_str() {
            "person_account" => RecordKind::PersonAccount,
            _ => RecordKind::Contact,
        }
    }

    /// The record to dry-run: one picked from a search, else the id typed.
    pub(in crate::http::console) fn record(&self) -> &str {
        if self.picked.trim().is_empty() {
            self.record_id.trim()
        } else {
            self.picked.trim()
        }
    }
}

/// One choice of a select.
pub(in crate::http::console) struct OptionView {
    pub(in crate::http::console) value: String,
    pub(in crate::http::console) text: String,
    pub(in crate::http::console) selected: bool,
}

/// One invite (or write-back) field and the record field chosen for it.
pub(in crate::http::console) struct FieldRow {
    /// The form's name for it, also the element's id.
    pub(in crate::http::console) name: String,
    pub(in crate::http::console) label: &'static str,
    pub(in crate::http::console) required: bool,
    pub(in crate::http::console) options: Vec<OptionView>,
    pub(in crate::http::console) error: Option<String>,
}

/// A card of rows: Contact, Person Account or the write-back.
pub(in crate::http::console) struct SectionView {
    pub(in crate::http::console) id: &'static str,
    pub(in crate::http::console) title: &'static str,
    pub(in crate::http::console) intro: &'static str,
    pub(in crate::http::console) rows: Vec<FieldRow>,
}

/// A read-only flag's checkbox.
pub(in crate::http::console) struct FlagView {
    pub(in crate::http::console) value: &'static str,
    pub(in crate::http::console) label: &'static str,
    pub(in crate::http::console) checked: bool,
}

/// One line of what a dry run pre-fills.
pub(in crate::http::console) struct PrefillRow {
    pub(in crate::http::console) label: &'static str,
    pub(in crate::http::console) value: String,
    pub(in crate::http::console) read_only: bool,
}

pub(in crate::http::console) struct DryRunView {
    pub(in crate::http::console) prefill: Vec<PrefillRow>,
    /// The write-back record as the JSON Salesforce would be sent.
    pub(in crate::http::console) write_back: String,
    pub(in crate::http::console) problems: Vec<FieldError>,
}

/// One saved change of the mapping: when, by whom, and each field that changed.
pub(in crate::http::console) struct ChangeView {
    pub(in crate::http::console) at: String,
    pub(in crate::http::console) actor: String,
    pub(in crate::http::console) fields: Vec<String>,
}

/// The editor as a page shows it.
pub(in crate::http::console) struct EditorView {
    pub(in crate::http::console) status: StatusCode,
    pub(in crate::http::console) link_id: String,
    pub(in crate::http::console) link_name: String,
    pub(in crate::http::console) notice: Option<&'static str>,
    /// Why the org's fields could not be read (the selects then hold the saved names only).
    pub(in crate::http::console) describe_error: Option<String>,
    pub(in crate::http::console) form: MappingForm,
    pub(in crate::http::console) sections: Vec<SectionView>,
    pub(in crate::http::console) flags: Vec<FlagView>,
    pub(in crate::http::console) errors: Vec<FieldError>,
    pub(in crate::http::console) region_error: Option<String>,
    pub(in crate::http::console) found: Option<Result<Vec<FoundRecord>, String>>,
    pub(in crate::http::console) ran: Option<Result<DryRunView, String>>,
    pub(in crate::http::console) history: Vec<ChangeView>,
    pub(in crate::http::console) can_undo: bool,
    fields: Option<(SObjectDescribe, Option<SObjectDescribe>)>,
}

/// Fields of `describe` offered for an invite field: text-like types, with the current
/// choice kept even when the org has no such field.
fn options(
    describe: Option<&SObjectDescribe>,
    chosen: &str,
    optional: bool,
    offered: &dyn Fn(&crate::domain::org_link::DescribedField) -> bool,
) -> Vec<OptionView> {
    let mut found = Vec::new();
    if optional {
        found.push(OptionView {
            value: String::new(),
            text: "— not mapped —".into(),
            selected: chosen.is_empty(),
        });
    }
    let mut known = false;
    for field in describe
        .into_iter()
        .flat_map(|d| d.fields.iter())
        .filter(|f| offered(f))
    {
        let selected = field.name == chosen;
        known |= selected;
        found.push(OptionView {
            value: field.name.clone(),
            text: format!("{} ({} · {})", field.label, field.name, field.kind),
            selected,
        });
    }
    if !known && !chosen.is_empty() {
        found.push(OptionView {
            value: chosen.to_string(),
            text: format!("{chosen} (not offered by the org)"),
            selected: true,
        });
    }
    found
}

fn text_like(field: &crate::domain::org_link::DescribedField) -> bool {
    matches!(
        field.kind.as_str(),
        "string" | "email" | "phone" | "textarea" | "picklist"
    )
}

fn custom(field: &crate::domain::org_link::DescribedField) -> bool {
    field.name.ends_with("__c")
}

/// A field's API name chosen for each of `chosen` (its key, label, choice and whether it is
/// required), as rows of `group` offering `describe`'s fields that `offered` admits, each with
/// its problem (`error` of its path).
fn field_rows(
    group: &str,
    chosen: &[(&str, &'static str, Option<&String>, bool)],
    describe: Option<&SObjectDescribe>,
    offered: &dyn Fn(&crate::domain::org_link::DescribedField) -> bool,
    error: &dyn Fn(&str) -> Option<String>,
) -> Vec<FieldRow> {
    chosen
        .iter()
        .map(|(field, label, value, required)| FieldRow {
            name: format!("{group}_{field}"),
            label,
            required: *required,
            options: options(
                describe,
                value.map_or("", String::as_str),
                !required,
                offered,
            ),
            error: error(&format!("field_mapping.{group}.{field}")),
        })
        .collect()
}

impl EditorView {
    pub(in crate::http::console) fn of(
        link: &OrgLink,
        form: MappingForm,
        fields: LinkResult<(SObjectDescribe, Option<SObjectDescribe>)>,
        history: Vec<MappingChange>,
    ) -> Self {
        let (fields, describe_error) = match fields {
            Ok(found) => (Some(found), None),
            Err(error) => (None, Some(ApiError::from(error).problem().detail)),
        };
        let when = format_description!("[day] [month repr:short] [year], [hour]:[minute] UTC");
        let can_undo = history.first().is_some_and(|c| c.before.is_some());
        let history = history
            .into_iter()
            .map(|change| ChangeView {
                at: change.at.format(&when).unwrap_or_default(),
                actor: change.actor,
                fields: changed_fields(change.before.as_ref(), change.after.as_ref()),
            })
            .collect();
        let mut view = Self {
            status: StatusCode::OK,
            link_id: link.id.to_string(),
            link_name: link.name.clone(),
            notice: None,
            describe_error,
            form,
            sections: vec![],
            flags: vec![],
            errors: vec![],
            region_error: None,
            found: None,
            ran: None,
            history,
            can_undo,
            fields,
        };
        view.lay_out();
        view
    }

    /// The rows and flags for the form as it stands and the errors found.
    fn lay_out(&mut self) {
        let mapping = self.form.mapping();
        let contact = self.fields.as_ref().map(|(c, _)| c);
        let account = self.fields.as_ref().and_then(|(_, a)| a.as_ref());
        let error = |path: &str| {
            let found: Vec<&str> = self
                .errors
                .iter()
                .filter(|e| e.field == path)
                .map(|e| e.reason.as_str())
                .collect();
            (!found.is_empty()).then(|| found.join("; "))
        };
        let record_rows = |kind: &str, fields: &RecordFields, describe| {
            let chosen = [
                ("first_name", "First name", Some(&fields.first_name), true),
                ("last_name", "Last name", Some(&fields.last_name), true),
                ("email", "E-mail", Some(&fields.email), true),
                ("mobile", "Mobile", fields.mobile.as_ref(), false),
                ("title", "Title", fields.title.as_ref(), false),
            ];
            field_rows(kind, &chosen, describe, &text_like, &error)
        };
        let wb = &mapping.write_back;
        let writes = [
            ("status", "Status (picklist)", Some(&wb.status), true),
            ("client_id", "Client id", wb.client_id.as_ref(), false),
            ("invited_at", "Invited at", wb.invited_at.as_ref(), false),
            ("tenancy", "Tenancy", wb.tenancy.as_ref(), false),
        ];
        let write_rows = field_rows("write_back", &writes, contact, &custom, &error);
        self.sections = vec![
            SectionView {
                id: "contact-fields",
                title: "Contact",
                intro: "The Contact field each invite field is pre-filled from.",
                rows: record_rows("contact", &mapping.contact, contact),
            },
            SectionView {
                id: "person-account-fields",
                title: "Person Account",
                intro: "The Account field each invite field is pre-filled from: the person fields, and the Contact's custom fields as __pc.",
                rows: record_rows("person_account", &mapping.person_account, account),
            },
            SectionView {
                id: "write-back-fields",
                title: "Status write-back",
                intro: "The Contact's custom fields that receive the client's status (a Person Account's as __pc).",
                rows: write_rows,
            },
        ];
        self.flags = INVITE_FIELDS
            .iter()
            .map(|(field, label)| FlagView {
                value: invite_field_code(*field),
                label,
                checked: mapping.read_only.contains(field),
            })
            .collect();
        self.region_error = error("field_mapping.phone_region");
    }

    /// The notice a redirect after a change asked for.
    pub(in crate::http::console) fn with_notice(mut self, done: Option<&str>) -> Self {
        self.notice = match done {
            Some("saved") => {
                Some("The mapping is saved. Its earlier version is kept in the audit trail.")
            }
            Some("restored") => Some("The previous mapping is restored."),
            _ => None,
        };
        self
    }

    /// The editor after an action: its findings, or the save's problems beside their fields.
    pub(in crate::http::console) fn with(mut self, acted: Acted) -> Self {
        match acted {
            Acted::Saved => {}
            Acted::Refused(errors) => {
                self.status = StatusCode::UNPROCESSABLE_ENTITY;
                self.errors = errors;
                self.lay_out();
            }
            Acted::Found(found) => self.found = Some(found),
            Acted::Ran(ran) => {
                let ran = ran.map(|run| self.dry_run_view(run));
                self.ran = Some(ran);
            }
        }
        self
    }

    fn dry_run_view(&mut self, run: DryRun) -> DryRunView {
        let p = &run.prefill;
        let read_only = |f: InviteField| p.read_only.contains(&f);
        let values = [
            (InviteField::FirstName, &p.first_name),
            (InviteField::LastName, &p.last_name),
            (InviteField::Email, &p.email),
            (InviteField::Mobile, &p.mobile),
            (InviteField::Title, &p.title),
        ];
        let prefill = values
            .into_iter()
            .zip(INVITE_FIELDS)
            .map(|((field, value), (_, label))| PrefillRow {
                label,
                value: value.clone().unwrap_or_else(|| "—".into()),
                read_only: read_only(field),
            })
            .collect();
        self.errors = run
            .problems
            .iter()
            .filter(|e| e.field.starts_with("field_mapping."))
            .cloned()
            .collect();
        self.lay_out();
        DryRunView {
            prefill,
            write_back: serde_json::to_string_pretty(&run.write_back).unwrap_or_default(),
            problems: run.problems,
        }
    }

    pub(in crate::http::console) fn page(self, chrome: Chrome) -> EditorPage {
        EditorPage {
            chrome,
            title: format!("Field mapping · {}", self.link_name),
            view: self,
        }
    }
}

/// The fields that differ between two mappings, by their path (`contact.email`, …).
fn changed_fields(before: Option<&FieldMapping>, after: Option<&FieldMapping>) -> Vec<String> {
    let flat = |mapping: Option<&FieldMapping>| {
        let mut out = Vec::new();
        if let Some(mapping) = mapping {
            flatten(
                "",
                &serde_json::to_value(mapping).unwrap_or_default(),
                &mut out,
            );
        }
        out
    };
    let (before, after) = (flat(before), flat(after));
    let value = |list: &[(String, String)], path: &str| {
        list.iter()
            .find(|(p, _)| p == path)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "—".into())
    };
    let mut paths: Vec<&String> = before.iter().chain(after.iter()).map(|(p, _)| p).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| value(&before, p) != value(&after, p))
        .map(|p| format!("{p}: {} → {}", value(&before, p), value(&after, p)))
        .collect()
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, inner, out);
            }
        }
        Value::Null => out.push((prefix.to_string(), "—".into())),
        Value::String(text) => out.push((prefix.to_string(), text.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[derive(Template)]
#[template(path = "console/mapping.html")]
pub(in crate::http::console) struct EditorPage {
    chrome: Chrome,
    title: String,
    view: EditorView,
}

impl EditorPage {
    pub(in crate::http::console) fn status(&self) -> StatusCode {
        self.view.status
    }
}

/// The question before the last mapping change is undone.
pub(in crate::http::console) struct UndoView {
    link_id: String,
    link_name: String,
    /// The last change, when it has a mapping before it to restore.
    last: Option<ChangeView>,
}

impl UndoView {
    pub(in crate::http::console) fn of(link: &OrgLink, history: Vec<MappingChange>) -> Self {
        let when = format_description!("[day] [month repr:short] [year], [hour]:[minute] UTC");
        let last = history
            .into_iter()
            .next()
            .filter(|c| c.before.is_some())
            .map(|change| ChangeView {
                at: change.at.format(&when).unwrap_or_default(),
                actor: change.actor,
                // Undoing shows what goes back: the change read backwards.
                fields: changed_fields(change.after.as_ref(), change.before.as_ref()),
            });
        Self {
            link_id: link.id.to_string(),
            link_name: link.name.clone(),
            last,
        }
    }

    pub(in crate::http::console) fn page(self, chrome: Chrome) -> UndoPage {
        UndoPage {
            chrome,
            title: format!("Undo the last mapping change · {}", self.link_name),
            view: self,
        }
    }
}

#[derive(Template)]
#[template(path = "console/mapping_undo.html")]
pub(in crate::http::console) struct UndoPage {
    chrome: Chrome,
    title: String,
    view: UndoView,
}
