//! The use cases: every rule of the system that needs the store, one function each, called
//! alike by the HTTP edge (the `accounts` and `tokens` functions), `local`, `infra` and the
//! tests. A handler parses its input into domain types, calls one use case, and renders the
//! result; no handler reads or writes the store itself. A function crate names the store in
//! its start-up file only, to build it (the test command checks it).
//!
//! | module | use cases |
//! | --- | --- |
//! | [`verify`] | the one verification path: a presented credential becomes a principal or a typed denial |
//! | [`orgs`] | read an organization, change its name and token policy |
//! | [`accounts`] | create, read, list, change, disable, enable and delete service accounts |
//! | [`audit`] | write the event a change means (once, however often delivered), read an organization's trail |
//! | [`tokens`] | mint, read, list, revoke (with its cascades), revoke all, rotate, self-rotate |
//! | [`oauth`] | issue an OAuth2 access token for client credentials |
//! | [`federation`] | trust policies (a workload's token exchanged for an access token: `exchange`) |
//! | [`leaks`] | a token reported as leaked is revoked, and its organization told where |
//! | [`lifecycle`] | the scheduled run: expiry warnings and the retirement of unused tokens |
//! | [`iac`] | who may manage an organization as code (a CloudFormation stack's caller) |
//! | [`bootstrap`] | the first organization, admin account and token |

pub mod accounts;
pub mod audit;
pub mod bootstrap;
mod caller;
mod error;
mod exchange;
pub mod federation;
pub mod iac;
pub mod leaks;
pub mod lifecycle;
pub mod oauth;
pub mod orgs;
mod stored;
pub mod tokens;
pub mod verify;

use std::sync::Arc;

use shared::clock::{Clock, SystemClock};
use shared::config::{ConfigError, bounded, days, seconds};
use shared::token::TokenFormat;
use store::DynamoStore;
use time::Duration;

pub use caller::{Caller, Identity, Person, StackIdentity};
pub use error::UseCaseError;
pub use federation::WorkloadSettings;
pub use leaks::PublicRevocationLimit;
// The store's vocabulary that the edge speaks too: a page of a list, its limit, a token list's
// scope, and the kinds of failure a use case passes on. The functions name them here, never in
// the store (the store is theirs to build at start-up only).
pub use store::{Outage, Page, PageLimit, StoreError, TokenListScope};

/// The store the deployed functions run on, as a type: a function crate builds it in its
/// start-up file only, and names it elsewhere only where a generic needs it (the authorizer's
/// default record source).
pub type Store = DynamoStore;

/// What the use cases work with, built once per cold start.
#[derive(Debug, Clone)]
pub struct UseCases {
    pub store: DynamoStore,
    pub clock: Arc<dyn Clock>,
    pub token_format: TokenFormat,
    /// How long a revoked token or a deleted account stays visible (and attributable) before
    /// DynamoDB's TTL removes it.
    pub retention: Duration,
    pub access_tokens: AccessTokenSettings,
    pub workloads: WorkloadSettings,
    pub public_revocation: PublicRevocationLimit,
    /// The senders the public revocation endpoint refused, shared by the clones of these use
    /// cases in this container.
    pub refused_senders: Arc<leaks::RefusedSenders>,
}

/// OAuth2 access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessTokenSettings {
    /// How long one lives, at most.
    pub lifetime: Duration,
    /// How many one client secret may be issued per `lifetime`, so that at most twice as many
    /// are alive at once and revoking the secret revokes a bounded number of them.
    pub per_secret: u32,
}

impl Default for AccessTokenSettings {
    fn default() -> Self {
        Self {
            lifetime: Duration::hours(1),
            per_secret: 100,
        }
    }
}

impl UseCases {
    /// The use cases over `store`, with the defaults of every setting and the system clock.
    pub fn new(store: DynamoStore, token_format: TokenFormat) -> Self {
        Self {
            clock: Arc::new(SystemClock),
            token_format,
            retention: Duration::days(30),
            access_tokens: AccessTokenSettings::default(),
            workloads: WorkloadSettings {
                audiences: vec![WorkloadSettings::default_audience(store.table())],
                max_age: std::time::Duration::from_secs(3600),
                per_policy: 1000,
            },
            public_revocation: PublicRevocationLimit::default(),
            refused_senders: Arc::default(),
            store,
        }
    }

    /// Reads the settings through `lookup`:
    ///
    /// | variable | meaning | default |
    /// | --- | --- | --- |
    /// | `RETENTION_DAYS` | how long revoked tokens and deleted accounts stay visible (1–3650) | `30` |
    /// | `ACCESS_TOKEN_LIFETIME_SECONDS` | OAuth2 access tokens' lifetime (60–43200) | `3600` |
    /// | `MAX_ACCESS_TOKENS_PER_SECRET` | access tokens per client secret per lifetime (1–10000) | `100` |
    /// | `WORKLOAD_AUDIENCES` | the audiences workloads' tokens may name, comma-separated | `urn:service-accounts:<table>` |
    /// | `WORKLOAD_TOKEN_MAX_AGE_SECONDS` | the oldest workload token accepted, by `iat` (60–86400) | `3600` |
    /// | `MAX_ACCESS_TOKENS_PER_TRUST_POLICY` | access tokens per trust policy per its lifetime (1–100000) | `1000` |
    /// | `PUBLIC_REVOCATION_LIMIT` | requests to the public revocation endpoint per source address per window (1–100000) | `60` |
    /// | `PUBLIC_REVOCATION_WINDOW_SECONDS` | that window (60–86400) | `3600` |
    pub fn from_lookup(
        store: DynamoStore,
        token_format: TokenFormat,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let defaults = Self::new(store, token_format);
        let audiences = match lookup("WORKLOAD_AUDIENCES") {
            None => defaults.workloads.audiences.clone(),
            Some(list) => workload_audiences(&list)?,
        };
        let max_age = seconds(&lookup, "WORKLOAD_TOKEN_MAX_AGE_SECONDS", 3600, 60..=86_400)?;
        Ok(Self {
            workloads: WorkloadSettings {
                audiences,
                max_age: std::time::Duration::from_secs(
                    u64::try_from(max_age.whole_seconds()).unwrap_or(3600),
                ),
                per_policy: bounded(
                    &lookup,
                    "MAX_ACCESS_TOKENS_PER_TRUST_POLICY",
                    1000,
                    1..=100_000,
                )?,
            },
            public_revocation: PublicRevocationLimit {
                limit: bounded(&lookup, "PUBLIC_REVOCATION_LIMIT", 60, 1..=100_000)?,
                window: seconds(
                    &lookup,
                    "PUBLIC_REVOCATION_WINDOW_SECONDS",
                    3600,
                    60..=86_400,
                )?,
            },
            retention: days(&lookup, "RETENTION_DAYS", 30, 1..=3650)?,
            access_tokens: AccessTokenSettings {
                lifetime: seconds(&lookup, "ACCESS_TOKEN_LIFETIME_SECONDS", 3600, 60..=43_200)?,
                per_secret: bounded(&lookup, "MAX_ACCESS_TOKENS_PER_SECRET", 100, 1..=10_000)?,
            },
            ..defaults
        })
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}

/// `WORKLOAD_AUDIENCES`: one to ten audiences, comma-separated, each 1–256 visible characters.
fn workload_audiences(list: &str) -> Result<Vec<String>, ConfigError> {
    let audiences: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|audience| !audience.is_empty())
        .map(str::to_owned)
        .collect();
    if audiences.is_empty()
        || audiences.len() > 10
        || audiences
            .iter()
            .any(|audience| audience.len() > 256 || !audience.chars().all(|c| c.is_ascii_graphic()))
    {
        return Err(ConfigError {
            variable: "WORKLOAD_AUDIENCES",
            reason: "one to ten audiences, comma-separated, each 1 to 256 visible characters"
                .into(),
        });
    }
    Ok(audiences)
}
