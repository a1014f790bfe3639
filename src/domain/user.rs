//! Kinds of user and what each staff role may do.

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_administrators_manage_users() {
        assert!(StaffRole::SystemAdministrator.administers_users());
        assert!(StaffRole::UsersAdministrator.administers_users());
        assert!(!StaffRole::Staff.administers_users());
    }

    #[test]
    fn only_system_administrators_change_tenancy_settings() {
        assert!(StaffRole::SystemAdministrator.administers_tenancy());
        assert!(!StaffRole::UsersAdministrator.administers_tenancy());
        assert!(!StaffRole::Staff.administers_tenancy());
    }
}
