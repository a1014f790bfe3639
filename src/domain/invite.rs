//! The invite payload: what staff fill in to create a client, parsed against the tenancy's
//! settings.

use uuid::Uuid;

use super::tenancy::{GroupModel, MobilePolicy};
use super::values::{DisplayName, E164Phone, Email, InviteMessage, PersonName, Title};
use super::{FieldError, FieldErrors};

/// The raw fields as they arrive from a form or a JSON body.
#[derive(Debug, Clone, Default)]
pub struct InviteInput {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub mobile: Option<String>,
    pub title: Option<String>,
    pub message: Option<String>,
    pub contact_groups: Vec<Uuid>,
    pub new_contact_group: Option<NewGroupInput>,
    pub client_teams: Vec<Uuid>,
    pub confidentiality_override: bool,
}

#[derive(Debug, Clone, Default)]
pub struct NewGroupInput {
    pub name: String,
    pub members: Vec<Uuid>,
}

/// A valid invitation, ready for the store.
#[derive(Debug, Clone)]
pub struct Invite {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub email: Email,
    pub mobile: Option<E164Phone>,
    pub title: Title,
    pub message: Option<InviteMessage>,
    /// Existing groups (contact groups or client teams, per the tenancy's model).
    pub groups: Vec<Uuid>,
    /// A contact group to create for this client's relationship.
    pub new_group: Option<NewGroup>,
    pub confidentiality_override: bool,
}

/// Who may place a client in which groups.
#[derive(Debug, Clone, Copy)]
pub struct Inviter {
    /// The acting staff user (absent for an operator).
    pub staff: Option<Uuid>,
    /// Administrators may use any group; plain staff only groups they belong to.
    pub administers_users: bool,
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: DisplayName,
    pub members: Vec<Uuid>,
}

/// Most groups or teams one client may be placed in at once.
pub const MAX_GROUPS: usize = 50;
/// Most members a new contact group may be created with.
pub const MAX_NEW_GROUP_MEMBERS: usize = 200;

impl Invite {
    /// Parses every field, reporting all failures together.
    pub fn parse(
        input: InviteInput,
        model: GroupModel,
        mobile_policy: MobilePolicy,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let first_name = errors.take("first_name", PersonName::parse(&input.first_name));
        let last_name = errors.take("last_name", PersonName::parse(&input.last_name));
        let email = errors.take("email", Email::parse(&input.email));
        let mobile = errors.take(
            "mobile",
            parse_mobile(input.mobile.as_deref(), mobile_policy),
        );
        let title = errors.take("title", Title::parse_or_default(input.title.as_deref()));
        let message = errors.take(
            "message",
            InviteMessage::parse(input.message.as_deref().unwrap_or("")),
        );

        let (groups, new_group) = match model {
            GroupModel::ContactGroups => {
                if !input.client_teams.is_empty() {
                    errors.push(
                        "client_teams",
                        "this tenancy uses contact groups, not client teams",
                    );
                }
                let new_group = input.new_contact_group.and_then(|g| {
                    let name = errors.take("new_contact_group.name", DisplayName::parse(&g.name));
                    if g.members.len() > MAX_NEW_GROUP_MEMBERS {
                        errors.push(
                            "new_contact_group.members",
                            format!("must list at most {MAX_NEW_GROUP_MEMBERS} members"),
                        );
                    }
                    name.map(|name| NewGroup {
                        name,
                        members: dedup(g.members),
                    })
                });
                if input.contact_groups.is_empty() && new_group.is_none() && errors.is_empty() {
                    errors.push(
                        "contact_groups",
                        "choose an existing contact group or create a new one",
                    );
                }
                (dedup(input.contact_groups), new_group)
            }
            GroupModel::ClientTeams => {
                if !input.contact_groups.is_empty() || input.new_contact_group.is_some() {
                    errors.push(
                        "contact_groups",
                        "this tenancy uses client teams, not contact groups",
                    );
                }
                if input.client_teams.is_empty() {
                    errors.push("client_teams", "choose at least one client team");
                }
                (dedup(input.client_teams), None)
            }
        };
        if groups.len() > MAX_GROUPS {
            errors.push(
                model.group_kind().noun().replace(' ', "_") + "s",
                format!("must list at most {MAX_GROUPS}"),
            );
        }

        errors.finish()?;
        // Every field parsed when there are no errors.
        match (first_name, last_name, email, mobile, title, message) {
            (
                Some(first_name),
                Some(last_name),
                Some(email),
                Some(mobile),
                Some(title),
                Some(message),
            ) => Ok(Self {
                first_name,
                last_name,
                email,
                mobile,
                title,
                message,
                groups,
                new_group,
                confidentiality_override: input.confidentiality_override,
            }),
            _ => Err(vec![FieldError::new("body", "is incomplete")]),
        }
    }
}

/// The mobile number, as the tenancy's policy asks for it.
pub fn parse_mobile(raw: Option<&str>, policy: MobilePolicy) -> Result<Option<E164Phone>, String> {
    let given = raw.map(str::trim).filter(|v| !v.is_empty());
    match (policy, given) {
        (MobilePolicy::Hidden, Some(_)) => {
            Err("is not collected in this tenancy; leave it out".into())
        }
        (MobilePolicy::Hidden, None) | (MobilePolicy::Optional, None) => Ok(None),
        (MobilePolicy::Mandatory, None) => Err("is required in this tenancy".into()),
        (_, Some(value)) => E164Phone::parse(value).map(Some),
    }
}

fn dedup(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(*id));
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> InviteInput {
        InviteInput {
            first_name: "Jane".into(),
            last_name: "Smith".into(),
            email: "jane@example.com".into(),
            client_teams: vec![Uuid::now_v7()],
            ..Default::default()
        }
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn invite_title_defaults_to_client() {
        let invite =
            Invite::parse(input(), GroupModel::ClientTeams, MobilePolicy::Optional).unwrap();
        assert_eq!(invite.title.as_str(), "Client");
        assert_eq!(invite.mobile, None);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = InviteInput {
            first_name: " ".into(),
            email: "nope".into(),
            mobile: Some("07768 887464".into()),
            ..input()
        };
        let errors =
            Invite::parse(bad, GroupModel::ClientTeams, MobilePolicy::Optional).unwrap_err();
        assert_eq!(fields(errors), ["first_name", "email", "mobile"]);
    }

    #[test]
    fn mobile_follows_the_tenancy_policy() {
        assert!(
            parse_mobile(None, MobilePolicy::Mandatory)
                .unwrap_err()
                .contains("required")
        );
        assert!(parse_mobile(Some("+447768887464"), MobilePolicy::Hidden).is_err());
        assert_eq!(parse_mobile(Some(" "), MobilePolicy::Optional), Ok(None));
        assert!(
            parse_mobile(Some("+447768887464"), MobilePolicy::Mandatory)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn client_teams_tenancy_needs_a_team_and_refuses_contact_groups() {
        let no_team = InviteInput {
            client_teams: vec![],
            contact_groups: vec![Uuid::now_v7()],
            ..input()
        };
        let errors =
            Invite::parse(no_team, GroupModel::ClientTeams, MobilePolicy::Optional).unwrap_err();
        assert_eq!(fields(errors), ["contact_groups", "client_teams"]);
    }

    #[test]
    fn contact_groups_tenancy_takes_existing_or_new_group() {
        let none = InviteInput {
            client_teams: vec![],
            ..input()
        };
        let errors = Invite::parse(
            none.clone(),
            GroupModel::ContactGroups,
            MobilePolicy::Optional,
        )
        .unwrap_err();
        assert_eq!(fields(errors), ["contact_groups"]);

        let new_group = InviteInput {
            new_contact_group: Some(NewGroupInput {
                name: "Smith Relationship".into(),
                members: vec![],
            }),
            ..none
        };
        let invite =
            Invite::parse(new_group, GroupModel::ContactGroups, MobilePolicy::Optional).unwrap();
        assert_eq!(
            invite.new_group.unwrap().name.as_str(),
            "Smith Relationship"
        );
    }

    #[test]
    fn new_contact_group_name_must_not_be_blank() {
        let blank = InviteInput {
            client_teams: vec![],
            new_contact_group: Some(NewGroupInput {
                name: "  ".into(),
                members: vec![],
            }),
            ..input()
        };
        let errors =
            Invite::parse(blank, GroupModel::ContactGroups, MobilePolicy::Optional).unwrap_err();
        assert_eq!(fields(errors), ["new_contact_group.name"]);
    }

    #[test]
    fn the_same_group_chosen_twice_counts_once() {
        let team = Uuid::now_v7();
        let twice = InviteInput {
            client_teams: vec![team, team],
            ..input()
        };
        let invite = Invite::parse(twice, GroupModel::ClientTeams, MobilePolicy::Optional).unwrap();
        assert_eq!(invite.groups, vec![team]);
    }
}
