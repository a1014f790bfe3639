//! JSON webhooks from Salesforce (a Flow HTTP callout or Apex relaying record changes), signed
//! with the Standard Webhooks scheme: `webhook-signature` holds `v1,<base64 HMAC-SHA256>` of
//! `{webhook-id}.{webhook-timestamp}.{body}` under the link's `whsec_` secret, and the
//! timestamp must be within five minutes of our clock.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

/// How far a webhook's timestamp may be from our clock, either way.
pub const TOLERANCE_SECONDS: i64 = 5 * 60;
/// The largest body we read.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most records one webhook may carry.
pub const MAX_RECORDS: usize = 100;
const SECRET_PREFIX: &str = "whsec_";

/// Why a webhook's signature was refused. None of them repeats the secret or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {0} header is missing or malformed")]
    Header(&'static str),
    #[error("webhook-timestamp is more than 5 minutes from now")]
    Stale,
    #[error("no signature in webhook-signature matches")]
    Mismatch,
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    format!(
        "{SECRET_PREFIX}{}",
        STANDARD.encode(crate::secrets::random_bytes())
    )
}

fn key(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()
        .filter(|k| !k.is_empty())
}

/// The `v1,…` signature of a message, as a sender computes it.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key(secret)?).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// Checks a webhook's id, timestamp and signatures against the secret at `now` (seconds).
pub fn verify(
    secret: &str,
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let id = id
        .filter(|id| !id.is_empty() && id.len() <= 200 && id.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or(SignatureError::Header("webhook-id"))?;
    let timestamp: i64 = timestamp
        .and_then(|t| t.trim().parse().ok())
        .ok_or(SignatureError::Header("webhook-timestamp"))?;
    let signatures = signatures
        .filter(|s| !s.trim().is_empty())
        .ok_or(SignatureError::Header("webhook-signature"))?;
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    let expected = sign(secret, id, timestamp, body).ok_or(SignatureError::Mismatch)?;
    let expected = expected.as_bytes();
    // Several space-separated signatures may be sent (e.g. during a secret rotation); any
    // `v1` one that matches will do. Each is compared in constant time.
    let matched = signatures
        .split_ascii_whitespace()
        .filter(|s| s.starts_with("v1,"))
        .fold(false, |found, s| {
            found | bool::from(s.as_bytes().ct_eq(expected))
        });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The body of a record-change webhook.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// 1 to 100 record changes.
    pub records: Vec<WebhookRecord>,
}

/// One record change: its type, id and modification time, who made it, and the fields as
/// they are now; or, with `deleted`, the record's removal (`MasterRecordId` when it was merged
/// into another record).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRecord {
    /// `Contact` or `Account` (a Person Account).
    pub sobject: String,
    #[serde(rename = "Id")]
    pub id: String,
    /// ISO 8601, e.g. `2026-03-02T09:00:00.000Z`; orders the changes of a record.
    #[serde(rename = "LastModifiedDate")]
    pub last_modified_date: String,
    /// The Salesforce user who made the change.
    #[serde(rename = "LastModifiedById", default)]
    pub last_modified_by_id: Option<String>,
    /// The fields that changed, when the sender knows them.
    #[serde(default)]
    pub changed_fields: Option<Vec<String>>,
    /// Field API names and their current values (`null` when empty).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: Map<String, Value>,
    /// The record was deleted (or merged away).
    #[serde(default)]
    pub deleted: bool,
    /// The surviving record of a merge.
    #[serde(rename = "MasterRecordId", default)]
    pub master_record_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn a_signed_message_verifies_and_a_changed_one_does_not() {
        let body = br#"{"records":[]}"#;
        let sig = sign(SECRET, "msg_1", 1_000, body).unwrap();
        assert_eq!(
            verify(SECRET, Some("msg_1"), Some("1000"), Some(&sig), body, 1_010),
            Ok(())
        );
        let several = format!("v1,bm9wZQ== {sig}");
        assert_eq!(
            verify(
                SECRET,
                Some("msg_1"),
                Some("1000"),
                Some(&several),
                body,
                1_010
            ),
            Ok(())
        );
        assert_eq!(
            verify(SECRET, Some("msg_2"), Some("1000"), Some(&sig), body, 1_010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                SECRET,
                Some("msg_1"),
                Some("1000"),
                Some(&sig),
                b"{}",
                1_010
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn old_or_future_timestamps_are_refused() {
        let body = b"{}";
        let sig = sign(SECRET, "m", 1_000, body).unwrap();
        assert_eq!(
            verify(SECRET, Some("m"), Some("1000"), Some(&sig), body, 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some("m"), Some("1000"), Some(&sig), body, 699),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, None, Some("1000"), Some(&sig), body, 1_000),
            Err(SignatureError::Header("webhook-id"))
        );
    }
}
