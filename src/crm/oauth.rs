//! Salesforce OAuth 2.0, exactly as `shared/salesforce/PROTOCOLS.md` describes it: the
//! web-server flow with PKCE and refresh (with rotation) through the `oauth2` crate, the JWT
//! bearer assertion on `jsonwebtoken`; revocation is a plain form `POST` (see
//! `Salesforce::revoke`). Signing in to the console with Salesforce is the same web-server flow
//! asking the `openid` scope, whose user Salesforce's UserInfo endpoint names.

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::url;
use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, CsrfToken, ExtraTokenFields, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenResponse as _, TokenUrl,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::error::CrmError;

/// The parts of Salesforce's token answer beyond RFC 6749's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SalesforceFields {
    pub instance_url: String,
    /// The identity URL, which ends with the org id and the user id.
    pub id: Option<String>,
    pub issued_at: Option<String>,
    pub signature: Option<String>,
}

impl ExtraTokenFields for SalesforceFields {}

/// Salesforce's token answer as the `oauth2` crate reads it.
pub type SalesforceToken = StandardTokenResponse<SalesforceFields, BasicTokenType>;

/// An `oauth2` client of a connected app, with no endpoint set yet.
pub type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    SalesforceToken,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
>;

/// The connected app as `oauth2` sees it: its consumer key and, when it has one, its secret,
/// both sent in the request body as Salesforce documents.
pub fn connected_app(client_id: &str, client_secret: Option<&str>) -> OAuthClient {
    let client =
        OAuthClient::new(ClientId::new(client_id.to_string())).set_auth_type(AuthType::RequestBody);
    match client_secret {
        Some(secret) => client.set_client_secret(ClientSecret::new(secret.to_string())),
        None => client,
    }
}

fn config_error(what: &str) -> impl Fn(url::ParseError) -> CrmError + '_ {
    move |e| CrmError::Config(format!("{what} is not a URL: {e}"))
}

/// A PKCE pair: the verifier stays with us (sealed), the S256 challenge goes to Salesforce.
pub fn pkce() -> (PkceCodeChallenge, PkceCodeVerifier) {
    PkceCodeChallenge::new_random_sha256()
}

/// The URL an admin's browser is sent to, to approve the connection (no scopes asked: the
/// connected app's own apply) or to sign in (`openid`).
pub fn authorize_url(
    login_host: &str,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    verifier: &PkceCodeVerifier,
    scopes: &[&str],
) -> Result<String, CrmError> {
    let auth = AuthUrl::new(format!(
        "{}/services/oauth2/authorize",
        login_host.trim_end_matches('/')
    ))
    .map_err(config_error("the login host"))?;
    let redirect =
        RedirectUrl::new(redirect_uri.to_string()).map_err(config_error("the callback URL"))?;
    let (url, _) = connected_app(client_id, None)
        .set_auth_uri(auth)
        .set_redirect_uri(redirect)
        .authorize_url(|| CsrfToken::new(state.to_string()))
        .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_string())))
        .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(verifier))
        .url();
    Ok(url.into())
}

/// The token endpoint of a login host, for `oauth2`.
pub fn token_url(base: &str) -> Result<TokenUrl, CrmError> {
    TokenUrl::new(format!("{base}/services/oauth2/token")).map_err(config_error("the login host"))
}

/// What a failed `oauth2` request means: Salesforce's own answer was classified by the HTTP
/// client already; an answer that cannot be read is transient.
pub fn request_error<TE: oauth2::ErrorResponse + 'static>(
    error: RequestTokenError<CrmError, TE>,
) -> CrmError {
    match error {
        RequestTokenError::Request(error) => error,
        _ => CrmError::Transient {
            code: "BAD_TOKEN_RESPONSE".into(),
            message: "the token endpoint's answer could not be read".into(),
            retry_after: None,
            http_status: None,
        },
    }
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

impl From<SalesforceToken> for TokenResponse {
    fn from(token: SalesforceToken) -> Self {
        let extra = token.extra_fields().clone();
        Self {
            access_token: token.access_token().secret().clone(),
            refresh_token: token.refresh_token().map(|r| r.secret().clone()),
            instance_url: extra.instance_url,
            id: extra.id,
            issued_at: extra.issued_at,
            signature: extra.signature,
            scope: token.scopes().map(|scopes| {
                scopes
                    .iter()
                    .map(|scope| scope.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            }),
            token_type: Some(token.token_type().as_ref().to_string()),
        }
    }
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

/// Who signed in, as Salesforce's OpenID Connect UserInfo endpoint answers
/// (`GET {login_host}/services/oauth2/userinfo` with the sign-in's access token).
#[derive(Debug, Clone, Deserialize)]
pub struct UserInfo {
    /// The user's 18-character id (`005…`).
    pub user_id: String,
    /// The org's 18-character id (`00D…`).
    pub organization_id: String,
    /// The Salesforce username.
    pub preferred_username: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    /// Whether the user is active in the org; absent is taken as active.
    pub active: Option<bool>,
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
        let verifier =
            PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_string());
        assert_eq!(
            PkceCodeChallenge::from_code_verifier_sha256(&verifier).as_str(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let (challenge, verifier) = pkce();
        assert_eq!(verifier.secret().len(), 43);
        assert_eq!(challenge.method().as_str(), "S256");
        assert_eq!(
            PkceCodeChallenge::from_code_verifier_sha256(&verifier).as_str(),
            challenge.as_str()
        );
    }

    #[test]
    fn authorize_url_carries_state_and_s256_challenge() {
        let verifier =
            PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_string());
        let url = authorize_url(
            "https://test.salesforce.com/",
            "key",
            "https://liaison.example/cb",
            "st",
            &verifier,
            &[],
        )
        .unwrap();
        assert!(!url.contains("scope="), "a connection asks no scope: {url}");
        assert!(url.starts_with(
            "https://test.salesforce.com/services/oauth2/authorize?response_type=code&"
        ));
        assert!(url.contains("client_id=key"));
        assert!(url.contains("redirect_uri=https%3A%2F%2Fliaison.example%2Fcb"));
        assert!(url.contains(
            "state=st&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
        ));
    }

    #[test]
    fn a_sign_in_asks_the_openid_scope() {
        let verifier =
            PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_string());
        let url = authorize_url(
            "https://acme.my.salesforce.com",
            "key",
            "https://liaison.example/console/sign-in/salesforce/callback",
            "st",
            &verifier,
            &["openid"],
        )
        .unwrap();
        assert!(url.contains("scope=openid"), "{url}");
        assert!(url.contains("code_challenge_method=S256"));
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
