//! Why a valid request was refused in the current state: the codes of 409 answers. Every
//! refusal names its code by this type, from the store up; programs read the spelling (`code`,
//! and the end of the problem's `type`), so each is spelled once, here.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConflictCode {
    /// An active client's e-mail is their sign-in; only the messenger changes it.
    ActiveClientEmail,
    /// The client's status changed while the request ran.
    ChangedMeanwhile,
    /// The change would leave a client with no active staff user.
    ClientNotCovered,
    /// The groups mix relationships of one contact group; an override is required.
    ConfidentialityOverrideRequired,
    DuplicateEmail,
    DuplicateMobile,
    DuplicateName,
    /// The Salesforce org is already linked.
    DuplicateOrg,
    /// The org's host is not on the allow-list.
    HostRefused,
    /// The client's status does not allow this transition.
    IllegalTransition,
    /// Only a failed or dismissed inbox item can be replayed or dismissed.
    InboxItemNotFailed,
    /// Salesforce secrets cannot be stored without an encryption key.
    NoEncryptionKey,
    OrgLinkCapped,
    OrgLinkPaused,
    /// The org link's authorisation was revoked; it must be reconnected.
    OrgLinkUnauthorized,
    /// The record is already linked to another client.
    RecordLinked,
    SalesforceRefused,
    /// The Salesforce user already acts as another staff user of the tenancy.
    SalesforceUserTaken,
    WritebackPending,
    /// The tenancy's group model has no groups of this kind.
    WrongGroupModel,
}

impl ConflictCode {
    /// Every code, each spelled once: a new code belongs here too.
    pub const ALL: [Self; 20] = [
        Self::ActiveClientEmail,
        Self::ChangedMeanwhile,
        Self::ClientNotCovered,
        Self::ConfidentialityOverrideRequired,
        Self::DuplicateEmail,
        Self::DuplicateMobile,
        Self::DuplicateName,
        Self::DuplicateOrg,
        Self::HostRefused,
        Self::IllegalTransition,
        Self::InboxItemNotFailed,
        Self::NoEncryptionKey,
        Self::OrgLinkCapped,
        Self::OrgLinkPaused,
        Self::OrgLinkUnauthorized,
        Self::RecordLinked,
        Self::SalesforceRefused,
        Self::SalesforceUserTaken,
        Self::WritebackPending,
        Self::WrongGroupModel,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ActiveClientEmail => "active-client-email",
            Self::ChangedMeanwhile => "changed-meanwhile",
            Self::ClientNotCovered => "client-not-covered",
            Self::ConfidentialityOverrideRequired => "confidentiality-override-required",
            Self::DuplicateEmail => "duplicate-email",
            Self::DuplicateMobile => "duplicate-mobile",
            Self::DuplicateName => "duplicate-name",
            Self::DuplicateOrg => "duplicate-org",
            Self::HostRefused => "host-refused",
            Self::IllegalTransition => "illegal-transition",
            Self::InboxItemNotFailed => "inbox-item-not-failed",
            Self::NoEncryptionKey => "no-encryption-key",
            Self::OrgLinkCapped => "org-link-capped",
            Self::OrgLinkPaused => "org-link-paused",
            Self::OrgLinkUnauthorized => "org-link-unauthorized",
            Self::RecordLinked => "record-linked",
            Self::SalesforceRefused => "salesforce-refused",
            Self::SalesforceUserTaken => "salesforce-user-taken",
            Self::WritebackPending => "writeback-pending",
            Self::WrongGroupModel => "wrong-group-model",
        }
    }
}

/// A valid request refused by a rule in the current state: the code programs read, the field
/// it concerns (if one) and the reason people read. The domain's rules decide and word these;
/// the layers above carry them unchanged to the 409 or the form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Refusal {
    pub code: ConflictCode,
    pub field: Option<String>,
    pub reason: String,
}

impl Refusal {
    pub fn new(code: ConflictCode, field: Option<&str>, reason: impl Into<String>) -> Self {
        Self {
            code,
            field: field.map(str::to_string),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConflictCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ConflictCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_spelling() {
        let spellings: std::collections::HashSet<_> = ConflictCode::ALL
            .into_iter()
            .map(ConflictCode::as_str)
            .collect();
        assert_eq!(spellings.len(), ConflictCode::ALL.len());
    }

    #[test]
    fn codes_serialize_as_their_spelling() {
        let json = serde_json::to_string(&ConflictCode::OrgLinkPaused).expect("serializes");
        assert_eq!(json, "\"org-link-paused\"");
    }
}
