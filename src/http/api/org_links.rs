//! Org links: which Salesforce org serves which tenancies, how to authenticate to it, and the
//! field mapping. Operators manage any link; a system administrator manages the links that
//! serve their tenancy alone, and of a link that serves several tenancies sees only what
//! concerns their own (`LinkAccess`).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::wire::{IntakeSecrets, OrgLink, Page, Writeback};
use super::{PageQuery, invalid};
use crate::app::audit::actor_of;
use crate::app::org_links::{self, NewLinkSecrets};
use crate::domain::FieldErrors;
use crate::domain::org_link::{AutoInvite, FieldMapping};
use crate::domain::text;
use crate::domain::values::{DisplayName, SalesforceId};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::{ApiError, ApiResult, Problem};
use crate::http::extract::{Json, Path, Query};
use crate::secrets::{digest, random_token};
use crate::store::org_links::SealedIntake;
use crate::store::{self, AuthKind, NewOrgLink, OrgLinkUpdate, StaffMatch, WritebackState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_org_link, list_org_links))
        .routes(routes!(get_org_link, update_org_link, delete_org_link))
        .routes(routes!(connect_org_link))
        .routes(routes!(disconnect_org_link))
        .routes(routes!(create_api_key))
        .routes(routes!(list_writebacks))
        .routes(routes!(retry_writeback))
        .routes(routes!(dismiss_writeback))
        .routes(routes!(rotate_intake_secrets))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgLink {
    #[schema(value_type = crate::http::api::schema::DisplayName)]
    pub name: String,
    /// The org id, 15 or 18 characters (Setup → Company Information).
    #[schema(value_type = crate::http::api::schema::SalesforceOrgId)]
    pub org_id: String,
    /// `production`, `sandbox`, or the https:// URL of a Salesforce login host: the org's My
    /// Domain (`https://NAME.my.salesforce.com`, `https://NAME--SANDBOX.sandbox.my.salesforce.com`),
    /// a Government Cloud host, or a host in the operator's `crm.allowed_hosts`.
    #[schema(pattern = "^(?:production|sandbox|https://[A-Za-z0-9.:-]{1,200}/*)$")]
    pub login_host: String,
    pub auth_kind: AuthKind,
    /// The connected app's consumer key.
    #[schema(min_length = 1, max_length = 255, pattern = "^[!-~]+$")]
    pub consumer_key: String,
    /// The connected app's consumer secret (web-server flow).
    pub consumer_secret: Option<String>,
    /// The PEM RSA private key whose certificate the connected app holds (JWT bearer flow).
    pub private_key: Option<String>,
    /// The Salesforce username the JWT bearer flow acts as.
    pub integration_username: Option<String>,
    /// e.g. `62.0`; default from configuration.
    #[schema(pattern = "^[0-9]{2}\\.0$")]
    pub api_version: Option<String>,
    pub field_mapping: Option<FieldMapping>,
    /// How Salesforce users map to staff; default `email`.
    pub staff_match: Option<StaffMatch>,
    /// This link's share of the org's daily API limit, 1 to 100 (default 20).
    #[schema(minimum = 1, maximum = 100)]
    pub api_budget_percent: Option<i64>,
    /// The tenancies the org serves.
    pub tenancies: Vec<Uuid>,
    /// The Salesforce user id (`005…`) of the integration user our write-back acts as: record
    /// changes it makes start no work (echo suppression).
    #[schema(value_type = Option<crate::http::api::schema::SalesforceUserId>)]
    pub integration_user_id: Option<String>,
    /// Invite records whose checkbox turns on (off when absent).
    pub auto_invite: Option<AutoInvite>,
}

/// Accepts `null` as "turn off" and absence as "leave as is".
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgLink {
    #[schema(value_type = Option<crate::http::api::schema::DisplayName>)]
    pub name: Option<String>,
    #[schema(pattern = "^(?:production|sandbox|https://[A-Za-z0-9.:-]{1,200}/*)$")]
    pub login_host: Option<String>,
    pub consumer_key: Option<String>,
    pub consumer_secret: Option<String>,
    pub private_key: Option<String>,
    pub integration_username: Option<String>,
    #[schema(pattern = "^[0-9]{2}\\.0$")]
    pub api_version: Option<String>,
    pub field_mapping: Option<FieldMapping>,
    pub staff_match: Option<StaffMatch>,
    #[schema(minimum = 1, maximum = 100)]
    pub api_budget_percent: Option<i64>,
    pub tenancies: Option<Vec<Uuid>>,
    /// `true` pauses every call to the org (with `pause_reason`); `false` resumes.
    pub paused: Option<bool>,
    /// Why the link is paused, required with `paused: true`: kept as the link's state reason
    /// and in the audit trail.
    #[schema(min_length = 1, max_length = 500)]
    pub pause_reason: Option<String>,
    #[schema(value_type = Option<crate::http::api::schema::SalesforceUserId>)]
    pub integration_user_id: Option<String>,
    /// New auto-invite settings, or `null` to turn auto-invite off.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<AutoInvite>)]
    pub auto_invite: Option<Option<AutoInvite>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Connect {
    /// For the web-server flow: open this in the admin's browser to approve the connection
    /// in Salesforce (single use, valid for a few minutes).
    pub connect_url: Option<String>,
    pub org_link: OrgLink,
}

fn api_version(raw: &str) -> Result<String, String> {
    let value = raw.trim();
    let valid = value.split_once('.').is_some_and(|(major, minor)| {
        minor == "0" && major.len() == 2 && major.bytes().all(|b| b.is_ascii_digit())
    });
    if valid {
        Ok(value.into())
    } else {
        Err("must look like 62.0".into())
    }
}

fn short_text(raw: &str, max: usize) -> Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        Err("must not be blank".into())
    } else if value.len() > max {
        Err(format!("must be at most {max} characters"))
    } else {
        text::check_line(value)?;
        Ok(value.into())
    }
}

fn private_key(raw: &str) -> Result<String, String> {
    jsonwebtoken::EncodingKey::from_rsa_pem(raw.as_bytes())
        .map(|_| raw.trim().to_string())
        .map_err(|_| "must be an RSA private key in PEM form".into())
}

fn user_id(raw: &str) -> Result<String, String> {
    let id = SalesforceId::parse(raw)?;
    if id.as_str().starts_with("005") {
        Ok(id.as_str().to_string())
    } else {
        Err("is not a Salesforce user id (they start with 005)".into())
    }
}

/// New intake secrets for a link: a random token for the Outbound Message URL (only its hash
/// is stored) and a webhook signing secret (stored sealed). Returns them with what to store.
fn new_intake_secrets(state: &AppState, link: Uuid) -> ApiResult<(IntakeSecrets, SealedIntake)> {
    let token = random_token();
    let secret = crate::crm::webhook::new_secret();
    let sealed = state.crm.seal(link, "webhook_secret", &secret)?;
    let public = state.crm.config().public_url.trim_end_matches('/');
    Ok((
        IntakeSecrets {
            outbound_message_url: format!("{public}/salesforce/outbound/{link}/{token}"),
            webhook_url: format!("{public}/webhooks/salesforce/{link}"),
            webhook_secret: secret,
        },
        SealedIntake {
            outbound_token_hash: digest(&token),
            webhook_secret_sealed: sealed,
        },
    ))
}

fn budget(value: i64) -> Result<i64, String> {
    if (1..=100).contains(&value) {
        Ok(value)
    } else {
        Err("must be between 1 and 100".into())
    }
}

/// Who may manage links at all: `None` for operators (all), or the one tenancy whose system
/// administrator the caller is. Other staff are refused.
pub(crate) fn managed_tenancy(caller: &Caller) -> Result<Option<Uuid>, ApiError> {
    match caller.own_tenancy() {
        None => Ok(None),
        Some(tenancy) => {
            caller.in_tenancy(tenancy)?.require_tenancy_admin()?;
            Ok(Some(tenancy))
        }
    }
}

/// The caller's relation to one org link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LinkAccess {
    /// Operators, and the system administrator of the one tenancy the link serves: the whole
    /// link is theirs to read and change.
    Manages,
    /// A system administrator of one of several tenancies the link serves: they see what
    /// concerns their tenancy and change nothing, since the link belongs to every tenancy.
    Serves(Uuid),
}

impl LinkAccess {
    /// The access a caller scoped to `scope` (see `managed_tenancy`) has to a link that serves
    /// it.
    fn of(link: &store::OrgLink, scope: Option<Uuid>) -> Self {
        match scope {
            Some(own) if link.tenancies != [own] => Self::Serves(own),
            _ => Self::Manages,
        }
    }

    /// The tenancy whose items alone the caller may see in the link's queues; `None` for all.
    pub(super) fn tenancy(self) -> Option<Uuid> {
        match self {
            Self::Manages => None,
            Self::Serves(tenancy) => Some(tenancy),
        }
    }

    /// The link as this caller may see it: a served tenancy's administrator sees their own
    /// tenancy and auto-invite settings only when they are their tenancy's.
    fn view(self, mut link: store::OrgLink) -> store::OrgLink {
        if let Self::Serves(own) = self {
            link.tenancies.retain(|t| *t == own);
            link.auto_invite = link.auto_invite.filter(|a| a.tenancy_id == own);
        }
        link
    }
}

/// The org link and the caller's access to it: 403 for staff who are not system
/// administrators, 404 for a link that does not serve the caller's tenancy.
pub(super) async fn link_access(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> ApiResult<(store::OrgLink, LinkAccess)> {
    let scope = managed_tenancy(caller)?;
    let link = state.store.org_link(id, scope).await?;
    let access = LinkAccess::of(&link, scope);
    Ok((link, access))
}

/// Why a served tenancy's administrator may not change a shared link.
fn shared_link_refusal() -> ApiError {
    ApiError::Forbidden(
        "this org link serves several tenancies: only an operator may change it, its keys or \
         its connection"
            .into(),
    )
}

/// The org link, when the caller manages it: 404 as for an unknown link when it does not
/// serve their tenancy, 403 when it serves others too.
pub(crate) async fn managed_link(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> ApiResult<store::OrgLink> {
    match link_access(state, caller, id).await? {
        (link, LinkAccess::Manages) => Ok(link),
        (_, LinkAccess::Serves(_)) => Err(shared_link_refusal()),
    }
}

/// A system administrator may only link their own tenancy.
fn check_tenancies(scope: Option<Uuid>, tenancies: &[Uuid], errors: &mut FieldErrors) {
    if tenancies.is_empty() {
        errors.push("tenancies", "name at least one tenancy");
    }
    if let Some(own) = scope
        && tenancies.iter().any(|t| *t != own)
    {
        errors.push(
            "tenancies",
            "an administrator may only link their own tenancy",
        );
    }
}

/// Checks auto-invite's settings, its groups against the tenancy's model among them.
async fn check_auto_invite(
    state: &AppState,
    auto: &AutoInvite,
    tenancies: &[Uuid],
    errors: &mut FieldErrors,
) -> ApiResult<()> {
    auto.validate(errors, "auto_invite", tenancies);
    if auto.new_contact_group_members.is_some() && tenancies.contains(&auto.tenancy_id) {
        let tenancy = state.store.tenancy(auto.tenancy_id).await?;
        if tenancy.group_model == crate::domain::tenancy::GroupModel::ClientTeams {
            errors.push(
                "auto_invite.new_contact_group_members",
                "the tenancy uses client teams, not contact groups: name its teams in groups",
            );
        }
    }
    Ok(())
}

fn seal(
    state: &AppState,
    link: Uuid,
    column: &str,
    secret: Option<String>,
) -> ApiResult<Option<String>> {
    secret
        .map(|s| state.crm.seal(link, column, &s).map_err(ApiError::from))
        .transpose()
}

/// Link a Salesforce org to tenancies (operators, or a system administrator for their own
/// tenancy). Secrets are sealed at rest and never returned.
#[utoipa::path(post, path = "/org-links", tag = "salesforce", request_body = CreateOrgLink,
    responses((status = 201, body = OrgLink), (status = 422, description = "A field is invalid or missing for the link's `auth_kind`: `jwt_bearer` needs `private_key` (an RSA private key in PEM form) and `integration_username`, `web_server` needs `consumer_secret`; an 18-character id's checksum must match; `tenancies` must exist.", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn create_org_link(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateOrgLink>,
) -> ApiResult<(StatusCode, axum::Json<OrgLink>)> {
    let (created, shown) = create_link(&state, &caller, body).await?;
    let mut link = OrgLink::from(created);
    link.intake_secrets = Some(shown);
    Ok((StatusCode::CREATED, axum::Json(link)))
}

/// Creates the link the body describes for the caller, with its intake secrets (in the clear,
/// to be shown once): the API's create and the console's form alike.
pub(crate) async fn create_link(
    state: &AppState,
    caller: &Caller,
    body: CreateOrgLink,
) -> ApiResult<(store::OrgLink, IntakeSecrets)> {
    let scope = managed_tenancy(caller)?;
    let (new, consumer_secret, key) = parse_new_link(state, scope, body).await?;
    let id = Uuid::now_v7();
    let consumer_secret = seal(state, id, "consumer_secret", consumer_secret)?;
    let private_key = seal(state, id, "private_key", key)?;
    let (shown, intake) = new_intake_secrets(state, id)?;
    let secrets = NewLinkSecrets {
        id,
        consumer_secret,
        private_key,
        intake,
    };
    let created = org_links::create(&state.store, new, secrets, &actor_of(&caller.0)).await?;
    Ok((created, shown))
}

/// The new link as the body describes it, with its consumer secret and private key still in
/// the clear; every field's error at once.
async fn parse_new_link(
    state: &AppState,
    scope: Option<Uuid>,
    body: CreateOrgLink,
) -> ApiResult<(NewOrgLink, Option<String>, Option<String>)> {
    let mut errors = FieldErrors::new();
    let name = errors.take("name", DisplayName::parse(&body.name));
    let org_id = errors.take("org_id", org_id(&body.org_id));
    let host = errors.take("login_host", state.crm.hosts().login_host(&body.login_host));
    let consumer_key = errors.take("consumer_key", short_text(&body.consumer_key, 255));
    let version = errors.take(
        "api_version",
        api_version(
            body.api_version
                .as_deref()
                .unwrap_or(&state.crm.config().api_version),
        ),
    );
    let percent = errors.take(
        "api_budget_percent",
        budget(body.api_budget_percent.unwrap_or(20)),
    );
    let key = body
        .private_key
        .as_deref()
        .and_then(|k| errors.take("private_key", private_key(k)));
    check_credentials(&body, &mut errors);
    let integration_username = body
        .integration_username
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .and_then(|u| errors.take("integration_username", short_text(u, 255)));
    let mapping = body.field_mapping.unwrap_or_default();
    mapping.validate(&mut errors, "field_mapping");
    check_tenancies(scope, &body.tenancies, &mut errors);
    let integration_user_id = body
        .integration_user_id
        .as_deref()
        .and_then(|raw| errors.take("integration_user_id", user_id(raw)));
    if let Some(auto) = &body.auto_invite {
        check_auto_invite(state, auto, &body.tenancies, &mut errors).await?;
    }
    errors.finish().map_err(invalid)?;
    let (
        Some(name),
        Some(org_id),
        Some(login_host),
        Some(consumer_key),
        Some(api_version),
        Some(api_budget_percent),
    ) = (name, org_id, host, consumer_key, version, percent)
    else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "a parsed field is missing"
        )));
    };
    let new = NewOrgLink {
        name: name.as_str().to_string(),
        org_id: org_id.as_str().to_string(),
        login_host,
        auth_kind: body.auth_kind,
        consumer_key,
        integration_username,
        api_version,
        field_mapping: mapping,
        staff_match: body.staff_match.unwrap_or(StaffMatch::Email),
        api_budget_percent,
        tenancies: body.tenancies,
        integration_user_id,
        auto_invite: body.auto_invite,
    };
    Ok((new, body.consumer_secret, key))
}

fn org_id(raw: &str) -> Result<SalesforceId, String> {
    SalesforceId::parse(raw).and_then(|id| {
        if id.as_str().starts_with("00D") {
            Ok(id)
        } else {
            Err("is not an org id (they start with 00D)".into())
        }
    })
}

/// What the link's `auth_kind` needs: a consumer secret for the web-server flow, a private key
/// and an integration username for the JWT bearer flow.
fn check_credentials(body: &CreateOrgLink, errors: &mut FieldErrors) {
    match body.auth_kind {
        AuthKind::WebServer
            if body
                .consumer_secret
                .as_deref()
                .is_none_or(|s| s.trim().is_empty()) =>
        {
            errors.push("consumer_secret", "is required for the web-server flow")
        }
        AuthKind::JwtBearer if body.private_key.is_none() => {
            errors.push("private_key", "is required for the JWT bearer flow")
        }
        AuthKind::JwtBearer
            if body
                .integration_username
                .as_deref()
                .is_none_or(|u| u.trim().is_empty()) =>
        {
            errors.push(
                "integration_username",
                "is required for the JWT bearer flow",
            )
        }
        _ => {}
    }
}

/// Org links: all for an operator, those serving one's tenancy for an administrator (of a link
/// that serves other tenancies too, only what concerns theirs).
#[utoipa::path(get, path = "/org-links", tag = "salesforce", params(PageQuery),
    responses((status = 200, body = Page<OrgLink>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_org_links(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<PageQuery>,
) -> ApiResult<axum::Json<Page<OrgLink>>> {
    let page = visible_links(&state, &caller, &query.page()?).await?;
    Ok(axum::Json(Page {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A page of the org links the caller may see, each as they may see it (see `LinkAccess`): the
/// API's list and the console's page read them here alike.
pub(crate) async fn visible_links(
    state: &AppState,
    caller: &Caller,
    page: &store::PageRequest,
) -> ApiResult<store::Page<store::OrgLink>> {
    let scope = managed_tenancy(caller)?;
    let mut found = state.store.list_org_links(scope, page).await?;
    found.items = found
        .items
        .into_iter()
        .map(|link| LinkAccess::of(&link, scope).view(link))
        .collect();
    Ok(found)
}

/// One org link as the caller may see it: 403 for staff who are not system administrators,
/// 404 for a link that does not serve the caller's tenancy. The API and the console alike.
pub(crate) async fn visible_link(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> ApiResult<store::OrgLink> {
    let (link, access) = link_access(state, caller, id).await?;
    Ok(access.view(link))
}

#[utoipa::path(get, path = "/org-links/{org_link_id}", tag = "salesforce", params(("org_link_id" = Uuid, Path)),
    responses((status = 200, body = OrgLink), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn get_org_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<OrgLink>> {
    Ok(axum::Json(visible_link(&state, &caller, id).await?.into()))
}

/// Change a link. New secrets replace the old; the field mapping is replaced whole. A link that
/// serves several tenancies is changed by operators only.
#[utoipa::path(patch, path = "/org-links/{org_link_id}", tag = "salesforce", params(("org_link_id" = Uuid, Path)),
    request_body = UpdateOrgLink,
    responses((status = 200, body = OrgLink), (status = 422, description = "A field is invalid, or does not fit the link's `auth_kind` (see creating a link).", body = Problem, content_type = "application/problem+json"),
        (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn update_org_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateOrgLink>,
) -> ApiResult<axum::Json<OrgLink>> {
    Ok(axum::Json(
        update_link(&state, &caller, id, body).await?.into(),
    ))
}

/// Changes the link as the body asks, when the caller manages it: the API's update and the
/// console's forms alike.
pub(crate) async fn update_link(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    body: UpdateOrgLink,
) -> ApiResult<store::OrgLink> {
    let scope = managed_tenancy(caller)?;
    let before = managed_link(state, caller, id).await?;
    let (update, key, pause_reason) = parse_update(state, scope, &before, &body).await?;
    let change = org_links::Update {
        update,
        consumer_secret: seal(state, before.id, "consumer_secret", body.consumer_secret)?,
        private_key: seal(state, before.id, "private_key", key)?,
        pause_reason,
    };
    let actor = actor_of(&caller.0);
    Ok(org_links::update_with_reason(&state.store, id, scope, change, &actor).await?)
}

/// The change the body asks of the link `before`, with a new private key still in the clear
/// and why it is paused; every field's error at once.
async fn parse_update(
    state: &AppState,
    scope: Option<Uuid>,
    before: &store::OrgLink,
    body: &UpdateOrgLink,
) -> ApiResult<(OrgLinkUpdate, Option<String>, Option<String>)> {
    let hosts = state.crm.hosts();
    let mut errors = FieldErrors::new();
    let mut text =
        |field: &str, raw: Option<&str>, parse: &dyn Fn(&str) -> Result<String, String>| {
            raw.and_then(|raw| errors.take(field, parse(raw)))
        };
    let update = OrgLinkUpdate {
        name: text("name", body.name.as_deref(), &|r| {
            DisplayName::parse(r).map(|n| n.as_str().to_string())
        }),
        login_host: text("login_host", body.login_host.as_deref(), &|r| {
            hosts.login_host(r)
        }),
        consumer_key: text("consumer_key", body.consumer_key.as_deref(), &|r| {
            short_text(r, 255)
        }),
        integration_username: text(
            "integration_username",
            body.integration_username.as_deref(),
            &|r| short_text(r, 255),
        ),
        api_version: text("api_version", body.api_version.as_deref(), &api_version),
        field_mapping: body.field_mapping.clone(),
        staff_match: body.staff_match,
        api_budget_percent: body
            .api_budget_percent
            .and_then(|p| errors.take("api_budget_percent", budget(p))),
        tenancies: body.tenancies.clone(),
        paused: body.paused,
        integration_user_id: body
            .integration_user_id
            .as_deref()
            .and_then(|raw| errors.take("integration_user_id", user_id(raw))),
        auto_invite: body.auto_invite.clone(),
    };
    if let Some(Some(auto)) = &body.auto_invite {
        let tenancies = body.tenancies.as_ref().unwrap_or(&before.tenancies);
        check_auto_invite(state, auto, tenancies, &mut errors).await?;
    }
    let key = body
        .private_key
        .as_deref()
        .and_then(|k| errors.take("private_key", private_key(k)));
    if let Some(mapping) = &body.field_mapping {
        mapping.validate(&mut errors, "field_mapping");
    }
    if let Some(tenancies) = &body.tenancies {
        check_tenancies(scope, tenancies, &mut errors);
    }
    let pause_reason = match (body.paused, body.pause_reason.as_deref()) {
        (Some(true), None) => {
            errors.push("pause_reason", "say why the link is paused");
            None
        }
        (Some(true), Some(raw)) => errors.take("pause_reason", short_text(raw, 500)),
        // Resuming clears the reason; one given without a pause has nothing to explain.
        _ => None,
    };
    errors.finish().map_err(invalid)?;
    Ok((update, key, pause_reason))
}

#[utoipa::path(delete, path = "/org-links/{org_link_id}", tag = "salesforce", params(("org_link_id" = Uuid, Path)),
    responses((status = 204), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn delete_org_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let scope = managed_tenancy(&caller)?;
    let link = managed_link(&state, &caller, id).await?;
    state.crm.disconnect(&link, None).await?;
    org_links::delete(&state.store, id, scope, &actor_of(&caller.0)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Connect (or reconnect) the org. JWT bearer links connect at once; web-server links answer
/// with a `connect_url` for the admin's browser.
#[utoipa::path(post, path = "/org-links/{org_link_id}/connect", tag = "salesforce", params(("org_link_id" = Uuid, Path)),
    responses((status = 200, body = Connect), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn connect_org_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<Connect>> {
    let (link, connect_url) = connect_link(&state, &caller, id).await?;
    Ok(axum::Json(Connect {
        connect_url,
        org_link: link.into(),
    }))
}

/// Connects the link, when the caller manages it: a JWT bearer link at once, a web-server link
/// by the `connect_url` returned for the admin's browser. The API and the console alike.
pub(crate) async fn connect_link(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> ApiResult<(store::OrgLink, Option<String>)> {
    let link = managed_link(state, caller, id).await?;
    let started_by = match caller.0 {
        crate::store::Actor::Operator { token_id } => format!("operator:{token_id}"),
        crate::store::Actor::Staff { staff_id, .. } => format!("staff:{staff_id}"),
    };
    Ok(match link.auth_kind {
        AuthKind::JwtBearer => (
            org_links::connect_jwt(&state.crm, &link, &actor_of(&caller.0)).await?,
            None,
        ),
        AuthKind::WebServer => {
            let url = state.crm.start_web_flow(&link, &started_by).await?;
            (link, Some(url))
        }
    })
}

/// Disconnect: revoke the token at Salesforce and forget it.
#[utoipa::path(post, path = "/org-links/{org_link_id}/disconnect", tag = "salesforce", params(("org_link_id" = Uuid, Path)),
    responses((status = 200, body = OrgLink), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn disconnect_org_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<OrgLink>> {
    Ok(axum::Json(
        disconnect_link(&state, &caller, id).await?.into(),
    ))
}

/// Disconnects the link, when the caller manages it: the API and the console alike.
pub(crate) async fn disconnect_link(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> ApiResult<store::OrgLink> {
    let link = managed_link(state, caller, id).await?;
    Ok(org_links::disconnect(&state.crm, &link, &actor_of(&caller.0)).await?)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WritebackQuery {
    /// Only write-backs in this state (`failed` to see what needs attention).
    pub state: Option<WritebackState>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub after: Option<Uuid>,
}

/// Status write-backs of the link that are waiting, failed or dismissed (written ones leave
/// the list), with Salesforce's reason for each failure. An administrator of one of several
/// tenancies the link serves sees those of their tenancy's clients only.
#[utoipa::path(get, path = "/org-links/{org_link_id}/writebacks", tag = "salesforce",
    params(("org_link_id" = Uuid, Path), WritebackQuery),
    responses((status = 200, body = Page<Writeback>), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn list_writebacks(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(query): Query<WritebackQuery>,
) -> ApiResult<axum::Json<Page<Writeback>>> {
    let (_, access) = link_access(&state, &caller, id).await?;
    let page = PageQuery {
        limit: query.limit,
        after: query.after,
        q: None,
    }
    .page()?;
    Ok(axum::Json(
        state
            .store
            .list_writebacks(id, access.tenancy(), query.state, &page)
            .await?
            .into(),
    ))
}

/// Retry a failed (or dismissed) write-back now, with fresh attempts (one of the caller's
/// tenancy, for an administrator of a shared link).
#[utoipa::path(post, path = "/org-links/{org_link_id}/writebacks/{writeback_id}/retry", tag = "salesforce",
    params(("org_link_id" = Uuid, Path), ("writeback_id" = Uuid, Path)),
    responses((status = 200, body = Writeback), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn retry_writeback(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, writeback)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<Writeback>> {
    let (_, access) = link_access(&state, &caller, id).await?;
    Ok(axum::Json(
        state
            .store
            .retry_writeback(id, access.tenancy(), writeback)
            .await?
            .into(),
    ))
}

/// Give up on a failed write-back; it stays listed as dismissed (one of the caller's tenancy,
/// for an administrator of a shared link).
#[utoipa::path(post, path = "/org-links/{org_link_id}/writebacks/{writeback_id}/dismiss", tag = "salesforce",
    params(("org_link_id" = Uuid, Path), ("writeback_id" = Uuid, Path)),
    responses((status = 200, body = Writeback), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn dismiss_writeback(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, writeback)): Path<(Uuid, Uuid)>,
) -> ApiResult<axum::Json<Writeback>> {
    let (_, access) = link_access(&state, &caller, id).await?;
    Ok(axum::Json(
        state
            .store
            .dismiss_writeback(id, access.tenancy(), writeback)
            .await?
            .into(),
    ))
}

/// Issue new intake secrets: a new Outbound Message URL (the old one stops working) and a new
/// webhook signing secret. They are shown in this answer only. They belong to the link, so
/// only who manages it may rotate them.
#[utoipa::path(post, path = "/org-links/{org_link_id}/intake-secrets", tag = "salesforce",
    params(("org_link_id" = Uuid, Path)),
    responses((status = 200, body = IntakeSecrets), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn rotate_intake_secrets(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<axum::Json<IntakeSecrets>> {
    Ok(axum::Json(rotate_intake(&state, &caller, id).await?))
}

/// New intake secrets for the link, when the caller manages it, in the clear to be shown once:
/// the API's rotation and the console's alike.
pub(crate) async fn rotate_intake(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> ApiResult<IntakeSecrets> {
    managed_link(state, caller, id).await?;
    let (shown, intake) = new_intake_secrets(state, id)?;
    org_links::rotate_intake_secrets(&state.store, id, &intake, &actor_of(&caller.0)).await?;
    Ok(shown)
}

/// An org link's API key, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// Send as `Authorization: Bearer …` to `/api/v1/salesforce/…`; store it as a Named
    /// Credential in the org. Liaison keeps only its hash.
    pub api_key: String,
    /// Names this key in clients' histories (`salesforce:<link>:key:<key_id>`): the first 8
    /// hex digits of its SHA-256, which tell nothing of the key.
    pub key_id: String,
}

/// Issue the link's API key for callers that are not a browser (a Lightning component through
/// Apex, automation). A new key replaces the old one at once. The key belongs to the link, so
/// only who manages it may issue one.
#[utoipa::path(post, path = "/org-links/{org_link_id}/api-key", tag = "salesforce", params(("org_link_id" = Uuid, Path)),
    responses((status = 201, body = CreatedApiKey), (status = "4XX", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<(StatusCode, axum::Json<CreatedApiKey>)> {
    managed_link(&state, &caller, id).await?;
    let key = format!("{}{}", crate::http::auth::LINK_KEY_PREFIX, random_token());
    let hash = digest(&key);
    org_links::issue_api_key(&state.store, id, &hash, &actor_of(&caller.0)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedApiKey {
            api_key: key,
            key_id: crate::store::api_key_id(&hash),
        }),
    ))
}
