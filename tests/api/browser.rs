//! The invite form in a real headless Chromium, driven over WebDriver (chromedriver): what a
//! staff user sees and does inside Salesforce.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::canvas::{ORG_ID, RECORD, SECRET, envelope, org, record_answers};
use crate::helpers::salesforce::fixture;
use crate::on_both_backends;

/// chromedriver on a free port, and a headless Chromium session through it.
struct Browser {
    driver: Child,
    client: Client,
}

/// A test that fails half-way still ends chromedriver and the browser it started: they run
/// in a process group of their own, which is ended whole.
impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

impl Browser {
    async fn start() -> Self {
        // The WebDriver client's TLS stack needs a process-wide provider; Liaison's is ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/test installs it)");
        // Ready when it says so.
        let stdout = driver.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            if line
                .expect("chromedriver output")
                .contains("started successfully")
            {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        let mut options = json!({ "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
        if std::path::Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Self { driver, client }
    }

    /// With `LIAISON_SCREENSHOTS=<folder>`, saves the page as `<name>-1280.png` and
    /// `<name>-420.png` (a desktop and a utility-bar panel or phone), for the README; without
    /// it, does nothing. The window returns to desktop width.
    async fn snapshot(&self, name: &str) {
        let Some(folder) = std::env::var_os("LIAISON_SCREENSHOTS") else {
            return;
        };
        std::fs::create_dir_all(&folder).expect("the screenshot folder");
        for width in [420, 1280] {
            self.client.set_window_size(width, 1100).await.unwrap();
            let png = self.client.screenshot().await.unwrap();
            let file = std::path::Path::new(&folder).join(format!("{name}-{width}.png"));
            std::fs::write(file, png).expect("a screenshot written");
        }
    }

    /// Ends the browser session; dropping then ends chromedriver.
    async fn stop(self) {
        let _ = self.client.clone().close().await;
    }

    /// Opens the app as Salesforce does: a form POST of the signed request.
    async fn open_from_salesforce(&self, app: &TestApp, signed: &str) {
        self.client
            .goto(&format!("{}/healthz", app.address))
            .await
            .unwrap();
        self.client
            .execute(
                "const f = document.createElement('form'); f.method = 'post'; f.action = arguments[0];\
                 const i = document.createElement('input'); i.type = 'hidden'; i.name = 'signed_request'; i.value = arguments[1];\
                 f.appendChild(i); document.body.appendChild(f); f.submit();",
                vec![
                    json!(format!("{}/salesforce/canvas", app.address)),
                    json!(signed),
                ],
            )
            .await
            .unwrap();
    }

    /// Waits for the page whose heading contains `text`.
    async fn heading(&self, text: &str) {
        let xpath = format!("//h1[contains(., '{text}')]");
        self.wait_for(Locator::XPath(&xpath), text).await;
    }

    /// Waits for an element to appear on the page.
    async fn wait_for(&self, locator: Locator<'_>, what: &str) {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(60))
            .for_element(locator)
            .await
        {
            Ok(_) => {}
            Err(e) => {
                let page = self.client.source().await.unwrap_or_default();
                panic!("no {what} ({e}); the page is: {page}")
            }
        }
    }

    async fn value(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Opens Invite on a record as Jo, who is staff in both tenancies, and picks one.
    async fn invite_from(&self, app: &TestApp, record: &str, tenancy: &str) {
        self.open_from_salesforce(
            app,
            &liaison::crm::canvas::sign(SECRET, &envelope("jo.bloggs@firm.example", record)),
        )
        .await;
        self.heading("Invite a client").await;
        self.click(&format!("input[value='{tenancy}']")).await;
        self.click("button[value='open']").await;
    }

    /// Sends the form, and waits for the page that answers.
    async fn send_and_wait(&self, answer: Locator<'_>, what: &str) {
        self.click("button[value='send']").await;
        self.wait_for(answer, what).await;
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }
}

on_both_backends!(
    staff_open_the_form_from_salesforce_pick_a_tenancy_create_a_group_and_send,
    each_error_path_shows_its_message_to_the_user,
);

async fn staff_open_the_form_from_salesforce_pick_a_tenancy_create_a_group_and_send(app: TestApp) {
    let (_, beta, _) = org(&app).await;
    assert_eq!(ORG_ID.len(), 18);
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let other = "0035g00000XyZacAAF";
    record_answers(&app, other, fixture(&app, "rest/contact.json")).await;
    let browser = Browser::start().await;

    // A forged request opens nothing.
    browser
        .open_from_salesforce(
            &app,
            &liaison::crm::canvas::sign("forged", &envelope("jo.bloggs@firm.example", RECORD)),
        )
        .await;
    browser.heading("This page cannot be opened").await;
    browser.snapshot("canvas-refused").await;

    // Jo opens Invite on Jane Smith's Contact and picks the tenancy.
    browser.invite_from(&app, RECORD, &beta.id).await;
    browser.heading("Invite to Beta Trust").await;
    assert_eq!(browser.value("#first_name").await, "Jane");
    assert_eq!(browser.value("#email").await, "jane.smith@example.com");
    assert_eq!(browser.value("#mobile").await, "07768 887464");
    // The normalised number is offered, and taken only when asked.
    browser.click("button.use").await;
    assert_eq!(browser.value("#mobile").await, "+447768887464");
    // A new contact group, named by the tenancy's convention, with Jo in it.
    assert_eq!(browser.value("#new_group_name").await, "Smith Relationship");
    browser.snapshot("invite-form").await;
    browser.click("button[value='send']").await;
    browser.heading("Jane Smith").await;
    assert!(browser.text(".done").await.contains("Invitation sent"));
    browser.snapshot("client-summary").await;
    assert_eq!(browser.text("#status").await, "Pending (Invited)");

    let clients = app
        .get(
            &format!("/api/v1/tenancies/{}/clients", beta.id),
            &beta.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(clients["items"][0]["status"], "invited");
    assert_eq!(clients["items"][0]["mobile"], "+447768887464");
    let groups = app
        .get(
            &format!("/api/v1/tenancies/{}/contact-groups", beta.id),
            &beta.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(groups["items"][0]["name"], "Smith Relationship");

    // On another record, a bad e-mail is shown next to its field and nothing is created.
    browser.invite_from(&app, other, &beta.id).await;
    browser.heading("Invite to Beta Trust").await;
    let email = browser.client.find(Locator::Css("#email")).await.unwrap();
    email.clear().await.unwrap();
    email.send_keys("not-an-email").await.unwrap();
    // Enter in the search field searches on the server; it sends nothing and keeps what was
    // typed and ticked (Jo, whom the search does not find).
    browser
        .client
        .find(Locator::Css("#q_members"))
        .await
        .unwrap()
        .send_keys("nobody by that name\u{E007}")
        .await
        .unwrap();
    browser
        .wait_for(Locator::Css("#more-members"), "the search's answer")
        .await;
    assert_eq!(browser.text("#more-members").await, "None match.");
    assert_eq!(browser.value("#email").await, "not-an-email");
    assert!(
        browser
            .text("#list-members")
            .await
            .contains("Jo Bloggs (staff)")
    );
    browser
        .client
        .find(Locator::Css("input[name='new_group_members']:checked"))
        .await
        .expect("Jo stays ticked");
    browser.click("button[value='send']").await;
    // The same form comes back, now with the error next to the field.
    browser
        .wait_for(Locator::Css("#email-error"), "e-mail error")
        .await;
    assert!(
        browser
            .text("#email-error")
            .await
            .contains("is not a valid e-mail address")
    );
    assert!(
        browser
            .text("[role='alert']")
            .await
            .contains("Nothing was created")
    );
    browser.snapshot("invite-form-error").await;
    let clients = app
        .get(
            &format!("/api/v1/tenancies/{}/clients", beta.id),
            &beta.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(clients["items"].as_array().unwrap().len(), 1);
    browser.stop().await;
}

/// A Contact read answering for another person than the fixture's Jane Smith.
fn someone_else(record: &str, first: &str, last: &str) -> wiremock::ResponseTemplate {
    let body = json!({
        "attributes": { "type": "Contact", "url": format!("/services/data/v62.0/sobjects/Contact/{record}") },
        "Id": record, "FirstName": first, "LastName": last,
        "Email": format!("{}@example.com", first.to_lowercase()), "MobilePhone": null, "Title": null
    });
    wiremock::ResponseTemplate::new(200)
        .insert_header("Sforce-Limit-Info", "api-usage=10018/100000")
        .set_body_json(body)
}

/// Every way the flow can refuse, as the user sees it in the browser: who is not staff, a
/// client not covered, an e-mail already a client, a group that holds another relationship,
/// and Salesforce's troubles (record gone, Salesforce down, the link's grant withdrawn).
async fn each_error_path_shows_its_message_to_the_user(app: TestApp) {
    let (acme, beta, _) = org(&app).await;
    let (duplicate, ravi, deleted, down, revoked) = (
        "0035g00000XyZacAAF",
        "0035g00000XyZadAAF",
        "0035g00000XyZaeAAF",
        "0035g00000XyZafAAF",
        "0035g00000XyZagAAF",
    );
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    record_answers(&app, duplicate, fixture(&app, "rest/contact.json")).await;
    record_answers(&app, ravi, someone_else(ravi, "Ravi", "Patel")).await;
    record_answers(&app, deleted, fixture(&app, "rest/not-found.json")).await;
    record_answers(&app, down, fixture(&app, "rest/server-unavailable.json")).await;
    record_answers(&app, revoked, fixture(&app, "rest/invalid-session.json")).await;
    let browser = Browser::start().await;

    // A Salesforce user who is staff nowhere is told which address was looked for.
    browser
        .open_from_salesforce(
            &app,
            &liaison::crm::canvas::sign(SECRET, &envelope("nobody@firm.example", RECORD)),
        )
        .await;
    browser
        .heading("You cannot invite clients from this org yet")
        .await;
    assert!(browser.text("main").await.contains("nobody@firm.example"));

    // No team ticked: the coverage rule, next to the teams.
    browser.invite_from(&app, RECORD, &acme.id).await;
    browser.heading("Invite to Acme Wealth").await;
    browser
        .send_and_wait(Locator::Css("#client_teams-error"), "the coverage error")
        .await;
    assert_eq!(
        browser.text("#client_teams-error").await,
        "choose at least one client team"
    );
    // The record's number, not in E.164, is refused next to its field too, not guessed.
    assert!(browser.text("#mobile-error").await.contains("E.164"));
    browser.click("button.use").await;
    browser.click("input[name='groups']").await;
    browser.click("button[value='send']").await;
    browser.heading("Jane Smith").await;

    // The same e-mail from another record: one client, and the second user is told.
    browser.invite_from(&app, duplicate, &acme.id).await;
    browser.heading("Invite to Acme Wealth").await;
    browser.click("button.use").await;
    browser.click("input[name='groups']").await;
    browser
        .send_and_wait(Locator::Css("#email-error"), "the duplicate e-mail error")
        .await;
    assert!(
        browser
            .text("#email-error")
            .await
            .contains("a client with this e-mail already exists")
    );

    // A contact group holds one relationship: adding another asks for the override.
    browser.invite_from(&app, RECORD, &beta.id).await;
    browser.heading("Invite to Beta Trust").await;
    browser.click("button.use").await;
    browser.click("button[value='send']").await;
    browser.heading("Jane Smith").await;
    browser.invite_from(&app, ravi, &beta.id).await;
    browser.heading("Invite to Beta Trust").await;
    browser.click("#group_mode-existing").await;
    browser.click("input[name='groups']").await;
    browser
        .send_and_wait(
            Locator::Css("#confidentiality_override-error"),
            "the confidentiality error",
        )
        .await;
    assert!(
        browser
            .text("#confidentiality_override-error")
            .await
            .contains("another relationship")
    );
    browser.click("#confidentiality_override").await;
    browser.click("button[value='send']").await;
    browser.heading("Ravi Patel").await;

    // Salesforce's troubles: each says what happened and that nothing was created.
    for (record, heading) in [
        (deleted, "The Salesforce record was not found"),
        (down, "Salesforce is not answering"),
    ] {
        browser.invite_from(&app, record, &acme.id).await;
        browser.heading(heading).await;
        assert!(browser.text("main").await.contains("Nothing was created"));
    }
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/services/oauth2/token"))
        .respond_with(fixture(&app, "oauth/invalid-grant.json"))
        .with_priority(1)
        .mount(&app.salesforce)
        .await;
    browser.invite_from(&app, revoked, &acme.id).await;
    browser
        .heading("Liaison is disconnected from Salesforce")
        .await;
    assert!(
        browser
            .text("main")
            .await
            .contains("A CRM administrator must reconnect it")
    );

    let clients = |t: &crate::helpers::Tenancy| {
        let t = (t.id.clone(), t.admin_token.clone());
        let app = &app;
        async move {
            app.get(&format!("/api/v1/tenancies/{}/clients", t.0), &t.1)
                .await
                .expect(200)["items"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!((clients(&acme).await, clients(&beta).await), (1, 2));
    browser.stop().await;
}
