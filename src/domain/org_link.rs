//! What an org link says about records: its field mapping (which record fields pre-fill which
//! invite fields, for Contacts and Person Accounts, which of them are read-only in the form, and
//! which fields receive the status write-back) and its auto-invite, with the rules a saved
//! value must follow; how it connects and matches staff, and the states of a link, of its
//! write-backs and of its inbox items. The link itself as admins see it, when it may next call
//! its org and how much of the org's API limit it has used, and its secrets as they are kept,
//! sealed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldErrors;
use super::client_status::ClientStatus;
use super::invite::{MAX_GROUPS, MAX_NEW_GROUP_MEMBERS};
use super::values::{E164Phone, PhoneRegion};

/// Most records Salesforce takes in one sObject Collections call, so the most a write-back
/// batch may hold.
pub const COLLECTION_LIMIT: usize = 200;

/// Record fields for each invite field, for one kind of record: each a field's API name, as
/// `is_field_name` reads it (the schema's pattern says the same).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordFields {
    #[schema(
        pattern = r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*(__c|__pc)?$",
        max_length = 80
    )]
    pub first_name: String,
    #[schema(
        pattern = r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*(__c|__pc)?$",
        max_length = 80
    )]
    pub last_name: String,
    #[schema(
        pattern = r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*(__c|__pc)?$",
        max_length = 80
    )]
    pub email: String,
    #[schema(
        pattern = r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*(__c|__pc)?$",
        max_length = 80
    )]
    pub mobile: Option<String>,
    #[schema(
        pattern = r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*(__c|__pc)?$",
        max_length = 80
    )]
    pub title: Option<String>,
}

/// Invite fields the form shows but does not let staff change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InviteField {
    FirstName,
    LastName,
    Email,
    Mobile,
    Title,
}

/// Custom fields (on Contact; Salesforce shows them on a Person Account with `__pc`) that
/// receive the write-back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteBackFields {
    /// A picklist with the values draft, invited, expired, active, declined, revoked.
    #[schema(
        pattern = r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__c$",
        max_length = 80
    )]
    pub status: String,
    #[schema(
        pattern = r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__c$",
        max_length = 80
    )]
    pub client_id: Option<String>,
    #[schema(
        pattern = r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__c$",
        max_length = 80
    )]
    pub invited_at: Option<String>,
    #[schema(
        pattern = r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__c$",
        max_length = 80
    )]
    pub tenancy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldMapping {
    pub contact: RecordFields,
    pub person_account: RecordFields,
    #[serde(default)]
    pub read_only: Vec<InviteField>,
    pub write_back: WriteBackFields,
    /// The country (ISO 3166 code, e.g. `GB`) whose numbering a record's mobile number without
    /// a `+` is read in, in the invite form and when a change is applied. When absent, the
    /// tenancy's `phone_region` is used.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z]{2}$")]
    pub phone_region: Option<String>,
}

impl Default for FieldMapping {
    fn default() -> Self {
        Self {
            contact: RecordFields {
                first_name: "FirstName".into(),
                last_name: "LastName".into(),
                email: "Email".into(),
                mobile: Some("MobilePhone".into()),
                title: Some("Title".into()),
            },
            person_account: RecordFields {
                first_name: "FirstName".into(),
                last_name: "LastName".into(),
                email: "PersonEmail".into(),
                mobile: Some("PersonMobilePhone".into()),
                title: Some("PersonTitle".into()),
            },
            read_only: vec![],
            write_back: WriteBackFields {
                status: "Liaison_Status__c".into(),
                client_id: Some("Liaison_Client_Id__c".into()),
                invited_at: Some("Liaison_Invited_At__c".into()),
                tenancy: Some("Liaison_Tenancy__c".into()),
            },
            phone_region: None,
        }
    }
}

/// A Salesforce field API name: a letter, then letters, digits and single underscores, at
/// most 80 characters (custom fields end in `__c`).
pub fn is_field_name(name: &str) -> bool {
    let body = name
        .strip_suffix("__c")
        .or_else(|| name.strip_suffix("__pc"))
        .unwrap_or(name);
    !body.is_empty()
        && name.len() <= 80
        && body.starts_with(|c: char| c.is_ascii_alphabetic())
        && body.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !body.contains("__")
        && !body.ends_with('_')
}

/// The E.164 form of a number written as people write it, read in `region` when it has no `+`.
/// Only offered to the user, never applied silently.
pub fn suggest_e164(raw: &str, region: Option<PhoneRegion>) -> Option<String> {
    E164Phone::parse_in_region(raw, region)
        .ok()
        .map(|n| n.as_str().to_string())
}

impl FieldMapping {
    /// The mapping's own phone region, which overrides the tenancy's (checked when saved).
    pub fn phone_region(&self) -> Option<PhoneRegion> {
        self.phone_region
            .as_deref()
            .and_then(|r| PhoneRegion::parse(r).ok())
    }

    /// Checks every field name, naming each bad one by its path.
    pub fn validate(&self, errors: &mut FieldErrors, prefix: &str) {
        let mut check = |path: &str, name: &str| {
            if !is_field_name(name) {
                errors.push(
                    format!("{prefix}.{path}"),
                    "is not a Salesforce field API name",
                );
            }
        };
        for (kind, fields) in [
            ("contact", &self.contact),
            ("person_account", &self.person_account),
        ] {
            check(&format!("{kind}.first_name"), &fields.first_name);
            check(&format!("{kind}.last_name"), &fields.last_name);
            check(&format!("{kind}.email"), &fields.email);
            if let Some(mobile) = &fields.mobile {
                check(&format!("{kind}.mobile"), mobile);
            }
            if let Some(title) = &fields.title {
                check(&format!("{kind}.title"), title);
            }
        }
        if let Some(region) = &self.phone_region
            && let Err(reason) = PhoneRegion::parse(region)
        {
            errors.push(format!("{prefix}.phone_region"), reason);
        }
        let wb = &self.write_back;
        let custom = [
            ("status", Some(&wb.status)),
            ("client_id", wb.client_id.as_ref()),
            ("invited_at", wb.invited_at.as_ref()),
            ("tenancy", wb.tenancy.as_ref()),
        ];
        for (path, name) in custom {
            if let Some(name) = name
                && (!is_field_name(name) || !name.ends_with("__c"))
            {
                errors.push(
                    format!("{prefix}.write_back.{path}"),
                    "must be a custom Contact field API name ending in __c",
                );
            }
        }
    }

    /// The write-back field name on a record of `sobject`: a Person Account carries the
    /// Contact's custom field `X__c` as `X__pc`.
    pub fn write_back_field(sobject: &str, contact_field: &str) -> String {
        match (sobject, contact_field.strip_suffix("__c")) {
            ("Account", Some(base)) => format!("{base}__pc"),
            _ => contact_field.to_string(),
        }
    }
}

/// An org link's auto-invite: a record whose checkbox `field` is on and that has no client
/// yet is invited as if a staff user had clicked Invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoInvite {
    /// The Contact checkbox field, e.g. `Invite_to_Messenger__c` (on a Person Account it is
    /// read as `Invite_to_Messenger__pc`).
    pub field: String,
    /// The tenancy the client is created in (one the link serves).
    pub tenancy_id: Uuid,
    /// The client teams or contact groups (per the tenancy's model) that cover the client.
    #[serde(default)]
    pub groups: Vec<Uuid>,
    /// Contact groups only: give each client a contact group of their own, named by the
    /// tenancy's convention (e.g. `Patel Relationship`), with these staff users and team
    /// accounts as members, as staff do in the invite form. `groups` may then be empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_contact_group_members: Option<Vec<Uuid>>,
    /// `true` sends the invitation at once; `false` creates the client as a draft.
    pub send: bool,
}

impl AutoInvite {
    pub fn validate(&self, errors: &mut FieldErrors, prefix: &str, tenancies: &[Uuid]) {
        if !is_field_name(&self.field) || !self.field.ends_with("__c") {
            errors.push(
                format!("{prefix}.field"),
                "must be a custom checkbox field API name ending in __c",
            );
        }
        if !tenancies.contains(&self.tenancy_id) {
            errors.push(
                format!("{prefix}.tenancy_id"),
                "must be one of the tenancies the link serves",
            );
        }
        match &self.new_contact_group_members {
            Some(members) if members.is_empty() => errors.push(
                format!("{prefix}.new_contact_group_members"),
                "name at least one staff user or team account",
            ),
            Some(members) if members.len() > MAX_NEW_GROUP_MEMBERS => errors.push(
                format!("{prefix}.new_contact_group_members"),
                format!("must list at most {}", MAX_NEW_GROUP_MEMBERS),
            ),
            _ => {}
        }
        if self.groups.is_empty() && self.new_contact_group_members.is_none() {
            errors.push(
                format!("{prefix}.groups"),
                "name at least one group or team, or set new_contact_group_members",
            );
        } else if self.groups.len() > MAX_GROUPS {
            errors.push(
                format!("{prefix}.groups"),
                format!("must list at most {}", MAX_GROUPS),
            );
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// An admin approves the connection in Salesforce (OAuth web-server flow with PKCE); we
    /// keep the refresh token.
    WebServer,
    /// Server-to-server: we sign a JWT with the link's private key for the integration user.
    JwtBearer,
}

impl AuthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WebServer => "web_server",
            Self::JwtBearer => "jwt_bearer",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::WebServer, Self::JwtBearer]
            .into_iter()
            .find(|k| k.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffMatch {
    UserId,
    Username,
    Email,
}

impl StaffMatch {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserId => "user_id",
            Self::Username => "username",
            Self::Email => "email",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::UserId, Self::Username, Self::Email]
            .into_iter()
            .find(|k| k.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Created; no token yet.
    NotConnected,
    Connected,
    /// Salesforce refused our credentials; a CRM admin must reconnect.
    Unauthorized,
    /// Stopped by an admin.
    Paused,
    /// Near its share of the org's daily API limit: calls wait until there is room.
    BudgetCapped,
}

impl LinkState {
    /// The state once connected from this one: a link waiting for a connection (new, or
    /// refused by Salesforce) is connected; a paused or capped one stays so.
    pub fn once_connected(self) -> Self {
        match self {
            Self::NotConnected | Self::Unauthorized => Self::Connected,
            other => other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotConnected => "not_connected",
            Self::Connected => "connected",
            Self::Unauthorized => "unauthorized",
            Self::Paused => "paused",
            Self::BudgetCapped => "budget_capped",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::NotConnected,
            Self::Connected,
            Self::Unauthorized,
            Self::Paused,
            Self::BudgetCapped,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WritebackState {
    /// Waiting to be written (now or after a backoff).
    Pending,
    /// Salesforce refused it for good, or every retry failed; an admin may retry or dismiss it.
    Failed,
    /// An admin chose not to write it.
    Dismissed,
}

impl WritebackState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Dismissed => "dismissed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Pending, Self::Failed, Self::Dismissed]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxState {
    /// Waiting to be applied (now or after a backoff).
    Pending,
    /// Applied.
    Done,
    /// Nothing to do: an echo of our own write-back, a change older than one already
    /// applied, or one that touched nothing Liaison follows.
    Skipped,
    /// Could not be applied (an invalid value, or every retry failed); ops may replay it.
    Failed,
    /// Ops chose not to apply it.
    Dismissed,
}

impl InboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Skipped => "skipped",
            Self::Failed => "failed",
            Self::Dismissed => "dismissed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Done,
            Self::Skipped,
            Self::Failed,
            Self::Dismissed,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSource {
    OutboundMessage,
    Webhook,
}

impl ChangeSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutboundMessage => "outbound_message",
            Self::Webhook => "webhook",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::OutboundMessage, Self::Webhook]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// When an org link may next be called (milliseconds since the epoch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallSchedule {
    /// No call before this: a backoff after a failed call, or the next limit probe.
    pub next_call_at: Option<i64>,
    /// Whole calls failed in a row, for the backoff's growth.
    pub failures: i64,
    /// When a call last showed the org's daily limit spent; `None` once one shows room.
    pub org_limit_at: Option<i64>,
}

/// The org's daily API calls as Salesforce last reported them (`Sforce-Limit-Info`).
#[derive(Debug, Clone)]
pub struct ApiUsage {
    pub used: i64,
    pub max: i64,
    pub checked_at: OffsetDateTime,
}

/// An org link as admins see it: never a secret, only whether one is set.
#[derive(Debug, Clone)]
pub struct OrgLink {
    pub id: Uuid,
    pub name: String,
    /// The 18-character org id.
    pub org_id: String,
    pub login_host: String,
    pub auth_kind: AuthKind,
    pub consumer_key: String,
    pub has_consumer_secret: bool,
    pub has_private_key: bool,
    /// The Salesforce username the JWT bearer flow acts as.
    pub integration_username: Option<String>,
    pub api_version: String,
    pub field_mapping: FieldMapping,
    pub staff_match: StaffMatch,
    /// This link's share of the org's daily API limit, in percent.
    pub api_budget_percent: i64,
    pub state: LinkState,
    pub state_reason: Option<String>,
    pub instance_url: Option<String>,
    pub api_usage: Option<ApiUsage>,
    pub tenancies: Vec<Uuid>,
    pub created_at: OffsetDateTime,
    /// The Salesforce user id (`005…`) our write-back acts as; its changes start no work.
    pub integration_user_id: Option<String>,
    /// Invites records whose checkbox turns on; absent when off.
    pub auto_invite: Option<AutoInvite>,
    /// Whether the Outbound Message endpoint has a token (see `intake-secrets`).
    pub has_outbound_token: bool,
    /// Whether JSON webhooks have a signing secret.
    pub has_webhook_secret: bool,
    /// The current API key's id (see `api-key`), as clients' histories name it; absent when
    /// the link has no key.
    pub api_key_id: Option<String>,
    /// When the link may next be called, for the workers.
    pub calls: CallSchedule,
}

/// The secrets of a link as they are kept, sealed; only the CRM adapter unseals them.
#[derive(Debug, Clone)]
pub struct LinkSecrets {
    pub consumer_secret: Option<String>,
    pub private_key: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub token_version: i64,
}

/// One field of an sObject as Salesforce's Describe API reports it: what the mapping editor
/// offers, and what a mapping is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DescribedField {
    /// The API name, e.g. `MobilePhone` or `Liaison_Status__c`.
    pub name: String,
    pub label: String,
    /// Salesforce's field type: `string`, `email`, `phone`, `picklist`, `id`, `reference`, ….
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the integration user may write it.
    pub updateable: bool,
    /// A picklist's values (empty for other types).
    pub picklist_values: Vec<PicklistValue>,
}

/// One value of a picklist field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PicklistValue {
    pub value: String,
    pub label: String,
    pub active: bool,
}

/// An sObject's fields, as described by the org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SObjectDescribe {
    /// `Contact` or `Account`.
    pub name: String,
    pub label: String,
    pub fields: Vec<DescribedField>,
}

impl SObjectDescribe {
    pub fn field(&self, name: &str) -> Option<&DescribedField> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// An sObject's describe as a link keeps it: Salesforce's answer and the validators it came
/// with, for the next conditional request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedDescribe {
    pub body: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// When Salesforce last sent or confirmed it (milliseconds since the epoch).
    pub fetched_at: i64,
}

/// The invite field a record field fills, and the Salesforce types that may fill it.
fn fitting_types(invite_field: &str) -> (&'static [&'static str], &'static str) {
    match invite_field {
        "email" => (&["email"], "an email field"),
        "mobile" => (&["phone", "string"], "a phone or text field"),
        _ => (&["string"], "a text field"),
    }
}

impl FieldMapping {
    /// Checks the mapping against the org's own fields: each mapped field exists and its type
    /// fits the invite field it fills; a Person Account's custom contact fields are read as
    /// `__pc`; each write-back field is updateable, and the status one is a picklist holding
    /// every status Liaison writes. A describe left out (`None`) is not checked against.
    pub fn check_against(
        &self,
        contact: Option<&SObjectDescribe>,
        account: Option<&SObjectDescribe>,
        errors: &mut FieldErrors,
        prefix: &str,
    ) {
        for (kind, fields, describe) in [
            ("contact", &self.contact, contact),
            ("person_account", &self.person_account, account),
        ] {
            let Some(describe) = describe else { continue };
            let mapped = [
                ("first_name", Some(&fields.first_name)),
                ("last_name", Some(&fields.last_name)),
                ("email", Some(&fields.email)),
                ("mobile", fields.mobile.as_ref()),
                ("title", fields.title.as_ref()),
            ];
            for (invite_field, name) in mapped {
                let Some(name) = name else { continue };
                let path = format!("{prefix}.{kind}.{invite_field}");
                if kind == "person_account" && name.ends_with("__c") {
                    errors.push(
                        path,
                        format!(
                            "\"{name}\" is an Account field; a Person Account's contact fields end in __pc"
                        ),
                    );
                    continue;
                }
                check_type(describe, name, invite_field, &path, errors);
            }
        }
        let wb = &self.write_back;
        let writes = [
            ("status", Some(&wb.status)),
            ("client_id", wb.client_id.as_ref()),
            ("invited_at", wb.invited_at.as_ref()),
            ("tenancy", wb.tenancy.as_ref()),
        ];
        for (path, name) in writes {
            let Some(name) = name else { continue };
            let path = format!("{prefix}.write_back.{path}");
            for describe in [contact, account].into_iter().flatten() {
                let on_record = Self::write_back_field(&describe.name, name);
                check_write_back(
                    describe,
                    &on_record,
                    path.ends_with(".status"),
                    &path,
                    errors,
                );
            }
        }
    }
}

fn check_type(
    describe: &SObjectDescribe,
    name: &str,
    invite_field: &str,
    path: &str,
    errors: &mut FieldErrors,
) {
    let Some(field) = describe.field(name) else {
        errors.push(
            path,
            format!("\"{name}\" is not a field of {}", describe.name),
        );
        return;
    };
    let (types, wanted) = fitting_types(invite_field);
    if !types.contains(&field.kind.as_str()) {
        errors.push(
            path,
            format!("\"{name}\" is of type {}; this needs {wanted}", field.kind),
        );
    }
}

fn check_write_back(
    describe: &SObjectDescribe,
    name: &str,
    status: bool,
    path: &str,
    errors: &mut FieldErrors,
) {
    let object = &describe.name;
    let Some(field) = describe.field(name) else {
        errors.push(path, format!("\"{name}\" is not a field of {object}"));
        return;
    };
    if !field.updateable {
        errors.push(
            path,
            format!("\"{name}\" on {object} is not updateable by the integration user"),
        );
    }
    if !status {
        return;
    }
    if field.kind != "picklist" {
        errors.push(
            path,
            format!(
                "\"{name}\" on {object} is of type {}; the status needs a picklist",
                field.kind
            ),
        );
        return;
    }
    let missing: Vec<&str> = ClientStatus::ALL
        .iter()
        .map(|s| s.as_str())
        .filter(|code| {
            !field
                .picklist_values
                .iter()
                .any(|v| v.active && v.value == *code)
        })
        .collect();
    if !missing.is_empty() {
        errors.push(
            path,
            format!(
                "the picklist \"{name}\" on {object} lacks the values {}",
                missing.join(", ")
            ),
        );
    }
}

/// One status change as Salesforce is sent it: the record, and what the write-back fields
/// receive.
#[derive(Debug, Clone)]
pub struct StatusWrite<'a> {
    /// `Contact` or `Account`.
    pub sobject: &'a str,
    pub record_id: &'a str,
    pub status: ClientStatus,
    pub client_id: Uuid,
    pub tenancy_id: Uuid,
    pub changed_at: OffsetDateTime,
}

impl FieldMapping {
    /// The record an sObject Collections update sends for `write`: the status, and the
    /// client's id, its tenancy and when it was invited where the mapping names fields for
    /// them (on a Person Account as `__pc`).
    pub fn write_back_record(&self, write: &StatusWrite) -> Value {
        let wb = &self.write_back;
        let field = |name: &str| Self::write_back_field(write.sobject, name);
        let mut record = Map::new();
        record.insert("attributes".into(), json!({ "type": write.sobject }));
        record.insert("id".into(), json!(write.record_id));
        record.insert(field(&wb.status), json!(write.status.as_str()));
        if let Some(name) = &wb.client_id {
            record.insert(field(name), json!(write.client_id.to_string()));
        }
        if let Some(name) = &wb.tenancy {
            record.insert(field(name), json!(write.tenancy_id.to_string()));
        }
        if let Some(name) = &wb.invited_at
            && write.status == ClientStatus::Invited
            && let Ok(at) = write.changed_at.format(&Rfc3339)
        {
            record.insert(field(name), json!(at));
        }
        Value::Object(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uk_number_without_its_plus_is_offered_in_e164() {
        let gb = PhoneRegion::parse("GB").ok();
        assert_eq!(
            suggest_e164("07768 887464", gb).as_deref(),
            Some("+447768887464")
        );
        assert_eq!(
            suggest_e164("+44 7768 887464", None).as_deref(),
            Some("+447768887464")
        );
        assert_eq!(
            suggest_e164("07768 887464", None),
            None,
            "no region, no guess"
        );
        assert_eq!(suggest_e164("call me", gb), None);
    }

    #[test]
    fn default_mapping_is_valid() {
        let mut errors = FieldErrors::new();
        FieldMapping::default().validate(&mut errors, "field_mapping");
        assert!(errors.is_empty());
    }

    #[test]
    fn bad_field_names_are_named_by_path() {
        let mut mapping = FieldMapping::default();
        mapping.contact.email = "Email; DROP".into();
        mapping.write_back.status = "Status".into();
        let mut errors = FieldErrors::new();
        mapping.validate(&mut errors, "field_mapping");
        let fields: Vec<_> = errors
            .finish()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "field_mapping.contact.email",
                "field_mapping.write_back.status"
            ]
        );
    }

    #[test]
    fn person_account_carries_contact_custom_fields_as_pc() {
        assert_eq!(
            FieldMapping::write_back_field("Account", "Liaison_Status__c"),
            "Liaison_Status__pc"
        );
        assert_eq!(
            FieldMapping::write_back_field("Contact", "Liaison_Status__c"),
            "Liaison_Status__c"
        );
    }

    fn described(name: &str, fields: &[(&str, &str, bool)]) -> SObjectDescribe {
        SObjectDescribe {
            name: name.into(),
            label: name.into(),
            fields: fields
                .iter()
                .map(|(field, kind, updateable)| DescribedField {
                    name: (*field).into(),
                    label: (*field).into(),
                    kind: (*kind).into(),
                    updateable: *updateable,
                    picklist_values: if *kind == "picklist" {
                        ["draft", "invited", "expired", "active", "declined"]
                            .map(|v| PicklistValue {
                                value: v.into(),
                                label: v.into(),
                                active: true,
                            })
                            .into()
                    } else {
                        vec![]
                    },
                })
                .collect(),
        }
    }

    fn problems(
        mapping: &FieldMapping,
        contact: Option<&SObjectDescribe>,
        account: Option<&SObjectDescribe>,
    ) -> Vec<(String, String)> {
        let mut errors = FieldErrors::new();
        mapping.check_against(contact, account, &mut errors, "field_mapping");
        errors
            .finish()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.field, e.reason))
            .collect()
    }

    fn contact() -> SObjectDescribe {
        described(
            "Contact",
            &[
                ("FirstName", "string", true),
                ("LastName", "string", true),
                ("Email", "email", true),
                ("MobilePhone", "phone", true),
                ("Title", "string", true),
                ("Liaison_Status__c", "picklist", true),
                ("Liaison_Client_Id__c", "string", false),
                ("Liaison_Invited_At__c", "datetime", true),
                ("Liaison_Tenancy__c", "string", true),
            ],
        )
    }

    #[test]
    fn a_mapping_fitting_the_org_has_no_problems_but_the_status_values_it_lacks() {
        let mut mapping = FieldMapping::default();
        mapping.write_back.client_id = None;
        assert_eq!(
            problems(&mapping, Some(&contact()), None),
            [(
                "field_mapping.write_back.status".to_string(),
                "the picklist \"Liaison_Status__c\" on Contact lacks the values revoked"
                    .to_string()
            )]
        );
    }

    #[test]
    fn each_rule_names_its_field_and_why() {
        let mut mapping = FieldMapping::default();
        mapping.contact.email = "Email2__c".into();
        mapping.contact.mobile = Some("Email".into());
        mapping.contact.title = Some("MobilePhone".into());
        mapping.person_account.email = "Secondary_Email__c".into();
        let account = described("Account", &[("FirstName", "string", true)]);
        let found = problems(&mapping, Some(&contact()), Some(&account));
        let reasons: Vec<(&str, &str)> = found
            .iter()
            .map(|(f, r)| (f.as_str(), r.as_str()))
            .collect();
        for expected in [
            (
                "field_mapping.contact.email",
                "\"Email2__c\" is not a field of Contact",
            ),
            (
                "field_mapping.contact.mobile",
                "\"Email\" is of type email; this needs a phone or text field",
            ),
            (
                "field_mapping.contact.title",
                "\"MobilePhone\" is of type phone; this needs a text field",
            ),
            (
                "field_mapping.person_account.last_name",
                "\"LastName\" is not a field of Account",
            ),
            (
                "field_mapping.person_account.email",
                "\"Secondary_Email__c\" is an Account field; a Person Account's contact fields end in __pc",
            ),
            (
                "field_mapping.write_back.client_id",
                "\"Liaison_Client_Id__c\" on Contact is not updateable by the integration user",
            ),
            (
                "field_mapping.write_back.status",
                "\"Liaison_Status__pc\" is not a field of Account",
            ),
        ] {
            assert!(reasons.contains(&expected), "{expected:?} in {reasons:#?}");
        }
    }

    #[test]
    fn the_write_back_record_carries_the_mapped_fields_as_the_record_names_them() {
        let at = OffsetDateTime::from_unix_timestamp(1_772_441_000).unwrap();
        let record = FieldMapping::default().write_back_record(&StatusWrite {
            sobject: "Account",
            record_id: "0015g00000PaAbcAAB",
            status: ClientStatus::Invited,
            client_id: Uuid::nil(),
            tenancy_id: Uuid::nil(),
            changed_at: at,
        });
        assert_eq!(record["attributes"]["type"], "Account");
        assert_eq!(record["Liaison_Status__pc"], "invited");
        assert_eq!(record["Liaison_Invited_At__pc"], "2026-03-02T08:43:20Z");
        assert!(record.get("Liaison_Status__c").is_none());
    }
}
