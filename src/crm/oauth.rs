//! Salesforce OAuth 2.0: the web-server flow with PKCE, the JWT bearer flow, refresh (with
//! rotation) and revocation, exactly as `shared/salesforce/PROTOCOLS.md` describes them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::error::CrmError;

/// A PKCE pair: the verifier stays with us, the challenge goes to Salesforce.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    /// A 43-character verifier from 256 random bits (RFC 7636 asks for 43 to 128).
    pub fn generate() -> Self {
        let verifier = crate::secrets::random_token();
        let challenge = challenge_of(&verifier);
        Self {
            verifier,
            challenge,
        }
    }
}

/// `BASE64URL(SHA256(verifier))`, the S256 method.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The URL an admin's browser is sent to, to approve the connection.
pub fn authorize_url(
    login_host: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!(
        "{}/services/oauth2/authorize?{query}",
        login_host.trim_end_matches('/')
    )
}

/// The token endpoint's answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Present on the web-server flow when the scope allows, and on refresh only when the
    /// connected app rotates refresh tokens.
    pub refresh_token: Option<String>,
    pub instance_url: String,
    /// The identity URL, which ends with the org id and the user id.
    pub id: Option<String>,
    pub issued_at: Option<String>,
    pub signature: Option<String>,
    pub scope: Option<String>,
    pub token_type: Option<String>,
}

impl TokenResponse {
    /// The org id in the identity URL (`…/id/00Dxx…/005xx…`).
    pub fn org_id(&self) -> Option<&str> {
        let id = self.id.as_deref()?;
        let mut parts = id.rsplit('/');
        let _user = parts.next()?;
        parts.next()
    }
}

/// Salesforce's OAuth error body.
#[derive(Debug, Clone, Deserialize)]
pub struct OAuthErrorBody {
    pub error: String,
    #[serde(default)]
    pub error_description: String,
}

/// The claims of a JWT bearer assertion.
#[derive(Debug, serde::Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
}

/// An RS256-signed assertion for the JWT bearer flow, valid for three minutes (the most
/// Salesforce accepts).
pub fn jwt_assertion(
    consumer_key: &str,
    username: &str,
    login_host: &str,
    private_key_pem: &str,
    now: OffsetDateTime,
) -> Result<String, CrmError> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.as_bytes())
        .map_err(|_| CrmError::Config("the private key is not an RSA key in PEM form".into()))?;
    let claims = Claims {
        iss: consumer_key.into(),
        sub: username.into(),
        aud: audience(login_host),
        exp: (now + time::Duration::minutes(3)).unix_timestamp(),
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(|_| CrmError::Config("the JWT assertion could not be signed".into()))
}

/// The `aud` of an assertion: the login host for production and sandboxes, and the login host
/// itself for a My Domain.
pub fn audience(login_host: &str) -> String {
    login_host.trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_base64url_of_sha256_of_the_verifier() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let pkce = Pkce::generate();
        assert_eq!(pkce.verifier.len(), 43);
        assert_eq!(challenge_of(&pkce.verifier), pkce.challenge);
    }

    #[test]
    fn authorize_url_carries_state_and_s256_challenge() {
        let url = authorize_url(
            "https://test.salesforce.com/",
            "key",
            "https://liaison.example/cb",
            "st",
            "ch",
        );
        assert!(url.starts_with(
            "https://test.salesforce.com/services/oauth2/authorize?response_type=code&"
        ));
        assert!(url.contains("client_id=key"));
        assert!(url.contains("redirect_uri=https%3A%2F%2Fliaison.example%2Fcb"));
        assert!(url.contains("state=st&code_challenge=ch&code_challenge_method=S256"));
    }

    #[test]
    fn org_id_comes_from_the_identity_url() {
        let response = TokenResponse {
            access_token: "a".into(),
            refresh_token: None,
            instance_url: "https://x.my.salesforce.com".into(),
            id: Some(
                "https://login.salesforce.com/id/00D5g000004ZKTDEA4/0055g00000A1b2cAAB".into(),
            ),
            issued_at: None,
            signature: None,
            scope: None,
            token_type: None,
        };
        assert_eq!(response.org_id(), Some("00D5g000004ZKTDEA4"));
    }
}
