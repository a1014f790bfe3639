//! Signing in to the console with Salesforce: OpenID Connect through an org link's connected
//! app (wiremock as Salesforce's authorize page, token and UserInfo endpoints), matched to staff
//! by the link's staff-matching rule, and every way it signs no one in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fantoccini::Locator;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::helpers::browser::Browser;
use crate::helpers::console::{Page, Visitor};
use crate::helpers::salesforce::{fixture, form_value, query_value, web_server_link};
use crate::helpers::{Tenancy, TestApp};
use crate::on_both_backends;

on_both_backends!(
    an_administrator_signs_in_with_salesforce_by_their_orgs_my_domain,
    an_administrator_of_two_tenancies_the_org_serves_chooses_one,
    who_is_not_an_administrator_there_is_not_signed_in,
    a_user_of_another_org_or_an_inactive_user_is_not_signed_in,
    a_callback_this_browser_did_not_start_trades_no_code,
    a_domain_that_names_no_linked_org_is_refused_beside_the_field,
    a_paused_link_signs_no_one_in_and_calls_nothing,
    signing_in_with_salesforce_works_in_a_browser,
);

/// The org link's admin tenancy: its system administrator is `admin@acme-wealth.example`, the
/// e-mail the UserInfo fixture names, and the link matches staff by e-mail.
async fn acme(app: &TestApp) -> (Tenancy, String) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let link = web_server_link(app, &acme).await;
    (acme, link["id"].as_str().unwrap().to_string())
}

/// Salesforce's token endpoint for a sign-in's code, and its UserInfo answering `userinfo`;
/// the sign-in's token is revoked after.
async fn salesforce_answers(app: &TestApp, userinfo: Value) {
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(fixture(app, "oauth/token-sign-in.json"))
        .mount(&app.salesforce)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/oauth2/userinfo"))
        .and(header(
            "authorization",
            "Bearer 00D5g000004ZKTD!AQ0AQ.sign.in.access",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(userinfo))
        .mount(&app.salesforce)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&app.salesforce)
        .await;
}

/// The UserInfo fixture's body, with some claims changed.
fn userinfo(changes: Value) -> Value {
    let path = format!(
        "{}/wiremock-fixtures/oauth/userinfo.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut body: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for (key, value) in changes.as_object().unwrap() {
        body["body"][key] = value.clone();
    }
    body["body"].clone()
}

/// Types the org's domain into the sign-in page: the answer (a redirect to Salesforce).
async fn ask_salesforce(visitor: &Visitor, domain: &str) -> Page {
    let form = visitor.get("/console/sign-in").await;
    visitor
        .post(
            "/console/sign-in/salesforce",
            &[("csrf", &form.csrf()), ("domain", domain)],
        )
        .await
}

/// Salesforce sending the browser back with a code for the flow `authorize` started.
async fn come_back(visitor: &Visitor, authorize: &str) -> Page {
    let state = query_value(authorize, "state");
    visitor
        .get(&format!(
            "/console/sign-in/salesforce/callback?code=aPrx.sign.in&state={state}"
        ))
        .await
}

/// The requests Salesforce received on `path`.
async fn received(app: &TestApp, on: &str) -> Vec<Request> {
    app.salesforce
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == on)
        .collect()
}

async fn an_administrator_signs_in_with_salesforce_by_their_orgs_my_domain(app: TestApp) {
    let (acme, link) = acme(&app).await;
    salesforce_answers(&app, userinfo(json!({}))).await;
    let visitor = Visitor::new(&app);
    let to_salesforce = ask_salesforce(&visitor, &app.salesforce.uri()).await;
    assert_eq!(to_salesforce.status, 303, "{}", to_salesforce.body);
    let authorize = to_salesforce.location.clone().unwrap();
    let start = format!("{}/services/oauth2/authorize?", app.salesforce.uri());
    assert!(authorize.starts_with(&start), "{authorize}");
    assert_eq!(query_value(&authorize, "client_id"), "3MVG9consumer");
    assert_eq!(query_value(&authorize, "scope"), "openid");
    assert_eq!(query_value(&authorize, "code_challenge_method"), "S256");
    let callback = format!("{}/console/sign-in/salesforce/callback", app.address);
    assert_eq!(query_value(&authorize, "redirect_uri"), callback);
    let cookie = &to_salesforce.set_cookie[0];
    for part in [
        "liaison_console_sso=",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/console/sign-in/salesforce",
    ] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }

    // The link's page shows its own sign-in address, which goes the same way, with a flow of
    // its own.
    let operator = crate::helpers::console::operator(&app).await;
    let page = operator.get(&format!("/console/org-links/{link}")).await;
    assert!(
        page.body.contains(&format!(
            "href=\"/console/sign-in/salesforce/{link}\" id=\"sign-in-address\""
        )),
        "{}",
        page.body
    );
    let direct = Visitor::new(&app)
        .get(&format!("/console/sign-in/salesforce/{link}"))
        .await;
    assert_eq!(direct.status, 303);
    assert!(direct.location.unwrap().starts_with(&start));

    let back = come_back(&visitor, &authorize).await;
    assert_eq!(
        (back.status, back.location.as_deref()),
        (303, Some("/console")),
        "{}",
        back.body
    );
    let home = visitor.get("/console").await;
    assert!(home.body.contains("Welcome, Ada"), "{}", home.body);

    // The code went with the verifier whose challenge the browser carried, to this callback.
    let token = received(&app, "/services/oauth2/token").await;
    assert_eq!(token.len(), 1);
    let verifier = form_value(&token[0], "code_verifier").unwrap();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    assert_eq!(query_value(&authorize, "code_challenge"), challenge);
    assert_eq!(
        form_value(&token[0], "code").as_deref(),
        Some("aPrx.sign.in")
    );
    assert_eq!(form_value(&token[0], "redirect_uri"), Some(callback));
    // The token only asked who signed in, and Liaison kept nothing of it.
    assert_eq!(received(&app, "/services/oauth2/userinfo").await.len(), 1);
    let revoked = received(&app, "/services/oauth2/revoke").await;
    assert_eq!(
        form_value(&revoked[0], "token").as_deref(),
        Some("00D5g000004ZKTD!AQ0AQ.sign.in.access")
    );
    // In the tenancy's trail, as the administrator's sign-in (the operator's is the
    // installation's).
    let trail = app
        .get(
            &format!(
                "/api/v1/tenancies/{}/audit?action=console.signed_in",
                acme.id
            ),
            &app.operator,
        )
        .await
        .expect(200);
    assert_eq!(trail["items"].as_array().unwrap().len(), 1, "{trail:#}");

    // The flow is spent: its cookie is gone, and the same answer again signs no one in.
    assert!(
        back.set_cookie
            .iter()
            .any(|c| c.starts_with("liaison_console_sso=;")
                || c.contains("liaison_console_sso=") && c.contains("Max-Age=0"))
    );
    let again = come_back(&Visitor::new(&app), &authorize).await;
    assert_eq!(again.status, 400);
}

async fn an_administrator_of_two_tenancies_the_org_serves_chooses_one(app: TestApp) {
    let (acme, link) = acme(&app).await;
    let family = app.tenancy("Acme Family Office", "contact_groups").await;
    app.post(
        &format!("/api/v1/tenancies/{}/staff", family.id),
        &app.operator,
        json!({ "first_name": "Ada", "last_name": "Admin", "email": "admin@acme-wealth.example",
                "role": "users_administrator" }),
    )
    .await
    .expect(201);
    app.patch(
        &format!("/api/v1/org-links/{link}"),
        &app.operator,
        json!({ "tenancies": [acme.id, family.id] }),
    )
    .await
    .expect(200);
    salesforce_answers(&app, userinfo(json!({}))).await;
    let visitor = Visitor::new(&app);
    let authorize = ask_salesforce(&visitor, &app.salesforce.uri())
        .await
        .location
        .unwrap();
    let choose = come_back(&visitor, &authorize).await;
    assert_eq!(choose.status, 200, "{}", choose.body);
    assert!(choose.body.contains("Sign in to Acme Wealth"));
    assert!(choose.body.contains("Sign in to Acme Family Office"));
    // Nothing is open until one is chosen.
    assert!(visitor.get("/console").await.to_sign_in());
    let action = choose
        .body
        .split("<form")
        .find(|form| form.contains("Acme Family Office"))
        .and_then(|form| form.split("action=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("a form for the family office")
        .to_string();
    let opened = visitor.post(&action, &[("csrf", &choose.csrf())]).await;
    assert_eq!(
        (opened.status, opened.location.as_deref()),
        (303, Some("/console"))
    );
    let home = visitor.get("/console").await;
    assert!(home.body.contains("Acme Family Office"), "{}", home.body);
}

async fn who_is_not_an_administrator_there_is_not_signed_in(app: TestApp) {
    let (acme, _) = acme(&app).await;
    app.staff(&acme, "Jo", "Bloggs", "staff").await;
    salesforce_answers(
        &app,
        userinfo(json!({ "email": "jo.bloggs@firm.example", "name": "Jo Bloggs" })),
    )
    .await;
    let visitor = Visitor::new(&app);
    let authorize = ask_salesforce(&visitor, &app.salesforce.uri())
        .await
        .location
        .unwrap();
    let refused = come_back(&visitor, &authorize).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .body
            .contains("Jo Bloggs, who is not an active system or users administrator"),
        "{}",
        refused.body
    );
    assert!(visitor.get("/console").await.to_sign_in());

    // Nobody at all by that e-mail: the same page.
    app.salesforce.reset().await;
    salesforce_answers(
        &app,
        userinfo(json!({ "email": "stranger@elsewhere.example", "name": "A Stranger" })),
    )
    .await;
    let authorize = ask_salesforce(&visitor, &app.salesforce.uri())
        .await
        .location
        .unwrap();
    assert_eq!(come_back(&visitor, &authorize).await.status, 403);
}

async fn a_user_of_another_org_or_an_inactive_user_is_not_signed_in(app: TestApp) {
    acme(&app).await;
    for (claims, says) in [
        (
            json!({ "organization_id": "00D000000000001AAA" }),
            "another Salesforce org than the one linked",
        ),
        (json!({ "active": false }), "not active in the org"),
    ] {
        app.salesforce.reset().await;
        salesforce_answers(&app, userinfo(claims)).await;
        let visitor = Visitor::new(&app);
        let authorize = ask_salesforce(&visitor, &app.salesforce.uri())
            .await
            .location
            .unwrap();
        let refused = come_back(&visitor, &authorize).await;
        assert_eq!(refused.status, 400);
        assert!(refused.body.contains(says), "{says} in {}", refused.body);
        assert!(visitor.get("/console").await.to_sign_in());
    }
    let trail = app
        .get("/api/v1/audit?action=console.signed_in", &app.operator)
        .await
        .expect(200);
    assert!(trail["items"].as_array().unwrap().is_empty());
}

async fn a_callback_this_browser_did_not_start_trades_no_code(app: TestApp) {
    acme(&app).await;
    salesforce_answers(&app, userinfo(json!({}))).await;
    let started = Visitor::new(&app);
    let authorize = ask_salesforce(&started, &app.salesforce.uri())
        .await
        .location
        .unwrap();
    // Another browser, without the flow's cookie.
    let other = come_back(&Visitor::new(&app), &authorize).await;
    assert_eq!(other.status, 400);
    assert!(
        other
            .body
            .contains("This browser did not start this sign-in")
    );
    // The right browser with another state.
    let forged = started
        .get("/console/sign-in/salesforce/callback?code=aPrx.sign.in&state=forged")
        .await;
    assert_eq!(forged.status, 400);
    // Salesforce saying no.
    let denied = started
        .get("/console/sign-in/salesforce/callback?error=access_denied&error_description=end-user+denied+authorization")
        .await;
    assert_eq!(denied.status, 400);
    assert!(
        denied
            .body
            .contains("access_denied: end-user denied authorization")
    );
    assert!(received(&app, "/services/oauth2/token").await.is_empty());
    assert!(started.get("/console").await.to_sign_in());
}

async fn a_domain_that_names_no_linked_org_is_refused_beside_the_field(app: TestApp) {
    acme(&app).await;
    let visitor = Visitor::new(&app);
    for (domain, says) in [
        (
            "globex",
            "No Salesforce org at globex.my.salesforce.com signs in to Liaison.",
        ),
        ("login.salesforce.com", "shared by every Salesforce org"),
        ("acme corp", "letters, digits, hyphens and dots only"),
        ("", "Enter your org&#x27;s My Domain"),
    ] {
        let page = ask_salesforce(&visitor, domain).await;
        assert_eq!(page.status, 422, "{domain}");
        let beside = page
            .body
            .split("id=\"domain-error\">")
            .nth(1)
            .unwrap_or_else(|| panic!("no error beside the domain for {domain:?}"));
        assert!(
            beside.starts_with(says) || beside.contains(says),
            "{says} in {beside}"
        );
    }
    // Without the form's CSRF value, nothing is looked up.
    let stale = visitor
        .post("/console/sign-in/salesforce", &[("domain", "globex")])
        .await;
    assert_eq!(stale.status, 403);
    assert_called_nothing(&app).await;
}

async fn a_paused_link_signs_no_one_in_and_calls_nothing(app: TestApp) {
    let (_, link) = acme(&app).await;
    app.patch(
        &format!("/api/v1/org-links/{link}"),
        &app.operator,
        json!({ "paused": true, "pause_reason": "the org is being migrated" }),
    )
    .await
    .expect(200);
    let visitor = Visitor::new(&app);
    let refused = ask_salesforce(&visitor, &app.salesforce.uri()).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("link to Liaison is paused"));
    let direct = visitor
        .get(&format!("/console/sign-in/salesforce/{link}"))
        .await;
    assert_eq!(direct.status, 400);
    assert_called_nothing(&app).await;
}

/// Asserts Salesforce received no request at all.
async fn assert_called_nothing(app: &TestApp) {
    let received = app.salesforce.received_requests().await.unwrap_or_default();
    assert!(received.is_empty(), "{received:?}");
}

/// Salesforce's authorize page, as a user who signs in at once: back to the callback with a
/// code and the flow's state.
struct SignsInAtOnce;

impl Respond for SignsInAtOnce {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let url = request.url.as_str();
        let back = format!(
            "{}?code=aPrx.sign.in&state={}",
            query_value(url, "redirect_uri"),
            query_value(url, "state")
        );
        ResponseTemplate::new(302).insert_header("location", back.as_str())
    }
}

async fn signing_in_with_salesforce_works_in_a_browser(app: TestApp) {
    acme(&app).await;
    salesforce_answers(&app, userinfo(json!({}))).await;
    Mock::given(method("GET"))
        .and(path("/services/oauth2/authorize"))
        .respond_with(SignsInAtOnce)
        .mount(&app.salesforce)
        .await;
    let browser = Browser::start().await;
    browser
        .client
        .goto(&format!("{}/console/sign-in", app.address))
        .await
        .unwrap();
    browser.heading("Sign in to the Liaison console").await;
    browser.snapshot("console-sign-in").await;
    let domain = browser
        .client
        .find(Locator::Id("domain"))
        .await
        .expect("the domain field");
    domain.send_keys(&app.salesforce.uri()).await.unwrap();
    browser.click("#sign-in-salesforce").await;
    browser
        .wait_for(
            Locator::XPath("//*[contains(., 'Welcome, Ada')]"),
            "the console's welcome",
        )
        .await;
    browser.stop().await;
    assert_eq!(received(&app, "/services/oauth2/userinfo").await.len(), 1);
}
