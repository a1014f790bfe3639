//! API tokens' lifetimes: a token lives for the number of days its creator chose, or the
//! installation's default, or without end when asked for explicitly.

use time::Duration;

/// The longest lifetime a token may be given: ten years.
pub const MAX_EXPIRY_DAYS: u32 = 3650;

/// The lifetime a token is asked for: `asked` is `None` when the request says nothing (the
/// default applies), `Some(None)` for a token that never expires, `Some(Some(days))` for one
/// that expires after that many days.
pub fn lifetime(
    asked: Option<Option<u32>>,
    default: Option<Duration>,
) -> Result<Option<Duration>, String> {
    match asked {
        None => Ok(default),
        Some(None) => Ok(None),
        Some(Some(days)) if (1..=MAX_EXPIRY_DAYS).contains(&days) => {
            Ok(Some(Duration::days(i64::from(days))))
        }
        Some(Some(_)) => Err(format!("must be between 1 and {MAX_EXPIRY_DAYS} days")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_takes_the_default_and_null_never_expires() {
        let ninety = Some(Duration::days(90));
        assert_eq!(lifetime(None, ninety), Ok(ninety));
        assert_eq!(lifetime(None, None), Ok(None));
        assert_eq!(lifetime(Some(None), ninety), Ok(None));
    }

    #[test]
    fn days_asked_for_are_bounded() {
        assert_eq!(lifetime(Some(Some(1)), None), Ok(Some(Duration::days(1))));
        assert!(lifetime(Some(Some(0)), None).is_err());
        assert!(lifetime(Some(Some(MAX_EXPIRY_DAYS + 1)), None).is_err());
        assert_eq!(
            lifetime(Some(Some(MAX_EXPIRY_DAYS)), None),
            Ok(Some(Duration::days(3650)))
        );
    }
}
