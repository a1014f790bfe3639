//! Inviting a client: by hand (the JSON API), from a Salesforce record as the staff user a
//! Salesforce user maps to (the canvas form and the link's JSON API), and automatically from a
//! record change (the inbox worker). All of them come through `invite`'s one transaction, so
//! they share the rules (groups, coverage, confidentiality, one client per e-mail) and the
//! idempotency per record.

use sqlx::AnyConnection;
use uuid::Uuid;

use super::{Error, Result};
use crate::crm::record::RecordKind;
use crate::domain::FieldError;
use crate::domain::client_status::ClientStatus;
use crate::domain::conflict::Refusal;
use crate::domain::coverage;
use crate::domain::invite::{Invite, InviteInput, NewGroupInput};
use crate::domain::org_link::{AutoInvite, InboxState, OrgLink};
use crate::domain::record_change::{ClaimedChange, RecordDetails, RecordValue};
use crate::domain::tenancy::{GroupModel, MobilePolicy, group_name_for};
use crate::domain::user;
use crate::domain::values::{E164Phone, SalesforceId};
use crate::store::clients::{NewClient, insert_client};
use crate::store::groups::{add_firm_members, group_facts, insert_group, insert_member};
use crate::store::inbox::{claim_newest, finish};
use crate::store::{self, ActingStaff, Client, RecordRef, Store, is_unique_violation};

pub use crate::domain::invite::Inviter;

#[derive(Debug, Clone, Default)]
pub struct InviteOptions {
    pub record: Option<RecordRef>,
    /// Send the invitation now rather than keep a draft.
    pub send: bool,
}

/// The client an invitation made, or found already made from the same record.
#[derive(Debug, Clone)]
pub struct Invited {
    pub client: Client,
    pub created: bool,
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

/// Creates a client in the chosen groups (and a new contact group if asked), as a draft or
/// sent at once, enforcing one client per e-mail, coverage and confidentiality, all in one
/// transaction. From a record it is idempotent: the record's client, if it has one in this
/// tenancy, is returned unchanged (`created: false`), so a double click, a retry or a second
/// tab makes one client. The record link, the first status and its write-back (and, when
/// sending, the start of the invitation) are one transaction.
pub async fn invite(
    store: &Store,
    tenancy: Uuid,
    invite: &Invite,
    inviter: Inviter,
    actor: &str,
    options: &InviteOptions,
) -> Result<Invited> {
    let request = Request {
        tenancy,
        invite,
        inviter,
        actor,
        options,
    };
    committed(store, &request, None).await
}

/// Parses the input against the tenancy's settings and creates the client (or finds the
/// record's client already made), linked to the record, sent or kept as a draft, as the acting
/// staff user.
pub async fn from_record(
    store: &Store,
    acting: &ActingStaff,
    actor: &str,
    from: &FromRecord,
    input: InviteInput,
    send: bool,
) -> Result<Invited> {
    let parsed =
        Invite::parse(input, acting.group_model, acting.mobile_policy).map_err(Error::Invalid)?;
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
    invite(store, acting.tenancy, &parsed, inviter, actor, &options).await
}

/// Auto-invite: creates (or, idempotently, finds) the record's client as a staff user's
/// Invite would, linked to the record and sent or kept as a draft per the link's settings, as
/// an administrator-level inviter, and records the change as applied in the same transaction.
/// Field errors name the record's fields.
pub async fn from_change(
    store: &Store,
    link: &OrgLink,
    claimed: &ClaimedChange,
    auto: &AutoInvite,
    details: &RecordDetails,
    actor: &str,
) -> Result<Invited> {
    let tenancy = store.tenancy(auto.tenancy_id).await?;
    let input = change_input(auto, details, &tenancy);
    let (model, policy) = (tenancy.group_model, tenancy.mobile_policy);
    let parsed = Invite::parse(input, model, policy).map_err(|errors| {
        let rename = |field: &str| match field {
            "first_name" => details.first_name.0.clone(),
            "last_name" => details.last_name.0.clone(),
            "email" => details.email.0.clone(),
            "mobile" => details.mobile.0.clone(),
            "title" => details.title.0.clone(),
            f if f.starts_with("new_contact_group") => {
                "auto_invite.new_contact_group_members".to_string()
            }
            _ => "auto_invite.groups".to_string(),
        };
        Error::Invalid(
            errors
                .into_iter()
                .map(|e| FieldError::new(rename(&e.field), e.reason))
                .collect(),
        )
    })?;
    let sobject = match claimed.change.sobject.as_str() {
        "Contact" => "Contact",
        _ => "Account",
    };
    let record_id =
        SalesforceId::parse(&claimed.change.record_id).map_err(|r| Error::invalid("Id", r))?;
    let options = InviteOptions {
        record: Some(RecordRef {
            org_link: link.id,
            sobject,
            record_id,
        }),
        send: auto.send,
    };
    let request = Request {
        tenancy: auto.tenancy_id,
        invite: &parsed,
        inviter: Inviter {
            staff: None,
            administers_users: true,
        },
        actor,
        options: &options,
    };
    committed(store, &request, Some(claimed)).await
}

/// What the record offers an auto-invite, as the invite form would offer it.
fn change_input(
    auto: &AutoInvite,
    details: &RecordDetails,
    tenancy: &store::Tenancy,
) -> InviteInput {
    let value = |field: &(String, RecordValue)| field.1.clone().flatten();
    let (contact_groups, client_teams) = match tenancy.group_model {
        GroupModel::ContactGroups => (auto.groups.clone(), Vec::new()),
        GroupModel::ClientTeams => (Vec::new(), auto.groups.clone()),
    };
    // A group of the client's own, named by the tenancy's convention from the record.
    let new_contact_group = auto
        .new_contact_group_members
        .as_ref()
        .map(|members| NewGroupInput {
            name: group_name_for(
                &tenancy.group_name_convention,
                &value(&details.first_name).unwrap_or_default(),
                &value(&details.last_name).unwrap_or_default(),
            ),
            members: members.clone(),
        });
    InviteInput {
        first_name: value(&details.first_name).unwrap_or_default(),
        last_name: value(&details.last_name).unwrap_or_default(),
        email: value(&details.email).unwrap_or_default(),
        // A national number is offered in E.164 when its region reads it; otherwise the
        // invite's own check names the field.
        mobile: match tenancy.mobile_policy {
            MobilePolicy::Hidden => None,
            _ => value(&details.mobile).map(|raw| {
                E164Phone::parse_in_region(
                    &raw,
                    details.phone_region.or(Some(tenancy.phone_region)),
                )
                .map_or(raw, |m| m.as_str().to_string())
            }),
        },
        title: value(&details.title),
        contact_groups,
        new_contact_group,
        client_teams,
        ..Default::default()
    }
}

/// One invite, whoever asks.
struct Request<'a> {
    tenancy: Uuid,
    invite: &'a Invite,
    inviter: Inviter,
    actor: &'a str,
    options: &'a InviteOptions,
}

/// Runs the invite in its transaction and commits it, with the inbox item it settles, if any.
async fn committed(
    store: &Store,
    request: &Request<'_>,
    item: Option<&ClaimedChange>,
) -> Result<Invited> {
    // Invites share the tenancy (see `Store::open_invite`); two that race for the same e-mail
    // or record meet at a unique index instead, and the loser runs again to see the winner's
    // client: the record's (idempotent) or a duplicate e-mail (a conflict).
    match once(store, request, item).await {
        Err(Error::Store(store::Error::Database(e))) if is_unique_violation(&e) => {
            once(store, request, item).await
        }
        other => other,
    }
}

async fn once(
    store: &Store,
    request: &Request<'_>,
    item: Option<&ClaimedChange>,
) -> Result<Invited> {
    let mut tx = store.write_tx().await?;
    let now = store.now();
    let invited = invite_in(store, &mut tx, request, now).await?;
    if let Some(claimed) = item {
        let outcome = if invited.created {
            format!(
                "auto-invited as client {} ({})",
                invited.client.id,
                if request.options.send {
                    "sent"
                } else {
                    "draft"
                }
            )
        } else {
            format!("the record already had client {}", invited.client.id)
        };
        let c = &claimed.change;
        claim_newest(
            &mut tx,
            &claimed.org_link_id.to_string(),
            &c.record_id,
            c.modstamp,
        )
        .await?;
        finish(&mut tx, claimed.id, InboxState::Done, &outcome, now).await?;
    }
    tx.commit().await?;
    Ok(invited)
}

/// The invite's checks and writes in `tx`; the caller commits.
async fn invite_in(
    store: &Store,
    tx: &mut AnyConnection,
    request: &Request<'_>,
    now: i64,
) -> Result<Invited> {
    let Request {
        tenancy,
        invite,
        inviter,
        actor,
        options,
    } = *request;
    let opening = store
        .open_invite(tx, tenancy, options.record.as_ref(), &invite.email)
        .await?;
    let model = opening.model;
    if options.record.is_some() {
        if !opening.serves {
            return Err(Error::invalid(
                "org_link_id",
                "is not an org link of this tenancy",
            ));
        }
        // The record's client, made earlier: the invite is answered with it.
        if let Some(existing) = opening.record_client {
            let client = store.client_in(tx, tenancy, existing).await?;
            return Ok(Invited {
                client,
                created: false,
            });
        }
    }
    user::check_email_free(opening.email_taken_by)?;
    let kind = model.group_kind();
    let field = match model {
        GroupModel::ContactGroups => "contact_groups",
        GroupModel::ClientTeams => "client_teams",
    };

    // Plain staff may only use contact groups they belong to; to them any other id, known or
    // not, is refused alike, so nothing tells them which groups exist.
    if model == GroupModel::ContactGroups
        && !inviter.administers_users
        && let Some(staff) = inviter.staff
    {
        for (i, group) in invite.groups.iter().enumerate() {
            if !store::groups::is_member(tx, tenancy, *group, staff).await? {
                return Err(Error::invalid(
                    format!("{field}[{i}]"),
                    "is not a contact group you belong to",
                ));
            }
        }
    }
    // A contact group holds one relationship: two invites into the same one take turns, so the
    // confidentiality rule sees the other's client.
    if model == GroupModel::ContactGroups {
        store.lock_groups(tx, tenancy, &invite.groups).await?;
    }
    let mut facts = group_facts(tx, tenancy, kind, &invite.groups, None, field).await?;

    let mut group_ids = invite.groups.clone();
    if let Some(new_group) = &invite.new_group {
        let id = insert_group(tx, tenancy, kind, &new_group.name, now).await?;
        add_firm_members(
            tx,
            tenancy,
            id,
            &new_group.members,
            "new_contact_group.members",
            now,
        )
        .await?;
        if let (Some(staff), false) = (inviter.staff, inviter.administers_users) {
            insert_member(tx, tenancy, id, staff, now).await?;
        }
        facts.extend(group_facts(tx, tenancy, kind, &[id], None, "new_contact_group").await?);
        group_ids.push(id);
    }
    let rule_field = if invite.new_group.is_some() {
        "new_contact_group.members"
    } else {
        field
    };
    coverage::check_client_groups(model, &facts, invite.confidentiality_override)
        .map_err(|v| v.refusal(rule_field))?;

    let id = Uuid::now_v7();
    let status = if options.send {
        ClientStatus::send(ClientStatus::Draft).map_err(Refusal::from)?
    } else {
        ClientStatus::Draft
    };
    let created = NewClient {
        id,
        tenancy,
        invite,
        status,
        groups: &group_ids,
        record: options.record.as_ref(),
        actor,
        now,
    };
    insert_client(tx, store.backend(), &created).await?;
    let client = Client {
        id,
        tenancy_id: tenancy,
        first_name: invite.first_name.as_str().to_string(),
        last_name: invite.last_name.as_str().to_string(),
        email: invite.email.as_str().to_string(),
        mobile: invite.mobile.as_ref().map(|m| m.as_str().to_string()),
        title: invite.title.as_str().to_string(),
        status,
        status_label: status.label().into(),
        message: invite.message.as_ref().map(|m| m.as_str().to_string()),
        created_at: crate::clock::from_millis(now),
    };
    Ok(Invited {
        client,
        created: true,
    })
}
