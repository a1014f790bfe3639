//! The status write-back: outbox rows written in the status change's transaction, coalesced
//! per record, sent in Collections calls of at most 200, each record settled on its own.

use liaison::config::WritebackConfig;
use liaison::jobs::writeback::pass;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::fixtures::{
    AllSucceed, COLLECTIONS, connected, contact_id, linked_draft, sent_bodies,
};
use crate::helpers::salesforce::{crm, crm_with, fixture};
use crate::helpers::{TestApp, crm_config};
use crate::on_both_backends;

/// Sends at once: the tests' clock stands still, so no batch would ever finish lingering.
fn config() -> WritebackConfig {
    WritebackConfig {
        min_backoff_seconds: 30,
        max_backoff_seconds: 3600,
        linger_ms: 0,
        ..Default::default()
    }
}

on_both_backends!(
    only_the_newest_status_of_a_record_is_written_with_the_mapped_fields,
    one_failing_record_never_holds_back_the_others_and_failures_are_kept_for_ops,
    a_transient_failure_is_retried_after_its_backoff,
    at_most_200_records_go_in_one_call,
    a_call_held_up_by_retry_after_holds_up_only_its_own_slot,
    a_link_over_its_budget_waits_and_resumes_when_the_window_rolls,
    request_limit_exceeded_caps_the_link_and_keeps_the_work,
    an_unauthorized_link_keeps_its_write_backs_until_reconnected,
    a_client_without_a_crm_record_writes_nothing_back,
    two_workers_at_once_never_send_a_record_twice,
);

async fn only_the_newest_status_of_a_record_is_written_with_the_mapped_fields(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    let client = linked_draft(&app, &t, &team, link, 1).await;
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{client}/revoke", t.id),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .expect(1)
        .mount(&app.salesforce)
        .await;

    let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!((report.calls, report.written), (1, 1));
    let body = &sent_bodies(&app).await[0];
    assert_eq!(body["allOrNone"], false);
    assert_eq!(
        body["records"],
        json!([{ "attributes": { "type": "Contact" }, "id": contact_id(1), "Liaison_Status__c": "revoked",
                 "Liaison_Client_Id__c": client, "Liaison_Tenancy__c": t.id }])
    );
    // Written: nothing is left, and the next pass calls nobody.
    let listed = app
        .get(
            &format!("/api/v1/org-links/{link}/writebacks"),
            &app.operator,
        )
        .await
        .expect(200);
    assert!(listed["items"].as_array().unwrap().is_empty());
    assert_eq!(
        pass(&crm(&app), &app.store, &config()).await.unwrap().calls,
        0
    );
}

async fn one_failing_record_never_holds_back_the_others_and_failures_are_kept_for_ops(
    app: TestApp,
) {
    let (t, link, team) = connected(&app).await;
    for n in 1..=4 {
        linked_draft(&app, &t, &team, link, n).await;
    }
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(fixture(&app, "rest/collections-mixed.json"))
        .mount(&app.salesforce)
        .await;
    let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!((report.written, report.retried, report.failed), (1, 1, 2));

    let failed = app
        .get(
            &format!("/api/v1/org-links/{link}/writebacks?state=failed"),
            &app.operator,
        )
        .await
        .expect(200);
    let mut codes: Vec<_> = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["last_error_code"].as_str().unwrap().to_string())
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        ["ENTITY_IS_DELETED", "FIELD_CUSTOM_VALIDATION_EXCEPTION"]
    );
    let validation = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["last_error_code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION")
        .unwrap();
    assert_eq!(
        validation["last_error"],
        "Status cannot change while the account is on hold"
    );
    let pending = app
        .get(
            &format!("/api/v1/org-links/{link}/writebacks?state=pending"),
            &app.operator,
        )
        .await
        .expect(200);
    assert_eq!(pending["items"][0]["last_error_code"], "UNABLE_TO_LOCK_ROW");
    assert_eq!(pending["items"][0]["attempts"], 1);

    let deleted = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["last_error_code"] == "ENTITY_IS_DELETED")
        .unwrap();
    let dismissed = app
        .post(
            &format!(
                "/api/v1/org-links/{link}/writebacks/{}/dismiss",
                deleted["id"].as_str().unwrap()
            ),
            &app.operator,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(dismissed["state"], "dismissed");
    let retried = app
        .post(
            &format!(
                "/api/v1/org-links/{link}/writebacks/{}/retry",
                validation["id"].as_str().unwrap()
            ),
            &app.operator,
            json!({}),
        )
        .await
        .expect(200);
    assert_eq!(
        (retried["state"].as_str(), retried["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    app.post(
        &format!(
            "/api/v1/org-links/{link}/writebacks/{}/retry",
            validation["id"].as_str().unwrap()
        ),
        &app.operator,
        json!({}),
    )
    .await
    .problem(409);
}

async fn a_transient_failure_is_retried_after_its_backoff(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(fixture(&app, "rest/server-unavailable.json"))
        .mount(&app.salesforce)
        .await;
    let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!(report.retried, 1);
    let calls = sent_bodies(&app).await.len();
    assert_eq!(calls, 3, "the client's own retries within the call");

    // Not due yet: no call. After the backoff: written.
    app.salesforce.reset().await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    app.clock.advance(time::Duration::seconds(5));
    assert_eq!(
        pass(&crm(&app), &app.store, &config()).await.unwrap().calls,
        0
    );
    app.clock.advance(time::Duration::minutes(2));
    assert_eq!(
        pass(&crm(&app), &app.store, &config())
            .await
            .unwrap()
            .written,
        1
    );
}

async fn at_most_200_records_go_in_one_call(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    let clients: Vec<String> =
        futures::future::join_all((1..=450).map(|n| linked_draft(&app, &t, &team, link, n))).await;
    assert_eq!(clients.len(), 450);
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!(report.written, 450);
    let mut sizes: Vec<usize> = sent_bodies(&app)
        .await
        .iter()
        .map(|b| b["records"].as_array().unwrap().len())
        .collect();
    // The calls go out together, so they may arrive in any order.
    sizes.sort_unstable();
    assert_eq!(sizes, [50, 200, 200]);
}

/// One call's in-call retry waits out a short `Retry-After`; the link's other slot keeps
/// sending meanwhile, so the retry is the last request Salesforce sees, not the one every
/// later batch waits behind.
async fn a_call_held_up_by_retry_after_holds_up_only_its_own_slot(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    for n in 1..=4 {
        linked_draft(&app, &t, &team, link, n).await;
    }
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(
            fixture(&app, "rest/server-unavailable-retry-after.json")
                .insert_header("Retry-After", "1"),
        )
        .up_to_n_times(1)
        .mount(&app.salesforce)
        .await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    let config = WritebackConfig {
        batch_size: 1,
        concurrent_calls: 2,
        ..config()
    };

    // The client waits out a Retry-After of up to two seconds within the call.
    let crm = crm_with(
        &app,
        liaison::config::CrmConfig {
            retry_max_delay_ms: 2_000,
            ..crm_config(&app.address)
        },
    );

    let report = pass(&crm, &app.store, &config).await.unwrap();
    assert_eq!((report.calls, report.written), (4, 4));
    let records: Vec<String> = sent_bodies(&app)
        .await
        .iter()
        .map(|body| body["records"][0]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(records.len(), 5, "four batches and one retry: {records:?}");
    // The first call met the 503; the three other records went out while it waited.
    assert_eq!(records[4], records[0], "{records:?}");
    let mut others = records[1..4].to_vec();
    others.sort();
    others.dedup();
    assert_eq!(others.len(), 3, "{records:?}");
    assert!(!others.contains(&records[0]), "{records:?}");
}

async fn a_link_over_its_budget_waits_and_resumes_when_the_window_rolls(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;
    // The org allows 15,000 calls a day; this link's share is 20 %, 3,000, all spent.
    app.store.record_api_usage(link, 5000, 15000).await.unwrap();
    app.store.count_api_call(link, 3000).await.unwrap();
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;

    assert_eq!(
        pass(&crm(&app), &app.store, &config()).await.unwrap().calls,
        0
    );
    let capped = app
        .get(&format!("/api/v1/org-links/{link}"), &app.operator)
        .await
        .expect(200);
    assert_eq!(capped["state"], "budget_capped");
    assert!(
        capped["state_reason"]
            .as_str()
            .unwrap()
            .contains("share (20%)")
    );
    let pending = app
        .get(
            &format!("/api/v1/org-links/{link}/writebacks?state=pending"),
            &app.operator,
        )
        .await
        .expect(200);
    assert_eq!(
        pending["items"].as_array().unwrap().len(),
        1,
        "kept, not dropped"
    );

    app.clock.advance(time::Duration::hours(25));
    assert_eq!(
        pass(&crm(&app), &app.store, &config())
            .await
            .unwrap()
            .written,
        1
    );
    assert_eq!(
        app.get(&format!("/api/v1/org-links/{link}"), &app.operator)
            .await
            .expect(200)["state"],
        "connected"
    );
}

async fn request_limit_exceeded_caps_the_link_and_keeps_the_work(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(fixture(&app, "rest/request-limit-exceeded.json"))
        .mount(&app.salesforce)
        .await;
    pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/org-links/{link}"), &app.operator)
            .await
            .expect(200)["state"],
        "budget_capped"
    );
    let pending = app
        .get(
            &format!("/api/v1/org-links/{link}/writebacks?state=pending"),
            &app.operator,
        )
        .await
        .expect(200);
    assert_eq!(pending["items"][0]["attempts"], 0);
}

async fn an_unauthorized_link_keeps_its_write_backs_until_reconnected(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(fixture(&app, "rest/invalid-session.json"))
        .mount(&app.salesforce)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(fixture(&app, "oauth/invalid-grant.json"))
        .mount(&app.salesforce)
        .await;
    pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/org-links/{link}"), &app.operator)
            .await
            .expect(200)["state"],
        "unauthorized"
    );
    // Nothing is called while unauthorized, and the write-back waits.
    app.salesforce.reset().await;
    assert_eq!(
        pass(&crm(&app), &app.store, &config()).await.unwrap().calls,
        0
    );
    let pending = app
        .get(
            &format!("/api/v1/org-links/{link}/writebacks?state=pending"),
            &app.operator,
        )
        .await
        .expect(200);
    assert_eq!(pending["items"].as_array().unwrap().len(), 1);
}

async fn a_client_without_a_crm_record_writes_nothing_back(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    let client = app
        .post(
            &format!("/api/v1/tenancies/{}/clients", t.id),
            &t.admin_token,
            json!({ "first_name": "No", "last_name": "Record", "email": "norecord@example.com", "client_teams": [team] }),
        )
        .await
        .expect(201);
    app.post(
        &format!(
            "/api/v1/tenancies/{}/clients/{}/revoke",
            t.id,
            client["id"].as_str().unwrap()
        ),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    let listed = app
        .get(
            &format!("/api/v1/org-links/{link}/writebacks"),
            &app.operator,
        )
        .await
        .expect(200);
    assert!(listed["items"].as_array().unwrap().is_empty());
    assert_eq!(
        pass(&crm(&app), &app.store, &config()).await.unwrap().calls,
        0
    );
}

async fn two_workers_at_once_never_send_a_record_twice(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    futures::future::join_all((1..=300).map(|n| linked_draft(&app, &t, &team, link, n))).await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    let small = WritebackConfig {
        batch_size: 50,
        ..config()
    };
    let (one, two) = (crm(&app), crm(&app));
    let (a, b) = tokio::join!(
        pass(&one, &app.store, &small),
        pass(&two, &app.store, &small)
    );
    let written = a.unwrap().written + b.unwrap().written;
    let mut ids: Vec<String> = sent_bodies(&app)
        .await
        .iter()
        .flat_map(|b| {
            b["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let sent = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), sent, "a record was sent twice");
    assert_eq!(written, sent);
    assert!(sent <= 300);
}

on_both_backends!(a_small_batch_lingers_for_more_records_then_goes);

async fn a_small_batch_lingers_for_more_records_then_goes(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    let lingering = WritebackConfig {
        linger_ms: 500,
        ..config()
    };
    assert_eq!(
        pass(&crm(&app), &app.store, &lingering)
            .await
            .unwrap()
            .calls,
        0,
        "one record waits for company"
    );
    app.clock.advance(time::Duration::milliseconds(600));
    assert_eq!(
        pass(&crm(&app), &app.store, &lingering)
            .await
            .unwrap()
            .written,
        1
    );
}

on_both_backends!(every_invitation_status_change_reaches_the_record);

/// Sent, accepted, declined, revoked and expired, each made the way users make it (the API,
/// the client's page, the re-send worker), each written back to its record.
async fn every_invitation_status_change_reaches_the_record(app: TestApp) {
    use crate::helpers::invitations::{browser, open, post_form, run};
    use crate::helpers::smtp::SmtpServer;

    let smtp = SmtpServer::start();
    let (t, link, team) = connected(&app).await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    let clients: Vec<String> =
        futures::future::join_all((1..=4).map(|n| linked_draft(&app, &t, &team, link, n))).await;
    for client in &clients {
        app.post(
            &format!("/api/v1/tenancies/{}/clients/{client}/send", t.id),
            &t.admin_token,
            json!({}),
        )
        .await
        .expect(200);
    }
    run(&app, &smtp).await;
    let written = |bodies: Vec<Value>| -> Vec<(String, String)> {
        let mut records: Vec<(String, String)> = bodies
            .iter()
            .flat_map(|b| b["records"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_string(),
                    r["Liaison_Status__c"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        records.sort();
        records
    };
    pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!(
        written(sent_bodies(&app).await),
        (1..=4)
            .map(|n| (contact_id(n), "invited".to_string()))
            .collect::<Vec<_>>()
    );
    app.salesforce.reset().await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;

    // Client 1 accepts and client 2 declines on their pages; client 3 is revoked.
    let links: Vec<String> = smtp
        .received()
        .iter()
        .map(|m| m.links()[0].clone())
        .collect();
    let link_of = |n: usize| {
        links
            .iter()
            .zip(smtp.received())
            .find(|(_, m)| m.to == [format!("client{n}@example.com")])
            .map(|(l, _)| l.clone())
            .unwrap()
    };
    for (n, answer) in [(1, "accept"), (2, "decline")] {
        let page = browser();
        let url = link_of(n);
        let (_, _, csrf) = open(&page, &url).await;
        assert_eq!(
            post_form(&page, &format!("{url}/{answer}"), &csrf).await.0,
            200
        );
    }
    app.post(
        &format!("/api/v1/tenancies/{}/clients/{}/revoke", t.id, clients[2]),
        &t.admin_token,
        json!({}),
    )
    .await
    .expect(200);
    // Client 4 never answers: the worker expires the invitation after its 30 days.
    for _ in 0..30 {
        app.clock.advance(time::Duration::days(1));
        run(&app, &smtp).await;
    }
    pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!(
        written(sent_bodies(&app).await),
        vec![
            (contact_id(1), "active".to_string()),
            (contact_id(2), "declined".to_string()),
            (contact_id(3), "revoked".to_string()),
            (contact_id(4), "expired".to_string()),
        ]
    );
}

on_both_backends!(
    records_that_failed_together_retry_together_and_fill_a_batch_with_fresh_ones,
    a_failed_call_makes_the_link_wait_then_its_rows_go_out_together,
    rate_and_concurrency_limits_back_off_without_capping_the_link,
    at_the_daily_limit_one_probe_per_interval_and_a_raised_limit_is_noticed,
    the_daily_limit_told_by_its_form_caps_the_link_without_usage,
);

/// Answers each Collections call with `UNABLE_TO_LOCK_ROW` for the given records and success
/// for the others.
struct Locked(Vec<String>);

impl wiremock::Respond for Locked {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let results: Vec<Value> = body["records"]
            .as_array()
            .map(|records| {
                records
                    .iter()
                    .map(|r| {
                        if self.0.iter().any(|id| r["id"] == id.as_str()) {
                            json!({ "id": r["id"], "success": false, "errors": [{
                                "statusCode": "UNABLE_TO_LOCK_ROW",
                                "message": "unable to obtain exclusive access to this record",
                                "fields": []
                            }] })
                        } else {
                            json!({ "id": r["id"], "success": true, "errors": [] })
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        ResponseTemplate::new(200)
            .insert_header("Sforce-Limit-Info", "api-usage=120/15000")
            .set_body_json(results)
    }
}

async fn pending(app: &TestApp, link: Uuid) -> Vec<Value> {
    app.get(
        &format!("/api/v1/org-links/{link}/writebacks?state=pending"),
        &app.operator,
    )
    .await
    .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn link_json(app: &TestApp, link: Uuid) -> Value {
    app.get(&format!("/api/v1/org-links/{link}"), &app.operator)
        .await
        .expect(200)
}

async fn requests_to(app: &TestApp, verb: &str, to: &str) -> usize {
    app.salesforce
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == to)
        .count()
}

async fn records_that_failed_together_retry_together_and_fill_a_batch_with_fresh_ones(
    app: TestApp,
) {
    let (t, link, team) = connected(&app).await;
    for n in 1..=4 {
        linked_draft(&app, &t, &team, link, n).await;
    }
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(Locked(vec![contact_id(1), contact_id(2)]))
        .up_to_n_times(1)
        .mount(&app.salesforce)
        .await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    let lingering = WritebackConfig {
        linger_ms: 500,
        ..config()
    };
    app.clock.advance(time::Duration::seconds(1));
    let report = pass(&crm(&app), &app.store, &lingering).await.unwrap();
    assert_eq!((report.calls, report.written, report.retried), (1, 2, 2));

    // Both come due at one time, not each at a random one.
    let retried = pending(&app, link).await;
    assert_eq!(retried.len(), 2);
    assert_eq!(retried[0]["next_attempt_at"], retried[1]["next_attempt_at"]);
    assert!(retried.iter().all(|w| w["attempts"] == 1));

    // Just due: they linger for company like fresh rows, though their change is old.
    app.clock.advance(time::Duration::seconds(30));
    assert_eq!(
        pass(&crm(&app), &app.store, &lingering)
            .await
            .unwrap()
            .calls,
        0
    );
    for n in 5..=6 {
        linked_draft(&app, &t, &team, link, n).await;
    }
    app.clock.advance(time::Duration::milliseconds(500));
    let report = pass(&crm(&app), &app.store, &lingering).await.unwrap();
    assert_eq!((report.calls, report.written), (1, 4));
    let bodies = sent_bodies(&app).await;
    let mut last: Vec<String> = bodies.last().unwrap()["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    last.sort();
    let mut expected: Vec<String> = [1, 2, 5, 6].into_iter().map(contact_id).collect();
    expected.sort();
    assert_eq!(last, expected);
}

async fn a_failed_call_makes_the_link_wait_then_its_rows_go_out_together(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    for n in 1..=2 {
        linked_draft(&app, &t, &team, link, n).await;
    }
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(
            fixture(&app, "rest/server-unavailable-retry-after.json")
                .insert_header("Retry-After", "120"),
        )
        .up_to_n_times(1)
        .mount(&app.salesforce)
        .await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!((report.calls, report.retried), (1, 2));
    assert!(pending(&app, link).await.iter().all(|w| w["attempts"] == 1));

    // A fresh row waits with the link, which honours Retry-After.
    linked_draft(&app, &t, &team, link, 3).await;
    app.clock.advance(time::Duration::seconds(119));
    assert_eq!(
        pass(&crm(&app), &app.store, &config()).await.unwrap().calls,
        0
    );
    app.clock.advance(time::Duration::seconds(1));
    let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!((report.calls, report.written), (1, 3));
    assert_eq!(requests_to(&app, "PATCH", COLLECTIONS).await, 2);
}

async fn rate_and_concurrency_limits_back_off_without_capping_the_link(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;

    // A 429, though its body names REQUEST_LIMIT_EXCEEDED: a wait of Retry-After, no cap.
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(fixture(&app, "rest/rate-limited-429.json"))
        .mount(&app.salesforce)
        .await;
    let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!((report.calls, report.retried), (1, 1));
    let after = link_json(&app, link).await;
    assert_eq!(after["state"], "connected");
    assert_eq!(after["api_usage"]["used"], 120, "usage read from the error");
    assert_eq!(
        pending(&app, link).await[0]["last_error_code"],
        "REQUEST_LIMIT_EXCEEDED"
    );
    app.clock.advance(time::Duration::seconds(29));
    assert_eq!(
        pass(&crm(&app), &app.store, &config()).await.unwrap().calls,
        0
    );

    // The concurrency limit's 403: retried within the call, then the link backs off.
    app.salesforce.reset().await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(fixture(&app, "rest/concurrent-requests-exceeded.json"))
        .mount(&app.salesforce)
        .await;
    app.clock.advance(time::Duration::seconds(1));
    let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!((report.calls, report.retried), (1, 1));
    assert_eq!(requests_to(&app, "PATCH", COLLECTIONS).await, 3);
    assert_eq!(link_json(&app, link).await["state"], "connected");
    app.clock.advance(time::Duration::seconds(29));
    assert_eq!(
        pass(&crm(&app), &app.store, &config()).await.unwrap().calls,
        0
    );

    app.salesforce.reset().await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    app.clock.advance(time::Duration::seconds(92));
    assert_eq!(
        pass(&crm(&app), &app.store, &config())
            .await
            .unwrap()
            .written,
        1
    );
}

const LIMITS: &str = "/services/data/v62.0/limits";

async fn at_the_daily_limit_one_probe_per_interval_and_a_raised_limit_is_noticed(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(fixture(&app, "rest/request-limit-exceeded.json"))
        .mount(&app.salesforce)
        .await;
    Mock::given(method("GET"))
        .and(path(LIMITS))
        .respond_with(fixture(&app, "rest/limits-spent.json"))
        .mount(&app.salesforce)
        .await;
    pass(&crm(&app), &app.store, &config()).await.unwrap();
    let capped = link_json(&app, link).await;
    assert_eq!(capped["state"], "budget_capped");
    assert_eq!(
        capped["api_usage"]["used"], 100000,
        "usage read from the 403"
    );

    // Every pass of the next five minutes: no write, no probe.
    for _ in 0..29 {
        app.clock.advance(time::Duration::seconds(10));
        let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
        assert_eq!((report.calls, report.probes), (0, 0));
    }
    assert_eq!(requests_to(&app, "PATCH", COLLECTIONS).await, 1);
    assert_eq!(requests_to(&app, "GET", LIMITS).await, 0);

    // Then one probe, never a write; it shows no room, so the next is five minutes on.
    app.clock.advance(time::Duration::seconds(10));
    let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!((report.calls, report.probes), (0, 1));
    app.clock.advance(time::Duration::seconds(10));
    let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!((report.calls, report.probes), (0, 0));
    assert_eq!(requests_to(&app, "PATCH", COLLECTIONS).await, 1);
    assert_eq!(link_json(&app, link).await["state"], "budget_capped");

    // The org's limit is raised: the next probe sees it, the cap lifts and the work goes.
    app.salesforce.reset().await;
    Mock::given(method("GET"))
        .and(path(LIMITS))
        .respond_with(fixture(&app, "rest/limits-raised.json"))
        .mount(&app.salesforce)
        .await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    app.clock.advance(time::Duration::seconds(290));
    let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!((report.probes, report.written), (1, 1));
    assert_eq!(link_json(&app, link).await["state"], "connected");
    assert_eq!(requests_to(&app, "GET", LIMITS).await, 1);
}

async fn the_daily_limit_told_by_its_form_caps_the_link_without_usage(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(fixture(&app, "rest/request-limit-exceeded-no-usage.json"))
        .mount(&app.salesforce)
        .await;
    pass(&crm(&app), &app.store, &config()).await.unwrap();
    assert_eq!(link_json(&app, link).await["state"], "budget_capped");
    for _ in 0..20 {
        app.clock.advance(time::Duration::seconds(1));
        let report = pass(&crm(&app), &app.store, &config()).await.unwrap();
        assert_eq!((report.calls, report.probes), (0, 0));
    }
    assert_eq!(requests_to(&app, "PATCH", COLLECTIONS).await, 1);
    assert_eq!(pending(&app, link).await[0]["attempts"], 0);
}
