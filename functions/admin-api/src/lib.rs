//! The admin API's HTTP layer, shared by the `accounts` and `tokens` functions.
//!
//! Each request goes through the same steps: [`request::ApiRequest`] lifts what the handlers
//! need out of any event shape `lambda_http` accepts (REST v1, HTTP API v2, function URL);
//! [`router`] matches the route; [`identity`] finds the caller and checks they administer the
//! organization in the path; [`body`] turns the JSON body into a request DTO within the bad-input
//! rules; and every failure is an [`problem::ApiError`], answered as an RFC 9457 problem
//! document.

pub mod body;
pub mod identity;
pub mod problem;
pub mod request;
pub mod response;
pub mod router;

use std::sync::Arc;

use shared::clock::{Clock, SystemClock};
use shared::token::TokenPrefix;
use store::DynamoStore;
use time::Duration;

use crate::identity::IdentitySources;

/// Everything a handler needs, built once per cold start and lent to each request.
#[derive(Debug, Clone)]
pub struct AdminContext {
    pub store: DynamoStore,
    pub token_prefix: TokenPrefix,
    /// Which identity claims of an event (authorizer context, IAM) are trusted, from where.
    pub identity: IdentitySources,
    /// How long a revoked token or a deleted account stays visible (and attributable) before
    /// DynamoDB's TTL removes it.
    pub retention: Duration,
    pub clock: Arc<dyn Clock>,
}

/// The settings the admin functions read beside [`shared::config::Settings`].
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `AUTHORIZER_API_IDS` | API ids whose admin routes sit behind our authorizer, so its context identifies the caller; unset: a context is never read | unset |
/// | `ADMIN_IAM_PRINCIPALS` | comma-separated IAM ARNs allowed to administer every organization through IAM authorization (a trailing `*` matches whole path segments); unset: IAM administration is off | unset |
/// | `IAM_API_IDS` | the API or function URL ids whose IAM identity is read (needed with `ADMIN_IAM_PRINCIPALS`) | unset |
/// | `RETENTION_DAYS` | how long revoked tokens and deleted accounts stay visible | `30` |
impl AdminContext {
    pub fn from_env(
        store: DynamoStore,
        token_prefix: TokenPrefix,
    ) -> Result<Self, shared::config::ConfigError> {
        Self::from_lookup(store, token_prefix, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        store: DynamoStore,
        token_prefix: TokenPrefix,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, shared::config::ConfigError> {
        let identity = IdentitySources::from_lookup(&lookup)?;
        let retention_days = match lookup("RETENTION_DAYS") {
            None => 30,
            Some(days) => days
                .parse::<u16>()
                .ok()
                .filter(|days| (1..=3650).contains(days))
                .ok_or_else(|| shared::config::ConfigError {
                    variable: "RETENTION_DAYS",
                    reason: "a number of days between 1 and 3650".into(),
                })?,
        };
        Ok(Self {
            store,
            token_prefix,
            identity,
            retention: Duration::days(i64::from(retention_days)),
            clock: Arc::new(SystemClock),
        })
    }
}
