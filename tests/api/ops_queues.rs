//! The queues ops watch, as the workers leave them: a paused link's record-event inbox waits
//! (pending, listed as waiting) and is applied once the link is resumed, while other links'
//! changes go on; a write-back call that failed whole keeps Salesforce's HTTP status in the
//! item's history; and the attempts of inbox items and e-mails that are over are forgotten
//! after the retention, while open ones keep their whole history.

use liaison::config::{InboxConfig, WritebackConfig};
use liaison::jobs::inbox::PassReport;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::fixtures::{
    Intake, ORG_ID, connected, contact, envelope, intake, linked_client, linked_draft, post_xml,
    sf_id,
};
use crate::helpers::invitations::run;
use crate::helpers::salesforce::{crm, fixture};
use crate::helpers::smtp::SmtpServer;
use crate::on_both_backends;
use crate::ops_failures::collections_answer;

on_both_backends!(
    a_paused_links_inbox_waits_and_is_applied_once_resumed,
    a_whole_call_failure_keeps_its_http_status_in_the_history,
    attempts_of_inbox_items_and_emails_that_are_over_are_pruned_after_the_retention,
);

async fn inbox_pass(app: &TestApp) -> PassReport {
    liaison::jobs::inbox::pass(&app.store, &InboxConfig::default())
        .await
        .unwrap()
}

async fn writeback_pass(app: &TestApp) -> liaison::jobs::writeback::PassReport {
    // Sends at once: the tests' clock stands still.
    let config = WritebackConfig {
        linger_ms: 0,
        ..Default::default()
    };
    liaison::jobs::writeback::pass(&crm(app), &app.store, &config)
        .await
        .unwrap()
}

/// The items a list of the API answers.
async fn items(app: &TestApp, url: &str) -> Vec<Value> {
    let page = app.get(url, &app.operator).await.expect(200);
    page["items"].as_array().cloned().unwrap_or_default()
}

async fn failures(app: &TestApp, queue: &str, query: &str) -> Vec<Value> {
    items(app, &format!("/api/v1/ops/failures/{queue}?{query}")).await
}

/// Salesforce delivers `changes` of `org` to an intake URL, and is acknowledged.
async fn deliver(app: &TestApp, url: &str, org: &str, changes: &[String]) {
    let answer = post_xml(app, url, envelope(org, changes)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// A client's first name, as their tenancy's administrator reads it.
async fn first_name(app: &TestApp, i: &Intake, id: &str) -> Value {
    let url = format!("/api/v1/tenancies/{}/clients/{id}", i.t.id);
    app.get(&url, &i.t.admin_token).await.expect(200)["first_name"].clone()
}

/// Each inbox item's state, as the link's queue lists it.
async fn inbox_states(app: &TestApp, link: &str) -> Vec<String> {
    items(app, &format!("/api/v1/org-links/{link}/inbox?limit=200"))
        .await
        .iter()
        .map(|i| i["state"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn a_paused_links_inbox_waits_and_is_applied_once_resumed(app: TestApp) {
    let i = intake(&app).await;
    let jane = linked_client(&app, &i, 1, "jane@example.com", false).await;
    // A second org's link, serving the same tenancy, with its own intake.
    let other_org = &sf_id("00D5g00000", 7);
    let other = app
        .post(
            "/api/v1/org-links",
            &app.operator,
            json!({ "name": "Acme sandbox", "org_id": other_org, "login_host": app.salesforce.uri(),
                    "auth_kind": "web_server", "consumer_key": "3MVG9other", "consumer_secret": "s3cret-other",
                    "tenancies": [i.t.id] }),
        )
        .await
        .expect(201);
    let other_link = other["id"].as_str().unwrap().to_string();
    let other_url = other["intake_secrets"]["outbound_message_url"]
        .as_str()
        .unwrap()
        .to_string();

    app.patch(
        &format!("/api/v1/org-links/{}", i.link),
        &app.operator,
        json!({ "paused": true, "pause_reason": "Org migration" }),
    )
    .await
    .expect(200);
    // Salesforce still delivers to a paused link: the changes are stored and acknowledged.
    let janet = [("FirstName", Some("Janet"))];
    let change = contact(1, 1, "2026-03-02T08:11:00.000Z", &janet);
    deliver(&app, &i.outbound_url, ORG_ID, &[change]).await;
    let unlinked = contact(2, 5, "2026-03-02T08:12:00.000Z", &[]);
    deliver(&app, &other_url, other_org, &[unlinked]).await;

    // Passes with time moving on: the other link's change is settled, the paused one's waits.
    let first = inbox_pass(&app).await;
    assert_eq!((first.claimed, first.applied), (1, 0), "{first:?}");
    assert_eq!(inbox_states(&app, &other_link).await, ["skipped"]);
    for _ in 0..2 {
        app.clock.advance(time::Duration::minutes(30));
        assert_eq!(inbox_pass(&app).await.claimed, 0);
    }
    assert_eq!(inbox_states(&app, &i.link).await, ["pending"]);
    let waiting = failures(&app, "inbox", "state=waiting").await;
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    assert_eq!(
        (&waiting[0]["org_link_id"], &waiting[0]["state"]),
        (&json!(i.link), &json!("pending"))
    );
    assert_eq!(first_name(&app, &i, &jane).await, "Jane");

    // Resumed: the next pass applies it.
    app.patch(
        &format!("/api/v1/org-links/{}", i.link),
        &app.operator,
        json!({ "paused": false }),
    )
    .await
    .expect(200);
    let resumed = inbox_pass(&app).await;
    assert_eq!((resumed.claimed, resumed.applied), (1, 1), "{resumed:?}");
    assert_eq!(inbox_states(&app, &i.link).await, ["done"]);
    assert_eq!(first_name(&app, &i, &jane).await, "Janet");
    assert!(failures(&app, "inbox", "state=waiting").await.is_empty());
}

async fn a_whole_call_failure_keeps_its_http_status_in_the_history(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;
    // Salesforce unavailable, then the concurrent-request limit (not the daily one).
    collections_answer(&app, fixture(&app, "rest/server-unavailable.json")).await;
    assert_eq!(writeback_pass(&app).await.retried, 1);
    collections_answer(
        &app,
        fixture(&app, "rest/concurrent-requests-exceeded.json"),
    )
    .await;
    app.clock.advance(time::Duration::hours(2));
    assert_eq!(writeback_pass(&app).await.retried, 1);

    let waiting = failures(&app, "writebacks", "state=waiting").await;
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    let id = waiting[0]["id"].as_str().unwrap();
    let url = format!("/api/v1/ops/failures/writebacks/{id}");
    let detail = app.get(&url, &app.operator).await.expect(200);
    let history = detail["history"].as_array().cloned().unwrap_or_default();
    let answers: Vec<[Value; 3]> = history
        .iter()
        .map(|a| [&a["outcome"], &a["http_status"], &a["code"]].map(Value::clone))
        .collect();
    assert_eq!(
        answers,
        [
            [json!("retry"), json!(503), json!("SERVER_UNAVAILABLE")],
            [json!("retry"), json!(403), json!("REQUEST_LIMIT_EXCEEDED")],
        ],
        "{detail:#}"
    );
    assert!(
        history[1]["message"]
            .as_str()
            .unwrap()
            .contains("ConcurrentRequests"),
        "{detail:#}"
    );
    assert!(
        history
            .iter()
            .all(|a| a["request"].as_str().unwrap().starts_with("PATCH ")),
        "{detail:#}"
    );
}

/// Attempts kept, counted as a dashboard would read them.
async fn count(pool: &sqlx::AnyPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// (inbox attempts of applied items, of failed ones, e-mail attempts of `running`'s cycle, of
/// `revoked`'s).
async fn kept(pool: &sqlx::AnyPool, running: &str, revoked: &str) -> (i64, i64, i64, i64) {
    let of_client = |client: &str| {
        format!(
            "SELECT COUNT(*) FROM queue_attempts a JOIN invitation_cycles c ON c.id = a.item_id \
             WHERE a.queue = 'email' AND c.client_id = '{client}'"
        )
    };
    (
        count(
            pool,
            "SELECT COUNT(*) FROM queue_attempts WHERE queue = 'inbox' AND outcome = 'done'",
        )
        .await,
        count(
            pool,
            "SELECT COUNT(*) FROM queue_attempts WHERE queue = 'inbox' AND outcome = 'failed'",
        )
        .await,
        count(pool, &of_client(running)).await,
        count(pool, &of_client(revoked)).await,
    )
}

async fn attempts_of_inbox_items_and_emails_that_are_over_are_pruned_after_the_retention(
    app: TestApp,
) {
    let smtp = SmtpServer::start();
    let i = intake(&app).await;
    let running = linked_client(&app, &i, 1, "ann@example.com", true).await;
    let revoked = linked_client(&app, &i, 2, "bob@example.com", true).await;
    linked_client(&app, &i, 3, "cy@example.com", false).await;
    linked_client(&app, &i, 4, "dee@example.com", false).await;
    assert_eq!(run(&app, &smtp).await.sent, 2);
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{revoked}/revoke", i.t.id),
        &i.t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    // Record 3 applied; record 4 takes an e-mail another client holds and fails.
    let cyril = [("FirstName", Some("Cyril"))];
    let taken = [("Email", Some("cy@example.com"))];
    let changes = [
        contact(1, 3, "2026-03-02T08:11:00.000Z", &cyril),
        contact(2, 4, "2026-03-02T08:12:00.000Z", &taken),
    ];
    deliver(&app, &i.outbound_url, ORG_ID, &changes).await;
    let applied = inbox_pass(&app).await;
    assert_eq!((applied.applied, applied.failed), (1, 1), "{applied:?}");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.database_url)
        .await
        .expect("the app's database");
    assert_eq!(kept(&pool, &running, &revoked).await, (1, 1, 1, 1));

    // Within the retention (7 days by default) everything is kept.
    app.clock.advance(time::Duration::days(6));
    writeback_pass(&app).await;
    assert_eq!(kept(&pool, &running, &revoked).await, (1, 1, 1, 1));

    // Past it: the applied item's and the revoked invitation's attempts go; the failed item
    // and the running invitation keep theirs.
    app.clock.advance(time::Duration::days(2));
    writeback_pass(&app).await;
    assert_eq!(kept(&pool, &running, &revoked).await, (0, 1, 1, 0));

    // Once ops dismiss the failed item, its old attempts go too.
    let failed = failures(&app, "inbox", "state=failed").await;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    app.post(
        &format!(
            "/api/v1/ops/failures/inbox/{}/dismiss",
            failed[0]["id"].as_str().unwrap()
        ),
        &app.operator,
        json!({ "reason": "Two contacts share one e-mail; fixed in Salesforce" }),
    )
    .await
    .expect(200);
    writeback_pass(&app).await;
    assert_eq!(kept(&pool, &running, &revoked).await, (0, 0, 1, 0));
    pool.close().await;
}
