//! The use cases: every rule of the system that needs the store, one function each, called
//! alike by the HTTP edge (the `accounts` and `tokens` functions), `local`, `infra` and the
//! tests. A handler parses its input into domain types, calls one use case, and renders the
//! result; no handler writes to the store itself.
//!
//! | module | use cases |
//! | --- | --- |
//! | [`verify`] | the one verification path: a presented credential becomes a principal or a typed denial |
//! | [`orgs`] | read an organization, change its name and token policy |
//! | [`accounts`] | create, read, list, change, disable, enable and delete service accounts |
//! | [`tokens`] | mint, read, list, revoke (with its cascades), revoke all, rotate, self-rotate |
//! | [`oauth`] | issue an OAuth2 access token for client credentials |
//! | [`bootstrap`] | the first organization, admin account and token |

pub mod accounts;
pub mod bootstrap;
mod caller;
mod error;
pub mod oauth;
pub mod orgs;
pub mod tokens;
pub mod verify;

use std::sync::Arc;

use shared::clock::{Clock, SystemClock};
use shared::config::{ConfigError, bounded, days, seconds};
use shared::token::TokenFormat;
use store::DynamoStore;
use time::Duration;

pub use caller::{Caller, Identity, Person};
pub use error::UseCaseError;

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
            store,
            clock: Arc::new(SystemClock),
            token_format,
            retention: Duration::days(30),
            access_tokens: AccessTokenSettings::default(),
        }
    }

    /// Reads the settings through `lookup`:
    ///
    /// | variable | meaning | default |
    /// | --- | --- | --- |
    /// | `RETENTION_DAYS` | how long revoked tokens and deleted accounts stay visible (1–3650) | `30` |
    /// | `ACCESS_TOKEN_LIFETIME_SECONDS` | OAuth2 access tokens' lifetime (60–43200) | `3600` |
    /// | `MAX_ACCESS_TOKENS_PER_SECRET` | access tokens per client secret per lifetime (1–10000) | `100` |
    pub fn from_lookup(
        store: DynamoStore,
        token_format: TokenFormat,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            retention: days(&lookup, "RETENTION_DAYS", 30, 1..=3650)?,
            access_tokens: AccessTokenSettings {
                lifetime: seconds(&lookup, "ACCESS_TOKEN_LIFETIME_SECONDS", 3600, 60..=43_200)?,
                per_secret: bounded(&lookup, "MAX_ACCESS_TOKENS_PER_SECRET", 100, 1..=10_000)?,
            },
            ..Self::new(store, token_format)
        })
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }
}
