//! The console's sync health overview (`/console/ops`): the API's own `ops::health` with the
//! session as caller, drawn as a card per org link (its state, meters of the org's API usage
//! and of the link's share, pause or resume), a table of queues and one of workers, each number
//! with its level in words and colour, and small server-rendered SVG charts of the last 24
//! hours. No script: the page is whole without JavaScript.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use time::OffsetDateTime;
use time::macros::format_description;

use super::session::SignedIn;
use super::view::{self, Chrome, Section, state_badge};
use crate::domain::ops::{Health, Level, LinkHealth, QueueHealth, WorkerHealth};
use crate::http::AppState;
use crate::http::api::ops::health;

/// A level as the page shows it: a word, a badge's theme and a text colour, never colour alone.
pub(super) struct LevelView {
    pub(super) word: &'static str,
    pub(super) badge: &'static str,
    pub(super) text: &'static str,
    pub(super) ok: bool,
}

fn level(level: Level) -> LevelView {
    let (word, badge, text) = match level {
        Level::Ok => ("OK", "slds-theme_success", ""),
        Level::Warning => ("Warning", "slds-theme_warning", "console-text-warning"),
        Level::Critical => ("Critical", "slds-theme_error", "slds-text-color_error"),
    };
    LevelView {
        word,
        badge,
        text,
        ok: level == Level::Ok,
    }
}

/// A meter: an SLDS progress bar whose width is a class (the page has no inline style).
pub(super) struct Meter {
    pub(super) label: String,
    pub(super) percent: i64,
    pub(super) width: String,
    pub(super) fill: &'static str,
    pub(super) level: LevelView,
}

fn meter(label: String, percent: i64, of: Level) -> Meter {
    let shown = percent.clamp(0, 100);
    Meter {
        label,
        percent,
        width: format!("console-w-{}", (shown + 2) / 5 * 5),
        fill: match of {
            Level::Ok => "slds-progress-bar__value_success",
            Level::Warning => "console-meter-warning",
            Level::Critical => "console-meter-critical",
        },
        level: level(of),
    }
}

/// A sparkline of the last 24 hours: its title (read by assistive technology) and the
/// polylines' points, done and failed.
pub(super) struct Spark {
    pub(super) title: String,
    pub(super) done: String,
    pub(super) failed: Option<String>,
}

const SPARK_WIDTH: i64 = 120;
const SPARK_HEIGHT: i64 = 28;

fn points(values: &[i64], max: i64) -> String {
    let steps = (values.len() as i64 - 1).max(1);
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = i as i64 * SPARK_WIDTH / steps;
            let y = SPARK_HEIGHT - 2 - v * (SPARK_HEIGHT - 4) / max.max(1);
            format!("{x},{y}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn spark(what: &str, done: &[i64], failed: Option<&[i64]>) -> Spark {
    let max = done
        .iter()
        .chain(failed.unwrap_or_default())
        .copied()
        .max()
        .unwrap_or(0);
    let total: i64 = done.iter().sum();
    let title = match failed {
        Some(failed) => format!(
            "{what} in the last 24 hours: {total} done, {} failed; at most {max} in an hour",
            failed.iter().sum::<i64>()
        ),
        None => format!("{what} in the last 24 hours: {total}; at most {max} in an hour"),
    };
    Spark {
        title,
        done: points(done, max),
        failed: failed.map(|f| points(f, max)),
    }
}

pub(super) struct LinkCard {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) state: &'static str,
    pub(super) state_theme: &'static str,
    pub(super) state_reason: Option<String>,
    pub(super) level: LevelView,
    pub(super) org: Option<Meter>,
    pub(super) share: Option<Meter>,
    pub(super) share_text: String,
    pub(super) paused: bool,
    pub(super) manageable: bool,
    pub(super) calls: Spark,
}

fn card(link: LinkHealth) -> LinkCard {
    let (state, state_theme) = state_badge(link.state);
    let share = &link.share;
    let share_text = match share.budget_calls {
        Some(budget) => format!(
            "{} calls by Liaison in 24 hours of its {budget} ({} % of the org's limit)",
            share.calls_24h, share.budget_percent
        ),
        None => format!(
            "{} calls by Liaison in 24 hours; its share is {} % of the org's limit, not reported yet",
            share.calls_24h, share.budget_percent
        ),
    };
    LinkCard {
        id: link.id.to_string(),
        state,
        state_theme,
        level: level(link.level),
        org: link.org_usage.as_ref().map(|u| {
            let label = format!("Org API usage today: {} of {} calls", u.used, u.max);
            meter(label, u.percent, u.level)
        }),
        share: share.percent.map(|p| {
            let label = format!("This link's share used: {p} %");
            meter(label, p, share.level)
        }),
        share_text,
        paused: link.state == crate::store::LinkState::Paused,
        manageable: link.manageable,
        calls: spark("API calls per hour", &share.calls_per_hour, None),
        name: link.name,
        state_reason: link.state_reason,
    }
}

/// A count with its level.
pub(super) struct Cell {
    pub(super) value: String,
    pub(super) level: LevelView,
}

pub(super) struct QueueRow {
    pub(super) name: &'static str,
    pub(super) link: Option<String>,
    pub(super) depth: Cell,
    pub(super) oldest: Cell,
    pub(super) failures: Cell,
    pub(super) done: String,
    pub(super) level: LevelView,
    pub(super) chart: Spark,
}

/// An age as people read it.
fn age(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        s => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

fn queue_row(queue: QueueHealth) -> QueueRow {
    QueueRow {
        name: queue.queue.label(),
        link: queue.org_link_name,
        depth: Cell {
            value: queue.depth.value.to_string(),
            level: level(queue.depth.level),
        },
        oldest: Cell {
            value: queue.oldest_age_seconds.map_or("—".into(), age),
            level: level(queue.oldest_level),
        },
        failures: Cell {
            value: queue.failures_last_hour.value.to_string(),
            level: level(queue.failures_last_hour.level),
        },
        done: queue.done_last_hour.map_or("—".into(), |n| n.to_string()),
        level: level(queue.level),
        chart: spark(
            "Items per hour",
            &queue.done_per_hour,
            Some(&queue.failed_per_hour),
        ),
    }
}

pub(super) struct WorkerRow {
    pub(super) name: &'static str,
    pub(super) last: String,
    pub(super) outcome: String,
    pub(super) error: Option<String>,
    pub(super) next: String,
    pub(super) passes: String,
    pub(super) level: LevelView,
    pub(super) chart: Option<Spark>,
}

fn when(at: Option<OffsetDateTime>) -> String {
    let format = format_description!("[day] [month repr:short], [hour]:[minute]:[second] UTC");
    at.and_then(|at| at.format(&format).ok())
        .unwrap_or_else(|| "Never".into())
}

fn worker_row(worker: WorkerHealth) -> WorkerRow {
    let outcome = match (worker.outcome, worker.duration_ms) {
        (Some(crate::domain::ops::PassOutcome::Ok), Some(ms)) => format!("Passed in {ms} ms"),
        (Some(_), _) => "Failed".into(),
        (None, _) => "No pass yet".into(),
    };
    let chart = (!worker.done_per_hour.is_empty()).then(|| {
        spark(
            "Items per hour",
            &worker.done_per_hour,
            Some(&worker.failed_per_hour),
        )
    });
    WorkerRow {
        name: worker.label,
        last: when(worker.last_finished_at),
        outcome,
        error: worker.error,
        next: when(worker.next_run_at),
        passes: format!("{} passes, {} failed", worker.passes, worker.failures),
        level: level(worker.level),
        chart,
    }
}

#[derive(Template)]
#[template(path = "console/ops.html")]
struct Overview {
    chrome: Chrome,
    title: &'static str,
    at: String,
    level: LevelView,
    links: Vec<LinkCard>,
    queues: Vec<QueueRow>,
    workers: Vec<WorkerRow>,
}

fn overview(chrome: Chrome, health: Health) -> Overview {
    Overview {
        chrome,
        title: "Sync health",
        at: when(Some(health.at)),
        level: level(health.level),
        links: health.links.into_iter().map(card).collect(),
        queues: health.queues.into_iter().map(queue_row).collect(),
        workers: health.workers.into_iter().map(worker_row).collect(),
    }
}

/// The overview, for who the API would answer.
pub(super) async fn show(State(state): State<AppState>, signed: SignedIn) -> Response {
    let chrome = Chrome::signed_in(&signed, Section::Ops);
    match health(&state, &signed.caller()).await {
        Ok(found) => view::render(StatusCode::OK, &overview(chrome, found)),
        Err(error) => view::refusal(&chrome, error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_spans_its_box_and_names_its_totals() {
        let drawn = spark("Calls", &[0, 5, 10], None);
        assert_eq!(drawn.done, "0,26 60,14 120,2");
        assert!(drawn.title.contains("10"), "{}", drawn.title);
        assert_eq!(age(59), "59 s");
        assert_eq!(age(16 * 60), "16 min");
        assert_eq!(
            meter(String::new(), 83, Level::Warning).width,
            "console-w-85"
        );
    }
}
