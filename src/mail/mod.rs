//! E-mail: messages built from templates, sent over SMTP (lettre, pooled connections, plain,
//! STARTTLS or TLS). A refusal is told apart as transient (retry later) or permanent.

pub mod templates;

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::config::Secret;

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

/// One message to send.
#[derive(Debug, Clone)]
pub struct Email {
    pub to_name: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The tenancy's sender name, shown in front of the configured address.
    pub sender_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Try again later: the server is busy or unreachable (4xx, connection failures).
    #[error("the mail server could not take the message now: {0}")]
    Transient(String),
    /// Retrying will not help (5xx: no such mailbox, refused).
    #[error("the mail server refused the message: {0}")]
    Permanent(String),
}

impl MailError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }
}

#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
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

impl SmtpMailer {
    /// Builds the pooled transport; call within the Tokio runtime.
    pub fn new(config: &MailConfig) -> Result<Self, String> {
        let (from, reply_to) = config.addresses()?;
        let tls =
            |host: &str| TlsParameters::new(host.into()).map_err(|e| format!("mail TLS: {e}"));
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.smtp_host)
                .port(config.smtp_port)
                .timeout(Some(Duration::from_secs(config.timeout_seconds)))
                .pool_config(
                    lettre::transport::smtp::PoolConfig::new().max_size(config.pool_size.max(1)),
                );
        builder = match config.security {
            SmtpSecurity::None => builder.tls(Tls::None),
            SmtpSecurity::Starttls => builder.tls(Tls::Required(tls(&config.smtp_host)?)),
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(tls(&config.smtp_host)?)),
        };
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            reply_to,
        })
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let to: Mailbox = format!("{} <{}>", quote(&email.to_name), email.to)
            .parse()
            .or_else(|_| email.to.parse())
            .map_err(|_| MailError::Permanent(format!("`{}` is not an address", email.to)))?;
        let from = match &email.sender_name {
            Some(name) => Mailbox::new(Some(name.clone()), self.from.email.clone()),
            None => self.from.clone(),
        };
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(email.subject.clone());
        if let Some(reply_to) = &self.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| MailError::Permanent(format!("the message could not be built: {e}")))?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| {
            if e.is_permanent() {
                MailError::Permanent(e.to_string())
            } else {
                MailError::Transient(e.to_string())
            }
        })
    }
}

/// A display name safe inside an address header.
fn quote(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .collect();
    format!("\"{clean}\"")
}
