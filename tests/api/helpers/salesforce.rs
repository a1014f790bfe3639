//! Salesforce as the tests see it: fixtures, connected links, the OAuth callback, a `Crm`.

use super::{TEST_ENCRYPTION_KEY, Tenancy, TestApp, crm_config};
use liaison::crm::Crm;
use liaison::secrets::Sealer;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, Request, ResponseTemplate};

pub const ORG_ID: &str = "00D5g000004ZKTDEA4";

/// A fixture as wiremock's answer, with `{{instance_url}}` pointing at the mock server.
pub fn fixture(app: &TestApp, name: &str) -> ResponseTemplate {
    let path = format!("{}/wiremock-fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    let text = text.replace("{{instance_url}}", &app.salesforce.uri());
    let parsed: Value = serde_json::from_str(&text).expect("fixture JSON");
    let mut response = ResponseTemplate::new(parsed["status"].as_u64().unwrap_or(200) as u16)
        .set_body_json(parsed["body"].clone());
    if let Some(headers) = parsed["headers"].as_object() {
        for (name, value) in headers {
            response = response.insert_header(name.as_str(), value.as_str().unwrap_or(""));
        }
    }
    response
}

pub fn form(request: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

pub fn form_value(request: &Request, key: &str) -> Option<String> {
    form(request)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

pub async fn web_server_link(app: &TestApp, t: &Tenancy) -> Value {
    app.post(
        "/api/v1/org-links",
        &app.operator,
        json!({ "name": "Acme production", "org_id": ORG_ID, "login_host": app.salesforce.uri(),
                "auth_kind": "web_server", "consumer_key": "3MVG9consumer", "consumer_secret": "s3cret-consumer",
                "tenancies": [t.id] }),
    )
    .await
    .expect(201)
}

pub async fn jwt_link(app: &TestApp, t: &Tenancy) -> Value {
    let key = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/wiremock-fixtures/oauth/test-only-jwt-key.pem"
    ))
    .expect("key");
    app.post(
        "/api/v1/org-links",
        &app.operator,
        json!({ "name": "Acme integration", "org_id": ORG_ID, "login_host": app.salesforce.uri(),
                "auth_kind": "jwt_bearer", "consumer_key": "3MVG9consumer", "private_key": key,
                "integration_username": "integration@acme.example", "tenancies": [t.id] }),
    )
    .await
    .expect(201)
}

/// Connects a web-server link through the real flow and returns its id.
pub async fn connect(app: &TestApp, link: &Value) -> Uuid {
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=authorization_code"))
        .respond_with(fixture(app, "oauth/token-web-server.json"))
        .mount(&app.salesforce)
        .await;
    let id = link["id"].as_str().expect("id");
    let connect = app
        .post(
            &format!("/api/v1/org-links/{id}/connect"),
            &app.operator,
            json!({}),
        )
        .await
        .expect(200);
    let (location, cookie) = open_ticket(app, connect["connect_url"].as_str().expect("url")).await;
    let state = query_value(&location, "state");
    let page = callback(app, &format!("code=aPrx.code&state={state}"), Some(&cookie)).await;
    assert_eq!(page.0, 200, "{}", page.1);
    Uuid::parse_str(id).expect("uuid")
}

/// Opens a connect URL as a browser would, without following the redirect.
pub async fn open_ticket(app: &TestApp, url: &str) -> (String, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = client.get(url).send().await.expect("start");
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(location.starts_with(&app.salesforce.uri()), "{location}");
    (
        location,
        cookie.split(';').next().expect("pair").to_string(),
    )
}

pub async fn callback(app: &TestApp, query: &str, cookie: Option<&str>) -> (u16, String) {
    let mut request = app
        .http
        .get(format!("{}/salesforce/oauth/callback?{query}", app.address));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.expect("callback");
    (
        response.status().as_u16(),
        response.text().await.expect("text"),
    )
}

pub fn query_value(url: &str, key: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A `Crm` on the test's store, as the workers and the invite flow use it.
pub fn crm(app: &TestApp) -> Crm {
    crm_with(app, crm_config(&app.address))
}

/// A `Crm` of the app's store with settings of the test's own.
pub fn crm_with(app: &TestApp, config: liaison::config::CrmConfig) -> Crm {
    Crm::new(
        app.store.clone(),
        Some(Sealer::from_base64_key(TEST_ENCRYPTION_KEY).expect("key")),
        config,
    )
}

/// Salesforce's authorize page as a browser sees it: a question and an *Allow* link back to
/// the `redirect_uri` it was given, with a code and the `state` it was given.
pub async fn authorize_page(app: &TestApp) {
    Mock::given(method("GET"))
        .and(path("/services/oauth2/authorize"))
        .respond_with(|request: &Request| {
            let asked = |key: &str| {
                request
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let answer = form_urlencoded::Serializer::new(String::new())
                .append_pair("code", "aPrx.code")
                .append_pair("state", &asked("state"))
                .finish();
            let allow = format!("{}?{answer}", asked("redirect_uri")).replace('&', "&amp;");
            let page = format!(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                 <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
                 <title>Allow access?</title></head><body><h1>Allow access?</h1>\
                 <p>The connected app {} asks to access your data.</p>\
                 <p><a id=\"allow\" href=\"{allow}\">Allow</a></p></body></html>",
                asked("client_id").replace('<', "&lt;")
            );
            ResponseTemplate::new(200).set_body_raw(page, "text/html; charset=utf-8")
        })
        .mount(&app.salesforce)
        .await;
}
