//! What an administrator does to an org link in the console besides its settings: connect it
//! (the web-server flow in their browser, or a JWT bearer link at once), disconnect it, choose
//! the tenancies it serves, and set up its intake in Salesforce. Each page calls the function
//! the matching `/api/v1/org-links…` handler calls, with the session as the API's caller; each
//! change asks for confirmation first and is recorded in the audit trail by the service.

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::domain::org_link::RecordFields;
use crate::http::AppState;
use crate::http::api::org_links::{
    UpdateOrgLink, connect_link, disconnect_link, managed_link, rotate_intake, update_link,
    visible_link,
};
use crate::http::api::wire::IntakeSecrets;
use crate::http::error::{ApiError, ApiResult};
use crate::store::{OrgLink, PageRequest};

/// The console's page of one link.
pub(super) fn link_path(id: Uuid) -> String {
    format!("{}/{id}", super::ORG_LINKS)
}

/// A link's id from the path; what is not one is a link not found, as the API answers.
pub(super) fn parse_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound("org link"))
}

/// A tenancy offered in a form.
pub(super) struct Choice {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) checked: bool,
}

/// A posted button's form: its CSRF token, and the tenancy it names, if any.
#[derive(Deserialize, Default)]
pub(super) struct Pressed {
    #[serde(default)]
    csrf: String,
    tenancy: Option<Uuid>,
}

impl Pressed {
    /// The form; a body that is not one reads as an empty form.
    fn of(form: Result<Form<Pressed>, FormRejection>) -> Self {
        form.map(|Form(f)| f).unwrap_or_default()
    }
}

/// The chrome of the page answering a post whose CSRF token is the session's; otherwise the
/// page that refuses it, before anything is read or changed (the error side is that page).
#[allow(clippy::result_large_err)]
pub(super) fn checked(signed: &SignedIn, csrf: &str) -> Result<Chrome, Response> {
    signed.check(csrf)?;
    Ok(Chrome::signed_in(signed, Section::OrgLinks))
}

/// What a change asks before it is made: its title, what it does, and the button.
#[derive(Template)]
#[template(path = "console/org_link_confirm.html")]
struct Confirm {
    chrome: Chrome,
    title: String,
    link_name: String,
    /// What pressing the button does, in full.
    consequence: String,
    action: String,
    button: &'static str,
    /// The tenancy the change is about, posted with it.
    tenancy: Option<String>,
    back: String,
}

/// The changes the console confirms first.
#[derive(Clone, Copy)]
enum Asked {
    Disconnect,
    Rotate,
    Remove(Uuid),
}

impl Asked {
    fn page(self, chrome: Chrome, link: &OrgLink, tenancy_name: &str) -> Confirm {
        let path = link_path(link.id);
        let (title, consequence, action, button, tenancy) = match self {
            Self::Disconnect => (
                "Disconnect the org?",
                "Liaison revokes its token at Salesforce and forgets it. Invites from records, \
                 record changes and status write-backs stop until the org is connected again."
                    .to_string(),
                format!("{path}/disconnect"),
                "Disconnect",
                None,
            ),
            Self::Rotate => (
                "Issue new intake secrets?",
                "The Outbound Message endpoint URL and the webhook signing secret in use stop \
                 working at once: Salesforce's deliveries are refused until you enter the new ones \
                 in Salesforce Setup. The new ones are shown once, on the next page."
                    .to_string(),
                format!("{path}/intake/rotate"),
                "Issue new secrets",
                None,
            ),
            Self::Remove(tenancy) => (
                "Stop serving this tenancy?",
                format!(
                    "The org stops serving “{tenancy_name}”: its staff can no longer invite from \
                     this org's records, and its clients' records are no longer followed."
                ),
                format!("{path}/tenancies/remove"),
                "Stop serving",
                Some(tenancy.to_string()),
            ),
        };
        Confirm {
            chrome,
            title: title.into(),
            link_name: link.name.clone(),
            consequence,
            action,
            button,
            tenancy,
            back: path,
        }
    }
}

/// The confirmation of `asked`, for who may make the change.
async fn confirm(state: &AppState, signed: &SignedIn, id: &str, asked: Asked) -> Response {
    let chrome = Chrome::signed_in(signed, Section::OrgLinks);
    let read = async {
        let link = managed_link(state, &signed.caller(), parse_id(id)?).await?;
        let name = match asked {
            Asked::Remove(tenancy) => served_name(state, &link, tenancy).await?,
            _ => String::new(),
        };
        Ok::<_, ApiError>((link, name))
    };
    match read.await {
        Ok((link, name)) => view::render(StatusCode::OK, &asked.page(chrome, &link, &name)),
        Err(error) => view::refusal(&chrome, error),
    }
}

/// The name of a tenancy the link serves; one it does not serve is not found.
async fn served_name(state: &AppState, link: &OrgLink, tenancy: Uuid) -> ApiResult<String> {
    if !link.tenancies.contains(&tenancy) {
        return Err(ApiError::NotFound("tenancy"));
    }
    let names = state.store.tenancy_names(&[tenancy]).await?;
    Ok(names.get(&tenancy).cloned().unwrap_or_default())
}

/// Starts connecting: a JWT bearer link connects at once and the link's page shows it; for the
/// web-server flow the browser goes to Salesforce and comes back to the link's page.
pub(super) async fn connect(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: Result<Form<Pressed>, FormRejection>,
) -> Response {
    let chrome = match checked(&signed, &Pressed::of(form).csrf) {
        Ok(chrome) => chrome,
        Err(refused) => return refused,
    };
    let connected = async {
        let id = parse_id(&id)?;
        connect_link(&state, &signed.caller(), id).await
    };
    match connected.await {
        Ok((link, None)) => Redirect::to(&link_path(link.id)).into_response(),
        Ok((link, Some(url))) => {
            let back = crate::http::salesforce::return_to_query(&link_path(link.id));
            Redirect::to(&format!("{url}&{back}")).into_response()
        }
        Err(error) => not_done(&chrome, error, &id),
    }
}

/// What Salesforce or a rule refused, said on a page with the API's status and its words, and
/// the way back to the link; a failure of ours as the console says it.
fn not_done(chrome: &Chrome, error: ApiError, id: &str) -> Response {
    let problem = error.problem();
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match status {
        StatusCode::CONFLICT | StatusCode::BAD_GATEWAY | StatusCode::UNPROCESSABLE_ENTITY => {
            let back = format!("{}/{id}", super::ORG_LINKS);
            let text = format!("{}. Nothing was changed.", problem.detail);
            let next = Some((back.as_str(), "Back to the org link"));
            view::message(status, chrome, "Not done", &text, next)
        }
        _ => view::refusal(chrome, error),
    }
}

pub(super) async fn ask_disconnect(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    confirm(&state, &signed, &id, Asked::Disconnect).await
}

/// Disconnects the link, confirmed, and shows it.
pub(super) async fn disconnect(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: Result<Form<Pressed>, FormRejection>,
) -> Response {
    let chrome = match checked(&signed, &Pressed::of(form).csrf) {
        Ok(chrome) => chrome,
        Err(refused) => return refused,
    };
    let done = async { disconnect_link(&state, &signed.caller(), parse_id(&id)?).await };
    match done.await {
        Ok(link) => Redirect::to(&link_path(link.id)).into_response(),
        Err(error) => not_done(&chrome, error, &id),
    }
}

/// The tenancies a link may serve, those in `ticked` ticked: every tenancy for an operator, an
/// administrator's own.
pub(super) async fn tenancy_choices(
    state: &AppState,
    signed: &SignedIn,
    ticked: &[Uuid],
) -> ApiResult<Vec<Choice>> {
    let caller = signed.caller();
    let own = caller.own_tenancy();
    let page = PageRequest {
        limit: PageRequest::MAX_LIMIT,
        after: None,
    };
    let found = state.store.list_tenancies(own, &page).await?;
    Ok(found
        .items
        .into_iter()
        .map(|t| Choice {
            checked: ticked.contains(&t.id) || own == Some(t.id),
            id: t.id.to_string(),
            name: t.name,
        })
        .collect())
}

/// The tenancies a link serves, each with a way to stop serving it, and those it may begin to.
#[derive(Template)]
#[template(path = "console/org_link_tenancies.html")]
struct Tenancies {
    chrome: Chrome,
    title: String,
    link_id: String,
    served: Vec<Choice>,
    /// Tenancies not served yet, for an operator.
    offered: Vec<Choice>,
    /// Why the last change was refused.
    error: Option<String>,
}

/// The link's tenancies, for who manages it.
pub(super) async fn tenancies(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::OrgLinks);
    tenancies_page(&state, &signed, chrome, &id, None, StatusCode::OK).await
}

async fn tenancies_page(
    state: &AppState,
    signed: &SignedIn,
    chrome: Chrome,
    id: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let read = async {
        let link = managed_link(state, &signed.caller(), parse_id(id)?).await?;
        let choices = tenancy_choices(state, signed, &link.tenancies).await?;
        Ok::<_, ApiError>((link, choices))
    };
    let (link, choices) = match read.await {
        Ok(found) => found,
        Err(error) => return view::refusal(&chrome, error),
    };
    let (served, offered) = choices.into_iter().partition(|c| c.checked);
    let page = Tenancies {
        chrome,
        title: format!("Tenancies served by {}", link.name),
        link_id: link.id.to_string(),
        served,
        offered,
        error,
    };
    view::render(status, &page)
}

/// Adds a tenancy to those the link serves.
pub(super) async fn add_tenancy(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: Result<Form<Pressed>, FormRejection>,
) -> Response {
    relink(state, signed, id, form, true).await
}

pub(super) async fn ask_remove_tenancy(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((id, tenancy)): Path<(String, String)>,
) -> Response {
    match Uuid::parse_str(&tenancy) {
        Ok(tenancy) => confirm(&state, &signed, &id, Asked::Remove(tenancy)).await,
        Err(_) => view::not_found(),
    }
}

/// Stops the link serving a tenancy, confirmed.
pub(super) async fn remove_tenancy(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: Result<Form<Pressed>, FormRejection>,
) -> Response {
    relink(state, signed, id, form, false).await
}

/// Changes the tenancies the link serves through the API's update, which decides who may and
/// words what it refuses.
async fn relink(
    state: AppState,
    signed: SignedIn,
    id: String,
    form: Result<Form<Pressed>, FormRejection>,
    add: bool,
) -> Response {
    let pressed = Pressed::of(form);
    let chrome = match checked(&signed, &pressed.csrf) {
        Ok(chrome) => chrome,
        Err(refused) => return refused,
    };
    let caller = signed.caller();
    let changed = async {
        let link = visible_link(&state, &caller, parse_id(&id)?).await?;
        let mut tenancies = link.tenancies.clone();
        match pressed.tenancy {
            Some(t) if add => tenancies.push(t),
            Some(t) => tenancies.retain(|served| *served != t),
            None => {}
        }
        let body = UpdateOrgLink {
            tenancies: Some(tenancies),
            ..UpdateOrgLink::default()
        };
        update_link(&state, &caller, link.id, body).await
    };
    match changed.await {
        Ok(link) => Redirect::to(&format!("{}/tenancies", link_path(link.id))).into_response(),
        Err(ApiError::Invalid(errors)) => {
            let reasons: Vec<String> = errors.into_iter().map(|e| e.reason).collect();
            let error = Some(reasons.join("; "));
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            tenancies_page(&state, &signed, chrome, &id, error, status).await
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// The fields a Contact's or a Person Account's Outbound Message must carry.
pub(super) struct SentFields {
    pub(super) object: &'static str,
    pub(super) fields: Vec<String>,
}

/// What Liaison reads of each object: the system fields that order and attribute a change, the
/// link's mapped fields, and auto-invite's checkbox (`__pc` on a Person Account).
fn sent_fields(link: &OrgLink) -> Vec<SentFields> {
    let mapping = &link.field_mapping;
    let checkbox = link.auto_invite.as_ref().map(|a| a.field.as_str());
    let person_box = checkbox
        .and_then(|f| f.strip_suffix("__c"))
        .map(|f| format!("{f}__pc"));
    let object = |object, record: &RecordFields, system: &[&str], checkbox: Option<String>| {
        let mut fields: Vec<String> = system.iter().map(|f| (*f).to_string()).collect();
        fields.extend([
            record.first_name.clone(),
            record.last_name.clone(),
            record.email.clone(),
        ]);
        fields.extend(record.mobile.clone());
        fields.extend(record.title.clone());
        fields.extend(checkbox);
        SentFields { object, fields }
    };
    let system = ["Id", "LastModifiedDate", "LastModifiedById"];
    let person = [
        "Id",
        "LastModifiedDate",
        "LastModifiedById",
        "IsPersonAccount",
    ];
    vec![
        object(
            "Contact",
            &mapping.contact,
            &system,
            checkbox.map(str::to_string),
        ),
        object("Account", &mapping.person_account, &person, person_box),
    ]
}

/// A link's intake in Salesforce: where deliveries go, the secrets when they were just issued
/// (shown this once), and the steps in Salesforce Setup.
#[derive(Template)]
#[template(path = "console/org_link_intake.html")]
struct Intake {
    chrome: Chrome,
    title: String,
    link_id: String,
    /// Just created: the page says so and leads on to the link.
    created: bool,
    webhook_url: String,
    shown: Option<IntakeSecrets>,
    objects: Vec<SentFields>,
}

/// Intake secrets just issued, with why.
pub(super) enum Shown {
    Created(IntakeSecrets),
    Rotated(IntakeSecrets),
}

/// The intake page of `link`, with the secrets just issued if any.
pub(super) fn intake_page(
    state: &AppState,
    chrome: Chrome,
    link: &OrgLink,
    shown: Option<Shown>,
) -> Response {
    let public = state.crm.config().public_url.trim_end_matches('/');
    let (created, shown) = match shown {
        Some(Shown::Created(s)) => (true, Some(s)),
        Some(Shown::Rotated(s)) => (false, Some(s)),
        None => (false, None),
    };
    let page = Intake {
        chrome,
        title: format!("Intake setup for {}", link.name),
        link_id: link.id.to_string(),
        created,
        webhook_url: format!("{public}/webhooks/salesforce/{}", link.id),
        shown,
        objects: sent_fields(link),
    };
    view::render(StatusCode::OK, &page)
}

/// The link's intake setup, for who manages it.
pub(super) async fn intake(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::OrgLinks);
    let read = async { managed_link(&state, &signed.caller(), parse_id(&id)?).await };
    match read.await {
        Ok(link) => intake_page(&state, chrome, &link, None),
        Err(error) => view::refusal(&chrome, error),
    }
}

pub(super) async fn ask_rotate(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    confirm(&state, &signed, &id, Asked::Rotate).await
}

/// Issues new intake secrets, confirmed, and shows them once.
pub(super) async fn rotate(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: Result<Form<Pressed>, FormRejection>,
) -> Response {
    let chrome = match checked(&signed, &Pressed::of(form).csrf) {
        Ok(chrome) => chrome,
        Err(refused) => return refused,
    };
    let caller = signed.caller();
    let rotated = async {
        let id = parse_id(&id)?;
        let shown = rotate_intake(&state, &caller, id).await?;
        Ok::<_, ApiError>((managed_link(&state, &caller, id).await?, shown))
    };
    match rotated.await {
        Ok((link, shown)) => intake_page(&state, chrome, &link, Some(Shown::Rotated(shown))),
        Err(error) => view::refusal(&chrome, error),
    }
}

/// Pausing a link (its reason required) or resuming it: the confirmation, and the reason's
/// refusal beside the field when the API refused it.
#[derive(Template)]
#[template(path = "console/ops_pause.html")]
struct PausePage {
    chrome: Chrome,
    title: &'static str,
    link_name: String,
    link_id: String,
    pausing: bool,
    reason: String,
    error: Option<String>,
    /// `ops` when asked from the sync health overview, which the change returns to.
    from: String,
    back: String,
}

/// The posted pause or resume: its CSRF token, the reason and where it was asked from.
#[derive(Deserialize, Default)]
pub(super) struct PauseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    from: String,
}

/// Where a pause or resume returns to: the overview it was asked from, or the link's page.
fn after_pause(from: &str, id: Uuid) -> String {
    if from == "ops" {
        super::OPS.to_string()
    } else {
        link_path(id)
    }
}

/// The form that pauses or resumes `id`, for who manages the link.
async fn pause_page(
    state: &AppState,
    signed: &SignedIn,
    id: &str,
    form: PauseForm,
    pausing: bool,
    error: Option<(StatusCode, String)>,
) -> Response {
    let chrome = Chrome::signed_in(signed, Section::OrgLinks);
    let read = async { managed_link(state, &signed.caller(), parse_id(id)?).await };
    let link = match read.await {
        Ok(link) => link,
        Err(error) => return view::refusal(&chrome, error),
    };
    let (status, error) = error.map_or((StatusCode::OK, None), |(s, e)| (s, Some(e)));
    let from = if form.from == "ops" { "ops" } else { "" };
    let page = PausePage {
        chrome,
        title: if pausing {
            "Pause the org link?"
        } else {
            "Resume the org link?"
        },
        link_name: link.name.clone(),
        link_id: link.id.to_string(),
        pausing,
        reason: form.reason,
        error,
        from: from.into(),
        back: after_pause(from, link.id),
    };
    view::render(status, &page)
}

/// `?from=ops` when the overview asked.
fn asked_from(query: Option<String>) -> PauseForm {
    PauseForm {
        from: query
            .filter(|q| q == "from=ops")
            .map(|_| "ops".into())
            .unwrap_or_default(),
        ..PauseForm::default()
    }
}

pub(super) async fn ask_pause(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    pause_page(&state, &signed, &id, asked_from(query), true, None).await
}

pub(super) async fn ask_resume(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    pause_page(&state, &signed, &id, asked_from(query), false, None).await
}

/// Pauses the link with its reason, through the API's update, which requires the reason and
/// records both in the audit trail.
pub(super) async fn pause(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: Result<Form<PauseForm>, FormRejection>,
) -> Response {
    set_paused(state, signed, id, form, true).await
}

pub(super) async fn resume(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: Result<Form<PauseForm>, FormRejection>,
) -> Response {
    set_paused(state, signed, id, form, false).await
}

async fn set_paused(
    state: AppState,
    signed: SignedIn,
    id: String,
    form: Result<Form<PauseForm>, FormRejection>,
    pausing: bool,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let chrome = match checked(&signed, &form.csrf) {
        Ok(chrome) => chrome,
        Err(refused) => return refused,
    };
    let changed = async {
        let body = UpdateOrgLink {
            paused: Some(pausing),
            pause_reason: pausing.then(|| form.reason.clone()),
            ..UpdateOrgLink::default()
        };
        update_link(&state, &signed.caller(), parse_id(&id)?, body).await
    };
    match changed.await {
        Ok(link) => Redirect::to(&after_pause(&form.from, link.id)).into_response(),
        Err(ApiError::Invalid(errors)) => {
            let reasons: Vec<String> = errors.into_iter().map(|e| e.reason).collect();
            let error = Some((StatusCode::UNPROCESSABLE_ENTITY, reasons.join("; ")));
            pause_page(&state, &signed, &id, form, pausing, error).await
        }
        Err(error) => not_done(&chrome, error, &id),
    }
}
