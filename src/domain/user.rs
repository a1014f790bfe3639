//! Kinds of user and what each staff role may do.

use serde::{Deserialize, Serialize};

use super::conflict::{ConflictCode, Refusal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    Staff,
    Client,
    /// A staff-kind account that stands for a team ("Support"); staff delegates act as it.
    TeamAccount,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Client => "client",
            Self::TeamAccount => "team_account",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Staff, Self::Client, Self::TeamAccount]
            .into_iter()
            .find(|k| k.as_str() == value)
    }

    /// Staff and team accounts are the firm's side; clients are the other.
    pub fn is_firm_side(self) -> bool {
        !matches!(self, Self::Client)
    }
}

/// Staff, clients and team accounts share one e-mail space per tenancy: refuses an e-mail
/// already held by a user of the tenancy, `holder` being that user's kind. A client is named
/// as such, so inviting the same person twice says who they already are.
pub fn check_email_free(holder: Option<UserKind>) -> Result<(), Refusal> {
    let reason = match holder {
        None => return Ok(()),
        Some(UserKind::Client) => "a client with this e-mail already exists in this tenancy",
        Some(_) => "this e-mail is already used by another user of this tenancy",
    };
    Err(Refusal::new(
        ConflictCode::DuplicateEmail,
        Some("email"),
        reason,
    ))
}

/// A staff user's or team account's mobile receives their sign-in codes, so no two of them
/// share one in a tenancy (clients may: a family often does).
pub fn check_firm_mobile_free(taken: bool) -> Result<(), Refusal> {
    if taken {
        return Err(Refusal::new(
            ConflictCode::DuplicateMobile,
            Some("mobile"),
            "this mobile number is already used by another staff user or team account of this tenancy",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    SystemAdministrator,
    UsersAdministrator,
    Staff,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SystemAdministrator => "system_administrator",
            Self::UsersAdministrator => "users_administrator",
            Self::Staff => "staff",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::SystemAdministrator,
            Self::UsersAdministrator,
            Self::Staff,
        ]
        .into_iter()
        .find(|r| r.as_str() == value)
    }

    /// System and users administrators manage users, groups and teams; they may add a client
    /// to any group, where plain staff may only use groups they belong to.
    pub fn administers_users(self) -> bool {
        matches!(self, Self::SystemAdministrator | Self::UsersAdministrator)
    }

    /// Only system administrators change the tenancy's own settings.
    pub fn administers_tenancy(self) -> bool {
        matches!(self, Self::SystemAdministrator)
    }
}

/// Why a staff user's role or activity may not be changed by the one who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoleRefusal {
    #[error("only system administrators may appoint system administrators")]
    AppointSystemAdministrator,
    #[error("only system administrators may demote or deactivate a system administrator")]
    DemoteSystemAdministrator,
}

/// Whether `by` (a staff user's role, or `None` for an operator) holds a system
/// administrator's rights over other staff.
fn rules_administrators(by: Option<StaffRole>) -> bool {
    by.is_none_or(StaffRole::administers_tenancy)
}

/// Only a system administrator (or an operator) makes someone a system administrator.
pub fn check_appointment(by: Option<StaffRole>, role: StaffRole) -> Result<(), RoleRefusal> {
    if role == StaffRole::SystemAdministrator && !rules_administrators(by) {
        return Err(RoleRefusal::AppointSystemAdministrator);
    }
    Ok(())
}

/// Whether asking for a system administrator's change needs their current role checked: a
/// system administrator's rights are changed only by a system administrator (or an operator),
/// so a users administrator cannot demote or lock out the one above them.
pub fn must_check_target(by: Option<StaffRole>) -> bool {
    !rules_administrators(by)
}

/// Refuses, to someone who does not hold a system administrator's rights, a change that
/// demotes (`role` other than system administrator) or deactivates (`active: false`) a system
/// administrator (`target`).
pub fn check_change_of(
    target: StaffRole,
    role: Option<StaffRole>,
    active: Option<bool>,
) -> Result<(), RoleRefusal> {
    let demotes = role.is_some_and(|r| r != StaffRole::SystemAdministrator);
    if target == StaffRole::SystemAdministrator && (demotes || active == Some(false)) {
        return Err(RoleRefusal::DemoteSystemAdministrator);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_refused_once_any_user_of_the_tenancy_holds_it() {
        assert_eq!(check_email_free(None), Ok(()));
        let by_client = check_email_free(Some(UserKind::Client)).unwrap_err();
        assert_eq!(by_client.code, ConflictCode::DuplicateEmail);
        assert_eq!(
            by_client.reason,
            "a client with this e-mail already exists in this tenancy"
        );
        let by_staff = check_email_free(Some(UserKind::Staff)).unwrap_err();
        assert_eq!(
            by_staff.reason,
            "this e-mail is already used by another user of this tenancy"
        );
    }

    #[test]
    fn only_administrators_manage_users() {
        assert!(StaffRole::SystemAdministrator.administers_users());
        assert!(StaffRole::UsersAdministrator.administers_users());
        assert!(!StaffRole::Staff.administers_users());
    }

    #[test]
    fn only_system_administrators_and_operators_appoint_system_administrators() {
        use StaffRole::*;
        for by in [None, Some(SystemAdministrator)] {
            assert_eq!(check_appointment(by, SystemAdministrator), Ok(()));
            assert!(!must_check_target(by));
        }
        for by in [Some(UsersAdministrator), Some(Staff)] {
            assert_eq!(
                check_appointment(by, SystemAdministrator),
                Err(RoleRefusal::AppointSystemAdministrator)
            );
            assert_eq!(check_appointment(by, UsersAdministrator), Ok(()));
            assert!(must_check_target(by));
        }
    }

    #[test]
    fn a_system_administrator_is_not_demoted_or_deactivated_from_below() {
        use StaffRole::*;
        let refused = Err(RoleRefusal::DemoteSystemAdministrator);
        assert_eq!(
            check_change_of(SystemAdministrator, Some(Staff), None),
            refused
        );
        assert_eq!(
            check_change_of(SystemAdministrator, None, Some(false)),
            refused
        );
        assert_eq!(
            check_change_of(SystemAdministrator, Some(SystemAdministrator), Some(true)),
            Ok(())
        );
        assert_eq!(
            check_change_of(UsersAdministrator, Some(Staff), Some(false)),
            Ok(())
        );
    }

    #[test]
    fn only_system_administrators_change_tenancy_settings() {
        assert!(StaffRole::SystemAdministrator.administers_tenancy());
        assert!(!StaffRole::UsersAdministrator.administers_tenancy());
        assert!(!StaffRole::Staff.administers_tenancy());
    }
}
