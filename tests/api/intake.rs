//! Record changes from Salesforce: Outbound Messages and signed JSON webhooks stored in the
//! inbox before they are acknowledged, bad input refused with nothing stored, and the worker
//! applying each change once, per record in modification order, without echoes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use liaison::config::InboxConfig;
use liaison::jobs::inbox::{PassReport, pass};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::fixtures::{
    Intake, ORG_ID, contact, contact_id, envelope, fixture, intake, linked_client, notification_id,
    post_xml, sf_id,
};
use crate::helpers::invitations::run as run_invitations;
use crate::helpers::smtp::SmtpServer;
use crate::helpers::{Tenancy, TestApp};
use crate::on_both_backends;

/// The Ack exactly as PROTOCOLS.md gives it.
const ACK: &str = r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#;
const INTEGRATION_USER: &str = "0055g00000IntEgAAJ";

fn account_id(n: usize) -> String {
    sf_id("0015g00000", n)
}

/// A Person Account notification with these fields.
fn person_account(nid: usize, record: usize, when: &str, fields: &[(&str, &str)]) -> String {
    let mut body = format!(
        "<Notification><Id>{}</Id><sObject xsi:type=\"sf:Account\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\"><sf:Id>{}</sf:Id>\
         <sf:IsPersonAccount>true</sf:IsPersonAccount><sf:LastModifiedDate>{when}</sf:LastModifiedDate>",
        notification_id(nid),
        account_id(record)
    );
    for (name, value) in fields {
        body.push_str(&format!("<sf:{name}>{value}</sf:{name}>"));
    }
    body.push_str("</sObject></Notification>");
    body
}

fn signature(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

async fn post_webhook(
    app: &TestApp,
    i: &Intake,
    id: &str,
    timestamp: i64,
    signature: &str,
    body: &str,
) -> (u16, Value) {
    let response = app
        .http
        .post(&i.webhook_url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A correctly signed webhook, now.
async fn webhook(app: &TestApp, i: &Intake, id: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let now = app.clock.now_unix();
    let sig = signature(&i.webhook_secret, id, now, &body);
    post_webhook(app, i, id, now, &sig, &body).await
}

async fn inbox(app: &TestApp, i: &Intake, state: Option<&str>) -> Vec<Value> {
    let query = state.map(|s| format!("&state={s}")).unwrap_or_default();
    app.get(
        &format!("/api/v1/org-links/{}/inbox?limit=200{query}", i.link),
        &app.operator,
    )
    .await
    .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Every item of the link, page by page.
async fn all_items(app: &TestApp, i: &Intake) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after = String::new();
    loop {
        let page = app
            .get(
                &format!("/api/v1/org-links/{}/inbox?limit=200{after}", i.link),
                &app.operator,
            )
            .await
            .expect(200);
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => after = format!("&after={cursor}"),
            None => return items,
        }
    }
}

async fn work(app: &TestApp) -> PassReport {
    pass(&app.store, &InboxConfig::default()).await.unwrap()
}

async fn client(app: &TestApp, i: &Intake, id: &str) -> Value {
    app.get(
        &format!("/api/v1/tenancies/{}/clients/{id}", i.t.id),
        &i.t.admin_token,
    )
    .await
    .expect(200)
}

on_both_backends!(
    an_outbound_message_is_stored_once_and_acknowledged_with_the_exact_ack,
    a_hundred_notifications_and_a_person_account_are_taken_whole,
    bad_outbound_messages_get_a_soap_fault_and_store_nothing,
    bad_webhooks_are_refused_and_store_nothing,
    every_change_applies_once_and_the_newest_wins_whatever_the_delivery_order,
    echoes_of_our_own_write_back_start_no_work,
    a_deleted_or_merged_record_unlinks_its_client_and_keeps_it,
    an_email_change_voids_the_old_links_and_invites_the_new_address,
    an_invalid_value_fails_with_its_reason_and_ops_can_replay_or_dismiss_it,
    auto_invite_makes_one_client_per_record_as_the_link_says,
    auto_invite_gives_each_client_a_contact_group_of_their_own,
    org_link_intake_settings_are_validated_by_field,
    a_bulk_update_settles_in_bulk_and_keeps_every_guarantee,
    a_national_mobile_is_read_in_the_phone_region_and_a_bad_one_loses_nothing_else,
    the_tenancy_phone_region_defaults_to_gb_and_is_validated,
    control_characters_from_salesforce_are_refused_or_failed_never_stored_in_a_client,
);

async fn an_outbound_message_is_stored_once_and_acknowledged_with_the_exact_ack(app: TestApp) {
    let i = intake(&app).await;
    let body = fixture("contact.xml");
    for _ in 0..3 {
        let answer = post_xml(&app, &i.outbound_url, body.clone()).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.content_type, "text/xml; charset=utf-8");
        assert_eq!(answer.body, ACK);
    }
    let items = inbox(&app, &i, None).await;
    assert_eq!(items.len(), 1, "deduplicated on the notification Id");
    let item = &items[0];
    assert_eq!(item["delivery_id"], "04l5g00000Wq1AbAAJ");
    assert_eq!(item["source"], "outbound_message");
    assert_eq!(item["sobject"], "Contact");
    assert_eq!(item["record_id"], "0035g00000ABcdeAAD");
    assert_eq!(item["state"], "pending");
    assert_eq!(item["modified_at"], "2026-03-02T08:59:00Z");
    assert_eq!(item["changed_by"], "0055g00000Lk3RtAAJ");
    assert_eq!(item["fields"]["Email"], "jane.smith@example.com");
    assert_eq!(
        item["fields"]["Title"],
        Value::Null,
        "xsi:nil is kept as null"
    );
}

async fn a_hundred_notifications_and_a_person_account_are_taken_whole(app: TestApp) {
    let i = intake(&app).await;
    let answer = post_xml(&app, &i.outbound_url, fixture("hundred-contacts.xml")).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, ACK));
    let answer = post_xml(&app, &i.outbound_url, fixture("person-account.xml")).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, ACK));
    let items = inbox(&app, &i, None).await;
    assert_eq!(items.len(), 101);
    let person = items.iter().find(|i| i["sobject"] == "Account").unwrap();
    assert_eq!(person["fields"]["PersonEmail"], "ravi.patel@example.com");
    assert_eq!(person["fields"]["Invite_to_Messenger__pc"], "true");
}

async fn bad_outbound_messages_get_a_soap_fault_and_store_nothing(app: TestApp) {
    let i = intake(&app).await;
    let good = fixture("contact.xml");
    let body_start = good.find("<soapenv:Envelope").unwrap();
    let doctype = |dtd: &str| format!("<?xml version=\"1.0\"?>{dtd}{}", &good[body_start..]);
    let laughs = doctype(
        "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\
         <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">]>",
    )
    .replace("jane.smith@example.com", "&lol2;");
    let external = doctype("<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>")
        .replace("jane.smith@example.com", "&xxe;");
    let undeclared = good.replace("jane.smith@example.com", "&xxe;");
    let hundred_and_one = {
        let hundred = fixture("hundred-contacts.xml");
        let one = contact(900, 900, "2026-03-02T08:00:00.000Z", &[]);
        hundred.replace("  </notifications>", &format!("{one}  </notifications>"))
    };
    let oversize = format!(
        "{}<!-- {} -->",
        good,
        "x".repeat(liaison::crm::outbound::MAX_BODY_BYTES)
    );
    let (token_base, token) = i.outbound_url.rsplit_once('/').unwrap();
    let wrong_token = format!("{token_base}/AAAA{}", &token[4..]);
    let unknown_link = i
        .outbound_url
        .replace(&i.link, "0190c6f2-0000-7000-8000-000000000000");
    let cases: Vec<(&str, String, String, u16)> = vec![
        (
            "malformed",
            i.outbound_url.clone(),
            good[..good.len() - 40].to_string(),
            400,
        ),
        (
            "unclosed tags",
            i.outbound_url.clone(),
            good.replace("</sf:Email>", ""),
            400,
        ),
        (
            "not SOAP",
            i.outbound_url.clone(),
            "<html><body/></html>".into(),
            400,
        ),
        (
            "DOCTYPE",
            i.outbound_url.clone(),
            doctype("<!DOCTYPE soapenv:Envelope>"),
            400,
        ),
        ("external entity", i.outbound_url.clone(), external, 400),
        ("undeclared entity", i.outbound_url.clone(), undeclared, 400),
        ("billion laughs", i.outbound_url.clone(), laughs, 400),
        (
            "101 notifications",
            i.outbound_url.clone(),
            hundred_and_one,
            400,
        ),
        ("over the size limit", i.outbound_url.clone(), oversize, 413),
        (
            "wrong org",
            i.outbound_url.clone(),
            good.replace(ORG_ID, "00D5g000004ZXXXEAA"),
            400,
        ),
        ("wrong token", wrong_token, good.clone(), 404),
        ("unknown link", unknown_link, good.clone(), 404),
        (
            "no timestamp",
            i.outbound_url.clone(),
            envelope(ORG_ID, &[contact(1, 1, "", &[])])
                .replace("<sf:LastModifiedDate></sf:LastModifiedDate>", ""),
            400,
        ),
    ];
    let mut faults = Vec::new();
    for (case, url, body, status) in cases {
        let answer = post_xml(&app, &url, body).await;
        assert_eq!(answer.status, status, "{case}: {}", answer.body);
        assert_eq!(answer.content_type, "text/xml; charset=utf-8", "{case}");
        assert!(
            answer.body.contains("<soapenv:Fault>"),
            "{case}: {}",
            answer.body
        );
        assert!(!answer.body.contains(token), "{case}: the token is echoed");
        assert!(!answer.body.contains("root:"), "{case}: a file was read");
        faults.push(answer.body);
    }
    // The wrong org is named without saying which org the link has.
    assert!(faults[9].contains("OrganizationId"), "{}", faults[9]);
    assert!(!faults[9].contains("00D5g000004ZKTD"), "{}", faults[9]);
    // An unknown link and a wrong token cannot be told apart.
    assert_eq!(faults[10], faults[11]);
    assert!(inbox(&app, &i, None).await.is_empty(), "nothing was stored");
    assert_eq!(work(&app).await.claimed, 0, "nothing is processed");
}

async fn bad_webhooks_are_refused_and_store_nothing(app: TestApp) {
    let i = intake(&app).await;
    let body = json!({ "records": [{ "sobject": "Contact", "Id": contact_id(1), "LastModifiedDate": "2026-03-02T08:59:00.000Z",
                                     "fields": { "Email": "jane@example.com" } }] })
    .to_string();
    let now = app.clock.now_unix();
    let good = signature(&i.webhook_secret, "msg_1", now, &body);
    let other_secret = format!("whsec_{}", STANDARD.encode([9u8; 32]));
    let cases = [
        (
            "wrong secret",
            "msg_1",
            now,
            signature(&other_secret, "msg_1", now, &body),
            body.clone(),
        ),
        (
            "altered body",
            "msg_1",
            now,
            good.clone(),
            body.replace("jane", "john"),
        ),
        ("other id", "msg_2", now, good.clone(), body.clone()),
        ("no signature", "msg_1", now, String::new(), body.clone()),
        (
            "six minutes old",
            "msg_1",
            now - 360,
            signature(&i.webhook_secret, "msg_1", now - 360, &body),
            body.clone(),
        ),
        (
            "six minutes ahead",
            "msg_1",
            now + 360,
            signature(&i.webhook_secret, "msg_1", now + 360, &body),
            body.clone(),
        ),
    ];
    for (case, id, timestamp, sig, body) in cases {
        let (status, problem) = post_webhook(&app, &i, id, timestamp, &sig, &body).await;
        assert_eq!(status, 401, "{case}: {problem}");
        assert_eq!(problem["code"], "bad-signature", "{case}");
        assert!(
            !problem.to_string().contains(&i.webhook_secret[6..]),
            "{case}"
        );
    }
    // Well signed but malformed or too big.
    let (status, problem) = webhook(
        &app,
        &i,
        "msg_3",
        &json!({ "records": [{ "sobject": "Contact", "Id": "nope",
        "LastModifiedDate": "yesterday" }] }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    let fields: Vec<_> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].clone())
        .collect();
    assert_eq!(fields, [json!("records[0].Id")]);
    let many: Vec<Value> = (0..101)
        .map(|n| json!({ "sobject": "Contact", "Id": contact_id(n), "LastModifiedDate": "2026-03-02T08:59:00.000Z" }))
        .collect();
    let (status, problem) = webhook(&app, &i, "msg_4", &json!({ "records": many })).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "records");
    let (status, _) = webhook(&app, &i, "msg_5", &json!({ "records": "x" })).await;
    assert_eq!(status, 422);
    let unknown = i
        .webhook_url
        .replace(&i.link, "0190c6f2-0000-7000-8000-000000000000");
    let (status, _) = post_webhook(
        &app,
        &Intake {
            webhook_url: unknown,
            ..intake_copy(&i)
        },
        "msg_1",
        now,
        &good,
        &body,
    )
    .await;
    assert_eq!(status, 404);
    assert!(inbox(&app, &i, None).await.is_empty(), "nothing was stored");

    // A replayed id (a retry, or an attacker replaying within the window) stores nothing new.
    let (status, answer) = post_webhook(&app, &i, "msg_1", now, &good, &body).await;
    assert_eq!((status, answer["stored"].clone()), (200, json!(1)));
    let later = now + 60;
    app.clock.advance(time::Duration::seconds(60));
    let resigned = signature(&i.webhook_secret, "msg_1", later, &body);
    let (status, answer) = post_webhook(&app, &i, "msg_1", later, &resigned, &body).await;
    assert_eq!(
        (
            status,
            answer["stored"].clone(),
            answer["duplicates"].clone()
        ),
        (200, json!(0), json!(1))
    );
    assert_eq!(inbox(&app, &i, None).await.len(), 1);
}

fn intake_copy(i: &Intake) -> Intake {
    Intake {
        t: Tenancy {
            id: i.t.id.clone(),
            admin_id: i.t.admin_id.clone(),
            admin_token: i.t.admin_token.clone(),
        },
        team: i.team.clone(),
        link: i.link.clone(),
        outbound_url: i.outbound_url.clone(),
        webhook_url: i.webhook_url.clone(),
        webhook_secret: i.webhook_secret.clone(),
    }
}

async fn every_change_applies_once_and_the_newest_wins_whatever_the_delivery_order(app: TestApp) {
    let i = intake(&app).await;
    let id = linked_client(&app, &i, 7, "jane@example.com", false).await;
    // Five successive edits of the record, each a notification of its own.
    let edits: Vec<String> = (1..=5)
        .map(|n| {
            contact(
                n,
                7,
                &format!("2026-03-02T08:0{n}:00.000Z"),
                &[
                    ("FirstName", Some(&format!("Jane{n}"))),
                    ("Email", Some(&format!("jane{n}@example.com"))),
                    ("Title", Some(&format!("Title {n}"))),
                ],
            )
        })
        .collect();
    // Each delivered three times, in shuffled order, alone or with others; the worker runs
    // between deliveries, so older changes arrive after newer ones were applied.
    let mut deliveries: Vec<Vec<String>> = Vec::new();
    for _ in 0..3 {
        for edit in &edits {
            deliveries.push(vec![edit.clone()]);
        }
    }
    deliveries.push(edits.clone());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    deliveries.shuffle(&mut rng);
    let mut applied = 0;
    for (n, delivery) in deliveries.iter().enumerate() {
        let answer = post_xml(&app, &i.outbound_url, envelope(ORG_ID, delivery)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ACK));
        if n % 4 == 0 {
            applied += work(&app).await.applied;
        }
    }
    applied += work(&app).await.applied;
    assert_eq!(work(&app).await, PassReport::default(), "nothing is left");

    let items = inbox(&app, &i, None).await;
    assert_eq!(items.len(), 5, "one inbox item per notification");
    assert!(
        items
            .iter()
            .all(|i| i["state"] == "done" || i["state"] == "skipped"),
        "{items:#?}"
    );
    assert!(
        items.iter().all(|i| i["attempts"] == 1),
        "each applied at most once: {items:#?}"
    );
    let done = items.iter().filter(|i| i["state"] == "done").count();
    assert_eq!(done, applied);
    assert!(
        items
            .iter()
            .any(|i| i["delivery_id"] == notification_id(5) && i["state"] == "done")
    );
    let now = client(&app, &i, &id).await;
    assert_eq!(
        (
            now["first_name"].clone(),
            now["email"].clone(),
            now["title"].clone()
        ),
        (json!("Jane5"), json!("jane5@example.com"), json!("Title 5"))
    );

    // Delivered again after everything was applied: still nothing new.
    for edit in &edits {
        post_xml(
            &app,
            &i.outbound_url,
            envelope(ORG_ID, std::slice::from_ref(edit)),
        )
        .await;
    }
    assert_eq!(work(&app).await.claimed, 0);
    assert_eq!(client(&app, &i, &id).await["first_name"], "Jane5");
}

async fn echoes_of_our_own_write_back_start_no_work(app: TestApp) {
    let i = intake(&app).await;
    app.patch(
        &format!("/api/v1/org-links/{}", i.link),
        &app.operator,
        json!({ "integration_user_id": INTEGRATION_USER }),
    )
    .await
    .expect(200);
    let id = linked_client(&app, &i, 3, "jane@example.com", false).await;
    // Our write-back, made as the integration user, with a field that would change.
    post_xml(
        &app,
        &i.outbound_url,
        envelope(
            ORG_ID,
            &[contact(
                1,
                3,
                "2026-03-02T08:01:00.000Z",
                &[
                    ("LastModifiedById", Some(INTEGRATION_USER)),
                    ("FirstName", Some("Janet")),
                    ("Liaison_Status__c", Some("draft")),
                ],
            )],
        ),
    )
    .await;
    // A change that touched only the write-back fields, as a webhook that says so.
    webhook(
        &app,
        &i,
        "msg_echo",
        &json!({ "records": [{ "sobject": "Contact", "Id": contact_id(3),
        "LastModifiedDate": "2026-03-02T08:02:00.000Z", "LastModifiedById": "0055g00000OthErAAJ",
        "changed_fields": ["Liaison_Status__c", "Liaison_Client_Id__c", "SystemModstamp"],
        "fields": { "FirstName": "Janet", "Liaison_Status__c": "draft" } }] }),
    )
    .await;
    // An outbound message whose followed fields are what we already hold.
    post_xml(
        &app,
        &i.outbound_url,
        envelope(
            ORG_ID,
            &[contact(
                2,
                3,
                "2026-03-02T08:03:00.000Z",
                &[
                    ("LastModifiedById", Some("0055g00000OthErAAJ")),
                    ("FirstName", Some("Jane")),
                    ("Email", Some("jane@example.com")),
                    ("Liaison_Status__c", Some("draft")),
                ],
            )],
        ),
    )
    .await;
    let report = work(&app).await;
    assert_eq!(
        (report.claimed, report.skipped, report.applied),
        (3, 3, 0),
        "{report:?}"
    );
    let items = inbox(&app, &i, None).await;
    let outcomes: Vec<_> = items
        .iter()
        .map(|i| i["outcome"].as_str().unwrap().to_string())
        .collect();
    assert!(outcomes[0].contains("integration user"), "{outcomes:?}");
    assert!(outcomes[1].contains("write-back fields"), "{outcomes:?}");
    assert!(
        outcomes[2].contains("nothing Liaison follows changed"),
        "{outcomes:?}"
    );
    assert_eq!(client(&app, &i, &id).await["first_name"], "Jane");
}

async fn a_deleted_or_merged_record_unlinks_its_client_and_keeps_it(app: TestApp) {
    let i = intake(&app).await;
    let id = linked_client(&app, &i, 4, "jane@example.com", false).await;
    let (status, answer) = webhook(&app, &i, "msg_merge", &json!({ "records": [{ "sobject": "Contact", "Id": contact_id(4),
        "LastModifiedDate": "2026-03-02T08:30:00.000Z", "deleted": true, "MasterRecordId": contact_id(5) }] })).await;
    assert_eq!(
        (status, answer["stored"].clone()),
        (200, json!(1)),
        "{answer}"
    );
    assert_eq!(work(&app).await.applied, 1);
    let item = &inbox(&app, &i, Some("done")).await[0];
    let outcome = item["outcome"].as_str().unwrap();
    assert!(
        outcome.contains(&format!("merged into {}", contact_id(5))),
        "{outcome}"
    );
    assert!(outcome.contains(&id), "{outcome}");
    // The client is kept; later changes of the record no longer reach them.
    assert_eq!(client(&app, &i, &id).await["status"], "draft");
    post_xml(
        &app,
        &i.outbound_url,
        envelope(
            ORG_ID,
            &[contact(
                9,
                4,
                "2026-03-02T08:40:00.000Z",
                &[("FirstName", Some("Other"))],
            )],
        ),
    )
    .await;
    work(&app).await;
    assert_eq!(client(&app, &i, &id).await["first_name"], "Jane");
    // The record can be linked again (to the same client, say).
    app.put(
        &format!("/api/v1/tenancies/{}/clients/{id}/crm-record", i.t.id),
        &i.t.admin_token,
        Some(json!({ "org_link_id": i.link, "sobject": "Contact", "record_id": contact_id(5) })),
    )
    .await
    .expect(204);
}

async fn an_email_change_voids_the_old_links_and_invites_the_new_address(app: TestApp) {
    let smtp = SmtpServer::start();
    let i = intake(&app).await;
    let id = linked_client(&app, &i, 6, "jane@example.com", true).await;
    assert_eq!(run_invitations(&app, &smtp).await.sent, 1);
    let old_link = smtp.received()[0].links()[0].clone();

    post_xml(
        &app,
        &i.outbound_url,
        envelope(
            ORG_ID,
            &[contact(
                1,
                6,
                "2026-03-02T08:59:30.000Z",
                &[
                    ("Email", Some("jane.new@example.com")),
                    ("FirstName", Some("Janet")),
                ],
            )],
        ),
    )
    .await;
    assert_eq!(work(&app).await.applied, 1);
    let now = client(&app, &i, &id).await;
    assert_eq!(
        (now["email"].clone(), now["status"].clone()),
        (json!("jane.new@example.com"), json!("invited"))
    );

    assert_eq!(run_invitations(&app, &smtp).await.sent, 1);
    let mails = smtp.received();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1].to, ["jane.new@example.com"]);
    assert!(
        mails[1].raw.contains("Janet"),
        "the invitation uses the new details"
    );
    let old = app.http.get(&old_link).send().await.unwrap();
    assert_eq!(old.status(), 410, "the old address's link stopped working");
    let history = app
        .get(
            &format!("/api/v1/tenancies/{}/clients/{id}/invitation", i.t.id),
            &i.t.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(history[1]["end_reason"], "replaced", "{history:#}");
}

async fn an_invalid_value_fails_with_its_reason_and_ops_can_replay_or_dismiss_it(app: TestApp) {
    let i = intake(&app).await;
    let id = linked_client(&app, &i, 8, "jane@example.com", false).await;
    let other = linked_client(&app, &i, 9, "taken@example.com", false).await;
    // A bad e-mail is reported and left as it was; the rest of the change applies.
    post_xml(
        &app,
        &i.outbound_url,
        envelope(
            ORG_ID,
            &[contact(
                1,
                8,
                "2026-03-02T08:10:00.000Z",
                &[
                    ("Email", Some("not-an-email")),
                    ("FirstName", Some("Janet")),
                ],
            )],
        ),
    )
    .await;
    assert_eq!(work(&app).await.applied, 1);
    let done = inbox(&app, &i, Some("done")).await;
    let outcome = done[0]["outcome"].as_str().unwrap();
    assert!(
        outcome.contains("updated first_name") && outcome.contains("Email not applied: "),
        "{outcome}"
    );
    let now = client(&app, &i, &id).await;
    assert_eq!(
        (now["first_name"].clone(), now["email"].clone()),
        (json!("Janet"), json!("jane@example.com"))
    );
    // E-mails another client holds break a rule: each change fails whole with its reason.
    post_xml(
        &app,
        &i.outbound_url,
        envelope(
            ORG_ID,
            &[
                contact(
                    2,
                    8,
                    "2026-03-02T08:11:00.000Z",
                    &[
                        ("Email", Some("taken@example.com")),
                        ("LastName", Some("Jones")),
                    ],
                ),
                contact(
                    3,
                    9,
                    "2026-03-02T08:11:00.000Z",
                    &[("Email", Some("jane@example.com"))],
                ),
            ],
        ),
    )
    .await;
    assert_eq!(work(&app).await.failed, 2);
    let failed = inbox(&app, &i, Some("failed")).await;
    assert_eq!(failed.len(), 2);
    for item in &failed {
        assert!(
            item["last_error"].as_str().unwrap().contains("e-mail"),
            "{failed:#?}"
        );
    }
    let now = client(&app, &i, &id).await;
    assert_eq!(
        (now["last_name"].clone(), now["email"].clone()),
        (json!("Smith"), json!("jane@example.com")),
        "nothing half-applied"
    );

    // Ops dismiss record 9's change, fix the conflict and replay record 8's.
    let first = failed[1]["id"].as_str().unwrap();
    let second = failed[0]["id"].as_str().unwrap();
    let dismissed = app
        .post(
            &format!("/api/v1/org-links/{}/inbox/{first}/dismiss", i.link),
            &i.t.admin_token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(dismissed["state"], "dismissed");
    app.patch(
        &format!("/api/v1/tenancies/{}/clients/{other}", i.t.id),
        &i.t.admin_token,
        json!({ "email": "else@example.com" }),
    )
    .await
    .expect(200);
    let replayed = app
        .post(
            &format!("/api/v1/org-links/{}/inbox/{second}/replay", i.link),
            &app.operator,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(replayed["state"], "pending");
    let again = app
        .post(
            &format!("/api/v1/org-links/{}/inbox/{second}/replay", i.link),
            &app.operator,
            json!({}),
        )
        .await
        .problem(409);
    assert_eq!(again["code"], "inbox-item-not-failed");
    assert_eq!(work(&app).await.applied, 1);
    let now = client(&app, &i, &id).await;
    assert_eq!(
        (now["last_name"].clone(), now["email"].clone()),
        (json!("Jones"), json!("taken@example.com"))
    );

    // Another tenancy's administrator sees nothing of this link.
    let stranger = app.tenancy("Other", "client_teams").await;
    app.get(
        &format!("/api/v1/org-links/{}/inbox", i.link),
        &stranger.admin_token,
    )
    .await
    .problem(404);
    app.post(
        &format!("/api/v1/org-links/{}/inbox/{first}/replay", i.link),
        &stranger.admin_token,
        json!({}),
    )
    .await
    .problem(404);
}

async fn auto_invite_makes_one_client_per_record_as_the_link_says(app: TestApp) {
    let smtp = SmtpServer::start();
    let i = intake(&app).await;
    app.patch(
        &format!("/api/v1/org-links/{}", i.link),
        &app.operator,
        json!({ "auto_invite": { "field": "Invite_to_Messenger__c", "tenancy_id": i.t.id, "groups": [i.team], "send": true } }),
    )
    .await
    .expect(200);
    // A Person Account with its checkbox on (`__pc`), delivered twice and then changed again.
    let pa = fixture("person-account.xml");
    post_xml(&app, &i.outbound_url, pa.clone()).await;
    post_xml(&app, &i.outbound_url, pa.clone()).await;
    let report = work(&app).await;
    assert_eq!((report.claimed, report.invited), (1, 1), "{report:?}");
    let newer = pa
        .replace("04l5g00000Wq9Zz", "04l5g00000Wq9Zy")
        .replace("2026-03-02T08:58:30.000Z", "2026-03-02T08:59:30.000Z")
        .replace("Trustee", "Beneficiary");
    post_xml(&app, &i.outbound_url, newer).await;
    assert_eq!(work(&app).await.invited, 0, "one client per record");

    let clients = app
        .get(
            &format!("/api/v1/tenancies/{}/clients", i.t.id),
            &i.t.admin_token,
        )
        .await
        .expect(200);
    let items = clients["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{clients:#}");
    let c = &items[0];
    assert_eq!(
        (c["email"].clone(), c["status"].clone(), c["title"].clone()),
        (
            json!("ravi.patel@example.com"),
            json!("invited"),
            json!("Beneficiary")
        )
    );
    assert_eq!(run_invitations(&app, &smtp).await.sent, 1);
    assert_eq!(smtp.received()[0].to, ["ravi.patel@example.com"]);
    // Without the checkbox nothing is invited.
    post_xml(
        &app,
        &i.outbound_url,
        envelope(
            ORG_ID,
            &[contact(
                3,
                30,
                "2026-03-02T08:50:00.000Z",
                &[
                    ("Email", Some("nobody@example.com")),
                    ("FirstName", Some("No")),
                    ("LastName", Some("Body")),
                    ("Invite_to_Messenger__c", Some("false")),
                ],
            )],
        ),
    )
    .await;
    assert_eq!(work(&app).await.invited, 0);
}

/// In a contact-group tenancy each relationship has its own group: auto-invite makes one per
/// client, named by the tenancy's convention, with the members the link names.
async fn auto_invite_gives_each_client_a_contact_group_of_their_own(app: TestApp) {
    let i = intake(&app).await;
    let beta = app.tenancy("Beta Trust", "contact_groups").await;
    let (adviser, _) = app.staff(&beta, "Ann", "Adviser", "staff").await;
    let settings = |members: Value| {
        json!({ "tenancies": [i.t.id, beta.id],
                "auto_invite": { "field": "Invite_to_Messenger__c", "tenancy_id": beta.id,
                                 "new_contact_group_members": members, "send": false } })
    };
    let refused = app
        .patch(
            &format!("/api/v1/org-links/{}", i.link),
            &app.operator,
            settings(json!([])),
        )
        .await
        .problem(422);
    assert_eq!(
        crate::helpers::Reply::fields(&refused),
        ["auto_invite.new_contact_group_members"]
    );
    let on_teams = json!({ "auto_invite": { "field": "Invite_to_Messenger__c", "tenancy_id": i.t.id,
                                            "new_contact_group_members": [i.t.admin_id], "send": false } });
    let refused = app
        .patch(
            &format!("/api/v1/org-links/{}", i.link),
            &app.operator,
            on_teams,
        )
        .await
        .problem(422);
    assert!(
        refused.to_string().contains("uses client teams"),
        "{refused}"
    );
    app.patch(
        &format!("/api/v1/org-links/{}", i.link),
        &app.operator,
        settings(json!([beta.admin_id, adviser])),
    )
    .await
    .expect(200);

    let person = |nid: usize, record: usize, first: &str, last: &str| {
        contact(
            nid,
            record,
            "2026-03-02T08:50:00.000Z",
            &[
                (
                    "Email",
                    Some(&format!("{first}@example.com").to_lowercase()),
                ),
                ("FirstName", Some(first)),
                ("LastName", Some(last)),
                ("Invite_to_Messenger__c", Some("true")),
            ],
        )
    };
    post_xml(
        &app,
        &i.outbound_url,
        envelope(
            ORG_ID,
            &[
                person(1, 11, "Ravi", "Patel"),
                person(2, 12, "Mina", "Okafor"),
            ],
        ),
    )
    .await;
    assert_eq!(work(&app).await.invited, 2);

    let groups = app
        .get(
            &format!("/api/v1/tenancies/{}/contact-groups", beta.id),
            &beta.admin_token,
        )
        .await
        .expect(200);
    let mut names: Vec<_> = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["Okafor Relationship", "Patel Relationship"]);
    for group in groups["items"].as_array().unwrap() {
        let members = app
            .get(
                &format!(
                    "/api/v1/tenancies/{}/contact-groups/{}/members",
                    beta.id,
                    group["id"].as_str().unwrap()
                ),
                &beta.admin_token,
            )
            .await
            .expect(200);
        let kinds: Vec<_> = members["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["kind"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(members["items"].as_array().unwrap().len(), 3, "{members:#}");
        assert_eq!(
            kinds.iter().filter(|k| *k == "client").count(),
            1,
            "{members:#}"
        );
    }
}

async fn org_link_intake_settings_are_validated_by_field(app: TestApp) {
    let i = intake(&app).await;
    let other = app.tenancy("Other", "client_teams").await;
    let problem = app
        .patch(
            &format!("/api/v1/org-links/{}", i.link),
            &app.operator,
            json!({ "integration_user_id": "0035g00000ABcdeAAD",
                    "auto_invite": { "field": "Invite; DROP", "tenancy_id": other.id, "groups": [], "send": false } }),
        )
        .await
        .problem(422);
    let mut fields = crate::helpers::Reply::fields(&problem);
    fields.sort();
    assert_eq!(
        fields,
        [
            "auto_invite.field",
            "auto_invite.groups",
            "auto_invite.tenancy_id",
            "integration_user_id"
        ]
    );
    // Turning auto-invite off with null.
    app.patch(&format!("/api/v1/org-links/{}", i.link), &app.operator,
        json!({ "auto_invite": { "field": "Invite__c", "tenancy_id": i.t.id, "groups": [i.team], "send": false } }))
        .await
        .expect(200);
    let off = app
        .patch(
            &format!("/api/v1/org-links/{}", i.link),
            &app.operator,
            json!({ "auto_invite": null }),
        )
        .await
        .expect(200);
    assert_eq!(off["auto_invite"], Value::Null);
    // Rotating the secrets: the old Outbound Message URL stops working.
    let rotated = app
        .post(
            &format!("/api/v1/org-links/{}/intake-secrets", i.link),
            &app.operator,
            json!({}),
        )
        .await
        .expect(200);
    assert_ne!(rotated["outbound_message_url"], i.outbound_url);
    assert_eq!(
        post_xml(&app, &i.outbound_url, fixture("contact.xml"))
            .await
            .status,
        404
    );
    let answer = post_xml(
        &app,
        rotated["outbound_message_url"].as_str().unwrap(),
        fixture("contact.xml"),
    )
    .await;
    assert_eq!((answer.status, answer.body.as_str()), (200, ACK));
}

/// A data loader run: hundreds of changes of unlinked records, echoes, and linked records
/// changed several times out of order, all in one batch. The unlinked are skipped in bulk (and
/// their newest times kept), echoes start no work, each linked record ends at its newest
/// change, and a change that breaks a rule fails alone.
async fn a_bulk_update_settles_in_bulk_and_keeps_every_guarantee(app: TestApp) {
    let i = intake(&app).await;
    app.patch(
        &format!("/api/v1/org-links/{}", i.link),
        &app.operator,
        json!({ "integration_user_id": INTEGRATION_USER }),
    )
    .await
    .expect(200);
    let jane = linked_client(&app, &i, 1, "jane@example.com", false).await;
    let john = linked_client(&app, &i, 2, "john@example.com", false).await;
    let kept = linked_client(&app, &i, 3, "kept@example.com", false).await;
    let mut notifications = Vec::new();
    // Jane's record three times, newest first; John's twice; an echo of ours on John's.
    for (nid, minute) in [(1, 3), (2, 1), (3, 2)] {
        notifications.push(contact(
            nid,
            1,
            &format!("2026-03-02T08:0{minute}:00.000Z"),
            &[("FirstName", Some(&format!("Jane{minute}")))],
        ));
    }
    notifications.push(contact(
        4,
        2,
        "2026-03-02T08:05:00.000Z",
        &[("Title", Some("Director"))],
    ));
    notifications.push(contact(
        5,
        2,
        "2026-03-02T08:04:00.000Z",
        &[("Title", Some("Partner"))],
    ));
    notifications.push(contact(
        6,
        2,
        "2026-03-02T08:06:00.000Z",
        &[
            ("LastModifiedById", Some(INTEGRATION_USER)),
            ("Title", Some("Echo")),
        ],
    ));
    // Kept's record takes Jane's e-mail: a broken rule, which fails that change alone.
    notifications.push(contact(
        7,
        3,
        "2026-03-02T08:07:00.000Z",
        &[
            ("Email", Some("jane@example.com")),
            ("FirstName", Some("Taken")),
        ],
    ));
    for n in 0..250 {
        // Records 100 to 299: unlinked, record 100 changed at 08:00 and (below) 09:00.
        notifications.push(contact(
            1000 + n,
            100 + n,
            "2026-03-02T09:00:00.000Z",
            &[("FirstName", Some("Bulk"))],
        ));
    }
    notifications.push(contact(
        999,
        100,
        "2026-03-02T08:00:00.000Z",
        &[("FirstName", Some("Older"))],
    ));
    for chunk in notifications.chunks(100) {
        let answer = post_xml(&app, &i.outbound_url, envelope(ORG_ID, chunk)).await;
        assert_eq!((answer.status, answer.body.as_str()), (200, ACK));
    }
    let report = work(&app).await;
    assert_eq!(
        (
            report.claimed,
            report.applied,
            report.skipped,
            report.failed,
            report.retried
        ),
        (258, 5, 252, 1, 0),
        "one pass settles the whole batch: {report:?}"
    );
    assert_eq!(work(&app).await, PassReport::default(), "nothing is left");

    assert_eq!(client(&app, &i, &jane).await["first_name"], "Jane3");
    assert_eq!(client(&app, &i, &john).await["title"], "Director");
    let now = client(&app, &i, &kept).await;
    assert_eq!(
        (now["first_name"].clone(), now["email"].clone()),
        (json!("Jane"), json!("kept@example.com")),
        "the refused change left nothing behind"
    );
    let all = all_items(&app, &i).await;
    let by_delivery = |nid: usize| {
        all.iter()
            .find(|item| item["delivery_id"] == notification_id(nid))
            .unwrap()
    };
    for applied in [1, 2, 3, 4, 5] {
        assert_eq!(
            by_delivery(applied)["state"],
            "done",
            "in modification order"
        );
    }
    assert!(
        by_delivery(6)["outcome"]
            .as_str()
            .unwrap()
            .contains("integration user")
    );
    assert_eq!(by_delivery(7)["state"], "failed");
    assert!(
        by_delivery(7)["last_error"]
            .as_str()
            .unwrap()
            .contains("e-mail"),
        "{:#}",
        by_delivery(7)
    );
    assert_eq!(all.len(), 258);
    let unlinked = all
        .iter()
        .filter(|item| {
            item["state"] == "skipped" && item["outcome"] == "no client is linked to this record"
        })
        .count();
    assert_eq!(unlinked, 251);
    assert!(all.iter().all(|item| item["attempts"] == 1));

    // A late change older than the newest applied to Jane's record changes nothing.
    post_xml(
        &app,
        &i.outbound_url,
        envelope(
            ORG_ID,
            &[contact(
                997,
                1,
                "2026-03-02T08:02:30.000Z",
                &[("FirstName", Some("Stale"))],
            )],
        ),
    )
    .await;
    assert_eq!(work(&app).await.skipped, 1);
    assert_eq!(client(&app, &i, &jane).await["first_name"], "Jane3");

    // Record 100 is linked now; a late change older than the newest skipped one stays older.
    let late = linked_client(&app, &i, 100, "late@example.com", false).await;
    post_xml(
        &app,
        &i.outbound_url,
        envelope(
            ORG_ID,
            &[contact(
                998,
                100,
                "2026-03-02T08:30:00.000Z",
                &[("FirstName", Some("Late"))],
            )],
        ),
    )
    .await;
    assert_eq!(work(&app).await.skipped, 1);
    assert_eq!(client(&app, &i, &late).await["first_name"], "Jane");
}

/// A UK Person Account's mobile as people write it is read in the phone region (the
/// tenancy's, GB by default, unless the mapping names one); a mobile that cannot be read is
/// reported on the item and the e-mail change in the same notification still applies.
async fn a_national_mobile_is_read_in_the_phone_region_and_a_bad_one_loses_nothing_else(
    app: TestApp,
) {
    let i = intake(&app).await;
    let id = linked_client(&app, &i, 1, "ravi@example.com", false).await;
    app.put(
        &format!("/api/v1/tenancies/{}/clients/{id}/crm-record", i.t.id),
        &i.t.admin_token,
        Some(json!({ "org_link_id": i.link, "sobject": "Account", "record_id": account_id(1) })),
    )
    .await
    .expect(204);
    let change = |nid: usize, minute: usize, email: &str, mobile: &str| {
        envelope(
            ORG_ID,
            &[person_account(
                nid,
                1,
                &format!("2026-03-02T08:{minute:02}:00.000Z"),
                &[
                    ("FirstName", "Ravi"),
                    ("LastName", "Patel"),
                    ("PersonEmail", email),
                    ("PersonMobilePhone", mobile),
                ],
            )],
        )
    };
    post_xml(
        &app,
        &i.outbound_url,
        change(1, 1, "ravi.patel@example.com", "07768 887464"),
    )
    .await;
    assert_eq!(work(&app).await.applied, 1);
    let now = client(&app, &i, &id).await;
    assert_eq!(
        (now["email"].clone(), now["mobile"].clone()),
        (json!("ravi.patel@example.com"), json!("+447768887464")),
        "read in the tenancy's region, GB"
    );

    // In a US tenancy the same national number cannot be read: the e-mail still changes.
    app.patch(
        &format!("/api/v1/tenancies/{}", i.t.id),
        &i.t.admin_token,
        json!({ "phone_region": "US" }),
    )
    .await
    .expect(200);
    post_xml(
        &app,
        &i.outbound_url,
        change(2, 2, "ravi.p@example.com", "07768 887465"),
    )
    .await;
    assert_eq!(work(&app).await.applied, 1);
    let item = inbox(&app, &i, None)
        .await
        .into_iter()
        .find(|item| item["delivery_id"] == notification_id(2))
        .unwrap();
    assert_eq!(item["state"], "done");
    let outcome = item["outcome"].as_str().unwrap();
    assert!(
        outcome.contains("updated email")
            && outcome.contains("PersonMobilePhone not applied: is not a valid phone number in US"),
        "{outcome}"
    );
    let now = client(&app, &i, &id).await;
    assert_eq!(
        (now["email"].clone(), now["mobile"].clone()),
        (json!("ravi.p@example.com"), json!("+447768887464"))
    );

    // The link's mapping names GB, which overrides the tenancy's region.
    let mut mapping =
        serde_json::to_value(liaison::domain::org_link::FieldMapping::default()).unwrap();
    mapping["phone_region"] = json!("GB");
    app.patch(
        &format!("/api/v1/org-links/{}", i.link),
        &app.operator,
        json!({ "field_mapping": mapping }),
    )
    .await
    .expect(200);
    post_xml(
        &app,
        &i.outbound_url,
        change(3, 3, "ravi.p@example.com", "07768 887465"),
    )
    .await;
    assert_eq!(work(&app).await.applied, 1);
    assert_eq!(client(&app, &i, &id).await["mobile"], "+447768887465");

    // Nothing else changes and the mobile cannot be read: the change fails with the reason.
    post_xml(
        &app,
        &i.outbound_url,
        change(4, 4, "ravi.p@example.com", "call me"),
    )
    .await;
    assert_eq!(work(&app).await.failed, 1);
    let failed = inbox(&app, &i, Some("failed")).await;
    assert!(
        failed[0]["last_error"]
            .as_str()
            .unwrap()
            .starts_with("PersonMobilePhone is not a valid phone number"),
        "{failed:#?}"
    );
}

async fn the_tenancy_phone_region_defaults_to_gb_and_is_validated(app: TestApp) {
    let t = app.tenancy("Acme", "client_teams").await;
    let read = app
        .get(&format!("/api/v1/tenancies/{}", t.id), &t.admin_token)
        .await
        .expect(200);
    assert_eq!(read["phone_region"], "GB");
    let changed = app
        .patch(
            &format!("/api/v1/tenancies/{}", t.id),
            &t.admin_token,
            json!({ "phone_region": "ie" }),
        )
        .await
        .expect(200);
    assert_eq!(changed["phone_region"], "IE");
    for bad in ["XX", "GBR", ""] {
        let problem = app
            .patch(
                &format!("/api/v1/tenancies/{}", t.id),
                &t.admin_token,
                json!({ "phone_region": bad }),
            )
            .await
            .problem(422);
        assert_eq!(
            problem["errors"][0]["field"], "phone_region",
            "{bad:?}: {problem:#}"
        );
    }
    let problem = app
        .post(
            "/api/v1/tenancies",
            &app.operator,
            json!({ "name": "Beta", "group_model": "client_teams", "phone_region": "Narnia" }),
        )
        .await
        .problem(422);
    assert_eq!(problem["errors"][0]["field"], "phone_region", "{problem:#}");
    let created = app
        .post(
            "/api/v1/tenancies",
            &app.operator,
            json!({ "name": "Gamma", "group_model": "client_teams", "phone_region": "US" }),
        )
        .await
        .expect(201);
    assert_eq!(created["phone_region"], "US");
    assert_eq!(
        app.get(&format!("/api/v1/tenancies/{}", t.id), &t.admin_token)
            .await
            .expect(200)["phone_region"],
        "IE",
        "a refused change leaves the setting as it was"
    );
}

/// An Outbound Message is XML 1.0, which allows no C0 control but TAB, LF and CR even as a
/// character reference: it is refused as malformed. A webhook's record fields are stored as
/// JSON (escaped, so both databases hold them) and a control character in a mapped field fails
/// the change with its reason when applied; one in a field we do not map does no harm.
async fn control_characters_from_salesforce_are_refused_or_failed_never_stored_in_a_client(
    app: TestApp,
) {
    let i = intake(&app).await;
    let id = linked_client(&app, &i, 8, "jane@example.com", false).await;
    for bad in ["Ja&#0;net", "Ja&#1;net", "Ja&#x1B;net", "Ja\u{1}net"] {
        let answer = post_xml(
            &app,
            &i.outbound_url,
            envelope(
                ORG_ID,
                &[contact(
                    1,
                    8,
                    "2026-03-02T08:10:00.000Z",
                    &[("FirstName", Some(bad))],
                )],
            ),
        )
        .await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
        assert!(answer.body.contains("<soapenv:Fault>"), "{}", answer.body);
    }
    assert!(inbox(&app, &i, None).await.is_empty(), "nothing was stored");

    let (status, problem) = webhook(
        &app,
        &i,
        "msg_ctl_0",
        &json!({ "records": [{ "sobject": "Con\u{0}tact", "Id": contact_id(8),
                               "LastModifiedDate": "2026-03-02T08:11:00.000Z", "fields": {} }] }),
    )
    .await;
    assert_eq!(status, 422, "{problem:#}");
    assert_eq!(problem["errors"][0]["field"], "records[0].sobject");
    assert!(inbox(&app, &i, None).await.is_empty(), "nothing was stored");

    let (status, body) = webhook(
        &app,
        &i,
        "msg_ctl_1",
        &json!({ "records": [{ "sobject": "Contact", "Id": contact_id(8),
                               "LastModifiedDate": "2026-03-02T08:12:00.000Z",
                               "fields": { "FirstName": "Ja\u{0}net", "Email": "jane@example.com" } }] }),
    )
    .await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(work(&app).await.failed, 1);
    let failed = inbox(&app, &i, Some("failed")).await;
    assert_eq!(failed.len(), 1);
    let reason = failed[0]["last_error"].as_str().unwrap();
    assert!(
        reason.starts_with("FirstName ") && reason.contains("control characters"),
        "{reason}"
    );
    assert_eq!(client(&app, &i, &id).await["first_name"], "Jane");

    let (status, body) = webhook(
        &app,
        &i,
        "msg_ctl_2",
        &json!({ "records": [{ "sobject": "Contact", "Id": contact_id(8),
                               "LastModifiedDate": "2026-03-02T08:13:00.000Z",
                               "fields": { "FirstName": "Janet", "Email": "jane@example.com",
                                           "Description": "pasted\u{b}from\u{0}Word" } }] }),
    )
    .await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(work(&app).await.applied, 1);
    assert_eq!(client(&app, &i, &id).await["first_name"], "Janet");
}
