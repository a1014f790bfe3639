//! Time comes from a clock the caller owns, so tests can move it (a test may live through
//! 31 days in a second).

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }

    pub fn set(&self, to: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }
}

/// A clock that starts at a chosen instant and runs at real speed from there: the test-double
/// clock of a whole process (`test_clock_start`), so a test can kill the process and start it
/// again later in simulated time, past the leases the dead one held.
#[derive(Debug, Clone, Copy)]
pub struct StartedClock {
    start: OffsetDateTime,
    began: std::time::Instant,
}

impl StartedClock {
    pub fn starting_at(start: OffsetDateTime) -> Self {
        Self {
            start,
            began: std::time::Instant::now(),
        }
    }
}

impl Clock for StartedClock {
    fn now(&self) -> OffsetDateTime {
        self.start + self.began.elapsed()
    }
}

impl ManualClock {
    /// Seconds since the Unix epoch, for comparing with JWT claims.
    pub fn now_unix(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Milliseconds since the Unix epoch: how every time is stored, identically on both backends.
pub fn to_millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = time::macros::datetime!(2026-01-01 00:00 UTC);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::days(31));
        assert_eq!(clock.now(), time::macros::datetime!(2026-02-01 00:00 UTC));
    }

    #[test]
    fn a_started_clock_runs_on_from_its_start() {
        let start = time::macros::datetime!(2026-01-01 00:00 UTC);
        let clock = StartedClock::starting_at(start);
        let (first, second) = (clock.now(), clock.now());
        assert!(first >= start && first < start + Duration::minutes(1));
        assert!(second >= first);
    }

    #[test]
    fn millis_round_trip() {
        let at = time::macros::datetime!(2026-11-24 10:20:30.123 UTC);
        assert_eq!(from_millis(to_millis(at)), at);
    }
}
