//! Why a use case did not do what it was asked. The HTTP edge maps each variant to one status
//! and problem type; the messages name rules and ids, never a secret.

use shared::authn::Denial;
use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum UseCaseError {
    /// The credential was refused (401), or may not do this from here (403).
    #[error(transparent)]
    Denied(#[from] Denial),
    /// The caller may not do this (403).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No such thing in the caller's organization (404).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The state does not allow it, or changed meanwhile (409).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A value breaks a rule that needs the stored state to check (422).
    #[error("invalid `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// Too many requests from this sender for now (429): the next window opens in
    /// `retry_after` seconds.
    #[error("rate limited: retry after {retry_after} s")]
    RateLimited { retry_after: i64 },
    /// The store failed or refused (its kind decides the status).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something that should not happen did (500); the cause is logged where it happens.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl UseCaseError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn internal(context: &'static str, cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, context, "internal error");
        Self::Internal(context)
    }

    /// A stale `If-Match`, or a change lost to a concurrent one: the same event for a client
    /// (someone else changed it), so both are a conflict.
    pub(crate) fn check_version(
        expected: Option<u64>,
        current: u64,
        what: &str,
    ) -> Result<(), Self> {
        match expected {
            Some(expected) if expected != current => Err(Self::Conflict(format!(
                "the {what} has changed (it is at ETag \"{current}\", not \"{expected}\"); read it again and retry"
            ))),
            _ => Ok(()),
        }
    }
}
