//! The audit trail: who did what to which object, when, and what changed. The actions form a
//! closed set; a change names each field with its value before and after, and a secret only
//! as `"changed"`, so the trail never holds a secret.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::tenancy::GroupKind;

/// What an administrator, an operator or a signing-in user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = AuditAction)]
pub enum Action {
    #[serde(rename = "org_link.created")]
    OrgLinkCreated,
    /// A link's settings changed (the field mapping and its tenancies have actions of their
    /// own).
    #[serde(rename = "org_link.updated")]
    OrgLinkUpdated,
    #[serde(rename = "org_link.mapping_changed")]
    OrgLinkMappingChanged,
    #[serde(rename = "org_link.tenancy_added")]
    OrgLinkTenancyAdded,
    #[serde(rename = "org_link.tenancy_removed")]
    OrgLinkTenancyRemoved,
    #[serde(rename = "org_link.connected")]
    OrgLinkConnected,
    #[serde(rename = "org_link.disconnected")]
    OrgLinkDisconnected,
    #[serde(rename = "org_link.deleted")]
    OrgLinkDeleted,
    /// A new API key for the link's JSON API replaced the old one.
    #[serde(rename = "org_link.api_key_issued")]
    OrgLinkApiKeyIssued,
    /// New intake secrets: the Outbound Message URL and the webhook signing secret.
    #[serde(rename = "intake_secrets.rotated")]
    IntakeSecretsRotated,
    #[serde(rename = "staff.created")]
    StaffCreated,
    /// A staff user's name, mobile or title changed.
    #[serde(rename = "staff.updated")]
    StaffUpdated,
    #[serde(rename = "staff.role_changed")]
    StaffRoleChanged,
    #[serde(rename = "staff.deactivated")]
    StaffDeactivated,
    #[serde(rename = "staff.reactivated")]
    StaffReactivated,
    #[serde(rename = "group.member_added")]
    GroupMemberAdded,
    #[serde(rename = "group.member_removed")]
    GroupMemberRemoved,
    #[serde(rename = "token.created")]
    TokenCreated,
    #[serde(rename = "token.revoked")]
    TokenRevoked,
    #[serde(rename = "console.signed_in")]
    ConsoleSignedIn,
    /// A failed write-back, inbox item or e-mail was tried again.
    #[serde(rename = "failure.retried")]
    FailureRetried,
    /// A failed or waiting item was given up on, with a reason.
    #[serde(rename = "failure.dismissed")]
    FailureDismissed,
    /// Every failed item matching a filter was tried again: one entry names the filter and
    /// the count.
    #[serde(rename = "failures.retried")]
    FailuresRetried,
    /// A contact group or client team made, with its name and first members.
    #[serde(rename = "group.created")]
    GroupCreated,
    #[serde(rename = "group.renamed")]
    GroupRenamed,
    #[serde(rename = "group.deleted")]
    GroupDeleted,
    #[serde(rename = "team_account.created")]
    TeamAccountCreated,
    /// A team account's name, mobile, contact number, title or status changed.
    #[serde(rename = "team_account.updated")]
    TeamAccountUpdated,
    /// A client's name, e-mail, mobile or title corrected.
    #[serde(rename = "client.updated")]
    ClientUpdated,
    /// A client linked by hand to their Salesforce record, or to another one.
    #[serde(rename = "client.record_linked")]
    ClientRecordLinked,
    /// The Salesforce user who acts as a staff user set, changed or cleared.
    #[serde(rename = "staff.salesforce_user_mapped")]
    StaffSalesforceUserMapped,
}

impl Action {
    pub const ALL: [Self; 31] = [
        Self::OrgLinkCreated,
        Self::OrgLinkUpdated,
        Self::OrgLinkMappingChanged,
        Self::OrgLinkTenancyAdded,
        Self::OrgLinkTenancyRemoved,
        Self::OrgLinkConnected,
        Self::OrgLinkDisconnected,
        Self::OrgLinkDeleted,
        Self::OrgLinkApiKeyIssued,
        Self::IntakeSecretsRotated,
        Self::StaffCreated,
        Self::StaffUpdated,
        Self::StaffRoleChanged,
        Self::StaffDeactivated,
        Self::StaffReactivated,
        Self::GroupMemberAdded,
        Self::GroupMemberRemoved,
        Self::TokenCreated,
        Self::TokenRevoked,
        Self::ConsoleSignedIn,
        Self::FailureRetried,
        Self::FailureDismissed,
        Self::FailuresRetried,
        Self::GroupCreated,
        Self::GroupRenamed,
        Self::GroupDeleted,
        Self::TeamAccountCreated,
        Self::TeamAccountUpdated,
        Self::ClientUpdated,
        Self::ClientRecordLinked,
        Self::StaffSalesforceUserMapped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrgLinkCreated => "org_link.created",
            Self::OrgLinkUpdated => "org_link.updated",
            Self::OrgLinkMappingChanged => "org_link.mapping_changed",
            Self::OrgLinkTenancyAdded => "org_link.tenancy_added",
            Self::OrgLinkTenancyRemoved => "org_link.tenancy_removed",
            Self::OrgLinkConnected => "org_link.connected",
            Self::OrgLinkDisconnected => "org_link.disconnected",
            Self::OrgLinkDeleted => "org_link.deleted",
            Self::OrgLinkApiKeyIssued => "org_link.api_key_issued",
            Self::IntakeSecretsRotated => "intake_secrets.rotated",
            Self::StaffCreated => "staff.created",
            Self::StaffUpdated => "staff.updated",
            Self::StaffRoleChanged => "staff.role_changed",
            Self::StaffDeactivated => "staff.deactivated",
            Self::StaffReactivated => "staff.reactivated",
            Self::GroupMemberAdded => "group.member_added",
            Self::GroupMemberRemoved => "group.member_removed",
            Self::TokenCreated => "token.created",
            Self::TokenRevoked => "token.revoked",
            Self::ConsoleSignedIn => "console.signed_in",
            Self::FailureRetried => "failure.retried",
            Self::FailureDismissed => "failure.dismissed",
            Self::FailuresRetried => "failures.retried",
            Self::GroupCreated => "group.created",
            Self::GroupRenamed => "group.renamed",
            Self::GroupDeleted => "group.deleted",
            Self::TeamAccountCreated => "team_account.created",
            Self::TeamAccountUpdated => "team_account.updated",
            Self::ClientUpdated => "client.updated",
            Self::ClientRecordLinked => "client.record_linked",
            Self::StaffSalesforceUserMapped => "staff.salesforce_user_mapped",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == value)
    }
}

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AuditActorKind)]
pub enum ActorKind {
    /// An operator token: its id is the token's.
    Operator,
    /// A staff user of a tenancy: its id is the user's.
    Staff,
    /// Liaison itself, for a change whose starter it cannot name.
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Staff => "staff",
            Self::System => "system",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Operator, Self::Staff, Self::System]
            .into_iter()
            .find(|k| k.as_str() == value)
    }
}

/// Who acted, as clients' histories name them (`operator:<token id>`, `staff:<user id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<Uuid>,
    pub label: String,
}

impl Actor {
    pub fn operator(token: Uuid) -> Self {
        Self {
            kind: ActorKind::Operator,
            id: Some(token),
            label: format!("operator:{token}"),
        }
    }

    pub fn staff(user: Uuid) -> Self {
        Self {
            kind: ActorKind::Staff,
            id: Some(user),
            label: format!("staff:{user}"),
        }
    }

    /// The actor a label names (as `operator` and `staff` write it); a label of another form
    /// is kept as Liaison's own, so the change is still recorded with what is known.
    pub fn from_label(label: &str) -> Self {
        let parsed = label.split_once(':').and_then(|(kind, id)| {
            let id = Uuid::parse_str(id).ok()?;
            match kind {
                "operator" => Some(Self::operator(id)),
                "staff" => Some(Self::staff(id)),
                _ => None,
            }
        });
        parsed.unwrap_or_else(|| Self {
            kind: ActorKind::System,
            id: None,
            label: label.to_string(),
        })
    }
}

/// What kind of object an action was done to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AuditTargetKind)]
pub enum TargetKind {
    OrgLink,
    Staff,
    ContactGroup,
    ClientTeam,
    Token,
    Tenancy,
    /// A console session: what signing in opens.
    ConsoleSession,
    Writeback,
    InboxItem,
    EmailDelivery,
    TeamAccount,
    Client,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrgLink => "org_link",
            Self::Staff => "staff",
            Self::ContactGroup => "contact_group",
            Self::ClientTeam => "client_team",
            Self::Token => "token",
            Self::Tenancy => "tenancy",
            Self::ConsoleSession => "console_session",
            Self::Writeback => "writeback",
            Self::InboxItem => "inbox_item",
            Self::EmailDelivery => "email_delivery",
            Self::TeamAccount => "team_account",
            Self::Client => "client",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::OrgLink,
            Self::Staff,
            Self::ContactGroup,
            Self::ClientTeam,
            Self::Token,
            Self::Tenancy,
            Self::ConsoleSession,
            Self::Writeback,
            Self::InboxItem,
            Self::EmailDelivery,
            Self::TeamAccount,
            Self::Client,
        ]
        .into_iter()
        .find(|k| k.as_str() == value)
    }
}

/// A contact group or client team is a target of its own kind.
impl From<GroupKind> for TargetKind {
    fn from(kind: GroupKind) -> Self {
        match kind {
            GroupKind::ContactGroup => Self::ContactGroup,
            GroupKind::ClientTeam => Self::ClientTeam,
        }
    }
}

/// The object an action was done to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub kind: TargetKind,
    pub id: Uuid,
}

/// What a secret field's change is recorded as, in place of its value.
pub const SECRET_CHANGED: &str = "changed";

/// What an action changed: for each field, `{"before": …, "after": …}` (one of them alone
/// when the field came or went), and for a secret only `"changed"`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Change(Map<String, Value>);

impl Change {
    pub fn new() -> Self {
        Self::default()
    }

    /// The field's value before and after, when they differ.
    pub fn diff<T: Serialize + PartialEq>(mut self, field: &str, before: &T, after: &T) -> Self {
        if before != after {
            let mut values = Map::new();
            values.insert("before".into(), json(before));
            values.insert("after".into(), json(after));
            self.0.insert(field.into(), Value::Object(values));
        }
        self
    }

    /// A field of a new object, or a value given to it.
    pub fn set<T: Serialize>(self, field: &str, after: &T) -> Self {
        self.one(field, "after", after)
    }

    /// A field of an object that went, or a value taken from it.
    pub fn unset<T: Serialize>(self, field: &str, before: &T) -> Self {
        self.one(field, "before", before)
    }

    /// A secret that was set or replaced, when `changed`: named, its value never kept.
    pub fn secret(mut self, field: &str, changed: bool) -> Self {
        if changed {
            self.0
                .insert(field.into(), Value::String(SECRET_CHANGED.into()));
        }
        self
    }

    fn one<T: Serialize>(mut self, field: &str, side: &str, value: &T) -> Self {
        let mut values = Map::new();
        values.insert(side.into(), json(value));
        self.0.insert(field.into(), Value::Object(values));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The change as a JSON object.
    pub fn into_json(self) -> Value {
        Value::Object(self.0)
    }
}

/// A value as JSON; a value serde cannot write (none of ours) is kept as `null`.
fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// One entry of the trail, as a service records it in the transaction of the change.
#[derive(Debug, Clone)]
pub struct Event {
    /// The tenancy whose trail shows it; `None` for what concerns the installation (a
    /// tenancy made, an operator token, a link that serves several tenancies).
    pub tenancy: Option<Uuid>,
    pub actor: Actor,
    pub action: Action,
    pub target: Target,
    pub change: Change,
}

/// The tenancy whose trail shows a change of an org link that serves `tenancies`: the one it
/// serves alone, whose administrator manages it; none for a link several tenancies share,
/// which only operators change.
pub fn link_tenancy(tenancies: &[Uuid]) -> Option<Uuid> {
    match tenancies {
        [only] => Some(*only),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_from_its_spelling_and_serde_agrees() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(action));
            let json = serde_json::to_value(action).expect("serializes");
            assert_eq!(json, Value::String(action.as_str().into()));
        }
        assert_eq!(Action::parse("org_link.exploded"), None);
    }

    #[test]
    fn a_change_keeps_only_fields_that_differ_and_never_a_secret_value() {
        let change = Change::new()
            .diff("name", &"Old", &"New")
            .diff("api_version", &"62.0", &"62.0")
            .secret("consumer_secret", true)
            .secret("private_key", false)
            .into_json();
        assert_eq!(
            change,
            serde_json::json!({
                "name": { "before": "Old", "after": "New" },
                "consumer_secret": "changed",
            })
        );
    }

    #[test]
    fn a_label_names_its_actor_and_an_unknown_one_is_kept_as_liaisons() {
        let id = Uuid::now_v7();
        assert_eq!(Actor::from_label(&format!("staff:{id}")), Actor::staff(id));
        assert_eq!(
            Actor::from_label(&format!("operator:{id}")),
            Actor::operator(id)
        );
        let odd = Actor::from_label("cron");
        assert_eq!(
            (odd.kind, odd.id, odd.label.as_str()),
            (ActorKind::System, None, "cron")
        );
    }

    #[test]
    fn groups_and_team_accounts_are_targets_of_their_own_kinds() {
        assert_eq!(
            TargetKind::from(GroupKind::ContactGroup),
            TargetKind::ContactGroup
        );
        assert_eq!(
            TargetKind::from(GroupKind::ClientTeam),
            TargetKind::ClientTeam
        );
        assert_eq!(
            TargetKind::parse(TargetKind::TeamAccount.as_str()),
            Some(TargetKind::TeamAccount)
        );
    }
}
