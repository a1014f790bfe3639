//! The admin console's rules: who may sign in, and how long a session lasts.

use time::{Duration, OffsetDateTime};

use super::user::StaffRole;

/// Staff who may sign in to the console: system and users administrators. Each page then
/// checks the role as the API does, so a users administrator sees what the API shows them.
pub fn may_sign_in(role: StaffRole) -> bool {
    role.administers_users()
}

/// How long a console session lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    /// Without a request for this long, the session ends.
    pub idle: Duration,
    /// This long after sign-in the session ends, however busy.
    pub absolute: Duration,
}

impl SessionTimes {
    /// When a session opened at `opened` and last used at `used` ends: an idle time after its
    /// last use, and never later than the absolute time after it opened.
    pub fn ends_at(&self, opened: OffsetDateTime, used: OffsetDateTime) -> OffsetDateTime {
        (used + self.idle).min(opened + self.absolute)
    }

    /// Whether that session still runs at `now`.
    pub fn live(&self, opened: OffsetDateTime, used: OffsetDateTime, now: OffsetDateTime) -> bool {
        now < self.ends_at(opened, used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const TIMES: SessionTimes = SessionTimes {
        idle: Duration::minutes(30),
        absolute: Duration::hours(12),
    };

    #[test]
    fn a_session_ends_after_its_idle_time_without_a_request() {
        let opened = datetime!(2026-03-02 09:00 UTC);
        let used = opened + Duration::minutes(10);
        assert!(TIMES.live(opened, used, used + Duration::minutes(29)));
        assert!(!TIMES.live(opened, used, used + Duration::minutes(30)));
    }

    #[test]
    fn a_busy_session_still_ends_at_its_absolute_time() {
        let opened = datetime!(2026-03-02 09:00 UTC);
        let used = opened + Duration::hours(11) + Duration::minutes(50);
        assert_eq!(TIMES.ends_at(opened, used), opened + Duration::hours(12));
        assert!(!TIMES.live(opened, used, opened + Duration::hours(12)));
    }

    #[test]
    fn only_administrators_may_sign_in() {
        assert!(may_sign_in(StaffRole::SystemAdministrator));
        assert!(may_sign_in(StaffRole::UsersAdministrator));
        assert!(!may_sign_in(StaffRole::Staff));
    }
}
