//! What Salesforce calls with record changes: the Outbound Message endpoint
//! (`POST /salesforce/outbound/{org_link_id}/{token}`, SOAP) and the JSON webhook endpoint
//! (`POST /webhooks/salesforce/{org_link_id}`, Standard Webhooks signatures). `app::intake`
//! takes each delivery (one parse, one insert); here its outcome becomes Salesforce's answer: the
//! SOAP Ack or fault, the webhook's count or problem.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, Problem};
use super::extract::parse_json_object;
use crate::app::intake::{self, OutboundRefusal, Signed, Unread, WebhookRefusal};
use crate::crm::outbound;
use crate::crm::webhook::{self, WebhookBody};

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

/// Reads a delivery's body, up to `limit` bytes.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Unread> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if err.is::<http_body_util::LengthLimitError>() {
                return Unread::TooLarge;
            }
            source = err.source();
        }
        Unread::Unreadable
    })
}

/// An Outbound Message: stored whole, then acknowledged; any refusal is a SOAP fault with a
/// non-2xx status, so Salesforce keeps the message and retries.
async fn outbound(
    State(state): State<AppState>,
    Path((link, token)): Path<(String, String)>,
    body: Body,
) -> Response {
    let body = read_body(body, outbound::MAX_BODY_BYTES);
    match intake::take_outbound_message(&state.store, &link, &token, body).await {
        Ok(stored) => {
            wake_if_stored(&state, stored);
            soap(StatusCode::OK, outbound::ACK.to_string())
        }
        Err(refusal) => {
            let status = match refusal {
                OutboundRefusal::UnknownEndpoint => StatusCode::NOT_FOUND,
                OutboundRefusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                OutboundRefusal::Unreadable | OutboundRefusal::Malformed(_) => {
                    StatusCode::BAD_REQUEST
                }
                OutboundRefusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            };
            soap_fault(status, &refusal.to_string())
        }
    }
}

/// Changes stored now are due at once: the inbox worker need not wait for its next round.
fn wake_if_stored(state: &AppState, stored: u64) {
    if stored > 0 {
        state.wake_workers.notify_one();
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
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = Signed {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
    };
    let body = read_body(body, webhook::MAX_BODY_BYTES);
    let parse = parse_json_object::<WebhookBody>;
    match intake::take_webhook(&state.store, &state.crm, &link, signed, body, parse).await {
        Ok(taken) => {
            wake_if_stored(&state, taken.stored);
            axum::Json(Received {
                received: taken.received,
                stored: taken.stored,
                duplicates: taken.received as u64 - taken.stored,
            })
            .into_response()
        }
        Err(refusal) => webhook_refusal(refusal),
    }
}

/// A refused webhook's answer: a problem, the signature's with its own code.
fn webhook_refusal(refusal: WebhookRefusal<ApiError>) -> Response {
    match refusal {
        WebhookRefusal::UnknownEndpoint => ApiError::NotFound("webhook endpoint"),
        WebhookRefusal::Unavailable => ApiError::Unavailable,
        WebhookRefusal::Unsealed(error) => ApiError::Internal(anyhow::anyhow!(error.to_string())),
        WebhookRefusal::Body(Unread::TooLarge) => ApiError::PayloadTooLarge,
        WebhookRefusal::Body(Unread::Unreadable) => {
            ApiError::bad_request("body", "could not be read")
        }
        WebhookRefusal::Signature(error) => return bad_signature(error.to_string()),
        WebhookRefusal::Unparsed(error) => error,
        WebhookRefusal::Invalid(errors) => ApiError::Invalid(errors),
    }
    .into_response()
}
