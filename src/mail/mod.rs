//! E-mail: messages built from templates, sent over SMTP (lettre, pooled connections, plain,
//! STARTTLS or TLS). A refusal is told apart as transient (retry later) or permanent.

mod pool;
pub mod templates;

use std::time::Duration;

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;

use crate::config::MailConfig;

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
    pool: pool::SmtpPool,
    timeout: Duration,
    from: Mailbox,
    reply_to: Option<Mailbox>,
}

impl SmtpMailer {
    /// Builds the connection pool; connections open on first use.
    pub fn new(config: &MailConfig) -> Result<Self, String> {
        let (from, reply_to) = config.addresses()?;
        let credentials = match (&config.username, &config.password) {
            (Some(user), Some(password)) => Some(Credentials::new(
                user.clone(),
                password.expose().to_string(),
            )),
            _ => None,
        };
        let timeout = Duration::from_secs(config.timeout_seconds.max(1));
        let connector = pool::Connector::new(
            &config.smtp_host,
            config.smtp_port,
            config.security,
            credentials,
            timeout,
        )?;
        let pool = pool::SmtpPool::builder(connector)
            .max_size(usize::try_from(config.pool_size.max(1)).unwrap_or(1))
            .build()
            .map_err(|e| format!("mail pool: {e}"))?;
        Ok(Self {
            pool,
            timeout,
            from,
            reply_to,
        })
    }

    fn message(&self, email: &Email) -> Result<Message, MailError> {
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
        builder
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| MailError::Permanent(format!("the message could not be built: {e}")))
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = self.message(email)?;
        let envelope = message.envelope().clone();
        let body = message.formatted();
        let mut conn = self.pool.get().await.map_err(|e| match e {
            deadpool::managed::PoolError::Backend(e) => e,
            other => MailError::Transient(format!("no mail connection: {other}")),
        })?;
        match tokio::time::timeout(self.timeout, conn.send(&envelope, &body)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(pool::classify(e)),
            Err(_) => {
                // Cut off mid-conversation: the connection cannot carry another message.
                let _ = deadpool::managed::Object::take(conn);
                Err(MailError::Transient(
                    "the mail server did not answer in time".into(),
                ))
            }
        }
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
