//! What Salesforce calls with record changes: the Outbound Message endpoint
//! (`POST /salesforce/outbound/{org_link_id}/{token}`, SOAP) and the JSON webhook endpoint
//! (`POST /webhooks/salesforce/{org_link_id}`, Standard Webhooks signatures). Each answer
//! costs one parse and one insert; the inbox worker does the rest. A refusal stores nothing
//! and repeats no secret.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::AppState;
use super::error::{ApiError, Problem};
use super::extract::parse_json_object;
use crate::crm::inbox::{from_notification, from_webhook};
use crate::crm::outbound;
use crate::crm::webhook::{self, WebhookBody};
use crate::domain::FieldErrors;
use crate::domain::values::SalesforceId;
use crate::secrets::digest;
use crate::store::{ChangeSource, IntakeLink};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/salesforce/outbound/{org_link_id}/{token}", post(outbound))
        .route("/webhooks/salesforce/{org_link_id}", post(webhook))
}

fn soap(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

fn soap_fault(status: StatusCode, reason: &str) -> Response {
    soap(status, outbound::fault(status.is_client_error(), reason))
}

enum BodyError {
    TooLarge,
    Unreadable,
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, BodyError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if err.is::<http_body_util::LengthLimitError>() {
                return BodyError::TooLarge;
            }
            source = err.source();
        }
        BodyError::Unreadable
    })
}

/// The link behind an endpoint, or `None` for an unknown link; a store failure is `Err`.
async fn intake_link(state: &AppState, raw: &str) -> Result<Option<(Uuid, IntakeLink)>, ()> {
    let Ok(id) = Uuid::parse_str(raw) else {
        return Ok(None);
    };
    match state.store.intake_link(id).await {
        Ok(found) => Ok(found.map(|l| (id, l))),
        Err(error) => {
            tracing::error!(error = %error, "reading an org link for intake failed");
            Err(())
        }
    }
}

/// An Outbound Message: stored whole, then acknowledged; any refusal is a SOAP fault with a
/// non-2xx status, so Salesforce keeps the message and retries.
async fn outbound(
    State(state): State<AppState>,
    Path((link, token)): Path<(String, String)>,
    body: Body,
) -> Response {
    // An unknown link and a wrong token get the same answer.
    let unknown = || {
        soap_fault(
            StatusCode::NOT_FOUND,
            "unknown endpoint: copy the Outbound Message URL from Liaison again",
        )
    };
    let (id, link) = match intake_link(&state, &link).await {
        Ok(Some(found)) => found,
        Ok(None) => return unknown(),
        Err(()) => {
            return soap_fault(
                StatusCode::SERVICE_UNAVAILABLE,
                "the message could not be stored now; it will be retried",
            );
        }
    };
    let Some(expected) = &link.outbound_token_hash else {
        return unknown();
    };
    if !bool::from(digest(&token).as_bytes().ct_eq(expected.as_bytes())) {
        return unknown();
    }
    let bytes = match read_body(body, outbound::MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => {
            return soap_fault(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "the message is larger than {} bytes",
                    outbound::MAX_BODY_BYTES
                ),
            );
        }
        Err(BodyError::Unreadable) => {
            return soap_fault(StatusCode::BAD_REQUEST, "the body could not be read");
        }
    };
    let message = match outbound::parse(&bytes) {
        Ok(message) => message,
        Err(error) => return soap_fault(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let org_matches =
        SalesforceId::parse(&link.org_id).is_ok_and(|org| org == message.organization_id);
    if !org_matches {
        return soap_fault(
            StatusCode::BAD_REQUEST,
            "OrganizationId is not the org linked to this endpoint",
        );
    }
    let mut changes = Vec::with_capacity(message.notifications.len());
    for (i, notification) in message.notifications.iter().enumerate() {
        match from_notification(notification) {
            Ok(change) => changes.push(change),
            Err(reason) => {
                return soap_fault(
                    StatusCode::BAD_REQUEST,
                    &format!("Notification[{i}]: {reason}"),
                );
            }
        }
    }
    match state
        .store
        .receive_changes(id, ChangeSource::OutboundMessage, &changes)
        .await
    {
        Ok(stored) => {
            if stored > 0 {
                state.wake_workers.notify_one();
            }
            soap(StatusCode::OK, outbound::ACK.to_string())
        }
        Err(error) => {
            tracing::error!(error = %error, org_link = %id, "storing an Outbound Message failed");
            soap_fault(
                StatusCode::SERVICE_UNAVAILABLE,
                "the message could not be stored now; it will be retried",
            )
        }
    }
}

/// What a webhook's answer says.
#[derive(Debug, Serialize)]
struct Received {
    /// Records in the message.
    received: usize,
    /// Records stored now (the others had been received before).
    stored: u64,
    duplicates: u64,
}

fn bad_signature(detail: String) -> Response {
    let problem = Problem {
        kind: "urn:liaison:problem:bad-signature".into(),
        title: "Unauthorized",
        status: 401,
        detail,
        code: "bad-signature".into(),
        errors: Vec::new(),
    };
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/problem+json")],
        axum::Json(problem),
    )
        .into_response()
}

/// A signed JSON webhook: verified, parsed, stored, answered.
async fn webhook(
    State(state): State<AppState>,
    Path(link): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (id, link) = match intake_link(&state, &link).await {
        Ok(Some(found)) => found,
        Ok(None) => return ApiError::NotFound("webhook endpoint").into_response(),
        Err(()) => return ApiError::Unavailable.into_response(),
    };
    let Some(sealed) = &link.webhook_secret_sealed else {
        return ApiError::NotFound("webhook endpoint").into_response();
    };
    let secret = match state.crm.open_sealed(id, "webhook_secret", sealed) {
        Ok(secret) => secret,
        Err(error) => {
            return ApiError::Internal(anyhow::anyhow!(error.to_string())).into_response();
        }
    };
    let bytes = match read_body(body, webhook::MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return ApiError::PayloadTooLarge.into_response(),
        Err(BodyError::Unreadable) => {
            return ApiError::bad_request("body", "could not be read").into_response();
        }
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let webhook_id = header("webhook-id");
    let now = state.store.clock().now().unix_timestamp();
    if let Err(error) = webhook::verify(
        &secret,
        webhook_id,
        header("webhook-timestamp"),
        header("webhook-signature"),
        &bytes,
        now,
    ) {
        return bad_signature(error.to_string());
    }
    let webhook_id = webhook_id.unwrap_or_default();
    let parsed: WebhookBody = match parse_json_object(&bytes) {
        Ok(parsed) => parsed,
        Err(error) => return error.into_response(),
    };
    let mut errors = FieldErrors::new();
    if parsed.records.is_empty() || parsed.records.len() > webhook::MAX_RECORDS {
        errors.push(
            "records",
            format!("must hold 1 to {} records", webhook::MAX_RECORDS),
        );
    }
    let mut changes = Vec::with_capacity(parsed.records.len());
    for (i, record) in parsed.records.iter().enumerate() {
        match from_webhook(webhook_id, i, record) {
            Ok(change) => changes.push(change),
            Err((field, reason)) => errors.push(format!("records[{i}].{field}"), reason),
        }
    }
    if let Err(errors) = errors.finish() {
        return ApiError::Invalid(errors).into_response();
    }
    match state
        .store
        .receive_changes(id, ChangeSource::Webhook, &changes)
        .await
    {
        Ok(stored) => {
            if stored > 0 {
                state.wake_workers.notify_one();
            }
            let received = changes.len();
            axum::Json(Received {
                received,
                stored,
                duplicates: received as u64 - stored,
            })
            .into_response()
        }
        Err(error) => {
            tracing::error!(error = %error, org_link = %id, "storing a webhook failed");
            ApiError::Unavailable.into_response()
        }
    }
}
