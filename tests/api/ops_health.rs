//! Sync health: each worker's passes recorded with the store's clock, queues' depth, oldest age
//! and failures with their levels, the org's API usage and a link's share, who sees what, and
//! pausing a link with a reason: audited, no call at all to Salesforce while paused, its
//! write-backs kept until it is resumed. The console's overview in a browser at two widths.

use std::sync::Arc;

use fantoccini::Locator;
use liaison::config::{InvitationConfig, WritebackConfig};
use liaison::jobs::Workers;
use liaison::mail::SmtpMailer;
use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, Respond, ResponseTemplate};

use crate::helpers::canvas;
use crate::helpers::console::{operator, operator_browser};
use crate::helpers::fixtures::{AllSucceed, COLLECTIONS, connected, linked_draft};
use crate::helpers::salesforce::crm;
use crate::helpers::smtp::SmtpServer;
use crate::helpers::{TestApp, invalid};
use crate::on_both_backends;

on_both_backends!(
    each_workers_pass_is_recorded_with_the_clock_and_a_silent_worker_turns_critical,
    a_backed_up_queue_turns_amber_then_red_and_its_failures_count_for_an_hour,
    the_orgs_api_usage_and_the_links_share_come_from_salesforces_answers,
    operators_see_every_link_and_an_administrator_only_their_tenancys,
    a_pause_needs_a_reason_and_is_audited,
    a_paused_link_makes_no_call_at_all_and_its_write_backs_wait_until_resumed,
    the_console_pauses_with_a_reason_and_resumes_after_confirming,
    the_overview_shows_an_unauthorized_link_and_a_backed_up_queue_at_both_widths,
);

/// Sends at once: the tests' clock stands still, so no batch would ever finish lingering.
pub(crate) fn writeback() -> WritebackConfig {
    WritebackConfig {
        linger_ms: 0,
        ..Default::default()
    }
}

/// The workers of one instance on the test's store and clock.
pub(crate) fn workers(app: &TestApp, smtp: &SmtpServer) -> Workers {
    Workers {
        store: app.store.clone(),
        crm: Arc::new(crm(app)),
        mailer: Arc::new(SmtpMailer::new(&smtp.mail_config(&app.address)).expect("mailer")),
        writeback: writeback(),
        invitations: InvitationConfig::default(),
        inbox: Default::default(),
        link_base_url: app.address.clone(),
        wake: Default::default(),
    }
}

async fn health(app: &TestApp, token: &str) -> Value {
    app.get("/api/v1/ops/health", token).await.expect(200)
}

fn worker<'a>(health: &'a Value, name: &str) -> &'a Value {
    health["workers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["worker"] == name)
        .unwrap_or_else(|| panic!("no worker {name}: {health:#}"))
}

fn queue<'a>(health: &'a Value, name: &str, link: Option<Uuid>) -> Option<&'a Value> {
    health["queues"].as_array().unwrap().iter().find(|q| {
        q["queue"] == name
            && match link {
                Some(link) => q["org_link_id"] == link.to_string(),
                None => q["org_link_id"].is_null(),
            }
    })
}

fn link_of(health: &Value, link: Uuid) -> &Value {
    health["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == link.to_string())
        .unwrap_or_else(|| panic!("no link {link}: {health:#}"))
}

fn rfc3339(at: time::OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn each_workers_pass_is_recorded_with_the_clock_and_a_silent_worker_turns_critical(
    app: TestApp,
) {
    let smtp = SmtpServer::start();
    let workers = workers(&app, &smtp);
    let before = health(&app, &app.operator).await;
    assert!(
        before["workers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["passes"] == 0 && w["last_finished_at"].is_null()),
        "{before:#}"
    );

    let start = liaison::clock::Clock::now(&app.clock);
    liaison::jobs::round(&workers).await;
    app.clock.advance(Duration::seconds(5));
    liaison::jobs::round(&workers).await;
    let passed = health(&app, &app.operator).await;
    for name in ["invitations", "link_notices", "inbox", "writeback"] {
        let w = worker(&passed, name);
        assert_eq!(w["passes"], 2, "{w:#}");
        assert_eq!(w["failures"], 0, "{w:#}");
        assert_eq!(w["outcome"], "ok", "{w:#}");
        assert_eq!(w["level"], "ok", "{w:#}");
        let finished = start + Duration::seconds(5);
        assert_eq!(w["last_finished_at"], rfc3339(finished), "{w:#}");
        assert_eq!(w["last_success_at"], rfc3339(finished), "{w:#}");
        // The loop's idle wait is the smaller poll interval, a second by default.
        assert_eq!(
            w["next_run_at"],
            rfc3339(finished + Duration::seconds(1)),
            "{w:#}"
        );
    }
    assert_eq!(passed["level"], "ok");

    // The workers stop: late after 30 of their intervals, silent (critical) after 120.
    app.clock.advance(Duration::seconds(30));
    let late = health(&app, &app.operator).await;
    assert_eq!(worker(&late, "writeback")["level"], "warning");
    app.clock.advance(Duration::seconds(90));
    let silent = health(&app, &app.operator).await;
    assert_eq!(worker(&silent, "writeback")["level"], "critical");
    assert_eq!(worker(&silent, "inbox")["level"], "critical");
    assert_eq!(silent["level"], "critical");

    // A pass again brings them back.
    liaison::jobs::round(&workers).await;
    let back = health(&app, &app.operator).await;
    assert_eq!(worker(&back, "writeback")["level"], "ok");
    assert_eq!(worker(&back, "writeback")["passes"], 3);
}

/// Refuses every record for a reason that does not pass.
pub(crate) struct Refused;

impl Respond for Refused {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let sent: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let refusal = |record: &Value| {
            let error = json!({ "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                "message": "Status may not change", "fields": [] });
            json!({ "id": record["id"], "success": false, "errors": [error] })
        };
        let records = sent["records"].as_array().cloned().unwrap_or_default();
        ResponseTemplate::new(200).set_body_json(records.iter().map(refusal).collect::<Vec<_>>())
    }
}

async fn a_backed_up_queue_turns_amber_then_red_and_its_failures_count_for_an_hour(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    for n in 1..=2 {
        linked_draft(&app, &t, &team, link, n).await;
    }
    let fresh = health(&app, &app.operator).await;
    let outbox = queue(&fresh, "writebacks", Some(link)).expect("the link's outbox");
    assert_eq!(outbox["depth"], json!({ "value": 2, "level": "ok" }));
    assert_eq!(outbox["oldest_age_seconds"], 0);
    assert_eq!(outbox["level"], "ok");
    for other in ["invitation_emails", "staff_notifications", "link_notices"] {
        let q = queue(&fresh, other, None).expect(other);
        assert_eq!(q["depth"]["value"], 0, "{q:#}");
        assert_eq!(q["level"], "ok", "{q:#}");
    }
    let inbox = queue(&fresh, "inbox", Some(link)).expect("the link's inbox");
    assert_eq!(inbox["level"], "ok");

    app.clock.advance(Duration::minutes(6));
    let amber = health(&app, &app.operator).await;
    let outbox = queue(&amber, "writebacks", Some(link)).unwrap();
    assert_eq!(outbox["oldest_age_seconds"], 360);
    assert_eq!(outbox["oldest_level"], "warning");
    assert_eq!(outbox["level"], "warning");

    app.clock.advance(Duration::minutes(10));
    let red = health(&app, &app.operator).await;
    let outbox = queue(&red, "writebacks", Some(link)).unwrap();
    assert_eq!(outbox["oldest_level"], "critical");
    assert_eq!(outbox["level"], "critical");
    assert_eq!(red["level"], "critical");

    // Salesforce refuses both for good: the queue empties and its failures count.
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(Refused)
        .mount(&app.salesforce)
        .await;
    let report = liaison::jobs::writeback::pass(&crm(&app), &app.store, &writeback())
        .await
        .unwrap();
    assert_eq!(report.failed, 2);
    let failed = health(&app, &app.operator).await;
    let outbox = queue(&failed, "writebacks", Some(link)).unwrap();
    assert_eq!(outbox["depth"]["value"], 0);
    assert!(outbox["oldest_age_seconds"].is_null());
    assert_eq!(
        outbox["failures_last_hour"],
        json!({ "value": 2, "level": "warning" })
    );
    assert_eq!(outbox["failed_per_hour"][23], 2);

    // An hour on, they leave the last hour but stay in the day's chart.
    app.clock.advance(Duration::minutes(61));
    let later = health(&app, &app.operator).await;
    let outbox = queue(&later, "writebacks", Some(link)).unwrap();
    assert_eq!(outbox["failures_last_hour"]["value"], 0);
    assert_eq!(outbox["level"], "ok");
    let day: i64 = outbox["failed_per_hour"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_i64().unwrap())
        .sum();
    assert_eq!(day, 2);
}

/// Takes every record and reports the org's usage as Salesforce does.
struct WithUsage(&'static str);

impl Respond for WithUsage {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        AllSucceed
            .respond(request)
            .insert_header("Sforce-Limit-Info", self.0)
    }
}

async fn the_orgs_api_usage_and_the_links_share_come_from_salesforces_answers(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;
    let unreported = health(&app, &app.operator).await;
    let card = link_of(&unreported, link);
    assert!(card["org_usage"].is_null(), "{card:#}");
    assert!(card["share"]["budget_calls"].is_null(), "{card:#}");
    assert_eq!(card["state"], "connected");
    assert_eq!(card["level"], "ok");

    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(WithUsage("api-usage=8500/10000"))
        .mount(&app.salesforce)
        .await;
    let crm = crm(&app);
    let report = liaison::jobs::writeback::pass(&crm, &app.store, &writeback())
        .await
        .unwrap();
    assert_eq!(report.written, 1);
    crm.flush_api_usage().await.unwrap();

    let reported = health(&app, &app.operator).await;
    let card = link_of(&reported, link);
    assert_eq!(card["org_usage"]["used"], 8500);
    assert_eq!(card["org_usage"]["max"], 10000);
    assert_eq!(card["org_usage"]["percent"], 85);
    assert_eq!(card["org_usage"]["level"], "warning");
    let budget = app
        .get(&format!("/api/v1/org-links/{link}"), &app.operator)
        .await
        .expect(200)["api_budget_percent"]
        .as_i64()
        .unwrap();
    let share = &card["share"];
    assert_eq!(share["budget_percent"], budget);
    assert_eq!(share["budget_calls"], 10000 * budget / 100);
    let calls = share["calls_24h"].as_i64().unwrap();
    assert!(calls >= 1, "{share:#}");
    assert_eq!(share["calls_per_hour"].as_array().unwrap().len(), 24);
    assert_eq!(share["calls_per_hour"][23], calls);
    assert_eq!(card["level"], "warning", "the org's usage is past 80 %");
}

async fn operators_see_every_link_and_an_administrator_only_their_tenancys(app: TestApp) {
    // One link serving Acme and Beta, and a tenancy it does not serve.
    let (a, b, link) = canvas::org(&app).await;
    let link: Uuid = link.parse().unwrap();
    let other = app.tenancy("Gamma", "client_teams").await;
    let team = app.group(&a, "client-teams", "Ops", &[&a.admin_id]).await;
    linked_draft(&app, &a, &team, link, 1).await;

    let all = health(&app, &app.operator).await;
    assert_eq!(link_of(&all, link)["manageable"], true);
    assert_eq!(
        queue(&all, "writebacks", Some(link)).unwrap()["depth"]["value"],
        1
    );
    assert!(queue(&all, "inbox", Some(link)).is_some());
    assert!(worker(&all, "writeback")["done_per_hour"].is_array());

    // A served tenancy's administrator: the link and their own items, not its inbox (it is
    // every served tenancy's), nor may they pause a link others share.
    for (t, depth) in [(&a, 1), (&b, 0)] {
        let served = health(&app, &t.admin_token).await;
        assert_eq!(served["links"].as_array().unwrap().len(), 1);
        assert_eq!(link_of(&served, link)["manageable"], false);
        assert_eq!(
            queue(&served, "writebacks", Some(link)).unwrap()["depth"]["value"],
            depth,
            "{served:#}"
        );
        assert!(queue(&served, "inbox", Some(link)).is_none());
        assert!(worker(&served, "writeback")["error"].is_null());
        assert_eq!(
            worker(&served, "writeback")["done_per_hour"],
            json!([]),
            "the workers' totals are every tenancy's"
        );
    }

    // Another tenancy's administrator sees no link of theirs and no one else's items.
    let elsewhere = health(&app, &other.admin_token).await;
    assert_eq!(elsewhere["links"], json!([]));
    assert!(queue(&elsewhere, "writebacks", Some(link)).is_none());

    // Users administrators and plain staff are refused, as the org-link API refuses them.
    let (_, users_admin) = app.staff(&a, "Uma", "Users", "users_administrator").await;
    let (_, staff) = app.staff(&a, "Sam", "Staff", "staff").await;
    for token in [&users_admin, &staff] {
        app.get("/api/v1/ops/health", token).await.problem(403);
        app.get("/api/v1/org-links", token).await.problem(403);
    }
    app.get("/api/v1/ops/health", "not-a-token")
        .await
        .problem(401);
}

async fn a_pause_needs_a_reason_and_is_audited(app: TestApp) {
    let (_, link, _) = connected(&app).await;
    let path = format!("/api/v1/org-links/{link}");
    for body in [
        json!({ "paused": true }),
        json!({ "paused": true, "pause_reason": "   " }),
        json!({ "paused": true, "pause_reason": "x".repeat(501) }),
        json!({ "paused": true, "pause_reason": "line\u{0007}bell" }),
    ] {
        invalid(
            app.patch(&path, &app.operator, body.clone()).await,
            &["pause_reason"],
        );
    }
    let unchanged = app.get(&path, &app.operator).await.expect(200);
    assert_eq!(unchanged["state"], "connected");

    let paused = app
        .patch(
            &path,
            &app.operator,
            json!({ "paused": true, "pause_reason": "Salesforce release weekend" }),
        )
        .await
        .expect(200);
    assert_eq!(paused["state"], "paused");
    assert_eq!(paused["state_reason"], "Salesforce release weekend");
    let shown = health(&app, &app.operator).await;
    let card = link_of(&shown, link);
    assert_eq!(card["state_reason"], "Salesforce release weekend");
    assert_eq!(card["level"], "warning");

    let resumed = app
        .patch(&path, &app.operator, json!({ "paused": false }))
        .await
        .expect(200);
    assert_eq!(resumed["state"], "connected");
    assert!(resumed["state_reason"].is_null());

    let trail = app
        .get("/api/v1/audit?limit=200", &app.operator)
        .await
        .expect(200);
    let changes: Vec<&Value> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "org_link.updated" && e["target"]["id"] == link.to_string())
        .map(|e| &e["change"])
        .collect();
    assert_eq!(changes.len(), 2, "{trail:#}");
    assert!(changes.contains(&&json!({
        "state": { "before": "connected", "after": "paused" },
        "state_reason": { "before": null, "after": "Salesforce release weekend" },
    })));
    assert!(changes.contains(&&json!({
        "state": { "before": "paused", "after": "connected" },
        "state_reason": { "before": "Salesforce release weekend", "after": null },
    })));
}

async fn requests_so_far(app: &TestApp) -> usize {
    app.salesforce.received_requests().await.unwrap().len()
}

async fn a_paused_link_makes_no_call_at_all_and_its_write_backs_wait_until_resumed(app: TestApp) {
    let smtp = SmtpServer::start();
    let (a, _, link_id) = canvas::org(&app).await;
    let link: Uuid = link_id.parse().unwrap();
    let team = app.group(&a, "client-teams", "Ops", &[&a.admin_id]).await;
    linked_draft(&app, &a, &team, link, 1).await;
    app.patch(
        &format!("/api/v1/org-links/{link}"),
        &app.operator,
        json!({ "paused": true, "pause_reason": "Org migration" }),
    )
    .await
    .expect(200);

    let before = requests_so_far(&app).await;
    {
        let _nothing = Mock::given(any())
            .respond_with(ResponseTemplate::new(500))
            .with_priority(1)
            .expect(0)
            .named("any call to a paused org")
            .mount_as_scoped(&app.salesforce)
            .await;
        // Every worker, twice, with time passing.
        let workers = workers(&app, &smtp);
        for _ in 0..2 {
            liaison::jobs::round(&workers).await;
            app.clock.advance(Duration::minutes(10));
        }
        let report = liaison::jobs::writeback::pass(&crm(&app), &app.store, &writeback())
            .await
            .unwrap();
        assert_eq!((report.calls, report.probes), (0, 0));
        // The describe behind the mapping editor, in the API and the console.
        let describe = format!("/api/v1/org-links/{link}/describe/Contact");
        let refused = app.get(&describe, &app.operator).await.problem(409);
        assert_eq!(refused["code"], "org-link-paused");
        let mapping = operator(&app)
            .await
            .get(&format!("/console/org-links/{link}/mapping"))
            .await;
        assert!(mapping.body.contains("paused"), "{}", mapping.body);
        // The invite form inside Salesforce.
        let (_, _, form) = canvas::opened(&app, canvas::RECORD, &a.id).await;
        assert!(form.contains("paused"), "{form}");
        assert_eq!(requests_so_far(&app).await, before, "no call while paused");
    }
    // The write-back waited.
    let waiting = health(&app, &app.operator).await;
    let outbox = queue(&waiting, "writebacks", Some(link)).unwrap();
    assert_eq!(outbox["depth"]["value"], 1);
    assert_eq!(outbox["oldest_level"], "critical");

    app.patch(
        &format!("/api/v1/org-links/{link}"),
        &app.operator,
        json!({ "paused": false }),
    )
    .await
    .expect(200);
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS))
        .respond_with(AllSucceed)
        .mount(&app.salesforce)
        .await;
    let report = liaison::jobs::writeback::pass(&crm(&app), &app.store, &writeback())
        .await
        .unwrap();
    assert_eq!((report.calls, report.written), (1, 1));
    let drained = health(&app, &app.operator).await;
    let outbox = queue(&drained, "writebacks", Some(link)).unwrap();
    assert_eq!(outbox["depth"]["value"], 0);
    assert_eq!(outbox["level"], "ok");
}

async fn state(app: &TestApp, link: Uuid) -> Value {
    let path = format!("/api/v1/org-links/{link}");
    app.get(&path, &app.operator).await.expect(200)["state"].clone()
}

async fn the_console_pauses_with_a_reason_and_resumes_after_confirming(app: TestApp) {
    let (_, link, _) = connected(&app).await;
    let visitor = operator(&app).await;

    let page = visitor.get(&format!("/console/org-links/{link}")).await;
    assert!(
        page.body
            .contains(&format!("/console/org-links/{link}/pause"))
    );
    let ask = visitor
        .get(&format!("/console/org-links/{link}/pause?from=ops"))
        .await;
    assert_eq!(ask.status, 200);
    assert!(ask.body.contains("name=\"reason\""), "{}", ask.body);
    let csrf = ask.csrf();

    // A stale form changes nothing.
    let stale = visitor
        .post(
            &format!("/console/org-links/{link}/pause"),
            &[("csrf", "forged"), ("reason", "x"), ("from", "ops")],
        )
        .await;
    assert_eq!(stale.status, 403);
    // No reason: the API's words beside the field, and nothing changed.
    let blank = visitor
        .post(
            &format!("/console/org-links/{link}/pause"),
            &[("csrf", &csrf), ("reason", " "), ("from", "ops")],
        )
        .await;
    assert_eq!(blank.status, 422);
    assert!(blank.body.contains("id=\"reason-error\""), "{}", blank.body);
    assert!(blank.body.contains("must not be blank"), "{}", blank.body);
    assert_eq!(state(&app, link).await, "connected");

    let paused = visitor
        .post(
            &format!("/console/org-links/{link}/pause"),
            &[
                ("csrf", &csrf),
                ("reason", "Sandbox refresh"),
                ("from", "ops"),
            ],
        )
        .await;
    assert_eq!(paused.status, 303);
    assert_eq!(paused.location.as_deref(), Some("/console/ops"));
    assert_eq!(state(&app, link).await, "paused");
    let overview = visitor.get("/console/ops").await;
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains("Sandbox refresh"));
    assert!(overview.body.contains(&format!("id=\"resume-{link}\"")));

    let ask = visitor
        .get(&format!("/console/org-links/{link}/resume"))
        .await;
    assert_eq!(ask.status, 200);
    let resumed = visitor
        .post(
            &format!("/console/org-links/{link}/resume"),
            &[("csrf", &ask.csrf())],
        )
        .await;
    assert_eq!(resumed.status, 303);
    assert_eq!(resumed.location, Some(format!("/console/org-links/{link}")));
    assert_eq!(state(&app, link).await, "connected");
}

async fn the_overview_shows_an_unauthorized_link_and_a_backed_up_queue_at_both_widths(
    app: TestApp,
) {
    let (t, link, team) = connected(&app).await;
    for n in 1..=3 {
        linked_draft(&app, &t, &team, link, n).await;
    }
    app.clock.advance(Duration::minutes(16));
    app.store.record_api_usage(link, 8500, 10000).await.unwrap();
    app.store
        .mark_unauthorized(link, "Salesforce refused the refresh token (invalid_grant)")
        .await
        .unwrap();

    let browser = operator_browser(&app).await;
    browser
        .client
        .goto(&format!("{}/console/ops", app.address))
        .await
        .unwrap();
    browser.heading("Sync health").await;
    let card = browser.text(&format!("#link-{link}")).await;
    assert!(card.contains("Unauthorized"), "{card}");
    assert!(card.contains("invalid_grant"), "{card}");
    assert!(card.contains("Critical"), "{card}");
    assert!(card.contains("85 % · Warning"), "{card}");
    let queues = browser.text("#queues").await;
    assert!(queues.contains("Write-back outbox"), "{queues}");
    assert!(queues.contains("16 min"), "{queues}");
    assert!(queues.contains("Critical"), "{queues}");
    let outbox_row = browser
        .client
        .find(Locator::Css("#queues tbody tr.console-level-critical"))
        .await
        .expect("the backed-up outbox's row, red");
    assert!(outbox_row.text().await.unwrap().contains("Acme"));
    let chart = browser
        .client
        .find(Locator::Css(&format!("#link-{link} svg title")))
        .await
        .expect("the calls chart's title");
    assert!(
        chart
            .html(true)
            .await
            .unwrap()
            .contains("API calls per hour")
    );
    for width in [1280, 420] {
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
    browser.client.set_window_size(1280, 1100).await.unwrap();
    browser.snapshot("console-ops-overview").await;
    browser.stop().await;
}
