//! Outbound calls go only where Salesforce is: login hosts are checked when set, and every
//! URL (the stored login host and instance URL, the `instance_url` and identity URL of a token
//! answer) again before a call; names that resolve inside the network are refused by the
//! resolver. Most tests run with the test-double switch off, as in production.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use liaison::config::CrmConfig;
use liaison::crm::Crm;
use liaison::crm::LinkError;
use liaison::crm::client::Session;
use liaison::crm::error::CrmError;
use liaison::crm::hosts::Lookup;
use liaison::secrets::Sealer;
use liaison::store::OrgLinkUpdate;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::salesforce::{callback, connect, crm, jwt_link, open_ticket, query_value};
use crate::helpers::{Reply, TEST_ENCRYPTION_KEY, Tenancy, TestApp, TestOptions, crm_config};
use crate::on_both_backends;

const ORG_ID: &str = "00D5g000004ZKTDEA4";

/// The hosts of the report, and look-alikes of Salesforce's.
const PROBES: &[&str] = &[
    "https://169.254.169.254",
    "https://127.0.0.1:5432",
    "https://10.0.0.1",
    "https://localhost",
    "https://evil.com",
    "https://my.salesforce.com.evil.com",
    "https://x.my.salesforce.com@evil.com",
    "https://acme.my.salesforce.com:8443",
    "https://[::1]",
    "http://127.0.0.1:8080",
];

/// The test-double switch off: only Salesforce's hosts, over https.
fn strict() -> TestOptions {
    TestOptions {
        strict_hosts: true,
        ..Default::default()
    }
}

fn with_egress_proxy() -> TestOptions {
    TestOptions {
        strict_hosts: true,
        allowed_hosts: vec!["sf-egress.corp.example:8443".into()],
        ..Default::default()
    }
}

/// A resolver fed from a table: Salesforce names that resolve inside the network.
struct Table(HashMap<String, Vec<IpAddr>>);

impl Lookup for Table {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        let found = self.0.get(&host).cloned();
        Box::pin(async move { found.ok_or_else(|| std::io::Error::other("no such host")) })
    }
}

const INTERNAL_NAMES: &[(&str, &str)] = &[
    ("loop.my.salesforce.com", "127.0.0.1"),
    ("meta.my.salesforce.com", "169.254.169.254"),
    ("private.my.salesforce.com", "10.0.0.1"),
    ("v6.my.salesforce.com", "::1"),
];

fn resolving_inside() -> TestOptions {
    let table = INTERNAL_NAMES
        .iter()
        .map(|(name, ip)| (name.to_string(), vec![ip.parse().expect("ip")]))
        .collect();
    TestOptions {
        strict_hosts: true,
        lookup: Some(Arc::new(Table(table))),
        ..Default::default()
    }
}

on_both_backends!(with super::strict();
    each_probe_host_is_refused_on_create_and_update_and_nothing_is_stored,
    a_stored_login_host_outside_the_rule_is_refused_before_any_call,
);
on_both_backends!(with super::with_egress_proxy(); an_allow_listed_host_is_accepted_on_its_port_only);
on_both_backends!(with super::resolving_inside(); a_salesforce_name_resolving_inside_the_network_is_refused_before_any_call);
on_both_backends!(
    a_token_answer_pointing_outside_salesforce_is_refused_and_nothing_is_stored,
    a_renewal_answer_pointing_outside_salesforce_marks_the_link_unauthorized,
);

fn link_body(t: &Tenancy, login_host: &str) -> Value {
    json!({ "name": "Acme production", "org_id": ORG_ID, "login_host": login_host,
            "auth_kind": "web_server", "consumer_key": "3MVG9consumer", "consumer_secret": "s3cret",
            "tenancies": [t.id] })
}

fn jwt_body(t: &Tenancy, login_host: &str) -> Value {
    let key = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/wiremock-fixtures/oauth/test-only-jwt-key.pem"
    ))
    .expect("key");
    json!({ "name": "Acme integration", "org_id": ORG_ID, "login_host": login_host,
            "auth_kind": "jwt_bearer", "consumer_key": "3MVG9consumer", "private_key": key,
            "integration_username": "integration@acme.example", "tenancies": [t.id] })
}

/// Asserts a 422 naming `login_host` alone, with a reason that says what is accepted.
#[track_caller]
fn refused_login_host(reply: Reply, raw: &str) {
    let body = reply.problem(422);
    assert_eq!(Reply::fields(&body), ["login_host"], "{raw}: {body:#}");
    let reason = body["errors"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("production, sandbox") && reason.contains("my.salesforce.com"),
        "{raw}: {reason}"
    );
}

async fn links(app: &TestApp) -> Vec<Value> {
    app.get("/api/v1/org-links", &app.operator)
        .await
        .expect(200)["items"]
        .as_array()
        .expect("items")
        .clone()
}

async fn each_probe_host_is_refused_on_create_and_update_and_nothing_is_stored(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    for raw in PROBES {
        refused_login_host(
            app.post("/api/v1/org-links", &app.operator, link_body(&t, raw))
                .await,
            raw,
        );
    }
    assert!(links(&app).await.is_empty());

    // Salesforce's forms are accepted, and stored as the host alone, lowercased.
    let link = app
        .post(
            "/api/v1/org-links",
            &t.admin_token,
            link_body(&t, "HTTPS://Acme.My.Salesforce.com/"),
        )
        .await
        .expect(201);
    assert_eq!(link["login_host"], "https://acme.my.salesforce.com");
    let at = format!("/api/v1/org-links/{}", link["id"].as_str().expect("id"));
    for raw in PROBES {
        refused_login_host(
            app.patch(
                &at,
                &t.admin_token,
                json!({ "login_host": raw, "name": "Renamed" }),
            )
            .await,
            raw,
        );
    }
    let unchanged = app.get(&at, &app.operator).await.expect(200);
    assert_eq!(unchanged["login_host"], "https://acme.my.salesforce.com");
    assert_eq!(unchanged["name"], "Acme production");

    for (raw, stored) in [
        (
            "https://acme--uat.sandbox.my.salesforce.com",
            "https://acme--uat.sandbox.my.salesforce.com",
        ),
        (
            "https://agency.my.salesforce-gov.com",
            "https://agency.my.salesforce-gov.com",
        ),
        (
            "https://agency--uat.sandbox.my.salesforce-gov.com",
            "https://agency--uat.sandbox.my.salesforce-gov.com",
        ),
        (
            "https://unit.my.salesforce.mil",
            "https://unit.my.salesforce.mil",
        ),
        ("sandbox", "https://test.salesforce.com"),
        ("production", "https://login.salesforce.com"),
    ] {
        let changed = app
            .patch(&at, &t.admin_token, json!({ "login_host": raw }))
            .await
            .expect(200);
        assert_eq!(changed["login_host"], stored, "{raw}");
    }
}

async fn an_allow_listed_host_is_accepted_on_its_port_only(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    for raw in [
        "https://sf-egress.corp.example",
        "https://sf-egress.corp.example:9443",
        "http://sf-egress.corp.example:8443",
        "https://other.corp.example:8443",
    ] {
        refused_login_host(
            app.post("/api/v1/org-links", &app.operator, link_body(&t, raw))
                .await,
            raw,
        );
    }
    let link = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            link_body(&t, "https://sf-egress.corp.example:8443"),
        )
        .await
        .expect(201);
    assert_eq!(link["login_host"], "https://sf-egress.corp.example:8443");
    // The allow-list adds hosts; it takes none of the probes' refusals away.
    let at = format!("/api/v1/org-links/{}", link["id"].as_str().expect("id"));
    for raw in PROBES {
        refused_login_host(
            app.patch(&at, &app.operator, json!({ "login_host": raw }))
                .await,
            raw,
        );
    }
}

/// A `Crm` on the app's store with the test-double switch off.
fn strict_crm(app: &TestApp) -> Crm {
    Crm::new(
        app.store.clone(),
        Some(Sealer::from_base64_key(TEST_ENCRYPTION_KEY).expect("key")),
        CrmConfig {
            allow_http_login_hosts: false,
            ..crm_config(&app.address)
        },
    )
}

async fn a_stored_login_host_outside_the_rule_is_refused_before_any_call(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&app.salesforce)
        .await;
    let jwt = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            jwt_body(&t, "https://acme.my.salesforce.com"),
        )
        .await
        .expect(201);
    let id = Uuid::parse_str(jwt["id"].as_str().expect("id")).expect("uuid");
    // A row written before the rule (or under other settings) points at a local service.
    liaison::app::org_links::update(
        &app.store,
        id,
        None,
        OrgLinkUpdate {
            login_host: Some(app.salesforce.uri()),
            ..Default::default()
        },
        None,
        None,
        &liaison::domain::audit::Actor::from_label("an older release"),
    )
    .await
    .expect("stored");
    let refused = app
        .post(
            &format!("/api/v1/org-links/{id}/connect"),
            &app.operator,
            json!({}),
        )
        .await
        .problem(409);
    assert_eq!(refused["code"], "host-refused", "{refused:#}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("does not use https://"),
        "{refused:#}"
    );

    // A connected link whose stored instance URL and login host are local: the record read
    // is refused, and so is the renewal, which marks the link with the reason.
    let sealer = Sealer::from_base64_key(TEST_ENCRYPTION_KEY).expect("key");
    let access = sealer.seal("00D!access", &format!("org_link:{id}:access_token"));
    assert!(
        app.store
            .store_tokens(id, 0, &app.salesforce.uri(), &access, None, None)
            .await
            .expect("tokens")
    );
    let crm = strict_crm(&app);
    let link = app.store.org_link(id, None).await.expect("link");
    let read = crm
        .with_session(&link, |session: Session| {
            let crm = &crm;
            async move {
                crm.salesforce()
                    .get_record(&session, "Contact", "0035g00000XyZabAAB", &["Email".into()])
                    .await
            }
        })
        .await;
    assert!(
        matches!(read, Err(LinkError::Crm(CrmError::HostRefused(_)))),
        "{read:?}"
    );
    let version = app
        .store
        .link_secrets(id)
        .await
        .expect("secrets")
        .token_version;
    let renewed = crm.renew(&link, version).await;
    assert!(
        matches!(renewed, Err(LinkError::Crm(CrmError::HostRefused(_)))),
        "{renewed:?}"
    );
    let after = app
        .get(&format!("/api/v1/org-links/{id}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(after["state"], "unauthorized");
    let reason = after["state_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("login host") && reason.contains("reconnect"),
        "{reason}"
    );
    assert!(
        app.store
            .link_secrets(id)
            .await
            .expect("secrets")
            .access_token
            .is_none()
    );
    assert!(
        app.salesforce
            .received_requests()
            .await
            .expect("recorded")
            .is_empty(),
        "nothing may reach the local service"
    );
}

async fn a_salesforce_name_resolving_inside_the_network_is_refused_before_any_call(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let link = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            jwt_body(&t, "https://loop.my.salesforce.com"),
        )
        .await
        .expect(201);
    let id = link["id"].as_str().expect("id");
    for (name, ip) in INTERNAL_NAMES {
        app.patch(
            &format!("/api/v1/org-links/{id}"),
            &app.operator,
            json!({ "login_host": format!("https://{name}") }),
        )
        .await
        .expect(200);
        let refused = app
            .post(
                &format!("/api/v1/org-links/{id}/connect"),
                &app.operator,
                json!({}),
            )
            .await
            .problem(409);
        assert_eq!(refused["code"], "host-refused", "{name}: {refused:#}");
        let detail = refused["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(&format!("{name} resolves to {ip}")),
            "{name}: {detail}"
        );
        let after = app
            .get(&format!("/api/v1/org-links/{id}"), &app.operator)
            .await
            .expect(200);
        assert_eq!(after["state"], "not_connected");
        assert!(after["instance_url"].is_null());
    }
}

/// A token answer as Salesforce's JWT bearer flow gives it, with these URLs.
fn token_answer(instance_url: &str, id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": "00D5g000004ZKTD!AQ0AQ.hostile", "refresh_token": "5Aep861hostile",
        "instance_url": instance_url, "id": id, "token_type": "Bearer", "scope": "api"
    }))
}

const GOOD_ID: &str = "https://login.salesforce.com/id/00D5g000004ZKTDEA4/0055g00000Int3gAAB";

async fn a_token_answer_pointing_outside_salesforce_is_refused_and_nothing_is_stored(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let link = jwt_link(&app, &t).await;
    let id = link["id"].as_str().expect("id");
    let uuid = Uuid::parse_str(id).expect("uuid");
    for (instance_url, identity, named) in [
        ("https://169.254.169.254", GOOD_ID, "instance_url"),
        ("https://evil.example", GOOD_ID, "instance_url"),
        ("https://10.0.0.1/", GOOD_ID, "instance_url"),
        (
            "https://acme.my.salesforce.com.evil.example",
            GOOD_ID,
            "instance_url",
        ),
        (
            "https://acme.my.salesforce.com",
            "https://evil.example/id/00D5g000004ZKTDEA4/0055g00000Int3gAAB",
            "identity URL",
        ),
        (
            "https://acme.my.salesforce.com",
            "https://169.254.169.254/id/00D5g000004ZKTDEA4/0055g00000Int3gAAB",
            "identity URL",
        ),
    ] {
        app.salesforce.reset().await;
        Mock::given(method("POST"))
            .and(path("/services/oauth2/token"))
            .respond_with(token_answer(instance_url, identity))
            .expect(1)
            .mount(&app.salesforce)
            .await;
        let refused = app
            .post(
                &format!("/api/v1/org-links/{id}/connect"),
                &app.operator,
                json!({}),
            )
            .await
            .problem(409);
        assert_eq!(refused["code"], "host-refused", "{refused:#}");
        let detail = refused["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(named), "{instance_url}: {detail}");
        let after = app
            .get(&format!("/api/v1/org-links/{id}"), &app.operator)
            .await
            .expect(200);
        assert_eq!(after["state"], "not_connected");
        assert!(after["instance_url"].is_null(), "{after:#}");
        assert!(
            app.store
                .link_secrets(uuid)
                .await
                .expect("secrets")
                .access_token
                .is_none()
        );
        app.salesforce.verify().await;
    }

    // The web-server flow: the callback refuses the answer and stores nothing.
    let web = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            json!({ "name": "Acme web", "org_id": "00D5g000004ZKTE", "login_host": app.salesforce.uri(),
                    "auth_kind": "web_server", "consumer_key": "3MVG9web", "consumer_secret": "s3cret",
                    "tenancies": [t.id] }),
        )
        .await
        .expect(201);
    let web_id = web["id"].as_str().expect("id");
    app.salesforce.reset().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(token_answer(
            "https://evil.example",
            "https://login.salesforce.com/id/00D5g000004ZKTEEA4/0055g00000A1b2cAAB",
        ))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let connect_url = app
        .post(
            &format!("/api/v1/org-links/{web_id}/connect"),
            &app.operator,
            json!({}),
        )
        .await
        .expect(200)["connect_url"]
        .as_str()
        .expect("url")
        .to_string();
    let (location, cookie) = open_ticket(&app, &connect_url).await;
    let state = query_value(&location, "state");
    let (status, page) = callback(&app, &format!("code=c&state={state}"), Some(&cookie)).await;
    assert_eq!(status, 502, "{page}");
    assert!(
        page.contains("instance_url") && page.contains("evil.example"),
        "{page}"
    );
    let after = app
        .get(&format!("/api/v1/org-links/{web_id}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(after["state"], "not_connected");
    assert!(after["instance_url"].is_null());
    let secrets = app
        .store
        .link_secrets(Uuid::parse_str(web_id).expect("uuid"))
        .await
        .expect("secrets");
    assert!(secrets.access_token.is_none() && secrets.refresh_token.is_none());
}

async fn a_renewal_answer_pointing_outside_salesforce_marks_the_link_unauthorized(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let id = connect(
        &app,
        &app.post(
            "/api/v1/org-links",
            &app.operator,
            link_body(&t, &app.salesforce.uri()),
        )
        .await
        .expect(201),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .respond_with(token_answer("https://169.254.169.254", GOOD_ID))
        .expect(1)
        .mount(&app.salesforce)
        .await;
    let crm = crm(&app);
    let link = app.store.org_link(id, None).await.expect("link");
    let version = app
        .store
        .link_secrets(id)
        .await
        .expect("secrets")
        .token_version;
    let renewed = crm.renew(&link, version).await;
    assert!(
        matches!(renewed, Err(LinkError::Crm(CrmError::HostRefused(_)))),
        "{renewed:?}"
    );
    let after = app
        .get(&format!("/api/v1/org-links/{id}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(after["state"], "unauthorized");
    let reason = after["state_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("instance_url") && reason.contains("169.254.169.254"),
        "{reason}"
    );
    // The hostile answer's instance URL and tokens are not kept.
    assert_eq!(after["instance_url"], app.salesforce.uri());
    let secrets = app.store.link_secrets(id).await.expect("secrets");
    assert!(secrets.access_token.is_none() && secrets.refresh_token.is_none());
    let calls: Vec<String> = app
        .salesforce
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert!(
        calls.iter().all(|p| p == "/services/oauth2/token"),
        "{calls:?}"
    );
}
