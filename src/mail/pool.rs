//! Pooled SMTP connections with `TCP_NODELAY` set.
//!
//! lettre's own pool connects with Nagle's algorithm on, and lettre writes a message's body and
//! its closing `.` in two writes: Nagle holds the second until the server acknowledges the
//! first, and the server delays that acknowledgement (40 ms on Linux), so every message waited
//! 40 ms for nothing. The connections here are opened by us, with `TCP_NODELAY`, and handed to
//! lettre's SMTP client; deadpool keeps and recycles them.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::MailError;
use crate::config::SmtpSecurity;

/// How a connection is opened and secured.
pub(super) struct Connector {
    pub host: String,
    pub port: u16,
    pub credentials: Option<Credentials>,
    pub timeout: Duration,
    /// For STARTTLS.
    pub starttls: Option<TlsParameters>,
    /// For TLS from the first byte.
    pub wrapper: Option<tokio_rustls::TlsConnector>,
    pub hello: ClientId,
}

/// A connection unused this long is checked with `NOOP` before it carries a message.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(30);

impl Connector {
    pub fn new(
        host: &str,
        port: u16,
        security: SmtpSecurity,
        credentials: Option<Credentials>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let starttls = match security {
            SmtpSecurity::Starttls => {
                Some(TlsParameters::new(host.to_string()).map_err(|e| format!("mail TLS: {e}"))?)
            }
            _ => None,
        };
        let wrapper = match security {
            SmtpSecurity::Tls => Some(tls_connector()?),
            _ => None,
        };
        Ok(Self {
            host: host.to_string(),
            port,
            credentials,
            timeout,
            starttls,
            wrapper,
            hello: ClientId::default(),
        })
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, MailError> {
        let unavailable = |e: &dyn std::fmt::Display| {
            MailError::Transient(format!(
                "could not connect to {}:{}: {e}",
                self.host, self.port
            ))
        };
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| unavailable(&e))?;
        tcp.set_nodelay(true).map_err(|e| unavailable(&e))?;
        let stream: Box<dyn AsyncTokioStream> = match &self.wrapper {
            Some(connector) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| MailError::Permanent(format!("mail TLS: {e}")))?;
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| unavailable(&e))?;
                Box::new(Tls(tls))
            }
            None => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(classify)?;
        if let Some(params) = &self.starttls {
            // Required: a server that does not offer STARTTLS gets nothing in the clear.
            conn.starttls(params.clone(), &self.hello)
                .await
                .map_err(classify)?;
        }
        if let Some(credentials) = &self.credentials {
            let mechanisms = [Mechanism::Plain, Mechanism::Login];
            conn.auth(&mechanisms, credentials)
                .await
                .map_err(classify)?;
        }
        Ok(conn)
    }
}

impl managed::Manager for Connector {
    type Type = AsyncSmtpConnection;
    type Error = MailError;

    async fn create(&self) -> Result<AsyncSmtpConnection, MailError> {
        tokio::time::timeout(self.timeout, self.connect())
            .await
            .map_err(|_| {
                MailError::Transient(format!(
                    "{}:{} did not answer in time",
                    self.host, self.port
                ))
            })?
    }

    async fn recycle(
        &self,
        conn: &mut AsyncSmtpConnection,
        metrics: &Metrics,
    ) -> RecycleResult<MailError> {
        if conn.has_broken() {
            return Err(RecycleError::message("the connection broke"));
        }
        if metrics.last_used() > CHECK_IDLE_AFTER && !conn.test_connected().await {
            return Err(RecycleError::message("the server closed the connection"));
        }
        Ok(())
    }
}

pub(super) type SmtpPool = managed::Pool<Connector>;

/// A lettre error as a retry decision: 5xx is for good, the rest may pass.
pub(super) fn classify(error: lettre::transport::smtp::Error) -> MailError {
    if error.is_permanent() {
        MailError::Permanent(error.to_string())
    } else {
        MailError::Transient(error.to_string())
    }
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("mail TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// A TLS stream lettre can drive.
#[derive(Debug)]
struct Tls(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncTokioStream for Tls {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl AsyncRead for Tls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
