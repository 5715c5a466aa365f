//! The API Gateway Lambda authorizer: the hot path of every request to the organization's APIs.
//!
//! It answers REST API `TOKEN` and `REQUEST` authorizer events and HTTP API payload 2.0 events
//! (with a simple response or an IAM policy, by configuration). A request goes:
//!
//! 1. [`event`]: the event is read, whatever its shape;
//! 2. the token goes through the one verification path ([`usecases::verify::Verifier`]): no
//!    I/O for a malformed token or one this container saw refused for good, else one
//!    consistent `GetItem` of the token (its account and organization come from the owner
//!    cache, read with it in one `BatchGetItem` at most once a second), or the positive cache
//!    when configured;
//! 3. [`shared::decision::decide`]: 401, 403 (a Deny policy / `isAuthorized: false`) or allow;
//! 4. [`respond`]: the answer for the event's shape;
//! 5. the decision's record ([`record`]), and on allow, the token's and account's last-used
//!    time, at most once per interval.

mod config;
mod event;
pub mod record;
mod respond;

use std::net::IpAddr;
use std::sync::Arc;

use lambda_runtime::Error;
use serde_json::Value;
use serde_json::value::RawValue;
use shared::authn::{Denial, Unauthenticated};
use shared::clock::{Clock, SystemClock};
use shared::decision::{Decision, RequestFacts, decide};
use shared::token::TokenSecret;
use usecases::verify::{RecordSource, Verified, Verifier, VerifyError};

use crate::record::Records;

pub use crate::config::{AuthorizerConfig, DEFAULT_ROUTE_MAP, HttpApiResponse};
pub use crate::event::{Incoming, Shape};
pub use crate::respond::{Answer, respond};

/// The authorizer, built once per container.
#[derive(Debug)]
pub struct Authorizer<S = usecases::Store> {
    verifier: Verifier<S>,
    config: AuthorizerConfig,
    records: Records,
}

impl<S: RecordSource> Authorizer<S> {
    pub fn new(source: S, config: AuthorizerConfig) -> Self {
        Self::with_clock(source, config, Arc::new(SystemClock))
    }

    pub fn with_clock(source: S, config: AuthorizerConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            verifier: Verifier::new(source, clock, config.token_format.clone(), config.caches),
            config,
            records: Records::new(record::stdout()),
        }
    }

    /// This authorizer, writing its decision records to `records` instead of standard output.
    pub fn with_records(self, records: Records) -> Self {
        Self { records, ..self }
    }

    pub fn config(&self) -> &AuthorizerConfig {
        &self.config
    }

    /// Lambda's entry point: an authorizer event's JSON text in, the JSON text of a policy
    /// or simple response out, or the error `Unauthorized` (API Gateway's 401). A failure to
    /// read the table is an ordinary error (API Gateway answers 500): a valid caller is never
    /// told its token is bad.
    pub async fn handle_json(&self, event: &str) -> Result<Box<RawValue>, Error> {
        // The parse error is not logged: serde quotes the value it refused, which can be a
        // header holding a token.
        let mut incoming =
            Incoming::from_json(event, &self.config.identity_header).map_err(|_| {
                tracing::warn!("refused an event that is not an API Gateway authorizer event");
                Error::from("Unauthorized")
            })?;
        let verified = self
            .verify(incoming.token.take(), incoming.source_ip)
            .await?;
        let facts = RequestFacts {
            method: &incoming.method,
            path: &incoming.path,
            source_ip: incoming.source_ip,
        };
        let principal = verified.as_ref().map(|v| &v.principal).map_err(|d| *d);
        let decision = decide(principal, &facts, &self.config.routes);
        let display_prefix = verified.as_ref().ok().map(|v| v.display_prefix.as_str());
        self.records
            .write(&decision, display_prefix, self.verifier.now());
        if let (Decision::Allow { .. }, Ok(verified)) = (&decision, &verified) {
            self.record_use(verified).await;
        }
        let answer = respond(&incoming, &decision, &self.config)?;
        Ok(serde_json::value::to_raw_value(&answer)?)
    }

    /// [`Self::handle_json`] for an event already parsed (`local`, the tests).
    pub async fn handle(&self, event: Value) -> Result<Value, Error> {
        let answer = self.handle_json(&event.to_string()).await?;
        Ok(serde_json::from_str(answer.get())?)
    }

    /// The one verification path, and API Gateway's cache: a token whose life ends within
    /// the cache's TTL is refused, since a cached Allow would outlive it.
    async fn verify(
        &self,
        token: Option<TokenSecret>,
        source_ip: Option<IpAddr>,
    ) -> Result<Result<Verified, Denial>, Error> {
        let Some(secret) = token else {
            return Ok(Err(Denial::Unauthenticated(Unauthenticated::NoCredential)));
        };
        match self.verifier.verify(secret, source_ip).await {
            Ok(verified) => {
                let ttl = self.config.gateway_cache_ttl;
                let ends_within_cache = ttl > time::Duration::ZERO
                    && verified
                        .token_end()
                        .is_some_and(|end| end <= self.verifier.now() + ttl);
                Ok(if ends_within_cache {
                    Err(Denial::Unauthenticated(Unauthenticated::EndsWithinCache))
                } else {
                    Ok(verified)
                })
            }
            Err(VerifyError::Denied(denial)) => Ok(Err(denial)),
            Err(VerifyError::Unavailable(_)) => {
                Err(Error::from("the authorizer could not read its table"))
            }
        }
    }

    /// Writes the last-used time when it is due, bounded so it never slows an authorization
    /// noticeably, and never fails one. (Boxed, as it is rare: at most once per token and
    /// interval, so the write's future is not part of every request's.)
    async fn record_use(&self, verified: &Verified) {
        let interval = self.config.last_used_interval;
        if !self.verifier.use_is_due(verified, interval) {
            return;
        }
        let write = Box::pin(self.verifier.record_use(verified, interval));
        match tokio::time::timeout(std::time::Duration::from_millis(250), write).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "last-used write failed"),
            Err(_) => tracing::warn!("last-used write timed out"),
        }
    }
}

impl Authorizer<usecases::Store> {
    /// See [`Verifier::warm_up`].
    pub async fn warm_up(&self) {
        self.verifier.warm_up().await;
    }
}
