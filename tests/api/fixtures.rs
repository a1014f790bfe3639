//! Record events as Salesforce sends them: an org link with its intake secrets, Outbound
//! Message envelopes and notifications shaped as the fixtures are, and clients linked to the
//! records they name. Shared by every test module that needs record events.

use liaison::domain::values::SalesforceId;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::ResponseTemplate;

use crate::helpers::{Tenancy, TestApp};
use crate::salesforce::{connect, web_server_link};

pub const ORG_ID: &str = "00D5g000004ZKTDEA4";

/// A tenancy, its team, and an org link with its intake secrets.
pub struct Intake {
    pub t: Tenancy,
    pub team: String,
    pub link: String,
    pub outbound_url: String,
    pub webhook_url: String,
    pub webhook_secret: String,
}

pub async fn intake(app: &TestApp) -> Intake {
    let t = app.tenancy("Acme", "client_teams").await;
    let team = app
        .group(&t, "client-teams", "Private Clients", &[&t.admin_id])
        .await;
    let created = web_server_link(app, &t).await;
    let secrets = &created["intake_secrets"];
    // The secrets are shown once: reading the link again shows only that they are set.
    let link = created["id"].as_str().unwrap().to_string();
    let read = app
        .get(&format!("/api/v1/org-links/{link}"), &app.operator)
        .await
        .expect(200);
    assert!(read.get("intake_secrets").is_none(), "{read:#}");
    assert_eq!(read["has_outbound_token"], true);
    assert_eq!(read["has_webhook_secret"], true);
    Intake {
        t,
        team,
        link,
        outbound_url: secrets["outbound_message_url"]
            .as_str()
            .unwrap()
            .to_string(),
        webhook_url: secrets["webhook_url"].as_str().unwrap().to_string(),
        webhook_secret: secrets["webhook_secret"].as_str().unwrap().to_string(),
    }
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/wiremock-fixtures/outbound/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

pub fn sf_id(prefix: &str, n: usize) -> String {
    SalesforceId::parse(&format!("{prefix}{n:05}"))
        .unwrap()
        .as_str()
        .to_string()
}

pub fn contact_id(n: usize) -> String {
    sf_id("0035g00000", n)
}

pub fn notification_id(n: usize) -> String {
    sf_id("04l5g00000", n)
}

/// An envelope around notifications, shaped as the fixtures are.
pub fn envelope(org: &str, notifications: &[String]) -> String {
    let head = fixture("contact.xml");
    let start = head.find("   <Notification>").unwrap();
    let end = head.find("  </notifications>").unwrap();
    format!(
        "{}{}{}",
        &head[..start].replace(ORG_ID, org),
        notifications.concat(),
        &head[end..]
    )
}

/// A Contact notification with these fields (`None` is `xsi:nil`).
pub fn contact(nid: usize, record: usize, when: &str, fields: &[(&str, Option<&str>)]) -> String {
    let mut body = format!(
        "<Notification><Id>{}</Id><sObject xsi:type=\"sf:Contact\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Id>{}</sf:Id><sf:LastModifiedDate>{when}</sf:LastModifiedDate>",
        notification_id(nid),
        contact_id(record)
    );
    for (name, value) in fields {
        match value {
            Some(v) => body.push_str(&format!("<sf:{name}>{v}</sf:{name}>")),
            None => body.push_str(&format!("<sf:{name} xsi:nil=\"true\"/>")),
        }
    }
    body.push_str("</sObject></Notification>");
    body
}

pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

pub async fn post_xml(app: &TestApp, url: &str, body: impl Into<reqwest::Body>) -> Answer {
    let response = app
        .http
        .post(url)
        .header("content-type", "text/xml; charset=utf-8")
        .header("SOAPAction", "\"\"")
        .body(body)
        .send()
        .await
        .unwrap();
    Answer {
        status: response.status().as_u16(),
        content_type: response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default(),
        body: response.text().await.unwrap(),
    }
}

/// A client linked to Contact `record`, as a draft or (with `send`) invited.
pub async fn linked_client(
    app: &TestApp,
    i: &Intake,
    record: usize,
    email: &str,
    send: bool,
) -> String {
    let client = app
        .post(
            &format!("/api/v1/tenancies/{}/clients", i.t.id),
            &i.t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": email, "client_teams": [i.team] }),
        )
        .await
        .expect(201);
    let id = client["id"].as_str().unwrap().to_string();
    app.put(
        &format!("/api/v1/tenancies/{}/clients/{id}/crm-record", i.t.id),
        &i.t.admin_token,
        Some(
            json!({ "org_link_id": i.link, "sobject": "Contact", "record_id": contact_id(record) }),
        ),
    )
    .await
    .expect(204);
    if send {
        app.post(
            &format!("/api/v1/tenancies/{}/clients/{id}/send", i.t.id),
            &i.t.admin_token,
            json!({}),
        )
        .await
        .expect(200);
    }
    id
}

pub const COLLECTIONS: &str = "/services/data/v62.0/composite/sobjects";

/// A client-team tenancy whose org link is connected.
pub async fn connected(app: &TestApp) -> (Tenancy, Uuid, String) {
    let t = app.tenancy("Acme", "client_teams").await;
    let team = app
        .group(&t, "client-teams", "Private Clients", &[&t.admin_id])
        .await;
    let link = connect(app, &web_server_link(app, &t).await).await;
    (t, link, team)
}

/// Invites a client as a draft of client team `team` and links them to Contact `n`.
pub async fn linked_draft(app: &TestApp, t: &Tenancy, team: &str, link: Uuid, n: usize) -> String {
    let client = app
        .post(
            &format!("/api/v1/tenancies/{}/clients", t.id),
            &t.admin_token,
            json!({ "first_name": "Client", "last_name": format!("{n}"), "email": format!("client{n}@example.com"),
                    "client_teams": [team] }),
        )
        .await
        .expect(201);
    let id = client["id"].as_str().unwrap().to_string();
    app.put(
        &format!("/api/v1/tenancies/{}/clients/{id}/crm-record", t.id),
        &t.admin_token,
        Some(json!({ "org_link_id": link, "sobject": "Contact", "record_id": contact_id(n) })),
    )
    .await
    .expect(204);
    id
}

/// Answers every Collections call with success for each record it carries.
pub struct AllSucceed;

impl wiremock::Respond for AllSucceed {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let results: Vec<Value> = body["records"]
            .as_array()
            .map(|records| {
                records
                    .iter()
                    .map(|r| json!({ "id": r["id"], "success": true, "errors": [] }))
                    .collect()
            })
            .unwrap_or_default();
        ResponseTemplate::new(200)
            .insert_header("Sforce-Limit-Info", "api-usage=120/15000")
            .set_body_json(results)
    }
}

pub async fn sent_bodies(app: &TestApp) -> Vec<Value> {
    app.salesforce
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "PATCH" && r.url.path() == COLLECTIONS)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// A client-teams tenancy with `count` clients in one team, each sent an invitation, so
/// `count` e-mails are due to the re-send worker.
pub async fn sent_invitations(app: &TestApp, count: usize) -> Tenancy {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let team = app
        .group(&t, "client-teams", "Private Clients", &[&t.admin_id])
        .await;
    for n in 0..count {
        let client = app
            .post(
                &format!("/api/v1/tenancies/{}/clients", t.id),
                &t.admin_token,
                json!({ "first_name": "Client", "last_name": format!("N{n}"), "email": format!("c{n}@example.com"),
                        "client_teams": [team] }),
            )
            .await
            .expect(201);
        app.post(
            &format!(
                "/api/v1/tenancies/{}/clients/{}/send",
                t.id,
                client["id"].as_str().unwrap()
            ),
            &t.admin_token,
            json!({}),
        )
        .await
        .expect(200);
    }
    t
}
