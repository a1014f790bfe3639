//! A newcomer's walk through the admin console, end to end in one headless Chromium: the
//! operator signs in with the printed link, creates a tenancy and its system administrator;
//! the administrator signs in with the e-mailed link, links an org, connects it through
//! Salesforce's authorize page, maps its fields with the Describe and a dry run, and saves;
//! the operator then links a second tenancy to the org. Beside it, each refusal along that
//! path the other console tests do not already walk.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fantoccini::Locator;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::Mock;
use wiremock::matchers::{body_string_contains, method, path, path_regex, query_param};

use crate::console_mapping::{post, posted};
use crate::helpers::TestApp;
use crate::helpers::browser::Browser;
use crate::helpers::canvas::{RECORD, record_answers};
use crate::helpers::console::{
    Visitor, admin, mails_to, operator, operator_browser, operator_link, with_mail,
};
use crate::helpers::salesforce::{
    ORG_ID, authorize_page, fixture, form_value, query_value, web_server_link,
};
use crate::mapping::{calls, connected, describes};
use crate::on_both_backends;

on_both_backends!(with super::with_mail();
    a_newcomer_walks_from_the_operators_link_to_a_mapped_org_serving_two_tenancies,
    a_tenancy_administrator_can_neither_unlink_the_last_tenancy_nor_change_a_shared_link,
);

on_both_backends!(
    salesforce_refusing_the_code_shows_why_and_connects_nothing,
    a_dry_run_on_a_record_salesforce_does_not_know_says_so_and_writes_nothing,
);

/// Types `value` into the field `css`, replacing what it held.
async fn fill(browser: &Browser, css: &str, value: &str) {
    let field = browser
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// Asserts `text` holds each of `parts`.
#[track_caller]
fn holds(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part}: {text}");
    }
}

/// A main page of the walk: it fits a 420 px wide screen without scrolling sideways, and with
/// `LIAISON_SCREENSHOTS` set it is saved as `console-walk-<name>-{1280,420}.png`.
async fn main_page(browser: &Browser, name: &str, scrolled_to: Option<&str>) {
    browser.client.set_window_size(420, 1100).await.unwrap();
    let widths = browser
        .client
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        widths[0].as_u64().unwrap() <= widths[1].as_u64().unwrap(),
        "{name} is wider than a 420 px screen: {widths}"
    );
    browser.client.set_window_size(1280, 1100).await.unwrap();
    browser
        .snapshot_at(&format!("console-walk-{name}"), scrolled_to)
        .await;
}

/// Waits for the element `css` whose text holds `text`.
async fn wait_for_text(browser: &Browser, css: &str, text: &str) {
    let xpath = format!(
        "//*[@id='{}'][contains(., '{text}')]",
        css.trim_start_matches('#')
    );
    browser.wait_for(Locator::XPath(&xpath), text).await;
}

/// Opens the console's page at `path`.
async fn visit(browser: &Browser, app: &TestApp, path: &str) {
    let url = format!("{}{path}", app.address);
    browser.client.goto(&url).await.unwrap();
}

/// Creates a tenancy with the console's form, as the operator: ends on its page.
async fn create_tenancy(browser: &Browser, app: &TestApp, name: &str) {
    visit(browser, app, "/console/tenancies").await;
    browser.heading("Tenancies").await;
    browser.click("#new-tenancy").await;
    browser.heading("New tenancy").await;
    fill(browser, "#name", name).await;
    browser.click("#create-tenancy").await;
    browser
        .wait_for(Locator::Css("#tenancy-pages"), "the tenancy's page")
        .await;
    browser.heading(name).await;
}

/// Signs in with a sign-in link's path: its page, then its button.
async fn open_sign_in_link(browser: &Browser, app: &TestApp, link: &str, welcome: &str) {
    visit(browser, app, link).await;
    browser.heading("Sign in to the Liaison console").await;
    browser.click("#sign-in").await;
    browser.heading(welcome).await;
}

async fn sign_out(browser: &Browser) {
    browser
        .click("form[action='/console/sign-out'] button")
        .await;
    let signed_out = "//main[contains(., 'You are signed out.')]";
    browser
        .wait_for(Locator::XPath(signed_out), "the signed-out page")
        .await;
}

/// What reached Salesforce (the wiremock), as `METHOD path`, in order; the authorize page a
/// browser opens is Salesforce's page, not a call of Liaison's, and is left out.
async fn salesforce_calls(app: &TestApp) -> Vec<String> {
    app.salesforce
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().starts_with("/services/") && !r.url.path().ends_with("/authorize"))
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

async fn link_json(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/org-links/{id}"), &app.operator)
        .await
        .expect(200)
}

async fn a_newcomer_walks_from_the_operators_link_to_a_mapped_org_serving_two_tenancies(
    app: TestApp,
) {
    let smtp = app.smtp.as_ref().expect("the console e-mails its links");
    let browser = Browser::start().await;

    // 1. The operator opens the link `liaison console-link --operator` printed.
    let link = operator_link(&app).await;
    visit(&browser, &app, &link).await;
    browser.heading("Sign in to the Liaison console").await;
    main_page(&browser, "01-operator-link", None).await;
    browser.click("#sign-in").await;
    browser.heading("Welcome, Operator").await;
    main_page(&browser, "02-operator-home", None).await;

    // 3. A tenancy, and 4. its system administrator, from the staff page.
    create_tenancy(&browser, &app, "Acme Wealth").await;
    main_page(&browser, "03-tenancy", None).await;
    browser.click("#tenancy-pages a").await;
    browser.heading("Staff of Acme Wealth").await;
    browser.click("#add-staff").await;
    browser.heading("Add a staff user").await;
    fill(&browser, "#first_name", "Ada").await;
    fill(&browser, "#last_name", "Lovelace").await;
    fill(&browser, "#email", "ada@acme.example").await;
    browser
        .click("#role option[value='system_administrator']")
        .await;
    main_page(&browser, "04-add-administrator", None).await;
    browser.click("#create-staff").await;
    browser.heading("Ada Lovelace").await;
    wait_for_text(&browser, "#notice", "The staff user was added.").await;
    sign_out(&browser).await;

    // 5. The administrator asks for a sign-in e-mail, and 6. opens its link.
    fill(&browser, "#email", "ada@acme.example").await;
    main_page(&browser, "05-sign-in", None).await;
    browser
        .click("form[action='/console/sign-in'] button[type='submit']")
        .await;
    browser.heading("Check your e-mail").await;
    let mails = mails_to(smtp, "ada@acme.example", 1).await;
    assert_eq!(mails.len(), 1, "one e-mail");
    assert_eq!(mails[0].len(), 1, "one link: Ada administers one tenancy");
    open_sign_in_link(&browser, &app, &mails[0][0], "Welcome, Ada Lovelace").await;
    assert!(browser.text("header").await.contains("Acme Wealth"));
    main_page(&browser, "06-administrator-home", None).await;

    // 7. A web-server org link; her own tenancy is the one it serves.
    browser
        .click("a[href='/console/org-links'].slds-context-bar__label-action")
        .await;
    browser.heading("Org links").await;
    browser.click("#new-link").await;
    browser.heading("Link an org").await;
    fill(&browser, "#name", "Acme production").await;
    fill(&browser, "#org_id", ORG_ID).await;
    browser.click("label[for='host_kind-my_domain']").await;
    fill(&browser, "#my_domain", &app.salesforce.uri()).await;
    browser.click("label[for='auth_kind-web_server']").await;
    fill(&browser, "#consumer_key", "3MVG9consumer").await;
    fill(&browser, "#consumer_secret", "s3cret-consumer").await;
    let tenancies = browser.text("#tenancies").await;
    assert!(tenancies.contains("Acme Wealth"), "{tenancies}");
    main_page(&browser, "07-link-an-org", None).await;
    browser.click("#save").await;
    browser.heading("Intake setup for Acme production").await;
    assert!(browser.value("#webhook_secret").await.starts_with("whsec_"));
    main_page(&browser, "08-intake", None).await;
    browser.click("#created a").await;
    browser
        .wait_for(Locator::Css("#org-link"), "the new link's page")
        .await;
    assert_eq!(browser.text("#org-link .slds-badge").await, "Not connected");
    let id = browser
        .client
        .current_url()
        .await
        .unwrap()
        .path()
        .trim_start_matches("/console/org-links/")
        .to_string();
    assert_eq!(link_json(&app, &id).await["state"], "not_connected");

    // 9. Connect: Salesforce's authorize page, Allow, and back to the link, connected.
    authorize_page(&app).await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(fixture(&app, "oauth/token-web-server.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    describes(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    search_answers(&app).await;
    browser.click("#connect").await;
    browser.heading("Allow access?").await;
    browser.click("#allow").await;
    browser
        .wait_for(Locator::Css("#disconnect"), "the connected link")
        .await;
    assert_eq!(browser.text("#org-link .slds-badge").await, "Connected");
    assert!(
        browser
            .client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .ends_with(&format!("/console/org-links/{id}"))
    );
    main_page(&browser, "09-connected", None).await;
    let requests = app.salesforce.received_requests().await.unwrap();
    let authorize = requests
        .iter()
        .find(|r| r.url.path() == "/services/oauth2/authorize")
        .expect("the browser at Salesforce's authorize page");
    let token = requests
        .iter()
        .find(|r| r.url.path() == "/services/oauth2/token")
        .expect("the code exchanged");
    let challenge = query_value(authorize.url.as_str(), "code_challenge");
    let verifier = form_value(token, "code_verifier").expect("the PKCE verifier");
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        challenge
    );
    assert_eq!(form_value(token, "code").as_deref(), Some("aPrx.code"));
    assert_eq!(
        query_value(authorize.url.as_str(), "client_id"),
        "3MVG9consumer"
    );

    // 10. The field mapping offers the org's own fields, from the Describe.
    browser.click("#mapping").await;
    browser.heading("Field mapping").await;
    let emails = browser.text("#contact_email").await;
    holds(
        &emails,
        &[
            "Email (Email · email)",
            "Secondary Email (Secondary_Email__c · email)",
        ],
    );
    let statuses = browser.text("#write_back_status").await;
    holds(
        &statuses,
        &["Liaison Status (Liaison_Status__c · picklist)"],
    );
    assert_eq!(browser.value("#contact_email").await, "Email");
    main_page(&browser, "10-field-mapping", None).await;

    // 11. A change (the e-mail read-only in the invite form, mobiles read as British), and a
    // dry run on a record found by name.
    browser.click("label[for='read-only-email']").await;
    fill(&browser, "#phone_region", "GB").await;
    fill(&browser, "#q", "Smith").await;
    browser.click("#search").await;
    browser
        .wait_for(Locator::Id(&format!("pick-{RECORD}")), "the record found")
        .await;
    assert!(browser.text("#found").await.contains("Jane Smith"));
    assert_eq!(
        browser.value("#phone_region").await,
        "GB",
        "the change kept"
    );
    browser.click("#run").await;
    browser
        .wait_for(Locator::Id("prefill"), "the dry run's pre-fill")
        .await;
    let prefill = browser.text("#prefill").await;
    holds(
        &prefill,
        &[
            "First name\nJane",
            "Last name\nSmith",
            "E-mail\njane.smith@example.com\nread-only",
            "Mobile\n07768 887464",
        ],
    );
    let write_back = browser.text("#write-back").await;
    assert!(
        write_back.contains("\"Liaison_Status__c\": \"invited\""),
        "{write_back}"
    );
    assert!(browser.text("#problems").await.contains("No problems"));
    main_page(&browser, "11-dry-run", Some("dry-run")).await;
    // Salesforce was asked for the token, the Describes, the search and the record: nothing
    // was written there, and nothing is saved yet.
    let mut asked = salesforce_calls(&app).await;
    asked.sort();
    assert_eq!(
        asked,
        [
            "GET /services/data/v62.0/query".to_string(),
            "GET /services/data/v62.0/sobjects/Account/describe".to_string(),
            format!("GET /services/data/v62.0/sobjects/Contact/{RECORD}"),
            "GET /services/data/v62.0/sobjects/Contact/describe".to_string(),
            "POST /services/oauth2/token".to_string(),
        ]
    );
    for verb in ["PATCH", "POST", "PUT", "DELETE"] {
        assert_eq!(calls(&app, verb, "/services/data/").await, 0, "{verb}");
    }
    let mapping = &link_json(&app, &id).await["field_mapping"];
    assert_eq!(mapping["read_only"], json!([]));

    // 12. Saved: the change is in the mapping and its history.
    browser.click("#save").await;
    wait_for_text(&browser, "#notice", "The mapping is saved").await;
    let history = browser.text("#history").await;
    holds(
        &history,
        &["phone_region: — → GB", "read_only: [] → [\"email\"]"],
    );
    let mapping = &link_json(&app, &id).await["field_mapping"];
    assert_eq!(mapping["read_only"], json!(["email"]));
    assert_eq!(mapping["phone_region"], "GB");
    assert_eq!(calls(&app, "PATCH", "").await, 0);

    // 13. Her link serves her tenancy alone: she may serve no other.
    visit(
        &browser,
        &app,
        &format!("/console/org-links/{id}/tenancies"),
    )
    .await;
    browser.heading("Tenancies served by Acme production").await;
    assert_eq!(browser.text("#served").await.lines().count(), 2);
    assert!(browser.text("#served").await.contains("Acme Wealth"));
    assert!(
        browser
            .client
            .find(Locator::Id("add-tenancy"))
            .await
            .is_err(),
        "an administrator links only their own tenancy"
    );
    sign_out(&browser).await;

    // 14. The operator links a second tenancy on the link's Tenancies page.
    let link = operator_link(&app).await;
    open_sign_in_link(&browser, &app, &link, "Welcome, Operator").await;
    create_tenancy(&browser, &app, "Acme Family Office").await;
    visit(&browser, &app, &format!("/console/org-links/{id}")).await;
    browser
        .wait_for(
            Locator::Css("#org-link"),
            "the connected link's page, as the operator",
        )
        .await;
    browser.click("#manage-tenancies").await;
    browser.heading("Tenancies served by Acme production").await;
    let offered = browser.text("#tenancy").await;
    assert!(offered.contains("Acme Family Office"), "{offered}");
    browser.click("#add-tenancy").await;
    browser
        .wait_for(Locator::XPath("//ul[@id='served']/li[2]"), "two tenancies")
        .await;
    let served = browser.text("#served").await;
    assert!(
        served.contains("Acme Wealth") && served.contains("Acme Family Office"),
        "{served}"
    );
    main_page(&browser, "14-tenancies", None).await;
    let link = link_json(&app, &id).await;
    assert_eq!(link["tenancies"].as_array().unwrap().len(), 2);
    assert_eq!(link["state"], "connected");
    let trail = app
        .get("/api/v1/audit?action=org_link.tenancy_added", &app.operator)
        .await
        .expect(200);
    assert_eq!(trail["items"].as_array().unwrap().len(), 1, "{trail}");
    browser.stop().await;
}

/// Salesforce finds Jane Smith when asked for Contacts named like "Smith".
async fn search_answers(app: &TestApp) {
    Mock::given(method("GET"))
        .and(path_regex("^/services/data/v[0-9.]+/query$"))
        .and(query_param(
            "q",
            "SELECT Id, Name FROM Contact WHERE Name LIKE '%Smith%' ORDER BY Name LIMIT 10",
        ))
        .respond_with(fixture(app, "rest/query-contacts.json"))
        .mount(&app.salesforce)
        .await;
}

async fn salesforce_refusing_the_code_shows_why_and_connects_nothing(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let link = web_server_link(&app, &acme).await;
    let id = link["id"].as_str().unwrap();
    authorize_page(&app).await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(fixture(&app, "oauth/invalid-grant.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let browser = operator_browser(&app).await;
    let page = format!("/console/org-links/{id}");
    visit(&browser, &app, &page).await;
    browser.click("#connect").await;
    browser.heading("Allow access?").await;
    browser.click("#allow").await;
    browser.heading("Connection failed").await;
    let said = browser.text("body").await;
    let why = "Salesforce refused the connection (invalid_grant). Nothing was changed";
    assert!(said.contains(why), "{said}");
    assert!(!said.contains("s3cret-consumer") && !said.contains("aPrx.code"));
    browser.stop().await;

    let after = link_json(&app, id).await;
    assert_eq!(after["state"], "not_connected");
    assert_eq!(after["instance_url"], Value::Null);
    let visitor = operator(&app).await;
    let detail = visitor.get(&page).await;
    assert!(detail.body.contains("id=\"connect\"") && detail.body.contains(">Not connected<"));
    // Its Connect button may lead on to Salesforce's hosts (here the loopback test double),
    // and nowhere else.
    let policy = detail.headers["content-security-policy"].to_str().unwrap();
    let onward = "form-action 'self' https://*.salesforce.com https://*.force.com";
    assert!(
        policy.contains(onward) && policy.contains("http://127.0.0.1:*"),
        "{policy}"
    );
    let trail = app
        .get("/api/v1/audit?action=org_link.connected", &app.operator)
        .await
        .expect(200);
    assert!(trail["items"].as_array().unwrap().is_empty(), "{trail}");
    assert_eq!(calls(&app, "POST", "/services/oauth2/token").await, 1);
}

async fn a_dry_run_on_a_record_salesforce_does_not_know_says_so_and_writes_nothing(app: TestApp) {
    let (_, link) = connected(&app).await;
    describes(&app).await;
    let unknown = "0035g00000XyZzzAAF";
    record_answers(&app, unknown, fixture(&app, "rest/not-found.json")).await;
    let api = app
        .post(
            &format!("/api/v1/org-links/{link}/mapping/dry-run"),
            &app.operator,
            json!({ "field_mapping": link_json(&app, &link).await["field_mapping"], "record_id": unknown }),
        )
        .await;
    let visitor = operator(&app).await;
    let editor = format!("/console/org-links/{link}/mapping");
    let csrf = visitor.get(&editor).await.csrf();
    let form = posted(&csrf, "dry_run", &[("record_id", unknown)]);
    let ran = post(&visitor, &editor, &form).await;
    // The editor stays open with the answer in its dry-run card, as for any dry run.
    assert_eq!(ran.status, 200, "{}", ran.body);
    assert_eq!(api.status.as_u16(), 404, "{}", api.body);
    let result = ran
        .body
        .split("id=\"dry-run-result\"")
        .nth(1)
        .expect("the dry run's answer");
    assert!(result.contains("The dry run could not run"), "{result}");
    let detail = api.body["detail"].as_str().unwrap_or_default();
    assert_eq!(detail, "record not found", "{}", api.body);
    assert!(
        result.contains(&html_escape::encode_text(detail).into_owned()),
        "{detail}: {result}"
    );
    assert!(!result.contains("id=\"prefill\""));
    assert_eq!(calls(&app, "GET", &format!("/Contact/{unknown}")).await, 2);
    assert_eq!(calls(&app, "PATCH", "").await, 0);
}

async fn a_tenancy_administrator_can_neither_unlink_the_last_tenancy_nor_change_a_shared_link(
    app: TestApp,
) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let bravo = app.tenancy("Bravo Trust", "client_teams").await;
    let link = web_server_link(&app, &acme).await;
    let id = link["id"].as_str().unwrap();
    let ada: Visitor = admin(&app, "admin@acme-wealth.example").await;

    // Her own link: the confirmation is asked, and the API's refusal shown on the page.
    let ask = ada
        .get(&format!(
            "/console/org-links/{id}/tenancies/{}/remove",
            acme.id
        ))
        .await;
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("Stop serving this tenancy?"));
    let api = app
        .patch(
            &format!("/api/v1/org-links/{id}"),
            &acme.admin_token,
            json!({ "tenancies": [] }),
        )
        .await
        .problem(422);
    let last = ada
        .post(
            &format!("/console/org-links/{id}/tenancies/remove"),
            &[("csrf", &ask.csrf()), ("tenancy", &acme.id)],
        )
        .await;
    assert_eq!(last.status, 422, "{}", last.body);
    let reason = api["errors"][0]["reason"].as_str().unwrap();
    assert_eq!(reason, "name at least one tenancy");
    assert!(
        last.body
            .contains(&format!("Nothing was changed: {reason}."))
    );
    assert_eq!(link_json(&app, id).await["tenancies"], json!([acme.id]));

    // Once an operator shares it with Bravo, it is the operators': refused as the API
    // refuses, asked or not.
    app.patch(
        &format!("/api/v1/org-links/{id}"),
        &app.operator,
        json!({ "tenancies": [acme.id, bravo.id] }),
    )
    .await
    .expect(200);
    let api = app
        .patch(
            &format!("/api/v1/org-links/{id}"),
            &acme.admin_token,
            json!({ "tenancies": [acme.id] }),
        )
        .await
        .status
        .as_u16();
    assert_eq!(api, 403);
    let shared_ask = format!("/console/org-links/{id}/tenancies/{}/remove", bravo.id);
    assert_eq!(ada.get(&shared_ask).await.status, api);
    for tenancy in [&bravo.id, &acme.id] {
        let removed = ada
            .post(
                &format!("/console/org-links/{id}/tenancies/remove"),
                &[("csrf", &ask.csrf()), ("tenancy", tenancy)],
            )
            .await;
        assert_eq!(removed.status, api, "{}", removed.body);
        assert!(removed.body.contains("only an operator may change it"));
    }
    let detail = ada.get(&format!("/console/org-links/{id}")).await;
    assert!(!detail.body.contains("id=\"manage-tenancies\""));
    let policy = detail.headers["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains("form-action 'self' https://*.salesforce.com"),
        "{policy}"
    );

    let served = link_json(&app, id).await["tenancies"].clone();
    assert_eq!(served, json!([acme.id, bravo.id]));
    let trail = app
        .get(
            "/api/v1/audit?action=org_link.tenancy_removed",
            &app.operator,
        )
        .await
        .expect(200);
    assert!(trail["items"].as_array().unwrap().is_empty(), "{trail}");
}
