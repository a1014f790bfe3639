//! Failures ops act on: the queues whose items can fail (status write-backs to Salesforce,
//! record changes from it, e-mails), which of their items a list shows, and why an item was
//! dismissed.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A queue of work whose failed items ops list, retry and dismiss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureQueue {
    /// Status write-backs to Salesforce records.
    Writebacks,
    /// Record changes received from Salesforce.
    Inbox,
    /// E-mails: invitations and staff notifications.
    Emails,
}

impl FailureQueue {
    pub const ALL: [Self; 3] = [Self::Writebacks, Self::Inbox, Self::Emails];

    /// As the API's paths and the console's tabs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Writebacks => "writebacks",
            Self::Inbox => "inbox",
            Self::Emails => "emails",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|q| q.as_str() == value)
    }

    /// The queue's name in the attempt history.
    pub fn attempt_queue(self) -> &'static str {
        match self {
            Self::Writebacks => "writeback",
            Self::Inbox => "inbox",
            Self::Emails => "email",
        }
    }

    /// What people call the queue.
    pub fn title(self) -> &'static str {
        match self {
            Self::Writebacks => "Write-backs",
            Self::Inbox => "Inbox items",
            Self::Emails => "E-mail deliveries",
        }
    }

    /// What people call one item, when it is not found.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Writebacks => "write-back",
            Self::Inbox => "inbox item",
            Self::Emails => "e-mail delivery",
        }
    }

    /// Whether its items belong to an org link (e-mails belong to none).
    pub fn has_links(self) -> bool {
        !matches!(self, Self::Emails)
    }
}

/// Which items of a queue a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureState {
    /// Failed for good and waiting to be tried again (the default).
    #[default]
    Open,
    /// Failed for good: retries are spent, or Salesforce refused it.
    Failed,
    /// Waiting for its next attempt.
    Waiting,
    /// Dismissed by ops, with their reason.
    Dismissed,
}

impl FailureState {
    pub const ALL: [Self; 4] = [Self::Open, Self::Failed, Self::Waiting, Self::Dismissed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Failed => "failed",
            Self::Waiting => "waiting",
            Self::Dismissed => "dismissed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// Longest reason for a dismissal.
pub const REASON_MAX: usize = 500;

/// Why ops dismissed an item: required, trimmed, at most `REASON_MAX` characters, no control
/// characters (the audit trail and the item keep it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DismissReason(String);

impl DismissReason {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let reason = raw.trim();
        if reason.is_empty() {
            return Err("say why the item is dismissed".into());
        }
        if reason.chars().count() > REASON_MAX {
            return Err(format!("must be at most {REASON_MAX} characters"));
        }
        if reason.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(reason.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Longest error code a filter names.
pub const CODE_MAX: usize = 100;

/// An error code to filter on, e.g. `ENTITY_IS_DELETED`: letters, digits and `_ . : -`.
pub fn parse_code(raw: &str) -> Result<String, String> {
    let code = raw.trim();
    if code.is_empty() || code.chars().count() > CODE_MAX {
        return Err(format!("must be 1 to {CODE_MAX} characters"));
    }
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | ' '))
    {
        return Err("must be an error code such as ENTITY_IS_DELETED".into());
    }
    Ok(code.to_string())
}

/// The most minutes an age filter takes (a year).
pub const AGE_MAX_MINUTES: i64 = 525_600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dismissal_needs_a_reason_a_person_wrote() {
        assert!(DismissReason::parse("   ").is_err());
        assert!(DismissReason::parse("bad\u{7}").is_err());
        assert!(DismissReason::parse(&"x".repeat(REASON_MAX + 1)).is_err());
        assert_eq!(
            DismissReason::parse("  record deleted in Salesforce ").map(|r| r.as_str().to_string()),
            Ok("record deleted in Salesforce".to_string())
        );
    }

    #[test]
    fn queues_and_states_read_back_from_their_spelling() {
        for queue in FailureQueue::ALL {
            assert_eq!(FailureQueue::parse(queue.as_str()), Some(queue));
        }
        for state in FailureState::ALL {
            assert_eq!(FailureState::parse(state.as_str()), Some(state));
        }
        assert!(parse_code("ENTITY_IS_DELETED").is_ok());
        assert!(parse_code("x'; DROP").is_err());
    }
}
