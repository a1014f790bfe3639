//! The link-notice worker: e-mails the system administrators of the tenancies an org link
//! serves that Salesforce no longer accepts it, with the link's console page, retrying as the
//! invitation e-mails do while the mail server is down.

use crate::clock::to_millis;
use crate::config::InvitationConfig;
use crate::mail::Mailer;
use crate::mail::templates::{LinkUnauthorized, link_unauthorized};
use crate::store::{self, Store};

/// One pass: every notice due now. Returns how many were due.
pub async fn pass(
    store: &Store,
    mailer: &dyn Mailer,
    config: &InvitationConfig,
    base_url: &str,
) -> Result<usize, store::Error> {
    let now = to_millis(store.clock().now());
    let mut due_count = 0;
    loop {
        let due = store
            .claim_due_link_notices(now, config.batch_size.max(1))
            .await?;
        if due.is_empty() {
            return Ok(due_count);
        }
        due_count += due.len();
        for note in due {
            let url = format!(
                "{}/console/org-links/{}",
                base_url.trim_end_matches('/'),
                note.org_link_id
            );
            let email = link_unauthorized(&LinkUnauthorized {
                first_name: &note.staff_first_name,
                email: &note.staff_email,
                link_name: &note.link_name,
                tenancy_name: &note.tenancy_name,
                reason: &note.reason,
                url: &url,
            });
            let (error, retry_at) = match mailer.send(&email).await {
                Ok(()) => (None, None),
                Err(error) => {
                    let policy = config.retry();
                    let give_up = error.is_permanent() || policy.gives_up_after(note.attempts + 1);
                    tracing::warn!(notice = %note.id, give_up, "link notice not delivered");
                    let retry_at = (!give_up).then(|| now + policy.delay_ms(note.attempts));
                    (Some(error.to_string()), retry_at)
                }
            };
            store
                .settle_link_notice(note.id, error.as_deref(), retry_at)
                .await?;
        }
    }
}
