//! The pages' view models, rendered from `templates/canvas/`. Each page's model is built
//! whole first (what it shows is read before), then rendered.

// Functions here answer with a page either way; the error side is that page.
#![allow(clippy::result_large_err)]

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use uuid::Uuid;

use super::form::{Form, GroupMode, StatusAction};
use super::session::{Checked, Visit};
use crate::app::clients::StatusMove;
use crate::app::invite_context::{self, Choices, InviteContext, Members, Search, TenancyChoice};
use crate::app::{self, salesforce};
use crate::crm::LinkError;
use crate::crm::error::CrmError;
use crate::crm::record::Prefill;
use crate::domain::client_status::ClientStatus;
use crate::domain::org_link::OrgLink;
use crate::domain::tenancy::MobilePolicy;
use crate::http::AppState;
use crate::http::html::render;
use crate::store::{self, ActingStaff, Client, PageRequest, SalesforceUser, StaffMatch};

/// A page Salesforce may frame.
pub(super) fn framed(status: StatusCode, page: &impl Template) -> Response {
    let mut response = render(status, page);
    let headers = response.headers_mut();
    headers.remove("x-frame-options");
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "frame-ancestors 'self' https://*.salesforce.com https://*.force.com https://*.lightning.force.com \
             https://*.salesforce-setup.com https://*.visualforce.com",
        ),
    );
    response
}

/// A framed page with a title and one paragraph of plain text.
#[derive(Template)]
#[template(path = "canvas/message.html")]
pub(super) struct MessagePage<'a> {
    pub(super) title: &'a str,
    pub(super) message: &'a str,
    /// A page outside the frame that helps, and what its link says.
    pub(super) help: Option<(String, &'a str)>,
}

pub(super) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    framed(
        status,
        &MessagePage {
            title,
            message: text,
            help: None,
        },
    )
}

pub(super) fn refused() -> Response {
    message(
        StatusCode::UNAUTHORIZED,
        "This page cannot be opened",
        "Liaison could not verify that this request came from your Salesforce org. Open Invite again \
         from the record; if it keeps happening, ask your Salesforce administrator to check the Liaison \
         canvas app.",
    )
}

pub(super) fn session_ended() -> Response {
    message(
        StatusCode::UNAUTHORIZED,
        "Your session has ended",
        "Open Invite again from the Salesforce record to continue. Nothing was created.",
    )
}

pub(super) fn unavailable(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %error, "invite page failed");
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Liaison is not available just now",
        "Nothing was created. Please try again in a minute.",
    )
}

pub(super) fn stale_form() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "Nothing was created. Open Invite again from the Salesforce record.",
    )
}

pub(super) fn salesforce_trouble(link: &OrgLink, error: &LinkError) -> Response {
    let (status, title, text) = match error {
        LinkError::Crm(CrmError::NotFound) => (
            StatusCode::NOT_FOUND,
            "The Salesforce record was not found",
            "It may have been deleted or merged. Nothing was created.".to_string(),
        ),
        LinkError::Crm(CrmError::Deleted) => (
            StatusCode::NOT_FOUND,
            "This Salesforce record was deleted",
            "It was deleted or merged into another record in Salesforce. Open the record that \
             remains to invite this person. Nothing was created."
                .to_string(),
        ),
        LinkError::Crm(CrmError::Unauthorized { .. }) => (
            StatusCode::CONFLICT,
            "Liaison is disconnected from Salesforce",
            format!(
                "The org link “{}” is no longer authorised. A CRM administrator must reconnect it in \
                 Liaison (Org links → Connect). Nothing was created.",
                link.name
            ),
        ),
        LinkError::Crm(CrmError::Permanent { code, .. }) if code == "NOT_A_PERSON_ACCOUNT" => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "This Account is not a person",
            "Liaison invites people: open a Contact or a Person Account.".to_string(),
        ),
        LinkError::Crm(CrmError::Permanent { code, message, .. }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "The record could not be read",
            format!(
                "Salesforce refused to read the mapped fields ({code}: {message}). A CRM administrator \
                 should check the org link's field mapping and the integration user's field access. \
                 Nothing was created."
            ),
        ),
        LinkError::Paused => (
            StatusCode::CONFLICT,
            "The org link is paused",
            format!(
                "A CRM administrator paused the org link “{}”, so Liaison does not call Salesforce. \
                 Nothing was created; ask them to resume it.",
                link.name
            ),
        ),
        LinkError::Capped(_) => (
            StatusCode::CONFLICT,
            "Salesforce's API limit is reached",
            format!(
                "The org link “{}” has used its share of the org's daily API requests, or the org has \
                 none left, so Liaison does not call Salesforce until there is room. Nothing was created; \
                 try again later.",
                link.name
            ),
        ),
        LinkError::Crm(CrmError::Transient { .. } | CrmError::LimitExceeded) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Salesforce is not answering",
            "Salesforce did not answer in time or is over its API limit. Nothing was created; try again in a few minutes."
                .to_string(),
        ),
        other => {
            tracing::error!(error = %other, org_link = %link.id, "reading the record failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The record could not be read",
                "Nothing was created; try again in a few minutes.".to_string(),
            )
        }
    };
    let help = matches!(error, LinkError::Crm(CrmError::Unauthorized { .. })).then(|| {
        let page = format!("/console/org-links/{}", link.id);
        (page, "Open the org link in the Liaison console")
    });
    framed(
        status,
        &MessagePage {
            title,
            message: &text,
            help,
        },
    )
}

/// What `templates/canvas/keys.html` puts in every form.
pub(super) struct Hidden<'a> {
    pub(super) session: &'a str,
    pub(super) csrf: &'a str,
    pub(super) tenancy: Option<Uuid>,
}

#[derive(Template)]
#[template(path = "canvas/pick.html")]
pub(super) struct PickPage<'a> {
    pub(super) title: &'a str,
    pub(super) user_name: &'a str,
    pub(super) keys: Hidden<'a>,
    pub(super) options: Vec<TenancyOption<'a>>,
}

pub(super) struct TenancyOption<'a> {
    pub(super) id: Uuid,
    pub(super) name: &'a str,
    /// The record's client in that tenancy, by its status.
    pub(super) client_status: Option<String>,
}

#[derive(Template)]
#[template(path = "canvas/client.html")]
pub(super) struct ClientPage<'a> {
    pub(super) title: String,
    pub(super) done: Option<&'a str>,
    pub(super) tenancy_name: &'a str,
    pub(super) status_label: &'a str,
    pub(super) email: &'a str,
    pub(super) client_title: &'a str,
    pub(super) keys: Hidden<'a>,
    pub(super) actions: Vec<StatusAction>,
}

/// The record's client and the actions that fit its status and the user's role.
pub(super) fn client_state(
    session: &Visit,
    acting: &ActingStaff,
    client: &Client,
    done: Option<&str>,
    status: StatusCode,
) -> Response {
    let actions = if acting.role.administers_users() {
        StatusAction::ALL
            .into_iter()
            .filter(|action| action.transition()(client.status).is_ok())
            .collect()
    } else {
        Vec::new()
    };
    framed(
        status,
        &ClientPage {
            title: format!("{} {}", client.first_name, client.last_name),
            done,
            tenancy_name: &acting.tenancy_name,
            status_label: &client.status_label,
            email: &client.email,
            client_title: &client.title,
            keys: session.keys(Some(acting.tenancy)),
            actions,
        },
    )
}

#[derive(Template)]
#[template(path = "canvas/form.html")]
pub(super) struct FormPage<'a> {
    pub(super) title: String,
    /// Every error, linked to the field it concerns.
    pub(super) errors: Vec<ErrorLink<'a>>,
    pub(super) keys: Hidden<'a>,
    pub(super) fields: Vec<Field<'a>>,
    pub(super) message: &'a str,
    pub(super) message_error: String,
    pub(super) groups: Groups,
    /// Offer to choose another tenancy.
    pub(super) switch: bool,
}

pub(super) struct ErrorLink<'a> {
    pub(super) anchor: &'a str,
    pub(super) reason: &'a str,
}

/// One input of the form.
pub(super) struct Field<'a> {
    pub(super) name: &'static str,
    pub(super) label: &'static str,
    pub(super) value: &'a str,
    pub(super) kind: &'static str,
    pub(super) read_only: bool,
    pub(super) required: bool,
    pub(super) hint: Option<Hint>,
    pub(super) error: String,
}

pub(super) enum Hint {
    Text(&'static str),
    /// The record's number, and the same in E.164 to use instead.
    Mobile {
        raw: String,
        e164: String,
    },
}

/// The groups or teams part of the form, by the tenancy's group model.
pub(super) enum Groups {
    Teams {
        teams: ChoiceList,
        search_error: String,
        teams_error: String,
    },
    Contact(Box<ContactGroups>),
}

pub(super) struct ContactGroups {
    /// A new group is made (else existing ones are chosen).
    pub(super) new_mode: bool,
    pub(super) name: String,
    pub(super) name_error: String,
    pub(super) members: ChoiceList,
    pub(super) members_search_error: String,
    pub(super) members_error: String,
    pub(super) existing: ChoiceList,
    pub(super) groups_search_error: String,
    pub(super) groups_error: String,
    pub(super) confidentiality_override: bool,
    pub(super) confidentiality_error: String,
}

/// The errors about one field (or its items, `field[0]`, `field.name`), joined.
pub(super) fn error_for(errors: &[(String, String)], field: &str) -> String {
    errors
        .iter()
        .filter(|(f, _)| {
            f == field || f.starts_with(&format!("{field}[")) || f.starts_with(&format!("{field}."))
        })
        .map(|(_, reason)| reason.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Who the form is shown to: the session, its org link, the tenancy acted in, and whether
/// the user may act in other tenancies too.
pub(super) struct Viewer<'a> {
    pub(super) session: &'a Visit,
    pub(super) link: &'a OrgLink,
    pub(super) acting: &'a ActingStaff,
    pub(super) switch: bool,
}

/// The form shown again (a search, field errors), its lists searched as the form says.
pub(super) async fn render_form(
    state: &AppState,
    viewer: &Viewer<'_>,
    form: &Form,
    prefill: &Prefill,
    errors: &[(String, String)],
    status: StatusCode,
) -> Result<Response, Response> {
    let search = Search {
        groups: Some(&form.q_groups),
        members: Some(&form.q_members),
    };
    let choices = invite_context::choices(&state.store, viewer.acting, &search)
        .await
        .map_err(|e| unavailable(&e))?;
    let shown = Shown {
        form,
        prefill,
        errors,
    };
    form_page(state, viewer, &shown, choices, status).await
}

/// What the form shows: the values, the record's pre-fill (for its read-only fields) and the
/// errors.
pub(super) struct Shown<'a> {
    pub(super) form: &'a Form,
    pub(super) prefill: &'a Prefill,
    pub(super) errors: &'a [(String, String)],
}

/// The form page, with the lists loaded for it.
pub(super) async fn form_page(
    state: &AppState,
    viewer: &Viewer<'_>,
    shown: &Shown<'_>,
    choices: Choices,
    status: StatusCode,
) -> Result<Response, Response> {
    use crate::domain::org_link::InviteField;
    let Shown {
        form,
        prefill,
        errors,
    } = *shown;
    let (session, link, acting) = (viewer.session, viewer.link, viewer.acting);
    let tenancy = &choices.tenancy;
    let read_only = |f: InviteField| prefill.read_only.contains(&f);
    let field = |name: &'static str, label: &'static str, value, kind, field, required| Field {
        name,
        label,
        value,
        kind,
        read_only: read_only(field),
        required,
        hint: None,
        error: error_for(errors, name),
    };
    let mut fields = vec![
        field(
            "first_name",
            "First name",
            &form.first_name,
            "text",
            InviteField::FirstName,
            true,
        ),
        field(
            "last_name",
            "Last name",
            &form.last_name,
            "text",
            InviteField::LastName,
            true,
        ),
        field(
            "email",
            "E-mail",
            &form.email,
            "email",
            InviteField::Email,
            true,
        ),
    ];
    if tenancy.mobile_policy != MobilePolicy::Hidden {
        let mandatory = tenancy.mobile_policy == MobilePolicy::Mandatory;
        let label = if mandatory {
            "Mobile"
        } else {
            "Mobile (optional)"
        };
        let mut mobile = field(
            "mobile",
            label,
            &form.mobile,
            "tel",
            InviteField::Mobile,
            mandatory,
        );
        let suggestion = (!mobile.read_only && !form.mobile.is_empty())
            .then(|| invite_context::suggested_mobile(link, tenancy, &form.mobile))
            .flatten();
        mobile.hint = Some(match suggestion {
            Some(e164) => Hint::Mobile {
                raw: form.mobile.clone(),
                e164,
            },
            None => Hint::Text("In international form with +, e.g. +447768887464."),
        });
        fields.push(mobile);
    }
    let mut title = field(
        "title",
        "Title",
        &form.title,
        "text",
        InviteField::Title,
        false,
    );
    title.hint = Some(Hint::Text("Shown under the client’s name."));
    fields.push(title);
    let title = format!("Invite to {}", tenancy.name);
    let groups = groups_section(state, acting, choices, form, errors).await;
    Ok(framed(
        status,
        &FormPage {
            title,
            errors: errors
                .iter()
                .map(|(f, r)| ErrorLink {
                    anchor: anchor(f),
                    reason: r,
                })
                .collect(),
            keys: session.keys(Some(acting.tenancy)),
            fields,
            message: &form.message,
            message_error: error_for(errors, "message"),
            groups,
            switch: viewer.switch,
        },
    ))
}

/// The element an error's link jumps to.
pub(super) fn anchor(field: &str) -> &str {
    let base = field.split(['[', '.']).next().unwrap_or(field);
    match base {
        "contact_groups" | "client_teams" => "groups",
        "new_contact_group" => "new_group_name",
        other => other,
    }
}

/// One list of choices in the form: what the search found (at most a page), plus the ones
/// already ticked, so a search never drops a choice.
pub(super) struct ChoiceList {
    /// Form field name, and the list's name in element ids.
    pub(super) name: &'static str,
    pub(super) list: &'static str,
    /// The search field's label.
    pub(super) search: &'static str,
    pub(super) query: String,
    pub(super) options: Vec<Choice>,
    /// More matched than are shown.
    pub(super) more: bool,
    /// How many are shown at most.
    pub(super) max: u32,
    /// Nothing matched (the ticked ones are shown all the same).
    pub(super) none: bool,
}

pub(super) struct Choice {
    pub(super) id: Uuid,
    pub(super) label: String,
    pub(super) checked: bool,
}

impl ChoiceList {
    /// The list shows what a search found, not everything.
    pub(super) fn searched(&self) -> bool {
        !self.query.trim().is_empty()
    }
}

/// Builds a list from a search's page and the ticked ids, fetching any ticked one the page
/// does not hold (a choice that no longer exists is dropped; creating reports it).
pub(super) async fn choices_of<F, Fut>(
    list: (&'static str, &'static str, &'static str),
    query: &str,
    (found, more): (Vec<(Uuid, String)>, bool),
    ticked: &[Uuid],
    fetch: F,
) -> ChoiceList
where
    F: Fn(Uuid) -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let none = found.is_empty();
    let mut options = Vec::with_capacity(found.len());
    for &id in ticked {
        if !found.iter().any(|(f, _)| *f == id)
            && let Some(label) = fetch(id).await
        {
            options.push(Choice {
                id,
                label,
                checked: true,
            });
        }
    }
    options.extend(found.into_iter().map(|(id, label)| Choice {
        id,
        label,
        checked: ticked.contains(&id),
    }));
    ChoiceList {
        name: list.0,
        list: list.1,
        search: list.2,
        query: query.to_string(),
        options,
        more,
        max: PageRequest::MAX_LIMIT,
        none,
    }
}

/// The groups or teams to choose from: those the form's search found (only the user's own
/// contact groups for plain staff), with the ticked ones kept.
async fn group_choices(
    state: &AppState,
    acting: &ActingStaff,
    choices: &Choices,
    form: &Form,
    search: &'static str,
) -> ChoiceList {
    let tenancy = choices.tenancy.id;
    let (kind, member) = invite_context::group_scope(choices.tenancy.group_model, acting);
    let found = &choices.groups;
    choices_of(
        ("groups", "groups", search),
        &form.q_groups,
        (
            found.items.iter().map(|g| (g.id, g.name.clone())).collect(),
            found.next_cursor.is_some(),
        ),
        &form.groups,
        |id| async move {
            let group = state.store.group(tenancy, kind, id, member).await.ok()?;
            Some(group.name)
        },
    )
    .await
}

/// The possible members of a new contact group the form's search found, with the ticked ones
/// kept (the user is ticked until the form says otherwise).
async fn member_choices(
    state: &AppState,
    acting: &ActingStaff,
    tenancy: Uuid,
    members: Members,
    form: &Form,
) -> ChoiceList {
    let ticked = if form.new_group_members.is_empty() && form.new_group_name.is_none() {
        vec![acting.staff]
    } else {
        form.new_group_members.clone()
    };
    let mut found: Vec<(Uuid, String)> = members
        .staff
        .iter()
        .map(|s| (s.id, format!("{} {} (staff)", s.first_name, s.last_name)))
        .collect();
    found.extend(
        members
            .team_accounts
            .iter()
            .map(|t| (t.id, format!("{} (team account)", t.name))),
    );
    choices_of(
        (
            "new_group_members",
            "members",
            "Search staff and team accounts",
        ),
        &form.q_members,
        (found, members.more),
        &ticked,
        |id| async move {
            if let Ok(s) = state.store.staff(tenancy, id).await {
                return s
                    .active
                    .then(|| format!("{} {} (staff)", s.first_name, s.last_name));
            }
            let t = state.store.team_account(tenancy, id).await.ok()?;
            Some(format!("{} (team account)", t.name))
        },
    )
    .await
}

async fn groups_section(
    state: &AppState,
    acting: &ActingStaff,
    choices: Choices,
    form: &Form,
    errors: &[(String, String)],
) -> Groups {
    let Some(members) = choices.members.clone() else {
        return Groups::Teams {
            teams: group_choices(state, acting, &choices, form, "Search teams").await,
            search_error: error_for(errors, "q_groups"),
            teams_error: error_for(errors, "client_teams"),
        };
    };
    let tenancy = &choices.tenancy;
    let name = form.new_group_name.clone().unwrap_or_else(|| {
        crate::domain::tenancy::group_name_for(
            &tenancy.group_name_convention,
            &form.first_name,
            &form.last_name,
        )
    });
    let members = member_choices(state, acting, tenancy.id, members, form).await;
    let existing = group_choices(state, acting, &choices, form, "Search groups").await;
    Groups::Contact(Box::new(ContactGroups {
        new_mode: form.group_mode == GroupMode::New,
        name,
        name_error: error_for(errors, "new_contact_group.name"),
        members,
        members_search_error: error_for(errors, "q_members"),
        members_error: error_for(errors, "new_contact_group"),
        existing,
        groups_search_error: error_for(errors, "q_groups"),
        groups_error: error_for(errors, "contact_groups"),
        confidentiality_override: form.confidentiality_override,
        confidentiality_error: error_for(errors, "confidentiality_override"),
    }))
}

/// The first page of a visit: the tenancy pick while the user has several and chose none, the
/// record's client in the chosen tenancy, or the form pre-filled from the record.
pub(super) async fn first_page(
    state: &AppState,
    session: &Visit,
    link: &OrgLink,
    context: InviteContext,
) -> Result<Response, Response> {
    if let (Some(chosen), Some(client)) = (&context.chosen, context.chosen_client()) {
        return Ok(client_state(session, chosen, client, None, StatusCode::OK));
    }
    let InviteContext {
        tenancies,
        chosen,
        offer,
    } = context;
    let (Some(chosen), Some(offer)) = (chosen, offer) else {
        return Ok(pick_tenancy(session, &tenancies));
    };
    let form = Form::from_prefill(&offer.prefill);
    let viewer = Viewer {
        session,
        link,
        acting: &chosen,
        switch: tenancies.len() > 1,
    };
    let shown = Shown {
        form: &form,
        prefill: &offer.prefill,
        errors: &[],
    };
    form_page(state, &viewer, &shown, offer.choices, StatusCode::OK).await
}

/// A Salesforce user's request that shows nothing, as a page that says why.
pub(super) fn refusal(link: &OrgLink, user: &SalesforceUser, error: salesforce::Error) -> Response {
    match error {
        salesforce::Error::NotStaff => not_staff(link, user),
        salesforce::Error::NotStaffThere => message(
            StatusCode::NOT_FOUND,
            "Tenancy not available",
            "You are not an active staff user of that tenancy.",
        ),
        salesforce::Error::Record(error) => salesforce_trouble(link, &error),
        salesforce::Error::App(error) => unavailable(&error),
    }
}

/// The Salesforce user is active staff of none of the link's tenancies: who they were matched
/// as, and what to ask for.
fn not_staff(link: &OrgLink, user: &SalesforceUser) -> Response {
    let (who, matched_by) = match link.staff_match {
        StaffMatch::Email => (user.email.clone().unwrap_or_default(), "e-mail address"),
        StaffMatch::Username => (
            user.username.clone().unwrap_or_default(),
            "Salesforce username",
        ),
        StaffMatch::UserId => (user.user_id.as_str().to_string(), "Salesforce user id"),
    };
    message(
        StatusCode::FORBIDDEN,
        "You cannot invite clients from this org yet",
        &format!(
            "Your Salesforce user ({who}) is not an active staff user of any tenancy linked to \
             “{}”. Ask a Liaison administrator of your firm to add you as staff with this {matched_by}.",
            link.name,
        ),
    )
}

/// The tenancy pick: each tenancy, with the status of the record's client there.
pub(super) fn pick_tenancy(session: &Visit, tenancies: &[TenancyChoice]) -> Response {
    let options = tenancies
        .iter()
        .map(|t| TenancyOption {
            id: t.acting.tenancy,
            name: &t.acting.tenancy_name,
            client_status: t.client.as_ref().map(|c| c.status_label.clone()),
        })
        .collect();
    framed(
        StatusCode::OK,
        &PickPage {
            title: "Invite a client",
            user_name: &session.user.name,
            keys: session.keys(None),
            options,
        },
    )
}

/// The record's client after the form was sent: made now, or already there.
pub(super) fn invited(posted: &Checked, client: &Client, created: bool) -> Response {
    let done = match (created, client.status) {
        (false, _) => "This record’s client already exists; nothing new was created.".to_string(),
        (true, ClientStatus::Invited) => format!(
            "Invitation sent: {} will receive an e-mail with a link shortly.",
            client.email
        ),
        (true, _) => {
            "Saved as a draft: no e-mail was sent. Send the invitation when you are ready.".into()
        }
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    client_state(&posted.session, &posted.chosen, client, Some(&done), status)
}

pub(super) fn no_client() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "No client for this record",
        "Nothing was changed.",
    )
}

pub(super) fn not_administrator() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Only administrators can do this",
        "Ask a users administrator of your firm. Nothing was changed.",
    )
}

pub(super) fn unknown_action() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "Unknown action",
        "Nothing was changed.",
    )
}

/// The page after a status action: the client as it is now and what was done, or why nothing
/// was.
pub(super) fn moved(
    session: &Visit,
    chosen: &ActingStaff,
    moved: app::Result<StatusMove>,
    action: Option<StatusAction>,
) -> Result<Response, Response> {
    let (after, done, status) = match (moved, action) {
        (Ok(StatusMove::Moved(after)), Some(requested)) => {
            (after, requested.done().to_string(), StatusCode::OK)
        }
        (Ok(StatusMove::Refused { client, reason }), _) => (
            client,
            format!("Nothing was changed: {reason}"),
            StatusCode::CONFLICT,
        ),
        (Err(app::Error::Store(store::Error::NotFound(_))), _) => return Err(no_client()),
        (Err(app::Error::Forbidden(_)), _) => return Err(not_administrator()),
        (Err(app::Error::Invalid(_)), _) | (Ok(StatusMove::Moved(_)), None) => {
            return Err(unknown_action());
        }
        (Err(app::Error::Store(error)), _) => return Err(unavailable(&error)),
    };
    Ok(client_state(session, chosen, &after, Some(&done), status))
}
