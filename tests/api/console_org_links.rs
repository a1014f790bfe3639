//! Managing org links in the admin console: linking an org with its form (a JWT bearer link's
//! key uploaded as a file), changing its settings, connecting it through Salesforce and back,
//! disconnecting, the tenancies it serves, its intake secrets, and the e-mail its
//! administrators get once when Salesforce stops accepting it. Each page refuses exactly where
//! the API does, with the API's own reasons beside the fields.

use fantoccini::Locator;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::TestApp;
use crate::helpers::console::{Page, Visitor, admin, operator, with_mail};
use crate::helpers::salesforce::{ORG_ID, fixture, query_value};
use crate::on_both_backends;

on_both_backends!(
    an_operator_links_an_org_with_the_form_and_sees_its_intake_secrets_once,
    the_form_shows_the_apis_reasons_beside_each_field,
    a_jwt_bearer_link_takes_its_key_as_a_file_and_connects_with_a_button,
    settings_are_changed_with_the_form_and_refused_as_the_api_refuses,
    connect_runs_the_web_server_flow_and_comes_back_to_the_links_page,
    the_tenancies_a_link_serves_are_added_and_removed_with_confirmation,
    intake_secrets_are_rotated_after_a_confirmation_and_shown_once,
    a_post_without_the_csrf_token_changes_no_link,
);

on_both_backends!(with super::with_mail();
    administrators_link_only_their_own_tenancy_and_users_administrators_are_refused,
    another_tenancys_administrator_gets_what_the_api_gives,
    administrators_are_emailed_once_when_a_link_turns_unauthorized,
);

const BOUNDARY: &str = "liaison-test-boundary";

/// A multipart body of these text fields and, if given, the private key file.
fn multipart(fields: &[(&str, &str)], key_file: Option<&str>) -> Vec<u8> {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"private_key\"; filename=\"key.pem\"\r\n\
         Content-Type: application/x-pem-file\r\n\r\n{}\r\n--{BOUNDARY}--\r\n",
        key_file.unwrap_or_default()
    ));
    body.into_bytes()
}

/// The console form's fields for a web-server link to the login host `host` serving `tenancies`.
fn web_server_fields<'a>(
    host: &'a str,
    csrf: &'a str,
    tenancies: &[&'a str],
) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("csrf", csrf),
        ("name", "Acme production"),
        ("org_id", ORG_ID),
        ("host_kind", "my_domain"),
        ("my_domain", host),
        ("auth_kind", "web_server"),
        ("consumer_key", "3MVG9consumer"),
        ("consumer_secret", "s3cret-consumer"),
        ("api_budget_percent", "20"),
    ];
    fields.extend(tenancies.iter().map(|t| ("tenancies", *t)));
    fields
}

/// Creates a link through the console's form as `visitor`: the answer.
async fn create(visitor: &Visitor, fields: &[(&str, &str)], key: Option<&str>) -> Page {
    visitor
        .post_multipart("/console/org-links/new", BOUNDARY, multipart(fields, key))
        .await
}

/// The page's text with the entities the escaper writes turned back into characters.
fn text(page: &Page) -> String {
    page.body
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn test_key() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/wiremock-fixtures/oauth/test-only-jwt-key.pem"
    ))
    .unwrap()
}

async fn only_link(app: &TestApp) -> Value {
    let list = app
        .get("/api/v1/org-links", &app.operator)
        .await
        .expect(200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    items[0].clone()
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let trail = app
        .get("/api/v1/audit?limit=200", &app.operator)
        .await
        .expect(200);
    trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

async fn an_operator_links_an_org_with_the_form_and_sees_its_intake_secrets_once(app: TestApp) {
    let host = app.salesforce.uri();
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let bravo = app.tenancy("Bravo Trust", "client_teams").await;
    let visitor = operator(&app).await;
    let list = visitor.get("/console/org-links").await;
    assert!(list.body.contains("href=\"/console/org-links/new\""));
    let form = visitor.get("/console/org-links/new").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("enctype=\"multipart/form-data\""));
    assert!(form.body.contains("Acme Wealth") && form.body.contains("Bravo Trust"));

    let csrf = form.csrf();
    let fields = web_server_fields(&host, &csrf, &[&acme.id, &bravo.id]);
    let created = create(&visitor, &fields, None).await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(created.body.contains("The org is linked"));
    assert!(
        created.body.contains("whsec_"),
        "the signing secret, shown once"
    );
    let link = only_link(&app).await;
    let id = link["id"].as_str().unwrap();
    assert!(
        created
            .body
            .contains(&format!("/salesforce/outbound/{id}/"))
    );
    assert_eq!(link["auth_kind"], "web_server");
    assert_eq!(link["tenancies"].as_array().unwrap().len(), 2);
    assert_eq!(link["has_consumer_secret"], true);
    assert!(
        audit_actions(&app)
            .await
            .contains(&"org_link.created".to_string())
    );
    // The Salesforce Setup steps name the fields Liaison reads.
    for step in [
        "Outbound Message",
        "LastModifiedById",
        "PersonEmail",
        "record-triggered flow",
    ] {
        assert!(created.body.contains(step), "{step}");
    }

    // Shown once: the intake page later holds neither secret.
    let intake = visitor
        .get(&format!("/console/org-links/{id}/intake"))
        .await;
    assert_eq!(intake.status, 200);
    assert!(!intake.body.contains("whsec_") && !intake.body.contains("/salesforce/outbound/"));
    assert!(intake.body.contains(&format!("/webhooks/salesforce/{id}")));
    let detail = visitor.get(&format!("/console/org-links/{id}")).await;
    assert!(detail.body.contains("id=\"connect\"") && detail.body.contains(">Connect<"));
}

async fn the_form_shows_the_apis_reasons_beside_each_field(app: TestApp) {
    app.tenancy("Acme Wealth", "client_teams").await;
    let visitor = operator(&app).await;
    let csrf = visitor.get("/console/org-links/new").await.csrf();
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", " "),
        ("org_id", "0015g000004ZKTD"),
        ("host_kind", "my_domain"),
        ("my_domain", "https://login.example.com"),
        ("auth_kind", "jwt_bearer"),
        ("consumer_key", ""),
        ("api_budget_percent", "150"),
    ];
    let page = create(&visitor, &fields, None).await;
    // The API, asked the same, refuses the same fields for the same reasons.
    let api = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            json!({ "name": " ", "org_id": "0015g000004ZKTD", "login_host": "https://login.example.com",
                    "auth_kind": "jwt_bearer", "consumer_key": "", "api_budget_percent": 150,
                    "tenancies": [] }),
        )
        .await
        .problem(422);
    assert_eq!(page.status, 422, "{}", page.body);
    let shown = text(&page);
    let errors = api["errors"].as_array().unwrap();
    assert!(errors.len() >= 6, "{api}");
    for error in errors {
        let field = error["field"].as_str().unwrap();
        let reason = error["reason"].as_str().unwrap();
        assert!(shown.contains(reason), "{field}: {reason}");
        assert!(
            page.body.contains(&format!("id=\"{field}-error\"")),
            "{field}"
        );
    }
    assert!(page.body.contains("slds-has-error"));
    // What was typed stays, secrets apart.
    assert!(page.body.contains("value=\"0015g000004ZKTD\""));
    assert!(
        app.get("/api/v1/org-links", &app.operator)
            .await
            .expect(200)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

async fn a_jwt_bearer_link_takes_its_key_as_a_file_and_connects_with_a_button(app: TestApp) {
    let host = app.salesforce.uri();
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let visitor = operator(&app).await;
    let csrf = visitor.get("/console/org-links/new").await.csrf();
    let mut fields = web_server_fields(&host, &csrf, &[&acme.id]);
    fields.retain(|(name, _)| !["auth_kind", "consumer_secret"].contains(name));
    fields.push(("auth_kind", "jwt_bearer"));
    fields.push(("integration_username", "integration@acme.example"));

    let not_a_key = create(&visitor, &fields, Some("this is not a key")).await;
    assert_eq!(not_a_key.status, 422);
    assert!(
        not_a_key
            .body
            .contains("must be an RSA private key in PEM form")
    );
    assert!(not_a_key.body.contains("id=\"private_key-error\""));

    let created = create(&visitor, &fields, Some(&test_key())).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let link = only_link(&app).await;
    assert_eq!(link["auth_kind"], "jwt_bearer");
    assert_eq!(link["has_private_key"], true);
    let id = link["id"].as_str().unwrap();

    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("jwt-bearer"))
        .respond_with(fixture(&app, "oauth/token-jwt-bearer.json"))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let detail = visitor.get(&format!("/console/org-links/{id}")).await;
    let connected = visitor
        .post(
            &format!("/console/org-links/{id}/connect"),
            &[("csrf", &detail.csrf())],
        )
        .await;
    assert_eq!(connected.status, 303);
    assert_eq!(
        connected.location.as_deref(),
        Some(format!("/console/org-links/{id}").as_str())
    );
    let detail = visitor.get(&format!("/console/org-links/{id}")).await;
    assert!(detail.body.contains(">Connected<"), "{}", detail.body);
    assert!(detail.body.contains("id=\"disconnect\""));
    assert!(
        audit_actions(&app)
            .await
            .contains(&"org_link.connected".to_string())
    );
}

async fn settings_are_changed_with_the_form_and_refused_as_the_api_refuses(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let link = crate::helpers::salesforce::web_server_link(&app, &acme).await;
    let id = link["id"].as_str().unwrap();
    let visitor = operator(&app).await;
    let form = visitor.get(&format!("/console/org-links/{id}/edit")).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("value=\"Acme production\""));
    assert!(form.body.contains("Leave empty to keep"));
    let csrf = form.csrf();
    let uri = app.salesforce.uri();
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("name", "Acme live"),
        ("host_kind", "my_domain"),
        ("my_domain", uri.as_str()),
        ("consumer_key", "3MVG9other"),
        ("api_budget_percent", "0"),
    ];
    let path = format!("/console/org-links/{id}/edit");
    let refused = visitor
        .post_multipart(&path, BOUNDARY, multipart(&fields, None))
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("must be between 1 and 100"));
    assert_eq!(
        only_link(&app).await["name"],
        "Acme production",
        "nothing saved"
    );

    fields[5] = ("api_budget_percent", "35");
    let saved = visitor
        .post_multipart(&path, BOUNDARY, multipart(&fields, None))
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let after = only_link(&app).await;
    assert_eq!(after["name"], "Acme live");
    assert_eq!(after["consumer_key"], "3MVG9other");
    assert_eq!(after["api_budget_percent"], 35);
    assert_eq!(
        after["has_consumer_secret"], true,
        "an empty secret keeps the old"
    );
    assert!(
        audit_actions(&app)
            .await
            .contains(&"org_link.updated".to_string())
    );
}

async fn connect_runs_the_web_server_flow_and_comes_back_to_the_links_page(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let link = crate::helpers::salesforce::web_server_link(&app, &acme).await;
    let id = link["id"].as_str().unwrap();
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(fixture(&app, "oauth/token-web-server.json"))
        .mount(&app.salesforce)
        .await;
    let visitor = operator(&app).await;
    let page = format!("/console/org-links/{id}");
    let csrf = visitor.get(&page).await.csrf();
    let started = visitor
        .post(&format!("{page}/connect"), &[("csrf", &csrf)])
        .await;
    assert_eq!(started.status, 303);
    let start = started.location.unwrap();
    assert!(start.contains("/salesforce/oauth/start?ticket="), "{start}");
    let start = start.trim_start_matches(&app.address).to_string();
    let to_salesforce = visitor.get(&start).await;
    assert_eq!(to_salesforce.status, 303);
    let authorize = to_salesforce.location.unwrap();
    assert!(authorize.starts_with(&app.salesforce.uri()));
    let state = query_value(&authorize, "state");
    let back = visitor
        .get(&format!(
            "/salesforce/oauth/callback?code=aPrx.code&state={state}"
        ))
        .await;
    assert_eq!(
        (back.status, back.location.as_deref()),
        (303, Some(page.as_str()))
    );
    assert_eq!(only_link(&app).await["state"], "connected");
    let detail = visitor.get(&page).await;
    assert!(detail.body.contains(">Connected<"));

    // Disconnecting asks first.
    let ask = visitor.get(&format!("{page}/disconnect")).await;
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("Disconnect the org?"));
    assert_eq!(only_link(&app).await["state"], "connected");
    Mock::given(method("POST"))
        .and(path("/services/oauth2/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&app.salesforce)
        .await;
    let done = visitor
        .post(&format!("{page}/disconnect"), &[("csrf", &ask.csrf())])
        .await;
    assert_eq!(
        (done.status, done.location.as_deref()),
        (303, Some(page.as_str()))
    );
    assert_eq!(only_link(&app).await["state"], "not_connected");
    let actions = audit_actions(&app).await;
    assert!(
        actions.contains(&"org_link.disconnected".to_string()),
        "{actions:?}"
    );

    // A page to come back to is only ever a console page.
    let csrf = visitor.get(&page).await.csrf();
    let again = visitor
        .post(&format!("{page}/connect"), &[("csrf", &csrf)])
        .await
        .location
        .unwrap();
    let ticket = query_value(&again, "ticket");
    let elsewhere = visitor
        .get(&format!(
            "/salesforce/oauth/start?ticket={ticket}&return_to=https://evil.example/console/"
        ))
        .await;
    assert_eq!(elsewhere.status, 303);
    let state = query_value(elsewhere.location.as_deref().unwrap(), "state");
    let plain = visitor
        .get(&format!(
            "/salesforce/oauth/callback?code=aPrx.code&state={state}"
        ))
        .await;
    assert_eq!(plain.status, 200, "the plain page, no redirect");
    assert!(plain.body.contains("is connected"));
}

async fn the_tenancies_a_link_serves_are_added_and_removed_with_confirmation(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let bravo = app.tenancy("Bravo Trust", "client_teams").await;
    let link = crate::helpers::salesforce::web_server_link(&app, &acme).await;
    let id = link["id"].as_str().unwrap();
    let visitor = operator(&app).await;
    let page = format!("/console/org-links/{id}/tenancies");
    let shown = visitor.get(&page).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("Acme Wealth") && shown.body.contains("Bravo Trust"));
    let added = visitor
        .post(&page, &[("csrf", &shown.csrf()), ("tenancy", &bravo.id)])
        .await;
    assert_eq!(
        (added.status, added.location.as_deref()),
        (303, Some(page.as_str()))
    );
    assert_eq!(
        only_link(&app).await["tenancies"].as_array().unwrap().len(),
        2
    );

    let ask = visitor
        .get(&format!(
            "/console/org-links/{id}/tenancies/{}/remove",
            bravo.id
        ))
        .await;
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("Stop serving this tenancy?") && ask.body.contains("Bravo Trust"));
    let removed = visitor
        .post(
            &format!("/console/org-links/{id}/tenancies/remove"),
            &[("csrf", &ask.csrf()), ("tenancy", &bravo.id)],
        )
        .await;
    assert_eq!(removed.status, 303);
    let tenancies = only_link(&app).await["tenancies"].clone();
    assert_eq!(tenancies, json!([acme.id]));
    let trail = app
        .get(
            &format!("/api/v1/tenancies/{}/audit", bravo.id),
            &app.operator,
        )
        .await
        .expect(200)
        .to_string();
    assert!(trail.contains("org_link.tenancy_added") && trail.contains("org_link.tenancy_removed"));

    // The last one cannot go: the API's reason, on the page.
    let last = visitor
        .post(
            &format!("/console/org-links/{id}/tenancies/remove"),
            &[("csrf", &ask.csrf()), ("tenancy", &acme.id)],
        )
        .await;
    assert_eq!(last.status, 422);
    assert!(last.body.contains("name at least one tenancy"));
    let unknown = visitor
        .get(&format!(
            "/console/org-links/{id}/tenancies/{}/remove",
            bravo.id
        ))
        .await;
    assert_eq!(unknown.status, 404, "a tenancy it does not serve");
}

async fn intake_secrets_are_rotated_after_a_confirmation_and_shown_once(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let link = crate::helpers::salesforce::web_server_link(&app, &acme).await;
    let id = link["id"].as_str().unwrap();
    let visitor = operator(&app).await;
    let intake = visitor
        .get(&format!("/console/org-links/{id}/intake"))
        .await;
    assert!(
        intake
            .body
            .contains(&format!("/console/org-links/{id}/intake/rotate"))
    );
    let ask = visitor
        .get(&format!("/console/org-links/{id}/intake/rotate"))
        .await;
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("stop working at once"));
    assert!(
        !audit_actions(&app)
            .await
            .contains(&"intake_secrets.rotated".to_string())
    );
    let rotated = visitor
        .post(
            &format!("/console/org-links/{id}/intake/rotate"),
            &[("csrf", &ask.csrf())],
        )
        .await;
    assert_eq!(rotated.status, 200);
    assert!(rotated.body.contains("whsec_") && rotated.body.contains("shown this once"));
    assert!(
        audit_actions(&app)
            .await
            .contains(&"intake_secrets.rotated".to_string())
    );
    let old = link["intake_secrets"]["outbound_message_url"]
        .as_str()
        .unwrap();
    assert!(!rotated.body.contains(old), "a new URL");
}

async fn a_post_without_the_csrf_token_changes_no_link(app: TestApp) {
    let host = app.salesforce.uri();
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let link = crate::helpers::salesforce::web_server_link(&app, &acme).await;
    let id = link["id"].as_str().unwrap();
    let visitor = operator(&app).await;
    let fields = web_server_fields(&host, "forged", &[&acme.id]);
    assert_eq!(create(&visitor, &fields, None).await.status, 403);
    let edit = visitor
        .post_multipart(
            &format!("/console/org-links/{id}/edit"),
            BOUNDARY,
            multipart(&[("name", "Changed")], None),
        )
        .await;
    assert_eq!(edit.status, 403);
    for action in [
        "connect",
        "disconnect",
        "tenancies",
        "tenancies/remove",
        "intake/rotate",
    ] {
        let page = visitor
            .post(
                &format!("/console/org-links/{id}/{action}"),
                &[("csrf", "forged"), ("tenancy", &acme.id)],
            )
            .await;
        assert_eq!(page.status, 403, "{action}");
        assert!(page.body.contains("Nothing was changed"), "{action}");
    }
    let after = only_link(&app).await;
    assert_eq!(after["name"], "Acme production");
    assert_eq!(after["state"], "not_connected");
    let actions: Vec<String> = audit_actions(&app)
        .await
        .into_iter()
        .filter(|a| a.starts_with("org_link.") || a.starts_with("intake_secrets."))
        .collect();
    assert_eq!(actions, vec!["org_link.created".to_string()], "{actions:?}");
}

async fn administrators_link_only_their_own_tenancy_and_users_administrators_are_refused(
    app: TestApp,
) {
    let host = app.salesforce.uri();
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let bravo = app.tenancy("Bravo Trust", "client_teams").await;
    app.staff(&acme, "Uma", "Users", "users_administrator")
        .await;
    let ada = admin(&app, "admin@acme-wealth.example").await;
    let form = ada.get("/console/org-links/new").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Acme Wealth") && !form.body.contains("Bravo Trust"));
    let csrf = form.csrf();
    let refused = create(&ada, &web_server_fields(&host, &csrf, &[&bravo.id]), None).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("an administrator may only link their own tenancy")
    );
    let created = create(&ada, &web_server_fields(&host, &csrf, &[&acme.id]), None).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = only_link(&app).await["id"].as_str().unwrap().to_string();
    let detail = ada.get(&format!("/console/org-links/{id}")).await;
    assert!(
        detail.body.contains("id=\"edit\""),
        "Ada manages her tenancy's link"
    );

    // A users administrator is refused where the API refuses them: every page, every post.
    let uma = admin(&app, "uma.users@firm.example").await;
    let uma_csrf = uma.get("/console").await.csrf();
    assert_eq!(uma.get("/console/org-links/new").await.status, 403);
    assert_eq!(
        create(
            &uma,
            &web_server_fields(&host, &uma_csrf, &[&acme.id]),
            None
        )
        .await
        .status,
        403
    );
    for rest in ["edit", "tenancies", "intake", "disconnect", "intake/rotate"] {
        let page = uma.get(&format!("/console/org-links/{id}/{rest}")).await;
        assert_eq!(page.status, 403, "{rest}");
    }
    let connect = uma
        .post(
            &format!("/console/org-links/{id}/connect"),
            &[("csrf", &uma_csrf)],
        )
        .await;
    assert_eq!(connect.status, 403);
    assert_eq!(only_link(&app).await["state"], "not_connected");
}

async fn another_tenancys_administrator_gets_what_the_api_gives(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let bravo = app.tenancy("Bravo Trust", "client_teams").await;
    let own = crate::helpers::salesforce::web_server_link(&app, &acme).await;
    let shared = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            json!({ "name": "Group sandbox", "org_id": "00D5g000004ZKT2", "login_host": "sandbox",
                    "auth_kind": "web_server", "consumer_key": "3MVG9consumer", "consumer_secret": "s3cret",
                    "tenancies": [acme.id, bravo.id] }),
        )
        .await
        .expect(201);
    let bea = admin(&app, "admin@bravo-trust.example").await;
    let csrf = bea.get("/console").await.csrf();
    let token = bravo.admin_token.clone();
    for link in [&own, &shared] {
        let id = link["id"].as_str().unwrap();
        let api = |verb: reqwest::Method, rest: &str, body: Value| {
            let path = format!("/api/v1/org-links/{id}{rest}");
            let token = token.clone();
            let app = &app;
            async move {
                app.request(verb, &path, Some(&token), Some(body))
                    .await
                    .status
                    .as_u16()
            }
        };
        let api_patch = api(reqwest::Method::PATCH, "", json!({ "name": "Mine" })).await;
        let api_connect = api(reqwest::Method::POST, "/connect", json!({})).await;
        let api_rotate = api(reqwest::Method::POST, "/intake-secrets", json!({})).await;
        assert_eq!(
            bea.get(&format!("/console/org-links/{id}/edit"))
                .await
                .status,
            api_patch
        );
        let edit = bea
            .post_multipart(
                &format!("/console/org-links/{id}/edit"),
                BOUNDARY,
                multipart(&[("csrf", &csrf), ("name", "Mine")], None),
            )
            .await;
        assert_eq!(edit.status, api_patch, "{}", edit.body);
        let connect = bea
            .post(
                &format!("/console/org-links/{id}/connect"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(connect.status, api_connect);
        let rotate = bea
            .post(
                &format!("/console/org-links/{id}/intake/rotate"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(rotate.status, api_rotate);
        for rest in ["tenancies", "intake", "disconnect"] {
            let page = bea.get(&format!("/console/org-links/{id}/{rest}")).await;
            assert_eq!(page.status, api_patch, "{rest}");
        }
    }
    // Acme's link is not found for Bravo's administrator; the shared one is the operators'.
    let own_id = own["id"].as_str().unwrap();
    assert_eq!(
        app.patch(&format!("/api/v1/org-links/{own_id}"), &token, json!({}))
            .await
            .status,
        404
    );
    let detail = bea
        .get(&format!(
            "/console/org-links/{}",
            shared["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(detail.status, 200);
    assert!(
        !detail.body.contains("id=\"edit\""),
        "no button the API would refuse"
    );
    assert!(!detail.body.contains("id=\"connect\""));
}

async fn administrators_are_emailed_once_when_a_link_turns_unauthorized(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    let id = crate::helpers::salesforce::connect(
        &app,
        &crate::helpers::salesforce::web_server_link(&app, &acme).await,
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(fixture(&app, "oauth/invalid-grant.json"))
        .mount(&app.salesforce)
        .await;
    let crm = crate::helpers::salesforce::crm(&app);
    let smtp = app.smtp.as_ref().unwrap();
    let mailer = liaison::mail::SmtpMailer::new(&smtp.mail_config(&app.address)).unwrap();
    let config = liaison::config::InvitationConfig::default();
    let notices_to_ada = || {
        smtp.received()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == "admin@acme-wealth.example"))
            .filter(|m| m.raw.contains("Reconnect"))
            .count()
    };
    // A call Salesforce answers with an expired session renews, which is refused: the link
    // turns unauthorized and its administrators hear of it, once however often it is marked.
    refused_call(&app, &crm, id).await;
    app.store
        .mark_unauthorized(id, "refused again")
        .await
        .unwrap();
    for _ in 0..2 {
        liaison::jobs::link_notices::pass(&app.store, &mailer, &config, &app.address)
            .await
            .unwrap();
    }
    assert_eq!(
        app.store.org_link(id, None).await.unwrap().state.as_str(),
        "unauthorized"
    );
    assert_eq!(notices_to_ada(), 1);
    let mail = smtp
        .received()
        .into_iter()
        .find(|m| m.raw.contains("Reconnect"))
        .unwrap();
    assert!(
        mail.raw.contains(&format!("/console/org-links/{id}")),
        "{}",
        mail.raw
    );
    assert!(mail.raw.contains("invalid_grant"));

    // The link's page says why, with a Reconnect button.
    let ada = admin(&app, "admin@acme-wealth.example").await;
    let page = ada.get(&format!("/console/org-links/{id}")).await;
    assert!(page.body.contains("id=\"unauthorized\"") && page.body.contains(">Reconnect<"));

    // Connected again, then refused again: a second e-mail.
    crate::helpers::salesforce::connect(&app, &json!({ "id": id })).await;
    refused_call(&app, &crm, id).await;
    liaison::jobs::link_notices::pass(&app.store, &mailer, &config, &app.address)
        .await
        .unwrap();
    assert_eq!(notices_to_ada(), 2);
}

/// A record read Salesforce answers with an expired session, whose renewal it refuses.
async fn refused_call(app: &TestApp, crm: &liaison::crm::Crm, id: uuid::Uuid) {
    Mock::given(method("GET"))
        .and(path(
            "/services/data/v62.0/sobjects/Contact/0035g00000XyZabAAB",
        ))
        .respond_with(fixture(app, "rest/invalid-session.json"))
        .mount(&app.salesforce)
        .await;
    let link = app.store.org_link(id, None).await.unwrap();
    let read = crm
        .with_session(&link, |session: liaison::crm::client::Session| async move {
            crm.salesforce()
                .get_record(&session, "Contact", "0035g00000XyZabAAB", &["Email".into()])
                .await
        })
        .await;
    assert!(read.is_err());
}

on_both_backends!(an_admin_links_connects_and_sets_up_an_org_in_a_browser);

async fn an_admin_links_connects_and_sets_up_an_org_in_a_browser(app: TestApp) {
    let acme = app.tenancy("Acme Wealth", "client_teams").await;
    app.tenancy("Bravo Trust", "client_teams").await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("jwt-bearer"))
        .respond_with(fixture(&app, "oauth/token-jwt-bearer.json"))
        .mount(&app.salesforce)
        .await;
    let key = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key.path(), test_key()).unwrap();
    let browser = crate::helpers::console::operator_browser(&app).await;
    browser
        .client
        .goto(&format!("{}/console/org-links", app.address))
        .await
        .unwrap();
    browser.click("#new-link").await;
    browser.heading("Link an org").await;
    browser.snapshot("console-org-links-form").await;
    // Sent empty first: each field says what it needs.
    browser.click("#save").await;
    browser
        .wait_for(Locator::Css("#form-errors"), "the errors")
        .await;
    browser.snapshot("console-org-links-form-errors").await;

    let fill = |css: &'static str, value: String| {
        let browser = &browser;
        async move {
            let field = browser.client.find(Locator::Css(css)).await.unwrap();
            field.clear().await.unwrap();
            field.send_keys(&value).await.unwrap();
        }
    };
    fill("#name", "Acme integration".into()).await;
    fill("#org_id", ORG_ID.into()).await;
    browser.click("label[for='host_kind-my_domain']").await;
    fill("#my_domain", app.salesforce.uri()).await;
    fill("#api_budget_percent", "25".into()).await;
    browser.click("label[for='auth_kind-jwt_bearer']").await;
    fill("#consumer_key", "3MVG9consumer".into()).await;
    fill("#integration_username", "integration@acme.example".into()).await;
    let file = browser
        .client
        .find(Locator::Css("#private_key"))
        .await
        .unwrap();
    file.send_keys(&key.path().display().to_string())
        .await
        .unwrap();
    browser
        .click(&format!("label[for='tenancy-{}']", acme.id))
        .await;
    browser.click("#save").await;
    browser.heading("Intake setup for Acme integration").await;
    assert!(browser.value("#webhook_secret").await.starts_with("whsec_"));
    browser.snapshot("console-org-links-intake").await;

    let id = only_link(&app).await["id"].as_str().unwrap().to_string();
    browser
        .client
        .goto(&format!("{}/console/org-links/{id}", app.address))
        .await
        .unwrap();
    browser.heading("Acme integration").await;
    browser.click("#connect").await;
    browser
        .wait_for(Locator::Css("#disconnect"), "the connected link")
        .await;
    assert!(browser.text("#org-link").await.contains("Connected"));
    browser.snapshot("console-org-links-connected").await;

    browser.click("#manage-tenancies").await;
    browser
        .heading("Tenancies served by Acme integration")
        .await;
    browser.click("#add-tenancy").await;
    browser
        .wait_for(Locator::XPath("//ul[@id='served']/li[2]"), "two tenancies")
        .await;
    browser.snapshot("console-org-links-tenancies").await;
    browser
        .client
        .find(Locator::Css("#served li:last-child a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.heading("Stop serving this tenancy?").await;
    browser.snapshot("console-org-links-confirm").await;
    browser.click("#confirm").await;
    browser
        .heading("Tenancies served by Acme integration")
        .await;
    assert_eq!(
        only_link(&app).await["tenancies"].as_array().unwrap().len(),
        1
    );
    browser.stop().await;
}
