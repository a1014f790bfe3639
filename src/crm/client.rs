//! The Salesforce REST client: token requests, record reads and sObject Collections updates,
//! with timeouts, retries of transient failures (exponential with jitter, honouring
//! `Retry-After`) and the org's API usage read from `Sforce-Limit-Info`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::future::Future;
use std::pin::Pin;

use backon::{ExponentialBuilder, Retryable};
use oauth2::{
    AsyncHttpClient, AuthorizationCode, HttpRequest, HttpResponse, PkceCodeVerifier, RedirectUrl,
    RefreshToken,
};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::error::{ApiErrorEntry, CrmError, classify_response, parse_retry_after};
use super::hosts::{GuardedResolver, HostPolicy, HostRefused, Lookup};
use super::oauth::{self, TokenResponse};
use crate::domain::org_link::COLLECTION_LIMIT;

/// How the client retries a transient failure within one call.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 2,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

/// The org's API usage in the rolling 24 hours, from `Sforce-Limit-Info: api-usage=U/M`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitInfo {
    pub used: i64,
    pub max: i64,
}

pub fn parse_limit_info(header: &str) -> Option<LimitInfo> {
    header.split(';').find_map(|part| {
        let usage = part.trim().strip_prefix("api-usage=")?;
        let (used, max) = usage.split_once('/')?;
        Some(LimitInfo {
            used: used.trim().parse().ok()?,
            max: max.trim().parse().ok()?,
        })
    })
}

pub(super) fn limit_of(headers: &HeaderMap) -> Option<LimitInfo> {
    headers
        .get("sforce-limit-info")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_limit_info)
}

/// What the calls made on one session cost: every answered attempt counts against the org's
/// limit, errors included, and the last `Sforce-Limit-Info` seen is the org's usage.
#[derive(Debug, Clone, Default)]
pub struct Meter(Arc<Mutex<Metered>>);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metered {
    pub calls: i64,
    pub limit: Option<LimitInfo>,
}

impl Meter {
    fn note(&self, limit: Option<LimitInfo>) {
        let mut metered = self.0.lock().unwrap_or_else(|e| e.into_inner());
        metered.calls += 1;
        metered.limit = limit.or(metered.limit);
    }

    /// What was counted so far.
    pub fn read(&self) -> Metered {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An authenticated connection to one org's REST API.
#[derive(Debug, Clone)]
pub struct Session {
    pub instance_url: String,
    pub access_token: String,
    /// e.g. `62.0`.
    pub api_version: String,
    /// Counts this session's calls and the usage they report.
    pub meter: Meter,
}

impl Session {
    /// `path` under the REST API of `base`, the session's instance URL once checked.
    pub(super) fn data_url(&self, base: &str, path: &str) -> String {
        format!("{base}/services/data/v{}/{path}", self.api_version)
    }
}

/// A successful answer and the usage it reported.
#[derive(Debug, Clone)]
pub struct Reply<T> {
    pub value: T,
    pub limit: Option<LimitInfo>,
}

/// One record's result in a Collections call, in request order.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordResult {
    pub id: Option<String>,
    pub success: bool,
    #[serde(default)]
    pub errors: Vec<ApiErrorEntry>,
}

#[derive(Debug, Clone)]
pub struct Salesforce {
    /// `None` when the client could not be built: every call then fails, rather than going
    /// out through a client without the host checks.
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
    hosts: Arc<HostPolicy>,
}

impl Salesforce {
    /// A client that calls only the hosts `hosts` admits, resolving names with `lookup` and
    /// connecting only to the addresses the policy allows. Redirects are not followed:
    /// Salesforce's APIs do not redirect, and a redirect could lead anywhere.
    pub fn new(
        timeout: Duration,
        retry: RetryPolicy,
        hosts: Arc<HostPolicy>,
        lookup: Arc<dyn Lookup>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("liaison/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver::new(hosts.clone(), lookup)))
            .build()
            .inspect_err(
                |e| tracing::error!(error = %e, "the Salesforce HTTP client could not be built"),
            )
            .ok();
        Self { http, retry, hosts }
    }

    pub fn hosts(&self) -> &HostPolicy {
        &self.hosts
    }

    pub(super) fn http(&self) -> Result<&reqwest::Client, CrmError> {
        self.http
            .as_ref()
            .ok_or_else(|| CrmError::Config("the Salesforce HTTP client could not be built".into()))
    }

    /// The origin (`https://host[:port]`) of a base URL Liaison is about to call, if the host
    /// rule admits it; `what` names the URL in the refusal.
    pub(super) fn base(&self, what: &str, raw: &str) -> Result<String, CrmError> {
        self.hosts
            .base_url(raw)
            .map(|url| url.origin().ascii_serialization())
            .map_err(|HostRefused(reason)| CrmError::HostRefused(format!("{what}: {reason}")))
    }

    /// Refuses a token answer whose `instance_url` or identity URL is not a host Liaison may
    /// call, before anything of it is stored or called.
    fn check_answer(&self, answer: &TokenResponse) -> Result<(), CrmError> {
        self.hosts
            .base_url(&answer.instance_url)
            .map_err(|HostRefused(reason)| {
                CrmError::HostRefused(format!("the token answer's instance_url: {reason}"))
            })?;
        if let Some(id) = &answer.id {
            self.hosts.identity_url(id).map_err(|HostRefused(reason)| {
                CrmError::HostRefused(format!("the token answer's identity URL (id): {reason}"))
            })?;
        }
        Ok(())
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.retries)
            .with_jitter()
    }

    /// Sends a request built by `build`, retrying transient failures. A `Retry-After` longer
    /// than the policy's longest delay is not waited for here: the error goes back to the
    /// caller, whose job is rescheduled for then. Each attempt is counted on `meter`, with the
    /// usage its answer reports, whatever the answer.
    async fn send(
        &self,
        meter: Option<&Meter>,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(Vec<u8>, HeaderMap), CrmError> {
        self.exchange(meter, false, build)
            .await
            .map(|(_, body, headers)| (body, headers))
    }

    /// As `send`, answering the status too; with `conditional`, a `304 Not Modified` (the
    /// answer to a conditional request whose cached copy is still good) is an answer, not an
    /// error.
    pub(super) async fn exchange(
        &self,
        meter: Option<&Meter>,
        conditional: bool,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>, HeaderMap), CrmError> {
        let max_delay = self.retry.max_delay;
        let attempt = || async {
            let response = build().send().await.map_err(|e| {
                if let Some(meter) = meter {
                    meter.note(None);
                }
                transport_error(e)
            })?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let limit = limit_of(&headers);
            if let Some(meter) = meter {
                meter.note(limit);
            }
            let body = response.bytes().await.map_err(transport_error)?.to_vec();
            if (200..300).contains(&status) || (conditional && status == 304) {
                Ok((status, body, headers))
            } else {
                let retry_after =
                    parse_retry_after(headers.get("retry-after").and_then(|v| v.to_str().ok()));
                Err(classify_response(status, retry_after, &body, limit))
            }
        };
        attempt
            .retry(self.backoff())
            .when(|e: &CrmError| {
                e.is_transient() && e.retry_after().is_none_or(|after| after <= max_delay)
            })
            .adjust(|e: &CrmError, planned| e.retry_after().or(planned))
            .await
    }

    async fn token(
        &self,
        login_host: &str,
        form: Vec<(&'static str, String)>,
    ) -> Result<TokenResponse, CrmError> {
        let url = format!(
            "{}/services/oauth2/token",
            self.base("the login host", login_host)?
        );
        let http = self.http()?;
        let (body, _) = self.send(None, || http.post(&url).form(&form)).await?;
        let answer = serde_json::from_slice(&body).map_err(|_| CrmError::Transient {
            code: "BAD_TOKEN_RESPONSE".into(),
            message: "the token endpoint's answer could not be read".into(),
            retry_after: None,
            http_status: None,
        })?;
        self.checked(answer)
    }

    /// A token answer whose hosts Liaison may call, or why not.
    fn checked(&self, answer: TokenResponse) -> Result<TokenResponse, CrmError> {
        self.check_answer(&answer)?;
        Ok(answer)
    }

    /// Web-server flow: trades the authorization code (and the PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        login_host: &str,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
        code: &str,
        verifier: &str,
    ) -> Result<TokenResponse, CrmError> {
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| CrmError::Config(format!("the callback URL is not a URL: {e}")))?;
        let token_url = oauth::token_url(&self.base("the login host", login_host)?)?;
        let answer = oauth::connected_app(client_id, Some(client_secret))
            .set_token_uri(token_url)
            .set_redirect_uri(redirect)
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
            .request_async(&TokenEndpoint(self))
            .await
            .map_err(oauth::request_error)?;
        self.checked(answer.into())
    }

    pub async fn refresh(
        &self,
        login_host: &str,
        client_id: &str,
        client_secret: Option<&str>,
        refresh_token: &str,
    ) -> Result<TokenResponse, CrmError> {
        let token_url = oauth::token_url(&self.base("the login host", login_host)?)?;
        let refresh_token = RefreshToken::new(refresh_token.to_string());
        let answer = oauth::connected_app(client_id, client_secret)
            .set_token_uri(token_url)
            .exchange_refresh_token(&refresh_token)
            .request_async(&TokenEndpoint(self))
            .await
            .map_err(oauth::request_error)?;
        self.checked(answer.into())
    }

    /// JWT bearer flow: a signed assertion for an access token (no refresh token).
    pub async fn jwt_bearer(
        &self,
        login_host: &str,
        assertion: &str,
    ) -> Result<TokenResponse, CrmError> {
        self.token(
            login_host,
            vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                ),
                ("assertion", assertion.into()),
            ],
        )
        .await
    }

    /// Revokes a token at Salesforce (a refresh token takes its access tokens with it). A plain
    /// form `POST`, as `oauth2` refuses a revocation URL that is not `https` and the host rule
    /// (not the library) decides which hosts Liaison may call, loopback test doubles included.
    pub async fn revoke(&self, host: &str, token: &str) -> Result<(), CrmError> {
        let url = format!(
            "{}/services/oauth2/revoke",
            self.base("the revocation host", host)?
        );
        let form = [("token", token.to_string())];
        let http = self.http()?;
        self.send(None, || http.post(&url).form(&form))
            .await
            .map(|_| ())
    }

    /// Who the access token of a sign-in belongs to: OpenID Connect's UserInfo endpoint of the
    /// login host the user signed in at.
    pub async fn userinfo(
        &self,
        login_host: &str,
        access_token: &str,
    ) -> Result<oauth::UserInfo, CrmError> {
        let url = format!(
            "{}/services/oauth2/userinfo",
            self.base("the login host", login_host)?
        );
        let http = self.http()?;
        let (body, _) = self
            .send(None, || http.get(&url).bearer_auth(access_token))
            .await?;
        serde_json::from_slice(&body).map_err(|_| CrmError::Transient {
            code: "BAD_USERINFO".into(),
            message: "the UserInfo endpoint's answer could not be read".into(),
            retry_after: None,
            http_status: None,
        })
    }

    /// Reads a record's fields.
    pub async fn get_record(
        &self,
        session: &Session,
        sobject: &str,
        id: &str,
        fields: &[String],
    ) -> Result<Reply<Map<String, Value>>, CrmError> {
        let url = session.data_url(
            &self.base("the instance URL", &session.instance_url)?,
            &format!("sobjects/{sobject}/{id}"),
        );
        let fields = fields.join(",");
        let http = self.http()?;
        let (body, headers) = self
            .send(Some(&session.meter), || {
                http.get(&url)
                    .bearer_auth(&session.access_token)
                    .query(&[("fields", &fields)])
            })
            .await?;
        let value = serde_json::from_slice(&body).map_err(|_| CrmError::Transient {
            code: "BAD_RECORD".into(),
            message: "the record could not be read".into(),
            retry_after: None,
            http_status: None,
        })?;
        Ok(Reply {
            value,
            limit: limit_of(&headers),
        })
    }

    /// The org's limits (`GET …/limits`): the cheapest call that reports the org's usage, in
    /// `Sforce-Limit-Info` and as `DailyApiRequests` `Max` and `Remaining`.
    pub async fn limits(&self, session: &Session) -> Result<Reply<Option<LimitInfo>>, CrmError> {
        let url = session.data_url(
            &self.base("the instance URL", &session.instance_url)?,
            "limits",
        );
        let http = self.http()?;
        let (body, headers) = self
            .send(Some(&session.meter), || {
                http.get(&url).bearer_auth(&session.access_token)
            })
            .await?;
        let daily = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
            let daily = v.get("DailyApiRequests")?;
            let max = daily.get("Max")?.as_i64()?;
            let remaining = daily.get("Remaining")?.as_i64()?;
            Some(LimitInfo {
                used: max - remaining,
                max,
            })
        });
        Ok(Reply {
            value: daily,
            limit: limit_of(&headers).or(daily),
        })
    }

    /// Updates up to 200 records in one sObject Collections call with `allOrNone: false`;
    /// the results come back one per record, in request order.
    pub async fn update_records(
        &self,
        session: &Session,
        records: &[Value],
    ) -> Result<Reply<Vec<RecordResult>>, CrmError> {
        if records.len() > COLLECTION_LIMIT {
            return Err(CrmError::Config(format!(
                "at most {COLLECTION_LIMIT} records per call"
            )));
        }
        let url = session.data_url(
            &self.base("the instance URL", &session.instance_url)?,
            "composite/sobjects",
        );
        let body = json!({ "allOrNone": false, "records": records });
        let http = self.http()?;
        let (status, answer, headers) = self
            .exchange(Some(&session.meter), false, || {
                http.patch(&url)
                    .bearer_auth(&session.access_token)
                    .json(&body)
            })
            .await?;
        // An answer that cannot be read still came with its status, kept in each record's
        // history.
        let value: Vec<RecordResult> =
            serde_json::from_slice(&answer).map_err(|_| CrmError::Transient {
                code: "BAD_COLLECTION_RESULT".into(),
                message: "the collection results could not be read".into(),
                retry_after: None,
                http_status: Some(status),
            })?;
        if value.len() != records.len() {
            return Err(CrmError::Transient {
                code: "BAD_COLLECTION_RESULT".into(),
                message: format!("{} results for {} records", value.len(), records.len()),
                retry_after: None,
                http_status: Some(status),
            });
        }
        Ok(Reply {
            value,
            limit: limit_of(&headers),
        })
    }
}

/// The token and revocation endpoints as `oauth2` calls them: through this client, so the
/// host rule, timeouts and retries apply, and a refusal is classified as any answer is.
struct TokenEndpoint<'a>(&'a Salesforce);

impl<'c> AsyncHttpClient<'c> for TokenEndpoint<'_> {
    type Error = CrmError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, CrmError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let http = self.0.http()?;
            let (parts, body) = request.into_parts();
            let url = parts.uri.to_string();
            let (answer, headers) = self
                .0
                .send(None, || {
                    http.request(parts.method.clone(), &url)
                        .headers(parts.headers.clone())
                        .body(body.clone())
                })
                .await?;
            let mut response = HttpResponse::new(answer);
            *response.headers_mut() = headers;
            Ok(response)
        })
    }
}

fn transport_error(error: reqwest::Error) -> CrmError {
    // The resolver refused the host's addresses: nothing was sent, and retrying will not help.
    if let Some(HostRefused(reason)) = super::hosts::refusal_in(&error) {
        return CrmError::HostRefused(reason);
    }
    let code = if error.is_timeout() {
        "TIMEOUT"
    } else if error.is_connect() {
        "CONNECTION_FAILED"
    } else {
        "TRANSPORT"
    };
    // reqwest's message can hold the URL, never a token; keep only the kind.
    CrmError::Transient {
        code: code.into(),
        message: "no answer from Salesforce".into(),
        retry_after: None,
        http_status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_info_reads_api_usage_with_or_without_bursts() {
        assert_eq!(
            parse_limit_info("api-usage=10018/100000"),
            Some(LimitInfo {
                used: 10018,
                max: 100000
            })
        );
        assert_eq!(
            parse_limit_info("api-usage=25/15000; api-bursts=2/100"),
            Some(LimitInfo {
                used: 25,
                max: 15000
            })
        );
        assert_eq!(parse_limit_info("per-app-api-usage=1/2"), None);
    }
}
