//! The re-send worker: sends each running invitation cycle's due e-mail with a fresh link,
//! schedules the next one, and expires cycles that ran their 30 days. It reads only what is
//! due (`next_due_at`, indexed), so its cost follows the due invitations, not all of them.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use time::macros::format_description;

use crate::clock::{from_millis, to_millis};
use crate::crm::{digest, oauth::random_token};
use crate::domain::client_status::ClientStatus;
use crate::domain::invitation::Schedule;
use crate::mail::templates::{Invitation, client_accepted, invitation};
use crate::mail::{MailError, Mailer};
use crate::store::{self, DueCycle, Store};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationConfig {
    pub schedule: Schedule,
    /// Cycles claimed at a time.
    pub batch_size: i64,
    /// E-mails in flight at once.
    pub concurrency: usize,
    /// Tries of an e-mail the mail server cannot take now, before the failure is kept for ops
    /// and the cycle waits for its next day.
    pub max_delivery_attempts: i64,
    pub retry_min_seconds: u64,
    pub retry_max_seconds: u64,
    pub poll_interval_ms: u64,
}

impl Default for InvitationConfig {
    fn default() -> Self {
        Self {
            schedule: Schedule::default(),
            batch_size: 500,
            concurrency: 16,
            max_delivery_attempts: 5,
            retry_min_seconds: 60,
            retry_max_seconds: 3600,
            poll_interval_ms: 1000,
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct InvitationPass {
    pub due: usize,
    /// Staff told that a client accepted.
    pub notified: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub expired: usize,
}

enum Done {
    Sent,
    Retried,
    Failed,
    Expired,
}

/// The page a link opens.
pub fn link_url(base: &str, token: &str) -> String {
    format!("{}/invitations/{token}", base.trim_end_matches('/'))
}

fn human_time(ms: i64) -> String {
    let format = format_description!(
        "[weekday repr:short] [day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    from_millis(ms).format(&format).unwrap_or_default()
}

/// One pass: every cycle due now, in batches, until none is left.
pub async fn pass(
    store: &Store,
    mailer: &dyn Mailer,
    config: &InvitationConfig,
    link_base_url: &str,
) -> Result<InvitationPass, store::Error> {
    let mut report = InvitationPass::default();
    let now = to_millis(store.clock().now());
    loop {
        let due = store
            .claim_due_cycles(now, config.batch_size.max(1))
            .await?;
        if due.is_empty() {
            break;
        }
        report.due += due.len();
        let outcomes: Vec<Result<Done, store::Error>> = futures::stream::iter(due)
            .map(|cycle| act(store, mailer, config, link_base_url, cycle, now))
            .buffer_unordered(config.concurrency.max(1))
            .collect()
            .await;
        for outcome in outcomes {
            match outcome? {
                Done::Sent => report.sent += 1,
                Done::Retried => report.retried += 1,
                Done::Failed => report.failed += 1,
                Done::Expired => report.expired += 1,
            }
        }
    }
    loop {
        let due = store
            .claim_due_notifications(now, config.batch_size.max(1))
            .await?;
        if due.is_empty() {
            break;
        }
        report.due += due.len();
        let outcomes: Vec<Result<bool, store::Error>> = futures::stream::iter(due)
            .map(|note| notify(store, mailer, config, note, now))
            .buffer_unordered(config.concurrency.max(1))
            .collect()
            .await;
        for outcome in outcomes {
            if outcome? {
                report.notified += 1;
            }
        }
    }
    Ok(report)
}

/// Sends one staff notification; true when it went out.
async fn notify(
    store: &Store,
    mailer: &dyn Mailer,
    config: &InvitationConfig,
    note: store::DueNotification,
    now: i64,
) -> Result<bool, store::Error> {
    let email = client_accepted(
        &note.tenancy_name,
        &note.staff_first_name,
        &note.staff_email,
        &note.client_name,
    );
    match mailer.send(&email).await {
        Ok(()) => {
            store.settle_notification(&note, None, None).await?;
            Ok(true)
        }
        Err(error) => {
            let give_up = error.is_permanent() || note.attempts + 1 >= config.max_delivery_attempts;
            let retry_at = (!give_up).then(|| {
                now + i64::try_from(retry_delay(config, note.attempts).as_millis())
                    .unwrap_or(i64::MAX / 4)
            });
            store
                .settle_notification(&note, Some(&error.to_string()), retry_at)
                .await?;
            Ok(false)
        }
    }
}

fn retry_delay(config: &InvitationConfig, attempt: i64) -> Duration {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(config.retry_min_seconds))
        .with_max_delay(Duration::from_secs(config.retry_max_seconds))
        .with_jitter()
        .without_max_times()
        .build()
        .nth(usize::try_from(attempt.max(0)).unwrap_or(0))
        .unwrap_or(Duration::from_secs(config.retry_max_seconds))
}

async fn act(
    store: &Store,
    mailer: &dyn Mailer,
    config: &InvitationConfig,
    link_base_url: &str,
    cycle: DueCycle,
    now: i64,
) -> Result<Done, store::Error> {
    let schedule = &config.schedule;
    let now_at = from_millis(now);
    if let Some(ends) = cycle.ends_at
        && schedule.has_ended(from_millis(ends), now_at)
    {
        return match store
            .transition_client(
                cycle.tenancy_id,
                cycle.client_id,
                ClientStatus::expire,
                "system",
            )
            .await
        {
            // A client who answered meanwhile has no running cycle: nothing to expire.
            Ok(_) | Err(store::Error::Conflict { .. }) => Ok(Done::Expired),
            Err(e) => Err(e),
        };
    }
    let ends = cycle
        .ends_at
        .unwrap_or_else(|| to_millis(schedule.cycle_end(now_at)));
    let expires = to_millis(schedule.link_expiry(now_at, from_millis(ends)));
    let token = random_token();
    let link = store
        .record_link(&cycle, &digest(&token), now, expires, ends)
        .await?;
    let url = link_url(link_base_url, &token);
    let email = invitation(&Invitation {
        tenancy_name: &cycle.tenancy_name,
        first_name: &cycle.first_name,
        last_name: &cycle.last_name,
        email: &cycle.email,
        link: &url,
        message: cycle.message.as_deref(),
        valid_until: &human_time(expires),
    });
    let next_day = to_millis(schedule.next_due(now_at, from_millis(ends)));
    match mailer.send(&email).await {
        Ok(()) => {
            store
                .record_sent(&cycle, next_day, cycle.failed_attempts + 1)
                .await?;
            Ok(Done::Sent)
        }
        Err(error) => {
            let attempt = cycle.failed_attempts + 1;
            let give_up = error.is_permanent() || attempt >= config.max_delivery_attempts;
            let next = if give_up {
                next_day
            } else {
                let delay = i64::try_from(retry_delay(config, cycle.failed_attempts).as_millis())
                    .unwrap_or(i64::MAX / 4);
                (now + delay).min(ends)
            };
            tracing::warn!(cycle = %cycle.id, attempt, give_up, error = %describe(&error), "invitation e-mail not delivered");
            store
                .record_send_failure(&cycle, link, &error.to_string(), next, give_up)
                .await?;
            Ok(if give_up { Done::Failed } else { Done::Retried })
        }
    }
}

/// The error without the recipient's address, for the log.
fn describe(error: &MailError) -> &'static str {
    if error.is_permanent() {
        "refused"
    } else {
        "unavailable"
    }
}
