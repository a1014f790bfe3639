//! `/metrics` in the states the alert rules watch: an org link turned unauthorized and its
//! org near its limit, a queue backed up with an old item, a worker that stopped passing (a
//! moved clock), a write-back that failed and was replayed, e-mails by outcome and clients by
//! status change. The series the rules (`config/prometheus/alerts.yml`), their unit tests and
//! the Grafana dashboard read are each checked to be rendered, so they cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;
use wiremock::Respond;

use crate::helpers::TestApp;
use crate::helpers::fixtures::{AllSucceed, connected, linked_draft};
use crate::helpers::invitations;
use crate::helpers::salesforce::crm;
use crate::helpers::smtp::SmtpServer;
use crate::on_both_backends;
use crate::ops_failures::collections_answer;
use crate::ops_health::{Refused, workers, writeback};

on_both_backends!(
    an_unauthorized_link_and_its_orgs_usage_are_gauges_of_the_link,
    a_backed_up_queue_shows_its_oldest_items_age,
    a_worker_that_stops_passing_ages_its_last_success_by_the_clock,
    a_failed_write_back_counts_until_it_is_replayed,
    e_mails_count_by_outcome_and_clients_by_status_change,
    every_series_the_rules_and_the_dashboard_read_is_rendered,
);

/// One sample: its labels and value.
type Samples = BTreeMap<String, Vec<(BTreeMap<String, String>, f64)>>;

/// Scrapes `/metrics` and checks it is one OpenMetrics exposition.
async fn scrape(app: &TestApp) -> Samples {
    let reply = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("scraped");
    assert_eq!(reply.status(), 200);
    let kind = reply.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = reply.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_eq!(text.matches("# EOF").count(), 1, "{text}");
    parse(&text)
}

/// The samples of an exposition by metric name (label values unescaped).
fn parse(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, rest) = match line.find(['{', ' ']) {
            Some(at) => line.split_at(at),
            None => panic!("a sample without a value: {line}"),
        };
        let mut labels = BTreeMap::new();
        let mut value_text = rest.trim();
        if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.char_indices();
            let mut key = String::new();
            let end = loop {
                let Some((at, c)) = chars.next() else {
                    panic!("unterminated labels: {line}")
                };
                match c {
                    '}' => break at,
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                        let mut value = String::new();
                        loop {
                            match chars.next().map(|(_, c)| c) {
                                Some('"') => break,
                                Some('\\') => match chars.next().map(|(_, c)| c) {
                                    Some('n') => value.push('\n'),
                                    Some(c) => value.push(c),
                                    None => panic!("{line}"),
                                },
                                Some(c) => value.push(c),
                                None => panic!("unterminated value: {line}"),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), value);
                    }
                    c => key.push(c),
                }
            };
            value_text = body[end + 1..].trim();
        }
        let value: f64 = value_text
            .split(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no value: {line}"));
        samples
            .entry(name.to_string())
            .or_default()
            .push((labels, value));
    }
    samples
}

/// The value of the one sample of `name` whose labels are exactly `labels`.
fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let found: Vec<f64> = samples
        .get(name)?
        .iter()
        .filter(|(l, _)| *l == wanted)
        .map(|(_, v)| *v)
        .collect();
    assert!(found.len() <= 1, "{name}{labels:?} twice");
    found.first().copied()
}

#[track_caller]
fn assert_value(samples: &Samples, name: &str, labels: &[(&str, &str)], expected: f64) {
    let found = value(samples, name, labels);
    assert_eq!(
        found,
        Some(expected),
        "{name}{labels:?} in {:#?}",
        samples.get(name)
    );
}

/// An org link as the API answers it, and the labels its series carry.
struct Named {
    id: String,
    name: String,
    api: Value,
}

impl Named {
    async fn of(app: &TestApp, link: Uuid) -> Self {
        let api = app
            .get(&format!("/api/v1/org-links/{link}"), &app.operator)
            .await
            .expect(200);
        let name = api["name"].as_str().unwrap().to_string();
        Self {
            id: link.to_string(),
            name,
            api,
        }
    }

    fn link(&self) -> [(&str, &str); 2] {
        [("org_link_id", &self.id), ("org_link", &self.name)]
    }

    /// The link's labels and one more.
    fn and<'a>(&'a self, key: &'a str, value: &'a str) -> [(&'a str, &'a str); 3] {
        [
            (key, value),
            ("org_link_id", &self.id),
            ("org_link", &self.name),
        ]
    }
}

const STATES: [&str; 5] = [
    "not_connected",
    "connected",
    "unauthorized",
    "paused",
    "budget_capped",
];

async fn an_unauthorized_link_and_its_orgs_usage_are_gauges_of_the_link(app: TestApp) {
    let (_, link, _) = connected(&app).await;
    let named = Named::of(&app, link).await;
    let link_labels = named.link();

    let fresh = scrape(&app).await;
    assert_value(&fresh, "liaison_sync_health_up", &[], 1.0);
    for state in STATES {
        let current = if state == "connected" { 1.0 } else { 0.0 };
        let labels = named.and("state", state);
        assert_value(&fresh, "liaison_org_link_state", &labels, current);
    }
    assert_eq!(
        value(&fresh, "liaison_org_api_usage_ratio", &link_labels),
        None,
        "no usage until Salesforce reports it"
    );

    let reason = "Salesforce refused the refresh token (invalid_grant)";
    app.store.mark_unauthorized(link, reason).await.unwrap();
    let refused = scrape(&app).await;
    for state in STATES {
        let current = if state == "unauthorized" { 1.0 } else { 0.0 };
        let labels = named.and("state", state);
        assert_value(&refused, "liaison_org_link_state", &labels, current);
    }

    // Salesforce reports the org at 92 % of its daily limit.
    app.store.record_api_usage(link, 9200, 10000).await.unwrap();
    let near = scrape(&app).await;
    assert_value(&near, "liaison_org_api_usage_calls", &link_labels, 9200.0);
    assert_value(&near, "liaison_org_api_limit_calls", &link_labels, 10000.0);
    assert_value(&near, "liaison_org_api_usage_ratio", &link_labels, 0.92);
    let budget = named.api["api_budget_percent"].as_i64().unwrap();
    let share = budget as f64 / 100.0;
    assert_value(
        &near,
        "liaison_org_link_api_share_ratio",
        &link_labels,
        share,
    );
    let calls = (10000 * budget / 100) as f64;
    assert_value(
        &near,
        "liaison_org_link_api_share_calls",
        &link_labels,
        calls,
    );
    assert_value(
        &near,
        "liaison_org_link_api_share_used_ratio",
        &link_labels,
        0.0,
    );
    let checked = value(
        &near,
        "liaison_org_api_usage_checked_timestamp_seconds",
        &link_labels,
    )
    .expect("when the usage was reported");
    let now = liaison::clock::to_millis(liaison::clock::Clock::now(&app.clock));
    assert_eq!(checked, now as f64 / 1000.0);
}

async fn a_backed_up_queue_shows_its_oldest_items_age(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    for n in 1..=3 {
        linked_draft(&app, &t, &team, link, n).await;
    }
    let named = Named::of(&app, link).await;
    let outbox = named.and("queue", "writebacks");
    let fresh = scrape(&app).await;
    assert_value(&fresh, "liaison_queue_depth", &outbox, 3.0);
    assert_value(
        &fresh,
        "liaison_queue_oldest_item_age_seconds",
        &outbox,
        0.0,
    );
    for queue in ["invitation_emails", "staff_notifications", "link_notices"] {
        assert_value(&fresh, "liaison_queue_depth", &[("queue", queue)], 0.0);
        assert_value(
            &fresh,
            "liaison_queue_oldest_item_age_seconds",
            &[("queue", queue)],
            0.0,
        );
    }
    let inbox = named.and("queue", "inbox");
    assert_value(&fresh, "liaison_queue_depth", &inbox, 0.0);

    // Sixteen minutes on, nothing written: past the rule's fifteen.
    app.clock.advance(Duration::minutes(16));
    let backed_up = scrape(&app).await;
    assert_value(&backed_up, "liaison_queue_depth", &outbox, 3.0);
    assert_value(
        &backed_up,
        "liaison_queue_oldest_item_age_seconds",
        &outbox,
        960.0,
    );
    assert_value(&backed_up, "liaison_queue_failed_last_hour", &outbox, 0.0);
}

async fn a_worker_that_stops_passing_ages_its_last_success_by_the_clock(app: TestApp) {
    let smtp = SmtpServer::start();
    let workers = workers(&app, &smtp);
    let before = scrape(&app).await;
    for worker in ["invitations", "link_notices", "inbox", "writeback"] {
        let labels = [("worker", worker)];
        assert_value(&before, "liaison_worker_passes_total", &labels, 0.0);
        assert_eq!(
            value(&before, "liaison_worker_last_success_age_seconds", &labels),
            None,
            "no success before a pass"
        );
    }

    liaison::jobs::round(&workers).await;
    let finished = liaison::clock::to_millis(liaison::clock::Clock::now(&app.clock));
    let passed = scrape(&app).await;
    for worker in ["invitations", "link_notices", "inbox", "writeback"] {
        let labels = [("worker", worker)];
        assert_value(&passed, "liaison_worker_passes_total", &labels, 1.0);
        assert_value(&passed, "liaison_worker_pass_failures_total", &labels, 0.0);
        assert_value(
            &passed,
            "liaison_worker_last_success_age_seconds",
            &labels,
            0.0,
        );
        let at = finished as f64 / 1000.0;
        assert_value(
            &passed,
            "liaison_worker_last_success_timestamp_seconds",
            &labels,
            at,
        );
        assert_value(
            &passed,
            "liaison_worker_last_pass_timestamp_seconds",
            &labels,
            at,
        );
        assert_value(
            &passed,
            "liaison_worker_next_run_timestamp_seconds",
            &labels,
            at + 1.0,
        );
        assert_value(
            &passed,
            "liaison_worker_last_pass_duration_seconds",
            &labels,
            0.0,
        );
        let ok = [("worker", worker), ("outcome", "ok")];
        assert_value(&passed, "liaison_worker_last_pass_outcome", &ok, 1.0);
        let failed = [("worker", worker), ("outcome", "failed")];
        assert_value(&passed, "liaison_worker_last_pass_outcome", &failed, 0.0);
    }

    // The workers stop: twenty minutes later their last success is twenty minutes old.
    app.clock.advance(Duration::minutes(20));
    let silent = scrape(&app).await;
    for worker in ["invitations", "link_notices", "inbox", "writeback"] {
        let labels = [("worker", worker)];
        assert_value(
            &silent,
            "liaison_worker_last_success_age_seconds",
            &labels,
            1200.0,
        );
        assert_value(&silent, "liaison_worker_passes_total", &labels, 1.0);
    }

    // A pass again, and the age is back to nothing.
    liaison::jobs::round(&workers).await;
    let back = scrape(&app).await;
    let writeback = [("worker", "writeback")];
    assert_value(
        &back,
        "liaison_worker_last_success_age_seconds",
        &writeback,
        0.0,
    );
    assert_value(&back, "liaison_worker_passes_total", &writeback, 2.0);
}

/// Salesforce answers every Collections call with `answer` from now on; one write-back pass.
async fn answered_by(
    app: &TestApp,
    answer: impl Respond + 'static,
) -> liaison::jobs::writeback::PassReport {
    collections_answer(app, answer).await;
    liaison::jobs::writeback::pass(&crm(app), &app.store, &writeback())
        .await
        .unwrap()
}

async fn a_failed_write_back_counts_until_it_is_replayed(app: TestApp) {
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;
    let named = Named::of(&app, link).await;
    let outbox = named.and("queue", "writebacks");
    let link_labels = named.link();
    let before = scrape(&app).await;
    let calls_before =
        value(&before, "liaison_org_link_api_calls_total", &link_labels).expect("the link's calls");

    assert_eq!(answered_by(&app, Refused).await.failed, 1);
    let failed = scrape(&app).await;
    assert_value(&failed, "liaison_queue_depth", &outbox, 0.0);
    assert_value(&failed, "liaison_queue_failed_last_hour", &outbox, 1.0);
    let calls_failed = value(&failed, "liaison_org_link_api_calls_total", &link_labels).unwrap();
    assert!(
        calls_failed > calls_before,
        "{calls_failed} > {calls_before}"
    );
    assert_value(
        &failed,
        "liaison_org_link_api_calls_last_day",
        &link_labels,
        calls_failed,
    );

    // Replayed from the failures API, and Salesforce takes it this time.
    let items = app
        .get(
            "/api/v1/ops/failures/writebacks?state=failed",
            &app.operator,
        )
        .await
        .expect(200);
    let item = items["items"][0]["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/api/v1/ops/failures/writebacks/{item}/retry"),
        &app.operator,
        json!({}),
    )
    .await
    .expect(200);
    let waiting = scrape(&app).await;
    assert_value(&waiting, "liaison_queue_depth", &outbox, 1.0);
    assert_value(&waiting, "liaison_queue_failed_last_hour", &outbox, 0.0);

    assert_eq!(answered_by(&app, AllSucceed).await.written, 1);
    let written = scrape(&app).await;
    assert_value(&written, "liaison_queue_depth", &outbox, 0.0);
    assert_value(&written, "liaison_queue_failed_last_hour", &outbox, 0.0);
    assert_value(
        &written,
        "liaison_queue_oldest_item_age_seconds",
        &outbox,
        0.0,
    );
    let calls_written = value(&written, "liaison_org_link_api_calls_total", &link_labels).unwrap();
    assert!(
        calls_written > calls_failed,
        "{calls_written} > {calls_failed}"
    );
}

async fn e_mails_count_by_outcome_and_clients_by_status_change(app: TestApp) {
    let smtp = SmtpServer::start();
    crate::helpers::fixtures::sent_invitations(&app, 2).await;
    let sent_now = scrape(&app).await;
    for outcome in ["sent", "deferred", "failed"] {
        assert_value(
            &sent_now,
            "liaison_emails_total",
            &[("outcome", outcome)],
            0.0,
        );
    }
    let moves = |samples: &Samples, from: &str, to: &str| {
        value(
            samples,
            "liaison_invitation_status_changes_total",
            &[("from", from), ("to", to)],
        )
    };
    assert_eq!(moves(&sent_now, "none", "draft"), Some(2.0));
    assert_eq!(moves(&sent_now, "draft", "invited"), Some(2.0));

    // The mail server refuses for now: both deferred.
    smtp.refuse_for_now();
    invitations::run(&app, &smtp).await;
    let deferred = scrape(&app).await;
    assert_value(
        &deferred,
        "liaison_emails_total",
        &[("outcome", "deferred")],
        2.0,
    );
    assert_value(
        &deferred,
        "liaison_emails_total",
        &[("outcome", "sent")],
        0.0,
    );
    assert_value(
        &deferred,
        "liaison_queue_depth",
        &[("queue", "invitation_emails")],
        0.0,
    );

    // It takes mail again; past the retry both go out.
    smtp.accept();
    app.clock.advance(Duration::minutes(11));
    let due = scrape(&app).await;
    assert_value(
        &due,
        "liaison_queue_depth",
        &[("queue", "invitation_emails")],
        2.0,
    );
    invitations::run(&app, &smtp).await;
    let sent = scrape(&app).await;
    assert_value(&sent, "liaison_emails_total", &[("outcome", "sent")], 2.0);
    assert_value(
        &sent,
        "liaison_emails_total",
        &[("outcome", "deferred")],
        2.0,
    );
    assert_value(&sent, "liaison_emails_total", &[("outcome", "failed")], 0.0);
}

/// Every `liaison_…` name in `text`.
fn names_in(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("liaison_"))
        .map(str::to_string)
        .collect()
}

fn config_file(path: &str) -> String {
    let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn every_series_the_rules_and_the_dashboard_read_is_rendered(app: TestApp) {
    // Every kind of series present: a link with usage, its queues, passes, moves.
    let smtp = SmtpServer::start();
    let (t, link, team) = connected(&app).await;
    linked_draft(&app, &t, &team, link, 1).await;
    app.store.record_api_usage(link, 500, 10000).await.unwrap();
    liaison::jobs::round(&workers(&app, &smtp)).await;
    let samples = scrape(&app).await;

    let rules = config_file("config/prometheus/alerts.yml");
    let tests = config_file("config/prometheus/alerts.test.yml");
    let dashboard = config_file("config/grafana/liaison.json");
    let panels: Value = serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(panels["panels"].as_array().is_some_and(|p| !p.is_empty()));
    for (file, text) in [
        ("alerts.yml", &rules),
        ("alerts.test.yml", &tests),
        ("liaison.json", &dashboard),
    ] {
        let named = names_in(text);
        assert!(!named.is_empty(), "{file} names no series");
        let missing: Vec<&String> = named
            .iter()
            .filter(|name| !samples.contains_key(name.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{file} reads series /metrics does not render: {missing:?}"
        );
    }
    // The labels the rules and their annotations name are on those series.
    let state = &samples["liaison_org_link_state"][0].0;
    for label in ["org_link_id", "org_link", "state"] {
        assert!(state.contains_key(label), "{state:?}");
    }
    let queue = samples["liaison_queue_oldest_item_age_seconds"]
        .iter()
        .find(|(l, _)| l.get("queue").map(String::as_str) == Some("writebacks"))
        .expect("the outbox's age");
    assert_eq!(queue.0.get("org_link_id"), Some(&link.to_string()));
    assert!(
        samples["liaison_worker_last_success_age_seconds"]
            .iter()
            .all(|(l, _)| l.contains_key("worker"))
    );
    // No label carries a record, client or item id: only link ids, from the links.
    for (name, series) in &samples {
        for (labels, _) in series {
            for (key, value) in labels {
                if key != "org_link_id" {
                    assert!(
                        value.parse::<Uuid>().is_err(),
                        "{name} has an id in {key}={value}"
                    );
                }
            }
        }
    }
}
