//! Staff users, as administrators add and change them and name the Salesforce user who acts
//! as each. Who may appoint, demote or deactivate a system administrator is decided here, from
//! the domain's rule, before anything is written.

use uuid::Uuid;

use super::{Error, Result};
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
) -> Result<Staff> {
    let new = parse_new(input).map_err(Error::Invalid)?;
    user::check_appointment(by, new.role).map_err(forbidden)?;
    Ok(store.create_staff(tenancy, new).await?)
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
) -> Result<Staff> {
    if let Some(role) = change.role {
        user::check_appointment(by, role).map_err(forbidden)?;
    }
    if user::must_check_target(by) {
        let target = store.staff(tenancy, id).await?;
        user::check_change_of(target.role, change.role, change.active).map_err(forbidden)?;
    }
    let update = parse_change(change).map_err(Error::Invalid)?;
    Ok(store.update_staff(tenancy, id, update).await?)
}

/// Sets (or clears) the Salesforce user who acts as a staff user; one Salesforce user acts as
/// one staff user of a tenancy.
pub async fn set_salesforce_user(
    store: &Store,
    tenancy: Uuid,
    id: Uuid,
    input: SalesforceUserInput,
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
    Ok(store
        .set_staff_salesforce_user(tenancy, id, user_id.as_ref(), username)
        .await?)
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
