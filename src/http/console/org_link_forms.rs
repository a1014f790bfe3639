//! Creating an org link and changing its settings in the console: forms posted as
//! `multipart/form-data` (a JWT bearer link's private key is a file the admin uploads), read into
//! the very bodies `POST` and `PATCH /api/v1/org-links…` take and handed to the functions those
//! handlers call, so a page refuses what the API refuses, with its messages beside the fields.

use std::collections::HashMap;

use askama::Template;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use uuid::Uuid;

use super::org_link_pages::{
    Choice, Shown, checked, intake_page, link_path, parse_id, tenancy_choices,
};
use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::domain::FieldError;
use crate::http::AppState;
use crate::http::api::org_links::{
    CreateOrgLink, UpdateOrgLink, create_link, managed_link, update_link,
};
use crate::http::error::ApiError;
use crate::store::{AuthKind, OrgLink};

/// The largest private key file read: a 4096-bit RSA key in PEM is about 3.3 KiB.
const KEY_FILE_LIMIT: usize = 16 * 1024;

/// A posted link form: its text fields, the tenancies ticked and the uploaded key.
#[derive(Default)]
pub(super) struct Posted {
    fields: HashMap<String, String>,
    tenancies: Vec<Uuid>,
    private_key: Option<String>,
    /// Why the uploaded key was not read, when it was not.
    key_error: Option<&'static str>,
}

impl Posted {
    /// Reads the form; a body that is not one reads as an empty form, which no CSRF token
    /// matches.
    pub(super) async fn read(form: Result<Multipart, MultipartRejection>) -> Self {
        let mut posted = Self::default();
        let Ok(mut form) = form else { return posted };
        while let Ok(Some(field)) = form.next_field().await {
            let name = field.name().unwrap_or_default().to_string();
            let Ok(bytes) = field.bytes().await else {
                return Self::default();
            };
            match name.as_str() {
                "private_key" => posted.key(&bytes),
                "tenancies" => posted.tenancies.extend(
                    std::str::from_utf8(&bytes)
                        .ok()
                        .and_then(|t| t.parse::<Uuid>().ok()),
                ),
                _ => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    posted.fields.insert(name, text);
                }
            }
        }
        posted
    }

    /// The uploaded key file: none chosen sends an empty part.
    fn key(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if bytes.len() > KEY_FILE_LIMIT {
            self.key_error = Some("must be a PEM file of at most 16 KiB");
        } else {
            match std::str::from_utf8(bytes) {
                Ok(pem) => self.private_key = Some(pem.to_string()),
                Err(_) => self.key_error = Some("must be an RSA private key in PEM form"),
            }
        }
    }

    fn text(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", |v| v.trim())
    }

    /// A field left empty is absent.
    fn given(&self, name: &str) -> Option<String> {
        Some(self.text(name).to_string()).filter(|v| !v.is_empty())
    }

    pub(super) fn csrf(&self) -> &str {
        self.text("csrf")
    }

    /// The login host as the API takes it: `production`, `sandbox`, or the My Domain URL.
    fn login_host(&self) -> String {
        match self.text("host_kind") {
            "production" | "sandbox" => self.text("host_kind").to_string(),
            _ => self.text("my_domain").to_string(),
        }
    }

    /// The budget as a number; what is not one is out of its range.
    fn budget(&self) -> Option<i64> {
        self.given("api_budget_percent")
            .map(|p| p.parse().unwrap_or(0))
    }

    fn auth_kind(&self) -> AuthKind {
        match self.text("auth_kind") {
            "jwt_bearer" => AuthKind::JwtBearer,
            _ => AuthKind::WebServer,
        }
    }

    /// The body of `POST /api/v1/org-links`.
    fn create_body(&self) -> CreateOrgLink {
        CreateOrgLink {
            name: self.text("name").to_string(),
            org_id: self.text("org_id").to_string(),
            login_host: self.login_host(),
            auth_kind: self.auth_kind(),
            consumer_key: self.text("consumer_key").to_string(),
            consumer_secret: self.given("consumer_secret"),
            private_key: self.private_key.clone(),
            integration_username: self.given("integration_username"),
            api_version: None,
            field_mapping: None,
            staff_match: None,
            api_budget_percent: self.budget(),
            tenancies: self.tenancies.clone(),
            integration_user_id: None,
            auto_invite: None,
        }
    }

    /// The body of `PATCH /api/v1/org-links/{id}`: a secret or key left empty is kept.
    fn update_body(&self) -> UpdateOrgLink {
        UpdateOrgLink {
            name: Some(self.text("name").to_string()),
            login_host: Some(self.login_host()),
            consumer_key: Some(self.text("consumer_key").to_string()),
            consumer_secret: self.given("consumer_secret"),
            private_key: self.private_key.clone(),
            integration_username: self.given("integration_username"),
            api_budget_percent: self.budget(),
            ..UpdateOrgLink::default()
        }
    }

    /// The refusal of the uploaded key before the API's checks, if any.
    fn key_refusal(&self) -> Option<ApiError> {
        self.key_error
            .map(|reason| ApiError::Invalid(vec![FieldError::new("private_key", reason)]))
    }
}

/// The link form's page: empty, as posted, or a link's settings; with each field's error.
#[derive(Template)]
#[template(path = "console/org_link_form.html")]
struct FormPage {
    chrome: Chrome,
    title: String,
    /// Where the form posts.
    action: String,
    /// Where "Cancel" leads.
    back: String,
    /// Changing a link: its secrets may be left empty to keep them.
    editing: bool,
    values: HashMap<String, String>,
    tenancies: Vec<Choice>,
    errors: Vec<FieldError>,
}

impl FormPage {
    fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    fn is(&self, name: &str, value: &str) -> bool {
        self.value(name) == value
    }

    /// The reasons given for a field (and its parts, such as `tenancies[0]`), joined.
    fn error(&self, name: &str) -> Option<String> {
        let reasons: Vec<&str> = self
            .errors
            .iter()
            .filter(|e| e.field == name || e.field.starts_with(&format!("{name}[")))
            .map(|e| e.reason.as_str())
            .collect();
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }

    /// Errors of fields the form does not show.
    fn other_errors(&self) -> Vec<String> {
        const SHOWN: &[&str] = &[
            "name",
            "org_id",
            "login_host",
            "auth_kind",
            "consumer_key",
            "consumer_secret",
            "private_key",
            "integration_username",
            "api_budget_percent",
            "tenancies",
        ];
        self.errors
            .iter()
            .filter(|e| !SHOWN.iter().any(|s| e.field.split('[').next() == Some(s)))
            .map(|e| format!("{}: {}", e.field, e.reason))
            .collect()
    }
}

/// The values a form shows for a link being changed.
fn values_of(link: &OrgLink) -> HashMap<String, String> {
    let host = link.login_host.trim_end_matches('/');
    let host_kind = match host {
        "https://login.salesforce.com" => "production",
        "https://test.salesforce.com" => "sandbox",
        _ => "my_domain",
    };
    let mut values = HashMap::from([
        ("name".to_string(), link.name.clone()),
        ("org_id".to_string(), link.org_id.clone()),
        ("host_kind".to_string(), host_kind.to_string()),
        ("consumer_key".to_string(), link.consumer_key.clone()),
        (
            "auth_kind".to_string(),
            match link.auth_kind {
                AuthKind::JwtBearer => "jwt_bearer",
                AuthKind::WebServer => "web_server",
            }
            .to_string(),
        ),
        (
            "api_budget_percent".to_string(),
            link.api_budget_percent.to_string(),
        ),
    ]);
    if host_kind == "my_domain" {
        values.insert("my_domain".into(), host.to_string());
    }
    if let Some(user) = &link.integration_username {
        values.insert("integration_username".into(), user.clone());
    }
    values
}

/// The posted values a form shows again (never a secret).
fn values_posted(posted: &Posted) -> HashMap<String, String> {
    let mut values = posted.fields.clone();
    values.remove("consumer_secret");
    values.remove("csrf");
    values
}

/// The form to link an org.
pub(super) async fn new(State(state): State<AppState>, signed: SignedIn) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::OrgLinks);
    if let Err(error) = crate::http::api::org_links::managed_tenancy(&signed.caller()) {
        return view::refusal(&chrome, error);
    }
    let values = HashMap::from([
        ("host_kind".to_string(), "production".to_string()),
        ("auth_kind".to_string(), "web_server".to_string()),
        ("api_budget_percent".to_string(), "20".to_string()),
    ]);
    match tenancy_choices(&state, &signed, &[]).await {
        Ok(tenancies) => create_form(chrome, values, tenancies, Vec::new(), StatusCode::OK),
        Err(error) => view::refusal(&chrome, error),
    }
}

fn create_form(
    chrome: Chrome,
    values: HashMap<String, String>,
    tenancies: Vec<Choice>,
    errors: Vec<FieldError>,
    status: StatusCode,
) -> Response {
    let page = FormPage {
        chrome,
        title: "Link an org".into(),
        action: format!("{}/new", super::ORG_LINKS),
        back: super::ORG_LINKS.into(),
        editing: false,
        values,
        tenancies,
        errors,
    };
    view::render(status, &page)
}

/// Links the org the form describes, then shows its intake secrets, once.
pub(super) async fn create(
    State(state): State<AppState>,
    signed: SignedIn,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let posted = Posted::read(form).await;
    let chrome = match checked(&signed, posted.csrf()) {
        Ok(chrome) => chrome,
        Err(refused) => return refused,
    };
    let created = match posted.key_refusal() {
        Some(refused) => Err(refused),
        None => create_link(&state, &signed.caller(), posted.create_body()).await,
    };
    match created {
        Ok((link, shown)) => intake_page(&state, chrome, &link, Some(Shown::Created(shown))),
        Err(error) => match field_errors(error) {
            Ok((status, errors)) => {
                let choices = tenancy_choices(&state, &signed, &posted.tenancies).await;
                match choices {
                    Ok(t) => create_form(chrome, values_posted(&posted), t, errors, status),
                    Err(error) => view::refusal(&chrome, error),
                }
            }
            Err(error) => view::refusal(&chrome, error),
        },
    }
}

/// A refusal the form shows beside its fields (invalid fields, or a conflict naming one), with
/// the API's status; any other error as it is.
fn field_errors(error: ApiError) -> Result<(StatusCode, Vec<FieldError>), ApiError> {
    match error {
        ApiError::Invalid(errors) => Ok((StatusCode::UNPROCESSABLE_ENTITY, errors)),
        ApiError::Conflict {
            field: Some(field),
            detail,
            ..
        } => Ok((StatusCode::CONFLICT, vec![FieldError::new(field, detail)])),
        other => Err(other),
    }
}

/// The form to change a link's settings, for who manages it.
pub(super) async fn edit(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::OrgLinks);
    let read = async {
        let id = parse_id(&id)?;
        managed_link(&state, &signed.caller(), id).await
    };
    match read.await {
        Ok(link) => edit_form(
            chrome,
            link.id,
            values_of(&link),
            Vec::new(),
            StatusCode::OK,
        ),
        Err(error) => view::refusal(&chrome, error),
    }
}

fn edit_form(
    chrome: Chrome,
    id: Uuid,
    values: HashMap<String, String>,
    errors: Vec<FieldError>,
    status: StatusCode,
) -> Response {
    let page = FormPage {
        chrome,
        title: "Change the org link".into(),
        action: format!("{}/edit", link_path(id)),
        back: link_path(id),
        editing: true,
        values,
        tenancies: Vec::new(),
        errors,
    };
    view::render(status, &page)
}

/// Changes the link's settings as the form says, then goes back to the link.
pub(super) async fn update(
    State(state): State<AppState>,
    signed: SignedIn,
    Path(id): Path<String>,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let posted = Posted::read(form).await;
    let chrome = match checked(&signed, posted.csrf()) {
        Ok(chrome) => chrome,
        Err(refused) => return refused,
    };
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(error) => return view::refusal(&chrome, error),
    };
    let changed = match posted.key_refusal() {
        Some(refused) => Err(refused),
        None => update_link(&state, &signed.caller(), id, posted.update_body()).await,
    };
    match changed.map_err(field_errors) {
        Ok(link) => Redirect::to(&link_path(link.id)).into_response(),
        Err(Ok((status, errors))) => edit_form(chrome, id, values_posted(&posted), errors, status),
        Err(Err(error)) => view::refusal(&chrome, error),
    }
}
