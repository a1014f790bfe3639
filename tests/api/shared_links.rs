//! Org links that serve several tenancies: operators manage them; each served tenancy's system
//! administrator sees only what concerns their tenancy and changes nothing of the link. A link
//! that serves one tenancy alone stays its administrator's to manage.

use liaison::config::{InboxConfig, WritebackConfig};
use liaison::domain::values::SalesforceId;
use liaison::jobs::inbox::pass as inbox_pass;
use liaison::jobs::writeback::pass as writeback_pass;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::canvas::clients;
use crate::helpers::fixtures::{contact_id, linked_draft};
use crate::helpers::salesforce::{connect, crm};
use crate::helpers::{Reply, Tenancy, TestApp};
use crate::on_both_backends;

const ORG_ID: &str = "00D5g000004ZKTDEA4";
const ACK: &str = "<Ack>true</Ack>";

/// Two client-team tenancies, A and B, each with a team, served by one connected link whose
/// auto-invite creates clients in A's team.
struct Shared {
    a: Tenancy,
    b: Tenancy,
    a_team: String,
    b_team: String,
    link: String,
    outbound_url: String,
}

async fn shared(app: &TestApp) -> Shared {
    let a = app.tenancy("Acme Wealth", "client_teams").await;
    let b = app.tenancy("Bravo Trust", "client_teams").await;
    let a_team = app
        .group(&a, "client-teams", "Acme Private", &[&a.admin_id])
        .await;
    let b_team = app
        .group(&b, "client-teams", "Bravo Private", &[&b.admin_id])
        .await;
    let created = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            json!({ "name": "Group org", "org_id": ORG_ID, "login_host": app.salesforce.uri(),
                    "auth_kind": "web_server", "consumer_key": "3MVG9consumer", "consumer_secret": "s3cret-consumer",
                    "tenancies": [a.id, b.id],
                    "auto_invite": { "field": "Invite_to_Messenger__c", "tenancy_id": a.id,
                                     "groups": [a_team], "send": false } }),
        )
        .await
        .expect(201);
    let outbound_url = created["intake_secrets"]["outbound_message_url"]
        .as_str()
        .unwrap()
        .to_string();
    connect(app, &created).await;
    Shared {
        a,
        b,
        a_team,
        b_team,
        link: created["id"].as_str().unwrap().to_string(),
        outbound_url,
    }
}

/// An Outbound Message with one Contact notification per `(notification, record)` whose
/// e-mail is invalid, so applying it fails with its reason.
fn bad_emails(notifications: &[(usize, usize)]) -> String {
    message(notifications, "Email", "not-an-email")
}

/// An Outbound Message with one Contact notification per `(notification, record)` that sets
/// `field` to `value`.
fn message(notifications: &[(usize, usize)], field: &str, value: &str) -> String {
    let fixture = std::fs::read_to_string(format!(
        "{}/wiremock-fixtures/outbound/contact.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let start = fixture.find("   <Notification>").unwrap();
    let end = fixture.find("  </notifications>").unwrap();
    let body: String = notifications
        .iter()
        .map(|(nid, record)| {
            let nid = SalesforceId::parse(&format!("04l5g00000{nid:05}")).unwrap();
            format!(
                "<Notification><Id>{}</Id><sObject xsi:type=\"sf:Contact\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">\
                 <sf:Id>{}</sf:Id><sf:LastModifiedDate>2026-03-02T08:10:00.000Z</sf:LastModifiedDate>\
                 <sf:{field}>{value}</sf:{field}></sObject></Notification>",
                nid.as_str(),
                contact_id(*record)
            )
        })
        .collect();
    format!("{}{body}{}", &fixture[..start], &fixture[end..])
}

async fn post_outbound(app: &TestApp, url: &str, body: String) -> (u16, String) {
    let response = app
        .http
        .post(url)
        .header("content-type", "text/xml; charset=utf-8")
        .header("SOAPAction", "\"\"")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Answers every Collections call with a permanent failure for each record it carries.
struct AllDeleted;

impl wiremock::Respond for AllDeleted {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let results: Vec<Value> = body["records"]
            .as_array()
            .map(|records| {
                records
                    .iter()
                    .map(|r| json!({ "id": r["id"], "success": false,
                                     "errors": [{ "statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": [] }] }))
                    .collect()
            })
            .unwrap_or_default();
        ResponseTemplate::new(200).set_body_json(results)
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

on_both_backends!(
    a_served_tenancys_admin_reads_a_shared_link_without_a_trace_of_the_others,
    a_served_tenancys_admin_changes_nothing_of_a_shared_link,
    a_served_tenancys_admin_sees_and_acts_on_their_own_queue_items_only,
    an_administrator_of_a_link_serving_their_tenancy_alone_manages_it_fully,
    the_json_invite_api_needs_staff_of_the_target_tenancy_and_records_the_link_and_key,
);

async fn a_served_tenancys_admin_reads_a_shared_link_without_a_trace_of_the_others(app: TestApp) {
    let s = shared(&app).await;
    let path = format!("/api/v1/org-links/{}", s.link);
    let read = app.get(&path, &s.b.admin_token).await.expect(200);
    assert_eq!(read["tenancies"], json!([s.b.id]));
    assert!(read["auto_invite"].is_null(), "{read:#}");
    let listed = app
        .get("/api/v1/org-links", &s.b.admin_token)
        .await
        .expect(200);
    assert_eq!(listed["items"][0]["tenancies"], json!([s.b.id]));
    for body in [read.to_string(), listed.to_string()] {
        assert!(!body.contains(&s.a.id), "A's id leaked: {body}");
        assert!(!body.contains(&s.a_team), "A's team leaked: {body}");
    }
    // State and usage concern every tenancy the link serves.
    assert_eq!(read["state"], "connected");
    // A's administrator sees their own auto-invite settings, and no trace of B.
    let read = app.get(&path, &s.a.admin_token).await.expect(200);
    assert_eq!(read["tenancies"], json!([s.a.id]));
    assert_eq!(read["auto_invite"]["groups"], json!([s.a_team]));
    assert!(!read.to_string().contains(&s.b.id));
    // The operator sees the whole link.
    let whole = app.get(&path, &app.operator).await.expect(200);
    assert_eq!(whole["tenancies"].as_array().unwrap().len(), 2);
    assert_eq!(whole["auto_invite"]["tenancy_id"], json!(s.a.id));
}

async fn a_served_tenancys_admin_changes_nothing_of_a_shared_link(app: TestApp) {
    let s = shared(&app).await;
    let link = &s.link;
    let key = app
        .post(
            &format!("/api/v1/org-links/{link}/api-key"),
            &app.operator,
            json!({}),
        )
        .await
        .expect(201)["api_key"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/org-links/{link}");
    let before = app.get(&path, &app.operator).await.expect(200);
    let mut mapping = before["field_mapping"].clone();
    mapping["write_back"]["status"] = json!("Other__c");

    let refused = app
        .post(&format!("{path}/api-key"), &s.b.admin_token, json!({}))
        .await
        .problem(403);
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("serves several tenancies"),
        "{refused:#}"
    );
    app.post(
        &format!("{path}/intake-secrets"),
        &s.b.admin_token,
        json!({}),
    )
    .await
    .problem(403);
    for body in [
        json!({ "tenancies": [s.b.id] }),
        json!({ "name": "Bravo's now" }),
        json!({ "field_mapping": mapping }),
        json!({ "auto_invite": null }),
        json!({ "auto_invite": { "field": "Invite__c", "tenancy_id": s.b.id, "groups": [s.b_team], "send": true } }),
        json!({ "paused": true }),
        json!({ "consumer_secret": "b-knows-this" }),
    ] {
        app.patch(&path, &s.b.admin_token, body.clone())
            .await
            .problem(403);
    }
    // An invalid body is refused the same way: nothing about the link is the caller's.
    app.patch(&path, &s.b.admin_token, json!({ "api_budget_percent": 0 }))
        .await
        .problem(403);
    app.delete(&path, &s.b.admin_token).await.problem(403);
    app.post(&format!("{path}/connect"), &s.b.admin_token, json!({}))
        .await
        .problem(403);
    app.post(&format!("{path}/disconnect"), &s.b.admin_token, json!({}))
        .await
        .problem(403);
    // A's administrator is one served tenancy's too.
    app.patch(&path, &s.a.admin_token, json!({ "tenancies": [s.a.id] }))
        .await
        .problem(403);
    app.post(&format!("{path}/api-key"), &s.a.admin_token, json!({}))
        .await
        .problem(403);

    let after = app.get(&path, &app.operator).await.expect(200);
    assert_eq!(before, after);
    let secrets = app.store.link_secrets(link.parse().unwrap()).await.unwrap();
    assert!(secrets.access_token.is_some() && secrets.refresh_token.is_some());
    // The old key still authenticates: an unknown user is refused as such, not the key.
    let stranger = app
        .post(
            "/api/v1/salesforce/invite-context",
            &key,
            json!({ "user": { "user_id": "0055g00000AbCdEAAV", "email": "nobody@nowhere.example" },
                    "record": { "sobject": "Contact", "id": contact_id(1) } }),
        )
        .await
        .problem(403);
    assert!(
        stranger["detail"]
            .as_str()
            .unwrap()
            .contains("not an active staff user")
    );
    // The old Outbound Message URL still takes deliveries.
    let fixture = std::fs::read_to_string(format!(
        "{}/wiremock-fixtures/outbound/contact.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let (status, ack) = post_outbound(&app, &s.outbound_url, fixture).await;
    assert_eq!(status, 200, "{ack}");
    assert!(ack.contains(ACK), "{ack}");

    // The operator manages it all.
    let renamed = app
        .patch(
            &path,
            &app.operator,
            json!({ "name": "Renamed", "tenancies": [s.a.id, s.b.id] }),
        )
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Renamed");
    let new_key = app
        .post(&format!("{path}/api-key"), &app.operator, json!({}))
        .await
        .expect(201);
    assert_eq!(
        app.get(&path, &app.operator).await.expect(200)["api_key_id"],
        new_key["key_id"]
    );
    app.post(&format!("{path}/intake-secrets"), &app.operator, json!({}))
        .await
        .expect(200);
    let (status, _) = post_outbound(&app, &s.outbound_url, bad_emails(&[(1, 1)])).await;
    assert_eq!(status, 404, "the rotated-out URL stops working");
    app.post(&format!("{path}/disconnect"), &app.operator, json!({}))
        .await
        .expect(200);
    app.delete(&path, &app.operator).await.expect(204);
    app.get(&path, &app.operator).await.problem(404);
}

async fn a_served_tenancys_admin_sees_and_acts_on_their_own_queue_items_only(app: TestApp) {
    let s = shared(&app).await;
    let link = &s.link;
    linked_draft(&app, &s.a, &s.a_team, link.parse().unwrap(), 1).await;
    linked_draft(&app, &s.b, &s.b_team, link.parse().unwrap(), 2).await;

    // Both write-backs fail for good and wait for ops.
    Mock::given(method("PATCH"))
        .and(path_regex("/services/data/v[0-9.]+/composite/sobjects"))
        .respond_with(AllDeleted)
        .mount(&app.salesforce)
        .await;
    let config = WritebackConfig {
        linger_ms: 0,
        ..Default::default()
    };
    let report = writeback_pass(&crm(&app), &app.store, &config)
        .await
        .unwrap();
    assert_eq!(report.failed, 2);
    let writebacks = format!("/api/v1/org-links/{link}/writebacks");
    let all = app.get(&writebacks, &app.operator).await.expect(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let of = |t: &Tenancy| {
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["tenancy_id"] == json!(t.id))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a_wb, b_wb) = (of(&s.a), of(&s.b));
    let seen = app.get(&writebacks, &s.b.admin_token).await.expect(200);
    assert_eq!(ids(&seen), vec![b_wb.clone()]);
    assert!(!seen.to_string().contains(&s.a.id));
    let seen = app
        .get(&format!("{writebacks}?state=failed"), &s.a.admin_token)
        .await
        .expect(200);
    assert_eq!(ids(&seen), vec![a_wb.clone()]);
    for action in ["retry", "dismiss"] {
        app.post(
            &format!("{writebacks}/{a_wb}/{action}"),
            &s.b.admin_token,
            json!({}),
        )
        .await
        .problem(404);
    }
    let dismissed = app
        .post(
            &format!("{writebacks}/{b_wb}/dismiss"),
            &s.b.admin_token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(dismissed["state"], "dismissed");
    let still = app
        .get(&format!("{writebacks}?state=failed"), &app.operator)
        .await
        .expect(200);
    assert_eq!(ids(&still), vec![a_wb.clone()], "A's write-back untouched");
    let retried = app
        .post(
            &format!("{writebacks}/{a_wb}/retry"),
            &app.operator,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(retried["state"], "pending");

    // Both records' changes fail to apply and wait for ops, with a third record nobody links.
    let (status, ack) =
        post_outbound(&app, &s.outbound_url, bad_emails(&[(1, 1), (2, 2), (3, 3)])).await;
    assert_eq!(status, 200, "{ack}");
    let report = inbox_pass(&app.store, &InboxConfig::default())
        .await
        .unwrap();
    assert_eq!(report.failed, 2);
    let inbox = format!("/api/v1/org-links/{link}/inbox");
    let all = app.get(&inbox, &app.operator).await.expect(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    let item = |n: usize| {
        all["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["record_id"] == json!(contact_id(n)))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a_item, b_item) = (item(1), item(2));
    assert_eq!(
        ids(&app.get(&inbox, &s.b.admin_token).await.expect(200)),
        vec![b_item.clone()]
    );
    assert_eq!(
        ids(&app
            .get(&format!("{inbox}?state=failed"), &s.a.admin_token)
            .await
            .expect(200)),
        vec![a_item.clone()]
    );
    for action in ["replay", "dismiss"] {
        app.post(
            &format!("{inbox}/{a_item}/{action}"),
            &s.b.admin_token,
            json!({}),
        )
        .await
        .problem(404);
    }
    let dismissed = app
        .post(
            &format!("{inbox}/{b_item}/dismiss"),
            &s.b.admin_token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(dismissed["state"], "dismissed");
    let replayed = app
        .post(
            &format!("{inbox}/{b_item}/replay"),
            &s.b.admin_token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(replayed["state"], "pending");
    let still = app
        .get(&format!("{inbox}?state=failed"), &app.operator)
        .await
        .expect(200);
    assert_eq!(ids(&still), vec![a_item.clone()], "A's item untouched");
    let replayed = app
        .post(
            &format!("{inbox}/{a_item}/replay"),
            &app.operator,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(replayed["state"], "pending");

    // A record linked in both tenancies: each administrator sees their own client's effect.
    let a_client = linked_draft(&app, &s.a, &s.a_team, link.parse().unwrap(), 4).await;
    let b_client = linked_draft(&app, &s.b, &s.b_team, link.parse().unwrap(), 4).await;
    let (status, ack) = post_outbound(
        &app,
        &s.outbound_url,
        message(&[(4, 4)], "FirstName", "Janet"),
    )
    .await;
    assert_eq!(status, 200, "{ack}");
    inbox_pass(&app.store, &InboxConfig::default())
        .await
        .unwrap();
    let done = |page: Value| {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["record_id"] == json!(contact_id(4)))
            .unwrap()["outcome"]
            .clone()
    };
    let whole = done(
        app.get(&format!("{inbox}?state=done"), &app.operator)
            .await
            .expect(200),
    );
    assert!(whole.as_str().unwrap().contains(&a_client), "{whole}");
    assert_eq!(
        done(
            app.get(&format!("{inbox}?state=done"), &s.b.admin_token)
                .await
                .expect(200)
        ),
        json!(format!("client {b_client}: updated first_name"))
    );
    assert_eq!(
        done(
            app.get(&format!("{inbox}?state=done"), &s.a.admin_token)
                .await
                .expect(200)
        ),
        json!(format!("client {a_client}: updated first_name"))
    );
}

async fn an_administrator_of_a_link_serving_their_tenancy_alone_manages_it_fully(app: TestApp) {
    let a = app.tenancy("Acme Wealth", "client_teams").await;
    let b = app.tenancy("Bravo Trust", "client_teams").await;
    let team = app
        .group(&a, "client-teams", "Acme Private", &[&a.admin_id])
        .await;
    let created = app
        .post(
            "/api/v1/org-links",
            &a.admin_token,
            json!({ "name": "Acme org", "org_id": ORG_ID, "login_host": app.salesforce.uri(),
                    "auth_kind": "web_server", "consumer_key": "3MVG9consumer", "consumer_secret": "s3cret-consumer",
                    "tenancies": [a.id] }),
        )
        .await
        .expect(201);
    let path = format!("/api/v1/org-links/{}", created["id"].as_str().unwrap());
    let read = app.get(&path, &a.admin_token).await.expect(200);
    assert_eq!(read["tenancies"], json!([a.id]));
    assert!(read["api_key_id"].is_null());
    let changed = app
        .patch(
            &path,
            &a.admin_token,
            json!({ "name": "Acme org (prod)", "paused": true, "pause_reason": "Org maintenance",
                    "auto_invite": { "field": "Invite__c", "tenancy_id": a.id, "groups": [team], "send": false } }),
        )
        .await
        .expect(200);
    assert_eq!(changed["auto_invite"]["groups"], json!([team]));
    assert_eq!(changed["state"], "paused");
    // Another tenancy may not be added by the administrator.
    let moved = app
        .patch(&path, &a.admin_token, json!({ "tenancies": [a.id, b.id] }))
        .await
        .problem(422);
    assert_eq!(Reply::fields(&moved), ["tenancies"]);
    let key = app
        .post(&format!("{path}/api-key"), &a.admin_token, json!({}))
        .await
        .expect(201);
    assert_eq!(key["key_id"].as_str().unwrap().len(), 8);
    assert_eq!(
        app.get(&path, &a.admin_token).await.expect(200)["api_key_id"],
        key["key_id"]
    );
    let secrets = app
        .post(&format!("{path}/intake-secrets"), &a.admin_token, json!({}))
        .await
        .expect(200);
    assert!(
        secrets["webhook_secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    let connect = app
        .post(&format!("{path}/connect"), &a.admin_token, json!({}))
        .await
        .expect(200);
    assert!(connect["connect_url"].is_string());
    app.post(&format!("{path}/disconnect"), &a.admin_token, json!({}))
        .await
        .expect(200);
    app.get(&format!("{path}/writebacks"), &a.admin_token)
        .await
        .expect(200);
    app.get(&format!("{path}/inbox"), &a.admin_token)
        .await
        .expect(200);
    // B's administrator still does not know the link exists.
    app.get(&path, &b.admin_token).await.problem(404);
    app.delete(&path, &b.admin_token).await.problem(404);
    // Once an operator shares the link, the administrator no longer changes it.
    app.patch(&path, &app.operator, json!({ "tenancies": [a.id, b.id] }))
        .await
        .expect(200);
    app.patch(&path, &a.admin_token, json!({ "name": "Mine again" }))
        .await
        .problem(403);
    app.patch(
        &path,
        &app.operator,
        json!({ "tenancies": [a.id], "auto_invite": null }),
    )
    .await
    .expect(200);
    app.delete(&path, &a.admin_token).await.expect(204);
    app.get(&path, &app.operator).await.problem(404);
}

async fn the_json_invite_api_needs_staff_of_the_target_tenancy_and_records_the_link_and_key(
    app: TestApp,
) {
    let s = shared(&app).await;
    let (jo, _) = app
        .staff(&s.a, "Jo", "Bloggs", "system_administrator")
        .await;
    app.staff(&s.b, "Bea", "Bravo", "system_administrator")
        .await;
    let created = app
        .post(
            &format!("/api/v1/org-links/{}/api-key", s.link),
            &app.operator,
            json!({}),
        )
        .await
        .expect(201);
    let key = created["api_key"].as_str().unwrap();
    let key_id = created["key_id"].as_str().unwrap();
    // An invite reads its record again before it creates anything.
    crate::helpers::canvas::record_answers(
        &app,
        &contact_id(7),
        crate::helpers::salesforce::fixture(&app, "rest/contact.json"),
    )
    .await;
    let invite = |email: &str, tenancy: &str, team: &str| {
        json!({ "user": { "user_id": "0055g00000AbCdEAAV", "email": email },
                "record": { "sobject": "Contact", "id": contact_id(7) }, "tenancy_id": tenancy,
                "first_name": "Jane", "last_name": "Smith", "email": "jane.smith@example.com",
                "client_teams": [team] })
    };
    // Bea is staff of B only: naming A is refused and nothing is made there.
    let refused = app
        .post(
            "/api/v1/salesforce/invites",
            key,
            invite("bea.bravo@firm.example", &s.a.id, &s.a_team),
        )
        .await
        .problem(422);
    assert_eq!(Reply::fields(&refused), ["tenancy_id"]);
    assert_eq!(clients(&app, &s.a).await.len(), 0);
    assert_eq!(clients(&app, &s.b).await.len(), 0);

    // Jo is staff of A: the client's history names the link, the key, Jo and the user.
    let client = app
        .post(
            "/api/v1/salesforce/invites",
            key,
            invite("jo.bloggs@firm.example", &s.a.id, &s.a_team),
        )
        .await
        .expect(201);
    let events = app
        .get(
            &format!(
                "/api/v1/tenancies/{}/clients/{}/events",
                s.a.id,
                client["id"].as_str().unwrap()
            ),
            &s.a.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(
        events["items"][0]["actor"],
        format!(
            "salesforce:{}:key:{key_id} as staff:{jo} via Salesforce user 0055g00000AbCdEAAV",
            s.link
        )
    );
}
