//! A client's invitation status and the moves between them.
//!
//! Transitions are methods that return the next status or the reason the move is refused, so
//! no caller can write an illegal status.

use serde::{Deserialize, Serialize};

use super::conflict::{ConflictCode, Refusal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientStatus {
    /// Pending (Draft): created without an invitation.
    Draft,
    /// Pending (Invited): an invitation cycle is running.
    Invited,
    /// Pending (Expired): the cycle ran 30 days without an answer.
    Expired,
    /// The client accepted.
    Active,
    /// The client declined.
    Declined,
    /// An administrator revoked the invitation.
    Revoked,
}

/// Why a status move is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a client whose status is {from}")]
pub struct IllegalTransition {
    pub from: ClientStatus,
    pub action: &'static str,
}

impl From<IllegalTransition> for Refusal {
    fn from(illegal: IllegalTransition) -> Self {
        Self::new(
            ConflictCode::IllegalTransition,
            Some("status"),
            illegal.to_string(),
        )
    }
}

/// A move of the state machine, e.g. `ClientStatus::send`.
pub type Transition = fn(ClientStatus) -> Result<ClientStatus, IllegalTransition>;

impl ClientStatus {
    pub const ALL: [ClientStatus; 6] = [
        Self::Draft,
        Self::Invited,
        Self::Expired,
        Self::Active,
        Self::Declined,
        Self::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Invited => "invited",
            Self::Expired => "expired",
            Self::Active => "active",
            Self::Declined => "declined",
            Self::Revoked => "revoked",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The label staff see in Salesforce and the admin console.
    pub fn label(self) -> &'static str {
        match self {
            Self::Draft => "Pending (Draft)",
            Self::Invited => "Pending (Invited)",
            Self::Expired => "Pending (Expired)",
            Self::Active => "Active",
            Self::Declined => "Declined",
            Self::Revoked => "Revoked",
        }
    }

    fn refuse(self, action: &'static str) -> IllegalTransition {
        IllegalTransition { from: self, action }
    }

    /// Sending a draft starts its first invitation cycle.
    pub fn send(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Draft => Ok(Self::Invited),
            other => Err(other.refuse("send the invitation of")),
        }
    }

    /// An administrator's resend starts a new cycle. A draft is sent, not resent; an active
    /// client has nothing to accept.
    pub fn resend(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Invited | Self::Expired | Self::Declined | Self::Revoked => Ok(Self::Invited),
            other => Err(other.refuse("resend the invitation of")),
        }
    }

    /// The cycle ran its 30 days without an answer.
    pub fn expire(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Invited => Ok(Self::Expired),
            other => Err(other.refuse("expire the invitation of")),
        }
    }

    pub fn accept(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Invited => Ok(Self::Active),
            other => Err(other.refuse("accept the invitation of")),
        }
    }

    pub fn decline(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Invited => Ok(Self::Declined),
            other => Err(other.refuse("decline the invitation of")),
        }
    }

    /// An administrator withdraws a pending invitation (or a draft before it is sent).
    pub fn revoke(self) -> Result<Self, IllegalTransition> {
        match self {
            Self::Draft | Self::Invited | Self::Expired => Ok(Self::Revoked),
            other => Err(other.refuse("revoke the invitation of")),
        }
    }

    /// An active client's e-mail is their sign-in: only the messenger changes it, so a change
    /// made here is refused.
    pub fn check_email_change(self) -> Result<(), Refusal> {
        if self == Self::Active {
            return Err(Refusal::new(
                ConflictCode::ActiveClientEmail,
                Some("email"),
                "an active client's e-mail is their sign-in; they change it in the messenger",
            ));
        }
        Ok(())
    }

    /// Clients in these statuses must stay covered by a group or team with active staff;
    /// a declined or revoked client has no one to talk to and needs no cover.
    pub fn needs_coverage(self) -> bool {
        !matches!(self, Self::Declined | Self::Revoked)
    }
}

impl std::fmt::Display for ClientStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ClientStatus::*;
    use super::*;

    #[test]
    fn draft_becomes_invited_when_sent_and_only_a_draft_can_be_sent() {
        assert_eq!(Draft.send(), Ok(Invited));
        for from in [Invited, Expired, Active, Declined, Revoked] {
            assert!(from.send().is_err(), "{from} was sent");
        }
    }

    #[test]
    fn invited_client_accepts_to_become_active() {
        assert_eq!(Invited.accept(), Ok(Active));
    }

    #[test]
    fn accept_after_decline_is_refused() {
        let err = Declined.accept().unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot accept the invitation of a client whose status is declined"
        );
    }

    #[test]
    fn only_an_invited_client_can_accept_decline_or_expire() {
        for from in [Draft, Expired, Active, Declined, Revoked] {
            assert!(from.accept().is_err());
            assert!(from.decline().is_err());
            assert!(from.expire().is_err());
        }
        assert_eq!(Invited.decline(), Ok(Declined));
        assert_eq!(Invited.expire(), Ok(Expired));
    }

    #[test]
    fn resend_of_an_active_client_or_a_draft_is_refused() {
        assert!(Active.resend().is_err());
        assert!(Draft.resend().is_err());
        for from in [Invited, Expired, Declined, Revoked] {
            assert_eq!(from.resend(), Ok(Invited));
        }
    }

    #[test]
    fn revoke_of_a_revoked_active_or_declined_client_is_refused() {
        for from in [Revoked, Active, Declined] {
            assert!(from.revoke().is_err());
        }
        for from in [Draft, Invited, Expired] {
            assert_eq!(from.revoke(), Ok(Revoked));
        }
    }

    #[test]
    fn an_illegal_move_is_refused_on_the_status_field() {
        let refusal = Refusal::from(Active.revoke().unwrap_err());
        assert_eq!(refusal.code, ConflictCode::IllegalTransition);
        assert_eq!(refusal.field.as_deref(), Some("status"));
        assert_eq!(
            refusal.reason,
            "cannot revoke the invitation of a client whose status is active"
        );
    }

    #[test]
    fn only_an_active_clients_email_is_kept_from_change() {
        let refused = Active.check_email_change().unwrap_err();
        assert_eq!(refused.code, ConflictCode::ActiveClientEmail);
        for status in [Draft, Invited, Expired, Declined, Revoked] {
            assert_eq!(status.check_email_change(), Ok(()));
        }
    }

    #[test]
    fn status_names_round_trip() {
        for status in ClientStatus::ALL {
            assert_eq!(ClientStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ClientStatus::parse("pending"), None);
    }
}
