//! Invitation cycles, their links and the e-mails sent for them. A status change starts or ends
//! a cycle in its own transaction (see `cycle_effect`); the re-send worker claims due cycles
//! by `next_due_at` with a lease (and `FOR UPDATE SKIP LOCKED` on PostgreSQL).

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::backend::Claim;
use super::failures::{NewAttempt, insert_attempts};
use super::{Result, Store, rows};
use crate::domain::client_status::ClientStatus;
use crate::domain::failure::FailureQueue;
use crate::domain::invitation::DeadLink;

/// Milliseconds a claimed cycle stays with one worker.
pub const CYCLE_LEASE_MS: i64 = 120_000;

/// What a status change does to the client's invitation cycle.
fn cycle_effect(next: ClientStatus) -> Option<(&'static str, DeadLink)> {
    match next {
        ClientStatus::Invited => Some(("replaced", DeadLink::Replaced)),
        ClientStatus::Active => Some(("accepted", DeadLink::Used)),
        ClientStatus::Declined => Some(("declined", DeadLink::Used)),
        ClientStatus::Revoked => Some(("revoked", DeadLink::Revoked)),
        ClientStatus::Expired => Some(("expired", DeadLink::Expired)),
        ClientStatus::Draft => None,
    }
}

/// Ends the client's running cycle (voiding every live link of it) and, when the client is now
/// invited, starts a new cycle whose first e-mail is due at once.
pub(super) async fn apply_status(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    client: Uuid,
    next: ClientStatus,
    now: i64,
) -> Result<()> {
    let Some((end_reason, dead)) = cycle_effect(next) else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE invitation_links SET voided_at = $3, void_reason = $4 \
         WHERE tenancy_id = $1 AND client_id = $2 AND voided_at IS NULL",
    )
    .bind(tenancy.to_string())
    .bind(client.to_string())
    .bind(now)
    .bind(dead.as_str())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE invitation_cycles SET ended_at = $3, end_reason = $4, next_due_at = NULL, lease_until = NULL \
         WHERE tenancy_id = $1 AND client_id = $2 AND ended_at IS NULL",
    )
    .bind(tenancy.to_string())
    .bind(client.to_string())
    .bind(now)
    .bind(end_reason)
    .execute(&mut *conn)
    .await?;
    if next == ClientStatus::Invited {
        start_cycle(conn, tenancy, client, now).await?;
    }
    Ok(())
}

/// Starts an invitation cycle whose first e-mail is due at once, for a client who has none
/// running (just created, or whose cycle the caller ended).
pub(super) async fn start_cycle(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    client: Uuid,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO invitation_cycles (id, tenancy_id, client_id, started_at, next_due_at, emails_sent, failed_attempts) \
         VALUES ($1, $2, $3, $4, $4, 0, 0)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(tenancy.to_string())
    .bind(client.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// How one invitation e-mail went.
#[derive(Debug, Clone)]
pub enum Delivery {
    Sent {
        next_due_at: i64,
    },
    Failed {
        error: String,
        next_due_at: i64,
        gave_up: bool,
    },
}

/// A cycle the worker claimed, with what its e-mail needs.
#[derive(Debug, Clone)]
pub struct DueCycle {
    pub id: Uuid,
    pub tenancy_id: Uuid,
    pub tenancy_name: String,
    pub client_id: Uuid,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub message: Option<String>,
    /// Set by the first e-mail; absent before it.
    pub ends_at: Option<i64>,
    pub emails_sent: i64,
    pub failed_attempts: i64,
}

/// A cycle, its links and e-mails, as the history shows them.
#[derive(Debug, Clone)]
pub struct InvitationCycle {
    pub id: Uuid,
    pub started_at: OffsetDateTime,
    /// 30 days after the first e-mail.
    pub ends_at: Option<OffsetDateTime>,
    /// When the next e-mail (or the expiry) is due; absent once the cycle is over.
    pub next_due_at: Option<OffsetDateTime>,
    pub emails_sent: i64,
    pub ended_at: Option<OffsetDateTime>,
    /// `accepted`, `declined`, `revoked`, `expired` or `replaced` (by a resend).
    pub end_reason: Option<String>,
    /// The last delivery failure, while retries go on.
    pub last_error: Option<String>,
    pub links: Vec<InvitationLink>,
}

#[derive(Debug, Clone)]
pub struct InvitationLink {
    pub id: Uuid,
    pub sent_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub voided_at: Option<OffsetDateTime>,
    pub void_reason: Option<DeadLink>,
    pub used_at: Option<OffsetDateTime>,
}

/// One e-mail delivery: sent, or failed after its last retry.
#[derive(Debug, Clone)]
pub struct EmailDelivery {
    pub id: Uuid,
    pub client_id: Option<Uuid>,
    pub kind: String,
    pub recipient: String,
    /// `sent` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub at: OffsetDateTime,
}

fn cycle(row: &AnyRow, links: Vec<InvitationLink>) -> sqlx::Result<InvitationCycle> {
    Ok(InvitationCycle {
        id: rows::id(row, "id")?,
        started_at: rows::time(row, "started_at")?,
        ends_at: rows::opt_time(row, "ends_at")?,
        next_due_at: rows::opt_time(row, "next_due_at")?,
        emails_sent: rows::int(row, "emails_sent")?,
        ended_at: rows::opt_time(row, "ended_at")?,
        end_reason: rows::opt_text(row, "end_reason")?,
        last_error: rows::opt_text(row, "last_error")?,
        links,
    })
}

/// The claim of rows of `table` whose `next_due_at` has come, soonest first, by their ids.
fn due_soonest(table: &'static str) -> Claim<'static> {
    Claim {
        table,
        due: "next_due_at IS NOT NULL AND next_due_at <= $1",
        order: "next_due_at",
        returning: "id",
        args: &[],
    }
}

impl Store {
    /// Claims up to `limit` cycles due at `now`, oldest due first. The due index holds only
    /// running cycles, so this reads what is due and nothing else.
    pub async fn claim_due_cycles(&self, now: i64, limit: i64) -> Result<Vec<DueCycle>> {
        let ids = self
            .claim(
                due_soonest("invitation_cycles"),
                now,
                now + CYCLE_LEASE_MS,
                limit,
            )
            .await?
            .iter()
            .map(|row| rows::text(row, "id"))
            .collect::<sqlx::Result<Vec<_>>>()?;
        // One query for the details of the whole batch.
        let mut due = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let placeholders = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT c.id, c.tenancy_id, t.name AS tenancy_name, c.client_id, u.first_name, u.last_name, u.email, \
                   u.invite_message, c.ends_at, c.emails_sent, c.failed_attempts \
                 FROM invitation_cycles c JOIN users u ON u.id = c.client_id JOIN tenancies t ON t.id = c.tenancy_id \
                 WHERE c.id IN ({placeholders})"
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.clone());
            }
            for row in query.fetch_all(&self.pool).await? {
                due.push(DueCycle {
                    id: rows::id(&row, "id")?,
                    tenancy_id: rows::id(&row, "tenancy_id")?,
                    tenancy_name: rows::text(&row, "tenancy_name")?,
                    client_id: rows::id(&row, "client_id")?,
                    first_name: rows::text(&row, "first_name")?,
                    last_name: rows::text(&row, "last_name")?,
                    email: rows::text(&row, "email")?,
                    message: rows::opt_text(&row, "invite_message")?,
                    ends_at: sqlx::Row::try_get(&row, "ends_at")?,
                    emails_sent: rows::int(&row, "emails_sent")?,
                    failed_attempts: rows::int(&row, "failed_attempts")?,
                });
            }
        }
        Ok(due)
    }

    /// Records the links of a batch in one transaction, before any of their e-mails leaves.
    /// Each entry: the cycle, its token hash, sent at, expires at, and the cycle's end.
    pub async fn record_links(
        &self,
        links: &[(&DueCycle, String, i64, i64, i64)],
    ) -> Result<Vec<Uuid>> {
        let mut ids = Vec::with_capacity(links.len());
        let mut tx = self.write_tx().await?;
        for (cycle, token_hash, sent_at, expires_at, ends_at) in links {
            let id = Uuid::now_v7();
            sqlx::query(
                "UPDATE invitation_cycles SET ends_at = COALESCE(ends_at, $2) WHERE id = $1",
            )
            .bind(cycle.id.to_string())
            .bind(*ends_at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO invitation_links (id, tenancy_id, client_id, cycle_id, token_hash, sent_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id.to_string())
            .bind(cycle.tenancy_id.to_string())
            .bind(cycle.client_id.to_string())
            .bind(cycle.id.to_string())
            .bind(token_hash.clone())
            .bind(*sent_at)
            .bind(*expires_at)
            .execute(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Records how a group of e-mails went, in one transaction.
    pub async fn record_deliveries(&self, outcomes: &[(DueCycle, Uuid, Delivery)]) -> Result<()> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        // Every e-mail's attempt, in one statement, kept under its cycle.
        let attempts: Vec<NewAttempt<'_>> = outcomes
            .iter()
            .map(|(cycle, _, outcome)| match outcome {
                Delivery::Sent { .. } => NewAttempt {
                    item_id: cycle.id,
                    outcome: "sent",
                    request: None,
                    http_status: None,
                    code: None,
                    message: None,
                },
                Delivery::Failed { error, gave_up, .. } => NewAttempt {
                    item_id: cycle.id,
                    outcome: if *gave_up { "failed" } else { "retry" },
                    request: None,
                    http_status: None,
                    code: None,
                    message: Some(error.as_str()),
                },
            })
            .collect();
        insert_attempts(&mut tx, FailureQueue::Emails, now, &attempts).await?;
        for (cycle, link, outcome) in outcomes {
            match outcome {
                Delivery::Sent { next_due_at } => {
                    sqlx::query(
                        "UPDATE invitation_cycles SET emails_sent = emails_sent + 1, failed_attempts = 0, last_error = NULL, \
                         next_due_at = $2, lease_until = NULL WHERE id = $1 AND ended_at IS NULL",
                    )
                    .bind(cycle.id.to_string())
                    .bind(*next_due_at)
                    .execute(&mut *tx)
                    .await?;
                    insert_delivery(&mut tx, cycle, "sent", cycle.failed_attempts + 1, None, now)
                        .await?;
                }
                Delivery::Failed {
                    error,
                    next_due_at,
                    gave_up,
                } => {
                    sqlx::query(
                        "UPDATE invitation_links SET voided_at = $2, void_reason = 'undelivered' WHERE id = $1 AND voided_at IS NULL",
                    )
                    .bind(link.to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE invitation_cycles SET failed_attempts = CASE WHEN $3 = 1 THEN 0 ELSE failed_attempts + 1 END, \
                         last_error = $4, next_due_at = $2, lease_until = NULL WHERE id = $1 AND ended_at IS NULL",
                    )
                    .bind(cycle.id.to_string())
                    .bind(*next_due_at)
                    .bind(i64::from(*gave_up))
                    .bind(error.clone())
                    .execute(&mut *tx)
                    .await?;
                    if *gave_up {
                        insert_delivery(
                            &mut tx,
                            cycle,
                            "failed",
                            cycle.failed_attempts + 1,
                            Some(error),
                            now,
                        )
                        .await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The client's invitation cycles, newest first, with their links.
    pub async fn invitation_history(
        &self,
        tenancy: Uuid,
        client: Uuid,
    ) -> Result<Vec<InvitationCycle>> {
        self.client(tenancy, client, None).await?;
        let cycles = sqlx::query(
            "SELECT id, started_at, ends_at, next_due_at, emails_sent, ended_at, end_reason, last_error \
             FROM invitation_cycles WHERE tenancy_id = $1 AND client_id = $2 ORDER BY id DESC LIMIT 50",
        )
        .bind(tenancy.to_string())
        .bind(client.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(cycles.len());
        for row in &cycles {
            let links = sqlx::query(
                "SELECT id, sent_at, expires_at, voided_at, void_reason, used_at FROM invitation_links \
                 WHERE tenancy_id = $1 AND cycle_id = $2 ORDER BY id",
            )
            .bind(tenancy.to_string())
            .bind(rows::text(row, "id")?)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|l| {
                Ok(InvitationLink {
                    id: rows::id(l, "id")?,
                    sent_at: rows::time(l, "sent_at")?,
                    expires_at: rows::time(l, "expires_at")?,
                    voided_at: rows::opt_time(l, "voided_at")?,
                    void_reason: rows::opt_text(l, "void_reason")?.as_deref().and_then(DeadLink::parse),
                    used_at: rows::opt_time(l, "used_at")?,
                })
            })
            .collect::<sqlx::Result<Vec<_>>>()?;
            out.push(cycle(row, links)?);
        }
        Ok(out)
    }

    /// E-mail deliveries of a tenancy, optionally only the failed ones, newest first.
    pub async fn email_deliveries(
        &self,
        tenancy: Uuid,
        failed_only: bool,
        limit: i64,
    ) -> Result<Vec<EmailDelivery>> {
        let found = sqlx::query(
            "SELECT id, client_id, kind, recipient, state, attempts, last_error, at FROM email_deliveries \
             WHERE tenancy_id = $1 AND ($2 = 0 OR state = 'failed') ORDER BY id DESC LIMIT $3",
        )
        .bind(tenancy.to_string())
        .bind(i64::from(failed_only))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(EmailDelivery {
                id: rows::id(row, "id")?,
                client_id: rows::opt_id(row, "client_id")?,
                kind: rows::text(row, "kind")?,
                recipient: rows::text(row, "recipient")?,
                state: rows::text(row, "state")?,
                attempts: rows::int(row, "attempts")?,
                last_error: rows::opt_text(row, "last_error")?,
                at: rows::time(row, "at")?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
        Ok(found)
    }
}

async fn insert_delivery(
    conn: &mut AnyConnection,
    cycle: &DueCycle,
    state: &str,
    attempts: i64,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO email_deliveries (id, tenancy_id, client_id, cycle_id, kind, recipient, state, attempts, last_error, at) \
         VALUES ($1, $2, $3, $4, 'invitation', $5, $6, $7, $8, $9)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(cycle.tenancy_id.to_string())
    .bind(cycle.client_id.to_string())
    .bind(cycle.id.to_string())
    .bind(cycle.email.clone())
    .bind(state.to_string())
    .bind(attempts)
    .bind(error.map(str::to_string))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// What an activation link opens, found by its token's hash.
#[derive(Debug, Clone)]
pub struct LinkView {
    pub tenancy_id: Uuid,
    pub tenancy_name: String,
    pub client_id: Uuid,
    pub first_name: String,
    /// Why the link no longer works, if it does not (at the time asked).
    pub dead: Option<DeadLink>,
}

/// The client's answer to an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Decline,
}

impl Store {
    /// The link behind a token hash, and whether it still works now.
    pub async fn invitation_link(&self, token_hash: &str) -> Result<Option<LinkView>> {
        let row = sqlx::query(
            "SELECT l.tenancy_id, t.name AS tenancy_name, l.client_id, u.first_name, l.expires_at, l.voided_at, \
               l.void_reason, l.used_at \
             FROM invitation_links l JOIN users u ON u.id = l.client_id JOIN tenancies t ON t.id = l.tenancy_id \
             WHERE l.token_hash = $1",
        )
        .bind(token_hash.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let now = self.now();
        let dead = if rows::opt_time(&row, "used_at")?.is_some() {
            Some(DeadLink::Used)
        } else if rows::opt_time(&row, "voided_at")?.is_some() {
            Some(
                rows::opt_text(&row, "void_reason")?
                    .as_deref()
                    .and_then(DeadLink::parse)
                    .unwrap_or(DeadLink::Expired),
            )
        } else if rows::int(&row, "expires_at")? <= now {
            Some(DeadLink::Expired)
        } else {
            None
        };
        // A link whose e-mail never left reached no one: it is as unknown as a guessed one.
        if dead == Some(DeadLink::Undelivered) {
            return Ok(None);
        }
        Ok(Some(LinkView {
            tenancy_id: rows::id(&row, "tenancy_id")?,
            tenancy_name: rows::text(&row, "tenancy_name")?,
            client_id: rows::id(&row, "client_id")?,
            first_name: rows::text(&row, "first_name")?,
            dead,
        }))
    }

    /// The client answers through a live link: in one transaction the status moves, the cycle
    /// ends and every link of it stops working, this one marked used. A dead or unknown link
    /// changes nothing and says why.
    pub async fn answer_invitation(
        &self,
        token_hash: &str,
        answer: Answer,
    ) -> Result<Result<LinkView, Option<DeadLink>>> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT id, tenancy_id, client_id, expires_at, voided_at, void_reason, used_at FROM invitation_links \
             WHERE token_hash = $1",
        )
        .bind(token_hash.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(Err(None)) };
        let now = self.now();
        if rows::opt_time(&row, "used_at")?.is_some() {
            return Ok(Err(Some(DeadLink::Used)));
        }
        if let Some(reason) = rows::opt_text(&row, "void_reason")? {
            return Ok(Err(
                DeadLink::parse(&reason).filter(|d| *d != DeadLink::Undelivered)
            ));
        }
        if rows::int(&row, "expires_at")? <= now {
            return Ok(Err(Some(DeadLink::Expired)));
        }
        let (tenancy, client) = (rows::id(&row, "tenancy_id")?, rows::id(&row, "client_id")?);
        let transition = match answer {
            Answer::Accept => ClientStatus::accept,
            Answer::Decline => ClientStatus::decline,
        };
        match self
            .transition_in(&mut tx, tenancy, client, transition, "client")
            .await
        {
            Ok(_) => {}
            // The client answered already (through another link of the same cycle).
            Err(super::Error::Conflict { .. }) => return Ok(Err(Some(DeadLink::Used))),
            Err(e) => return Err(e),
        }
        sqlx::query("UPDATE invitation_links SET used_at = $2, void_reason = 'used' WHERE id = $1")
            .bind(rows::text(&row, "id")?)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if answer == Answer::Accept {
            notify_covering_staff(&mut tx, tenancy, client, now).await?;
        }
        tx.commit().await?;
        Ok(self.invitation_link(token_hash).await?.ok_or(None))
    }
}

/// An e-mail due to a staff user about one of their clients.
#[derive(Debug, Clone)]
pub struct DueNotification {
    pub id: Uuid,
    pub tenancy_id: Uuid,
    pub tenancy_name: String,
    pub client_id: Uuid,
    pub client_name: String,
    pub staff_first_name: String,
    pub staff_email: String,
    pub attempts: i64,
}

/// Tells every active staff user who covers the client (through their groups or teams) that
/// the client accepted, inside the acceptance's transaction.
async fn notify_covering_staff(
    conn: &mut AnyConnection,
    tenancy: Uuid,
    client: Uuid,
    now: i64,
) -> Result<()> {
    let staff = sqlx::query(
        "SELECT DISTINCT sm.user_id FROM group_members cm JOIN group_members sm ON sm.group_id = cm.group_id \
         WHERE cm.tenancy_id = $1 AND cm.user_id = $2 AND sm.member_kind = 'staff' AND sm.member_active = 1",
    )
    .bind(tenancy.to_string())
    .bind(client.to_string())
    .fetch_all(&mut *conn)
    .await?;
    for row in staff {
        sqlx::query(
            "INSERT INTO staff_notifications (id, tenancy_id, client_id, staff_id, kind, next_due_at, attempts, created_at) \
             VALUES ($1, $2, $3, $4, 'client_accepted', $5, 0, $5)",
        )
        .bind(Uuid::now_v7().to_string())
        .bind(tenancy.to_string())
        .bind(client.to_string())
        .bind(rows::text(&row, "user_id")?)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Claims staff notifications due at `now`.
    pub async fn claim_due_notifications(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<DueNotification>> {
        let ids = self
            .claim(
                due_soonest("staff_notifications"),
                now,
                now + CYCLE_LEASE_MS,
                limit,
            )
            .await?;
        let mut due = Vec::with_capacity(ids.len());
        for id in ids {
            let row = sqlx::query(
                "SELECT n.id, n.tenancy_id, t.name AS tenancy_name, n.client_id, c.first_name AS client_first, \
                   c.last_name AS client_last, s.first_name AS staff_first, s.email AS staff_email, n.attempts \
                 FROM staff_notifications n JOIN tenancies t ON t.id = n.tenancy_id \
                 JOIN users c ON c.id = n.client_id JOIN users s ON s.id = n.staff_id WHERE n.id = $1",
            )
            .bind(rows::text(&id, "id")?)
            .fetch_one(&self.pool)
            .await?;
            due.push(DueNotification {
                id: rows::id(&row, "id")?,
                tenancy_id: rows::id(&row, "tenancy_id")?,
                tenancy_name: rows::text(&row, "tenancy_name")?,
                client_id: rows::id(&row, "client_id")?,
                client_name: format!(
                    "{} {}",
                    rows::text(&row, "client_first")?,
                    rows::text(&row, "client_last")?
                ),
                staff_first_name: rows::text(&row, "staff_first")?,
                staff_email: rows::text(&row, "staff_email")?,
                attempts: rows::int(&row, "attempts")?,
            });
        }
        Ok(due)
    }

    /// Settles a notification: sent, or retried at `retry_at`, or (with `None`) failed for good
    /// and kept as a failed delivery.
    pub async fn settle_notification(
        &self,
        due: &DueNotification,
        error: Option<&str>,
        retry_at: Option<i64>,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE staff_notifications SET attempts = attempts + 1, lease_until = NULL, last_error = $2, \
             next_due_at = $3, sent_at = CASE WHEN $2 IS NULL THEN $4 ELSE sent_at END WHERE id = $1",
        )
        .bind(due.id.to_string())
        .bind(error.map(str::to_string))
        .bind(retry_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let attempt = NewAttempt {
            item_id: due.id,
            outcome: match (error, retry_at) {
                (None, _) => "sent",
                (Some(_), Some(_)) => "retry",
                (Some(_), None) => "failed",
            },
            request: None,
            http_status: None,
            code: None,
            message: error,
        };
        insert_attempts(&mut tx, FailureQueue::Emails, now, &[attempt]).await?;
        if error.is_none() || retry_at.is_none() {
            sqlx::query(
                "INSERT INTO email_deliveries (id, tenancy_id, client_id, kind, recipient, state, attempts, last_error, at, notification_id) \
                 VALUES ($1, $2, $3, 'client_accepted', $4, $5, $6, $7, $8, $9)",
            )
            .bind(Uuid::now_v7().to_string())
            .bind(due.tenancy_id.to_string())
            .bind(due.client_id.to_string())
            .bind(due.staff_email.clone())
            .bind(if error.is_none() { "sent" } else { "failed" })
            .bind(due.attempts + 1)
            .bind(error.map(str::to_string))
            .bind(now)
            .bind(due.id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
