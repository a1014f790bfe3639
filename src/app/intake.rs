//! Taking a delivery of record changes from Salesforce: an Outbound Message (its URL carries
//! the link's token) or a signed JSON webhook (the link's `whsec_` secret). Each costs one
//! lookup of the link, one check of its token or signature, one parse and one insert into the
//! inbox; the inbox worker does the rest. A refusal stores nothing and repeats no secret.

use std::future::Future;

use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::crm::inbox::{from_notification, from_webhook};
use crate::crm::webhook::{self, SignatureError, WebhookBody};
use crate::crm::{Crm, LinkError, outbound};
use crate::domain::values::SalesforceId;
use crate::domain::{FieldError, FieldErrors};
use crate::secrets::digest;
use crate::store::{ChangeSource, IntakeLink, Store};

/// Why a delivery's body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unread {
    /// Longer than the endpoint reads.
    TooLarge,
    /// The connection failed while it was sent.
    Unreadable,
}

/// Why an Outbound Message was not stored; each says so in its fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundRefusal {
    /// An unknown link, a link with no Outbound Message URL, or a wrong token: alike, so the
    /// answer tells a stranger nothing.
    #[error("unknown endpoint: copy the Outbound Message URL from Liaison again")]
    UnknownEndpoint,
    #[error("the message is larger than {} bytes", outbound::MAX_BODY_BYTES)]
    TooLarge,
    #[error("the body could not be read")]
    Unreadable,
    /// Not an Outbound Message this endpoint takes: why.
    #[error("{0}")]
    Malformed(String),
    /// The link could not be read or the changes stored now; Salesforce retries.
    #[error("the message could not be stored now; it will be retried")]
    Unavailable,
}

/// The headers that sign a webhook (Standard Webhooks), as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signed<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Why a webhook was not stored. `E` is the refusal of a body that is not the JSON expected,
/// as the caller's parser words it.
#[derive(Debug)]
pub enum WebhookRefusal<E> {
    /// An unknown link, or a link with no webhook secret.
    UnknownEndpoint,
    /// The link's secret does not open (the key changed, say).
    Unsealed(LinkError),
    Body(Unread),
    Signature(SignatureError),
    Unparsed(E),
    /// Records that are not record changes: each field and why.
    Invalid(Vec<FieldError>),
    /// The link could not be read or the changes stored now; the sender retries.
    Unavailable,
}

/// What a webhook brought: records in the message, and those stored now (the others had been
/// received before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub received: usize,
    pub stored: u64,
}

/// Stores an Outbound Message for the link `link` whose URL carries `token`, all its
/// notifications in one insert, and answers how many were new. `body` is read only once the
/// token is known good, so a stranger's message is never read.
pub async fn take_outbound_message<B: AsRef<[u8]>>(
    store: &Store,
    link: &str,
    token: &str,
    body: impl Future<Output = Result<B, Unread>>,
) -> Result<u64, OutboundRefusal> {
    let (id, link) = endpoint(store, link).await?;
    let expected = link
        .outbound_token_hash
        .as_ref()
        .ok_or(OutboundRefusal::UnknownEndpoint)?;
    if !bool::from(digest(token).as_bytes().ct_eq(expected.as_bytes())) {
        return Err(OutboundRefusal::UnknownEndpoint);
    }
    let bytes = body.await.map_err(|unread| match unread {
        Unread::TooLarge => OutboundRefusal::TooLarge,
        Unread::Unreadable => OutboundRefusal::Unreadable,
    })?;
    let malformed = OutboundRefusal::Malformed;
    let message = outbound::parse(bytes.as_ref()).map_err(|e| malformed(e.to_string()))?;
    let org_matches =
        SalesforceId::parse(&link.org_id).is_ok_and(|org| org == message.organization_id);
    if !org_matches {
        return Err(malformed(
            "OrganizationId is not the org linked to this endpoint".into(),
        ));
    }
    let changes = message
        .notifications
        .iter()
        .enumerate()
        .map(|(i, n)| {
            from_notification(n).map_err(|r| malformed(format!("Notification[{i}]: {r}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    store
        .receive_changes(id, ChangeSource::OutboundMessage, &changes)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, org_link = %id, "storing an Outbound Message failed");
            OutboundRefusal::Unavailable
        })
}

/// Stores a webhook for the link `link`, signed as `signed`: every record in one insert.
/// `body` is read only once the link is known, and parsed by `parse` only once its signature
/// holds.
pub async fn take_webhook<B: AsRef<[u8]>, E>(
    store: &Store,
    crm: &Crm,
    link: &str,
    signed: Signed<'_>,
    body: impl Future<Output = Result<B, Unread>>,
    parse: impl FnOnce(&[u8]) -> Result<WebhookBody, E>,
) -> Result<Received, WebhookRefusal<E>> {
    let (id, link) = endpoint(store, link).await?;
    let sealed = link
        .webhook_secret_sealed
        .as_ref()
        .ok_or(WebhookRefusal::UnknownEndpoint)?;
    let secret = crm
        .open_sealed(id, "webhook_secret", sealed)
        .map_err(WebhookRefusal::Unsealed)?;
    let bytes = body.await.map_err(WebhookRefusal::Body)?;
    let now = store.clock().now().unix_timestamp();
    webhook::verify(
        &secret,
        signed.id,
        signed.timestamp,
        signed.signature,
        bytes.as_ref(),
        now,
    )
    .map_err(WebhookRefusal::Signature)?;
    let parsed = parse(bytes.as_ref()).map_err(WebhookRefusal::Unparsed)?;
    let changes =
        webhook_changes(signed.id.unwrap_or_default(), &parsed).map_err(WebhookRefusal::Invalid)?;
    let stored = store
        .receive_changes(id, ChangeSource::Webhook, &changes)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, org_link = %id, "storing a webhook failed");
            WebhookRefusal::Unavailable
        })?;
    Ok(Received {
        received: changes.len(),
        stored,
    })
}

/// A webhook's records as inbox rows, or every field at fault.
fn webhook_changes(
    webhook_id: &str,
    parsed: &WebhookBody,
) -> Result<Vec<crate::store::RecordChange>, Vec<FieldError>> {
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
    errors.finish().map(|()| changes)
}

/// Why no link answers at an endpoint.
enum NoEndpoint {
    Unknown,
    /// The store failed (logged).
    Unavailable,
}

impl From<NoEndpoint> for OutboundRefusal {
    fn from(no: NoEndpoint) -> Self {
        match no {
            NoEndpoint::Unknown => Self::UnknownEndpoint,
            NoEndpoint::Unavailable => Self::Unavailable,
        }
    }
}

impl<E> From<NoEndpoint> for WebhookRefusal<E> {
    fn from(no: NoEndpoint) -> Self {
        match no {
            NoEndpoint::Unknown => Self::UnknownEndpoint,
            NoEndpoint::Unavailable => Self::Unavailable,
        }
    }
}

/// The link behind an endpoint: its id in the URL, and what its intake checks.
async fn endpoint(store: &Store, raw: &str) -> Result<(Uuid, IntakeLink), NoEndpoint> {
    let id = Uuid::parse_str(raw).map_err(|_| NoEndpoint::Unknown)?;
    match store.intake_link(id).await {
        Ok(found) => found.map(|l| (id, l)).ok_or(NoEndpoint::Unknown),
        Err(error) => {
            tracing::error!(error = %error, "reading an org link for intake failed");
            Err(NoEndpoint::Unavailable)
        }
    }
}
