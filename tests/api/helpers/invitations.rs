//! The re-send worker as the tests run it, and a browser on the invitation pages.

use super::TestApp;
use super::smtp::SmtpServer;
use liaison::config::InvitationConfig;
use liaison::jobs::invitations::pass;
use liaison::mail::SmtpMailer;

pub fn config() -> InvitationConfig {
    InvitationConfig {
        retry_min_seconds: 60,
        retry_max_seconds: 600,
        ..Default::default()
    }
}

pub async fn run(app: &TestApp, smtp: &SmtpServer) -> liaison::jobs::invitations::InvitationPass {
    let mailer = SmtpMailer::new(&smtp.mail_config(&app.address)).unwrap();
    pass(&app.store, &mailer, &config(), &app.address)
        .await
        .unwrap()
}

/// A browser: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

/// Opens a link and returns the page and the CSRF token of its form.
pub async fn open(browser: &reqwest::Client, link: &str) -> (u16, String, String) {
    let response = browser.get(link).send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string();
    (status, body, csrf)
}

pub async fn post_form(browser: &reqwest::Client, url: &str, csrf: &str) -> (u16, String) {
    let response = browser
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}
