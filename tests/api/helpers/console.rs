//! The admin console as a browser uses it: a visitor that keeps its cookies and sees redirects,
//! sign-in links (the operator's, and those e-mailed to administrators), and the pages' forms.

use std::sync::Arc;
use std::time::Duration;

use liaison::config::ConsoleConfig;
use liaison::http::console::Console;
use liaison::mail::{Mailer, SmtpMailer};

use super::TestApp;
use super::smtp::SmtpServer;

/// The console the app is served with: these settings, and e-mails to `smtp` when given.
pub fn console(address: &str, config: ConsoleConfig, smtp: Option<&SmtpServer>) -> Arc<Console> {
    let mailer = smtp.map(|smtp| {
        Arc::new(SmtpMailer::new(&smtp.mail_config(address)).expect("mailer")) as Arc<dyn Mailer>
    });
    Arc::new(Console::new(config, mailer))
}

/// The options of an app whose console e-mails its sign-in links to `TestApp::smtp`.
pub fn with_mail() -> super::TestOptions {
    super::TestOptions {
        console_mail: true,
        ..Default::default()
    }
}

/// A page as the visitor got it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    /// Where a redirect leads.
    pub location: Option<String>,
    pub set_cookie: Vec<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        self.body
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_string()
    }

    /// Whether the page sends the browser to sign in.
    pub fn to_sign_in(&self) -> bool {
        self.status == 303 && self.location.as_deref() == Some("/console/sign-in")
    }
}

/// A browser on the console: keeps cookies, does not follow redirects.
pub struct Visitor {
    http: reqwest::Client,
    base: String,
}

impl Visitor {
    pub fn new(app: &TestApp) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
        }
    }

    async fn read(response: reqwest::Response) -> Page {
        let headers = response.headers().clone();
        Page {
            status: response.status().as_u16(),
            location: headers
                .get("location")
                .map(|l| l.to_str().unwrap().to_string()),
            set_cookie: headers
                .get_all("set-cookie")
                .iter()
                .map(|c| c.to_str().unwrap().to_string())
                .collect(),
            body: response.text().await.unwrap(),
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::read(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Self::read(
            self.http
                .post(format!("{}{path}", self.base))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Posts a `multipart/form-data` body (a form with a file) whose boundary is `boundary`.
    pub async fn post_multipart(&self, path: &str, boundary: &str, body: Vec<u8>) -> Page {
        Self::read(
            self.http
                .post(format!("{}{path}", self.base))
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Opens a sign-in link's page and presses its button: the answer to the press.
    pub async fn use_link(&self, path: &str) -> Page {
        let shown = self.get(path).await;
        if shown.status != 200 {
            return shown;
        }
        self.post(path, &[("csrf", &shown.csrf())]).await
    }

    /// Signs in with a link, asserting it worked.
    pub async fn sign_in(&self, path: &str) {
        let answer = self.use_link(path).await;
        assert_eq!(
            (answer.status, answer.location.as_deref()),
            (303, Some("/console")),
            "{}",
            answer.body
        );
    }

    /// Asks the sign-in form for links to `email`.
    pub async fn ask(&self, email: &str) -> Page {
        let form = self.get("/console/sign-in").await;
        self.post(
            "/console/sign-in",
            &[("csrf", &form.csrf()), ("email", email)],
        )
        .await
    }
}

/// A fresh operator sign-in link's path, as `liaison console-link --operator` makes it.
pub async fn operator_link(app: &TestApp) -> String {
    let token = liaison::app::console::operator_link(&app.store, time::Duration::minutes(15))
        .await
        .unwrap();
    liaison::http::console::sign_in_path(&token)
}

/// A headless Chromium signed in to the console as the operator, on its home page.
pub async fn operator_browser(app: &TestApp) -> crate::helpers::browser::Browser {
    let browser = crate::helpers::browser::Browser::start().await;
    let link = operator_link(app).await;
    browser
        .client
        .goto(&format!("{}{link}", app.address))
        .await
        .unwrap();
    browser.click("#sign-in").await;
    browser.heading("Welcome, Operator").await;
    browser
}

/// A visitor signed in as the operator.
pub async fn operator(app: &TestApp) -> Visitor {
    let visitor = Visitor::new(app);
    visitor.sign_in(&operator_link(app).await).await;
    visitor
}

/// The console sign-in links (paths) of each e-mail that reached `to`, in the order they came.
pub fn links_to(smtp: &SmtpServer, to: &str) -> Vec<Vec<String>> {
    smtp.received()
        .iter()
        .filter(|m| m.to.iter().any(|t| t == to))
        .map(|m| sign_in_paths(&m.raw))
        .collect()
}

fn sign_in_paths(raw: &str) -> Vec<String> {
    let mut found: Vec<String> = raw
        .split("/console/sign-in/")
        .skip(1)
        .map(|rest| {
            let token: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            format!("/console/sign-in/{token}")
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Waits until `count` e-mails reached `to` (the console sends them after answering), and
/// answers the links of each.
pub async fn mails_to(smtp: &SmtpServer, to: &str, count: usize) -> Vec<Vec<String>> {
    for _ in 0..400 {
        let arrived = links_to(smtp, to);
        if arrived.len() >= count {
            return arrived;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{count} e-mails to {to} did not arrive");
}

/// A visitor signed in as the staff user of `email` in the one tenancy they administer.
pub async fn admin(app: &TestApp, email: &str) -> Visitor {
    let smtp = app.smtp.as_ref().expect("the app e-mails sign-in links");
    let before = links_to(smtp, email).len();
    let visitor = Visitor::new(app);
    assert_eq!(visitor.ask(email).await.status, 200);
    let mails = mails_to(smtp, email, before + 1).await;
    let link = mails[before].first().expect("a link").clone();
    visitor.sign_in(&link).await;
    visitor
}

/// The text as the pages print it (escaped).
pub fn html(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

/// The reason the API gives for a field of its problem.
pub fn reason(problem: &serde_json::Value, field: &str) -> String {
    problem["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|e| e["field"] == field))
        .and_then(|e| e["reason"].as_str())
        .unwrap_or_else(|| panic!("no reason for {field}: {problem:#}"))
        .to_string()
}

/// Asserts the page shows `reason` beside the field `field`.
#[track_caller]
pub fn beside(page: &Page, field: &str, reason: &str) {
    let help = format!("id=\"{field}-error\">{}</div>", html(reason));
    assert!(page.body.contains(&help), "{help} in {}", page.body);
}

/// Asserts each of `posts` (a path and its fields), sent without the session's CSRF token and
/// with a forged one, is refused with the page that says nothing was changed.
pub async fn refused_without_csrf(visitor: &Visitor, posts: &[(String, Vec<(&str, &str)>)]) {
    for (path, fields) in posts {
        for csrf in [None, Some("forged")] {
            let mut form = fields.clone();
            if let Some(csrf) = csrf {
                form.push(("csrf", csrf));
            }
            let refused = visitor.post(path, &form).await;
            assert_eq!(refused.status, 403, "{path}");
            assert!(refused.body.contains("Nothing was changed"), "{path}");
        }
    }
}
