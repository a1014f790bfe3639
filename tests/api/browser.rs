//! The invite form in a real headless Chromium, driven over WebDriver (chromedriver): what a
//! staff user sees and does inside Salesforce.

use fantoccini::Locator;
use serde_json::json;

use crate::helpers::TestApp;
use crate::helpers::browser::Browser;
use crate::helpers::canvas::{ORG_ID, RECORD, SECRET, envelope, org, record_answers};
use crate::helpers::salesforce::fixture;
use crate::on_both_backends;

/// What a staff user does inside Salesforce, in the browser.
impl Browser {
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
