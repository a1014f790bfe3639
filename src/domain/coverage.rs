//! The two rules that guard a client's groups or teams.
//!
//! *Coverage*: a client must be in at least one group or team that has at least one active
//! staff user, or nobody at the firm could answer them. Team accounts do not count: they are
//! queues that people staff, not people.
//!
//! *Confidentiality* (contact groups only): everyone in a contact group sees everyone else in
//! it, so a group is one relationship. Adding a client to a group that already holds another
//! client could show unrelated clients to each other; it needs an explicit override by someone
//! who knows the clients share the relationship (a husband and wife, say).

use super::conflict::{ConflictCode, Refusal};
use super::tenancy::GroupModel;

/// What the rules need to know of one chosen group or team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupFacts {
    /// Active staff users in the group (team accounts excluded).
    pub active_staff: u64,
    /// Clients already in the group, not counting the one being added.
    pub other_clients: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupRuleViolation {
    #[error("choose at least one {0}")]
    NoGroupChosen(&'static str),
    #[error(
        "a client must be covered by at least one {0} with an active staff user; none of those chosen has one"
    )]
    NotCovered(&'static str),
    #[error(
        "the contact group already holds {clients} client(s) of another relationship; everyone in a contact group sees everyone else, so adding this client needs an explicit confidentiality override"
    )]
    MixesRelationships { clients: u64 },
}

impl GroupRuleViolation {
    /// The refusal, on the request's `field` for coverage; the override for confidentiality.
    pub fn refusal(self, field: &str) -> Refusal {
        let (code, field) = match self {
            Self::NoGroupChosen(_) | Self::NotCovered(_) => (ConflictCode::ClientNotCovered, field),
            Self::MixesRelationships { .. } => (
                ConflictCode::ConfidentialityOverrideRequired,
                "confidentiality_override",
            ),
        };
        Refusal::new(code, Some(field), self.to_string())
    }
}

/// How many uncovered clients a refusal names; a longer list is cut with "and others".
pub const UNCOVERED_NAMED: usize = 5;

/// Refuses a change of groups, teams or staff that would leave clients who need cover with no
/// active staff user in any of their groups or teams. `uncovered` names those clients: up to
/// `UNCOVERED_NAMED` of them, and one more when there are others.
pub fn check_still_covered(uncovered: &[String]) -> Result<(), Refusal> {
    if uncovered.is_empty() {
        return Ok(());
    }
    let more = if uncovered.len() > UNCOVERED_NAMED {
        " and others"
    } else {
        ""
    };
    let named = &uncovered[..uncovered.len().min(UNCOVERED_NAMED)];
    Err(Refusal::new(
        ConflictCode::ClientNotCovered,
        None,
        format!(
            "this would leave clients with no active staff user in any of their groups or teams ({}{more}); \
             first give them another group or team with an active staff user",
            named.join(", ")
        ),
    ))
}

/// Checks the groups a client is about to be placed in.
pub fn check_client_groups(
    model: GroupModel,
    groups: &[GroupFacts],
    confidentiality_override: bool,
) -> Result<(), GroupRuleViolation> {
    let noun = model.group_kind().noun();
    if groups.is_empty() {
        return Err(GroupRuleViolation::NoGroupChosen(noun));
    }
    if !groups.iter().any(|g| g.active_staff > 0) {
        return Err(GroupRuleViolation::NotCovered(noun));
    }
    check_confidentiality(model, groups, confidentiality_override)
}

/// Checks adding a client to groups that already exist, without the coverage rule (used when a
/// covered client joins one more group).
pub fn check_confidentiality(
    model: GroupModel,
    groups: &[GroupFacts],
    confidentiality_override: bool,
) -> Result<(), GroupRuleViolation> {
    if model == GroupModel::ClientTeams || confidentiality_override {
        return Ok(());
    }
    let clients: u64 = groups.iter().map(|g| g.other_clients).sum();
    if clients > 0 {
        return Err(GroupRuleViolation::MixesRelationships { clients });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::GroupModel::*;
    use super::*;

    fn group(active_staff: u64, other_clients: u64) -> GroupFacts {
        GroupFacts {
            active_staff,
            other_clients,
        }
    }

    #[test]
    fn client_must_be_in_at_least_one_group() {
        assert_eq!(
            check_client_groups(ClientTeams, &[], false),
            Err(GroupRuleViolation::NoGroupChosen("client team"))
        );
    }

    #[test]
    fn client_must_be_covered_by_a_group_with_an_active_staff_user() {
        let err = check_client_groups(ContactGroups, &[group(0, 0), group(0, 0)], false);
        assert_eq!(err, Err(GroupRuleViolation::NotCovered("contact group")));
        assert!(check_client_groups(ContactGroups, &[group(0, 0), group(1, 0)], false).is_ok());
    }

    #[test]
    fn contact_group_holding_another_relationship_needs_an_override() {
        let groups = [group(1, 2)];
        assert_eq!(
            check_client_groups(ContactGroups, &groups, false),
            Err(GroupRuleViolation::MixesRelationships { clients: 2 })
        );
        assert!(check_client_groups(ContactGroups, &groups, true).is_ok());
    }

    #[test]
    fn a_change_that_leaves_clients_uncovered_names_the_first_five() {
        assert_eq!(check_still_covered(&[]), Ok(()));
        let names: Vec<String> = (1..=6).map(|i| format!("Client {i}")).collect();
        let refusal = check_still_covered(&names).unwrap_err();
        assert_eq!(refusal.code, ConflictCode::ClientNotCovered);
        assert!(
            refusal
                .reason
                .contains("(Client 1, Client 2, Client 3, Client 4, Client 5 and others)")
        );
        let two = check_still_covered(&names[..2]).unwrap_err();
        assert!(two.reason.contains("(Client 1, Client 2);"));
    }

    #[test]
    fn a_broken_group_rule_names_its_field() {
        let refusal = GroupRuleViolation::NotCovered("client team").refusal("client_teams");
        assert_eq!(refusal.code, ConflictCode::ClientNotCovered);
        assert_eq!(refusal.field.as_deref(), Some("client_teams"));
        let mixed = GroupRuleViolation::MixesRelationships { clients: 1 }.refusal("contact_groups");
        assert_eq!(mixed.code, ConflictCode::ConfidentialityOverrideRequired);
        assert_eq!(mixed.field.as_deref(), Some("confidentiality_override"));
    }

    #[test]
    fn client_teams_hold_many_clients_without_warning() {
        assert!(check_client_groups(ClientTeams, &[group(3, 500)], false).is_ok());
    }
}
