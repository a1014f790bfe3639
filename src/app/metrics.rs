//! `/metrics` beyond HTTP: sync health as Prometheus reads it. Gauges describe the database's
//! state now, from one operator's-view read of `ops::health` per scrape; counters are totals the
//! database keeps for good (e-mail attempts, status moves, API calls, worker items), so they
//! survive restarts and every instance reports the same numbers (aggregate instances with `max`,
//! not `sum`). No label has unbounded values: an org link is named by its id and name (bounded
//! by configuration), queues, workers, states and outcomes by fixed words; never a record,
//! client or item.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{
    EncodeLabelKey, EncodeLabelSet, EncodeLabelValue, LabelSetEncoder,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use uuid::Uuid;

use super::{Result, ops};
use crate::clock::to_millis;
use crate::domain::client_status::ClientStatus;
use crate::domain::ops::{Health, PassOutcome, Queue, Thresholds, Worker};
use crate::domain::org_link::LinkState;
use crate::store::metrics::{EventTotals, SETTLE_AFTER_MS, SettledTotals, v7_boundary};
use crate::store::{Actor, Store};
use crate::telemetry::Metrics;

/// What one scrape read from the database.
#[derive(Debug, Clone)]
pub struct Reading {
    pub health: Health,
    pub totals: EventTotals,
}

/// Reads sync health as an operator sees it (every link, queue and worker) and the event
/// totals: one health read, the event tables' recent rows and two small grouped counts.
pub async fn read(
    store: &Store,
    thresholds: &Thresholds,
    settled: &mut SettledTotals,
) -> Result<Reading> {
    let system = Actor::Operator {
        token_id: Uuid::nil(),
    };
    let health = ops::health(store, thresholds, &system).await?;
    // Ids are made with the wall clock, whatever clock the store keeps.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let boundary = v7_boundary(now - SETTLE_AFTER_MS);
    let totals = store.event_totals(settled, &boundary).await?;
    Ok(Reading { health, totals })
}

/// The whole exposition: the HTTP metrics and the database's state. Scrapes that arrive while
/// one reads the database share its reading, so a burst of scrapers costs one read. When the
/// database cannot be read, `liaison_sync_health_up` says so and the HTTP metrics still answer.
pub async fn exposition(store: &Store, thresholds: &Thresholds, metrics: &Metrics) -> String {
    let text = metrics
        .scrape(|mut settled| async move {
            let registry = match read(store, thresholds, &mut settled).await {
                Ok(reading) => registry(Some(&reading)),
                Err(error) => {
                    tracing::warn!(error = %error, "metrics: sync health could not be read");
                    registry(None)
                }
            };
            (registry, settled)
        })
        .await;
    text.as_str().to_owned()
}

/// Label names and values of one series; values are escaped as the text format wants, and a
/// label without a value is left out.
#[derive(Debug, Clone, Default, Hash, PartialEq, Eq)]
struct Labels(Vec<(&'static str, String)>);

impl Labels {
    fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.0.push((name, value.into()));
        self
    }

    fn link(id: Uuid, name: &str) -> Self {
        Self::default()
            .with("org_link_id", id.to_string())
            .with("org_link", name)
    }
}

/// A label value as the exposition format quotes it: backslash, double quote and line feed
/// escaped (a link's name is typed by an administrator).
fn escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

impl EncodeLabelSet for Labels {
    fn encode(&self, mut encoder: LabelSetEncoder) -> std::fmt::Result {
        for (name, value) in &self.0 {
            let mut label = encoder.encode_label();
            let mut key = label.encode_label_key()?;
            EncodeLabelKey::encode(name, &mut key)?;
            let mut encoded = key.encode_label_value()?;
            EncodeLabelValue::encode(&escaped(value).as_str(), &mut encoded)?;
            encoded.finish()?;
        }
        Ok(())
    }
}

type Gauges = Family<Labels, Gauge<f64, AtomicU64>>;
type Counters = Family<Labels, Counter<u64>>;

/// Families registered under the `liaison_` prefix.
struct Families(Registry);

impl Families {
    fn gauge(&mut self, name: &str, help: &str, unit: Option<Unit>) -> Gauges {
        let family = Gauges::default();
        match unit {
            Some(unit) => self.0.register_with_unit(name, help, unit, family.clone()),
            None => self.0.register(name, help, family.clone()),
        }
        family
    }

    /// Registered as `name_total`.
    fn counter(&mut self, name: &str, help: &str) -> Counters {
        let family = Counters::default();
        self.0.register(name, help, family.clone());
        family
    }
}

fn set(family: &Gauges, labels: Labels, value: f64) {
    family.get_or_create(&labels).set(value);
}

fn add(family: &Counters, labels: Labels, value: i64) {
    family
        .get_or_create(&labels)
        .inc_by(u64::try_from(value).unwrap_or(0));
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn timestamp(at: time::OffsetDateTime) -> f64 {
    seconds(to_millis(at))
}

const LINK_STATES: [LinkState; 5] = [
    LinkState::NotConnected,
    LinkState::Connected,
    LinkState::Unauthorized,
    LinkState::Paused,
    LinkState::BudgetCapped,
];

/// A queue's name in the `queue` label, as the health API spells it.
pub fn queue_name(queue: Queue) -> &'static str {
    match queue {
        Queue::Writebacks => "writebacks",
        Queue::Inbox => "inbox",
        Queue::InvitationEmails => "invitation_emails",
        Queue::StaffNotifications => "staff_notifications",
        Queue::LinkNotices => "link_notices",
    }
}

/// An e-mail attempt's outcome as ops count them: sent, deferred (tried again later) or failed
/// (given up); `None` for a word the history does not use for e-mails.
fn email_outcome(attempt: &str) -> Option<&'static str> {
    match attempt {
        "sent" => Some("sent"),
        "retry" => Some("deferred"),
        "failed" => Some("failed"),
        _ => None,
    }
}

/// The families of one scrape, filled from `reading` (or only `sync_health_up 0` without one).
pub fn registry(reading: Option<&Reading>) -> Registry {
    let mut f = Families(Registry::with_prefix("liaison"));
    let up = Gauge::<i64>::default();
    up.set(i64::from(reading.is_some()));
    f.0.register(
        "sync_health_up",
        "1 when this scrape read sync health from the database, 0 when it could not",
        up,
    );
    if let Some(reading) = reading {
        links(&mut f, reading);
        queues(&mut f, &reading.health);
        workers(&mut f, reading);
        events(&mut f, &reading.totals);
    }
    f.0
}

fn links(f: &mut Families, reading: &Reading) {
    let state = f.gauge(
        "org_link_state",
        "1 for the org link's current state (not_connected, connected, unauthorized, paused, budget_capped), 0 for the others",
        None,
    );
    let calls = f.counter(
        "org_link_api_calls",
        "Salesforce API calls the org link has made",
    );
    let calls_day = f.gauge(
        "org_link_api_calls_last_day",
        "The org link's own Salesforce API calls in the last 24 hours",
        None,
    );
    let share = f.gauge(
        "org_link_api_share",
        "The org link's share of the org's daily API limit",
        Some(Unit::Other("ratio".into())),
    );
    let share_calls = f.gauge(
        "org_link_api_share_calls",
        "The org link's share of the org's daily API limit, in calls (once Salesforce reported the limit)",
        None,
    );
    let share_used = f.gauge(
        "org_link_api_share_used",
        "The org link's calls in the last 24 hours against its share (1 = the whole share)",
        Some(Unit::Other("ratio".into())),
    );
    let used = f.gauge(
        "org_api_usage_calls",
        "The org's API calls today, as Salesforce last reported them (Sforce-Limit-Info)",
        None,
    );
    let limit = f.gauge(
        "org_api_limit_calls",
        "The org's daily API limit, as Salesforce last reported it",
        None,
    );
    let usage = f.gauge(
        "org_api_usage",
        "The org's API calls today against its daily limit (1 = the whole limit)",
        Some(Unit::Other("ratio".into())),
    );
    let checked = f.gauge(
        "org_api_usage_checked_timestamp",
        "When Salesforce last reported the org's usage",
        Some(Unit::Seconds),
    );
    for link in &reading.health.links {
        let labels = Labels::link(link.id, &link.name);
        for each in LINK_STATES {
            let current = f64::from(u8::from(link.state == each));
            set(&state, labels.clone().with("state", each.as_str()), current);
        }
        let total = reading
            .totals
            .api_calls
            .iter()
            .filter(|(id, _)| *id == link.id)
            .map(|(_, n)| *n)
            .sum();
        add(&calls, labels.clone(), total);
        set(&calls_day, labels.clone(), link.share.calls_24h as f64);
        set(
            &share,
            labels.clone(),
            link.share.budget_percent as f64 / 100.0,
        );
        if let Some(budget) = link.share.budget_calls {
            set(&share_calls, labels.clone(), budget as f64);
            if budget > 0 {
                let ratio = link.share.calls_24h as f64 / budget as f64;
                set(&share_used, labels.clone(), ratio);
            }
        }
        if let Some(org) = &link.org_usage {
            set(&used, labels.clone(), org.used as f64);
            set(&limit, labels.clone(), org.max as f64);
            if org.max > 0 {
                set(&usage, labels.clone(), org.used as f64 / org.max as f64);
            }
            set(&checked, labels, timestamp(org.checked_at));
        }
    }
}

fn queues(f: &mut Families, health: &Health) {
    let depth = f.gauge(
        "queue_depth",
        "Items waiting in the queue (per org link for the write-back outbox and the record-event inbox)",
        None,
    );
    let oldest = f.gauge(
        "queue_oldest_item_age",
        "How long the queue's oldest waiting item has waited (0 when none waits)",
        Some(Unit::Seconds),
    );
    let failed = f.gauge(
        "queue_failed_last_hour",
        "The queue's items that failed in the last hour",
        None,
    );
    let done = f.gauge(
        "queue_done_last_hour",
        "The queue's items done in the last hour (where the queue keeps them)",
        None,
    );
    for queue in &health.queues {
        let mut labels = Labels::default().with("queue", queue_name(queue.queue));
        if let (Some(id), Some(name)) = (queue.org_link_id, &queue.org_link_name) {
            labels = labels
                .with("org_link_id", id.to_string())
                .with("org_link", name.as_str());
        }
        set(&depth, labels.clone(), queue.depth.value as f64);
        let age = queue.oldest_age_seconds.unwrap_or(0);
        set(&oldest, labels.clone(), age as f64);
        let failures = queue.failures_last_hour.value as f64;
        set(&failed, labels.clone(), failures);
        if let Some(n) = queue.done_last_hour {
            set(&done, labels, n as f64);
        }
    }
}

fn workers(f: &mut Families, reading: &Reading) {
    let health = &reading.health;
    let duration = f.gauge(
        "worker_last_pass_duration",
        "How long the worker's last pass took",
        Some(Unit::Seconds),
    );
    let last_pass = f.gauge(
        "worker_last_pass_timestamp",
        "When the worker's last pass finished",
        Some(Unit::Seconds),
    );
    let outcome = f.gauge(
        "worker_last_pass_outcome",
        "1 for how the worker's last pass ended (ok, failed), 0 for the other",
        None,
    );
    let success = f.gauge(
        "worker_last_success_timestamp",
        "When a pass of the worker last succeeded",
        Some(Unit::Seconds),
    );
    let success_age = f.gauge(
        "worker_last_success_age",
        "How long ago a pass of the worker last succeeded, by the service's clock",
        Some(Unit::Seconds),
    );
    let next_run = f.gauge(
        "worker_next_run_timestamp",
        "When the worker runs next unless woken sooner",
        Some(Unit::Seconds),
    );
    let passes = f.counter("worker_passes", "Passes of the worker");
    let pass_failures = f.counter("worker_pass_failures", "Passes of the worker that failed");
    let items = f.counter(
        "worker_items",
        "Items the worker finished (outcome done) and gave up on (outcome failed)",
    );
    for worker in &health.workers {
        let labels = Labels::default().with("worker", worker.worker.as_str());
        add(&passes, labels.clone(), worker.passes);
        add(&pass_failures, labels.clone(), worker.failures);
        if let Some(ms) = worker.duration_ms {
            set(&duration, labels.clone(), seconds(ms));
        }
        if let Some(at) = worker.last_finished_at {
            set(&last_pass, labels.clone(), timestamp(at));
        }
        if let Some(ended) = worker.outcome {
            for each in [PassOutcome::Ok, PassOutcome::Failed] {
                let current = f64::from(u8::from(ended == each));
                set(
                    &outcome,
                    labels.clone().with("outcome", each.as_str()),
                    current,
                );
            }
        }
        if let Some(at) = worker.last_success_at {
            set(&success, labels.clone(), timestamp(at));
            let age = (health.at - at).whole_milliseconds().max(0) as i64;
            set(&success_age, labels.clone(), seconds(age));
        }
        if let Some(at) = worker.next_run_at {
            set(&next_run, labels.clone(), timestamp(at));
        }
        let (done, failed) = reading
            .totals
            .worker_items
            .iter()
            .filter(|(name, _, _)| Worker::parse(name) == Some(worker.worker))
            .fold((0, 0), |(d, f), (_, done, failed)| (d + done, f + failed));
        add(&items, labels.clone().with("outcome", "done"), done);
        add(&items, labels.with("outcome", "failed"), failed);
    }
}

fn events(f: &mut Families, totals: &EventTotals) {
    let emails = f.counter(
        "emails",
        "E-mail delivery attempts (invitations, staff notifications) by outcome: sent, deferred (to be tried again), failed (given up)",
    );
    for each in ["sent", "deferred", "failed"] {
        let n = totals
            .email_attempts
            .iter()
            .filter(|(attempt, _)| email_outcome(attempt) == Some(each))
            .map(|(_, n)| *n)
            .sum();
        add(&emails, Labels::default().with("outcome", each), n);
    }
    let moves = f.counter(
        "invitation_status_changes",
        "Clients' status changes, from (none for a new client) and to a status",
    );
    for (from, to, n) in &totals.status_moves {
        let from = match from {
            None => Some("none"),
            Some(from) => ClientStatus::parse(from).map(ClientStatus::as_str),
        };
        if let (Some(from), Some(to)) = (from, ClientStatus::parse(to)) {
            let labels = Labels::default().with("from", from).with("to", to.as_str());
            add(&moves, labels, *n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_as_the_text_format_quotes_them() {
        assert_eq!(escaped(r#"Acme "UK" \ EU"#), r#"Acme \"UK\" \\ EU"#);
        assert_eq!(escaped("two\nlines"), "two\\nlines");
    }

    #[test]
    fn without_a_reading_only_the_health_gauge_says_so() {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry(None)).unwrap();
        assert!(out.contains("\nliaison_sync_health_up 0\n"), "{out}");
        assert!(!out.contains("liaison_queue_depth{"), "{out}");
    }
}
