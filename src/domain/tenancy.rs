//! A tenancy's settings that shape its rules.

use serde::{Deserialize, Serialize};

use super::conflict::{ConflictCode, Refusal};

/// How a tenancy connects clients to staff. A tenancy uses one model at a time; the move from
/// contact groups to client teams is one-way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupModel {
    /// One group per relationship; everyone in a group sees everyone else in it.
    ContactGroups,
    /// Teams of staff that cover many clients; clients never see each other through a team.
    ClientTeams,
}

impl GroupModel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContactGroups => "contact_groups",
            Self::ClientTeams => "client_teams",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::ContactGroups, Self::ClientTeams]
            .into_iter()
            .find(|m| m.as_str() == value)
    }

    /// The kind of group this model uses.
    pub fn group_kind(self) -> GroupKind {
        match self {
            Self::ContactGroups => GroupKind::ContactGroup,
            Self::ClientTeams => GroupKind::ClientTeam,
        }
    }

    /// Refuses groups of the kind the tenancy does not use.
    pub fn check_kind(self, kind: GroupKind) -> Result<(), Refusal> {
        if self.group_kind() == kind {
            return Ok(());
        }
        Err(Refusal::new(
            ConflictCode::WrongGroupModel,
            None,
            format!(
                "this tenancy uses {}s, not {}s",
                self.group_kind().noun(),
                kind.noun()
            ),
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    ContactGroup,
    ClientTeam,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContactGroup => "contact_group",
            Self::ClientTeam => "client_team",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::ContactGroup, Self::ClientTeam]
            .into_iter()
            .find(|k| k.as_str() == value)
    }

    /// How the API and error messages name it.
    pub fn noun(self) -> &'static str {
        match self {
            Self::ContactGroup => "contact group",
            Self::ClientTeam => "client team",
        }
    }
}

/// Whether the invite form asks for a mobile number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MobilePolicy {
    Mandatory,
    Optional,
    Hidden,
}

impl MobilePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mandatory => "mandatory",
            Self::Optional => "optional",
            Self::Hidden => "hidden",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Mandatory, Self::Optional, Self::Hidden]
            .into_iter()
            .find(|p| p.as_str() == value)
    }
}

/// The per-tenancy convention that pre-fills a new contact group's name.
pub const DEFAULT_GROUP_NAME_CONVENTION: &str = "{last_name} Relationship";

/// Longest convention, before its placeholders are filled in.
pub const GROUP_NAME_CONVENTION_MAX: usize = 80;

/// Placeholders a convention may use.
const PLACEHOLDERS: [&str; 2] = ["{first_name}", "{last_name}"];

/// Checks a convention: it must name the relationship (use at least one placeholder), so the
/// name it yields is never blank and never the same for every client.
pub fn parse_group_name_convention(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err("must not be blank".into());
    }
    if value.chars().count() > GROUP_NAME_CONVENTION_MAX {
        return Err(format!(
            "must be at most {GROUP_NAME_CONVENTION_MAX} characters"
        ));
    }
    if !PLACEHOLDERS.iter().any(|p| value.contains(p)) {
        return Err("must contain {last_name} or {first_name}".into());
    }
    let mut rest = value.to_string();
    for p in PLACEHOLDERS {
        rest = rest.replace(p, "");
    }
    if rest.contains('{') || rest.contains('}') {
        return Err("may only use the placeholders {first_name} and {last_name}".into());
    }
    Ok(value.to_string())
}

/// A new contact group's name for a client, by the tenancy's convention: the name the form
/// proposes and the one auto-invite gives. Never blank: with no usable name in the record, it
/// falls back to "New Relationship".
pub fn group_name_for(convention: &str, first_name: &str, last_name: &str) -> String {
    let name = convention
        .replace("{first_name}", first_name.trim())
        .replace("{last_name}", last_name.trim());
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let only_fixed_text = first_name.trim().is_empty() && last_name.trim().is_empty();
    if name.is_empty() || only_fixed_text {
        "New Relationship".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_contact_group_name_defaults_to_last_name_relationship() {
        assert_eq!(
            group_name_for(DEFAULT_GROUP_NAME_CONVENTION, "Jane", "Smith"),
            "Smith Relationship"
        );
    }

    #[test]
    fn new_contact_group_name_is_never_blank() {
        assert_eq!(
            group_name_for(DEFAULT_GROUP_NAME_CONVENTION, "", "  "),
            "New Relationship"
        );
        assert_eq!(
            group_name_for("{first_name} {last_name}", "Jane", ""),
            "Jane"
        );
    }

    #[test]
    fn group_name_convention_must_name_the_relationship() {
        assert!(parse_group_name_convention("Relationship").is_err());
        assert!(parse_group_name_convention("  ").is_err());
        assert!(parse_group_name_convention("{surname} family").is_err());
        assert_eq!(
            parse_group_name_convention(" {last_name} family ").unwrap(),
            "{last_name} family"
        );
    }

    #[test]
    fn each_model_uses_its_own_kind_of_group() {
        assert_eq!(
            GroupModel::ContactGroups.group_kind(),
            GroupKind::ContactGroup
        );
        assert_eq!(GroupModel::ClientTeams.group_kind(), GroupKind::ClientTeam);
    }
}
