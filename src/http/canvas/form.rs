//! What the pages post, read through serde into typed input: the keys every form carries, the
//! button pressed, and the invite form's fields.

use axum_extra::extract::{Form as Posted, FormRejection};
use serde::Deserialize;
use uuid::Uuid;

use crate::crm::record::Prefill;
use crate::domain::client_status::{ClientStatus, Transition};
use crate::domain::invite::{InviteInput, NewGroupInput};
use crate::domain::tenancy::GroupModel;
use crate::domain::text;

/// What Salesforce posts to open the app.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CanvasPost {
    pub(super) signed_request: Option<String>,
}

/// The invite form as posted: the keys every form carries (see `Visit`), the button pressed,
/// and what was typed and ticked. A value that does not parse (an id, a choice) reads as
/// absent, as it would if the browser had not sent it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct InvitePost {
    #[serde(flatten)]
    pub(super) keys: Keys,
    #[serde(deserialize_with = "lenient")]
    pub(super) action: Option<FormAction>,
    #[serde(flatten)]
    pub(super) form: Form,
}

/// What every form on the pages carries (see `Visit`): the session (else the cookie's), its
/// CSRF token, and the tenancy the form is for.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Keys {
    pub(super) session: Option<String>,
    pub(super) csrf: String,
    #[serde(deserialize_with = "lenient")]
    pub(super) tenancy: Option<Uuid>,
}

/// A status action's form: the keys, and the button pressed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct StatusPost {
    #[serde(flatten)]
    pub(super) keys: Keys,
    #[serde(deserialize_with = "lenient")]
    pub(super) action: Option<StatusAction>,
}

/// The invite form's buttons.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum FormAction {
    /// Create the client and send the invitation.
    Send,
    /// Create the client without an invitation.
    Draft,
    /// Open the chosen tenancy's form (from the tenancy pick).
    Open,
    /// Go back to the tenancy pick.
    Choose,
    /// Show the form again with its lists searched (also Enter in a field).
    #[default]
    Search,
}

/// How a contact group is chosen for the client.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum GroupMode {
    /// A new group for this relationship.
    New,
    /// One or more existing groups.
    #[default]
    Existing,
}

/// What an administrator may do to a record's client from the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum StatusAction {
    Send,
    Resend,
    Revoke,
}

impl StatusAction {
    pub(super) const ALL: [StatusAction; 3] = [Self::Send, Self::Resend, Self::Revoke];

    pub(super) fn value(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Resend => "resend",
            Self::Revoke => "revoke",
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Send => "Send the invitation",
            Self::Resend => "Resend the invitation",
            Self::Revoke => "Revoke",
        }
    }

    pub(super) fn primary(self) -> bool {
        self != Self::Revoke
    }

    pub(super) fn transition(self) -> Transition {
        match self {
            Self::Send => ClientStatus::send,
            Self::Resend => ClientStatus::resend,
            Self::Revoke => ClientStatus::revoke,
        }
    }

    pub(super) fn done(self) -> &'static str {
        match self {
            Self::Send => "Invitation sent.",
            Self::Resend => "A new invitation was sent; older links no longer work.",
            Self::Revoke => "Invitation revoked.",
        }
    }
}

/// A posted form. One that does not read as a form at all (another content type, a malformed
/// body) reads as empty, so the page says what is missing as for any form without its fields.
pub(super) fn read<T: Default>(form: Result<Posted<T>, FormRejection>) -> T {
    form.map(|Posted(form)| form).unwrap_or_default()
}

/// A value that does not parse as `T` reads as absent.
pub(super) fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let raw = Option::<String>::deserialize(deserializer)?;
    Ok(raw.and_then(|value| parse(&value)))
}

/// A value that does not parse as `T` (or none) reads as `T`'s default.
pub(super) fn lenient_or_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    Ok(lenient(deserializer)?.unwrap_or_default())
}

/// A checkbox: ticked when it sends `yes`.
pub(super) fn ticked<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.is_some_and(|value| value == "yes"))
}

/// Each value that parses as `T`; the others are left out.
pub(super) fn lenient_all<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    /// A key sent once reads as one value where the form is read through `flatten`.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Values {
        One(String),
        Many(Vec<String>),
    }
    let raw = match Values::deserialize(deserializer)? {
        Values::One(value) => vec![value],
        Values::Many(values) => values,
    };
    Ok(raw.iter().filter_map(|value| parse(value)).collect())
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(value: &str) -> Option<T> {
    use serde::de::IntoDeserializer;
    let value: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        value.into_deserializer();
    T::deserialize(value).ok()
}

/// What the form holds, from the record or as the user typed it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub(super) struct Form {
    pub(super) first_name: String,
    pub(super) last_name: String,
    pub(super) email: String,
    pub(super) mobile: String,
    pub(super) title: String,
    pub(super) message: String,
    #[serde(deserialize_with = "lenient_all")]
    pub(super) groups: Vec<Uuid>,
    #[serde(deserialize_with = "lenient_or_default")]
    pub(super) group_mode: GroupMode,
    /// Only when a new group is made (see `Form::posted`).
    pub(super) new_group_name: Option<String>,
    #[serde(deserialize_with = "lenient_all")]
    pub(super) new_group_members: Vec<Uuid>,
    #[serde(deserialize_with = "ticked")]
    pub(super) confidentiality_override: bool,
    /// What the lists of groups or teams, and of new group members, are searched for.
    pub(super) q_groups: String,
    pub(super) q_members: String,
}

impl Form {
    pub(super) fn from_prefill(prefill: &Prefill) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            first_name: text(&prefill.first_name),
            last_name: text(&prefill.last_name),
            email: text(&prefill.email),
            mobile: text(&prefill.mobile),
            title: prefill.title.clone().unwrap_or_else(|| "Client".into()),
            group_mode: GroupMode::New,
            ..Self::default()
        }
    }

    /// The form as posted: a new group's name counts only when a new group is made.
    pub(super) fn posted(mut self) -> Self {
        self.new_group_name = match self.group_mode {
            GroupMode::New => Some(self.new_group_name.unwrap_or_default()),
            GroupMode::Existing => None,
        };
        self
    }

    /// What the invite takes from the form, for the tenancy's group model.
    pub(super) fn input(&self, model: GroupModel) -> InviteInput {
        let optional = |v: &str| (!v.trim().is_empty()).then(|| v.to_string());
        let new_group = self.group_mode == GroupMode::New;
        InviteInput {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            mobile: optional(&self.mobile),
            title: optional(&self.title),
            message: optional(&self.message),
            contact_groups: match model {
                GroupModel::ContactGroups if !new_group => self.groups.clone(),
                _ => vec![],
            },
            new_contact_group: match (model, &self.new_group_name) {
                (GroupModel::ContactGroups, Some(name)) if new_group => Some(NewGroupInput {
                    name: name.clone(),
                    members: self.new_group_members.clone(),
                }),
                _ => None,
            },
            client_teams: match model {
                GroupModel::ClientTeams => self.groups.clone(),
                GroupModel::ContactGroups => vec![],
            },
            confidentiality_override: self.confidentiality_override,
        }
    }

    /// Refuses control characters in what was typed, before any of it reaches a search or
    /// the database. A refused field is emptied, so the form shown again does not echo it.
    pub(super) fn control_errors(&mut self) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let mut check = |name: &str, value: &mut String, multiline: bool| {
            let checked = if multiline {
                text::check_multiline(value)
            } else {
                text::check_line(value)
            };
            if let Err(reason) = checked {
                value.clear();
                errors.push((name.to_string(), reason));
            }
        };
        check("first_name", &mut self.first_name, false);
        check("last_name", &mut self.last_name, false);
        check("email", &mut self.email, false);
        check("mobile", &mut self.mobile, false);
        check("title", &mut self.title, false);
        check("message", &mut self.message, true);
        if let Some(name) = self.new_group_name.as_mut() {
            check("new_contact_group.name", name, false);
        }
        check("q_groups", &mut self.q_groups, false);
        check("q_members", &mut self.q_members, false);
        errors
    }

    /// Read-only fields take the record's value, whatever the browser sent.
    pub(super) fn keep_read_only(&mut self, prefill: &Prefill) {
        use crate::domain::org_link::InviteField;
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        for field in &prefill.read_only {
            match field {
                InviteField::FirstName => self.first_name = text(&prefill.first_name),
                InviteField::LastName => self.last_name = text(&prefill.last_name),
                InviteField::Email => self.email = text(&prefill.email),
                InviteField::Mobile => self.mobile = text(&prefill.mobile),
                InviteField::Title => self.title = text(&prefill.title),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::FromRequest;
    use axum::http::header;

    async fn posted<T>(body: &str) -> T
    where
        T: Default + serde::de::DeserializeOwned,
    {
        let request = axum::http::Request::post("/salesforce/invite")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body.to_string()))
            .expect("request");
        read(Posted::<T>::from_request(request, &()).await)
    }

    #[tokio::test]
    async fn ticked_boxes_are_all_read_and_what_does_not_parse_reads_as_absent() {
        let a = Uuid::now_v7();
        let b = Uuid::now_v7();
        let post: InvitePost = posted(&format!(
            "csrf=c&tenancy=nope&groups={a}&groups=garbage&groups={b}&group_mode=sideways\
             &action=explode&first_name=Ja%20ne&confidentiality_override=yes"
        ))
        .await;
        assert_eq!(post.form.groups, vec![a, b]);
        assert_eq!(post.keys.tenancy, None);
        assert_eq!(post.action, None);
        let form = post.form.posted();
        assert_eq!(form.first_name, "Ja ne");
        assert_eq!(form.group_mode, GroupMode::Existing);
        assert!(form.confidentiality_override);

        let post: InvitePost = posted(&format!("groups={a}&new_group_members={b}")).await;
        assert_eq!(
            (post.form.groups, post.form.new_group_members),
            (vec![a], vec![b])
        );
        let post: InvitePost = posted("action=draft&group_mode=new&new_group_name=Smith").await;
        assert_eq!(post.action, Some(FormAction::Draft));
        assert_eq!(post.form.posted().new_group_name.as_deref(), Some("Smith"));
        let post: InvitePost = posted("group_mode=new&new_group_name=").await;
        assert_eq!(post.form.posted().new_group_name.as_deref(), Some(""));
        let post: InvitePost = posted("new_group_name=Smith").await;
        assert_eq!(post.form.posted().new_group_name, None);
    }

    #[tokio::test]
    async fn a_status_action_is_one_of_the_three_and_a_body_that_is_no_form_reads_as_empty() {
        let post: StatusPost = posted("action=resend&csrf=c").await;
        assert_eq!(post.action, Some(StatusAction::Resend));
        assert_eq!(post.keys.csrf, "c");
        let post: StatusPost = posted("action=delete").await;
        assert_eq!(post.action, None);

        let request = axum::http::Request::post("/salesforce/invite/action")
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from("{\"action\":\"send\"}"))
            .expect("request");
        let post: StatusPost = read(Posted::from_request(request, &()).await);
        assert_eq!((post.action, post.keys.csrf.as_str()), (None, ""));
    }
}
