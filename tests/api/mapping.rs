//! The field mapping against the org through the API: the org's fields (the sObject Describe,
//! cached and revalidated with Salesforce's conditional request), a dry run of a candidate
//! mapping that writes nothing, and who may use either.

use serde_json::{Value, json};
use time::Duration;
use wiremock::matchers::{header, headers, method, path_regex};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::canvas::{RECORD, record_answers};
use crate::helpers::salesforce::{connect, fixture, web_server_link};
use crate::helpers::{Reply, Tenancy, TestApp};
use crate::on_both_backends;

on_both_backends!(
    the_orgs_fields_are_described_once_and_revalidated_with_their_etag,
    a_dry_run_shows_the_prefill_and_the_write_back_and_writes_nothing,
    a_dry_run_names_each_field_that_does_not_fit_the_org,
    a_dry_run_refuses_a_mapping_or_record_id_that_does_not_parse,
    describe_and_dry_run_answer_whom_the_links_other_endpoints_answer,
    a_paused_link_is_not_described,
);

/// A tenancy and a connected link serving it alone.
pub async fn connected(app: &TestApp) -> (Tenancy, String) {
    let t = app.tenancy("Acme Wealth", "client_teams").await;
    let link = web_server_link(app, &t).await;
    let id = connect(app, &link).await;
    (t, id.to_string())
}

/// Salesforce describes Contact and Account as the fixtures do, each answer counted.
pub async fn describes(app: &TestApp) {
    for (sobject, file) in [
        ("Contact", "rest/describe-contact.json"),
        ("Account", "rest/describe-account.json"),
    ] {
        Mock::given(method("GET"))
            .and(path_regex(format!(
                "^/services/data/v[0-9.]+/sobjects/{sobject}/describe$"
            )))
            .respond_with(fixture(app, file))
            .mount(&app.salesforce)
            .await;
    }
}

/// How many requests of `verb` to a path holding `part` reached Salesforce.
pub async fn calls(app: &TestApp, verb: &str, part: &str) -> usize {
    app.salesforce
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path().contains(part))
        .count()
}

fn mapping(email: &str) -> Value {
    json!({
        "contact": { "first_name": "FirstName", "last_name": "LastName", "email": email,
                     "mobile": "MobilePhone", "title": "Title" },
        "person_account": { "first_name": "FirstName", "last_name": "LastName", "email": "PersonEmail",
                            "mobile": "PersonMobilePhone", "title": "PersonTitle" },
        "write_back": { "status": "Liaison_Status__c", "client_id": "Liaison_Client_Id__c",
                        "tenancy": "Liaison_Tenancy__c" },
        "phone_region": "GB"
    })
}

async fn dry_run(app: &TestApp, link: &str, token: &str, body: Value) -> Reply {
    app.post(
        &format!("/api/v1/org-links/{link}/mapping/dry-run"),
        token,
        body,
    )
    .await
}

fn problems(answer: &Value) -> Vec<(String, String)> {
    answer["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["field"].as_str().unwrap().to_string(),
                p["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn the_orgs_fields_are_described_once_and_revalidated_with_their_etag(app: TestApp) {
    let (_, link) = connected(&app).await;
    describes(&app).await;
    let path = format!("/api/v1/org-links/{link}/describe/Contact");
    let described = app.get(&path, &app.operator).await.expect(200);
    assert_eq!(described["name"], "Contact");
    let email = described["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Email")
        .unwrap();
    assert_eq!(
        email,
        &json!({ "name": "Email", "label": "Email", "type": "email", "updateable": true, "picklist_values": [] })
    );
    let status = described["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Liaison_Status__c")
        .unwrap();
    assert_eq!(status["picklist_values"][1]["value"], "draft");
    assert_eq!(status["picklist_values"][1]["label"], "Pending (Draft)");

    // Fresh, it is answered from the cache: no call.
    app.get(&path, &app.operator).await.expect(200);
    assert_eq!(calls(&app, "GET", "/sobjects/Contact/describe").await, 1);

    // Later, Salesforce is asked whether it changed; its 304 keeps the cached body.
    Mock::given(method("GET"))
        .and(path_regex("/sobjects/Contact/describe$"))
        .and(header("if-none-match", "\"contact-describe-v1\""))
        // wiremock reads a header's value as a comma-separated list.
        .and(headers(
            "if-modified-since",
            vec!["Tue", "01 Dec 2026 09:30:00 GMT"],
        ))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .expect(1)
        .mount(&app.salesforce)
        .await;
    app.clock.advance(Duration::minutes(10));
    let again = app.get(&path, &app.operator).await.expect(200);
    assert_eq!(again, described);
    assert_eq!(calls(&app, "GET", "/sobjects/Contact/describe").await, 2);
    app.salesforce.verify().await;

    // Account is described on its own: the Person Account fields, custom ones as __pc.
    let account = app
        .get(
            &format!("/api/v1/org-links/{link}/describe/Account"),
            &app.operator,
        )
        .await
        .expect(200);
    let names: Vec<&str> = account["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"PersonEmail") && names.contains(&"Liaison_Status__pc"));
    app.get(
        &format!("/api/v1/org-links/{link}/describe/Lead"),
        &app.operator,
    )
    .await
    .problem(404);
}

async fn a_dry_run_shows_the_prefill_and_the_write_back_and_writes_nothing(app: TestApp) {
    let (t, link) = connected(&app).await;
    describes(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let answer = dry_run(
        &app,
        &link,
        &app.operator,
        json!({ "field_mapping": mapping("Email"), "record_id": RECORD }),
    )
    .await
    .expect(200);
    assert_eq!(
        answer["prefill"],
        json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane.smith@example.com",
                "mobile": "07768 887464", "title": null, "read_only": [] })
    );
    assert_eq!(
        answer["write_back"],
        json!({ "attributes": { "type": "Contact" }, "id": RECORD, "Liaison_Status__c": "invited",
                "Liaison_Client_Id__c": "00000000-0000-0000-0000-000000000000",
                "Liaison_Tenancy__c": t.id })
    );
    assert_eq!(problems(&answer), vec![]);
    // The record was read through the candidate mapping's fields.
    let read = app.salesforce.received_requests().await.unwrap();
    let record_read = read
        .iter()
        .find(|r| r.url.path().ends_with(RECORD))
        .unwrap();
    assert!(record_read.url.query().unwrap().contains("Email"));
    // Nothing was written: no update reached Salesforce, no client exists, the mapping stands.
    assert_eq!(calls(&app, "PATCH", "").await, 0);
    assert_eq!(calls(&app, "POST", "/services/data").await, 0);
    let clients = app
        .get(
            &format!("/api/v1/tenancies/{}/clients", t.id),
            &t.admin_token,
        )
        .await
        .expect(200);
    assert_eq!(clients["items"], json!([]));
    let saved = app
        .get(&format!("/api/v1/org-links/{link}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(
        saved["field_mapping"]["write_back"]["client_id"],
        "Liaison_Client_Id__c"
    );
}

async fn a_dry_run_names_each_field_that_does_not_fit_the_org(app: TestApp) {
    let (_, link) = connected(&app).await;
    describes(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let mut candidate = mapping("Email2__c");
    candidate["contact"]["mobile"] = json!("Email");
    candidate["write_back"]["status"] = json!("Liaison_Client_Id__c");
    candidate["write_back"]["tenancy"] = json!("Liaison_Last_Sync__c");
    let answer = dry_run(
        &app,
        &link,
        &app.operator,
        json!({ "field_mapping": candidate, "record_id": RECORD }),
    )
    .await
    .expect(200);
    assert_eq!(
        problems(&answer),
        [
            (
                "field_mapping.contact.email",
                "\"Email2__c\" is not a field of Contact"
            ),
            (
                "field_mapping.contact.mobile",
                "\"Email\" is of type email; this needs a phone or text field"
            ),
            (
                "field_mapping.write_back.status",
                "\"Liaison_Client_Id__c\" on Contact is of type string; the status needs a picklist"
            ),
            (
                "field_mapping.write_back.tenancy",
                "\"Liaison_Last_Sync__c\" on Contact is not updateable by the integration user"
            ),
            (
                "prefill.email",
                "the record has no value for this required field"
            ),
            ("prefill.mobile", "is not a valid phone number in GB"),
        ]
        .map(|(f, r)| (f.to_string(), r.to_string()))
    );
}

async fn a_dry_run_refuses_a_mapping_or_record_id_that_does_not_parse(app: TestApp) {
    let (_, link) = connected(&app).await;
    let refused = dry_run(
        &app,
        &link,
        &app.operator,
        json!({ "field_mapping": mapping("Email; DROP"), "record_id": "not-an-id" }),
    )
    .await
    .problem(422);
    assert_eq!(
        Reply::fields(&refused),
        ["field_mapping.contact.email", "record_id"]
    );
    assert_eq!(calls(&app, "GET", "/services/data").await, 0);
}

async fn describe_and_dry_run_answer_whom_the_links_other_endpoints_answer(app: TestApp) {
    let (t, link) = connected(&app).await;
    describes(&app).await;
    record_answers(&app, RECORD, fixture(&app, "rest/contact.json")).await;
    let other = app.tenancy("Bravo Trust", "client_teams").await;
    let (_, users_admin) = app.staff(&t, "Uma", "Users", "users_administrator").await;
    let body = json!({ "field_mapping": mapping("Email"), "record_id": RECORD });
    let describe = format!("/api/v1/org-links/{link}/describe/Contact");
    for (token, status) in [
        (&t.admin_token, 200),
        (&other.admin_token, 404),
        (&users_admin, 403),
    ] {
        let shown = app
            .get(&format!("/api/v1/org-links/{link}"), token)
            .await
            .status;
        assert_eq!(shown.as_u16(), status);
        assert_eq!(app.get(&describe, token).await.status, shown);
        assert_eq!(
            dry_run(&app, &link, token, body.clone()).await.status,
            shown
        );
    }
    // A link several tenancies share: each one's administrator reads its fields, and only
    // an operator, who may change its mapping, dry-runs one.
    app.patch(
        &format!("/api/v1/org-links/{link}"),
        &app.operator,
        json!({ "tenancies": [t.id, other.id] }),
    )
    .await
    .expect(200);
    app.get(&describe, &other.admin_token).await.expect(200);
    dry_run(&app, &link, &other.admin_token, body.clone())
        .await
        .problem(403);
    dry_run(&app, &link, &app.operator, body).await.expect(200);
}

async fn a_paused_link_is_not_described(app: TestApp) {
    let (_, link) = connected(&app).await;
    describes(&app).await;
    app.patch(
        &format!("/api/v1/org-links/{link}"),
        &app.operator,
        json!({ "paused": true, "pause_reason": "Org maintenance" }),
    )
    .await
    .expect(200);
    let refused = app
        .get(
            &format!("/api/v1/org-links/{link}/describe/Contact"),
            &app.operator,
        )
        .await
        .problem(409);
    assert_eq!(refused["code"], "org-link-paused");
    assert_eq!(calls(&app, "GET", "/describe").await, 0);
}
