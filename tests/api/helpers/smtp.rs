//! A real SMTP server on loopback (mailin-embedded) that keeps what it receives, and can be
//! told to refuse mail for now (451) or for good (550).

use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use mailin_embedded::response::{INTERNAL_ERROR, NO_MAILBOX, OK};
use mailin_embedded::{Handler, Response, Server, SslConfig};

#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    /// The raw message, with quoted-printable soft breaks undone.
    pub raw: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}: ", name.to_lowercase());
        self.raw
            .lines()
            .find(|line| line.to_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_string())
    }

    /// Every activation link in the message (text and HTML parts alike).
    pub fn links(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut rest = self.raw.as_str();
        while let Some(at) = rest.find("/invitations/") {
            let start = rest[..at].rfind("http").unwrap_or(at);
            let end = rest[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || "-_/".contains(c)))
                .map_or(rest.len(), |e| at + e);
            found.push(rest[start..end].to_string());
            rest = &rest[end..];
        }
        found.dedup();
        found
    }
}

#[derive(Clone)]
struct Sink {
    inbox: Arc<Mutex<Vec<Received>>>,
    /// 0 accept, 451 refuse for now, 550 refuse for good.
    answer: Arc<AtomicU16>,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Sink {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        match self.answer.load(Ordering::SeqCst) {
            451 => INTERNAL_ERROR,
            550 => NO_MAILBOX,
            _ => {
                self.to = to.to_vec();
                self.data.clear();
                OK
            }
        }
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let raw = String::from_utf8_lossy(&self.data)
            .replace("=\r\n", "")
            .replace("=3D", "=");
        self.inbox.lock().unwrap().push(Received {
            to: std::mem::take(&mut self.to),
            raw,
        });
        OK
    }
}

pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
    answer: Arc<AtomicU16>,
}

impl SmtpServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind smtp");
        let port = listener.local_addr().expect("address").port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(AtomicU16::new(0));
        let sink = Sink {
            inbox: inbox.clone(),
            answer: answer.clone(),
            to: vec![],
            data: vec![],
        };
        let mut server = Server::new(sink);
        server
            .with_name("localhost")
            .with_ssl(SslConfig::None)
            .expect("no tls")
            // A thread per connection: enough for every pooled connection of every mailer.
            .with_num_threads(64)
            .with_tcp_listener(listener);
        // The server thread ends with the test process.
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self {
            port,
            inbox,
            answer,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }

    pub fn refuse_for_now(&self) {
        self.answer.store(451, Ordering::SeqCst);
    }

    pub fn refuse_for_good(&self) {
        self.answer.store(550, Ordering::SeqCst);
    }

    pub fn accept(&self) {
        self.answer.store(0, Ordering::SeqCst);
    }

    pub fn mail_config(&self, link_base_url: &str) -> liaison::config::MailConfig {
        liaison::config::MailConfig {
            smtp_host: "127.0.0.1".into(),
            smtp_port: self.port,
            from: "Liaison <invitations@liaison.test>".into(),
            link_base_url: link_base_url.into(),
            timeout_seconds: 5,
            ..Default::default()
        }
    }
}
