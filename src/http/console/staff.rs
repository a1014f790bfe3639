//! A tenancy's staff: the list with search and paging, adding a staff user, changing one's
//! details and role, mapping them to their Salesforce user, deactivating (after a
//! confirmation) and reactivating. Each read and change is the API's own function called with
//! the session's caller, so who may appoint, demote or deactivate whom, and the coverage
//! rule's refusal, are the API's, worded as it words them.

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

use super::directory::{self, Button, Choice, Done, Errors, Posted, ROLES, Search, tenancy_id};
use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::app::staff::{NewStaffInput, StaffChange};
use crate::domain::user::StaffRole;
use crate::http::AppState;
use crate::http::api::staff::{self as api, SalesforceUser};
use crate::http::error::ApiError;
use crate::store::Staff;

/// `GET /console/staff`: an administrator's own tenancy's staff; an operator picks a tenancy.
pub(super) async fn own(signed: SignedIn) -> Response {
    directory::own_tenancy_page(&signed, "staff")
}

fn staff_path(tenancy: Uuid) -> String {
    directory::tenancy_page(tenancy, "staff")
}

/// A staff user as the pages show them.
pub(super) struct StaffView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) email: String,
    pub(super) mobile: String,
    pub(super) title: String,
    pub(super) role: &'static str,
    pub(super) active: bool,
}

impl From<&Staff> for StaffView {
    fn from(staff: &Staff) -> Self {
        Self {
            id: staff.id.to_string(),
            name: format!("{} {}", staff.first_name, staff.last_name),
            email: staff.email.clone(),
            mobile: staff.mobile.clone().unwrap_or_default(),
            title: staff.title.clone().unwrap_or_default(),
            role: directory::role_name(staff.role),
            active: staff.active,
        }
    }
}

#[derive(Template)]
#[template(path = "console/staff.html")]
struct List {
    chrome: Chrome,
    title: String,
    tenancy: String,
    staff: Vec<StaffView>,
    q: String,
    may_add: bool,
    next: Option<String>,
}

/// `GET /console/tenancies/{id}/staff`: the staff, searched by name or e-mail, a page at a time.
pub(super) async fn list(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    Query(search): Query<Search>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Staff);
    let caller = signed.caller();
    let query = search.query();
    let read = async {
        let tenancy = tenancy_id(&tenancy)?;
        let found = api::listed(&state, &caller, tenancy, &query).await?;
        Ok::<_, ApiError>((state.store.tenancy(tenancy).await?, found))
    };
    match read.await {
        Ok((tenancy, found)) => {
            let path = staff_path(tenancy.id);
            let next = found.next_cursor.map(|after| search.next(&path, &after));
            let may_add = caller
                .in_tenancy(tenancy.id)
                .and_then(|a| a.require_users_admin())
                .is_ok();
            let page = List {
                chrome,
                title: format!("Staff of {}", tenancy.name),
                tenancy: tenancy.id.to_string(),
                staff: found.items.iter().map(StaffView::from).collect(),
                q: search.q,
                may_add,
                next,
            };
            view::render(StatusCode::OK, &page)
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// A staff user's details as a form holds them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct StaffForm {
    csrf: String,
    first_name: String,
    last_name: String,
    email: String,
    mobile: String,
    title: String,
    role: String,
}

impl Posted for StaffForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl StaffForm {
    fn of(staff: &Staff) -> Self {
        Self {
            csrf: String::new(),
            first_name: staff.first_name.clone(),
            last_name: staff.last_name.clone(),
            email: staff.email.clone(),
            mobile: staff.mobile.clone().unwrap_or_default(),
            title: staff.title.clone().unwrap_or_default(),
            role: staff.role.as_str().into(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/staff_new.html")]
struct New {
    chrome: Chrome,
    title: &'static str,
    tenancy: String,
    form: StaffForm,
    roles: Vec<Choice>,
    errors: Errors,
}

fn new_page(chrome: Chrome, tenancy: Uuid, form: StaffForm, errors: Errors) -> Response {
    let status = errors.status;
    let page = New {
        chrome,
        title: "Add a staff user",
        tenancy: tenancy.to_string(),
        roles: directory::choices(&ROLES, &form.role),
        form,
        errors,
    };
    view::render(status, &page)
}

/// `GET /console/tenancies/{id}/staff/new`: the form, for those the API lets add staff.
pub(super) async fn new(signed: SignedIn, Path(tenancy): Path<String>) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Staff);
    let allowed = tenancy_id(&tenancy).and_then(|id| {
        let access = signed.caller().in_tenancy(id)?;
        access.require_users_admin().map(|()| id)
    });
    match allowed {
        Ok(id) => new_page(chrome, id, StaffForm::default(), Errors::default()),
        Err(error) => view::refusal(&chrome, error),
    }
}

/// `POST /console/tenancies/{id}/staff`: adds the staff user through the API's own function.
pub(super) async fn create(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    form: Result<Form<StaffForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let chrome = Chrome::signed_in(&signed, Section::Staff);
    let input = NewStaffInput {
        first_name: form.first_name.clone(),
        last_name: form.last_name.clone(),
        email: form.email.clone(),
        mobile: directory::filled(&form.mobile),
        title: directory::filled(&form.title),
        role: StaffRole::parse(&form.role),
    };
    let created = match tenancy_id(&tenancy) {
        Ok(id) => api::create(&state, &signed.caller(), id, input).await,
        Err(error) => Err(error),
    };
    match created {
        Ok(staff) => Redirect::to(&staff_page(&staff, "added")).into_response(),
        Err(error) => directory::refused(chrome, error, |chrome, errors| {
            new_page(
                chrome,
                tenancy_id(&tenancy).unwrap_or_default(),
                form,
                errors,
            )
        }),
    }
}

/// A staff user's page, saying what was just done.
fn staff_page(staff: &Staff, done: &str) -> String {
    let path = format!("{}/{}", staff_path(staff.tenancy_id), staff.id);
    directory::address(&path, &[("done", done)])
}

#[derive(Template)]
#[template(path = "console/staff_detail.html")]
struct Detail {
    chrome: Chrome,
    title: String,
    tenancy: String,
    staff: StaffView,
    /// The form, for those the API lets change staff.
    form: Option<StaffForm>,
    roles: Vec<Choice>,
    /// The Salesforce user they act as: the form for those the API lets change it.
    salesforce: Option<SalesforceForm>,
    salesforce_user_id: String,
    salesforce_username: String,
    errors: Errors,
    notice: Option<&'static str>,
}

/// `GET /console/tenancies/{id}/staff/{staff}`: the staff user, with the forms that change them.
pub(super) async fn detail(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((tenancy, staff)): Path<(String, String)>,
    Query(shown): Query<Done>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Staff);
    let notice = shown.notice(&[
        ("added", "The staff user was added."),
        ("saved", "The changes were saved."),
        (
            "deactivated",
            "The staff user was deactivated: their tokens and sessions ended.",
        ),
        ("reactivated", "The staff user was reactivated."),
        ("mapped", "The Salesforce user they act as was saved."),
    ]);
    match read(&state, &signed, &tenancy, &staff).await {
        Ok(staff) => {
            let forms = (None, None);
            detail_page(&signed, chrome, &staff, forms, Errors::default(), notice)
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// The staff user as `GET /api/v1/tenancies/{id}/staff/{staff}` reads them for the caller.
async fn read(
    state: &AppState,
    signed: &SignedIn,
    tenancy: &str,
    staff: &str,
) -> Result<Staff, ApiError> {
    let access = signed.caller().in_tenancy(tenancy_id(tenancy)?)?;
    let staff = Uuid::parse_str(staff).map_err(|_| ApiError::NotFound("staff user"))?;
    Ok(state.store.staff(access.tenancy, staff).await?)
}

/// The staff user's page; `forms` are the details and Salesforce forms as posted, if one was.
fn detail_page(
    signed: &SignedIn,
    chrome: Chrome,
    staff: &Staff,
    forms: (Option<StaffForm>, Option<SalesforceForm>),
    errors: Errors,
    notice: Option<&'static str>,
) -> Response {
    let (form, salesforce) = forms;
    let editable = signed
        .caller()
        .in_tenancy(staff.tenancy_id)
        .and_then(|a| a.require_users_admin())
        .is_ok();
    let form = editable.then(|| form.unwrap_or_else(|| StaffForm::of(staff)));
    let chosen = form.as_ref().map_or("", |f| f.role.as_str());
    let page = Detail {
        chrome,
        title: format!("{} {}", staff.first_name, staff.last_name),
        tenancy: staff.tenancy_id.to_string(),
        staff: StaffView::from(staff),
        roles: directory::choices(&ROLES, chosen),
        salesforce: editable.then(|| salesforce.unwrap_or_else(|| SalesforceForm::of(staff))),
        salesforce_user_id: staff.salesforce_user_id.clone().unwrap_or_default(),
        salesforce_username: staff.salesforce_username.clone().unwrap_or_default(),
        form,
        errors,
        notice,
    };
    view::render(page.errors.status, &page)
}

/// `POST /console/tenancies/{id}/staff/{staff}`: changes their details and role.
pub(super) async fn update(
    state: State<AppState>,
    signed: SignedIn,
    path: Path<(String, String)>,
    form: Result<Form<StaffForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    change_staff(state, signed, path, Asked::Details(form), "saved").await
}

/// What a post asks to change.
enum Asked {
    Details(StaffForm),
    Active(bool),
}

impl Asked {
    /// The change for the API. The role is sent only when it changes: keeping one's role is
    /// no appointment (a users administrator may edit a system administrator's title).
    fn change(&self, before: &Staff) -> StaffChange {
        match self {
            Self::Details(form) => StaffChange {
                first_name: Some(form.first_name.clone()),
                last_name: Some(form.last_name.clone()),
                mobile: directory::filled(&form.mobile),
                title: directory::filled(&form.title),
                role: StaffRole::parse(&form.role).filter(|role| *role != before.role),
                active: None,
            },
            Self::Active(active) => StaffChange {
                active: Some(*active),
                ..StaffChange::default()
            },
        }
    }
}

/// Makes a change through the API's own function: the staff user's page saying it was done,
/// or again with the API's reasons.
async fn change_staff(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((tenancy, staff)): Path<(String, String)>,
    asked: Asked,
    done: &str,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Staff);
    let before = match read(&state, &signed, &tenancy, &staff).await {
        Ok(before) => before,
        Err(error) => return view::refusal(&chrome, error),
    };
    let change = asked.change(&before);
    let form = match asked {
        Asked::Details(form) => Some(form),
        Asked::Active(_) => None,
    };
    let caller = signed.caller();
    match api::update(&state, &caller, before.tenancy_id, before.id, change).await {
        Ok(after) => Redirect::to(&staff_page(&after, done)).into_response(),
        Err(error) => directory::refused(chrome, error, |chrome, errors| {
            detail_page(&signed, chrome, &before, (form, None), errors, None)
        }),
    }
}

#[derive(Template)]
#[template(path = "console/staff_deactivate.html")]
struct Confirm {
    chrome: Chrome,
    title: String,
    tenancy: String,
    staff: StaffView,
}

/// `GET …/staff/{staff}/deactivate`: asks before deactivating.
pub(super) async fn confirm_deactivation(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((tenancy, staff)): Path<(String, String)>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Staff);
    let allowed = read(&state, &signed, &tenancy, &staff)
        .await
        .and_then(|staff| {
            let access = signed.caller().in_tenancy(staff.tenancy_id)?;
            access.require_users_admin().map(|()| staff)
        });
    match allowed {
        Ok(staff) => {
            let page = Confirm {
                chrome,
                title: format!("Deactivate {} {}?", staff.first_name, staff.last_name),
                tenancy: staff.tenancy_id.to_string(),
                staff: StaffView::from(&staff),
            };
            view::render(StatusCode::OK, &page)
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// `POST …/staff/{staff}/deactivate`: deactivates them (refused while a client would be left
/// uncovered); their API tokens and console sessions end.
pub(super) async fn deactivate(
    state: State<AppState>,
    signed: SignedIn,
    path: Path<(String, String)>,
    form: Result<Form<Button>, FormRejection>,
) -> Response {
    activate(state, signed, path, form, false).await
}

/// `POST …/staff/{staff}/reactivate`.
pub(super) async fn reactivate(
    state: State<AppState>,
    signed: SignedIn,
    path: Path<(String, String)>,
    form: Result<Form<Button>, FormRejection>,
) -> Response {
    activate(state, signed, path, form, true).await
}

async fn activate(
    state: State<AppState>,
    signed: SignedIn,
    path: Path<(String, String)>,
    form: Result<Form<Button>, FormRejection>,
    active: bool,
) -> Response {
    if let Err(refused) = directory::posted(&signed, form) {
        return refused;
    }
    let done = if active { "reactivated" } else { "deactivated" };
    change_staff(state, signed, path, Asked::Active(active), done).await
}

/// The Salesforce user a staff user acts as, as the form sends it: an empty field clears it.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SalesforceForm {
    csrf: String,
    user_id: String,
    username: String,
}

impl Posted for SalesforceForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl SalesforceForm {
    fn of(staff: &Staff) -> Self {
        Self {
            csrf: String::new(),
            user_id: staff.salesforce_user_id.clone().unwrap_or_default(),
            username: staff.salesforce_username.clone().unwrap_or_default(),
        }
    }

    /// The API's body: each field as typed, an empty one cleared.
    fn body(&self) -> SalesforceUser {
        SalesforceUser {
            user_id: directory::filled(&self.user_id),
            username: directory::filled(&self.username),
        }
    }
}

/// `POST …/staff/{staff}/salesforce-user`: sets or clears the Salesforce user they act as,
/// through the API's own function.
pub(super) async fn map_salesforce_user(
    State(state): State<AppState>,
    signed: SignedIn,
    Path((tenancy, staff)): Path<(String, String)>,
    form: Result<Form<SalesforceForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let chrome = Chrome::signed_in(&signed, Section::Staff);
    let before = match read(&state, &signed, &tenancy, &staff).await {
        Ok(before) => before,
        Err(error) => return view::refusal(&chrome, error),
    };
    let caller = signed.caller();
    let mapped =
        api::map_salesforce_user(&state, &caller, before.tenancy_id, before.id, form.body());
    match mapped.await {
        Ok(after) => Redirect::to(&staff_page(&after, "mapped")).into_response(),
        Err(error) => directory::refused(chrome, error, |chrome, errors| {
            detail_page(&signed, chrome, &before, (None, Some(form)), errors, None)
        }),
    }
}
