//! Salesforce: org-link connections (OAuth), the REST client, and the link's sealed secrets.
//!
//! `Crm` is what the rest of the service calls: it turns a link into a live session, renews the
//! access token once when Salesforce says it expired (one renewal at a time per link, and a
//! renewal that raced another instance uses that instance's tokens), and marks a link
//! unauthorized when Salesforce refuses its credentials.

pub mod canvas;
pub mod client;
pub mod describe;
pub mod error;
pub mod hosts;
pub mod inbox;
pub mod oauth;
pub mod outbound;
pub mod record;
pub mod sign_in;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uuid::Uuid;

use crate::config::CrmConfig;
use crate::domain::audit::Event;
use crate::domain::org_link::{AuthKind, LinkSecrets, LinkState, OrgLink};
use crate::secrets::{Sealer, digest, random_token};
use crate::store::Store;
use client::{Meter, Metered, RetryPolicy, Salesforce, Session};
use error::CrmError;

/// Why a link an admin disconnected is not connected.
pub const DISCONNECTED: &str = "disconnected by an admin";

/// Salesforce approved a user of another org than the one linked.
fn wrong_org() -> CrmError {
    CrmError::Permanent {
        code: "WRONG_ORG".into(),
        message: "the approved Salesforce org is not the linked org".into(),
        fields: vec![],
        http_status: None,
    }
}

/// What went wrong in a CRM operation: Salesforce's answer, or our own store.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Crm(#[from] CrmError),
    #[error(transparent)]
    Store(#[from] crate::store::Error),
    #[error(
        "no encryption key is configured (crm.encryption_key), so Salesforce secrets cannot be stored"
    )]
    NoKey,
    /// An admin paused the link: nothing calls its org until it is resumed.
    #[error(
        "the org link is paused; a CRM administrator must resume it before Salesforce is called"
    )]
    Paused,
    /// The link is at its share of the org's API limit, or the org's limit is spent: no
    /// interactive call until it has room again.
    #[error("the org link is over its API limit ({0})")]
    Capped(String),
}

pub type LinkResult<T> = Result<T, LinkError>;

pub struct Crm {
    store: Store,
    sealer: Option<Sealer>,
    salesforce: Salesforce,
    config: CrmConfig,
    renewals: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    usage: Mutex<HashMap<Uuid, PendingUsage>>,
    /// Each link's access token as last read or obtained here, with its version: reading and
    /// unsealing it for every call cost a query per call. A token another instance replaced
    /// is found out by Salesforce's answer (`INVALID_SESSION`), and `renew` then takes theirs.
    sessions: Mutex<HashMap<Uuid, CachedSession>>,
}

#[derive(Debug, Clone)]
struct CachedSession {
    instance_url: String,
    access_token: String,
    version: i64,
}

/// API calls made for interactive requests (the invite form's record reads), counted here and
/// written to the store at most once per `USAGE_FLUSH` per link, so concurrent reads do not
/// queue on the link's counter row. The first call of a quiet link is written at once.
#[derive(Debug)]
struct PendingUsage {
    calls: i64,
    limit: Option<(i64, i64)>,
    since: std::time::Instant,
}

/// The org's usage and limit, as `Sforce-Limit-Info` reports them.
type Limit = (i64, i64);

const USAGE_FLUSH: Duration = Duration::from_secs(1);

fn context(link: Uuid, column: &str) -> String {
    format!("org_link:{link}:{column}")
}

impl Crm {
    pub fn new(store: Store, sealer: Option<Sealer>, config: CrmConfig) -> Self {
        Self::with_lookup(store, sealer, config, Arc::new(hosts::SystemLookup))
    }

    /// As `new`, resolving Salesforce's host names with `lookup` (tests feed a table).
    pub fn with_lookup(
        store: Store,
        sealer: Option<Sealer>,
        config: CrmConfig,
        lookup: Arc<dyn hosts::Lookup>,
    ) -> Self {
        // Configuration is validated on load; an entry that slipped through is left out,
        // which only ever refuses more.
        let policy = hosts::HostPolicy::new(&config.allowed_hosts, config.allow_http_login_hosts)
            .unwrap_or_else(|_| hosts::HostPolicy::salesforce_only(config.allow_http_login_hosts));
        let salesforce = Salesforce::new(
            Duration::from_secs(config.request_timeout_seconds),
            RetryPolicy {
                retries: config.retries,
                min_delay: Duration::from_millis(config.retry_min_delay_ms),
                max_delay: Duration::from_millis(config.retry_max_delay_ms),
            },
            Arc::new(policy),
            lookup,
        );
        Self {
            store,
            sealer,
            salesforce,
            config,
            renewals: Mutex::new(HashMap::new()),
            usage: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &CrmConfig {
        &self.config
    }

    pub fn salesforce(&self) -> &Salesforce {
        &self.salesforce
    }

    /// The rule for which hosts this service calls.
    pub fn hosts(&self) -> &hosts::HostPolicy {
        self.salesforce.hosts()
    }

    pub fn sealer(&self) -> LinkResult<&Sealer> {
        self.sealer.as_ref().ok_or(LinkError::NoKey)
    }

    pub fn seal(&self, link: Uuid, column: &str, secret: &str) -> LinkResult<String> {
        Ok(self.sealer()?.seal(secret, &context(link, column)))
    }

    /// Opens a secret sealed for `link` and `column` (see `seal`).
    pub fn open_sealed(&self, link: Uuid, column: &str, sealed: &str) -> LinkResult<String> {
        self.open(link, column, sealed)
    }

    fn open(&self, link: Uuid, column: &str, sealed: &str) -> LinkResult<String> {
        self.sealer()?
            .open(sealed, &context(link, column))
            .map_err(|e| LinkError::Crm(CrmError::Config(e.to_string())))
    }

    fn renewal_lock(&self, link: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.renewals.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(link).or_default().clone()
    }

    /// A session on the link's current access token, obtaining one if there is none.
    pub async fn session(&self, link: &OrgLink) -> LinkResult<(Session, i64)> {
        if let Some(cached) = self.cached_session(link.id) {
            return Ok((
                Session {
                    instance_url: cached.instance_url,
                    access_token: cached.access_token,
                    api_version: link.api_version.clone(),
                    meter: Meter::default(),
                },
                cached.version,
            ));
        }
        let secrets = self.store.link_secrets(link.id).await?;
        let found = match (&secrets.access_token, &link.instance_url) {
            (Some(sealed), Some(instance_url)) => (
                Session {
                    instance_url: instance_url.clone(),
                    access_token: self.open(link.id, "access_token", sealed)?,
                    api_version: link.api_version.clone(),
                    meter: Meter::default(),
                },
                secrets.token_version,
            ),
            _ => self.renew(link, secrets.token_version).await?,
        };
        self.remember_session(link.id, Some(&found));
        Ok(found)
    }

    fn cached_session(&self, link: Uuid) -> Option<CachedSession> {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.get(&link).cloned()
    }

    /// Keeps (or, with `None`, forgets) the link's session.
    fn remember_session(&self, link: Uuid, session: Option<&(Session, i64)>) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        match session {
            Some((session, version)) => {
                sessions.insert(
                    link,
                    CachedSession {
                        instance_url: session.instance_url.clone(),
                        access_token: session.access_token.clone(),
                        version: *version,
                    },
                );
            }
            None => {
                sessions.remove(&link);
            }
        }
    }

    /// Obtains a new access token, once per link at a time. If the tokens changed since
    /// `stale_version` (another task or instance renewed them), those are used instead.
    pub async fn renew(&self, link: &OrgLink, stale_version: i64) -> LinkResult<(Session, i64)> {
        let renewed = self.renew_tokens(link, stale_version).await;
        self.remember_session(link.id, renewed.as_ref().ok());
        renewed
    }

    async fn renew_tokens(&self, link: &OrgLink, stale_version: i64) -> LinkResult<(Session, i64)> {
        let lock = self.renewal_lock(link.id);
        let _guard = lock.lock().await;
        let secrets = self.store.link_secrets(link.id).await?;
        if secrets.token_version != stale_version && secrets.access_token.is_some() {
            let link = self.store.org_link(link.id, None).await?;
            return self.session_from(&link, &secrets);
        }
        // A caller that renewed while this one waited found the credentials refused: its
        // reason (say, `invalid_grant`) stands, and Salesforce is not asked again.
        let current = self.store.org_link(link.id, None).await?;
        if current.state == LinkState::Unauthorized {
            return Err(CrmError::Unauthorized {
                code: "unauthorized".into(),
                description: current.state_reason.unwrap_or_default(),
            }
            .into());
        }
        let answer = match link.auth_kind {
            AuthKind::JwtBearer => self.jwt_token(link, &secrets).await,
            AuthKind::WebServer => self.refresh_token(link, &secrets).await,
        };
        match answer {
            Ok(token) => {
                let access = self.seal(link.id, "access_token", &token.access_token)?;
                let refresh = token
                    .refresh_token
                    .as_deref()
                    .map(|r| self.seal(link.id, "refresh_token", r))
                    .transpose()?;
                if !self
                    .store
                    .store_tokens(
                        link.id,
                        secrets.token_version,
                        &token.instance_url,
                        &access,
                        refresh.as_deref(),
                        None,
                    )
                    .await?
                {
                    // Another instance stored tokens in between: use theirs.
                    let secrets = self.store.link_secrets(link.id).await?;
                    let link = self.store.org_link(link.id, None).await?;
                    return self.session_from(&link, &secrets);
                }
                let session = Session {
                    instance_url: token.instance_url,
                    access_token: token.access_token,
                    api_version: link.api_version.clone(),
                    meter: Meter::default(),
                };
                Ok((session, secrets.token_version + 1))
            }
            Err(CrmError::Unauthorized { code, description }) => {
                // With rotating refresh tokens, a refresh that lost a race to another instance is
                // refused; that instance's tokens are good.
                let now = self.store.link_secrets(link.id).await?;
                if now.token_version != secrets.token_version && now.access_token.is_some() {
                    let link = self.store.org_link(link.id, None).await?;
                    return self.session_from(&link, &now);
                }
                let reason = format!(
                    "Salesforce refused the credentials ({code}: {description}); reconnect the org"
                );
                // The served tenancies' administrators are e-mailed, once until it reconnects.
                self.store.mark_unauthorized(link.id, &reason).await?;
                tracing::warn!(org_link = %link.id, code = %code, "org link is unauthorized");
                Err(CrmError::Unauthorized { code, description }.into())
            }
            Err(CrmError::HostRefused(reason)) => {
                // Nothing of the answer is kept: a login host or a token answer that points
                // outside Salesforce needs an administrator, not another try.
                let state_reason = format!(
                    "Liaison calls only Salesforce's hosts: {reason}; nothing was stored. Check the \
                     org link's login host and reconnect the org"
                );
                self.store.mark_unauthorized(link.id, &state_reason).await?;
                tracing::warn!(org_link = %link.id, reason = %reason, "renewal refused: host outside Salesforce");
                Err(CrmError::HostRefused(reason).into())
            }
            Err(other) => Err(other.into()),
        }
    }

    fn session_from(&self, link: &OrgLink, secrets: &LinkSecrets) -> LinkResult<(Session, i64)> {
        let sealed = secrets
            .access_token
            .as_deref()
            .ok_or(CrmError::SessionExpired)?;
        Ok((
            Session {
                instance_url: link.instance_url.clone().unwrap_or_default(),
                access_token: self.open(link.id, "access_token", sealed)?,
                api_version: link.api_version.clone(),
                meter: Meter::default(),
            },
            secrets.token_version,
        ))
    }

    async fn jwt_token(
        &self,
        link: &OrgLink,
        secrets: &LinkSecrets,
    ) -> Result<oauth::TokenResponse, CrmError> {
        let key = secrets
            .private_key
            .as_deref()
            .ok_or_else(|| CrmError::Config("the link has no private key".into()))?;
        let key = self
            .open(link.id, "private_key", key)
            .map_err(|_| CrmError::Config("the link's private key cannot be read".into()))?;
        let username = link
            .integration_username
            .as_deref()
            .ok_or_else(|| CrmError::Config("the link has no integration username".into()))?;
        let assertion = oauth::jwt_assertion(
            &link.consumer_key,
            username,
            &link.login_host,
            &key,
            self.store.clock().now(),
        )?;
        self.salesforce
            .jwt_bearer(&link.login_host, &assertion)
            .await
    }

    async fn refresh_token(
        &self,
        link: &OrgLink,
        secrets: &LinkSecrets,
    ) -> Result<oauth::TokenResponse, CrmError> {
        let Some(sealed) = secrets.refresh_token.as_deref() else {
            return Err(CrmError::Unauthorized {
                code: "not_connected".into(),
                description: "the org has not been connected yet".into(),
            });
        };
        let refresh = self
            .open(link.id, "refresh_token", sealed)
            .map_err(|_| CrmError::Config("the link's refresh token cannot be read".into()))?;
        let secret = secrets
            .consumer_secret
            .as_deref()
            .map(|s| self.open(link.id, "consumer_secret", s))
            .transpose()
            .map_err(|_| CrmError::Config("the link's consumer secret cannot be read".into()))?;
        self.salesforce
            .refresh(
                &link.login_host,
                &link.consumer_key,
                secret.as_deref(),
                &refresh,
            )
            .await
    }

    /// Counts interactive API calls to `link` and the org's usage Salesforce reported with them.
    pub async fn note_api_calls(
        &self,
        link: Uuid,
        metered: Metered,
    ) -> Result<(), crate::store::Error> {
        let limit = metered.limit.map(|l| (l.used, l.max));
        let due = {
            let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
            let now = std::time::Instant::now();
            match usage.get_mut(&link) {
                Some(pending) => {
                    pending.calls += metered.calls;
                    pending.limit = limit.or(pending.limit);
                    if now.duration_since(pending.since) >= USAGE_FLUSH {
                        let taken = (pending.calls, pending.limit);
                        *pending = PendingUsage {
                            calls: 0,
                            limit: None,
                            since: now,
                        };
                        Some(taken)
                    } else {
                        None
                    }
                }
                None => {
                    usage.insert(
                        link,
                        PendingUsage {
                            calls: 0,
                            limit: None,
                            since: now,
                        },
                    );
                    Some((metered.calls, limit))
                }
            }
        };
        match due {
            Some((calls, limit)) => self.write_usage(link, calls, limit).await,
            None => Ok(()),
        }
    }

    /// Writes every count not yet written (the write-back worker does, before it checks
    /// budgets).
    pub async fn flush_api_usage(&self) -> Result<(), crate::store::Error> {
        let pending: Vec<(Uuid, i64, Option<Limit>)> = {
            let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
            usage
                .iter_mut()
                .filter(|(_, p)| p.calls > 0 || p.limit.is_some())
                .map(|(link, p)| {
                    let taken = (*link, p.calls, p.limit.take());
                    p.calls = 0;
                    taken
                })
                .collect()
        };
        for (link, calls, limit) in pending {
            self.write_usage(link, calls, limit).await?;
        }
        Ok(())
    }

    async fn write_usage(
        &self,
        link: Uuid,
        calls: i64,
        limit: Option<(i64, i64)>,
    ) -> Result<(), crate::store::Error> {
        if calls > 0 {
            self.store.count_api_call(link, calls).await?;
        }
        if let Some((used, max)) = limit {
            self.store.record_api_usage(link, used, max).await?;
        }
        Ok(())
    }

    /// The link's consumer secret in the clear, when it has one.
    pub async fn consumer_secret(&self, link: &OrgLink) -> LinkResult<Option<String>> {
        let secrets = self.store.link_secrets(link.id).await?;
        secrets
            .consumer_secret
            .as_deref()
            .map(|s| self.open(link.id, "consumer_secret", s))
            .transpose()
    }

    /// Runs an interactive `call` on a live session; when Salesforce says the session expired,
    /// renews the token once and retries once. A paused or capped link is not called at all.
    /// The calls are counted in memory (see `note_api_calls`).
    pub async fn with_session<T, F, Fut>(&self, link: &OrgLink, call: F) -> LinkResult<T>
    where
        F: Fn(Session) -> Fut,
        Fut: std::future::Future<Output = Result<T, CrmError>>,
    {
        if link.state == LinkState::BudgetCapped {
            return Err(LinkError::Capped(
                link.state_reason.clone().unwrap_or_default(),
            ));
        }
        let (result, metered) = self.metered(link, call).await?;
        self.note_api_calls(link.id, metered).await?;
        result
    }

    /// As `with_session`, for the workers, which decide themselves whether a capped link may
    /// be called (a limit probe; a cap lifted in this pass). The calls and the org's usage are
    /// written to the store at once, so the next budget check sees them.
    pub async fn with_worker_session<T, F, Fut>(&self, link: &OrgLink, call: F) -> LinkResult<T>
    where
        F: Fn(Session) -> Fut,
        Fut: std::future::Future<Output = Result<T, CrmError>>,
    {
        let (result, metered) = self.metered(link, call).await?;
        let limit = metered.limit.map(|l| (l.used, l.max));
        self.write_usage(link.id, metered.calls, limit).await?;
        result
    }

    /// Runs `call`, renewing the session once if it expired, and measures what it cost. A
    /// daily-limit refusal caps the link at once, whichever path met it.
    async fn metered<T, F, Fut>(
        &self,
        link: &OrgLink,
        call: F,
    ) -> LinkResult<(LinkResult<T>, Metered)>
    where
        F: Fn(Session) -> Fut,
        Fut: std::future::Future<Output = Result<T, CrmError>>,
    {
        match link.state {
            LinkState::Paused => return Err(LinkError::Paused),
            LinkState::Unauthorized => {
                return Err(CrmError::Unauthorized {
                    code: "unauthorized".into(),
                    description: link.state_reason.clone().unwrap_or_default(),
                }
                .into());
            }
            _ => {}
        }
        let meter = Meter::default();
        let (mut session, version) = self.session(link).await?;
        session.meter = meter.clone();
        let result = match call(session).await {
            Err(CrmError::SessionExpired) => match self.renew(link, version).await {
                Ok((mut session, _)) => {
                    session.meter = meter.clone();
                    call(session).await.map_err(LinkError::from)
                }
                Err(error) => Err(error),
            },
            other => other.map_err(LinkError::from),
        };
        let metered = meter.read();
        if let Err(LinkError::Crm(CrmError::LimitExceeded)) = &result {
            if let Some(limit) = metered.limit {
                self.store
                    .record_api_usage(link.id, limit.used, limit.max)
                    .await?;
            }
            self.store
                .org_limit_reached(
                    link.id,
                    "the org's daily API request limit is exceeded; calls wait for room",
                    None,
                )
                .await?;
        }
        Ok((result, metered))
    }

    /// JWT bearer links connect at once: a first token proves the key and user are right. The
    /// trail's entry, if any, is written with the tokens.
    pub async fn connect_jwt(&self, link: &OrgLink, audit: Option<&Event>) -> LinkResult<OrgLink> {
        self.remember_session(link.id, None);
        let secrets = self.store.link_secrets(link.id).await?;
        let token = self.jwt_token(link, &secrets).await?;
        self.check_org(link, &token)?;
        let access = self.seal(link.id, "access_token", &token.access_token)?;
        self.store
            .store_tokens(
                link.id,
                secrets.token_version,
                &token.instance_url,
                &access,
                None,
                audit,
            )
            .await?;
        Ok(self.store.org_link(link.id, None).await?)
    }

    /// Refuses tokens of another org than the one linked.
    pub(super) fn check_org(
        &self,
        link: &OrgLink,
        token: &oauth::TokenResponse,
    ) -> Result<(), CrmError> {
        match token.org_id() {
            Some(org) if org.get(..15) == link.org_id.get(..15) => Ok(()),
            Some(_) => Err(wrong_org()),
            None => Ok(()),
        }
    }

    /// The first step of the web-server flow: a single-use link for the admin's browser.
    pub async fn start_web_flow(&self, link: &OrgLink, started_by: &str) -> LinkResult<String> {
        self.sealer()?;
        self.check_login_host(link)?;
        let ticket = random_token();
        let expires = crate::clock::to_millis(self.store.clock().now())
            + i64::try_from(self.config.oauth_flow_minutes).unwrap_or(10) * 60_000;
        self.store
            .create_oauth_flow(link.id, started_by, &digest(&ticket), expires)
            .await?;
        Ok(format!(
            "{}/salesforce/oauth/start?ticket={ticket}",
            self.config.public_url.trim_end_matches('/')
        ))
    }

    /// The browser opened its ticket: bind the flow to it and send it to Salesforce. Returns
    /// the authorize URL and the binding to set as a cookie.
    pub async fn begin_web_flow(&self, ticket: &str) -> LinkResult<(String, String)> {
        let state = random_token();
        let binding = random_token();
        let (_, pkce) = oauth::pkce();
        let verifier = self.sealer()?.seal(pkce.secret(), "oauth_flow:verifier");
        let link_id = self
            .store
            .begin_oauth_flow(
                &digest(ticket),
                &digest(&state),
                &digest(&binding),
                &verifier,
            )
            .await?;
        let link = self.store.org_link(link_id, None).await?;
        self.check_login_host(&link)?;
        let url = oauth::authorize_url(
            &link.login_host,
            &link.consumer_key,
            &self.callback_url(),
            &state,
            &pkce,
            &[],
        )?;
        Ok((url, binding))
    }

    /// Refuses a link whose stored login host the host rule does not admit (one stored before
    /// the rule, or under other settings), before a browser is sent there.
    pub(super) fn check_login_host(&self, link: &OrgLink) -> Result<(), CrmError> {
        self.hosts()
            .base_url(&link.login_host)
            .map(|_| ())
            .map_err(|e| CrmError::HostRefused(format!("the org link's login host: {e}")))
    }

    pub fn callback_url(&self) -> String {
        format!(
            "{}/salesforce/oauth/callback",
            self.config.public_url.trim_end_matches('/')
        )
    }

    /// Salesforce sent the browser back with a code: check the state and the browser, trade
    /// the code, check the org, store the tokens, with the trail's entry `audit` makes of the
    /// link and who started the flow, in the same transaction.
    pub async fn finish_web_flow(
        &self,
        state: &str,
        binding: &str,
        code: &str,
        audit: &(dyn Fn(&OrgLink, &str) -> Event + Send + Sync),
    ) -> LinkResult<OrgLink> {
        let (link_id, started_by, verifier) = self
            .store
            .finish_oauth_flow(&digest(state), &digest(binding))
            .await?;
        let verifier = self
            .sealer()?
            .open(&verifier, "oauth_flow:verifier")
            .map_err(|e| LinkError::Crm(CrmError::Config(e.to_string())))?;
        let link = self.store.org_link(link_id, None).await?;
        let secrets = self.store.link_secrets(link_id).await?;
        let secret = secrets
            .consumer_secret
            .as_deref()
            .map(|s| self.open(link_id, "consumer_secret", s))
            .transpose()?
            .unwrap_or_default();
        let token = self
            .salesforce
            .exchange_code(
                &link.login_host,
                &link.consumer_key,
                &secret,
                &self.callback_url(),
                code,
                &verifier,
            )
            .await?;
        self.check_org(&link, &token)?;
        let access = self.seal(link_id, "access_token", &token.access_token)?;
        let refresh = token
            .refresh_token
            .as_deref()
            .map(|r| self.seal(link_id, "refresh_token", r))
            .transpose()?;
        self.store
            .store_tokens(
                link_id,
                secrets.token_version,
                &token.instance_url,
                &access,
                refresh.as_deref(),
                Some(&audit(&link, &started_by)),
            )
            .await?;
        self.remember_session(link_id, None);
        tracing::info!(org_link = %link_id, started_by = %started_by, "org link connected");
        Ok(self.store.org_link(link_id, None).await?)
    }

    /// Revokes the link's token at Salesforce and forgets it, with the trail's entry, if any, in
    /// the same transaction. A revocation Salesforce refuses (the token was already dead) still
    /// disconnects.
    pub async fn disconnect(&self, link: &OrgLink, audit: Option<&Event>) -> LinkResult<OrgLink> {
        self.remember_session(link.id, None);
        let secrets = self.store.link_secrets(link.id).await?;
        let token = match (&secrets.refresh_token, &secrets.access_token) {
            (Some(sealed), _) => Some(self.open(link.id, "refresh_token", sealed)?),
            (None, Some(sealed)) => Some(self.open(link.id, "access_token", sealed)?),
            (None, None) => None,
        };
        if let Some(token) = token {
            let host = link.instance_url.as_deref().unwrap_or(&link.login_host);
            if let Err(error) = self.salesforce.revoke(host, &token).await {
                tracing::warn!(org_link = %link.id, code = error.code(), "revocation refused; disconnecting anyway");
            }
        }
        self.store
            .clear_tokens(link.id, LinkState::NotConnected, Some(DISCONNECTED), audit)
            .await?;
        Ok(self.store.org_link(link.id, None).await?)
    }
}
