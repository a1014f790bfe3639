//! Configuration: built-in defaults < `config/default.toml` < `config/local.toml` < the file
//! named by `LIAISON_CONFIG_FILE` < environment. The common settings have short variables
//! (`LIAISON_LISTEN`, `LIAISON_DATABASE_URL`, `LIAISON_LOG_FORMAT`); every key can be set with
//! `LIAISON__` and `__` between nested keys (`LIAISON__DATABASE__MAX_CONNECTIONS=20`).

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::invitation::Schedule;
use crate::domain::org_link::COLLECTION_LIMIT;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: String,
    /// `sqlite://path` (created on first run) or `postgres://…`.
    pub database_url: Secret,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Run the background workers in this instance (off for API-only instances).
    pub workers: bool,
    pub database: DatabaseConfig,
    pub api: ApiConfig,
    pub crm: CrmConfig,
    pub writeback: WritebackConfig,
    pub mail: MailConfig,
    pub invitations: InvitationConfig,
    pub inbox: InboxConfig,
    pub console: ConsoleConfig,
    pub ops: OpsConfig,
    /// Test-double switch (crash tests only): the process's clock starts at this RFC 3339
    /// instant and runs at real speed from there. Never set in production.
    pub test_clock_start: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub max_connections: u32,
    /// Seconds to wait for a free connection before a request fails.
    pub acquire_timeout_seconds: u64,
}

/// The HTTP API's own settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// Addresses (`203.0.113.7`) or networks (`10.0.0.0/8`) of the reverse proxies in front of
    /// Liaison. Only a request from one of them has its `Forwarded` / `X-Forwarded-For` header
    /// believed; every rate limit keys on the client address found that way.
    pub trusted_proxies: Vec<String>,
    /// Days a new API token lives unless its creator says otherwise; 0 means new tokens do not
    /// expire unless asked to.
    pub token_expiry_days: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            token_expiry_days: 90,
        }
    }
}

impl ApiConfig {
    /// The trusted proxies, parsed; the error names the entry at fault.
    pub fn proxies(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|raw| {
                let raw = raw.trim();
                raw.parse::<ipnet::IpNet>()
                    .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!("`{raw}` is not an IP address or a network such as 10.0.0.0/8")
                    })
            })
            .collect()
    }

    /// How long a new token lives by default.
    pub fn token_expiry(&self) -> Option<time::Duration> {
        (self.token_expiry_days > 0)
            .then(|| time::Duration::days(i64::from(self.token_expiry_days)))
    }
}

/// Salesforce connections.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmConfig {
    /// Base64 of 32 random bytes (`openssl rand -base64 32`): seals OAuth tokens, consumer
    /// secrets and private keys at rest. Required once an org link exists.
    pub encryption_key: Option<Secret>,
    /// The address Salesforce and admins' browsers reach this service at; OAuth callbacks
    /// come back to `{public_url}/salesforce/oauth/callback`.
    pub public_url: String,
    /// The REST API version new links use.
    pub api_version: String,
    pub request_timeout_seconds: u64,
    /// Retries of a transient failure within one call, and their delays.
    pub retries: usize,
    pub retry_min_delay_ms: u64,
    pub retry_max_delay_ms: u64,
    /// How long an admin has to approve a connection in Salesforce.
    pub oauth_flow_minutes: u64,
    /// Extra hosts Liaison may call besides Salesforce's own (`login.salesforce.com`,
    /// `test.salesforce.com`, and subdomains of salesforce.com, force.com, salesforce-gov.com
    /// and salesforce.mil): each an exact `host` (port 443) or `host:port`, e.g. an egress
    /// proxy or a private endpoint. An allow-listed host skips the Salesforce-domain rule and
    /// the check that refuses names resolving to loopback, private, link-local or metadata
    /// addresses; it is still called over https only.
    pub allowed_hosts: Vec<String>,
    /// Test-double switch, for tests and local development only, never in production: admits
    /// `http://` URLs and loopback hosts (`localhost`, 127.0.0.0/8, `::1`) on any port, so
    /// tests can point links at a local mock of Salesforce. Salesforce itself is always https.
    pub allow_http_login_hosts: bool,
}

impl Default for CrmConfig {
    fn default() -> Self {
        Self {
            encryption_key: None,
            public_url: "http://127.0.0.1:8080".into(),
            api_version: "62.0".into(),
            request_timeout_seconds: 30,
            retries: 2,
            retry_min_delay_ms: 200,
            retry_max_delay_ms: 5000,
            oauth_flow_minutes: 10,
            allowed_hosts: Vec::new(),
            allow_http_login_hosts: false,
        }
    }
}

/// How a worker retries what failed for a passing reason: it waits `min` before the first
/// retry, twice as long before each next one, never more than `max`, and keeps the failure
/// after `attempts` tries in all. With `jitter`, each wait is drawn at random between itself
/// and twice itself, so work that failed together does not come back together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub min: Duration,
    pub max: Duration,
    pub attempts: i64,
    pub jitter: bool,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based).
    pub fn delay(&self, retry: i64) -> Duration {
        let exponential = ExponentialBuilder::default()
            .with_min_delay(self.min)
            .with_max_delay(self.max)
            .with_factor(2.0)
            .without_max_times();
        let exponential = if self.jitter {
            exponential.with_jitter()
        } else {
            exponential
        };
        exponential
            .build()
            .nth(usize::try_from(retry).unwrap_or(0))
            .unwrap_or(self.max)
    }

    /// The wait before retry number `retry` in milliseconds, to add to a due time.
    pub fn delay_ms(&self, retry: i64) -> i64 {
        i64::try_from(self.delay(retry).as_millis()).unwrap_or(i64::MAX / 4)
    }

    /// Whether a failure after `tried` tries (counting the one that just failed) is kept
    /// rather than retried.
    pub fn gives_up_after(&self, tried: i64) -> bool {
        tried >= self.attempts
    }
}

/// The status write-back worker (`jobs::writeback`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WritebackConfig {
    /// Records per Collections call (at most 200).
    pub batch_size: usize,
    /// Calls per org link in one pass, so one busy org does not hold up the others.
    pub batches_per_link: usize,
    /// Collections calls of one link in flight at once. A call that fails stops the link
    /// starting more until it may be called again; the calls already out finish.
    pub concurrent_calls: usize,
    /// Tries of a transiently failing record before it is kept as failed.
    pub max_attempts: i64,
    /// The first wait after a failed call (the link's, unless `Retry-After` says longer) or
    /// a record's transient failure; each further failure doubles it, up to the maximum.
    pub min_backoff_seconds: u64,
    pub max_backoff_seconds: u64,
    /// While the org's daily limit is spent, how often one cheap call (`GET …/limits`) checks
    /// for room; no write-back is sent until one shows it.
    pub limit_probe_interval_seconds: u64,
    /// How often an idle worker looks for due work.
    pub poll_interval_ms: u64,
    /// A batch smaller than `batch_size` waits for more records until its oldest row has been
    /// due this long (since its change, or the retry it was given): fewer, fuller calls
    /// against the org's API limit, for a little latency.
    pub linger_ms: u64,
    /// Days a written write-back is remembered (its record, the status sent, when and after
    /// how many attempts), with its attempts, so ops can tell whether a status reached a
    /// record and when; the worker prunes older ones.
    #[serde(default = "WritebackConfig::default_history_days")]
    pub history_days: u32,
}

impl WritebackConfig {
    fn default_history_days() -> u32 {
        7
    }

    /// Milliseconds a written write-back's history is kept.
    pub fn history_ms(&self) -> i64 {
        i64::from(self.history_days) * 86_400_000
    }

    /// A link's retries after its whole call failed (with jitter, so links and instances that
    /// failed together do not come back together); each row's tries still count against
    /// `max_attempts`.
    pub fn call_retry(&self) -> RetryPolicy {
        RetryPolicy {
            min: Duration::from_secs(self.min_backoff_seconds),
            max: Duration::from_secs(self.max_backoff_seconds),
            attempts: self.max_attempts,
            jitter: true,
        }
    }

    /// A record's retries after a transient failure of its own: without jitter, so records
    /// that failed together come due together and go out in one batch.
    pub fn record_retry(&self) -> RetryPolicy {
        RetryPolicy {
            jitter: false,
            ..self.call_retry()
        }
    }
}

impl Default for WritebackConfig {
    fn default() -> Self {
        Self {
            batch_size: COLLECTION_LIMIT,
            batches_per_link: 10,
            concurrent_calls: 4,
            max_attempts: 10,
            min_backoff_seconds: 1,
            max_backoff_seconds: 3600,
            limit_probe_interval_seconds: 300,
            poll_interval_ms: 1000,
            linger_ms: 500,
            history_days: Self::default_history_days(),
        }
    }
}

/// The invitation re-send worker (`jobs::invitations`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationConfig {
    pub schedule: Schedule,
    /// Cycles claimed at a time.
    pub batch_size: i64,
    /// E-mails in flight at once.
    pub concurrency: usize,
    /// E-mails sent whose result is not yet recorded, at most: the most a crash can repeat
    /// (each once). At least `concurrency`; results are committed in groups up to this size.
    pub max_unrecorded: usize,
    /// Tries of an e-mail the mail server cannot take now, before the failure is kept for ops
    /// and the cycle waits for its next day.
    pub max_delivery_attempts: i64,
    pub retry_min_seconds: u64,
    pub retry_max_seconds: u64,
    pub poll_interval_ms: u64,
}

impl InvitationConfig {
    /// Retries of an e-mail (an invitation or a staff notification) the server cannot take now.
    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            min: Duration::from_secs(self.retry_min_seconds),
            max: Duration::from_secs(self.retry_max_seconds),
            attempts: self.max_delivery_attempts,
            jitter: true,
        }
    }
}

impl Default for InvitationConfig {
    fn default() -> Self {
        Self {
            schedule: Schedule::default(),
            batch_size: 500,
            concurrency: 16,
            max_unrecorded: 64,
            max_delivery_attempts: 5,
            retry_min_seconds: 60,
            retry_max_seconds: 3600,
            poll_interval_ms: 1000,
        }
    }
}

/// The CRM inbox worker (`jobs::inbox`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxConfig {
    /// Changes claimed per batch.
    pub batch_size: i64,
    /// Batches per pass, so the other workers get their turn.
    pub batches_per_pass: usize,
    /// Tries of a change that fails for a passing reason before it is kept as failed.
    pub max_attempts: i64,
    /// The first wait after such a failure; each further failure doubles it, up to the maximum.
    pub min_backoff_seconds: u64,
    pub max_backoff_seconds: u64,
}

impl InboxConfig {
    /// Retries of a change the database failed to apply, with jitter.
    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            min: Duration::from_secs(self.min_backoff_seconds),
            max: Duration::from_secs(self.max_backoff_seconds),
            attempts: self.max_attempts,
            jitter: true,
        }
    }
}

impl Default for InboxConfig {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            batches_per_pass: 10,
            max_attempts: 8,
            min_backoff_seconds: 10,
            max_backoff_seconds: 3600,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// No encryption (a relay on the same host or network only).
    None,
    /// Upgrade with STARTTLS, required.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// SMTP delivery of the invitation e-mails (`mail`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// The sender, e.g. `Acme Wealth <invitations@acme.example>`.
    pub from: String,
    /// Where replies go, when not to the sender.
    pub reply_to: Option<String>,
    /// The address clients open links at, e.g. `https://liaison.example.com`.
    pub link_base_url: String,
    pub timeout_seconds: u64,
    /// SMTP connections kept open and reused.
    pub pool_size: u32,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: "Liaison <invitations@localhost.localdomain>".into(),
            reply_to: None,
            link_base_url: "http://127.0.0.1:8080".into(),
            timeout_seconds: 30,
            pool_size: 8,
        }
    }
}

impl MailConfig {
    /// The sender and reply-to addresses, checked.
    pub fn addresses(&self) -> Result<(Mailbox, Option<Mailbox>), String> {
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|_| "mail.from is not an e-mail address".to_string())?;
        let reply_to = self
            .reply_to
            .as_deref()
            .map(|r| {
                r.parse::<Mailbox>()
                    .map_err(|_| "mail.reply_to is not an e-mail address".to_string())
            })
            .transpose()?;
        if self.smtp_host.trim().is_empty() {
            return Err("mail.smtp_host must not be blank".into());
        }
        Ok((from, reply_to))
    }
}

/// The admin console's sessions and sign-in links.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// A session ends after this many minutes without a request.
    pub idle_minutes: u32,
    /// A session ends this many hours after sign-in, however busy.
    pub absolute_hours: u32,
    /// A sign-in link works for this many minutes, once.
    pub link_minutes: u32,
    /// Sign-in e-mails one address may be sent per hour; further asks answer the same page
    /// and send nothing.
    pub emails_per_address_per_hour: u32,
    /// Sign-in requests one client address may make per minute.
    pub requests_per_client_per_minute: u32,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            idle_minutes: 30,
            absolute_hours: 12,
            link_minutes: 15,
            emails_per_address_per_hour: 5,
            requests_per_client_per_minute: 20,
        }
    }
}

impl ConsoleConfig {
    /// How long a session lasts: idle, and at most.
    pub fn session_times(&self) -> crate::domain::console::SessionTimes {
        crate::domain::console::SessionTimes {
            idle: time::Duration::minutes(i64::from(self.idle_minutes)),
            absolute: time::Duration::hours(i64::from(self.absolute_hours)),
        }
    }

    pub fn link_lifetime(&self) -> time::Duration {
        time::Duration::minutes(i64::from(self.link_minutes))
    }

    fn validate(&self) -> Result<(), String> {
        let counts = [
            self.idle_minutes,
            self.absolute_hours,
            self.link_minutes,
            self.emails_per_address_per_hour,
            self.requests_per_client_per_minute,
        ];
        if counts.contains(&0) {
            return Err("every value must be at least 1".into());
        }
        if u64::from(self.idle_minutes) > u64::from(self.absolute_hours) * 60 {
            return Err("idle_minutes must not be longer than absolute_hours".into());
        }
        Ok(())
    }
}

/// Sync health (the console's overview and `GET /api/v1/ops/health`): when a number turns
/// amber (warning) and red (critical). Each pair is reached at or above its value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    /// Minutes the oldest waiting item of a queue may wait.
    pub oldest_warning_minutes: u32,
    pub oldest_critical_minutes: u32,
    /// Items waiting in one queue.
    pub depth_warning: u32,
    pub depth_critical: u32,
    /// Items of one queue that failed in the last hour.
    pub failures_warning_per_hour: u32,
    pub failures_critical_per_hour: u32,
    /// Percent used of the org's daily API limit, and of a link's own share of it.
    pub api_usage_warning_percent: u32,
    pub api_usage_critical_percent: u32,
    /// A worker is late after this many of its intervals without a pass (the interval is the
    /// loop's idle wait, `poll_interval_ms`), and silent after the critical number.
    pub worker_silent_warning_intervals: u32,
    pub worker_silent_critical_intervals: u32,
}

impl Default for OpsConfig {
    fn default() -> Self {
        Self {
            oldest_warning_minutes: 5,
            oldest_critical_minutes: 15,
            depth_warning: 1_000,
            depth_critical: 10_000,
            failures_warning_per_hour: 1,
            failures_critical_per_hour: 10,
            api_usage_warning_percent: 80,
            api_usage_critical_percent: 95,
            worker_silent_warning_intervals: 30,
            worker_silent_critical_intervals: 120,
        }
    }
}

impl OpsConfig {
    /// The thresholds the health rules compare with.
    pub fn thresholds(&self) -> crate::domain::ops::Thresholds {
        crate::domain::ops::Thresholds {
            oldest_warning_seconds: i64::from(self.oldest_warning_minutes) * 60,
            oldest_critical_seconds: i64::from(self.oldest_critical_minutes) * 60,
            depth_warning: i64::from(self.depth_warning),
            depth_critical: i64::from(self.depth_critical),
            failures_warning: i64::from(self.failures_warning_per_hour),
            failures_critical: i64::from(self.failures_critical_per_hour),
            usage_warning_percent: i64::from(self.api_usage_warning_percent),
            usage_critical_percent: i64::from(self.api_usage_critical_percent),
            silent_warning_intervals: i64::from(self.worker_silent_warning_intervals),
            silent_critical_intervals: i64::from(self.worker_silent_critical_intervals),
        }
    }

    /// Each warning must come before its critical value, and nothing is zero.
    fn validate(&self) -> Result<(), String> {
        let pairs = [
            (
                "oldest",
                self.oldest_warning_minutes,
                self.oldest_critical_minutes,
            ),
            ("depth", self.depth_warning, self.depth_critical),
            (
                "failures",
                self.failures_warning_per_hour,
                self.failures_critical_per_hour,
            ),
            (
                "api_usage",
                self.api_usage_warning_percent,
                self.api_usage_critical_percent,
            ),
            (
                "worker_silent",
                self.worker_silent_warning_intervals,
                self.worker_silent_critical_intervals,
            ),
        ];
        for (name, warning, critical) in pairs {
            if warning == 0 || warning > critical {
                return Err(format!(
                    "{name}: the warning value must be at least 1 and at most the critical one"
                ));
            }
        }
        Ok(())
    }
}

/// One entry of `crm.allowed_hosts`: a host and the port it may be called on (443 unless the
/// entry names one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    pub host: String,
    pub port: u16,
}

impl AllowedHost {
    /// `host` or `host:port`; a name or an IP address (IPv6 in brackets).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let entry = raw.trim();
        let valid_chars = !entry.is_empty()
            && entry
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        if !valid_chars {
            return Err(format!(
                "`{raw}` is not a host or host:port (no scheme, path or user name)"
            ));
        }
        let url = Url::parse(&format!("https://{entry}/"))
            .map_err(|_| format!("`{raw}` is not a host or host:port"))?;
        let host = url.host_str().unwrap_or_default().to_string();
        if host.is_empty() || host.ends_with('.') {
            return Err(format!("`{raw}` is not a host or host:port"));
        }
        Ok(Self {
            host,
            port: url.port().unwrap_or(443),
        })
    }

    /// Every entry of the list, or why the first that does not parse was refused.
    pub fn parse_all(entries: &[String]) -> Result<Vec<Self>, String> {
        entries.iter().map(|raw| Self::parse(raw)).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: Secret("sqlite://data/liaison.db".into()),
            log_format: LogFormat::Text,
            body_limit_bytes: 64 * 1024,
            workers: true,
            database: DatabaseConfig {
                max_connections: 10,
                acquire_timeout_seconds: 5,
            },
            api: ApiConfig::default(),
            crm: CrmConfig::default(),
            writeback: Default::default(),
            mail: Default::default(),
            invitations: Default::default(),
            inbox: Default::default(),
            console: Default::default(),
            ops: Default::default(),
            test_clock_start: None,
        }
    }
}

/// A configuration problem, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration key `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl Config {
    /// Loads from the standard places in the working directory.
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(
            Path::new("config"),
            std::env::var("LIAISON_CONFIG_FILE").ok().as_deref(),
        )
    }

    pub fn load_from(dir: &Path, extra_file: Option<&str>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(dir.join("default.toml")))
            .merge(Toml::file(dir.join("local.toml")));
        if let Some(file) = extra_file {
            figment = figment.merge(Toml::file(file));
        }
        let config: Config = figment
            .merge(
                Env::prefixed("LIAISON_")
                    .only(&["listen", "database_url", "log_format"])
                    .lowercase(true),
            )
            .merge(Env::prefixed("LIAISON__").split("__").lowercase(true))
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        let url = self.database_url.expose();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid {
                key: "database_url",
                reason: "must start with sqlite:, postgres:// or postgresql://".into(),
            });
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid {
                key: "database.max_connections",
                reason: "must be at least 1".into(),
            });
        }
        if let Err(reason) = self.api.proxies() {
            return Err(ConfigError::Invalid {
                key: "api.trusted_proxies",
                reason,
            });
        }
        if self.api.token_expiry_days > crate::domain::token::MAX_EXPIRY_DAYS {
            return Err(ConfigError::Invalid {
                key: "api.token_expiry_days",
                reason: format!("must be at most {}", crate::domain::token::MAX_EXPIRY_DAYS),
            });
        }
        if let Some(key) = &self.crm.encryption_key
            && crate::secrets::Sealer::from_base64_key(key.expose()).is_err()
        {
            return Err(ConfigError::Invalid {
                key: "crm.encryption_key",
                reason: "must be 32 random bytes in base64 (openssl rand -base64 32)".into(),
            });
        }
        if !(self.crm.public_url.starts_with("https://")
            || self.crm.public_url.starts_with("http://"))
        {
            return Err(ConfigError::Invalid {
                key: "crm.public_url",
                reason: "must be an http:// or https:// URL".into(),
            });
        }
        if let Err(reason) = AllowedHost::parse_all(&self.crm.allowed_hosts) {
            return Err(ConfigError::Invalid {
                key: "crm.allowed_hosts",
                reason,
            });
        }
        if !(1..=200).contains(&self.writeback.batch_size) {
            return Err(ConfigError::Invalid {
                key: "writeback.batch_size",
                reason: "must be between 1 and 200 (Salesforce's limit per call)".into(),
            });
        }
        if self.inbox.batch_size < 1 {
            return Err(ConfigError::Invalid {
                key: "inbox.batch_size",
                reason: "must be at least 1".into(),
            });
        }
        if let Err(reason) = self.invitations.schedule.validate() {
            return Err(ConfigError::Invalid {
                key: "invitations.schedule",
                reason,
            });
        }
        if let Err(reason) = self.mail.addresses() {
            return Err(ConfigError::Invalid {
                key: "mail",
                reason,
            });
        }
        if let Err(reason) = self.console.validate() {
            return Err(ConfigError::Invalid {
                key: "console",
                reason,
            });
        }
        if let Err(reason) = self.ops.validate() {
            return Err(ConfigError::Invalid { key: "ops", reason });
        }
        if self.body_limit_bytes < 1024 {
            return Err(ConfigError::Invalid {
                key: "body_limit_bytes",
                reason: "must be at least 1024".into(),
            });
        }
        self.test_clock_start()?;
        Ok(())
    }

    /// The instant the test-double clock starts at, when `test_clock_start` is set.
    pub fn test_clock_start(&self) -> Result<Option<time::OffsetDateTime>, ConfigError> {
        self.test_clock_start
            .as_deref()
            .map(|at| {
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                    .map_err(|_| ConfigError::Invalid {
                        key: "test_clock_start",
                        reason: format!("`{at}` is not an RFC 3339 instant"),
                    })
            })
            .transpose()
    }

    /// The clock the process runs on: the wall clock, or the test double when it is set.
    pub fn clock(&self) -> Result<std::sync::Arc<dyn crate::clock::Clock>, ConfigError> {
        Ok(match self.test_clock_start()? {
            Some(start) => std::sync::Arc::new(crate::clock::StartedClock::starting_at(start)),
            None => std::sync::Arc::new(crate::clock::SystemClock),
        })
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| ConfigError::Invalid {
            key: "listen",
            reason: format!("`{}` is not an address such as 127.0.0.1:8080", self.listen),
        })
    }
}

/// A value that must never reach a log line or an error body: Debug and Display mask it.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A database URL with any password replaced, fit for a log line.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_masked_in_debug_output() {
        let config = Config {
            database_url: Secret::new("postgres://u:hunter2@db/liaison"),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn database_password_is_redacted_for_logs() {
        assert_eq!(
            redact_url("postgres://u:hunter2@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(
            redact_url("sqlite://data/liaison.db"),
            "sqlite://data/liaison.db"
        );
    }

    #[test]
    fn bad_listen_address_names_the_key() {
        let config = Config {
            listen: "nowhere".into(),
            ..Config::default()
        };
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("`listen`"), "{err}");
    }

    #[test]
    fn an_allowed_host_that_is_not_a_host_names_the_key_and_the_entry() {
        let mut config = Config::default();
        config.crm.allowed_hosts = vec!["https://proxy.example/path".into()];
        let err = config.validate().unwrap_err().to_string();
        assert!(
            err.contains("crm.allowed_hosts") && err.contains("https://proxy.example/path"),
            "{err}"
        );
        config.crm.allowed_hosts = vec!["proxy.example:8443".into()];
        assert!(config.validate().is_ok());
    }

    #[test]
    fn unknown_database_scheme_names_the_key() {
        let config = Config {
            database_url: Secret::new("mysql://x"),
            ..Config::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("database_url")
        );
    }

    // figment's Jail returns its own (large) error type; that is its API, not ours.
    #[test]
    #[allow(clippy::result_large_err)]
    fn environment_overrides_config_file_which_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file(
                "config/default.toml",
                "listen = \"127.0.0.1:9000\"\nbody_limit_bytes = 2048",
            )?;
            let from_file = Config::load_from(Path::new("config"), None).expect("loads");
            assert_eq!(from_file.listen, "127.0.0.1:9000");
            assert_eq!(from_file.body_limit_bytes, 2048);

            jail.set_env("LIAISON_LISTEN", "127.0.0.1:9100");
            jail.set_env("LIAISON__DATABASE__MAX_CONNECTIONS", "3");
            let from_env = Config::load_from(Path::new("config"), None).expect("loads");
            assert_eq!(from_env.listen, "127.0.0.1:9100");
            assert_eq!(from_env.database.max_connections, 3);
            Ok(())
        });
    }

    #[test]
    fn a_retry_policy_without_jitter_doubles_up_to_its_maximum_and_counts_tries() {
        let policy = RetryPolicy {
            min: Duration::from_secs(10),
            max: Duration::from_secs(100),
            attempts: 3,
            jitter: false,
        };
        let waits: Vec<u64> = (0..5).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 100]);
        assert_eq!(policy.delay_ms(1), 20_000);
        assert!(!policy.gives_up_after(2));
        assert!(policy.gives_up_after(3));
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn the_inbox_retries_are_read_from_its_section_with_todays_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            let defaults = Config::load_from(Path::new("config"), None).expect("loads");
            assert_eq!(defaults.inbox.retry().attempts, 8);
            assert_eq!(defaults.inbox.retry().min, Duration::from_secs(10));
            jail.create_file(
                "config/default.toml",
                "[inbox]\nmax_attempts = 3\nmin_backoff_seconds = 1",
            )?;
            let set = Config::load_from(Path::new("config"), None).expect("loads");
            assert_eq!(set.inbox.retry().attempts, 3);
            assert_eq!(set.inbox.retry().min, Duration::from_secs(1));
            assert_eq!(set.inbox.retry().max, Duration::from_secs(3600));
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn bad_environment_value_names_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LIAISON__DATABASE__MAX_CONNECTIONS", "many");
            let err = Config::load_from(Path::new("config"), None)
                .unwrap_err()
                .to_string();
            assert!(
                err.to_lowercase().contains("database.max_connections"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn unknown_key_in_a_config_file_is_refused_by_name() {
        figment::Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file("config/default.toml", "listne = \"127.0.0.1:9000\"")?;
            let err = Config::load_from(Path::new("config"), None)
                .unwrap_err()
                .to_string();
            assert!(err.contains("listne"), "{err}");
            Ok(())
        });
    }
}
