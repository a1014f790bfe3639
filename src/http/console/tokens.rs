//! API tokens: a tenancy's (its users administrators, operators) and the operator tokens
//! (operators). Issued through the API's own function, the token is shown once, with a copy
//! button; revoking asks first. Every issue and revocation is in the audit trail.

// A refusal here is the page that answers the request; the error side is that page.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::directory::{self, Button, Choice, Errors, Posted, TOKENS};
use super::session::SignedIn;
use super::view::{self, Chrome, Section};
use crate::http::AppState;
use crate::http::api::PageQuery;
use crate::http::api::tokens::{self as api, TokenRequest};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::store::{Page, TokenInfo};

/// Whose tokens a page shows: a tenancy's, or (`None`) the operator tokens.
type Scope = Option<Uuid>;

fn tokens_path(scope: Scope) -> String {
    match scope {
        Some(tenancy) => directory::tenancy_page(tenancy, "tokens"),
        None => TOKENS.to_string(),
    }
}

fn scope_of(raw: &str) -> Result<Scope, ApiError> {
    directory::tenancy_id(raw).map(Some)
}

/// The lifetimes the form offers; empty is the installation's default.
const LIFETIMES: [(&str, &str); 5] = [
    ("", "The installation's default"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "A year"),
    ("never", "Never expires"),
];

/// A token as the list shows it.
pub(super) struct TokenView {
    pub(super) id: String,
    pub(super) name: String,
    /// The staff user it acts as, by name (an operator token acts as none).
    pub(super) acts_as: String,
    pub(super) created: String,
    pub(super) expires: String,
    pub(super) state: &'static str,
    pub(super) live: bool,
}

impl TokenView {
    fn of(token: TokenInfo, names: &HashMap<Uuid, String>, now: OffsetDateTime) -> Self {
        let expired = token.expires_at.is_some_and(|at| at <= now);
        let (state, live) = match (token.revoked_at, expired) {
            (Some(_), _) => ("Revoked", false),
            (None, true) => ("Expired", false),
            (None, false) => ("Active", true),
        };
        Self {
            id: token.id.to_string(),
            acts_as: token.staff_id.map_or_else(
                || "Operator".to_string(),
                |id| names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
            ),
            created: directory::when(token.created_at),
            expires: token
                .expires_at
                .map_or_else(|| "Never".to_string(), directory::when),
            name: token.name,
            state,
            live,
        }
    }
}

/// The new token's fields as a form holds them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct TokenForm {
    csrf: String,
    name: String,
    staff_id: String,
    expires_in_days: String,
}

impl Posted for TokenForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Template)]
#[template(path = "console/tokens.html")]
struct List {
    chrome: Chrome,
    title: String,
    action: String,
    tokens: Vec<TokenView>,
    /// The staff users a tenancy's token may act as; empty for operator tokens.
    staff: Vec<Choice>,
    operator_tokens: bool,
    form: TokenForm,
    lifetimes: Vec<Choice>,
    errors: Errors,
    notice: Option<&'static str>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Shown {
    after: Option<String>,
    revoked: Option<String>,
}

/// `GET /console/tokens`: an administrator's tenancy's tokens; an operator's own.
pub(super) async fn own(state: State<AppState>, signed: SignedIn, shown: Query<Shown>) -> Response {
    match signed.caller().own_tenancy() {
        Some(tenancy) => Redirect::to(&tokens_path(Some(tenancy))).into_response(),
        None => {
            list_page(
                state,
                signed,
                None,
                shown,
                TokenForm::default(),
                Errors::default(),
            )
            .await
        }
    }
}

/// `GET /console/tenancies/{id}/tokens`.
pub(super) async fn list(
    state: State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    shown: Query<Shown>,
) -> Response {
    match scope_of(&tenancy) {
        Ok(scope) => {
            list_page(
                state,
                signed,
                scope,
                shown,
                TokenForm::default(),
                Errors::default(),
            )
            .await
        }
        Err(error) => view::refusal(&Chrome::signed_in(&signed, Section::Tokens), error),
    }
}

/// The tokens a page at a time, with the form that issues one (and its errors).
async fn list_page(
    State(state): State<AppState>,
    signed: SignedIn,
    scope: Scope,
    Query(shown): Query<Shown>,
    form: TokenForm,
    errors: Errors,
) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Tokens);
    let query = directory::page_query(shown.after.as_deref(), None);
    let (found, staff) = match read(&state, &signed.caller(), scope, &query).await {
        Ok(read) => read,
        Err(error) => return view::refusal(&chrome, error),
    };
    let names: HashMap<Uuid, String> = staff.iter().map(|(id, n, _)| (*id, n.clone())).collect();
    let path = tokens_path(scope);
    let now = state.store.clock().now();
    let page = List {
        chrome,
        title: scope
            .map_or("Operator tokens", |_| "API tokens")
            .to_string(),
        next: found
            .next_cursor
            .map(|after| directory::address(&path, &[("after", &after)])),
        tokens: found
            .items
            .into_iter()
            .map(|t| TokenView::of(t, &names, now))
            .collect(),
        staff: staff_choices(&staff, &form.staff_id),
        operator_tokens: scope.is_none(),
        lifetimes: directory::choices(&LIFETIMES, &form.expires_in_days),
        notice: shown
            .revoked
            .map(|_| "The token was revoked: it no longer works."),
        action: path,
        form,
        errors,
    };
    view::render(page.errors.status, &page)
}

/// A page of the tokens, and the tenancy's staff (none for operator tokens), as the API reads
/// them for `caller`.
async fn read(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    query: &PageQuery,
) -> Result<(Page<TokenInfo>, Vec<(Uuid, String, bool)>), ApiError> {
    let found = api::listed(state, caller, scope, query).await?;
    let staff = match scope {
        Some(tenancy) => directory::staff_names(state, caller, tenancy).await?,
        None => Vec::new(),
    };
    Ok((found, staff))
}

/// The active staff users a token may act as, the one chosen selected.
fn staff_choices(staff: &[(Uuid, String, bool)], chosen: &str) -> Vec<Choice> {
    let active: Vec<(String, String)> = staff
        .iter()
        .filter(|(_, _, active)| *active)
        .map(|(id, name, _)| (id.to_string(), name.clone()))
        .collect();
    directory::owned_choices(&active, chosen)
}

#[derive(Template)]
#[template(path = "console/tokens_created.html")]
struct Created {
    chrome: Chrome,
    title: &'static str,
    token: String,
    name: String,
    back: String,
}

/// `POST /console/tokens`: issues an operator token.
pub(super) async fn create_operator(
    state: State<AppState>,
    signed: SignedIn,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    issue(state, signed, None, form).await
}

/// `POST /console/tenancies/{id}/tokens`: issues a token acting as a staff user.
pub(super) async fn create(
    state: State<AppState>,
    signed: SignedIn,
    Path(tenancy): Path<String>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    match scope_of(&tenancy) {
        Ok(scope) => issue(state, signed, scope, form).await,
        Err(error) => view::refusal(&Chrome::signed_in(&signed, Section::Tokens), error),
    }
}

/// Issues the token through the API's own function and shows it, once.
async fn issue(
    State(state): State<AppState>,
    signed: SignedIn,
    scope: Scope,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let form = match directory::posted(&signed, form) {
        Ok(form) => form,
        Err(refused) => return refused,
    };
    let asked = match request(scope, &form) {
        Ok(asked) => asked,
        Err(errors) => return refused(state, signed, scope, form, errors).await,
    };
    match api::issue(&state, &signed.caller(), asked).await {
        Ok(created) => {
            let page = Created {
                chrome: Chrome::signed_in(&signed, Section::Tokens),
                title: "Your new API token",
                token: created.token,
                name: created.info.name,
                back: tokens_path(scope),
            };
            view::render(StatusCode::OK, &page)
        }
        Err(error) => match Errors::of(error) {
            Ok(errors) => refused(state, signed, scope, form, errors).await,
            Err(error) => view::refusal(&Chrome::signed_in(&signed, Section::Tokens), error),
        },
    }
}

/// The list again with the form as sent and why it was refused.
async fn refused(
    state: AppState,
    signed: SignedIn,
    scope: Scope,
    form: TokenForm,
    errors: Errors,
) -> Response {
    let shown = Shown {
        after: None,
        revoked: None,
    };
    list_page(State(state), signed, scope, Query(shown), form, errors).await
}

/// The API's request from the form: which staff user (an id, as the API's body holds one), the
/// name, and the lifetime (empty: the default; `never`; or a number of days).
fn request(scope: Scope, form: &TokenForm) -> Result<TokenRequest, Errors> {
    let staff = match scope {
        Some(tenancy) => match Uuid::parse_str(form.staff_id.trim()) {
            Ok(staff) => Some((tenancy, staff)),
            Err(_) => {
                return Err(Errors::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "staff_id",
                    "choose the staff user the token acts as",
                ));
            }
        },
        None => None,
    };
    let expires_in_days = match form.expires_in_days.trim() {
        "" => None,
        "never" => Some(None),
        days => match days.parse::<u32>() {
            Ok(days) => Some(Some(days)),
            Err(_) => {
                return Err(Errors::field(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "expires_in_days",
                    "must be a whole number of days",
                ));
            }
        },
    };
    Ok(TokenRequest {
        staff,
        name: form.name.clone(),
        expires_in_days,
    })
}

#[derive(Template)]
#[template(path = "console/tokens_revoke.html")]
struct Confirm {
    chrome: Chrome,
    title: String,
    action: String,
    back: String,
}

/// `GET /console/tokens/{token}/revoke`: asks before revoking an operator token.
pub(super) async fn confirm_operator(signed: SignedIn, Path(token): Path<String>) -> Response {
    confirm(signed, None, &token)
}

/// `GET /console/tenancies/{id}/tokens/{token}/revoke`.
pub(super) async fn confirm_revocation(
    signed: SignedIn,
    Path((tenancy, token)): Path<(String, String)>,
) -> Response {
    match scope_of(&tenancy) {
        Ok(scope) => confirm(signed, scope, &token),
        Err(error) => view::refusal(&Chrome::signed_in(&signed, Section::Tokens), error),
    }
}

/// The confirmation, for those the API lets revoke these tokens.
fn confirm(signed: SignedIn, scope: Scope, token: &str) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Tokens);
    let allowed = api::scope(&signed.caller(), scope)
        .and_then(|_| Uuid::parse_str(token).map_err(|_| ApiError::NotFound("token")));
    match allowed {
        Ok(token) => {
            let back = tokens_path(scope);
            let page = Confirm {
                chrome,
                title: "Revoke this token?".into(),
                action: format!("{back}/{token}/revoke"),
                back,
            };
            view::render(StatusCode::OK, &page)
        }
        Err(error) => view::refusal(&chrome, error),
    }
}

/// `POST /console/tokens/{token}/revoke`.
pub(super) async fn revoke_operator(
    state: State<AppState>,
    signed: SignedIn,
    Path(token): Path<String>,
    form: Result<Form<Button>, FormRejection>,
) -> Response {
    revoke(state, signed, None, &token, form).await
}

/// `POST /console/tenancies/{id}/tokens/{token}/revoke`.
pub(super) async fn revoke_token(
    state: State<AppState>,
    signed: SignedIn,
    Path((tenancy, token)): Path<(String, String)>,
    form: Result<Form<Button>, FormRejection>,
) -> Response {
    match scope_of(&tenancy) {
        Ok(scope) => revoke(state, signed, scope, &token, form).await,
        Err(error) => view::refusal(&Chrome::signed_in(&signed, Section::Tokens), error),
    }
}

/// Revokes the token through the API's own function.
async fn revoke(
    State(state): State<AppState>,
    signed: SignedIn,
    scope: Scope,
    token: &str,
    form: Result<Form<Button>, FormRejection>,
) -> Response {
    if let Err(refused) = directory::posted(&signed, form) {
        return refused;
    }
    let revoked = match Uuid::parse_str(token) {
        Ok(token) => api::revoked(&state, &signed.caller(), scope, token).await,
        Err(_) => Err(ApiError::NotFound("token")),
    };
    match revoked {
        Ok(_) => Redirect::to(&format!("{}?revoked=1", tokens_path(scope))).into_response(),
        Err(error) => view::refusal(&Chrome::signed_in(&signed, Section::Tokens), error),
    }
}
