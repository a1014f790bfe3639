//! What a tenancy's invitation funnel is counted from (`domain::funnel`): its clients' status
//! moves, its e-mail deliveries in a period, and the invitation e-mails waiting for a retry.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Result, Store, rows};
use crate::clock::to_millis;
use crate::domain::client_status::ClientStatus;
use crate::domain::funnel::{DeliveryFact, StatusMove};

/// The statuses the funnel counts moves into.
const COUNTED: &str = "('draft', 'invited', 'active', 'declined', 'revoked', 'expired')";

impl Store {
    /// Every move of the tenancy's clients into a counted status before `until` (earlier
    /// moves too: whether a client was first invited in a period depends on them).
    pub async fn status_moves(
        &self,
        tenancy: Uuid,
        until: OffsetDateTime,
    ) -> Result<Vec<StatusMove>> {
        let sql = format!(
            "SELECT client_id, to_status, at FROM client_events \
             WHERE tenancy_id = $1 AND at < $2 AND to_status IN {COUNTED}"
        );
        sqlx::query(&sql)
            .bind(tenancy.to_string())
            .bind(to_millis(until))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(StatusMove {
                    client: rows::id(row, "client_id")?,
                    to: rows::parsed(row, "to_status", ClientStatus::parse)?,
                    at: rows::time(row, "at")?,
                })
            })
            .collect()
    }

    /// The tenancy's e-mail deliveries from `from` until `until`.
    pub async fn delivery_facts(
        &self,
        tenancy: Uuid,
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<DeliveryFact>> {
        sqlx::query(
            "SELECT recipient, state, last_error, at FROM email_deliveries \
             WHERE tenancy_id = $1 AND at >= $2 AND at < $3",
        )
        .bind(tenancy.to_string())
        .bind(to_millis(from))
        .bind(to_millis(until))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(DeliveryFact {
                recipient: rows::text(row, "recipient")?,
                sent: rows::text(row, "state")? == "sent",
                last_error: rows::opt_text(row, "last_error")?,
                at: rows::time(row, "at")?,
            })
        })
        .collect()
    }

    /// The tenancy's running invitation cycles whose last e-mail failed and waits for a retry.
    pub async fn deferred_invitation_emails(&self, tenancy: Uuid) -> Result<u64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM invitation_cycles \
             WHERE tenancy_id = $1 AND failed_attempts > 0 AND next_due_at IS NOT NULL AND ended_at IS NULL",
        )
        .bind(tenancy.to_string())
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(rows::int(&row, "n")?).unwrap_or(0))
    }
}
