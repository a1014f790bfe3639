//! The admin console's rules: who may sign in, how long a session lasts, and which org an
//! administrator signing in with Salesforce names.

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

/// The Salesforce org an administrator signs in with, named by its My Domain as they type it:
/// `acme`, `acme.my.salesforce.com`, a sandbox's `acme--uat.sandbox.my.salesforce.com`, or a
/// URL of one. Kept as the host (and port, where one is typed), lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceDomain(String);

/// The suffix a bare My Domain name is completed with.
const MY_DOMAIN: &str = ".my.salesforce.com";

/// Login hosts every org shares: they name no org.
const SHARED_LOGIN_HOSTS: [&str; 2] = ["login.salesforce.com", "test.salesforce.com"];

impl SalesforceDomain {
    /// The domain, or why the text names none.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let text = text.trim().to_ascii_lowercase();
        let text = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .unwrap_or(&text);
        let host = text
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default()
            .trim_end_matches('.');
        if host.is_empty() {
            return Err("Enter your org's My Domain, such as acme.my.salesforce.com.");
        }
        let plain = host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':');
        if !plain || host.len() > 253 || host.starts_with(['.', '-', ':']) {
            return Err(
                "A My Domain holds letters, digits, hyphens and dots only, such as acme.my.salesforce.com.",
            );
        }
        if SHARED_LOGIN_HOSTS.contains(&host) {
            return Err(
                "That login page is shared by every Salesforce org: enter your org's own My Domain, such as acme.my.salesforce.com.",
            );
        }
        let host = if host.contains(['.', ':']) {
            host.to_string()
        } else {
            format!("{host}{MY_DOMAIN}")
        };
        Ok(Self(host))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `url` (a link's login host or instance URL) is on this domain.
    pub fn names(&self, url: &str) -> bool {
        url::Url::parse(url).ok().is_some_and(|url| {
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            match url.port() {
                Some(port) => format!("{host}:{port}") == self.0,
                None => host == self.0,
            }
        })
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

    #[test]
    fn a_my_domain_is_read_however_it_is_typed() {
        for typed in [
            "acme",
            "Acme.my.salesforce.com",
            " https://acme.my.salesforce.com/lightning/page/home ",
            "acme.my.salesforce.com.",
        ] {
            let domain = SalesforceDomain::parse(typed).unwrap();
            assert_eq!(domain.as_str(), "acme.my.salesforce.com", "{typed}");
            assert!(domain.names("https://acme.my.salesforce.com"));
            assert!(!domain.names("https://acme2.my.salesforce.com"));
        }
        let sandbox = SalesforceDomain::parse("acme--uat.sandbox.my.salesforce.com").unwrap();
        assert!(sandbox.names("https://ACME--uat.sandbox.my.salesforce.com/"));
        let local = SalesforceDomain::parse("http://127.0.0.1:4040").unwrap();
        assert!(local.names("http://127.0.0.1:4040"));
        assert!(!local.names("http://127.0.0.1:4041"));
    }

    #[test]
    fn a_shared_login_page_or_junk_names_no_org() {
        assert!(SalesforceDomain::parse("login.salesforce.com").is_err());
        assert!(SalesforceDomain::parse("https://test.salesforce.com/").is_err());
        assert!(SalesforceDomain::parse("   ").is_err());
        assert!(SalesforceDomain::parse("acme corp").is_err());
        assert!(SalesforceDomain::parse("<script>").is_err());
    }
}
