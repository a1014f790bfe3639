//! Who sees whom in an address book.
//!
//! Contacts come only from shared groups or teams. The model then decides which kinds of
//! member a viewer sees: in a contact group everyone sees everyone; in a client team clients
//! see the firm's side only, never other clients.

use super::tenancy::GroupModel;
use super::user::UserKind;

/// The kinds of fellow member `viewer` sees in the groups or teams they share.
pub fn visible_kinds(model: GroupModel, viewer: UserKind) -> &'static [UserKind] {
    const EVERYONE: &[UserKind] = &[UserKind::Staff, UserKind::TeamAccount, UserKind::Client];
    const FIRM_SIDE: &[UserKind] = &[UserKind::Staff, UserKind::TeamAccount];
    match (model, viewer) {
        (GroupModel::ContactGroups, _) => EVERYONE,
        (GroupModel::ClientTeams, UserKind::Client) => FIRM_SIDE,
        (GroupModel::ClientTeams, UserKind::Staff | UserKind::TeamAccount) => EVERYONE,
    }
}

/// Whether `viewer` sees `other`, given whether they share at least one group or team.
pub fn sees(model: GroupModel, viewer: UserKind, other: UserKind, share_a_group: bool) -> bool {
    share_a_group && visible_kinds(model, viewer).contains(&other)
}

#[cfg(test)]
mod tests {
    use super::GroupModel::*;
    use super::UserKind::*;
    use super::*;

    #[test]
    fn everyone_in_a_contact_group_sees_everyone_else_in_it_clients_included() {
        for viewer in [Staff, Client, TeamAccount] {
            for other in [Staff, Client, TeamAccount] {
                assert!(sees(ContactGroups, viewer, other, true));
            }
        }
    }

    #[test]
    fn clients_never_see_other_clients_through_a_client_team() {
        assert!(!sees(ClientTeams, Client, Client, true));
        assert!(sees(ClientTeams, Client, Staff, true));
        assert!(sees(ClientTeams, Client, TeamAccount, true));
    }

    #[test]
    fn staff_see_the_clients_of_their_teams_and_each_other() {
        assert!(sees(ClientTeams, Staff, Client, true));
        assert!(sees(ClientTeams, Staff, Staff, true));
        assert!(sees(ClientTeams, TeamAccount, Client, true));
    }

    #[test]
    fn nobody_sees_anyone_they_share_no_group_with() {
        for model in [ContactGroups, ClientTeams] {
            assert!(!sees(model, Staff, Client, false));
            assert!(!sees(model, Client, Staff, false));
        }
    }
}
