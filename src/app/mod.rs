//! The application's services: each opens the transaction, decides who may do what before
//! anything is written, applies the `domain`'s rules and calls the store's functions, which
//! only run SQL. `http` and `jobs` call these; `crm` and `mail` are adapters they use.

pub mod audit;
pub mod clients;
pub mod console;
pub mod funnel;
pub mod groups;
pub mod intake;
pub mod invite_context;
pub mod invites;
pub mod mapping;
pub mod memberships;
pub mod ops;
pub mod org_links;
pub mod records;
pub mod salesforce;
pub mod staff;
pub mod team_accounts;
pub mod tokens;

use crate::domain::FieldError;
use crate::store;

/// What a service can refuse or fail with. The HTTP layer maps each to one status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input does not parse, or names something it may not: every field's reason.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The caller's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// The store refused it (a rule checked under its locks, a duplicate) or failed.
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(store::Error::Database(error))
    }
}

/// A rule's refusal reaches the caller as the store's conflicts do: one shape for every 409.
impl From<crate::domain::conflict::Refusal> for Error {
    fn from(refusal: crate::domain::conflict::Refusal) -> Self {
        Self::Store(refusal.into())
    }
}

impl Error {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, reason)])
    }

    /// A failure of the database (rather than a refusal), which a retry may get past.
    pub fn database(&self) -> Option<&sqlx::Error> {
        match self {
            Self::Store(store::Error::Database(e)) => Some(e),
            _ => None,
        }
    }
}

/// A refusal as ops read it on an inbox item: each field and its reason.
pub fn refusal_reason(error: &Error) -> String {
    match error {
        Error::Invalid(errors) => store::refusal_reason(&store::Error::Invalid(errors.clone())),
        Error::Store(error) => store::refusal_reason(error),
        Error::Forbidden(reason) => reason.clone(),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
pub mod failures;
pub mod metrics;
