//! Salesforce canvas signed requests: `SIGNATURE.PAYLOAD`, where PAYLOAD is the Base64 JSON
//! envelope and SIGNATURE the Base64 HMAC-SHA256 of the still-encoded PAYLOAD, keyed with the
//! connected app's consumer secret. Salesforce writes standard Base64 with padding; URL-safe
//! and unpadded forms are accepted too.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::domain::values::SalesforceId;

/// Why a signed request was refused. Deliberately coarse: the caller shows one 401 for all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanvasError {
    #[error("the signed request is not SIGNATURE.PAYLOAD in Base64")]
    Malformed,
    #[error("the signed request's envelope is not a canvas request: {0}")]
    Envelope(String),
    #[error("the signature does not match")]
    BadSignature,
}

/// A signed request split and decoded, not yet verified.
#[derive(Debug, Clone)]
pub struct SignedRequest<'a> {
    signature: Vec<u8>,
    encoded_payload: &'a str,
    pub envelope: Envelope,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub algorithm: String,
    pub client: Client,
    pub context: Context,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Client {
    pub instance_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    pub user: User,
    pub organization: Organization,
    #[serde(default)]
    pub environment: Environment,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub user_id: String,
    pub user_name: Option<String>,
    pub email: Option<String>,
    pub full_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub organization_id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    #[serde(default)]
    pub record: Option<Map<String, Value>>,
    #[serde(default)]
    pub parameters: Option<Value>,
}

/// Decodes Base64 in any of the forms Salesforce and its clients produce.
fn decode(text: &str) -> Option<Vec<u8>> {
    let normal: String = text
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    STANDARD_NO_PAD.decode(normal).ok()
}

impl<'a> SignedRequest<'a> {
    /// Splits on the first `.` and decodes both halves.
    pub fn parse(signed: &'a str) -> Result<Self, CanvasError> {
        let (signature, payload) = signed
            .trim()
            .split_once('.')
            .ok_or(CanvasError::Malformed)?;
        let signature = decode(signature).ok_or(CanvasError::Malformed)?;
        let json = decode(payload).ok_or(CanvasError::Malformed)?;
        let envelope: Envelope =
            serde_json::from_slice(&json).map_err(|e| CanvasError::Envelope(e.to_string()))?;
        if !envelope.algorithm.eq_ignore_ascii_case("HMACSHA256") {
            return Err(CanvasError::Envelope(format!(
                "algorithm `{}` is not HMACSHA256",
                envelope.algorithm
            )));
        }
        Ok(Self {
            signature,
            encoded_payload: payload.trim(),
            envelope,
        })
    }

    /// Checks the signature with the consumer secret, in constant time.
    pub fn verify(&self, consumer_secret: &str) -> Result<(), CanvasError> {
        let mut mac = Hmac::<Sha256>::new_from_slice(consumer_secret.as_bytes())
            .map_err(|_| CanvasError::BadSignature)?;
        mac.update(self.encoded_payload.as_bytes());
        mac.verify_slice(&self.signature)
            .map_err(|_| CanvasError::BadSignature)
    }

    /// The org the request claims to come from (checked by the signature only).
    pub fn org_id(&self) -> Result<SalesforceId, CanvasError> {
        SalesforceId::parse(&self.envelope.context.organization.organization_id)
            .map_err(|e| CanvasError::Envelope(format!("organizationId: {e}")))
    }

    pub fn user_id(&self) -> Result<SalesforceId, CanvasError> {
        SalesforceId::parse(&self.envelope.context.user.user_id)
            .map_err(|e| CanvasError::Envelope(format!("userId: {e}")))
    }

    /// The record the app was opened on: its sObject type and id. A canvas app on a record page
    /// gets `environment.record`; one opened from a button or action may pass `recordId` (and
    /// `sobject`) in `environment.parameters`.
    pub fn record(&self) -> Option<(String, SalesforceId)> {
        let environment = &self.envelope.context.environment;
        if let Some(record) = &environment.record
            && let Some(id) = record.get("Id").and_then(Value::as_str)
        {
            let sobject = record
                .get("attributes")
                .and_then(|a| a.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("Contact");
            return SalesforceId::parse(id)
                .ok()
                .map(|id| (sobject.to_string(), id));
        }
        let parameters = environment.parameters.as_ref()?;
        let id = parameters.get("recordId").and_then(Value::as_str)?;
        let sobject = parameters
            .get("sobject")
            .and_then(Value::as_str)
            .unwrap_or("Contact");
        SalesforceId::parse(id)
            .ok()
            .map(|id| (sobject.to_string(), id))
    }
}

/// Signs an envelope as Salesforce does (standard Base64 with padding). Tests and the
/// benchmark speak to Liaison with it.
pub fn sign(consumer_secret: &str, envelope: &Value) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(envelope.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(consumer_secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(payload.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("{signature}.{payload}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn envelope() -> Value {
        json!({
            "algorithm": "HMACSHA256", "issuedAt": 1_234_567_890, "userId": "005xx000001SwiUAAS",
            "client": { "instanceId": "_:Liaison:", "instanceUrl": "https://acme.my.salesforce.com",
                        "oauthToken": "00Dxx!AQ0AQ", "refreshToken": null, "targetOrigin": "https://acme.my.salesforce.com" },
            "context": {
                "user": { "userId": "005xx000001SwiUAAS", "userName": "jo@acme.example", "email": "jo@acme.example",
                          "firstName": "Jo", "lastName": "Bloggs", "fullName": "Jo Bloggs" },
                "organization": { "organizationId": "00Dxx0000001gPFEAY", "name": "Acme" },
                "environment": { "displayLocation": "PageLayout",
                                 "record": { "attributes": { "type": "Contact", "url": "/services/data/v62.0/sobjects/Contact/003xx000004TmiQAAS" },
                                             "Id": "003xx000004TmiQAAS" },
                                 "parameters": {} }
            }
        })
    }

    #[test]
    fn a_request_signed_with_the_consumer_secret_verifies() {
        let signed = sign("s3cret", &envelope());
        let request = SignedRequest::parse(&signed).unwrap();
        assert_eq!(request.verify("s3cret"), Ok(()));
        assert_eq!(request.org_id().unwrap().short(), "00Dxx0000001gPF");
        let (sobject, id) = request.record().unwrap();
        assert_eq!(
            (sobject.as_str(), id.short()),
            ("Contact", "003xx000004TmiQ")
        );
    }

    #[test]
    fn url_safe_and_unpadded_base64_verify_alike() {
        // A payload whose Base64 is padded, so the URL-safe unpadded form differs from it.
        let mut padded = envelope();
        while !sign("s3cret", &padded).ends_with('=') {
            let filler = padded["context"]["user"]["fullName"]
                .as_str()
                .unwrap_or("")
                .to_string();
            padded["context"]["user"]["fullName"] = json!(format!("{filler} "));
        }
        let signed = sign("s3cret", &padded);
        let (signature, payload) = signed.split_once('.').unwrap();
        let url_safe = |s: &str| s.replace('+', "-").replace('/', "_").replace('=', "");
        let variant = format!("{}.{}", url_safe(signature), payload);
        assert_ne!(
            variant, signed,
            "the signature's Base64 had nothing to re-encode"
        );
        let request = SignedRequest::parse(&variant).unwrap();
        assert_eq!(request.verify("s3cret"), Ok(()));
        // The MAC covers the payload as sent; re-encoding it is an alteration.
        let altered = format!("{}.{}", signature, url_safe(payload));
        assert_ne!(altered, signed);
        let request = SignedRequest::parse(&altered).unwrap();
        assert_eq!(request.verify("s3cret"), Err(CanvasError::BadSignature));
    }

    #[test]
    fn a_forged_or_altered_request_is_refused() {
        let signed = sign("s3cret", &envelope());
        let request = SignedRequest::parse(&signed).unwrap();
        assert_eq!(request.verify("another"), Err(CanvasError::BadSignature));

        let mut changed = envelope();
        changed["context"]["user"]["userId"] = json!("005xx000001SwiVAAS");
        let forged = sign("wrong", &changed);
        let (_, payload) = forged.split_once('.').unwrap();
        let (signature, _) = signed.split_once('.').unwrap();
        let spliced = format!("{signature}.{payload}");
        assert_eq!(
            SignedRequest::parse(&spliced).unwrap().verify("s3cret"),
            Err(CanvasError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in ["", "no-dot", "!!!.???", "YWJj.YWJj"] {
            assert!(SignedRequest::parse(bad).is_err(), "{bad}");
        }
    }
}
