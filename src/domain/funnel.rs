//! The invitation funnel of a tenancy over a period: how many clients moved into each status,
//! how many of those first invited in the period accepted and how fast, and how the e-mails
//! fared, with bounce-like failures counted by the recipient's domain. Pure: the store reads
//! the facts, this module counts them.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use time::{Date, Duration, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldError;
use super::client_status::ClientStatus;

/// The period a report covers when none is asked for: the last 30 days, today included.
pub const DEFAULT_DAYS: i64 = 30;

/// Whole UTC days, `from` to `to` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    pub to: Date,
}

impl Period {
    /// The period asked for (`YYYY-MM-DD` days, each optional), or every field's reason. A
    /// missing `to` is `today`; a missing `from` is 30 days before `to`. A `from` after `to` is
    /// a period of no day, which counts nothing (as a filter of the audit trail would).
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        today: Date,
    ) -> Result<Self, Vec<FieldError>> {
        let day = |field: &str, raw: Option<&str>| -> Result<Option<Date>, FieldError> {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            raw.filter(|r| !r.trim().is_empty())
                .map(|r| Date::parse(r.trim(), format))
                .transpose()
                .map_err(|_| FieldError::new(field, "must be a day in the form YYYY-MM-DD"))
        };
        let (from, to) = match (day("from", from), day("to", to)) {
            (Ok(from), Ok(to)) => (from, to),
            (from, to) => return Err([from.err(), to.err()].into_iter().flatten().collect()),
        };
        let to = to.unwrap_or(today);
        let from = from.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
        Ok(Self { from, to })
    }

    /// The first instant of the period.
    pub fn start(&self) -> OffsetDateTime {
        self.from.midnight().assume_utc()
    }

    /// The first instant after the period.
    pub fn end(&self) -> OffsetDateTime {
        (self.to + Duration::days(1)).midnight().assume_utc()
    }

    fn holds(&self, at: OffsetDateTime) -> bool {
        self.start() <= at && at < self.end()
    }
}

/// A client's move from one status to another, as their history records it.
#[derive(Debug, Clone)]
pub struct StatusMove {
    pub client: Uuid,
    pub to: ClientStatus,
    pub at: OffsetDateTime,
}

/// An e-mail delivery's outcome.
#[derive(Debug, Clone)]
pub struct DeliveryFact {
    pub recipient: String,
    pub sent: bool,
    pub last_error: Option<String>,
    pub at: OffsetDateTime,
}

/// How many clients moved into each status during the period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusCounts {
    pub drafts: u64,
    pub invited: u64,
    pub accepted: u64,
    pub declined: u64,
    pub revoked: u64,
    pub expired: u64,
}

/// How the period's e-mails fared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct EmailCounts {
    pub sent: u64,
    /// Invitation e-mails whose last try failed and which wait for a retry now.
    pub deferred: u64,
    /// Deliveries that failed after their last retry.
    pub failed: u64,
}

/// Failures that look like bounces (the mail server refused the recipient for good) for one
/// recipient domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DomainFailures {
    pub domain: String,
    pub failures: u64,
}

/// A tenancy's invitation funnel over a period.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Funnel {
    /// The first day of the period (UTC), `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub from: String,
    /// The last day of the period (UTC), included.
    #[schema(format = Date)]
    pub to: String,
    pub statuses: StatusCounts,
    /// Clients first invited in the period.
    pub first_invited: u64,
    /// Of those, the ones who have accepted since.
    pub accepted_of_first_invited: u64,
    /// `accepted_of_first_invited / first_invited`, 0 to 1; absent when nobody was invited.
    pub acceptance_rate: Option<f64>,
    /// The median time, in seconds, from a client's first invitation to their acceptance, for
    /// clients who accepted in the period; absent when nobody did.
    pub median_seconds_to_accept: Option<i64>,
    pub emails: EmailCounts,
    /// Bounce-like failures by recipient domain, most first.
    pub bounce_like_failures: Vec<DomainFailures>,
}

impl Funnel {
    /// The numbers as `(metric, value)` rows, in the order a report reads them: the CSV file's
    /// rows and the console's table.
    pub fn rows(&self) -> Vec<(String, String)> {
        let s = &self.statuses;
        let mut rows: Vec<(String, String)> = [
            ("from", self.from.clone()),
            ("to", self.to.clone()),
            ("drafts", s.drafts.to_string()),
            ("invited", s.invited.to_string()),
            ("accepted", s.accepted.to_string()),
            ("declined", s.declined.to_string()),
            ("revoked", s.revoked.to_string()),
            ("expired", s.expired.to_string()),
            ("first_invited", self.first_invited.to_string()),
            (
                "accepted_of_first_invited",
                self.accepted_of_first_invited.to_string(),
            ),
            (
                "acceptance_rate",
                self.acceptance_rate
                    .map(|r| format!("{r:.3}"))
                    .unwrap_or_default(),
            ),
            (
                "median_seconds_to_accept",
                self.median_seconds_to_accept
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            ),
            ("emails_sent", self.emails.sent.to_string()),
            ("emails_deferred", self.emails.deferred.to_string()),
            ("emails_failed", self.emails.failed.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        rows.extend(self.bounce_like_failures.iter().map(|d| {
            (
                format!("bounce_like_failures:{}", d.domain),
                d.failures.to_string(),
            )
        }));
        rows
    }
}

/// Counts the funnel of `period` from the tenancy's status moves (all of them: a client first
/// invited before the period is not first invited in it), its deliveries in the period and
/// the invitation e-mails waiting for a retry now.
pub fn count(
    period: Period,
    moves: &[StatusMove],
    deliveries: &[DeliveryFact],
    deferred: u64,
) -> Funnel {
    let mut statuses = StatusCounts::default();
    let mut first_invited: HashMap<Uuid, OffsetDateTime> = HashMap::new();
    let mut accepted: HashMap<Uuid, OffsetDateTime> = HashMap::new();
    for m in moves {
        if m.to == ClientStatus::Invited {
            let first = first_invited.entry(m.client).or_insert(m.at);
            *first = (*first).min(m.at);
        }
        if m.to == ClientStatus::Active {
            let at = accepted.entry(m.client).or_insert(m.at);
            *at = (*at).min(m.at);
        }
        if !period.holds(m.at) {
            continue;
        }
        match m.to {
            ClientStatus::Draft => statuses.drafts += 1,
            ClientStatus::Invited => statuses.invited += 1,
            ClientStatus::Active => statuses.accepted += 1,
            ClientStatus::Declined => statuses.declined += 1,
            ClientStatus::Revoked => statuses.revoked += 1,
            ClientStatus::Expired => statuses.expired += 1,
        }
    }
    let cohort: Vec<Uuid> = first_invited
        .iter()
        .filter(|(_, at)| period.holds(**at))
        .map(|(client, _)| *client)
        .collect();
    let accepted_of_cohort = cohort.iter().filter(|c| accepted.contains_key(c)).count() as u64;
    let mut waits: Vec<i64> = accepted
        .iter()
        .filter(|(_, at)| period.holds(**at))
        .filter_map(|(client, at)| {
            first_invited
                .get(client)
                .map(|invited| (*at - *invited).whole_seconds())
        })
        .collect();
    waits.sort_unstable();
    let mut emails = EmailCounts {
        deferred,
        ..EmailCounts::default()
    };
    let mut bounces: BTreeMap<String, u64> = BTreeMap::new();
    for d in deliveries.iter().filter(|d| period.holds(d.at)) {
        if d.sent {
            emails.sent += 1;
            continue;
        }
        emails.failed += 1;
        if d.last_error.as_deref().is_some_and(bounce_like) {
            *bounces.entry(domain_of(&d.recipient)).or_default() += 1;
        }
    }
    let mut bounce_like_failures: Vec<DomainFailures> = bounces
        .into_iter()
        .map(|(domain, failures)| DomainFailures { domain, failures })
        .collect();
    bounce_like_failures.sort_by(|a, b| b.failures.cmp(&a.failures).then(a.domain.cmp(&b.domain)));
    let first = cohort.len() as u64;
    Funnel {
        from: period.from.to_string(),
        to: period.to.to_string(),
        statuses,
        first_invited: first,
        accepted_of_first_invited: accepted_of_cohort,
        acceptance_rate: (first > 0).then(|| accepted_of_cohort as f64 / first as f64),
        median_seconds_to_accept: median(&waits),
        emails,
        bounce_like_failures,
    }
}

/// The middle of sorted values (the lower of the two middles for an even count).
fn median(sorted: &[i64]) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    Some(sorted[(sorted.len() - 1) / 2])
}

/// Whether a delivery's error reads as the recipient refused for good: an SMTP permanent
/// failure (a `5xx` reply or a `5.x.x` enhanced status), not a server that could not be
/// reached or a temporary `4xx`.
pub fn bounce_like(error: &str) -> bool {
    error
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .any(|word| {
            let bytes = word.as_bytes();
            let reply = bytes.len() == 3 && bytes[0] == b'5' && word.parse::<u16>().is_ok();
            let enhanced = word.starts_with("5.") && word.split('.').count() == 3;
            reply || enhanced
        })
}

/// The domain of an address, lower case; the whole text when it has no `@`.
fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map_or(address, |(_, domain)| domain)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn period() -> Period {
        Period {
            from: date!(2026 - 11 - 01),
            to: date!(2026 - 11 - 30),
        }
    }

    fn moved(client: u128, to: ClientStatus, at: OffsetDateTime) -> StatusMove {
        StatusMove {
            client: Uuid::from_u128(client),
            to,
            at,
        }
    }

    #[test]
    fn a_period_is_read_from_days_and_refused_with_its_field() {
        let today = date!(2026 - 12 - 06);
        let default = Period::parse(None, None, today).unwrap();
        assert_eq!((default.from, default.to), (date!(2026 - 11 - 07), today));
        let asked = Period::parse(Some("2026-11-01"), Some("2026-11-30"), today).unwrap();
        assert_eq!(asked, period());
        assert_eq!(asked.end(), datetime!(2026-12-01 0:00 UTC));
        let bad = Period::parse(Some("1 Nov"), Some("2026-13-01"), today).unwrap_err();
        let fields: Vec<_> = bad.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["from", "to"]);
        // Backwards, a period holds no day and counts nothing.
        let backwards = Period::parse(Some("2026-12-01"), Some("2026-11-01"), today).unwrap();
        let moved = [moved(
            1,
            ClientStatus::Draft,
            datetime!(2026-11-15 9:00 UTC),
        )];
        assert_eq!(count(backwards, &moved, &[], 0).statuses.drafts, 0);
        let long = Period::parse(Some("2000-01-01"), None, today).unwrap();
        assert_eq!(count(long, &moved, &[], 0).statuses.drafts, 1);
    }

    #[test]
    fn the_funnel_counts_moves_in_the_period_and_the_first_invited_cohort() {
        let moves = [
            // Invited before the period, accepted in it: counted as accepted, not in the cohort.
            moved(1, ClientStatus::Invited, datetime!(2026-10-30 9:00 UTC)),
            moved(1, ClientStatus::Active, datetime!(2026-11-02 9:00 UTC)),
            // First invited in the period, accepted a day later.
            moved(2, ClientStatus::Draft, datetime!(2026-11-03 9:00 UTC)),
            moved(2, ClientStatus::Invited, datetime!(2026-11-04 9:00 UTC)),
            moved(2, ClientStatus::Active, datetime!(2026-11-05 9:00 UTC)),
            // First invited in the period, declined.
            moved(3, ClientStatus::Invited, datetime!(2026-11-10 9:00 UTC)),
            moved(3, ClientStatus::Declined, datetime!(2026-11-11 9:00 UTC)),
            // First invited in the period, accepted after it.
            moved(4, ClientStatus::Invited, datetime!(2026-11-29 9:00 UTC)),
            moved(4, ClientStatus::Active, datetime!(2026-12-02 9:00 UTC)),
        ];
        let funnel = count(period(), &moves, &[], 2);
        assert_eq!(
            funnel.statuses,
            StatusCounts {
                drafts: 1,
                invited: 3,
                accepted: 2,
                declined: 1,
                revoked: 0,
                expired: 0,
            }
        );
        assert_eq!(
            (funnel.first_invited, funnel.accepted_of_first_invited),
            (3, 2)
        );
        assert!((funnel.acceptance_rate.unwrap() - 2.0 / 3.0).abs() < 1e-9);
        // Accepted in the period: client 1 after 3 days, client 2 after 1 day.
        assert_eq!(funnel.median_seconds_to_accept, Some(86_400));
        assert_eq!(funnel.emails.deferred, 2);
    }

    #[test]
    fn e_mails_are_counted_and_bounce_like_failures_grouped_by_domain() {
        let at = datetime!(2026-11-15 12:00 UTC);
        let fact = |to: &str, sent: bool, error: Option<&str>| DeliveryFact {
            recipient: to.into(),
            sent,
            last_error: error.map(String::from),
            at,
        };
        let deliveries = [
            fact("a@firm.example", true, None),
            fact("b@Gone.example", false, Some("550 5.1.1 user unknown")),
            fact("c@gone.example", false, Some("permanent: 5.7.1 refused")),
            fact("d@busy.example", false, Some("451 4.3.0 try again later")),
            fact("e@other.example", false, Some("connection refused")),
            fact("f@late.example", false, Some("554 rejected")),
        ];
        let funnel = count(period(), &[], &deliveries, 0);
        assert_eq!((funnel.emails.sent, funnel.emails.failed), (1, 5));
        let by_domain: Vec<_> = funnel
            .bounce_like_failures
            .iter()
            .map(|d| (d.domain.as_str(), d.failures))
            .collect();
        assert_eq!(by_domain, [("gone.example", 2), ("late.example", 1)]);
        assert!(funnel.acceptance_rate.is_none() && funnel.median_seconds_to_accept.is_none());
    }
}
