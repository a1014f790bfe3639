//! The ops console as ops meet its two other alarms, in a browser: a worker that stopped
//! passing turns red on *Sync health*, and a write-back Salesforce refused is retried from its
//! failure page and reaches the record once Salesforce takes it.

use serde_json::{Value, json};
use time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

use crate::helpers::TestApp;
use crate::helpers::console::operator_browser;
use crate::helpers::fixtures::{AllSucceed, COLLECTIONS, connected, contact_id, linked_draft};
use crate::helpers::smtp::SmtpServer;
use crate::on_both_backends;
use crate::ops_health::workers;

on_both_backends!(a_stopped_worker_turns_red_and_a_refused_write_back_is_retried_in_the_browser);

/// Refuses every record for good, as a validation rule in the org does.
struct Refused;

impl Respond for Refused {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let sent: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let records = sent["records"].as_array().cloned().unwrap_or_default();
        let refused: Vec<Value> = records
            .iter()
            .map(|r| {
                json!({ "id": r["id"], "success": false, "errors": [{
                    "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                    "message": "Status may not change", "fields": [] }] })
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(refused)
    }
}

async fn collections(app: &TestApp, answer: impl Respond + 'static) {
    app.salesforce.reset().await;
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(answer)
        .mount(&app.salesforce)
        .await;
}

async fn a_stopped_worker_turns_red_and_a_refused_write_back_is_retried_in_the_browser(
    app: TestApp,
) {
    let smtp = SmtpServer::start();
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;
    collections(&app, Refused).await;
    let workers = workers(&app, &smtp);
    liaison::jobs::round(&workers).await;
    let failed = app
        .get(
            "/api/v1/ops/failures/writebacks?state=failed",
            &app.operator,
        )
        .await
        .expect(200);
    assert_eq!(failed["items"].as_array().unwrap().len(), 1, "{failed:#}");

    // The workers stop: two minutes without a pass is more than 120 of their intervals.
    app.clock.advance(Duration::seconds(121));
    let browser = operator_browser(&app).await;
    browser
        .client
        .goto(&format!("{}/console/ops", app.address))
        .await
        .unwrap();
    browser.heading("Sync health").await;
    let workers_table = browser.text("#workers").await;
    assert!(workers_table.contains("Critical"), "{workers_table}");
    assert!(browser.text("#overall").await.contains("Critical"));

    // The refused write-back: its failure page, its history, then Retry after confirming.
    browser
        .client
        .goto(&format!("{}/console/ops/failures/writebacks", app.address))
        .await
        .unwrap();
    browser.heading("Failures").await;
    assert!(
        browser
            .text("#failures")
            .await
            .contains("FIELD_CUSTOM_VALIDATION_EXCEPTION")
    );
    browser.click("#failures a").await;
    browser
        .wait_for(fantoccini::Locator::Css("#history"), "the history")
        .await;
    assert!(
        browser
            .text("#history")
            .await
            .contains("Status may not change")
    );
    browser.click("#retry").await;
    browser
        .wait_for(fantoccini::Locator::Css("#confirm"), "the confirmation")
        .await;
    browser.click("#confirm").await;
    browser
        .wait_for(fantoccini::Locator::Css("#notice"), "the retry's notice")
        .await;
    browser.stop().await;

    // The org's rule is fixed: the next pass writes it, and the record says so.
    collections(&app, AllSucceed).await;
    liaison::jobs::round(&workers).await;
    let open = app
        .get("/api/v1/ops/failures/writebacks", &app.operator)
        .await
        .expect(200);
    assert!(open["items"].as_array().unwrap().is_empty(), "{open:#}");
    let record = contact_id(1);
    let reached = app
        .get(
            &format!("/api/v1/org-links/{link}/records/{record}/writebacks"),
            &app.operator,
        )
        .await
        .expect(200);
    assert_eq!(
        reached["written"].as_array().map(Vec::len),
        Some(1),
        "{reached:#}"
    );
    assert!(
        reached["outstanding"].as_array().unwrap().is_empty(),
        "{reached:#}"
    );
    let retried = app
        .get(
            &format!("/api/v1/tenancies/{}/audit?action=failure.retried", t.id),
            &app.operator,
        )
        .await
        .expect(200);
    assert_eq!(retried["items"].as_array().unwrap().len(), 1, "{retried:#}");
}
