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
use crate::app::invites::{self, FromRecord};
use crate::crm::record::{Prefill, RecordKind};
use crate::domain::FieldErrors;
use crate::domain::invite::{InviteInput, NewGroupInput};
use crate::domain::org_link::suggest_e164;
use crate::domain::tenancy::{GroupKind, GroupModel};
use crate::domain::user::StaffRole;
use crate::domain::values::SalesforceId;
use crate::http::AppState;
use crate::http::auth::LinkCaller;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::Json;
use crate::store::{ActingStaff, OrgLink, PageRequest, SalesforceUser};

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

async fn acting(
    state: &AppState,
    link: &OrgLink,
    user: &SalesforceUser,
) -> ApiResult<Vec<ActingStaff>> {
    let acting = state
        .store
        .acting_staff(link.id, link.staff_match, user)
        .await?;
    if acting.is_empty() {
        return Err(ApiError::Forbidden(format!(
            "the Salesforce user is not an active staff user of any tenancy linked to “{}” (matched by {})",
            link.name,
            link.staff_match.as_str()
        )));
    }
    Ok(acting)
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
    let mut errors = crate::domain::FieldErrors::new();
    for (field, q) in [
        ("groups_query", &body.groups_query),
        ("members_query", &body.members_query),
    ] {
        if let Some(q) = q.as_deref() {
            errors.take(field, super::search_text(q));
        }
    }
    errors.finish().map_err(super::invalid)?;
    let acting = acting(&state, &link, &user).await?;
    let mut tenancies = Vec::with_capacity(acting.len());
    for a in &acting {
        let client = match state
            .store
            .client_of_record(a.tenancy, link.id, &record)
            .await?
        {
            Some(id) => Some(state.store.client(a.tenancy, id, None).await?.into()),
            None => None,
        };
        tenancies.push(TenancyChoice {
            id: a.tenancy,
            name: a.tenancy_name.clone(),
            role: a.role,
            client,
        });
    }
    let chosen = match body.tenancy_id {
        Some(id) => Some(acting.iter().find(|a| a.tenancy == id).ok_or_else(|| {
            ApiError::invalid(
                "tenancy_id",
                "is not a tenancy where the user is active staff",
            )
        })?),
        None if acting.len() == 1 => acting.first(),
        None => None,
    };
    let mut context = InviteContext {
        tenancies,
        tenancy_id: chosen.map(|c| c.tenancy),
        group_model: None,
        prefill: None,
        suggested_mobile: None,
        groups: vec![],
        more_groups: false,
        new_group_name: None,
        members: vec![],
        more_members: false,
    };
    let Some(chosen) = chosen else {
        return Ok(axum::Json(context));
    };
    if context
        .tenancies
        .iter()
        .any(|t| t.id == chosen.tenancy && t.client.is_some())
    {
        return Ok(axum::Json(context));
    }
    let prefill = state
        .crm
        .read_prefill(&link, kind, record.as_str())
        .await
        .map_err(|e| ApiError::reading_record(&link, e))?;
    let tenancy = state.store.tenancy(chosen.tenancy).await?;
    let all = PageRequest {
        limit: PageRequest::MAX_LIMIT,
        after: None,
    };
    let (kind, member) = match tenancy.group_model {
        GroupModel::ClientTeams => (GroupKind::ClientTeam, None),
        GroupModel::ContactGroups => (
            GroupKind::ContactGroup,
            (!chosen.role.administers_users()).then_some(chosen.staff),
        ),
    };
    // The store searches by what the text contains; none, or blank, lists all.
    let groups = state
        .store
        .list_groups(tenancy.id, kind, body.groups_query.as_deref(), member, &all)
        .await?;
    context.more_groups = groups.next_cursor.is_some();
    context.groups = groups
        .items
        .into_iter()
        .map(|g| GroupChoice {
            id: g.id,
            name: g.name,
        })
        .collect();
    if tenancy.group_model == GroupModel::ContactGroups {
        context.new_group_name = Some(crate::domain::tenancy::group_name_for(
            &tenancy.group_name_convention,
            prefill.first_name.as_deref().unwrap_or(""),
            prefill.last_name.as_deref().unwrap_or(""),
        ));
        let query = body.members_query.as_deref();
        let staff = state.store.list_staff(tenancy.id, query, &all).await?;
        let teams = state
            .store
            .list_team_accounts(tenancy.id, query, &all)
            .await?;
        context.more_members = staff.next_cursor.is_some() || teams.next_cursor.is_some();
        context.members = staff
            .items
            .into_iter()
            .filter(|s| s.active)
            .map(|s| MemberChoice {
                id: s.id,
                name: format!("{} {}", s.first_name, s.last_name),
                kind: "staff",
            })
            .chain(
                teams
                    .items
                    .into_iter()
                    .filter(|t| t.active)
                    .map(|t| MemberChoice {
                        id: t.id,
                        name: t.name,
                        kind: "team_account",
                    }),
            )
            .collect();
    }
    context.suggested_mobile = prefill
        .mobile
        .as_deref()
        .filter(|m| !m.starts_with('+'))
        .and_then(|m| {
            suggest_e164(
                m,
                link.field_mapping
                    .phone_region()
                    .or(Some(tenancy.phone_region)),
            )
        });
    context.group_model = Some(tenancy.group_model);
    context.prefill = Some(prefill);
    Ok(axum::Json(context))
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
    let acting = acting(&state, &link, &user).await?;
    let chosen = acting
        .iter()
        .find(|a| a.tenancy == body.tenancy_id)
        .ok_or_else(|| {
            ApiError::invalid(
                "tenancy_id",
                "is not a tenancy where the user is active staff",
            )
        })?;
    let mut input = InviteInput {
        first_name: body.first_name,
        last_name: body.last_name,
        email: body.email,
        mobile: body.mobile,
        title: body.title,
        message: body.message,
        contact_groups: body.contact_groups,
        new_contact_group: body.new_contact_group.map(NewGroupInput::from),
        client_teams: body.client_teams,
        confidentiality_override: body.confidentiality_override,
    };
    // Field errors need no call to Salesforce, so they come first (a read-only field's value
    // comes from the record below, so it cannot be judged before).
    if link.field_mapping.read_only.is_empty() {
        crate::domain::invite::Invite::parse(
            input.clone(),
            chosen.group_model,
            chosen.mobile_policy,
        )
        .map_err(invalid)?;
    }
    // The record is read again whatever the mapping says: one deleted or merged since the
    // context was read creates nothing, and read-only fields take the record's values.
    let prefill = state
        .crm
        .read_prefill(&link, kind, record.as_str())
        .await
        .map_err(|e| ApiError::reading_record(&link, e))?;
    keep_read_only(&mut input, &prefill);
    let from = FromRecord {
        org_link: link.id,
        kind,
        record,
    };
    let actor = invites::key_actor(link.id, &key_id, chosen, &user.user_id);
    let invited =
        invites::from_record(&state.store, chosen, &actor, &from, input, body.send).await?;
    if body.send && invited.created {
        state.wake_workers.notify_one();
    }
    let status = if invited.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(invited.client.into())))
}

/// Read-only fields take the record's value.
fn keep_read_only(input: &mut InviteInput, prefill: &Prefill) {
    use crate::domain::org_link::InviteField;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    for field in &prefill.read_only {
        match field {
            InviteField::FirstName => input.first_name = text(&prefill.first_name),
            InviteField::LastName => input.last_name = text(&prefill.last_name),
            InviteField::Email => input.email = text(&prefill.email),
            InviteField::Mobile => input.mobile = prefill.mobile.clone(),
            InviteField::Title => input.title = prefill.title.clone(),
        }
    }
}
