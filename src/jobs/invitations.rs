//! The re-send worker: sends each running invitation cycle's due e-mail with a fresh link,
//! schedules the next one, and expires cycles that ran their 30 days. It reads only what is
//! due (`next_due_at`, indexed), so its cost follows the due invitations, not all of them.

use std::sync::Arc;

use futures::StreamExt;
use time::macros::format_description;
use tokio::sync::Semaphore;

use crate::clock::{from_millis, to_millis};
use crate::config::InvitationConfig;
use crate::domain::client_status::ClientStatus;
use crate::mail::templates::{Invitation, client_accepted, invitation};
use crate::mail::{MailError, Mailer};
use crate::secrets::{digest, random_token};
use crate::store::{self, Delivery, DueCycle, Store};

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

/// Results recorded per transaction while a batch's e-mails complete.
const RECORD_GROUP: usize = 64;

/// One pass: every cycle due now, in batches, until none is left. A batch's links are recorded
/// in one transaction before any e-mail leaves; the e-mails go out concurrently, and their
/// results are recorded as they come, alongside the sending, so a crash repeats at most the
/// e-mails that were in flight, each once.
pub async fn pass(
    store: &Store,
    mailer: &dyn Mailer,
    config: &InvitationConfig,
    link_base_url: &str,
) -> Result<InvitationPass, store::Error> {
    let mut report = InvitationPass::default();
    let now = to_millis(store.clock().now());
    let schedule = &config.schedule;
    let now_at = from_millis(now);
    loop {
        let due = store
            .claim_due_cycles(now, config.batch_size.max(1))
            .await?;
        if due.is_empty() {
            break;
        }
        report.due += due.len();
        let (ending, sending): (Vec<_>, Vec<_>) = due.into_iter().partition(|c| {
            c.ends_at
                .is_some_and(|end| schedule.has_ended(from_millis(end), now_at))
        });
        for cycle in ending {
            match store
                .transition_client(
                    cycle.tenancy_id,
                    cycle.client_id,
                    ClientStatus::expire,
                    "system",
                )
                .await
            {
                // A client who answered meanwhile has no running cycle: nothing to expire.
                Ok(_) | Err(store::Error::Conflict { .. }) => report.expired += 1,
                Err(e) => return Err(e),
            }
        }
        let prepared: Vec<(DueCycle, String, i64, i64)> = sending
            .into_iter()
            .map(|cycle| {
                let ends = cycle
                    .ends_at
                    .unwrap_or_else(|| to_millis(schedule.cycle_end(now_at)));
                let expires = to_millis(schedule.link_expiry(now_at, from_millis(ends)));
                (cycle, random_token(), expires, ends)
            })
            .collect();
        let links = store
            .record_links(
                &prepared
                    .iter()
                    .map(|(cycle, token, expires, ends)| {
                        (cycle, digest(token), now, *expires, *ends)
                    })
                    .collect::<Vec<_>>(),
            )
            .await?;
        // An e-mail holds its permit from before it is sent until its result is committed, so
        // at most `max_unrecorded` e-mails are ever sent but unrecorded: the most a crash can
        // repeat. Results are recorded while the next e-mails are sending, each transaction
        // taking whatever has completed since the last one began.
        let unrecorded = Arc::new(Semaphore::new(config.max_unrecorded.max(1)));
        let results = futures::stream::iter(prepared.into_iter().zip(links))
            .map(|((cycle, token, expires, ends), link)| {
                let unrecorded = unrecorded.clone();
                async move {
                    let permit = unrecorded.acquire_owned().await;
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
                    let sent = mailer.send(&email).await;
                    let outcome = delivery(config, &cycle, sent, now, ends);
                    ((cycle, link, outcome), permit)
                }
            })
            .buffer_unordered(config.concurrency.max(1));
        let (completed, recorded) = futures::channel::mpsc::unbounded();
        let sending = async move {
            let mut results = std::pin::pin!(results);
            while let Some(result) = results.next().await {
                if completed.unbounded_send(result).is_err() {
                    break;
                }
            }
            Ok::<(), store::Error>(())
        };
        let recording = async {
            let mut groups = recorded.ready_chunks(RECORD_GROUP);
            while let Some(group) = groups.next().await {
                let (group, permits): (Vec<_>, Vec<_>) = group.into_iter().unzip();
                for result in &group {
                    match &result.2 {
                        Delivery::Sent { .. } => report.sent += 1,
                        Delivery::Failed { gave_up: true, .. } => report.failed += 1,
                        Delivery::Failed { .. } => report.retried += 1,
                    }
                }
                store.record_deliveries(&group).await?;
                drop(permits);
            }
            Ok(())
        };
        tokio::try_join!(sending, recording)?;
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

/// What an e-mail's result means for its cycle: the next day, or a retry after a backoff, or
/// (after the last try, or a refusal for good) the next day with the failure kept.
fn delivery(
    config: &InvitationConfig,
    cycle: &DueCycle,
    sent: Result<(), MailError>,
    now: i64,
    ends: i64,
) -> Delivery {
    let next_day = to_millis(
        config
            .schedule
            .next_due(from_millis(now), from_millis(ends)),
    );
    match sent {
        Ok(()) => Delivery::Sent {
            next_due_at: next_day,
        },
        Err(error) => {
            let attempt = cycle.failed_attempts + 1;
            let policy = config.retry();
            let gave_up = error.is_permanent() || policy.gives_up_after(attempt);
            let next_due_at = if gave_up {
                next_day
            } else {
                (now + policy.delay_ms(cycle.failed_attempts)).min(ends)
            };
            tracing::warn!(cycle = %cycle.id, attempt, gave_up, error = describe(&error), "invitation e-mail not delivered");
            Delivery::Failed {
                error: error.to_string(),
                next_due_at,
                gave_up,
            }
        }
    }
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
            let policy = config.retry();
            let give_up = error.is_permanent() || policy.gives_up_after(note.attempts + 1);
            let retry_at = (!give_up).then(|| now + policy.delay_ms(note.attempts));
            store
                .settle_notification(&note, Some(&error.to_string()), retry_at)
                .await?;
            Ok(false)
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
