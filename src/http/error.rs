//! The one error type of the HTTP layer, and its one mapping to responses: RFC 9457
//! `application/problem+json` bodies that name the field and the reason. Internal errors are
//! logged once, here, and shown as a bare 500 that reveals nothing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app;
use crate::domain::FieldError;
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
        code: &'static str,
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

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::RecordDeleted => (StatusCode::NOT_FOUND, "record-deleted", "Record deleted"),
            Self::Conflict { code, .. } => (StatusCode::CONFLICT, code, "Conflict"),
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
