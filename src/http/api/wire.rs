//! The JSON `/api/v1` answers with, and its OpenAPI schemas: the API's own types, made from
//! the store's records by `From`, so a change to a table is not a change to the API unless
//! one of these changes too.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::audit::{
    Action as AuditAction, ActorKind as AuditActorKind, TargetKind as AuditTargetKind,
};
use crate::domain::client_status::ClientStatus;
use crate::domain::invitation::DeadLink;
use crate::domain::org_link::{
    AuthKind, AutoInvite, ChangeSource, FieldMapping, InboxState, LinkState, StaffMatch,
    WritebackState,
};
use crate::domain::tenancy::{GroupKind, GroupModel, MobilePolicy};
use crate::domain::user::{StaffRole, UserKind};
use crate::domain::values::PhoneRegion;
use crate::store;

/// `From<store::X>` for a wire type whose every field is the record's field of that name.
macro_rules! from_store {
    ($name:ident { $($field:ident),* $(,)? }) => {
        impl From<store::$name> for $name {
            fn from(value: store::$name) -> Self {
                Self {
                    $($field: value.$field,)*
                }
            }
        }
    };
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T, U: From<T>> From<store::Page<T>> for Page<U> {
    fn from(page: store::Page<T>) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Client {
    pub id: Uuid,
    pub tenancy_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: Option<String>,
    pub title: String,
    pub status: ClientStatus,
    /// The status as staff see it, e.g. "Pending (Draft)".
    pub status_label: String,
    /// The personal message staff added to the invitation.
    pub message: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

from_store!(Client {
    id,
    tenancy_id,
    first_name,
    last_name,
    email,
    mobile,
    title,
    status,
    status_label,
    message,
    created_at
});

/// One entry of a user's address book: only what the messenger shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Contact {
    pub id: Uuid,
    pub kind: UserKind,
    pub name: String,
    pub title: Option<String>,
    /// A team account's displayed contact number (never its secure mobile).
    pub contact_number: Option<String>,
    /// A client's status, so staff can tell who has joined.
    pub status: Option<ClientStatus>,
}

from_store!(Contact {
    id,
    kind,
    name,
    title,
    contact_number,
    status
});

/// One status change of a client.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClientEvent {
    pub id: Uuid,
    pub from_status: Option<ClientStatus>,
    pub to_status: ClientStatus,
    /// Who made the change: `staff:<id>`, `operator:<token id>`, `client` or `system`; from
    /// Salesforce, `staff:<id> via Salesforce user <user id>` (the Invite form),
    /// `salesforce:<link>:key:<key id> as staff:<id> via Salesforce user <user id>` (the JSON
    /// API with the link's key) or `salesforce:<link>:<integration user>` (auto-invite).
    pub actor: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

from_store!(ClientEvent {
    id,
    from_status,
    to_status,
    actor,
    at
});

/// A write-back as ops see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Writeback {
    pub id: Uuid,
    pub org_link_id: Uuid,
    pub tenancy_id: Uuid,
    pub client_id: Uuid,
    /// `Contact` or `Account` (a Person Account).
    pub sobject: String,
    pub record_id: String,
    /// The newest status, the one to write.
    pub status: ClientStatus,
    pub state: WritebackState,
    pub attempts: i64,
    /// Salesforce's code for the last failure, e.g. `ENTITY_IS_DELETED`.
    pub last_error_code: Option<String>,
    /// Salesforce's message for the last failure.
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
}

from_store!(Writeback {
    id,
    org_link_id,
    tenancy_id,
    client_id,
    sobject,
    record_id,
    status,
    state,
    attempts,
    last_error_code,
    last_error,
    changed_at,
    next_attempt_at
});

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Staff {
    pub id: Uuid,
    pub tenancy_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: Option<String>,
    pub title: Option<String>,
    pub role: StaffRole,
    /// Only active staff count towards covering a client, and only they can sign in.
    pub active: bool,
    /// The Salesforce user this staff user acts as, for org links that match staff by user id.
    pub salesforce_user_id: Option<String>,
    /// The same, for org links that match staff by Salesforce username.
    pub salesforce_username: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

from_store!(Staff {
    id,
    tenancy_id,
    first_name,
    last_name,
    email,
    mobile,
    title,
    role,
    active,
    salesforce_user_id,
    salesforce_username,
    created_at
});

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TeamAccount {
    pub id: Uuid,
    pub tenancy_id: Uuid,
    /// The team's name as clients see it, e.g. "Support".
    pub name: String,
    pub email: String,
    /// The secure mobile number that receives the account's sign-in codes.
    pub mobile: String,
    /// The number shown to clients, distinct from the secure one.
    pub contact_number: Option<String>,
    /// Shown under the name; often the team's opening hours.
    pub title: Option<String>,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

from_store!(TeamAccount {
    id,
    tenancy_id,
    name,
    email,
    mobile,
    contact_number,
    title,
    active,
    created_at
});

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tenancy {
    pub id: Uuid,
    pub name: String,
    /// Contact groups or client teams.
    pub group_model: GroupModel,
    /// Whether the invite form asks for a mobile number.
    pub mobile_policy: MobilePolicy,
    /// Pre-fills a new contact group's name, e.g. `{last_name} Relationship`.
    pub group_name_convention: String,
    /// The country (ISO 3166 alpha-2) a national phone number from Salesforce is read in,
    /// unless the org link's mapping names one.
    #[schema(value_type = String, example = "GB")]
    pub phone_region: PhoneRegion,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

from_store!(Tenancy {
    id,
    name,
    group_model,
    mobile_policy,
    group_name_convention,
    phone_region,
    created_at
});

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    /// Absent for an operator token.
    pub tenancy_id: Option<Uuid>,
    /// The staff user the token acts as; absent for an operator token.
    pub staff_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// When the token stops working; absent for a token that does not expire.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

from_store!(TokenInfo {
    id,
    name,
    tenancy_id,
    staff_id,
    created_at,
    revoked_at,
    expires_at
});

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedToken {
    /// The bearer token. Shown only now; store it safely.
    pub token: String,
    #[serde(flatten)]
    pub info: TokenInfo,
}

impl From<store::CreatedToken> for CreatedToken {
    fn from(value: store::CreatedToken) -> Self {
        Self {
            token: value.token,
            info: value.info.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiUsage {
    pub used: i64,
    pub max: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
}

from_store!(ApiUsage {
    used,
    max,
    checked_at
});

/// An org link as admins see it: never a secret, only whether one is set.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    #[serde(with = "time::serde::rfc3339")]
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
    /// The intake endpoints and secrets, shown once: when the link is created and when they
    /// are rotated. Only a hash of the token and the sealed secret are kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intake_secrets: Option<IntakeSecrets>,
}

impl From<store::OrgLink> for OrgLink {
    fn from(value: store::OrgLink) -> Self {
        Self {
            id: value.id,
            name: value.name,
            org_id: value.org_id,
            login_host: value.login_host,
            auth_kind: value.auth_kind,
            consumer_key: value.consumer_key,
            has_consumer_secret: value.has_consumer_secret,
            has_private_key: value.has_private_key,
            integration_username: value.integration_username,
            api_version: value.api_version,
            field_mapping: value.field_mapping,
            staff_match: value.staff_match,
            api_budget_percent: value.api_budget_percent,
            state: value.state,
            state_reason: value.state_reason,
            instance_url: value.instance_url,
            api_usage: value.api_usage.map(Into::into),
            tenancies: value.tenancies,
            created_at: value.created_at,
            integration_user_id: value.integration_user_id,
            auto_invite: value.auto_invite,
            has_outbound_token: value.has_outbound_token,
            has_webhook_secret: value.has_webhook_secret,
            api_key_id: value.api_key_id,
            intake_secrets: None,
        }
    }
}

/// Where Salesforce sends record changes, with the secrets in the clear, shown once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntakeSecrets {
    /// The Outbound Message endpoint URL, secret token included.
    pub outbound_message_url: String,
    /// The JSON webhook endpoint URL.
    pub webhook_url: String,
    /// The webhook signing secret (`whsec_…`, Standard Webhooks).
    pub webhook_secret: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Group {
    pub id: Uuid,
    pub tenancy_id: Uuid,
    pub kind: GroupKind,
    pub name: String,
    /// Active staff users in the group; a client is covered only by a group with at least one.
    pub active_staff: i64,
    pub team_accounts: i64,
    pub clients: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

from_store!(Group {
    id,
    tenancy_id,
    kind,
    name,
    active_staff,
    team_accounts,
    clients,
    created_at
});

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupMember {
    pub user_id: Uuid,
    pub kind: UserKind,
    /// Full name, or the team account's name.
    pub name: String,
    pub email: String,
    /// False for a deactivated staff user or team account.
    pub active: bool,
    /// A client's status; absent for staff and team accounts.
    pub status: Option<ClientStatus>,
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
}

from_store!(GroupMember {
    user_id,
    kind,
    name,
    email,
    active,
    status,
    added_at
});

/// An inbox item as ops see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxItem {
    pub id: Uuid,
    pub org_link_id: Uuid,
    /// The notification id (Outbound Messages) or `webhook-id#n` (webhooks).
    pub delivery_id: String,
    pub source: ChangeSource,
    pub sobject: String,
    pub record_id: String,
    /// The record's LastModifiedDate.
    #[serde(with = "time::serde::rfc3339")]
    pub modified_at: OffsetDateTime,
    pub deleted: bool,
    pub master_record_id: Option<String>,
    /// The fields the message carried.
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    pub changed_by: Option<String>,
    pub state: InboxState,
    /// What applying it did, or why it was skipped.
    pub outcome: Option<String>,
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
}

from_store!(InboxItem {
    id,
    org_link_id,
    delivery_id,
    source,
    sobject,
    record_id,
    modified_at,
    deleted,
    master_record_id,
    fields,
    changed_by,
    state,
    outcome,
    attempts,
    last_error,
    received_at,
    next_attempt_at
});

/// A cycle, its links and e-mails, as the history shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationCycle {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// 30 days after the first e-mail.
    #[serde(with = "time::serde::rfc3339::option")]
    pub ends_at: Option<OffsetDateTime>,
    /// When the next e-mail (or the expiry) is due; absent once the cycle is over.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_due_at: Option<OffsetDateTime>,
    pub emails_sent: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    /// `accepted`, `declined`, `revoked`, `expired` or `replaced` (by a resend).
    pub end_reason: Option<String>,
    /// The last delivery failure, while retries go on.
    pub last_error: Option<String>,
    pub links: Vec<InvitationLink>,
}

impl From<store::InvitationCycle> for InvitationCycle {
    fn from(value: store::InvitationCycle) -> Self {
        Self {
            id: value.id,
            started_at: value.started_at,
            ends_at: value.ends_at,
            next_due_at: value.next_due_at,
            emails_sent: value.emails_sent,
            ended_at: value.ended_at,
            end_reason: value.end_reason,
            last_error: value.last_error,
            links: value.links.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvitationLink {
    pub id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub voided_at: Option<OffsetDateTime>,
    pub void_reason: Option<DeadLink>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub used_at: Option<OffsetDateTime>,
}

from_store!(InvitationLink {
    id,
    sent_at,
    expires_at,
    voided_at,
    void_reason,
    used_at
});

/// One e-mail delivery: sent, or failed after its last retry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmailDelivery {
    pub id: Uuid,
    pub client_id: Option<Uuid>,
    pub kind: String,
    pub recipient: String,
    /// `sent` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

from_store!(EmailDelivery {
    id,
    client_id,
    kind,
    recipient,
    state,
    attempts,
    last_error,
    at
});

/// Every record of a list as the API's type.
pub fn all<T, U: From<T>>(items: Vec<T>) -> Vec<U> {
    items.into_iter().map(Into::into).collect()
}

/// One entry of the audit trail: who did what to which object, when, and what changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: Uuid,
    /// The tenancy whose trail holds it; absent for the installation's (an operator token,
    /// a link several tenancies share).
    pub tenancy_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: AuditActor,
    pub action: AuditAction,
    pub target: AuditTarget,
    /// Each changed field as `{"before": …, "after": …}` (one of the two when the field came
    /// or went); a secret only as `"changed"`, never its value.
    #[schema(value_type = Object)]
    pub change: Map<String, Value>,
}

/// Who acted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditActor {
    pub kind: AuditActorKind,
    /// The operator's token or the staff user; absent for Liaison itself.
    pub id: Option<Uuid>,
    /// As clients' histories name the actor: `operator:<token id>`, `staff:<user id>`.
    pub label: String,
}

/// The object acted on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditTarget {
    pub kind: AuditTargetKind,
    pub id: Uuid,
}

impl From<store::AuditEvent> for AuditEvent {
    fn from(event: store::AuditEvent) -> Self {
        Self {
            id: event.id,
            tenancy_id: event.tenancy_id,
            at: event.at,
            actor: AuditActor {
                kind: event.actor.kind,
                id: event.actor.id,
                label: event.actor.label,
            },
            action: event.action,
            target: AuditTarget {
                kind: event.target.kind,
                id: event.target.id,
            },
            // Written by `domain::audit::Change`, always an object.
            change: serde_json::from_str(&event.changes).unwrap_or_default(),
        }
    }
}
