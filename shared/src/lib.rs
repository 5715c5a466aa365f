//! The domain of the service-account system, shared by every function.
//!
//! Nothing here knows about Lambda, DynamoDB or an async runtime. The modules hold the
//! validated types that input is converted into at the edge (`ids`, `text`, `access`), the
//! token format (`token`), the organization token policy and lifetimes (`policy`), the
//! entities (`model`), how an identity provider's people map to roles (`people`), which
//! workloads' OIDC tokens may act as an account (`federation`), who a
//! token authenticates as (`authn`), the authorizer's decision
//! (`decision`, `routes`), what a change means for the audit trail (`audit`), an injectable
//! clock (`clock`), and the settings read from the environment (`config`). The DynamoDB
//! adapter is the `store` crate beside this one.

pub mod access;
pub mod audit;
pub mod authn;
pub mod clock;
pub mod config;
pub mod decision;
pub mod federation;
pub mod iac;
pub mod ids;
pub mod lifecycle;
pub mod model;
pub mod people;
pub mod policy;
pub mod random;
pub mod routes;
pub mod telemetry;
pub mod text;
pub mod token;

/// Why a user-supplied value was refused. The message names the rule that failed and never
/// repeats the value itself, so it is safe to return to a client or write to a log even when
/// the value was a secret pasted into the wrong field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub(crate) String);

impl ParseError {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }

    /// The reason, for a validation error's `detail`.
    pub fn reason(&self) -> &str {
        &self.0
    }
}
