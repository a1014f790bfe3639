//! The tenancies: an operator lists, creates and changes them all; an administrator sees their
//! own, and its system administrators change its settings. Every read and change goes through
//! the API's own functions with the session's caller, so each page refuses where the API does.

// A refusal here is the page that answers the request; the error side is that page.
#![allow(clippy::result_large_err)]

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::directory::{self, Choice, Errors, Posted, TENANCIES};
use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::domain::tenancy::{DEFAULT_GROUP_NAME_CONVENTION, GroupModel, MobilePolicy};
use crate::http::AppState;
use crate::http::api::tenancies::{self as api, CreateTenancy, UpdateTenancy};
use crate::http::api::{audit, tokens};
use crate::http::error::ApiError;
use crate::store::Tenancy;

/// The group models a new tenancy may start on.
const MODELS: [(&str, &str); 2] = [
    ("client_teams", "Client teams"),
    ("contact_groups", "Contact groups"),
];

const MOBILE_POLICIES: [(&str, &str); 3] = [
    ("optional", "Optional"),
    ("mandatory", "Mandatory"),
    ("hidden", "Hidden"),
];

/// A tenancy as its pages show it.
pub(super) struct TenancyView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) group_model: &'static str,
    pub(super) mobile_policy: &'static str,
    pub(super) group_name_convention: String,
    pub(super) phone_region: String,
    pub(super) created: String,
}

impl From<Tenancy> for TenancyView {
    fn from(tenancy: Tenancy) -> Self {
        let label = |value: &str, options: &[(&'static str, &'static str)]| {
            options
                .iter()
                .find(|(v, _)| *v == value)
                .map_or("", |(_, text)| *text)
        };
        Self {
            id: tenancy.id.to_string(),
            group_model: label(tenancy.group_model.as_str(), &MODELS),
            mobile_policy: label(tenancy.mobile_policy.as_str(), &MOBILE_POLICIES),
            group_name_convention: tenancy.group_name_convention,
            phone_region: tenancy.phone_region.to_string(),
            created: directory::when(tenancy.created_at),
            name: tenancy.name,
        }
    }
}

#[derive(Template)]
#[template(path = "console/tenancies.html")]
struct List {
    chrome: Chrome,
    title: &'static str,
    tenancies: Vec<TenancyView>,
    /// Whether the caller may create tenancies (an operator).
    may_create: bool,
    next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Paging {
    after: Option<String>,
}

/// `GET /console/tenancies`: every tenancy for an operator, one's own for an administrator.
pub(super) async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    Query(paging): Query<Paging>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Tenancies);
    let caller = signed.caller();
    let read = async {
        let page = directory::page_query(paging.after.as_deref(), None).page()?;
        Ok::<_, ApiError>(
            state
                .store
                .list_tenancies(caller.own_tenancy(), &page)
                .await?,
        )
    };
    match read.await {
        Ok(found) => {
            let next = found
                .next_cursor
                .map(|after| directory::address(TENANCIES, &[("after", &after)]));
            let page = List {
                chrome,
                title: "Tenancies",
                tenancies: found.items.into_iter().map(TenancyView::from).collect(),
                may_create: caller.require_operator().is_ok(),
                next,
            };
            view::render(StatusCode::OK, &page)
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// A tenancy's settings as a form holds them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SettingsForm {
    csrf: String,
    name: String,
    group_model: String,
    mobile_policy: String,
    group_name_convention: String,
    phone_region: String,
}

impl Posted for SettingsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl SettingsForm {
    fn of(tenancy: &TenancyView, model: GroupModel, policy: MobilePolicy) -> Self {
        Self {
            csrf: String::new(),
            name: tenancy.name.clone(),
            group_model: model.as_str().into(),
            mobile_policy: policy.as_str().into(),
            group_name_convention: tenancy.group_name_convention.clone(),
            phone_region: tenancy.phone_region.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/tenancies_new.html")]
struct New {
    chrome: Chrome,
    title: &'static str,
    form: SettingsForm,
    errors: Errors,
    models: Vec<Choice>,
    policies: Vec<Choice>,
}

fn new_page(chrome: Chrome, form: SettingsForm, errors: Errors) -> Response {
    let status = errors.status;
    let page = New {
        chrome,
        title: "New tenancy",
        models: directory::choices(&MODELS, &form.group_model),
        policies: directory::choices(&MOBILE_POLICIES, &form.mobile_policy),
        form,
        errors,
    };
    view::render(status, &page)
}

/// `GET /console/tenancies/new`: the form, for those the API lets create tenancies.
pub(super) async fn new(signed: SignedIn) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Tenancies);
    if let Err(error) = signed.caller().require_operator() {
        return view::refusal(&chrome, error);
    }
    let form = SettingsForm {
        group_model: GroupModel::ClientTeams.as_str().into(),
        mobile_policy: MobilePolicy::Optional.as_str().into(),
        group_name_convention: DEFAULT_GROUP_NAME_CONVENTION.into(),
        phone_region: "GB".into(),
        ..SettingsForm::default()
    };
    new_page(chrome, form, Errors::default())
}

/// `POST /console/tenancies`: creates the tenancy through the API's own function, then shows
/// it; a refused field is shown beside it.
pub(super) async fn create(
    State(state): State<AppState>,
    signed: SignedIn,
    form: Result<Form<SettingsForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let chrome = Chrome::signed_in(&signed, Section::Tenancies);
    let body = CreateTenancy {
        name: form.name.clone(),
        group_model: GroupModel::parse(&form.group_model),
        mobile_policy: MobilePolicy::parse(&form.mobile_policy),
        group_name_convention: Some(form.group_name_convention.clone()),
        phone_region: directory::filled(&form.phone_region),
    };
    match api::create(&state, &signed.caller(), body).await {
        Ok(created) => Redirect::to(&format!("{TENANCIES}/{}", created.id)).into_response(),
        Err(error) => directory::refused(chrome, error, |chrome, errors| {
            new_page(chrome, form, errors)
        }),
    }
}

#[derive(Template)]
#[template(path = "console/tenancies_detail.html")]
struct Detail {
    chrome: Chrome,
    title: String,
    tenancy: TenancyView,
    /// The settings form, for those the API lets change them.
    form: Option<SettingsForm>,
    errors: Errors,
    notice: Option<&'static str>,
    policies: Vec<Choice>,
    /// The tenancy's pages the caller may open.
    tokens: bool,
    audit: bool,
}

#[derive(Deserialize)]
pub(super) struct Shown {
    saved: Option<String>,
}

/// `GET /console/tenancies/{id}`: the tenancy's settings (a form for its system
/// administrators and operators) and its pages.
pub(super) async fn detail(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(shown): Query<Shown>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Tenancies);
    let notice = shown.saved.map(|_| "The settings were saved.");
    match read(&state, &signed, &id).await {
        Ok(tenancy) => detail_page(&signed, chrome, tenancy, None, Errors::default(), notice),
        Err(error) => view::refusal(&chrome, error),
    }
}

/// The tenancy as `GET /api/v1/tenancies/{id}` reads it for the session's caller.
async fn read(state: &AppState, signed: &SignedIn, id: &str) -> Result<Tenancy, ApiError> {
    let id = Uuid::parse_str(id).map_err(|_| ApiError::NotFound("tenancy"))?;
    let access = signed.caller().in_tenancy(id)?;
    Ok(state.store.tenancy(access.tenancy).await?)
}

fn detail_page(
    signed: &SignedIn,
    chrome: Chrome,
    tenancy: Tenancy,
    form: Option<SettingsForm>,
    errors: Errors,
    notice: Option<&'static str>,
) -> Response {
    let caller = signed.caller();
    let (id, model, policy) = (tenancy.id, tenancy.group_model, tenancy.mobile_policy);
    let shown = TenancyView::from(tenancy);
    let editable = caller
        .in_tenancy(id)
        .and_then(|access| access.require_tenancy_admin())
        .is_ok();
    let form = editable.then(|| form.unwrap_or_else(|| SettingsForm::of(&shown, model, policy)));
    let chosen = form.as_ref().map_or("", |f| f.mobile_policy.as_str());
    let policies = directory::choices(&MOBILE_POLICIES, chosen);
    let page = Detail {
        chrome,
        title: shown.name.clone(),
        tenancy: shown,
        form,
        notice,
        policies,
        tokens: tokens::scope(&caller, Some(id)).is_ok(),
        audit: audit::scope(&caller, Some(id)).is_ok(),
        errors,
    };
    let status = page.errors.status;
    view::render(status, &page)
}

/// `POST /console/tenancies/{id}`: changes the settings through the API's own function.
pub(super) async fn update(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: Result<Form<SettingsForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let chrome = Chrome::signed_in(&signed, Section::Tenancies);
    let tenancy = match read(&state, &signed, &id).await {
        Ok(tenancy) => tenancy,
        Err(error) => return view::refusal(&chrome, error),
    };
    let body = UpdateTenancy {
        name: Some(form.name.clone()),
        mobile_policy: MobilePolicy::parse(&form.mobile_policy),
        group_name_convention: Some(form.group_name_convention.clone()),
        phone_region: Some(form.phone_region.clone()),
    };
    match api::update(&state, &signed.caller(), tenancy.id, body).await {
        Ok(saved) => Redirect::to(&format!("{TENANCIES}/{}?saved=1", saved.id)).into_response(),
        Err(error) => directory::refused(chrome, error, |chrome, errors| {
            detail_page(&signed, chrome, tenancy, Some(form), errors, None)
        }),
    }
}
