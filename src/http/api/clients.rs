use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::wire::{self, Client, ClientEvent, Page};
use super::{PageQuery, invalid, optional, optional_names};
use crate::app::audit::actor_of;
use crate::app::{clients, invites};
use crate::domain::FieldErrors;
use crate::domain::client_status::{ClientStatus, Transition};
use crate::domain::invite::{Invite, InviteInput, NewGroupInput};
use crate::domain::tenancy::GroupKind;
use crate::domain::values::{Email, Title};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiResult, Problem};
use crate::http::extract::{Json, Path, Query};
use crate::store::{self, ClientUpdate};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invite_client, list_clients))
        .routes(routes!(get_client, update_client))
        .routes(routes!(revoke_client))
        .routes(routes!(client_events))
        .routes(routes!(get_crm_record, link_crm_record))
        .routes(routes!(list_client_groups))
        .routes(routes!(send_invitation))
        .routes(routes!(resend_invitation))
        .routes(routes!(invitation_history))
        .routes(routes!(email_deliveries))
}

/// Send a draft's invitation (administrators): the client becomes invited and the first e-mail
/// goes out now; a new one follows every 24 hours for 30 days.
#[utoipa::path(post, path = "/tenancies/{tenancy_id}/clients/{client_id}/send", tag = "clients",
    params(("tenancy_id" = Uuid, Path), ("client_id" = Uuid, Path)),
    responses((status = 200, body = Client), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn send_invitation(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<Client>> {
    let client = administer(&state, &caller, tenancy_id, id, ClientStatus::send).await?;
    Ok(axum::Json(client.into()))
}

/// Start a new 30-day cycle (administrators): every older link stops working at once.
#[utoipa::path(post, path = "/tenancies/{tenancy_id}/clients/{client_id}/resend", tag = "clients",
    params(("tenancy_id" = Uuid, Path), ("client_id" = Uuid, Path)),
    responses((status = 200, body = Client), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn resend_invitation(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<Client>> {
    let client = administer(&state, &caller, tenancy_id, id, ClientStatus::resend).await?;
    Ok(axum::Json(client.into()))
}

/// A status change only administrators make (send, resend, revoke); one that makes an e-mail
/// due wakes the workers. The API's and the console's one way to make it.
pub(crate) async fn administer(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    id: Uuid,
    transition: Transition,
) -> ApiResult<store::Client> {
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    let client = state
        .store
        .transition_client(access.tenancy, id, transition, &access.actor_label())
        .await?;
    if client.status == ClientStatus::Invited {
        state.wake_workers.notify_one();
    }
    Ok(client)
}

/// The client's invitation cycles, newest first: each e-mail's link, when it expires and why
/// it stopped working. Who changed the status is in `/events`.
#[utoipa::path(get, path = "/tenancies/{tenancy_id}/clients/{client_id}/invitation", tag = "clients",
    params(("tenancy_id" = Uuid, Path), ("client_id" = Uuid, Path)),
    responses((status = 200, body = Vec<wire::InvitationCycle>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn invitation_history(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<Vec<wire::InvitationCycle>>> {
    let access = caller.in_tenancy(tenancy_id)?;
    state
        .store
        .client(access.tenancy, id, access.plain_staff())
        .await?;
    Ok(axum::Json(wire::all(
        state.store.invitation_history(access.tenancy, id).await?,
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries that failed after their last retry.
    #[serde(default)]
    pub failed: bool,
}

/// The tenancy's latest e-mail deliveries (administrators), or only the failed ones.
#[utoipa::path(get, path = "/tenancies/{tenancy_id}/email-deliveries", tag = "clients",
    params(("tenancy_id" = Uuid, Path), DeliveryQuery),
    responses((status = 200, body = Vec<wire::EmailDelivery>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn email_deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
    Query(query): Query<DeliveryQuery>,
) -> ApiResult<axum::Json<Vec<wire::EmailDelivery>>> {
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    Ok(axum::Json(wire::all(
        state
            .store
            .email_deliveries(access.tenancy, query.failed, 200)
            .await?,
    )))
}

/// A client's Salesforce record: what linking takes, and what the link's read answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrmRecord {
    /// An org link that serves this tenancy.
    pub org_link_id: Uuid,
    /// `Contact`, or `Account` for a Person Account.
    #[schema(pattern = "^(?:Contact|Account)$")]
    pub sobject: String,
    /// The record id, 15 or 18 characters.
    #[schema(value_type = crate::http::api::schema::SalesforceId)]
    pub record_id: String,
}

/// Link a client to their Salesforce record (administrators): from now on every status change
/// is written back to it, starting with the current status.
#[utoipa::path(put, path = "/tenancies/{tenancy_id}/clients/{client_id}/crm-record", tag = "clients",
    params(("tenancy_id" = Uuid, Path), ("client_id" = Uuid, Path)), request_body = CrmRecord,
    responses((status = 204), (status = 422, description = "A field is invalid: `record_id` must be an id of the `sobject` kind (`003…` for Contact, `001…` for Account), with a matching checksum in the 18-character form, and `org_link_id` a link that serves the tenancy.", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn link_crm_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
    Json(body): Json<CrmRecord>,
) -> ApiResult<StatusCode> {
    link(&state, &caller, tenancy_id, id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Links a client to their Salesforce record as `caller` (users administrators): the API's and
/// the console's one way to do it.
pub(crate) async fn link(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    id: Uuid,
    body: CrmRecord,
) -> ApiResult<()> {
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    let record = clients::RecordInput {
        org_link: body.org_link_id,
        sobject: body.sobject,
        record_id: body.record_id,
    };
    let actor = actor_of(&caller.0);
    clients::link_record(&state.store, access.tenancy, id, &record, &actor).await?;
    Ok(())
}

impl From<store::RecordRef> for CrmRecord {
    fn from(record: store::RecordRef) -> Self {
        Self {
            org_link_id: record.org_link,
            sobject: record.sobject.into(),
            record_id: record.record_id.as_str().into(),
        }
    }
}

/// The Salesforce record a client is linked to, or `null` while they are linked to none. Plain
/// staff read it only for a client they share a group or team with.
#[utoipa::path(get, path = "/tenancies/{tenancy_id}/clients/{client_id}/crm-record", tag = "clients",
    params(("tenancy_id" = Uuid, Path), ("client_id" = Uuid, Path)),
    responses((status = 200, body = Option<CrmRecord>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_crm_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<Option<CrmRecord>>> {
    let record = crm_record(&state, &caller, tenancy_id, id).await?;
    Ok(axum::Json(record.map(CrmRecord::from)))
}

/// The contact groups or client teams (whichever the tenancy's model uses) a client is in.
/// Plain staff read them only for a client they share a group or team with, and of contact
/// groups only those they belong to.
#[utoipa::path(get, path = "/tenancies/{tenancy_id}/clients/{client_id}/groups", tag = "clients",
    params(("tenancy_id" = Uuid, Path), ("client_id" = Uuid, Path)),
    responses((status = 200, body = Vec<wire::Group>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_client_groups(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<Vec<wire::Group>>> {
    let (_, found) = groups(&state, &caller, tenancy_id, id).await?;
    Ok(axum::Json(wire::all(found)))
}

/// The Salesforce record a client is linked to, if any, for those who may see the client.
pub(crate) async fn crm_record(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    id: Uuid,
) -> ApiResult<Option<store::RecordRef>> {
    let access = caller.in_tenancy(tenancy_id)?;
    state
        .store
        .client(access.tenancy, id, access.plain_staff())
        .await?;
    Ok(state.store.client_record(access.tenancy, id).await?)
}

/// The contact groups or client teams (whichever the tenancy's model uses) a client is in, as
/// `caller` may see them: plain staff only the contact groups they belong to, as the API's
/// group reads answer them.
pub(crate) async fn groups(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    id: Uuid,
) -> ApiResult<(GroupKind, Vec<store::Group>)> {
    let access = caller.in_tenancy(tenancy_id)?;
    state
        .store
        .client(access.tenancy, id, access.plain_staff())
        .await?;
    let (model, _) = state.store.invite_settings(access.tenancy).await?;
    let kind = model.group_kind();
    let most = PageQuery {
        limit: Some(store::PageRequest::MAX_LIMIT),
        after: None,
        q: None,
    }
    .page()?;
    let mut found = state
        .store
        .list_groups(access.tenancy, kind, None, Some(id), &most)
        .await?
        .items;
    if let (GroupKind::ContactGroup, Some(me)) = (kind, access.plain_staff()) {
        let own = state
            .store
            .list_groups(access.tenancy, kind, None, Some(me), &most)
            .await?;
        found.retain(|g| own.items.iter().any(|o| o.id == g.id));
    }
    Ok((kind, found))
}

/// A client invited by hand. It is created as a draft (Pending (Draft)); sending the
/// invitation e-mail is a separate step.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteClient {
    #[schema(value_type = crate::http::api::schema::PersonName)]
    pub first_name: String,
    #[schema(value_type = crate::http::api::schema::PersonName)]
    pub last_name: String,
    #[schema(value_type = crate::http::api::schema::Email)]
    pub email: String,
    /// E.164 with a leading `+`; required, optional or refused per the tenancy's mobile policy.
    #[schema(value_type = Option<crate::http::api::schema::E164Phone>)]
    pub mobile: Option<String>,
    /// Shown under the client's name; default "Client".
    pub title: Option<String>,
    /// A personal message for the invitation e-mail.
    #[schema(value_type = Option<crate::http::api::schema::InviteMessage>)]
    pub message: Option<String>,
    /// Existing contact groups (tenancies on the contact-group model).
    #[serde(default)]
    pub contact_groups: Vec<Uuid>,
    /// A new contact group for this client's relationship.
    pub new_contact_group: Option<NewContactGroup>,
    /// Client teams (tenancies on the client-team model): one or several.
    #[serde(default)]
    pub client_teams: Vec<Uuid>,
    /// Confirms that the client shares the relationship of a contact group that already
    /// holds clients.
    #[serde(default)]
    pub confidentiality_override: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContactGroup {
    /// Never blank; the form pre-fills it by the tenancy's convention.
    #[schema(value_type = crate::http::api::schema::DisplayName)]
    pub name: String,
    /// Staff users and team accounts who will cover the client.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub members: Vec<Uuid>,
}

impl From<NewContactGroup> for NewGroupInput {
    fn from(group: NewContactGroup) -> Self {
        Self {
            name: group.name,
            members: group.members,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClient {
    #[schema(value_type = Option<crate::http::api::schema::PersonName>)]
    pub first_name: Option<String>,
    #[schema(value_type = Option<crate::http::api::schema::PersonName>)]
    pub last_name: Option<String>,
    /// Refused for an active client, whose e-mail is their sign-in.
    #[schema(value_type = Option<crate::http::api::schema::Email>)]
    pub email: Option<String>,
    #[schema(value_type = Option<crate::http::api::schema::E164Phone>)]
    pub mobile: Option<String>,
    #[schema(value_type = Option<crate::http::api::schema::Title>)]
    pub title: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientQuery {
    /// Only clients with this status.
    pub status: Option<ClientStatus>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub after: Option<Uuid>,
    /// Text to search for in names and e-mails.
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub q: Option<String>,
}

/// Invite a client by hand, as a draft. One client per tenancy and e-mail: a second invitation
/// of the same address is a 409.
#[utoipa::path(post, path = "/tenancies/{tenancy_id}/clients", tag = "clients",
    params(("tenancy_id" = Uuid, Path)), request_body = InviteClient,
    responses((status = 201, body = Client), (status = 422, description = "A field is invalid, or breaks a rule of the tenancy the schema cannot state: `mobile` per the tenancy's mobile policy (required, optional or refused), `contact_groups`/`new_contact_group` or `client_teams` per its group model (at least one), and the groups and members must be the tenancy's.", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn invite_client(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
    Json(body): Json<InviteClient>,
) -> ApiResult<(StatusCode, axum::Json<Client>)> {
    let client = invite(&state, &caller, tenancy_id, body).await?;
    Ok((StatusCode::CREATED, axum::Json(client.into())))
}

/// Invites a client by hand as `caller`, as a draft: the API's and the console's one way to do
/// it.
pub(crate) async fn invite(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    body: InviteClient,
) -> ApiResult<store::Client> {
    let access = caller.in_tenancy(tenancy_id)?;
    let (model, mobile_policy) = state.store.invite_settings(access.tenancy).await?;
    let input = InviteInput {
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
    let invite = Invite::parse(input, model, mobile_policy).map_err(invalid)?;
    let inviter = invites::Inviter {
        staff: access.staff,
        administers_users: access.administers_users(),
    };
    let invited = invites::invite(
        &state.store,
        access.tenancy,
        &invite,
        inviter,
        &access.actor_label(),
        &Default::default(),
    )
    .await?;
    Ok(invited.client)
}

/// List clients. Plain staff see the clients they share a group or team with.
#[utoipa::path(get, path = "/tenancies/{tenancy_id}/clients", tag = "clients",
    params(("tenancy_id" = Uuid, Path), ClientQuery),
    responses((status = 200, body = Page<Client>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_clients(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenancy_id): Path<Uuid>,
    Query(query): Query<ClientQuery>,
) -> ApiResult<axum::Json<Page<Client>>> {
    Ok(axum::Json(
        listed(&state, &caller, tenancy_id, &query).await?.into(),
    ))
}

/// A page of the tenancy's clients, by status and search text, as `caller` may see them (plain
/// staff: those they share a group or team with).
pub(crate) async fn listed(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    query: &ClientQuery,
) -> ApiResult<store::Page<store::Client>> {
    let access = caller.in_tenancy(tenancy_id)?;
    let q = query.q.as_deref();
    let page = PageQuery {
        limit: query.limit,
        after: query.after,
        q: query.q.clone(),
    }
    .page()?;
    Ok(state
        .store
        .list_clients(access.tenancy, query.status, q, access.plain_staff(), &page)
        .await?)
}

#[utoipa::path(get, path = "/tenancies/{tenancy_id}/clients/{client_id}", tag = "clients",
    params(("tenancy_id" = Uuid, Path), ("client_id" = Uuid, Path)),
    responses((status = 200, body = Client), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_client(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<Client>> {
    let access = caller.in_tenancy(tenancy_id)?;
    Ok(axum::Json(
        state
            .store
            .client(access.tenancy, id, access.plain_staff())
            .await?
            .into(),
    ))
}

/// Correct a client's details (administrators).
#[utoipa::path(patch, path = "/tenancies/{tenancy_id}/clients/{client_id}", tag = "clients",
    params(("tenancy_id" = Uuid, Path), ("client_id" = Uuid, Path)), request_body = UpdateClient,
    responses((status = 200, body = Client), (status = 422, description = "A field is invalid, or `mobile` is refused by the tenancy's mobile policy, or `email` is changed for an active client.", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn update_client(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
    Json(body): Json<UpdateClient>,
) -> ApiResult<axum::Json<Client>> {
    let client = update(&state, &caller, tenancy_id, id, body).await?;
    Ok(axum::Json(client.into()))
}

/// Corrects a client's details as `caller` (users administrators): the API's and the
/// console's one way to do it.
pub(crate) async fn update(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    id: Uuid,
    body: UpdateClient,
) -> ApiResult<store::Client> {
    let access = caller.in_tenancy(tenancy_id)?;
    access.require_users_admin()?;
    let mut errors = FieldErrors::new();
    let (first_name, last_name) = optional_names(
        &mut errors,
        body.first_name.as_deref(),
        body.last_name.as_deref(),
    );
    let update = ClientUpdate {
        first_name,
        last_name,
        email: optional(&mut errors, "email", body.email.as_deref(), Email::parse),
        mobile: body.mobile,
        title: optional(&mut errors, "title", body.title.as_deref(), Title::parse),
    };
    errors.finish().map_err(invalid)?;
    let actor = actor_of(&caller.0);
    Ok(clients::update(&state.store, access.tenancy, id, update, &actor).await?)
}

/// Revoke a client's invitation (administrators): a draft, invited or expired client becomes
/// revoked. Revoking a revoked, active or declined client is a 409.
#[utoipa::path(post, path = "/tenancies/{tenancy_id}/clients/{client_id}/revoke", tag = "clients",
    params(("tenancy_id" = Uuid, Path), ("client_id" = Uuid, Path)),
    responses((status = 200, body = Client), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn revoke_client(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<Client>> {
    let client = administer(&state, &caller, tenancy_id, id, ClientStatus::revoke).await?;
    Ok(axum::Json(client.into()))
}

/// The client's status history: each change, who made it and when.
#[utoipa::path(get, path = "/tenancies/{tenancy_id}/clients/{client_id}/events", tag = "clients",
    params(("tenancy_id" = Uuid, Path), ("client_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<ClientEvent>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn client_events(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenancy_id, id)): Path<(Uuid, Uuid)>,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page<ClientEvent>>> {
    Ok(axum::Json(
        events(&state, &caller, tenancy_id, id, &query)
            .await?
            .into(),
    ))
}

/// A page of a client's status history, for those who may see the client.
pub(crate) async fn events(
    state: &AppState,
    caller: &Caller,
    tenancy_id: Uuid,
    id: Uuid,
    query: &PageQuery,
) -> ApiResult<store::Page<store::ClientEvent>> {
    let access = caller.in_tenancy(tenancy_id)?;
    state
        .store
        .client(access.tenancy, id, access.plain_staff())
        .await?;
    Ok(state
        .store
        .client_events(access.tenancy, id, &query.page()?)
        .await?)
}
