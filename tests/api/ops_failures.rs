//! Failures ops act on: every attempt of a write-back, an inbox item and an e-mail kept with
//! Salesforce's (or the mail server's) answer; written write-backs remembered for the
//! retention, then pruned; lists filtered by link, tenancy, code and age; retry one, retry all
//! matching and dismiss with a reason, each audited once; scoped as the API's other reads;
//! and the console's pages at desktop and phone widths.

use fantoccini::Locator;
use liaison::config::{InboxConfig, WritebackConfig};
use liaison::jobs::writeback::pass;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::console::operator_browser;
use crate::helpers::fixtures::{
    AllSucceed, COLLECTIONS, ORG_ID, connected, contact, contact_id, envelope, intake,
    linked_client, linked_draft, post_xml,
};
use crate::helpers::invitations::run;
use crate::helpers::salesforce::{crm, fixture};
use crate::helpers::smtp::SmtpServer;
use crate::helpers::{Tenancy, TestApp};
use crate::on_both_backends;

/// Sends at once (the tests' clock stands still), and backs off half a minute.
fn config() -> WritebackConfig {
    WritebackConfig {
        min_backoff_seconds: 30,
        max_backoff_seconds: 3600,
        linger_ms: 0,
        ..Default::default()
    }
}

/// Answers each record of a Collections call with `UNABLE_TO_LOCK_ROW`, as Salesforce does
/// for a record another transaction holds.
struct Locked;

impl wiremock::Respond for Locked {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let results: Vec<Value> = body["records"]
            .as_array()
            .map(|records| {
                records
                    .iter()
                    .map(|r| {
                        json!({ "id": r["id"], "success": false, "errors": [{
                            "statusCode": "UNABLE_TO_LOCK_ROW",
                            "message": "unable to obtain exclusive access to this record",
                            "fields": [] }] })
                    })
                    .collect()
            })
            .unwrap_or_default();
        ResponseTemplate::new(200)
            .insert_header("Sforce-Limit-Info", "api-usage=120/15000")
            .set_body_json(results)
    }
}

/// Salesforce answers every Collections call from now on with `answer`.
pub(crate) async fn collections_answer(app: &TestApp, answer: impl wiremock::Respond + 'static) {
    app.salesforce.reset().await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(answer)
        .mount(&app.salesforce)
        .await;
}

/// Retries every failed write-back `filter` matches, as `token`'s holder: how many.
async fn sweep(app: &TestApp, token: &str, filter: Value) -> Value {
    app.post("/api/v1/ops/failures/writebacks/retry", token, filter)
        .await
        .expect(200)["retried"]
        .clone()
}

/// One pass of the write-back worker.
async fn writeback_pass(app: &TestApp) -> liaison::jobs::writeback::PassReport {
    pass(&crm(app), &app.store, &config()).await.unwrap()
}

async fn failures(app: &TestApp, queue: &str, query: &str, token: &str) -> Vec<Value> {
    app.get(&format!("/api/v1/ops/failures/{queue}?{query}"), token)
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The audit entries of `action` in a tenancy's trail (`None`: the installation's), as the
/// operator reads them.
async fn audited_in(app: &TestApp, tenancy: Option<&str>, action: &str) -> Vec<Value> {
    let trail = tenancy.map_or("/api/v1/audit".to_string(), |t| {
        format!("/api/v1/tenancies/{t}/audit")
    });
    app.get(&format!("{trail}?action={action}&limit=200"), &app.operator)
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

on_both_backends!(
    a_write_back_failing_twice_then_written_keeps_each_answer_and_its_write_until_pruned,
    failures_are_filtered_by_link_tenancy_code_and_age,
    retry_one_retry_all_matching_and_dismiss_with_a_reason_are_each_audited_once,
    another_tenancys_admin_finds_nothing_and_a_users_admin_is_refused,
    an_inbox_item_keeps_every_attempt_and_is_dismissed_with_a_reason,
    an_email_failed_for_good_is_sent_again_through_the_mail_server,
    the_failures_pages_show_a_queue_and_an_items_history_at_both_widths,
);

async fn a_write_back_failing_twice_then_written_keeps_each_answer_and_its_write_until_pruned(
    app: TestApp,
) {
    let (t, link, team) = connected(&app).await;
    let client = linked_draft(&app, &t, &team, link, 1).await;
    // A locked record, then Salesforce unavailable for the whole call, then written.
    collections_answer(&app, Locked).await;
    assert_eq!(writeback_pass(&app).await.retried, 1);
    collections_answer(&app, fixture(&app, "rest/server-unavailable.json")).await;
    app.clock.advance(time::Duration::hours(2));
    assert_eq!(writeback_pass(&app).await.retried, 1);

    let waiting = failures(&app, "writebacks", "state=waiting", &app.operator).await;
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    assert_eq!(waiting[0]["attempts"], 2);
    assert_eq!(waiting[0]["last_error_code"], "SERVER_UNAVAILABLE");
    let id = waiting[0]["id"].as_str().unwrap().to_string();
    let detail = app
        .get(
            &format!("/api/v1/ops/failures/writebacks/{id}"),
            &app.operator,
        )
        .await
        .expect(200);
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{detail:#}");
    let request = "PATCH /services/data/v62.0/composite/sobjects, 1 record, fields \
                   Liaison_Client_Id__c, Liaison_Status__c, Liaison_Tenancy__c";
    assert_eq!(history[0]["request"], request);
    assert_eq!(
        (
            &history[0]["outcome"],
            &history[0]["http_status"],
            &history[0]["code"]
        ),
        (&json!("retry"), &json!(200), &json!("UNABLE_TO_LOCK_ROW"))
    );
    assert_eq!(
        (
            &history[1]["outcome"],
            &history[1]["http_status"],
            &history[1]["code"]
        ),
        (&json!("retry"), &json!(503), &json!("SERVER_UNAVAILABLE"))
    );
    assert!(
        history[1]["message"]
            .as_str()
            .unwrap()
            .contains("Server unavailable")
    );

    collections_answer(&app, AllSucceed).await;
    app.clock.advance(time::Duration::hours(2));
    assert_eq!(writeback_pass(&app).await.written, 1);

    // Written: gone from the failures, and the record says what reached it and when.
    assert!(
        failures(&app, "writebacks", "", &app.operator)
            .await
            .is_empty()
    );
    let record = format!(
        "/api/v1/org-links/{link}/records/{}/writebacks",
        contact_id(1)
    );
    let reached = app.get(&record, &app.operator).await.expect(200);
    let written = reached["written"].as_array().unwrap();
    assert_eq!(written.len(), 1, "{reached:#}");
    assert_eq!(
        (
            &written[0]["status"],
            &written[0]["attempts"],
            &written[0]["client_id"]
        ),
        (&json!("draft"), &json!(3), &json!(client))
    );
    let outcomes: Vec<_> = written[0]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["outcome"].as_str().unwrap(),
                a["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("retry", "UNABLE_TO_LOCK_ROW"),
            ("retry", "SERVER_UNAVAILABLE"),
            ("written", "")
        ]
    );
    assert!(reached["outstanding"].as_array().unwrap().is_empty());
    // The 15-character form of the id names the same record.
    let short = &contact_id(1)[..15];
    let again = app
        .get(
            &format!("/api/v1/org-links/{link}/records/{short}/writebacks"),
            &app.operator,
        )
        .await
        .expect(200);
    assert_eq!(again["written"].as_array().unwrap().len(), 1);
    app.get(
        &format!("/api/v1/org-links/{link}/records/not-an-id/writebacks"),
        &app.operator,
    )
    .await
    .problem(422);

    // Kept for the retention (7 days by default), then forgotten by the worker's next pass.
    app.clock.advance(time::Duration::days(6));
    writeback_pass(&app).await;
    let kept = app.get(&record, &app.operator).await.expect(200);
    assert_eq!(kept["written"].as_array().unwrap().len(), 1);
    app.clock.advance(time::Duration::days(2));
    writeback_pass(&app).await;
    let pruned = app.get(&record, &app.operator).await.expect(200);
    assert!(
        pruned["written"].as_array().unwrap().is_empty(),
        "{pruned:#}"
    );
}

/// Four records answered as the mixed fixture answers: one written, one locked (waiting),
/// one deleted and one refused by a validation rule (failed).
async fn mixed(app: &TestApp) -> (Tenancy, Uuid) {
    let (t, link, team) = connected(app).await;
    for n in 1..=4 {
        linked_draft(app, &t, &team, link, n).await;
    }
    collections_answer(app, fixture(app, "rest/collections-mixed.json")).await;
    let report = writeback_pass(app).await;
    assert_eq!((report.written, report.retried, report.failed), (1, 1, 2));
    (t, link)
}

fn codes(items: &[Value]) -> Vec<String> {
    let mut codes: Vec<String> = items
        .iter()
        .map(|i| i["last_error_code"].as_str().unwrap_or("").to_string())
        .collect();
    codes.sort();
    codes
}

async fn failures_are_filtered_by_link_tenancy_code_and_age(app: TestApp) {
    let (t, link) = mixed(&app).await;
    let op = &app.operator;
    let open = failures(&app, "writebacks", "", op).await;
    assert_eq!(
        codes(&open),
        [
            "ENTITY_IS_DELETED",
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "UNABLE_TO_LOCK_ROW"
        ]
    );
    let failed = failures(&app, "writebacks", "state=failed", op).await;
    assert_eq!(
        codes(&failed),
        ["ENTITY_IS_DELETED", "FIELD_CUSTOM_VALIDATION_EXCEPTION"]
    );
    let deleted = failures(&app, "writebacks", "code=ENTITY_IS_DELETED", op).await;
    assert_eq!(codes(&deleted), ["ENTITY_IS_DELETED"]);
    assert_eq!(
        failures(&app, "writebacks", &format!("org_link_id={link}"), op)
            .await
            .len(),
        3
    );
    let elsewhere = Uuid::now_v7();
    assert!(
        failures(&app, "writebacks", &format!("org_link_id={elsewhere}"), op)
            .await
            .is_empty()
    );
    assert_eq!(
        failures(&app, "writebacks", &format!("tenancy_id={}", t.id), op)
            .await
            .len(),
        3
    );
    let other = app.tenancy("Other", "client_teams").await;
    assert!(
        failures(&app, "writebacks", &format!("tenancy_id={}", other.id), op)
            .await
            .is_empty()
    );
    // Age counts from the status change.
    assert!(
        failures(&app, "writebacks", "older_than_minutes=30", op)
            .await
            .is_empty()
    );
    app.clock.advance(time::Duration::minutes(31));
    assert_eq!(
        failures(&app, "writebacks", "older_than_minutes=30", op)
            .await
            .len(),
        3
    );
    // Paged like every list.
    let first = app
        .get("/api/v1/ops/failures/writebacks?limit=2", op)
        .await
        .expect(200);
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = failures(&app, "writebacks", &format!("limit=2&after={cursor}"), op).await;
    assert_eq!(second.len(), 1);
    // Bad filters are named; e-mails belong to no link; an unknown queue is not a route.
    let bad = app
        .get(
            "/api/v1/ops/failures/writebacks?older_than_minutes=-1&code=x%27%3B",
            op,
        )
        .await
        .problem(422);
    let mut fields: Vec<_> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    fields.sort();
    assert_eq!(fields, ["code", "older_than_minutes"]);
    // E-mails belong to no org link: a link's filter matches none of them.
    let by_link = app
        .get(
            &format!("/api/v1/ops/failures/emails?org_link_id={link}"),
            op,
        )
        .await
        .expect(200);
    assert!(by_link["items"].as_array().unwrap().is_empty(), "{by_link}");
    // A whole number is one however JSON writes it, as the document's schema counts it.
    let whole = app
        .post(
            "/api/v1/ops/failures/emails/retry",
            op,
            json!({ "older_than_minutes": 525_599.0, "limit": 50.0 }),
        )
        .await
        .expect(200);
    assert_eq!(whole["retried"], 0, "{whole}");
    let unknown = app.get("/api/v1/ops/failures/faxes", op).await;
    assert!(
        matches!(unknown.status.as_u16(), 400 | 404),
        "{}",
        unknown.status
    );
}

async fn retry_one_retry_all_matching_and_dismiss_with_a_reason_are_each_audited_once(
    app: TestApp,
) {
    let (t, _) = mixed(&app).await;
    let op = &app.operator;
    let trail = Some(t.id.as_str());
    let failed = failures(&app, "writebacks", "state=failed", op).await;
    let id_of = |code: &str| {
        failed
            .iter()
            .find(|i| i["last_error_code"] == code)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (deleted, refused) = (
        id_of("ENTITY_IS_DELETED"),
        id_of("FIELD_CUSTOM_VALIDATION_EXCEPTION"),
    );

    // Dismiss: a reason is required, and kept.
    let dismiss = format!("/api/v1/ops/failures/writebacks/{deleted}/dismiss");
    let blank = app
        .post(&dismiss, op, json!({ "reason": "  " }))
        .await
        .problem(422);
    assert_eq!(blank["errors"][0]["field"], "reason");
    let dismissed = app
        .post(
            &dismiss,
            op,
            json!({ "reason": "The contact was deleted in Salesforce" }),
        )
        .await
        .expect(200);
    assert_eq!(dismissed["state"], "dismissed");
    assert_eq!(
        dismissed["dismiss_reason"],
        "The contact was deleted in Salesforce"
    );
    app.post(&dismiss, op, json!({ "reason": "again" }))
        .await
        .problem(409);
    let entries = audited_in(&app, trail, "failure.dismissed").await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(entries[0]["target"]["id"], deleted);
    assert_eq!(
        entries[0]["change"]["reason"]["after"],
        "The contact was deleted in Salesforce"
    );

    // Retry all matching a filter: only the failed ones it matches, one entry with the count.
    let code = json!({ "code": "FIELD_CUSTOM_VALIDATION_EXCEPTION" });
    assert_eq!(sweep(&app, op, code.clone()).await, 1);
    // The operator's sweep concerns the installation: its trail holds the entry.
    let bulk = audited_in(&app, None, "failures.retried").await;
    assert_eq!(bulk.len(), 1, "{bulk:#?}");
    assert_eq!(bulk[0]["change"]["count"]["after"], 1);
    assert_eq!(
        bulk[0]["change"]["filter"]["after"]["code"],
        "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    );
    let now = app
        .get(&format!("/api/v1/ops/failures/writebacks/{refused}"), op)
        .await
        .expect(200);
    assert_eq!(
        (
            now["item"]["state"].as_str(),
            now["item"]["attempts"].as_i64()
        ),
        (Some("pending"), Some(0))
    );
    // Nothing else failed matches now: no entry for a retry that changed nothing.
    assert_eq!(sweep(&app, op, code).await, 0);
    assert_eq!(audited_in(&app, None, "failures.retried").await.len(), 1);

    // Retry one: the dismissed write-back goes back to waiting; a waiting one cannot be.
    let retry = format!("/api/v1/ops/failures/writebacks/{deleted}/retry");
    let back = app.post(&retry, op, json!({})).await.expect(200);
    assert_eq!(back["state"], "pending");
    assert_eq!(back["dismiss_reason"], Value::Null);
    app.post(&retry, op, json!({})).await.problem(409);
    let entries = audited_in(&app, trail, "failure.retried").await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    assert_eq!(entries[0]["target"]["id"], deleted);
    assert_eq!(entries[0]["target"]["kind"], "writeback");
}

async fn another_tenancys_admin_finds_nothing_and_a_users_admin_is_refused(app: TestApp) {
    let (t, _) = mixed(&app).await;
    let item = failures(&app, "writebacks", "state=failed", &app.operator).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Their own administrator sees and acts on them.
    assert_eq!(
        failures(&app, "writebacks", "", &t.admin_token).await.len(),
        3
    );
    app.get(
        &format!("/api/v1/ops/failures/writebacks/{item}"),
        &t.admin_token,
    )
    .await
    .expect(200);
    // Another tenancy's administrator: nothing listed, the item not found, no change.
    let other = app.tenancy("Other", "client_teams").await;
    assert!(
        failures(&app, "writebacks", "", &other.admin_token)
            .await
            .is_empty()
    );
    assert!(
        failures(
            &app,
            "writebacks",
            &format!("tenancy_id={}", t.id),
            &other.admin_token
        )
        .await
        .is_empty()
    );
    app.get(
        &format!("/api/v1/ops/failures/writebacks/{item}"),
        &other.admin_token,
    )
    .await
    .problem(404);
    app.post(
        &format!("/api/v1/ops/failures/writebacks/{item}/retry"),
        &other.admin_token,
        json!({}),
    )
    .await
    .problem(404);
    app.post(
        &format!("/api/v1/ops/failures/writebacks/{item}/dismiss"),
        &other.admin_token,
        json!({ "reason": "not mine" }),
    )
    .await
    .problem(404);
    assert_eq!(sweep(&app, &other.admin_token, json!({})).await, 0);
    // A users administrator of the same tenancy is refused before anything is read.
    let (_, users_admin) = app.staff(&t, "Uma", "Users", "users_administrator").await;
    app.get("/api/v1/ops/failures/writebacks", &users_admin)
        .await
        .problem(403);
    app.post(
        &format!("/api/v1/ops/failures/writebacks/{item}/retry"),
        &users_admin,
        json!({}),
    )
    .await
    .problem(403);
    let still = failures(&app, "writebacks", "state=failed", &app.operator).await;
    assert_eq!(still.len(), 2, "nothing changed");
    for trail in [Some(t.id.as_str()), Some(other.id.as_str()), None] {
        for action in ["failure.retried", "failure.dismissed", "failures.retried"] {
            assert!(audited_in(&app, trail, action).await.is_empty(), "{action}");
        }
    }
}

async fn an_inbox_item_keeps_every_attempt_and_is_dismissed_with_a_reason(app: TestApp) {
    let i = intake(&app).await;
    linked_client(&app, &i, 8, "jane@example.com", false).await;
    linked_client(&app, &i, 9, "taken@example.com", false).await;
    // Record 8 takes an e-mail another client holds: a broken rule, failed with its reason.
    post_xml(
        &app,
        &i.outbound_url,
        envelope(
            ORG_ID,
            &[contact(
                1,
                8,
                "2026-03-02T08:11:00.000Z",
                &[("Email", Some("taken@example.com"))],
            )],
        ),
    )
    .await;
    let work = liaison::jobs::inbox::pass(&app.store, &InboxConfig::default())
        .await
        .unwrap();
    assert_eq!(work.failed, 1);
    let failed = failures(&app, "inbox", "state=failed", &app.operator).await;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert!(failed[0]["last_error"].as_str().unwrap().contains("e-mail"));
    assert!(
        failures(&app, "inbox", "code=e-mail", &app.operator)
            .await
            .len()
            == 1
    );
    assert!(
        failures(&app, "inbox", "code=UNRELATED", &app.operator)
            .await
            .is_empty()
    );
    let id = failed[0]["id"].as_str().unwrap().to_string();

    // Replayed, it fails again: two attempts, each with its error.
    app.post(
        &format!("/api/v1/ops/failures/inbox/{id}/retry"),
        &app.operator,
        json!({}),
    )
    .await
    .expect(200);
    liaison::jobs::inbox::pass(&app.store, &InboxConfig::default())
        .await
        .unwrap();
    let detail = app
        .get(&format!("/api/v1/ops/failures/inbox/{id}"), &app.operator)
        .await
        .expect(200);
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{detail:#}");
    for attempt in history {
        assert_eq!(attempt["outcome"], "failed");
        assert!(attempt["message"].as_str().unwrap().contains("e-mail"));
    }
    assert_eq!(detail["item"]["tenancy_id"], Value::Null);
    // The tenancy's administrator sees it (the link serves them alone) and dismisses it.
    let dismissed = app
        .post(
            &format!("/api/v1/ops/failures/inbox/{id}/dismiss"),
            &i.t.admin_token,
            json!({ "reason": "Two contacts share one e-mail; fixed in Salesforce" }),
        )
        .await
        .expect(200);
    assert_eq!(dismissed["state"], "dismissed");
    let entries = audited_in(&app, Some(i.t.id.as_str()), "failure.dismissed").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["target"]["kind"], "inbox_item");
}

async fn an_email_failed_for_good_is_sent_again_through_the_mail_server(app: TestApp) {
    let smtp = SmtpServer::start();
    let t = app.tenancy("Acme", "client_teams").await;
    let team = app
        .group(&t, "client-teams", "Private Clients", &[&t.admin_id])
        .await;
    let client = app
        .post(
            &format!("/api/v1/tenancies/{}/clients", t.id),
            &t.admin_token,
            json!({ "first_name": "Jane", "last_name": "Smith", "email": "jane@example.com", "client_teams": [team] }),
        )
        .await
        .expect(201);
    let client = client["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{client}/send", t.id),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    smtp.refuse_for_good();
    assert_eq!(run(&app, &smtp).await.failed, 1);
    let failed = failures(&app, "emails", "", &t.admin_token).await;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(
        (
            &failed[0]["subject"],
            &failed[0]["detail"],
            &failed[0]["state"]
        ),
        (
            &json!("jane@example.com"),
            &json!("invitation"),
            &json!("failed")
        )
    );
    let id = failed[0]["id"].as_str().unwrap().to_string();
    let detail = app
        .get(&format!("/api/v1/ops/failures/emails/{id}"), &t.admin_token)
        .await
        .expect(200);
    let history = detail["history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{detail:#}");
    assert_eq!(history[0]["outcome"], "failed");
    assert!(history[0]["message"].as_str().unwrap().contains("refused"));

    // Retried: sent again now, through the mail server, and its attempt recorded.
    smtp.accept();
    let before = smtp.received().len();
    let retried = app
        .post(
            &format!("/api/v1/ops/failures/emails/{id}/retry"),
            &t.admin_token,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(retried["state"], "retried");
    assert_eq!(run(&app, &smtp).await.sent, 1);
    let received = smtp.received();
    assert_eq!(received.len(), before + 1);
    let to = received.last().unwrap().header("To").unwrap_or_default();
    assert!(to.contains("jane@example.com"), "{to}");
    let after = app
        .get(&format!("/api/v1/ops/failures/emails/{id}"), &t.admin_token)
        .await
        .expect(200);
    let outcomes: Vec<_> = after["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outcomes, ["failed", "sent"]);
    assert!(
        failures(&app, "emails", "", &t.admin_token)
            .await
            .is_empty()
    );
    app.post(
        &format!("/api/v1/ops/failures/emails/{id}/retry"),
        &t.admin_token,
        json!({}),
    )
    .await
    .problem(409);
    assert_eq!(
        audited_in(&app, Some(t.id.as_str()), "failure.retried")
            .await
            .len(),
        1
    );
}

async fn type_into(browser: &crate::helpers::browser::Browser, css: &str, text: &str) {
    let field = browser.client.find(Locator::Css(css)).await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// The page fits a phone's and a desktop's window, and is photographed at both.
async fn looked_at(browser: &crate::helpers::browser::Browser, name: &str) {
    fits(browser, 420).await;
    fits(browser, 1280).await;
    browser.snapshot(name).await;
}

/// The page fits the window: nothing wider than the viewport.
async fn fits(browser: &crate::helpers::browser::Browser, width: u32) {
    browser.client.set_window_size(width, 1100).await.unwrap();
    let fits = browser
        .client
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(fits, json!(true), "the page overflows at {width} px");
}

async fn the_failures_pages_show_a_queue_and_an_items_history_at_both_widths(app: TestApp) {
    let (t, _) = mixed(&app).await;
    let browser = operator_browser(&app).await;
    browser
        .click("a[href='/console/ops/failures'].slds-context-bar__label-action")
        .await;
    browser.heading("Failures").await;
    browser
        .wait_for(Locator::Css("#failures"), "the failures")
        .await;
    let list = browser.text("#failures").await;
    for shown in [
        "ENTITY_IS_DELETED",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "UNABLE_TO_LOCK_ROW",
    ] {
        assert!(list.contains(shown), "{shown}: {list}");
    }
    looked_at(&browser, "console-ops-failures-list").await;

    // Filtered by code, without JavaScript's help: a GET form.
    type_into(&browser, "#code", "ENTITY_IS_DELETED").await;
    browser.click("#filter").await;
    // The filtered list replaces the whole one.
    let filtered = "//table[@id='failures' and not(contains(., 'UNABLE_TO_LOCK_ROW'))]";
    browser
        .wait_for(Locator::XPath(filtered), "the filtered failures")
        .await;
    let filtered = browser.text("#failures").await;
    assert!(
        filtered.contains("ENTITY_IS_DELETED") && !filtered.contains("UNABLE_TO_LOCK_ROW"),
        "{filtered}"
    );

    // Retry all matching asks first, saying how many.
    browser.click("#retry-all").await;
    browser.heading("Retry 1 failed write-back?").await;
    browser.click("#cancel").await;
    browser
        .wait_for(Locator::Css("#failures"), "the failures")
        .await;

    // An item's page: its history as a table, then dismissed with a reason.
    browser.click("#failures a").await;
    browser
        .wait_for(Locator::Css("#history"), "the history")
        .await;
    let history = browser.text("#history").await;
    assert!(
        history.contains("ENTITY_IS_DELETED") && history.contains("HTTP 200"),
        "{history}"
    );
    looked_at(&browser, "console-ops-failures-item").await;
    browser.click("#dismiss").await;
    browser.heading("Dismiss this write-back?").await;
    browser.click("#confirm").await;
    browser
        .wait_for(Locator::Css("#reason-error"), "the reason's error")
        .await;
    type_into(&browser, "#reason", "Deleted in Salesforce").await;
    browser.click("#confirm").await;
    browser
        .wait_for(Locator::Css("#dismiss-reason"), "the dismissal's reason")
        .await;
    assert!(browser.text("#notice").await.contains("Dismissed"));
    assert_eq!(browser.text("#state").await, "Dismissed");
    browser.snapshot("console-ops-failures-dismissed").await;
    browser.stop().await;
    assert_eq!(
        audited_in(&app, Some(t.id.as_str()), "failure.dismissed")
            .await
            .len(),
        1
    );
}
