//! The canvas form as a browser drives it: a signed request, the pages, their forms.

use super::salesforce::connect;
use super::{Tenancy, TestApp};
use liaison::crm::canvas::sign;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, ResponseTemplate};

pub const ORG_ID: &str = "00D5g000004ZKTDEA4";

pub const SECRET: &str = "s3cret-consumer";

pub const USER_ID: &str = "0055g00000AbCdEAAV";

pub const RECORD: &str = "0035g00000XyZabAAF";

/// A canvas envelope as Salesforce sends it, for a user and a Contact.
pub fn envelope(email: &str, record: &str) -> Value {
    json!({
        "algorithm": "HMACSHA256", "issuedAt": 1_772_441_000, "userId": USER_ID,
        "client": { "instanceId": "_:Liaison:", "instanceUrl": "https://acme.my.salesforce.com",
                    "oauthToken": "00D5g000004ZKTD!AQ0AQ", "refreshToken": null,
                    "targetOrigin": "https://acme.my.salesforce.com" },
        "context": {
            "user": { "userId": USER_ID, "userName": "jo@acme.example.sf", "email": email,
                      "firstName": "Jo", "lastName": "Bloggs", "fullName": "Jo Bloggs",
                      "profileId": "00e5g000000Abc1", "roleId": null, "userType": "STANDARD",
                      "language": "en_US", "locale": "en_GB", "timeZone": "Europe/London" },
            "organization": { "organizationId": ORG_ID, "name": "Acme", "currencyIsoCode": "GBP",
                              "multicurrencyEnabled": false, "namespacePrefix": null },
            "environment": { "displayLocation": "PageLayout", "locationUrl": "https://acme.my.salesforce.com/0035g00000XyZab",
                             "dimensions": { "width": "100%", "height": "600px" }, "parameters": {},
                             "record": { "attributes": { "type": "Contact", "url": format!("/services/data/v62.0/sobjects/Contact/{record}") },
                                         "Id": record },
                             "version": { "season": "WINTER", "api": "62.0" } }
        }
    })
}

/// Two client-team tenancies served by one connected org link; Jo Bloggs is staff in both.
pub async fn org(app: &TestApp) -> (Tenancy, Tenancy, String) {
    let a = app.tenancy("Acme Wealth", "client_teams").await;
    let b = app.tenancy("Beta Trust", "contact_groups").await;
    let (jo, _) = app.staff(&a, "Jo", "Bloggs", "system_administrator").await;
    app.staff(&b, "Jo", "Bloggs", "staff").await;
    app.group(&a, "client-teams", "Private Clients", &[&jo])
        .await;
    let link = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            json!({ "name": "Acme production", "org_id": ORG_ID, "login_host": app.salesforce.uri(),
                    "auth_kind": "web_server", "consumer_key": "3MVG9consumer", "consumer_secret": SECRET,
                    "tenancies": [a.id, b.id],
                    "field_mapping": { "contact": { "first_name": "FirstName", "last_name": "LastName", "email": "Email",
                                                    "mobile": "MobilePhone", "title": "Title" },
                                       "person_account": { "first_name": "FirstName", "last_name": "LastName",
                                                           "email": "PersonEmail", "mobile": "PersonMobilePhone", "title": "PersonTitle" },
                                       "write_back": { "status": "Liaison_Status__c" }, "phone_region": "GB" } }),
        )
        .await
        .expect(201);
    connect(app, &link).await;
    (a, b, link["id"].as_str().unwrap().to_string())
}

pub async fn record_answers(app: &TestApp, record: &str, answer: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path_regex(format!(
            "/services/data/v[0-9.]+/sobjects/Contact/{record}"
        )))
        .respond_with(answer)
        .mount(&app.salesforce)
        .await;
}

/// A browser that keeps cookies and follows the canvas redirect.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

pub async fn open(app: &TestApp, browser: &reqwest::Client, signed: &str) -> (u16, String) {
    let response = browser
        .post(format!("{}/salesforce/canvas", app.address))
        .form(&[("signed_request", signed)])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

pub async fn get(browser: &reqwest::Client, url: &str) -> (u16, String) {
    let response = browser.get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

pub async fn post(browser: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = browser.post(url).form(form).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Jo opens Invite on a record and picks the tenancy: the browser, and the page's status and body.
pub async fn opened(app: &TestApp, record: &str, tenancy: &str) -> (reqwest::Client, u16, String) {
    let page = browser();
    open(
        app,
        &page,
        &sign(SECRET, &envelope("jo.bloggs@firm.example", record)),
    )
    .await;
    let (status, body) = get(
        &page,
        &format!("{}/salesforce/invite?tenancy={tenancy}", app.address),
    )
    .await;
    (page, status, body)
}

pub fn csrf(page: &str) -> String {
    hidden(page, "csrf")
}

/// The value of a page's hidden field.
pub fn hidden(page: &str, name: &str) -> String {
    page.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

pub async fn clients(app: &TestApp, t: &Tenancy) -> Vec<Value> {
    app.get(
        &format!("/api/v1/tenancies/{}/clients", t.id),
        &t.admin_token,
    )
    .await
    .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Issues the link's API key.
pub async fn link_key(app: &TestApp, link: &str) -> String {
    app.post(
        &format!("/api/v1/org-links/{link}/api-key"),
        &app.operator,
        json!({}),
    )
    .await
    .expect(201)["api_key"]
        .as_str()
        .unwrap()
        .to_string()
}
