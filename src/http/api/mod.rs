//! `/api/v1`: the JSON API for admins, ops and automation. Every route is registered together
//! with its OpenAPI description, so the document cannot drift from the router.

pub(crate) mod audit;
pub(crate) mod clients;
pub(crate) mod failures;
pub(crate) mod funnel;
pub(crate) mod groups;
mod inbox;
pub(crate) mod mapping;
pub(crate) mod ops;
pub(crate) mod org_links;
mod salesforce_invites;
pub mod schema;
pub(crate) mod staff;
pub(crate) mod team_accounts;
pub(crate) mod tenancies;
pub(crate) mod tokens;
pub mod wire;

use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use crate::domain::FieldError;
use crate::domain::values::PersonName;
use crate::store::PageRequest;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(tenancies::router())
        .merge(staff::router())
        .merge(team_accounts::router())
        .merge(groups::router())
        .merge(clients::router())
        .merge(tokens::router())
        .merge(org_links::router())
        .merge(mapping::router())
        .merge(inbox::router())
        .merge(salesforce_invites::router())
        .merge(audit::router())
        .merge(funnel::router())
        .merge(failures::router())
        .merge(ops::router())
}

/// Paging of every list: `limit` items after the cursor `after`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<Uuid>,
    /// Text to search for in names (and e-mails, for users).
    #[param(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub q: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(PageRequest::DEFAULT_LIMIT);
        if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                "limit",
                format!("must be between 1 and {}", PageRequest::MAX_LIMIT),
            ));
        }
        if let Some(q) = self.q.as_deref() {
            search_text(q).map_err(|reason| ApiError::bad_request("q", reason))?;
        }
        Ok(PageRequest {
            limit,
            after: self.after,
        })
    }
}

/// Tells a field sent as `null` (`Some(None)`) from a field left out (`None`), for settings
/// where `null` means "none" and silence means "the default" or "leave as is".
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Longest search text.
pub const SEARCH_MAX: usize = 100;

/// Checks text to search names and e-mails for. No name or e-mail holds a control character,
/// and PostgreSQL refuses a NUL in any text, so such a search is refused rather than run.
pub fn search_text(q: &str) -> Result<(), String> {
    if q.chars().count() > SEARCH_MAX {
        return Err(format!("must be at most {SEARCH_MAX} characters"));
    }
    if q.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// Turns collected field errors into one 422.
pub fn invalid(errors: Vec<FieldError>) -> ApiError {
    ApiError::Invalid(errors)
}

/// Parses an optional field of a PATCH body.
pub fn optional<T>(
    errors: &mut crate::domain::FieldErrors,
    field: &str,
    raw: Option<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    raw.and_then(|raw| errors.take(field, parse(raw)))
}

/// The first and last name a PATCH body may change, for clients and staff alike.
pub fn optional_names(
    errors: &mut crate::domain::FieldErrors,
    first_name: Option<&str>,
    last_name: Option<&str>,
) -> (Option<PersonName>, Option<PersonName>) {
    (
        optional(errors, "first_name", first_name, PersonName::parse),
        optional(errors, "last_name", last_name, PersonName::parse),
    )
}

/// A field that parsed (the caller has checked there were no errors).
pub fn parsed<T>(value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a parsed field is missing")))
}
