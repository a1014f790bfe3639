//! Pure types and rules of the directory. Nothing here does I/O: the store and the HTTP layer
//! parse input into these types once, at the edge, and ask these modules what the rules allow.

pub mod audit;
pub mod client_status;
pub mod conflict;
pub mod console;
pub mod coverage;
pub mod funnel;
pub mod invitation;
pub mod invite;
pub mod ops;
pub mod org_link;
pub mod record_change;
pub mod tenancy;
pub mod text;
pub mod token;
pub mod user;
pub mod values;
pub mod visibility;

/// One field that failed to parse, with the reason a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The JSON path of the field, e.g. `email` or `members[2]`.
    pub field: String,
    /// Why the value was refused.
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Collects every field error of one request, so a form can show them all at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the parsed value, or records why the field was refused.
    pub fn take<T>(&mut self, field: &str, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(reason) => {
                self.0.push(FieldError::new(field, reason));
                None
            }
        }
    }

    /// Parses a field the request may leave out: absent stays `None`, and a value that does
    /// not parse is recorded.
    pub fn optional<T>(
        &mut self,
        field: &str,
        raw: Option<&str>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        raw.and_then(|raw| self.take(field, parse(raw)))
    }

    pub fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError::new(field, reason));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when no field failed, else every failure.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}
pub mod failure;
