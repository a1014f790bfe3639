//! Record changes from the CRM applied to linked clients: a deleted or merged record unlinks
//! its clients, and an updated one updates every client linked to it, under the rules for
//! each field (an active client's e-mail is their sign-in; a new e-mail of an invited client
//! re-sends the invitation). The inbox worker calls these; the store only runs the SQL.

use sqlx::{AnyConnection, Connection};
use uuid::Uuid;

use super::{Error, Result, refusal_reason};
use crate::domain::FieldError;
use crate::domain::client_status::ClientStatus;
use crate::domain::invite::parse_mobile;
use crate::domain::org_link::InboxState;
use crate::domain::record_change::{ClaimedChange, RecordDetails, RecordEffect, RecordValue};
use crate::domain::tenancy::MobilePolicy;
use crate::domain::user;
use crate::domain::values::{E164Phone, Email, PersonName, PhoneRegion, Title};
use crate::store::clients::ClientDetails;
use crate::store::inbox::{claim_newest, fail_in, finish, linked_clients, unlink_record};
use crate::store::users::email_holder;
use crate::store::{self, Store, lock_tenancy};

/// Applies one change in one transaction, and marks it done or skipped in the same
/// transaction. An error leaves nothing changed.
pub async fn apply(
    store: &Store,
    claimed: &ClaimedChange,
    effect: &RecordEffect,
    actor: &str,
) -> Result<(InboxState, String)> {
    let now = store.now();
    let mut tx = store.write_tx().await?;
    let done = apply_in(store, &mut tx, claimed, effect, actor, now).await?;
    tx.commit().await?;
    Ok(done)
}

/// Applies the changes of linked records in one transaction, in the order given (per record
/// by modification time), after locking the tenancies they touch in one order, so two
/// workers never wait on each other's locks. A change refused for its values or a broken rule
/// rolls back alone (to a savepoint) and is kept as failed; a database failure rolls back the
/// whole group, for the caller to apply its changes one at a time.
pub async fn apply_all(
    store: &Store,
    changes: &[(&ClaimedChange, RecordEffect)],
    tenancies: &[Uuid],
    actor: &str,
) -> store::Result<Vec<Result<(InboxState, String)>>> {
    let now = store.now();
    let mut tx = store.write_tx().await?;
    let mut locks = tenancies.to_vec();
    locks.sort();
    locks.dedup();
    for tenancy in locks {
        match lock_tenancy(&mut tx, tenancy).await {
            Ok(()) | Err(store::Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let mut results = Vec::with_capacity(changes.len());
    for (claimed, effect) in changes {
        let mut savepoint = (*tx).begin().await?;
        match apply_in(store, &mut savepoint, claimed, effect, actor, now).await {
            Ok(done) => {
                savepoint.commit().await?;
                results.push(Ok(done));
            }
            Err(Error::Store(store::Error::Database(e))) => return Err(e.into()),
            Err(refusal) => {
                savepoint.rollback().await?;
                let reason = refusal_reason(&refusal);
                fail_in(&mut tx, claimed.id, &reason, now, true, now).await?;
                results.push(Err(refusal));
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

/// One change's effect and its item's state, in `tx`.
async fn apply_in(
    store: &Store,
    tx: &mut AnyConnection,
    claimed: &ClaimedChange,
    effect: &RecordEffect,
    actor: &str,
    now: i64,
) -> Result<(InboxState, String)> {
    let c = &claimed.change;
    let link = claimed.org_link_id.to_string();
    if !claim_newest(tx, &link, &c.record_id, c.modstamp).await? {
        let outcome = "older than (or as old as) a change already applied to this record";
        finish(tx, claimed.id, InboxState::Skipped, outcome, now).await?;
        return Ok((InboxState::Skipped, outcome.into()));
    }
    let (state, outcome) = match effect {
        RecordEffect::Unlink => {
            let unlinked = unlink_record(tx, &link, &c.record_id).await?;
            let what = match &c.master_record_id {
                Some(master) => format!("record merged into {master}"),
                None => "record deleted".to_string(),
            };
            if unlinked.is_empty() {
                (
                    InboxState::Done,
                    format!("{what}; no client was linked to it"),
                )
            } else {
                (
                    InboxState::Done,
                    format!(
                        "{what}; unlinked client {} (the client is kept)",
                        unlinked.join(", ")
                    ),
                )
            }
        }
        RecordEffect::Update(details) => {
            let linked = linked_clients(tx, &link, &c.record_id).await?;
            if linked.is_empty() {
                (
                    InboxState::Skipped,
                    "no client is linked to this record".to_string(),
                )
            } else {
                let mut notes = Vec::new();
                for (tenancy, client) in linked {
                    if let Some(note) =
                        follow_record(store, tx, tenancy, client, details, actor, now).await?
                    {
                        notes.push(format!("client {client}: {note}"));
                    }
                }
                if notes.is_empty() {
                    (
                        InboxState::Skipped,
                        "nothing Liaison follows changed".to_string(),
                    )
                } else {
                    (InboxState::Done, notes.join("; "))
                }
            }
        }
    };
    finish(tx, claimed.id, state, &outcome, now).await?;
    Ok((state, outcome))
}

/// A linked client's details follow the record. Returns what changed, if anything.
async fn follow_record(
    store: &Store,
    tx: &mut AnyConnection,
    tenancy: Uuid,
    client: Uuid,
    details: &RecordDetails,
    actor: &str,
    now: i64,
) -> Result<Option<String>> {
    lock_tenancy(tx, tenancy).await?;
    let before = store.client_in(tx, tenancy, client).await?;
    let (policy, tenancy_region) = store::tenancies::phone_settings(tx, tenancy).await?;
    let region = details.phone_region.or(tenancy_region);

    // A value that does not parse is left as it was and reported on the item; the rest of the
    // change still applies.
    let mut problems = Vec::new();
    let first_name = lenient(
        required(&details.first_name, PersonName::parse),
        &mut problems,
    )?;
    let last_name = lenient(
        required(&details.last_name, PersonName::parse),
        &mut problems,
    )?;
    let email = lenient(required(&details.email, Email::parse), &mut problems)?;
    let (mobile_field, mobile_value) = &details.mobile;
    let mobile = match (policy, mobile_value) {
        // A tenancy that does not collect mobiles ignores the record's.
        (MobilePolicy::Hidden, _) | (_, None) => None,
        (_, Some(raw)) => lenient(
            parse_record_mobile(raw.as_deref(), policy, region)
                .map(Some)
                .map_err(|reason| Error::invalid(mobile_field.clone(), reason)),
            &mut problems,
        )?,
    };
    let title = match &details.title.1 {
        None => None,
        Some(raw) => lenient(
            Title::parse_or_default(raw.as_deref())
                .map(Some)
                .map_err(|reason| Error::invalid(details.title.0.clone(), reason)),
            &mut problems,
        )?,
    };

    let mut changed = Vec::new();
    let mut notes = Vec::new();
    let mut after = ClientDetails {
        first_name: first_name.map_or(before.first_name.clone(), |v| v.as_str().to_string()),
        last_name: last_name.map_or(before.last_name.clone(), |v| v.as_str().to_string()),
        email: before.email.clone(),
        mobile: mobile.map_or(before.mobile.clone(), |v| v.map(|m| m.as_str().to_string())),
        title: title.map_or(before.title.clone(), |v| v.as_str().to_string()),
    };
    let mut email_changed = false;
    if let Some(email) = &email
        && email.key() != before.email.to_lowercase()
    {
        if before.status == ClientStatus::Active {
            notes.push("e-mail not changed: an active client's e-mail is their sign-in");
        } else {
            user::check_email_free(email_holder(tx, tenancy, email, Some(client)).await?)?;
            after.email = email.as_str().to_string();
            email_changed = true;
            changed.push("email");
        }
    } else if let Some(email) = &email
        && email.as_str() != before.email
    {
        // Only the case changed: keep the record's spelling.
        after.email = email.as_str().to_string();
        changed.push("email");
    }
    if after.first_name != before.first_name {
        changed.push("first_name");
    }
    if after.last_name != before.last_name {
        changed.push("last_name");
    }
    if after.mobile != before.mobile {
        changed.push("mobile");
    }
    if after.title != before.title {
        changed.push("title");
    }
    if changed.is_empty() {
        // Nothing applies, so the change fails with what was wrong: waiting will not fix it.
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        return Ok(if notes.is_empty() {
            None
        } else {
            Some(notes.join("; "))
        });
    }
    store::clients::set_details(tx, tenancy, client, &after, now).await?;
    let mut note = format!("updated {}", changed.join(", "));
    // A new address gets a new invitation; the links sent to the old one stop working.
    if email_changed && before.status == ClientStatus::Invited {
        store
            .transition_in(tx, tenancy, client, ClientStatus::resend, actor)
            .await?;
        note.push_str("; invitation re-sent to the new e-mail");
    }
    for n in notes {
        note.push_str("; ");
        note.push_str(n);
    }
    for p in problems {
        note.push_str(&format!("; {} not applied: {}", p.field, p.reason));
    }
    Ok(Some(note))
}

/// Parses one mapped field; a required one (a name, the e-mail) may not be empty.
fn required<T>(
    (field, value): &(String, RecordValue),
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>> {
    match value {
        None => Ok(None),
        Some(None) => Err(Error::invalid(field.clone(), "is empty in Salesforce")),
        Some(Some(raw)) => parse(raw)
            .map(Some)
            .map_err(|reason| Error::invalid(field.clone(), reason)),
    }
}

/// Takes a field's refusal as a problem to report, passing any other error on.
fn lenient<T>(parsed: Result<Option<T>>, problems: &mut Vec<FieldError>) -> Result<Option<T>> {
    match parsed {
        Err(Error::Invalid(errors)) => {
            problems.extend(errors);
            Ok(None)
        }
        other => other,
    }
}

/// A record's mobile under the tenancy's policy, a national number read in `region`.
fn parse_record_mobile(
    raw: Option<&str>,
    policy: MobilePolicy,
    region: Option<PhoneRegion>,
) -> std::result::Result<Option<E164Phone>, String> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        Some(value) if policy != MobilePolicy::Hidden => {
            E164Phone::parse_in_region(value, region).map(Some)
        }
        given => parse_mobile(given, policy),
    }
}
