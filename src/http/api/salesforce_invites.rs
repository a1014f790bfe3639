//! The invite flow as JSON, for callers that are not a browser (a Lightning component through
//! Apex, automation). They authenticate with the org link's API key and name the Salesforce
//! user they act for; the same rules and idempotency as the canvas form apply.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::clients::NewContactGroup;
use super::invalid;
use super::wire::Client;
use crate::app::invite_context::{self, Asking, Search, TenancyPick};
use crate::app::salesforce::{self, RecordInvite};
use crate::crm::record::{Prefill, RecordKind};
use crate::domain::FieldErrors;
use crate::domain::invite::{InviteInput, NewGroupInput};
use crate::domain::org_link::OrgLink;
use crate::domain::tenancy::GroupModel;
use crate::domain::user::StaffRole;
use crate::domain::values::SalesforceId;
use crate::http::AppState;
use crate::http::auth::LinkCaller;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::Json;
use crate::store::SalesforceUser;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invite_context))
        .routes(routes!(invite_from_salesforce))
}

/// The Salesforce user the caller acts for (in Apex: `UserInfo.getUserId()`, `getUserName()`,
/// `getUserEmail()`), matched to staff the way the org link says.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SalesforceUserRef {
    #[schema(value_type = crate::http::api::schema::SalesforceId)]
    pub user_id: String,
    pub username: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum RecordSobject {
    Contact,
    /// A Person Account.
    Account,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordRefBody {
    pub sobject: RecordSobject,
    #[schema(value_type = crate::http::api::schema::SalesforceId)]
    pub id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextRequest {
    pub user: SalesforceUserRef,
    pub record: RecordRefBody,
    /// The tenancy to prepare the form for; needed only when the user is staff in several.
    pub tenancy_id: Option<Uuid>,
    /// List only the groups or teams whose name contains this (case-insensitive).
    #[schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub groups_query: Option<String>,
    /// List only the possible new-group members whose name or e-mail contains this.
    #[schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub members_query: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenancyChoice {
    pub id: Uuid,
    pub name: String,
    pub role: StaffRole,
    /// The record's client in this tenancy, when it exists already.
    pub client: Option<Client>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupChoice {
    pub id: Uuid,
    pub name: String,
}

/// A staff user or team account who can be a member of a new contact group.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberChoice {
    pub id: Uuid,
    pub name: String,
    /// `staff` or `team_account`.
    pub kind: &'static str,
}

/// What the form needs: where the user may invite, the record's client if any, and (for the
/// chosen tenancy, when the record has no client there) the pre-fill and the groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct InviteContext {
    pub tenancies: Vec<TenancyChoice>,
    pub tenancy_id: Option<Uuid>,
    pub group_model: Option<GroupModel>,
    pub prefill: Option<Prefill>,
    /// The record's mobile number in E.164, when it is not and the phone region (the link
    /// mapping's, else the tenancy's) reads it.
    /// Offer it; never apply it unasked.
    pub suggested_mobile: Option<String>,
    /// Contact groups the user may choose (all for administrators, their own for plain staff),
    /// or the tenancy's client teams.
    pub groups: Vec<GroupChoice>,
    /// More groups matched than the 200 listed: narrow them with `groups_query`.
    pub more_groups: bool,
    /// The new contact group's name by the tenancy's convention.
    pub new_group_name: Option<String>,
    /// Contact groups only: the active staff users and team accounts a new group may hold
    /// (up to 200 of each; `members_query` searches them).
    pub members: Vec<MemberChoice>,
    /// More members matched than are listed: narrow them with `members_query`.
    pub more_members: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteFromSalesforce {
    pub user: SalesforceUserRef,
    pub record: RecordRefBody,
    pub tenancy_id: Uuid,
    /// Send the invitation now; otherwise the client is a draft.
    #[serde(default)]
    pub send: bool,
    #[schema(value_type = crate::http::api::schema::PersonName)]
    pub first_name: String,
    #[schema(value_type = crate::http::api::schema::PersonName)]
    pub last_name: String,
    #[schema(value_type = crate::http::api::schema::Email)]
    pub email: String,
    #[schema(value_type = Option<crate::http::api::schema::E164Phone>)]
    pub mobile: Option<String>,
    pub title: Option<String>,
    #[schema(value_type = Option<crate::http::api::schema::InviteMessage>)]
    pub message: Option<String>,
    #[serde(default)]
    pub contact_groups: Vec<Uuid>,
    pub new_contact_group: Option<NewContactGroup>,
    #[serde(default)]
    pub client_teams: Vec<Uuid>,
    #[serde(default)]
    pub confidentiality_override: bool,
}

fn parse_refs(
    user: &SalesforceUserRef,
    record: &RecordRefBody,
) -> ApiResult<(SalesforceUser, RecordKind, SalesforceId)> {
    let mut errors = FieldErrors::new();
    let user_id = errors.take("user.user_id", SalesforceId::parse(&user.user_id));
    let record_id = errors.take("record.id", SalesforceId::parse(&record.id));
    errors.finish().map_err(invalid)?;
    let (Some(user_id), Some(record_id)) = (user_id, record_id) else {
        return Err(ApiError::invalid("record.id", "is not a Salesforce id"));
    };
    let kind = match record.sobject {
        RecordSobject::Contact => RecordKind::Contact,
        RecordSobject::Account => RecordKind::PersonAccount,
    };
    Ok((
        SalesforceUser {
            user_id,
            username: user.username.clone(),
            email: user.email.clone(),
            name: user.username.clone().unwrap_or_default(),
        },
        kind,
        record_id,
    ))
}

/// The searches of the lists, each refused when it is too long or holds control characters.
fn parse_search(body: &ContextRequest) -> ApiResult<Search<'_>> {
    let mut errors = FieldErrors::new();
    for (field, q) in [
        ("groups_query", &body.groups_query),
        ("members_query", &body.members_query),
    ] {
        if let Some(q) = q.as_deref() {
            errors.take(field, super::search_text(q));
        }
    }
    errors.finish().map_err(invalid)?;
    Ok(Search {
        groups: body.groups_query.as_deref(),
        members: body.members_query.as_deref(),
    })
}

/// A Salesforce user's request through `link`, refused or failed, as a problem.
fn refused(link: &OrgLink, error: salesforce::Error) -> ApiError {
    match error {
        salesforce::Error::NotStaff => ApiError::Forbidden(format!(
            "the Salesforce user is not an active staff user of any tenancy linked to “{}” (matched by {})",
            link.name,
            link.staff_match.as_str()
        )),
        salesforce::Error::NotStaffThere => ApiError::invalid(
            "tenancy_id",
            "is not a tenancy where the user is active staff",
        ),
        salesforce::Error::Record(error) => ApiError::reading_record(link, error),
        salesforce::Error::App(error) => error.into(),
    }
}

impl From<invite_context::InviteContext> for InviteContext {
    fn from(context: invite_context::InviteContext) -> Self {
        let tenancies = context
            .tenancies
            .into_iter()
            .map(|t| TenancyChoice {
                id: t.acting.tenancy,
                name: t.acting.tenancy_name,
                role: t.acting.role,
                client: t.client.map(Client::from),
            })
            .collect();
        let mut answer = InviteContext {
            tenancies,
            tenancy_id: context.chosen.map(|c| c.tenancy),
            group_model: None,
            prefill: None,
            suggested_mobile: None,
            groups: vec![],
            more_groups: false,
            new_group_name: None,
            members: vec![],
            more_members: false,
        };
        if let Some(offer) = context.offer {
            answer.offer(offer);
        }
        answer
    }
}

impl InviteContext {
    /// What the form offers for the chosen tenancy.
    fn offer(&mut self, offer: invite_context::Offer) {
        let choices = offer.choices;
        self.group_model = Some(choices.tenancy.group_model);
        self.prefill = Some(offer.prefill);
        self.suggested_mobile = offer.suggested_mobile;
        self.new_group_name = offer.new_group_name;
        self.more_groups = choices.groups.next_cursor.is_some();
        self.groups = choices
            .groups
            .items
            .into_iter()
            .map(|g| GroupChoice {
                id: g.id,
                name: g.name,
            })
            .collect();
        if let Some(members) = choices.members {
            self.more_members = members.more;
            self.members = members
                .staff
                .into_iter()
                .map(|s| MemberChoice {
                    id: s.id,
                    name: format!("{} {}", s.first_name, s.last_name),
                    kind: "staff",
                })
                .chain(members.team_accounts.into_iter().map(|t| MemberChoice {
                    id: t.id,
                    name: t.name,
                    kind: "team_account",
                }))
                .collect();
        }
    }
}

/// What the invite form needs for a record: where the user may invite, the record's client if
/// it has one, the pre-fill read through the link's mapping, and the groups to choose from.
#[utoipa::path(post, path = "/salesforce/invite-context", tag = "salesforce", request_body = ContextRequest,
    responses((status = 200, body = InviteContext), (status = "4XX", body = Problem, content_type = "application/problem+json"),
              (status = 503, body = Problem, content_type = "application/problem+json")),
    security(("org_link_key" = [])))]
async fn invite_context(
    State(state): State<AppState>,
    LinkCaller { link, .. }: LinkCaller,
    Json(body): Json<ContextRequest>,
) -> ApiResult<axum::Json<InviteContext>> {
    let (user, kind, record) = parse_refs(&body.user, &body.record)?;
    let search = parse_search(&body)?;
    let asking = Asking {
        link: &link,
        user: &user,
        kind,
        record: &record,
    };
    let pick = body
        .tenancy_id
        .map_or(TenancyPick::Only, TenancyPick::Asked);
    let context = invite_context::load(&state.store, &state.crm, &asking, pick, &search)
        .await
        .map_err(|e| refused(&link, e))?;
    Ok(axum::Json(context.into()))
}

/// Create the record's client, sent or as a draft, as the staff user the Salesforce user maps
/// to, who must be active staff of `tenancy_id`. Idempotent per record and tenancy: 201 when
/// created, 200 with the client made earlier. Read-only mapped fields are taken from the
/// record, whatever the body says. The client's history names the link, the key and the user.
#[utoipa::path(post, path = "/salesforce/invites", tag = "salesforce", request_body = InviteFromSalesforce,
    responses((status = 201, body = Client), (status = 200, body = Client, description = "The record's client, created earlier"),
              (status = "4XX", body = Problem, content_type = "application/problem+json"),
              (status = 503, body = Problem, content_type = "application/problem+json")),
    security(("org_link_key" = [])))]
async fn invite_from_salesforce(
    State(state): State<AppState>,
    LinkCaller { link, key_id }: LinkCaller,
    Json(body): Json<InviteFromSalesforce>,
) -> ApiResult<(StatusCode, axum::Json<Client>)> {
    let (user, kind, record) = parse_refs(&body.user, &body.record)?;
    let send = body.send;
    let request = RecordInvite {
        user,
        kind,
        record,
        tenancy: body.tenancy_id,
        input: body.input(),
        send,
    };
    let invited = salesforce::invite(&state.store, &state.crm, &link, &key_id, request)
        .await
        .map_err(|e| refused(&link, e))?;
    if send && invited.created {
        state.wake_workers.notify_one();
    }
    let status = if invited.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(invited.client.into())))
}

impl InviteFromSalesforce {
    /// What the invite takes from the body.
    fn input(self) -> InviteInput {
        InviteInput {
            first_name: self.first_name,
            last_name: self.last_name,
            email: self.email,
            mobile: self.mobile,
            title: self.title,
            message: self.message,
            contact_groups: self.contact_groups,
            new_contact_group: self.new_contact_group.map(NewGroupInput::from),
            client_teams: self.client_teams,
            confidentiality_override: self.confidentiality_override,
        }
    }
}
