//! Sync health: the workers, the queues and the org links as ops watch them, and the rules that
//! turn each number into a level (ok, warning, critical) against thresholds from configuration.
//! The health service fills these types; the API answers them and the console draws them.

use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::org_link::LinkState;

/// How a number stands against its thresholds. Ordered, so the worst of several is their max.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Warning,
    Critical,
}

impl Level {
    /// `value` against a warning and a critical threshold (each reached at or above it).
    pub fn of(value: i64, warning: i64, critical: i64) -> Self {
        if value >= critical {
            Self::Critical
        } else if value >= warning {
            Self::Warning
        } else {
            Self::Ok
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// The background workers, one row each in `worker_passes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Worker {
    Invitations,
    LinkNotices,
    Inbox,
    Writeback,
}

impl Worker {
    pub const ALL: [Self; 4] = [
        Self::Invitations,
        Self::LinkNotices,
        Self::Inbox,
        Self::Writeback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invitations => "invitations",
            Self::LinkNotices => "link_notices",
            Self::Inbox => "inbox",
            Self::Writeback => "writeback",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == value)
    }

    /// How ops know it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Invitations => "Invitation e-mails and staff notifications",
            Self::LinkNotices => "Link notices",
            Self::Inbox => "Record-event inbox",
            Self::Writeback => "Status write-back",
        }
    }
}

/// How a pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PassOutcome {
    Ok,
    Failed,
}

impl PassOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "ok" => Some(Self::Ok),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Longest error summary kept of a failed pass.
pub const ERROR_SUMMARY_CHARS: usize = 200;

/// One pass of a worker, as the round records it (times in milliseconds).
#[derive(Debug, Clone)]
pub struct PassRecord {
    pub worker: Worker,
    pub started_at: i64,
    pub finished_at: i64,
    /// When the loop runs the worker again unless woken sooner.
    pub next_run_at: i64,
    /// A short summary of why the pass failed: the error's own words, which name no secret.
    pub error: Option<String>,
    /// Items the pass finished, and items it gave up on.
    pub done: i64,
    pub failed: i64,
}

impl PassRecord {
    pub fn outcome(&self) -> PassOutcome {
        if self.error.is_some() {
            PassOutcome::Failed
        } else {
            PassOutcome::Ok
        }
    }

    /// The error summary, cut to `ERROR_SUMMARY_CHARS`.
    pub fn summary(error: &str) -> String {
        error.chars().take(ERROR_SUMMARY_CHARS).collect()
    }
}

/// A worker's last pass as stored.
#[derive(Debug, Clone)]
pub struct WorkerPass {
    pub worker: Worker,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
    pub duration_ms: i64,
    pub outcome: PassOutcome,
    pub error: Option<String>,
    pub last_success_at: Option<OffsetDateTime>,
    pub next_run_at: OffsetDateTime,
    pub passes: i64,
    pub failures: i64,
}

/// When a number turns amber and red. Built from the `[ops]` configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// The oldest waiting item's age, in seconds.
    pub oldest_warning_seconds: i64,
    pub oldest_critical_seconds: i64,
    /// Items waiting.
    pub depth_warning: i64,
    pub depth_critical: i64,
    /// Items that failed in the last hour.
    pub failures_warning: i64,
    pub failures_critical: i64,
    /// Share of a limit used, in percent: the org's daily limit, and the link's own budget.
    pub usage_warning_percent: i64,
    pub usage_critical_percent: i64,
    /// A worker that has not passed for this many of its intervals.
    pub silent_warning_intervals: i64,
    pub silent_critical_intervals: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            oldest_warning_seconds: 5 * 60,
            oldest_critical_seconds: 15 * 60,
            depth_warning: 1_000,
            depth_critical: 10_000,
            failures_warning: 1,
            failures_critical: 10,
            usage_warning_percent: 80,
            usage_critical_percent: 95,
            silent_warning_intervals: 30,
            silent_critical_intervals: 120,
        }
    }
}

impl Thresholds {
    pub fn oldest(&self, age_seconds: Option<i64>) -> Level {
        age_seconds.map_or(Level::Ok, |age| {
            Level::of(
                age,
                self.oldest_warning_seconds,
                self.oldest_critical_seconds,
            )
        })
    }

    pub fn depth(&self, depth: i64) -> Level {
        Level::of(depth, self.depth_warning, self.depth_critical)
    }

    pub fn failures(&self, failed: i64) -> Level {
        Level::of(failed, self.failures_warning, self.failures_critical)
    }

    pub fn usage(&self, percent: i64) -> Level {
        Level::of(
            percent,
            self.usage_warning_percent,
            self.usage_critical_percent,
        )
    }

    /// A worker's level: critical when it has not passed for its critical number of
    /// intervals (or never passed once others have), warning when its last pass failed or it
    /// is late by the warning number. The interval is the wait its last pass was given.
    pub fn worker(&self, pass: &WorkerPass, now: OffsetDateTime) -> Level {
        let interval_ms = (pass.next_run_at - pass.finished_at)
            .whole_milliseconds()
            .max(1000) as i64;
        let silent_ms = (now - pass.finished_at).whole_milliseconds().max(0) as i64;
        let late = Level::of(
            silent_ms,
            interval_ms.saturating_mul(self.silent_warning_intervals),
            interval_ms.saturating_mul(self.silent_critical_intervals),
        );
        let failed = match pass.outcome {
            PassOutcome::Failed => Level::Warning,
            PassOutcome::Ok => Level::Ok,
        };
        late.max(failed)
    }

    /// A link's state: unauthorized needs an admin now; paused, capped or never connected
    /// holds its work back.
    pub fn link_state(&self, state: LinkState) -> Level {
        match state {
            LinkState::Connected => Level::Ok,
            LinkState::Unauthorized => Level::Critical,
            LinkState::Paused | LinkState::BudgetCapped | LinkState::NotConnected => Level::Warning,
        }
    }
}

/// The org's API usage today as Salesforce last reported it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrgUsage {
    pub used: i64,
    pub max: i64,
    pub percent: i64,
    pub level: Level,
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
}

/// This link's own calls in the last 24 hours against its share of the org's daily limit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkShare {
    pub calls_24h: i64,
    /// The link's share in percent of the org's limit.
    pub budget_percent: i64,
    /// The share in calls, once Salesforce has reported the org's limit.
    pub budget_calls: Option<i64>,
    /// Calls against the share, in percent, when the share in calls is known.
    pub percent: Option<i64>,
    pub level: Level,
    /// Calls per hour, oldest first, the last 24 hours up to the current one.
    pub calls_per_hour: Vec<i64>,
}

impl LinkShare {
    pub fn new(
        calls_per_hour: Vec<i64>,
        budget_percent: i64,
        org_max: Option<i64>,
        thresholds: &Thresholds,
    ) -> Self {
        let calls_24h = calls_per_hour.iter().sum();
        let budget_calls = org_max.map(|max| max * budget_percent / 100);
        let percent = budget_calls.filter(|b| *b > 0).map(|b| calls_24h * 100 / b);
        Self {
            calls_24h,
            budget_percent,
            budget_calls,
            percent,
            level: percent.map_or(Level::Ok, |p| thresholds.usage(p)),
            calls_per_hour,
        }
    }
}

/// One org link's health.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LinkHealth {
    pub id: Uuid,
    pub name: String,
    pub state: LinkState,
    pub state_reason: Option<String>,
    /// The state's level; the card's colour is the worst of it and the usage.
    pub level: Level,
    pub org_usage: Option<OrgUsage>,
    pub share: LinkShare,
    /// Whether the viewer may pause and resume it (they manage the link).
    pub manageable: bool,
}

/// The queues ops watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Queue {
    /// Status write-backs to Salesforce (`crm_writebacks`), per link.
    Writebacks,
    /// Record events from Salesforce (`crm_inbox`), per link.
    Inbox,
    /// Invitation e-mails due or deferred (`invitation_cycles`, `email_deliveries`).
    InvitationEmails,
    /// E-mails to staff about their clients (`staff_notifications`).
    StaffNotifications,
    /// E-mails to administrators about an unauthorized link (`link_notices`).
    LinkNotices,
}

impl Queue {
    pub fn label(self) -> &'static str {
        match self {
            Self::Writebacks => "Write-back outbox",
            Self::Inbox => "Record-event inbox",
            Self::InvitationEmails => "Invitation e-mails",
            Self::StaffNotifications => "Staff notifications",
            Self::LinkNotices => "Link notices",
        }
    }
}

/// A count with its level.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Measure {
    pub value: i64,
    pub level: Level,
}

/// A queue's raw numbers, as the store counts them (times in milliseconds).
#[derive(Debug, Clone, Default)]
pub struct QueueCounts {
    pub depth: i64,
    pub oldest_at: Option<i64>,
    pub failed_last_hour: i64,
    pub done_last_hour: Option<i64>,
    /// Items done and failed per hour, as (hour since the epoch, count).
    pub done_hours: Vec<(i64, i64)>,
    pub failed_hours: Vec<(i64, i64)>,
}

/// One queue (of one link, where the queue has links).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueHealth {
    pub queue: Queue,
    pub org_link_id: Option<Uuid>,
    pub org_link_name: Option<String>,
    pub depth: Measure,
    /// Seconds the oldest waiting item has waited; absent when none waits.
    pub oldest_age_seconds: Option<i64>,
    pub oldest_level: Level,
    pub failures_last_hour: Measure,
    /// Items done in the last hour; absent where the viewer may not see the whole worker's.
    pub done_last_hour: Option<i64>,
    /// The worst of its levels.
    pub level: Level,
    /// Items done and failed per hour, oldest first, the last 24 hours.
    pub done_per_hour: Vec<i64>,
    pub failed_per_hour: Vec<i64>,
}

/// Hours in the charts.
pub const HOURS: i64 = 24;
const HOUR_MS: i64 = 3_600_000;

/// The hour (since the epoch) of an instant in milliseconds, as `crm_api_calls` keeps it.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS)
}

/// `HOURS` counts ending with the hour of `now_ms`, from sparse (hour, count) pairs.
pub fn hourly(now_ms: i64, counts: &[(i64, i64)]) -> Vec<i64> {
    let last = hour_of(now_ms);
    (last - HOURS + 1..=last)
        .map(|hour| {
            counts
                .iter()
                .filter(|(h, _)| *h == hour)
                .map(|(_, n)| n)
                .sum()
        })
        .collect()
}

impl QueueHealth {
    pub fn new(
        queue: Queue,
        link: Option<(Uuid, String)>,
        counts: QueueCounts,
        now_ms: i64,
        thresholds: &Thresholds,
    ) -> Self {
        let age = counts
            .oldest_at
            .map(|at| (now_ms - at).max(0) / 1000)
            .filter(|_| counts.depth > 0);
        let depth = Measure {
            value: counts.depth,
            level: thresholds.depth(counts.depth),
        };
        let failures = Measure {
            value: counts.failed_last_hour,
            level: thresholds.failures(counts.failed_last_hour),
        };
        let oldest_level = thresholds.oldest(age);
        let (org_link_id, org_link_name) = link.unzip();
        Self {
            queue,
            org_link_id,
            org_link_name,
            level: depth.level.max(failures.level).max(oldest_level),
            depth,
            oldest_age_seconds: age,
            oldest_level,
            failures_last_hour: failures,
            done_last_hour: counts.done_last_hour,
            done_per_hour: hourly(now_ms, &counts.done_hours),
            failed_per_hour: hourly(now_ms, &counts.failed_hours),
        }
    }
}

/// A worker's health.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WorkerHealth {
    pub worker: Worker,
    pub label: &'static str,
    /// Absent until the worker has passed once.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_finished_at: Option<OffsetDateTime>,
    pub duration_ms: Option<i64>,
    pub outcome: Option<PassOutcome>,
    /// Why the last pass failed (operators only).
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_success_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_run_at: Option<OffsetDateTime>,
    pub passes: i64,
    pub failures: i64,
    pub level: Level,
    /// Items the worker finished and gave up on per hour, oldest first, the last 24 hours
    /// (operators only: the workers serve every tenancy).
    pub done_per_hour: Vec<i64>,
    pub failed_per_hour: Vec<i64>,
}

impl WorkerHealth {
    /// A worker's row, or one that has never passed: critical once another worker has (the
    /// loop runs them all each round), else unknown and shown as ok.
    pub fn new(
        worker: Worker,
        pass: Option<&WorkerPass>,
        others_passed: bool,
        now: OffsetDateTime,
        thresholds: &Thresholds,
    ) -> Self {
        let Some(pass) = pass else {
            return Self {
                worker,
                label: worker.label(),
                last_started_at: None,
                last_finished_at: None,
                duration_ms: None,
                outcome: None,
                error: None,
                last_success_at: None,
                next_run_at: None,
                passes: 0,
                failures: 0,
                level: if others_passed {
                    Level::Critical
                } else {
                    Level::Ok
                },
                done_per_hour: Vec::new(),
                failed_per_hour: Vec::new(),
            };
        };
        Self {
            worker,
            label: worker.label(),
            last_started_at: Some(pass.started_at),
            last_finished_at: Some(pass.finished_at),
            duration_ms: Some(pass.duration_ms),
            outcome: Some(pass.outcome),
            error: pass.error.clone(),
            last_success_at: pass.last_success_at,
            next_run_at: Some(pass.next_run_at),
            passes: pass.passes,
            failures: pass.failures,
            level: thresholds.worker(pass, now),
            done_per_hour: Vec::new(),
            failed_per_hour: Vec::new(),
        }
    }
}

/// Sync health at a glance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The worst level on the page.
    pub level: Level,
    pub links: Vec<LinkHealth>,
    pub queues: Vec<QueueHealth>,
    pub workers: Vec<WorkerHealth>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn levels_turn_at_their_thresholds() {
        let t = Thresholds::default();
        assert_eq!(t.oldest(Some(299)), Level::Ok);
        assert_eq!(t.oldest(Some(300)), Level::Warning);
        assert_eq!(t.oldest(Some(900)), Level::Critical);
        assert_eq!(t.oldest(None), Level::Ok);
        assert_eq!(t.usage(79), Level::Ok);
        assert_eq!(t.usage(80), Level::Warning);
        assert_eq!(t.usage(95), Level::Critical);
        assert_eq!(t.failures(0), Level::Ok);
        assert_eq!(t.link_state(LinkState::Unauthorized), Level::Critical);
    }

    #[test]
    fn a_worker_turns_critical_after_its_silent_intervals() {
        let t = Thresholds::default();
        let finished = datetime!(2026-03-02 09:00 UTC);
        let pass = WorkerPass {
            worker: Worker::Inbox,
            started_at: finished,
            finished_at: finished,
            duration_ms: 3,
            outcome: PassOutcome::Ok,
            error: None,
            last_success_at: Some(finished),
            next_run_at: finished + time::Duration::seconds(1),
            passes: 1,
            failures: 0,
        };
        assert_eq!(t.worker(&pass, finished), Level::Ok);
        let late = finished + time::Duration::seconds(30);
        assert_eq!(t.worker(&pass, late), Level::Warning);
        let silent = finished + time::Duration::seconds(120);
        assert_eq!(t.worker(&pass, silent), Level::Critical);
    }

    #[test]
    fn hourly_counts_fill_the_hours_without_any() {
        let now = 30 * HOUR_MS + 5;
        let series = hourly(now, &[(30, 4), (28, 2), (2, 9)]);
        assert_eq!(series.len(), 24);
        assert_eq!(series[23], 4);
        assert_eq!(series[21], 2);
        assert_eq!(series.iter().sum::<i64>(), 6);
    }

    #[test]
    fn a_links_share_is_its_calls_against_its_budget() {
        let mut calls = vec![0; 24];
        calls[23] = 850;
        let share = LinkShare::new(calls, 10, Some(10_000), &Thresholds::default());
        assert_eq!(share.budget_calls, Some(1000));
        assert_eq!(share.percent, Some(85));
        assert_eq!(share.level, Level::Warning);
    }
}
