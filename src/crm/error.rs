//! Salesforce's errors, classified by code (never by message text) into what we do next.

use std::time::Duration;

use serde::Deserialize;

use super::client::LimitInfo;

#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    /// The org must be reconnected by a person (`invalid_grant`, a revoked or expired refresh
    /// token, an unapproved user).
    #[error(
        "Salesforce refused our credentials ({code}: {description}); a CRM admin must reconnect the org"
    )]
    Unauthorized { code: String, description: String },
    /// The access token is no longer valid: refresh once and retry once.
    #[error("the Salesforce session expired")]
    SessionExpired,
    /// The org's daily API limit is spent (not a rate or concurrency limit, which are
    /// `Transient`).
    #[error("the org's API request limit is exceeded")]
    LimitExceeded,
    /// Worth retrying later: 5xx, 429, `UNABLE_TO_LOCK_ROW`, timeouts, connection failures, and
    /// `REQUEST_LIMIT_EXCEEDED` for a rate or concurrency limit.
    #[error("Salesforce is unavailable for now ({code}: {message})")]
    Transient {
        code: String,
        message: String,
        retry_after: Option<Duration>,
        /// The answer's HTTP status; none when Salesforce did not answer (a timeout) or the
        /// failure is one record's in a call that succeeded.
        http_status: Option<u16>,
    },
    /// Retrying will not help: a validation rule, a deleted record, a bad field.
    #[error("Salesforce refused the request ({code}: {message})")]
    Permanent {
        code: String,
        message: String,
        fields: Vec<String>,
        /// The answer's HTTP status, as for `Transient`.
        http_status: Option<u16>,
    },
    /// The record does not exist (or is not visible to the integration user).
    #[error("the Salesforce record was not found")]
    NotFound,
    /// The record was deleted (or merged into another) in Salesforce.
    #[error("the Salesforce record was deleted")]
    Deleted,
    /// Our own settings are wrong (a bad key, a missing secret).
    #[error("{0}")]
    Config(String),
    /// The URL is not one Liaison may call (see `crm::hosts`): nothing was sent to it.
    #[error("Liaison calls only Salesforce's hosts: {0}")]
    HostRefused(String),
}

impl CrmError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Transient { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status of the answer a whole call failed with, kept in the item's history
    /// beside the code; none when nothing answered, or the error was not built from an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Transient { http_status, .. } | Self::Permanent { http_status, .. } => {
                *http_status
            }
            _ => None,
        }
    }

    /// The short code kept with a failed item.
    pub fn code(&self) -> &str {
        match self {
            Self::Unauthorized { code, .. } => code,
            Self::SessionExpired => "INVALID_SESSION_ID",
            Self::LimitExceeded => "REQUEST_LIMIT_EXCEEDED",
            Self::Transient { code, .. } | Self::Permanent { code, .. } => code,
            Self::NotFound => "NOT_FOUND",
            Self::Deleted => "ENTITY_IS_DELETED",
            Self::Config(_) => "CONFIGURATION",
            Self::HostRefused(_) => "HOST_REFUSED",
        }
    }
}

/// One entry of a top-level REST error array (`errorCode`) or of a per-record result
/// (`statusCode`).
#[derive(Debug, Clone, Deserialize)]
pub struct ApiErrorEntry {
    #[serde(alias = "statusCode")]
    #[serde(rename = "errorCode")]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// Per-record codes that are worth retrying; every other per-record code is permanent.
const TRANSIENT_CODES: &[&str] = &[
    "UNABLE_TO_LOCK_ROW",
    "SERVER_UNAVAILABLE",
    "REQUEST_RUNNING_TOO_LONG",
];

/// Classifies one error entry by its code.
pub fn classify(entry: &ApiErrorEntry) -> CrmError {
    match entry.code.as_str() {
        "INVALID_SESSION_ID" => CrmError::SessionExpired,
        "REQUEST_LIMIT_EXCEEDED" => CrmError::LimitExceeded,
        "NOT_FOUND" => CrmError::NotFound,
        code if TRANSIENT_CODES.contains(&code) => CrmError::Transient {
            code: code.into(),
            message: entry.message.clone(),
            retry_after: None,
            http_status: None,
        },
        code => CrmError::Permanent {
            code: code.into(),
            message: entry.message.clone(),
            fields: entry.fields.clone(),
            http_status: None,
        },
    }
}

/// Classifies a whole failed response: its status, its `Retry-After`, the org's usage from
/// its `Sforce-Limit-Info`, and its body (an array of `errorCode` entries, or an OAuth error
/// object).
pub fn classify_response(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    usage: Option<LimitInfo>,
) -> CrmError {
    // A 429 asks for patience whatever its body says; a 5xx too.
    let retry_status = status == 429 || status >= 500;
    let http_status = Some(status);
    if let Ok(entries) = serde_json::from_slice::<Vec<ApiErrorEntry>>(body)
        && let Some(first) = entries.first()
    {
        let error = classify(first);
        return match error {
            CrmError::LimitExceeded if !is_daily_limit(status, first, usage) => {
                CrmError::Transient {
                    code: first.code.clone(),
                    message: first.message.clone(),
                    retry_after,
                    http_status,
                }
            }
            // A read of a deleted record; in a per-record result the same code is a refusal.
            CrmError::Permanent { code, .. } if status == 404 && code == "ENTITY_IS_DELETED" => {
                CrmError::Deleted
            }
            CrmError::Permanent { code, message, .. } if retry_status => CrmError::Transient {
                code,
                message,
                retry_after,
                http_status,
            },
            CrmError::Transient { code, message, .. } => CrmError::Transient {
                code,
                message,
                retry_after,
                http_status,
            },
            CrmError::Permanent {
                code,
                message,
                fields,
                ..
            } => CrmError::Permanent {
                code,
                message,
                fields,
                http_status,
            },
            other => other,
        };
    }
    if let Ok(oauth) = serde_json::from_slice::<super::oauth::OAuthErrorBody>(body) {
        return if oauth.error == "invalid_grant" {
            CrmError::Unauthorized {
                code: oauth.error,
                description: oauth.error_description,
            }
        } else if retry_status {
            CrmError::Transient {
                code: oauth.error,
                message: oauth.error_description,
                retry_after,
                http_status,
            }
        } else {
            CrmError::Permanent {
                code: oauth.error,
                message: oauth.error_description,
                fields: vec![],
                http_status,
            }
        };
    }
    match status {
        401 => CrmError::SessionExpired,
        404 => CrmError::NotFound,
        408 | 429 | 500..=599 => CrmError::Transient {
            code: format!("HTTP_{status}"),
            message: "no error body".into(),
            retry_after,
            http_status,
        },
        _ => CrmError::Permanent {
            code: format!("HTTP_{status}"),
            message: "unexpected answer from Salesforce".into(),
            fields: vec![],
            http_status,
        },
    }
}

/// Whether a `REQUEST_LIMIT_EXCEEDED` is the org's daily limit rather than a rate or
/// concurrency limit. Salesforce uses one code for all of them: a 429 and the
/// `ConcurrentRequests …` form are never the daily limit; the org's usage at its limit or the
/// `TotalRequests …` form is; a 403 of no known form with room in the usage is not, and one
/// without usage is taken for the daily limit, the documented meaning of the 403.
fn is_daily_limit(status: u16, entry: &ApiErrorEntry, usage: Option<LimitInfo>) -> bool {
    let limit = entry.message.split_whitespace().next().unwrap_or("");
    if status == 429 || limit.starts_with("Concurrent") {
        return false;
    }
    if usage.is_some_and(|u| u.max > 0 && u.used >= u.max) || limit == "TotalRequests" {
        return true;
    }
    usage.is_none()
}

/// `Retry-After` in seconds (Salesforce does not send the HTTP-date form).
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_session_is_told_apart_by_its_code() {
        let body =
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#;
        assert!(matches!(
            classify_response(401, None, body, None),
            CrmError::SessionExpired
        ));
    }

    #[test]
    fn request_limit_exceeded_is_its_own_error() {
        let body = br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        assert!(matches!(
            classify_response(403, None, body, None),
            CrmError::LimitExceeded
        ));
    }

    #[test]
    fn validation_errors_are_permanent_with_their_fields() {
        let body = br#"[{"message":"Bad","errorCode":"FIELD_CUSTOM_VALIDATION_EXCEPTION","fields":["Email"]}]"#;
        match classify_response(400, None, body, None) {
            CrmError::Permanent { code, fields, .. } => {
                assert_eq!(code, "FIELD_CUSTOM_VALIDATION_EXCEPTION");
                assert_eq!(fields, ["Email"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn per_record_status_code_is_read_like_error_code() {
        let entry: ApiErrorEntry =
            serde_json::from_str(r#"{"statusCode":"UNABLE_TO_LOCK_ROW","message":"unable to obtain exclusive access","fields":[]}"#)
                .unwrap();
        assert!(classify(&entry).is_transient());
        let deleted: ApiErrorEntry = serde_json::from_str(
            r#"{"statusCode":"ENTITY_IS_DELETED","message":"entity is deleted","fields":[]}"#,
        )
        .unwrap();
        assert!(matches!(classify(&deleted), CrmError::Permanent { .. }));
    }

    #[test]
    fn unavailable_server_is_transient_and_keeps_retry_after() {
        let body = br#"[{"message":"Server unavailable","errorCode":"SERVER_UNAVAILABLE"}]"#;
        let error = classify_response(503, parse_retry_after(Some("120")), body, None);
        assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
        assert!(classify_response(503, None, b"", None).is_transient());
        assert!(classify_response(429, None, b"", None).is_transient());
    }

    #[test]
    fn a_failed_answer_keeps_its_status_and_a_record_s_failure_has_none() {
        let body = br#"[{"message":"Server unavailable","errorCode":"SERVER_UNAVAILABLE"}]"#;
        let unavailable = classify_response(503, None, body, None);
        assert_eq!(unavailable.status(), Some(503));
        assert_eq!(unavailable.code(), "SERVER_UNAVAILABLE");
        assert_eq!(
            unavailable.to_string(),
            "Salesforce is unavailable for now (SERVER_UNAVAILABLE: Server unavailable)"
        );
        assert_eq!(classify_response(502, None, b"", None).status(), Some(502));
        let bad = br#"[{"message":"Bad","errorCode":"MALFORMED_QUERY"}]"#;
        assert_eq!(classify_response(400, None, bad, None).status(), Some(400));
        let concurrent = limit_error(403, "ConcurrentRequests Limit exceeded.", None);
        assert_eq!(concurrent.status(), Some(403));
        let entry: ApiErrorEntry = serde_json::from_str(
            r#"{"statusCode":"UNABLE_TO_LOCK_ROW","message":"locked","fields":[]}"#,
        )
        .unwrap();
        assert_eq!(classify(&entry).status(), None);
    }

    #[test]
    fn invalid_grant_means_a_person_must_reconnect() {
        let body =
            br#"{"error":"invalid_grant","error_description":"expired access/refresh token"}"#;
        assert!(matches!(
            classify_response(400, None, body, None),
            CrmError::Unauthorized { .. }
        ));
    }

    fn limit_error(status: u16, message: &str, usage: Option<(i64, i64)>) -> CrmError {
        let body = serde_json::to_vec(&serde_json::json!([
            { "message": message, "errorCode": "REQUEST_LIMIT_EXCEEDED" }
        ]))
        .unwrap();
        let usage = usage.map(|(used, max)| LimitInfo { used, max });
        classify_response(status, Some(Duration::from_secs(3)), &body, usage)
    }

    #[test]
    fn the_daily_limit_is_told_by_its_form_or_the_org_usage() {
        let total = "TotalRequests Limit exceeded.";
        assert!(matches!(
            limit_error(403, total, Some((15000, 15000))),
            CrmError::LimitExceeded
        ));
        assert!(matches!(
            limit_error(403, total, None),
            CrmError::LimitExceeded
        ));
        // Usage at the limit is the daily limit whatever the message.
        assert!(matches!(
            limit_error(403, "Limit exceeded.", Some((15001, 15000))),
            CrmError::LimitExceeded
        ));
    }

    #[test]
    fn rate_and_concurrency_limits_are_retried_not_capped() {
        let concurrent = "ConcurrentRequests (Concurrent API Requests) Limit exceeded.";
        for error in [
            limit_error(403, concurrent, Some((120, 15000))),
            limit_error(403, concurrent, None),
            limit_error(429, "TotalRequests Limit exceeded.", Some((120, 15000))),
            limit_error(429, "Rate limit exceeded.", None),
            limit_error(403, "Limit exceeded.", Some((120, 15000))),
        ] {
            assert!(error.is_transient(), "{error:?}");
            assert_eq!(error.code(), "REQUEST_LIMIT_EXCEEDED");
            assert_eq!(error.retry_after(), Some(Duration::from_secs(3)));
        }
    }
}
