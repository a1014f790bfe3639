//! The invitation schedule: an activation link valid 48 hours, a new e-mail every 24 hours for
//! 30 days from the cycle's first e-mail, then Pending (Expired). All three durations come from
//! configuration.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// How long a link works after its e-mail (48 hours).
    pub link_valid_hours: i64,
    /// Time between e-mails of a cycle (24 hours).
    pub resend_interval_hours: i64,
    /// How long a cycle lasts from its first e-mail (30 days).
    pub cycle_days: i64,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            link_valid_hours: 48,
            resend_interval_hours: 24,
            cycle_days: 30,
        }
    }
}

/// Why a link no longer opens the invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeadLink {
    /// 48 hours passed, or the cycle ended without an answer.
    Expired,
    /// An administrator's resend replaced it with a new cycle.
    Replaced,
    /// An administrator revoked the invitation.
    Revoked,
    /// The invitation was accepted or declined.
    Used,
    /// Its e-mail could not be delivered, so it never reached anyone.
    Undelivered,
}

impl DeadLink {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Replaced => "replaced",
            Self::Revoked => "revoked",
            Self::Used => "used",
            Self::Undelivered => "undelivered",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Expired,
            Self::Replaced,
            Self::Revoked,
            Self::Used,
            Self::Undelivered,
        ]
        .into_iter()
        .find(|d| d.as_str() == value)
    }
}

impl Schedule {
    pub fn validate(&self) -> Result<(), String> {
        if self.link_valid_hours < 1 || self.resend_interval_hours < 1 || self.cycle_days < 1 {
            return Err("every duration must be at least 1".into());
        }
        if self.resend_interval_hours > self.cycle_days * 24 {
            return Err("the resend interval must fit in the cycle".into());
        }
        Ok(())
    }

    /// When a cycle whose first e-mail goes at `started` ends.
    pub fn cycle_end(&self, started: OffsetDateTime) -> OffsetDateTime {
        started + Duration::days(self.cycle_days)
    }

    /// A link works until 48 hours after its e-mail, or until its cycle ends, whichever is first.
    pub fn link_expiry(&self, sent: OffsetDateTime, cycle_end: OffsetDateTime) -> OffsetDateTime {
        (sent + Duration::hours(self.link_valid_hours)).min(cycle_end)
    }

    /// When the worker next looks at a cycle after an e-mail at `sent`: the next e-mail, or,
    /// past the last one, the cycle's end (when the invitation expires).
    pub fn next_due(&self, sent: OffsetDateTime, cycle_end: OffsetDateTime) -> OffsetDateTime {
        (sent + Duration::hours(self.resend_interval_hours)).min(cycle_end)
    }

    /// Whether the cycle is over at `now`.
    pub fn has_ended(&self, cycle_end: OffsetDateTime, now: OffsetDateTime) -> bool {
        now >= cycle_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const START: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

    #[test]
    fn a_cycle_sends_an_email_a_day_for_thirty_days_then_expires() {
        let schedule = Schedule::default();
        let end = schedule.cycle_end(START);
        let mut sent = vec![START];
        let mut due = schedule.next_due(START, end);
        while !schedule.has_ended(end, due) {
            sent.push(due);
            due = schedule.next_due(due, end);
        }
        assert_eq!(sent.len(), 30);
        assert_eq!(*sent.last().unwrap(), START + Duration::days(29));
        assert_eq!(
            due,
            START + Duration::days(30),
            "expires at the end of day 30"
        );
    }

    #[test]
    fn a_link_is_valid_48_hours_or_until_the_cycle_ends() {
        let schedule = Schedule::default();
        let end = schedule.cycle_end(START);
        assert_eq!(
            schedule.link_expiry(START, end),
            START + Duration::hours(48)
        );
        let last = START + Duration::days(29);
        assert_eq!(
            schedule.link_expiry(last, end),
            end,
            "the last link dies with the cycle"
        );
    }

    #[test]
    fn durations_must_be_positive_and_fit() {
        assert!(Schedule::default().validate().is_ok());
        assert!(
            Schedule {
                cycle_days: 0,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Schedule {
                resend_interval_hours: 24 * 31,
                ..Default::default()
            }
            .validate()
            .is_err()
        );
    }
}
