//! The one error type of the HTTP layer, and its one mapping to responses: RFC 9457
//! `application/problem+json` bodies that name the field and the reason. Internal errors are
//! logged once, here, and shown as a bare 500 that reveals nothing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app;
use crate::crm::LinkError;
use crate::crm::error::CrmError;
use crate::domain::FieldError;
use crate::domain::conflict::ConflictCode;
use crate::domain::org_link::OrgLink;
use crate::store;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("the Salesforce record was deleted (or merged into another); nothing was created")]
    RecordDeleted,
    #[error("{detail}")]
    Conflict {
        code: ConflictCode,
        detail: String,
        field: Option<String>,
    },
    #[error("the request body is larger than this server accepts")]
    PayloadTooLarge,
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    #[error("send the body as application/json")]
    UnsupportedMediaType,
    #[error("some fields are invalid")]
    Invalid(Vec<FieldError>),
    #[error("the database is not reachable")]
    Unavailable,
    /// Salesforce cannot answer now (down, slow, over its API limit): try again later.
    #[error("{0}")]
    SalesforceUnavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type ApiResult<T, E = ApiError> = Result<T, E>;

/// An RFC 9457 problem details body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Identifies the kind of problem; stable, for programs.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: &'static str,
    pub status: u16,
    /// What went wrong in this request, for people.
    pub detail: String,
    /// The same as the end of `type`: a short code, for programs.
    pub code: String,
    /// Each field at fault and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let field = field.into();
        let reason = reason.into();
        Self::BadRequest {
            detail: format!("`{field}` {reason}"),
            errors: vec![FieldError::new(field, reason)],
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, reason)])
    }

    /// A conflict with the state as a whole, not with one field.
    pub fn conflict(code: ConflictCode, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
            field: None,
        }
    }

    /// Trouble reading a record through `link`, said in the record's terms (not found,
    /// deleted, try again later) and naming the link; what is not about the record is any
    /// link's trouble (`From<LinkError>`).
    pub fn reading_record(link: &OrgLink, error: LinkError) -> Self {
        let name = &link.name;
        match error {
            LinkError::Crm(CrmError::NotFound) => Self::NotFound("record"),
            LinkError::Crm(CrmError::Deleted) => Self::RecordDeleted,
            LinkError::Crm(CrmError::Unauthorized { .. }) => Self::conflict(
                ConflictCode::OrgLinkUnauthorized,
                format!(
                    "the org link “{name}” is no longer authorised; a CRM administrator must reconnect it"
                ),
            ),
            LinkError::Crm(CrmError::Transient { .. } | CrmError::LimitExceeded) => {
                Self::SalesforceUnavailable(
                    "Salesforce did not answer or is over its API limit; try again later".into(),
                )
            }
            LinkError::Crm(e) => Self::Conflict {
                code: ConflictCode::SalesforceRefused,
                detail: e.to_string(),
                field: Some("record.id".into()),
            },
            LinkError::Paused => Self::conflict(
                ConflictCode::OrgLinkPaused,
                format!(
                    "the org link “{name}” is paused; a CRM administrator must resume it before records are read"
                ),
            ),
            LinkError::Capped(reason) => Self::conflict(
                ConflictCode::OrgLinkCapped,
                format!(
                    "the org link “{name}” is over its API limit, so records are not read for now: {reason}"
                ),
            ),
            other @ (LinkError::Store(_) | LinkError::NoKey) => other.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::RecordDeleted => (StatusCode::NOT_FOUND, "record-deleted", "Record deleted"),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code.as_str(), "Conflict"),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Self::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-fields",
                "Invalid fields",
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Self::SalesforceUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "salesforce-unavailable",
                "Salesforce unavailable",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, code, title) = self.parts();
        let errors = match self {
            Self::BadRequest { errors, .. } | Self::Invalid(errors) => errors.clone(),
            Self::Conflict {
                field: Some(field),
                detail,
                ..
            } => vec![FieldError::new(field.clone(), detail.clone())],
            _ => Vec::new(),
        };
        let detail = match self {
            Self::Invalid(errors) => errors
                .iter()
                .map(|e| format!("`{}` {}", e.field, e.reason))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        Problem {
            kind: format!("urn:liaison:problem:{code}"),
            title,
            status: status.as_u16(),
            detail,
            code: code.to_string(),
            errors,
        }
    }
}

impl From<app::Error> for ApiError {
    fn from(error: app::Error) -> Self {
        match error {
            app::Error::Invalid(errors) => Self::Invalid(errors),
            app::Error::Forbidden(reason) => Self::Forbidden(reason),
            app::Error::Store(error) => error.into(),
        }
    }
}

impl From<store::Error> for ApiError {
    fn from(error: store::Error) -> Self {
        match error {
            store::Error::NotFound(what) => Self::NotFound(what),
            store::Error::Invalid(errors) => Self::Invalid(errors),
            store::Error::Conflict {
                code,
                field,
                reason,
            } => Self::Conflict {
                code,
                detail: reason,
                field,
            },
            store::Error::Database(e) if store::is_unavailable(&e) => {
                tracing::warn!(error = %e, "the database is unavailable");
                Self::Unavailable
            }
            store::Error::Database(e) => Self::Internal(e.into()),
        }
    }
}

/// Salesforce's or the link's trouble while a link is managed (connected, tested, its secrets
/// sealed): a conflict saying what stands in the way.
impl From<LinkError> for ApiError {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::Store(e) => e.into(),
            LinkError::Crm(e @ CrmError::HostRefused(_)) => {
                Self::conflict(ConflictCode::HostRefused, e.to_string())
            }
            LinkError::Crm(e) => Self::conflict(ConflictCode::SalesforceRefused, e.to_string()),
            e @ LinkError::NoKey => Self::conflict(ConflictCode::NoEncryptionKey, e.to_string()),
            e @ LinkError::Paused => Self::conflict(ConflictCode::OrgLinkPaused, e.to_string()),
            e @ LinkError::Capped(_) => Self::conflict(ConflictCode::OrgLinkCapped, e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(error) = &self {
            // Logged once, with its cause chain; the body says nothing of it.
            tracing::error!(error = format!("{error:#}"), "request failed");
        }
        let problem = self.problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if matches!(self, Self::Unavailable | Self::SalesforceUnavailable(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        if matches!(self, Self::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(error: ApiError) -> (u16, String) {
        let problem = error.problem();
        (problem.status, problem.code)
    }

    #[test]
    fn a_managed_links_trouble_is_a_conflict_naming_what_stands_in_the_way() {
        for (error, code) in [
            (LinkError::NoKey, "no-encryption-key"),
            (LinkError::Paused, "org-link-paused"),
            (LinkError::Capped("spent".into()), "org-link-capped"),
            (
                LinkError::Crm(CrmError::HostRefused("evil.example".into())),
                "host-refused",
            ),
            (LinkError::Crm(CrmError::NotFound), "salesforce-refused"),
        ] {
            assert_eq!(answer(error.into()), (409, code.to_string()));
        }
    }

    #[test]
    fn a_store_conflict_keeps_its_code() {
        let known = store::Error::conflict(ConflictCode::DuplicateEmail, Some("email"), "taken");
        assert_eq!(answer(known.into()), (409, "duplicate-email".to_string()));
    }
}
