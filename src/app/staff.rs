//! Staff users, as administrators add and change them and name the Salesforce user who acts
//! as each. Who may appoint, demote or deactivate a system administrator is decided here, from
//! the domain's rule, before anything is written.

use uuid::Uuid;

use super::{Error, Result, audit};
use crate::domain::audit::{Action, Actor, Change, Event, Target, TargetKind};
use crate::domain::user::{self, RoleRefusal, StaffRole};
use crate::domain::values::{
    E164Phone, Email, PersonName, SalesforceId, SalesforceUsername, Title,
};
use crate::domain::{FieldError, FieldErrors};
use crate::store::{NewStaff, Staff, StaffUpdate, Store};

/// A new staff user as asked for, before parsing.
#[derive(Debug, Clone, Default)]
pub struct NewStaffInput {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: Option<String>,
    pub title: Option<String>,
    /// `staff` when not said.
    pub role: Option<StaffRole>,
}

/// A change of a staff user as asked for, before parsing: what is left out stays as it is.
#[derive(Debug, Clone, Default)]
pub struct StaffChange {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub mobile: Option<String>,
    pub title: Option<String>,
    pub role: Option<StaffRole>,
    /// `false` deactivates the user, `true` reactivates them.
    pub active: Option<bool>,
}

/// The Salesforce user who acts as a staff user, as asked for: each left out or `None` is
/// cleared.
#[derive(Debug, Clone, Default)]
pub struct SalesforceUserInput {
    pub user_id: Option<String>,
    pub username: Option<String>,
}

fn forbidden(refusal: RoleRefusal) -> Error {
    Error::Forbidden(refusal.to_string())
}

/// Adds a staff user to the tenancy, as someone of role `by` (`None`: an operator); only a
/// system administrator appoints a system administrator.
pub async fn create(
    store: &Store,
    tenancy: Uuid,
    by: Option<StaffRole>,
    input: NewStaffInput,
    actor: &Actor,
) -> Result<Staff> {
    let new = parse_new(input).map_err(Error::Invalid)?;
    user::check_appointment(by, new.role).map_err(forbidden)?;
    let mut tx = store.write_tx().await?;
    let created = store.create_staff_in(&mut tx, tenancy, new).await?;
    let change = Change::new()
        .set("first_name", &created.first_name)
        .set("last_name", &created.last_name)
        .set("email", &created.email)
        .set("mobile", &created.mobile)
        .set("title", &created.title)
        .set("role", &created.role);
    let event = staff_event(actor, Action::StaffCreated, &created, change);
    audit::record(store, &mut tx, &event).await?;
    tx.commit().await?;
    Ok(created)
}

/// An entry about a staff user, in their tenancy's trail.
fn staff_event(actor: &Actor, action: Action, staff: &Staff, change: Change) -> Event {
    Event {
        tenancy: Some(staff.tenancy_id),
        actor: actor.clone(),
        action,
        target: Target {
            kind: TargetKind::Staff,
            id: staff.id,
        },
        change,
    }
}

/// What a change did to a staff user, as entries of the trail: their details, their role, and
/// their deactivation or reactivation, each an action of its own.
fn update_events(actor: &Actor, before: &Staff, after: &Staff) -> Vec<Event> {
    let details = Change::new()
        .diff("first_name", &before.first_name, &after.first_name)
        .diff("last_name", &before.last_name, &after.last_name)
        .diff("mobile", &before.mobile, &after.mobile)
        .diff("title", &before.title, &after.title);
    let role = Change::new().diff("role", &before.role, &after.role);
    let active = Change::new().diff("active", &before.active, &after.active);
    let activation = if after.active {
        Action::StaffReactivated
    } else {
        Action::StaffDeactivated
    };
    [
        (Action::StaffUpdated, details),
        (Action::StaffRoleChanged, role),
        (activation, active),
    ]
    .into_iter()
    .filter(|(_, change)| !change.is_empty())
    .map(|(action, change)| staff_event(actor, action, after, change))
    .collect()
}

/// Changes a staff user, as someone of role `by`. The caller's right to make the change is
/// decided first, so a refused caller learns nothing from how the fields parse; deactivating
/// is refused while a client would be left without an active staff user.
pub async fn update(
    store: &Store,
    tenancy: Uuid,
    by: Option<StaffRole>,
    id: Uuid,
    change: StaffChange,
    actor: &Actor,
) -> Result<Staff> {
    if let Some(role) = change.role {
        user::check_appointment(by, role).map_err(forbidden)?;
    }
    if user::must_check_target(by) {
        let target = store.staff(tenancy, id).await?;
        user::check_change_of(target.role, change.role, change.active).map_err(forbidden)?;
    }
    let update = parse_change(change).map_err(Error::Invalid)?;
    let mut tx = store.write_tx().await?;
    let (before, after) = store.update_staff_in(&mut tx, tenancy, id, update).await?;
    audit::record_all(store, &mut tx, &update_events(actor, &before, &after)).await?;
    tx.commit().await?;
    Ok(after)
}

/// Sets (or clears) the Salesforce user who acts as a staff user; one Salesforce user acts as
/// one staff user of a tenancy. The trail records what changed, and nothing when the mapping
/// was already so.
pub async fn set_salesforce_user(
    store: &Store,
    tenancy: Uuid,
    id: Uuid,
    input: SalesforceUserInput,
    actor: &Actor,
) -> Result<Staff> {
    let mut errors = FieldErrors::new();
    let user_id = errors.optional(
        "user_id",
        input.user_id.as_deref(),
        SalesforceId::parse_user,
    );
    let username = errors.optional(
        "username",
        input.username.as_deref(),
        SalesforceUsername::parse,
    );
    errors.finish().map_err(Error::Invalid)?;
    let username = username.as_ref().map(SalesforceUsername::as_str);
    let mut tx = store.write_tx().await?;
    let (before, after) = store
        .set_staff_salesforce_user_in(&mut tx, tenancy, id, user_id.as_ref(), username)
        .await?;
    let change = Change::new()
        .diff(
            "salesforce_user_id",
            &before.salesforce_user_id,
            &after.salesforce_user_id,
        )
        .diff(
            "salesforce_username",
            &before.salesforce_username,
            &after.salesforce_username,
        );
    if !change.is_empty() {
        let event = staff_event(actor, Action::StaffSalesforceUserMapped, &after, change);
        audit::record(store, &mut tx, &event).await?;
    }
    tx.commit().await?;
    Ok(after)
}

fn parse_new(input: NewStaffInput) -> Result<NewStaff, Vec<FieldError>> {
    let mut errors = FieldErrors::new();
    let first_name = errors.take("first_name", PersonName::parse(&input.first_name));
    let last_name = errors.take("last_name", PersonName::parse(&input.last_name));
    let email = errors.take("email", Email::parse(&input.email));
    let mobile = errors.optional("mobile", input.mobile.as_deref(), E164Phone::parse);
    let title = errors.optional("title", input.title.as_deref(), Title::parse);
    errors.finish()?;
    // Every required field parsed when there are no errors.
    match (first_name, last_name, email) {
        (Some(first_name), Some(last_name), Some(email)) => Ok(NewStaff {
            first_name,
            last_name,
            email,
            mobile,
            title,
            role: input.role.unwrap_or(StaffRole::Staff),
        }),
        _ => Err(vec![FieldError::new("body", "is incomplete")]),
    }
}

fn parse_change(change: StaffChange) -> Result<StaffUpdate, Vec<FieldError>> {
    let mut errors = FieldErrors::new();
    let update = StaffUpdate {
        first_name: errors.optional(
            "first_name",
            change.first_name.as_deref(),
            PersonName::parse,
        ),
        last_name: errors.optional("last_name", change.last_name.as_deref(), PersonName::parse),
        mobile: errors.optional("mobile", change.mobile.as_deref(), E164Phone::parse),
        title: errors.optional("title", change.title.as_deref(), Title::parse),
        role: change.role,
        active: change.active,
    };
    errors.finish().map(|()| update)
}
