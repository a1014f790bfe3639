//! A tenancy's team accounts (a team's shared identity, e.g. "Support") and their delegates, the
//! staff users who may act as one: the list, searched and paged; a new team account with its
//! own e-mail, secure mobile and the contact number clients see; and a team account's page
//! where its details are changed and delegates are added and removed. Each change is the API's
//! own function with the session's caller, its reasons shown beside the fields.

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

use super::directory::{self, Button, Choice, Done, Errors, Posted, Search, TENANCIES, tenancy_id};
use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::http::AppState;
use crate::http::api::PageQuery;
use crate::http::api::team_accounts::{self as api, CreateTeamAccount, UpdateTeamAccount};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::store::{PageRequest, Staff, TeamAccount};

/// A team account as the pages show it.
pub(super) struct AccountView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) email: String,
    pub(super) contact_number: String,
    pub(super) title: String,
    pub(super) active: bool,
}

impl From<&TeamAccount> for AccountView {
    fn from(account: &TeamAccount) -> Self {
        Self {
            id: account.id.to_string(),
            name: account.name.clone(),
            email: account.email.clone(),
            contact_number: account.contact_number.clone().unwrap_or_default(),
            title: account.title.clone().unwrap_or_default(),
            active: account.active,
        }
    }
}

#[derive(Template)]
#[template(path = "console/team_accounts.html")]
struct List {
    chrome: Chrome,
    title: String,
    tenancy: String,
    accounts: Vec<AccountView>,
    q: String,
    next: Option<String>,
    may_add: bool,
}

/// `GET /console/tenancies/{id}/team-accounts`: searched by name or e-mail, a page at a time.
pub(super) async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    Query(search): Query<Search>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::TeamAccounts);
    let query = search.query();
    let read = async {
        let tenancy = tenancy_id(&tenancy)?;
        let found = api::listed(&state, &signed.caller(), tenancy, &query).await?;
        Ok::<_, ApiError>((state.store.tenancy(tenancy).await?, found))
    };
    let (tenancy, found) = match read.await {
        Ok(read) => read,
        Err(error) => return view::refusal(&chrome, error),
    };
    let path = directory::tenancy_page(tenancy.id, "team-accounts");
    let next = found.next_cursor.map(|after| search.next(&path, &after));
    let page = List {
        chrome,
        title: format!("Team accounts of {}", tenancy.name),
        tenancy: tenancy.id.to_string(),
        accounts: found.items.iter().map(AccountView::from).collect(),
        q: search.q,
        next,
        may_add: may_manage(&signed.caller(), tenancy.id),
    };
    view::render(StatusCode::OK, &page)
}

/// A delegate as the page shows them.
pub(super) struct DelegateView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) email: String,
}

impl From<&Staff> for DelegateView {
    fn from(staff: &Staff) -> Self {
        Self {
            id: staff.id.to_string(),
            name: format!("{} {}", staff.first_name, staff.last_name),
            email: staff.email.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/team_accounts_detail.html")]
struct Detail {
    chrome: Chrome,
    title: String,
    tenancy: String,
    account: AccountView,
    delegates: Vec<DelegateView>,
    candidates: Vec<Choice>,
    /// The details' form, for those the API lets change the account.
    form: Option<AccountForm>,
    statuses: Vec<Choice>,
    errors: Errors,
    notice: Option<&'static str>,
}

/// `GET /console/tenancies/{id}/team-accounts/{account}`: the account and its delegates.
pub(super) async fn detail(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(path): Path<(String, String)>,
    Query(shown): Query<Done>,
) -> Response {
    let notice = shown.notice(&[
        (
            "created",
            "The team account was created: add the staff users who may act as it.",
        ),
        ("saved", "The changes were saved."),
        (
            "added",
            "The delegate was added: they may act as the team account.",
        ),
        ("removed", "The delegate was removed."),
    ]);
    let shown = Shown {
        form: None,
        errors: Errors::default(),
        notice,
    };
    account_page(&state, &signed, &path, shown).await
}

/// What the account's page shows beside the account: the details' form as posted (or, absent,
/// as the account is), the API's reasons for a refused change, and what was just done.
struct Shown {
    form: Option<AccountForm>,
    errors: Errors,
    notice: Option<&'static str>,
}

/// The account's page, with the API's reasons for a refused change.
async fn account_page(
    state: &AppState,
    signed: &SignedIn,
    path: &(String, String),
    shown: Shown,
) -> Response {
    let chrome = Chrome::signed_in(signed, Section::TeamAccounts);
    let (account, delegates, staff) = match read(state, signed, path).await {
        Ok(read) => read,
        Err(error) => return view::refusal(&chrome, error),
    };
    let candidates: Vec<(String, String)> = staff
        .into_iter()
        .filter(|(id, _, active)| *active && !delegates.iter().any(|d| d.id == *id))
        .map(|(id, name, _)| (id.to_string(), name))
        .collect();
    let form = may_manage(&signed.caller(), account.tenancy_id)
        .then(|| shown.form.unwrap_or_else(|| AccountForm::of(&account)));
    let chosen = form.as_ref().map_or("", |f| f.status.as_str());
    let page = Detail {
        chrome,
        title: account.name.clone(),
        tenancy: account.tenancy_id.to_string(),
        account: AccountView::from(&account),
        delegates: delegates.iter().map(DelegateView::from).collect(),
        candidates: directory::owned_choices(&candidates, ""),
        statuses: directory::choices(&STATUSES, chosen),
        form,
        errors: shown.errors,
        notice: shown.notice,
    };
    view::render(page.errors.status, &page)
}

/// The account, its delegates and the tenancy's staff, as the API reads them for the caller.
async fn read(
    state: &AppState,
    signed: &SignedIn,
    (tenancy, account): &(String, String),
) -> Result<(TeamAccount, Vec<Staff>, Vec<(Uuid, String, bool)>), ApiError> {
    let caller = signed.caller();
    let access = caller.in_tenancy(tenancy_id(tenancy)?)?;
    let id = Uuid::parse_str(account).map_err(|_| ApiError::NotFound("team account"))?;
    let account = state.store.team_account(access.tenancy, id).await?;
    let most = PageQuery {
        limit: Some(PageRequest::MAX_LIMIT),
        after: None,
        q: None,
    };
    let delegates = api::delegates(state, &caller, access.tenancy, id, &most).await?;
    let staff = directory::staff_names(state, &caller, access.tenancy).await?;
    Ok((account, delegates.items, staff))
}

/// The delegate to add, as the form sends them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct DelegateForm {
    csrf: String,
    staff_id: String,
}

impl Posted for DelegateForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST …/team-accounts/{account}/delegates`: lets the staff user act as the account.
pub(super) async fn add(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(path): Path<(String, String)>,
    form: Result<Form<DelegateForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let added = async {
        let asked = ids(&path, &form.staff_id)?;
        api::appoint(&state, &signed.caller(), asked)
            .await
            .map(|_| ())
    };
    answer(&state, &signed, &path, added.await, "added").await
}

/// `POST …/team-accounts/{account}/delegates/{staff}/remove`.
pub(super) async fn remove(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((tenancy, account, staff)): Path<(String, String, String)>,
    form: Result<Form<Button>, FormRejection>,
) -> Response {
    if let Err(refused) = directory::posted(&signed, form) {
        return refused;
    }
    let path = (tenancy, account);
    let removed = match ids(&path, &staff) {
        Ok(asked) => api::dismiss(&state, &signed.caller(), asked).await,
        Err(error) => Err(error),
    };
    answer(&state, &signed, &path, removed, "removed").await
}

/// The tenancy, the account and the staff user a post names.
fn ids((tenancy, account): &(String, String), staff: &str) -> Result<(Uuid, Uuid, Uuid), ApiError> {
    let account = Uuid::parse_str(account).map_err(|_| ApiError::NotFound("team account"))?;
    let staff = Uuid::parse_str(staff.trim())
        .map_err(|_| ApiError::invalid("staff_id", "choose the staff user who may act as it"))?;
    Ok((tenancy_id(tenancy)?, account, staff))
}

/// The account's page saying what was done, or again with the API's reasons.
async fn answer(
    state: &AppState,
    signed: &SignedIn,
    path: &(String, String),
    done: Result<(), ApiError>,
    what: &str,
) -> Response {
    match done.map_err(Errors::of) {
        Ok(()) => {
            let page = format!("{TENANCIES}/{}/team-accounts/{}", path.0, path.1);
            Redirect::to(&directory::address(&page, &[("done", what)])).into_response()
        }
        Err(Ok(errors)) => {
            let shown = Shown {
                form: None,
                errors,
                notice: None,
            };
            account_page(state, signed, path, shown).await
        }
        Err(Err(error)) => view::refusal(&Chrome::signed_in(signed, Section::TeamAccounts), error),
    }
}

/// Whether the API lets `caller` create and change the tenancy's team accounts, and if not why.
fn users_admin(caller: &Caller, tenancy: Uuid) -> Result<(), ApiError> {
    caller.in_tenancy(tenancy)?.require_users_admin()
}

fn may_manage(caller: &Caller, tenancy: Uuid) -> bool {
    users_admin(caller, tenancy).is_ok()
}

/// The statuses the details' form offers.
const STATUSES: [(&str, &str); 2] = [("active", "Active"), ("deactivated", "Deactivated")];

/// A team account's details as a form holds them (the e-mail only when creating one: the API
/// does not change it).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AccountForm {
    csrf: String,
    name: String,
    email: String,
    mobile: String,
    contact_number: String,
    title: String,
    status: String,
}

impl Posted for AccountForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl AccountForm {
    fn of(account: &TeamAccount) -> Self {
        Self {
            csrf: String::new(),
            name: account.name.clone(),
            email: account.email.clone(),
            mobile: account.mobile.clone(),
            contact_number: account.contact_number.clone().unwrap_or_default(),
            title: account.title.clone().unwrap_or_default(),
            status: if account.active {
                "active"
            } else {
                "deactivated"
            }
            .into(),
        }
    }

    /// The new account, as the API's body has it; the optional fields left empty are left out.
    fn creation(&self) -> CreateTeamAccount {
        CreateTeamAccount {
            name: self.name.clone(),
            email: self.email.clone(),
            mobile: self.mobile.clone(),
            contact_number: directory::filled(&self.contact_number),
            title: directory::filled(&self.title),
        }
    }

    /// The change, as the API's body has it. An optional field the account has is sent even
    /// emptied, so the API says why it cannot be; the status only when it changes.
    fn change(&self, before: &TeamAccount) -> UpdateTeamAccount {
        let kept = |raw: &str, had: &Option<String>| {
            directory::filled(raw).or_else(|| had.as_ref().map(|_| raw.to_string()))
        };
        let active = match self.status.as_str() {
            "active" => Some(true),
            "deactivated" => Some(false),
            _ => None,
        };
        UpdateTeamAccount {
            name: Some(self.name.clone()),
            mobile: Some(self.mobile.clone()),
            contact_number: kept(&self.contact_number, &before.contact_number),
            title: kept(&self.title, &before.title),
            active: active.filter(|active| *active != before.active),
        }
    }
}

#[derive(Template)]
#[template(path = "console/team_accounts_new.html")]
struct New {
    chrome: Chrome,
    title: &'static str,
    tenancy: String,
    form: AccountForm,
    errors: Errors,
}

/// The new team account's form, for those the API lets create one, with the API's reasons for
/// the form as it was sent.
fn creation_page(signed: &SignedIn, tenancy: &str, form: AccountForm, errors: Errors) -> Response {
    let chrome = Chrome::signed_in(signed, Section::TeamAccounts);
    let allowed = tenancy_id(tenancy).and_then(|id| users_admin(&signed.caller(), id).map(|()| id));
    match allowed {
        Ok(id) => {
            let status = errors.status;
            let page = New {
                chrome,
                title: "New team account",
                tenancy: id.to_string(),
                form,
                errors,
            };
            view::render(status, &page)
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// `GET /console/tenancies/{id}/team-accounts/new`: the form, for those the API lets create
/// team accounts.
pub(super) async fn new(signed: SignedIn, Path(tenancy): Path<String>) -> Response {
    creation_page(&signed, &tenancy, AccountForm::default(), Errors::default())
}

/// `POST /console/tenancies/{id}/team-accounts`: creates the team account through the API's
/// own function; refused, the form again with the API's reasons beside the fields.
pub(super) async fn create(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let created = match tenancy_id(&tenancy) {
        Ok(id) => api::create(&state, &signed.caller(), id, form.creation()).await,
        Err(error) => Err(error),
    };
    match created.map_err(Errors::of) {
        Ok(account) => Redirect::to(&account_address(&account, "created")).into_response(),
        Err(Ok(errors)) => creation_page(&signed, &tenancy, form, errors),
        Err(Err(error)) => view::refusal(&Chrome::signed_in(&signed, Section::TeamAccounts), error),
    }
}

/// A team account's page, saying what was just done.
fn account_address(account: &TeamAccount, done: &str) -> String {
    let path = directory::tenancy_page(account.tenancy_id, "team-accounts");
    directory::address(&format!("{path}/{}", account.id), &[("done", done)])
}

/// `POST /console/tenancies/{id}/team-accounts/{account}`: changes its details through the
/// API's own function; refused, the page again with the API's reasons beside the fields.
pub(super) async fn update(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(path): Path<(String, String)>,
    form: Result<Form<AccountForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let caller = signed.caller();
    let updated = async {
        let tenancy = tenancy_id(&path.0)?;
        users_admin(&caller, tenancy)?;
        let id = Uuid::parse_str(&path.1).map_err(|_| ApiError::NotFound("team account"))?;
        let before = state.store.team_account(tenancy, id).await?;
        api::update(&state, &caller, (tenancy, id), form.change(&before)).await
    };
    match updated.await.map_err(Errors::of) {
        Ok(account) => Redirect::to(&account_address(&account, "saved")).into_response(),
        Err(Ok(errors)) => {
            let shown = Shown {
                form: Some(form),
                errors,
                notice: None,
            };
            account_page(&state, &signed, &path, shown).await
        }
        Err(Err(error)) => view::refusal(&Chrome::signed_in(&signed, Section::TeamAccounts), error),
    }
}
