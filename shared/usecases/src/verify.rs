//! The one verification path. A presented credential (today a bearer token; later other
//! kinds) and the caller's address become a [`Verified`] principal or a typed [`Denial`]:
//!
//! 1. the bearer text is parsed (format, prefix, checksum, and the deployment's tag) with no
//!    I/O, so garbage and forgeries cost no read, and hashed once;
//! 2. a token this container already saw refused for good (unknown, revoked, expired) is
//!    refused again without a read (the negative cache, keyed by hash and by the typed reason);
//! 3. the token is read with a consistent `GetItem` on every verification (so a revocation
//!    applies to the very next request), and its account's and organization's records come
//!    from the owner cache when they were read less than `OWNER_CACHE_TTL_MS` ago (the
//!    authorizer's: 1 s), else with the token in one consistent `BatchGetItem`; or everything
//!    comes from the positive cache when one is configured (`POSITIVE_CACHE_TTL_SECONDS`;
//!    never past the token's own end);
//! 4. [`shared::authn::authenticate`] decides.
//!
//! The authorizer, the admin functions (when no authorizer stands in front of them),
//! self-rotation and OAuth2 client authentication all call [`Verifier::verify`]; each maps a
//! [`Denial`] to its own wire format in one place.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use shared::authn::{AuthorizationRecords, Denial, Principal, Unauthenticated, authenticate};
use shared::clock::Clock;
use shared::config::{ConfigError, bounded, seconds};
use shared::model::Token;
use shared::token::{ParsedToken, TokenFormat, TokenFormatError, TokenSecret, bearer};
use store::{DynamoStore, StoreError};
use time::{Duration, OffsetDateTime};

use crate::UseCaseError;

/// Where the verifier reads the records a decision needs, and writes last-used times. The
/// store implements it; a benchmark can hand the real path fixed records.
pub trait RecordSource: fmt::Debug + Send + Sync {
    /// The token, its account and its organization, in one consistent read.
    fn fetch(
        &self,
        token: &ParsedToken,
    ) -> impl Future<Output = Result<AuthorizationRecords, StoreError>> + Send;

    /// The token alone, in one consistent read.
    fn fetch_token(
        &self,
        token: &ParsedToken,
    ) -> impl Future<Output = Result<Option<Token>, StoreError>> + Send;

    fn touch_last_used(
        &self,
        token: &Token,
        now: OffsetDateTime,
        interval: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl RecordSource for DynamoStore {
    fn fetch(
        &self,
        token: &ParsedToken,
    ) -> impl Future<Output = Result<AuthorizationRecords, StoreError>> + Send {
        self.fetch_for_authorization(token)
    }

    fn fetch_token(
        &self,
        token: &ParsedToken,
    ) -> impl Future<Output = Result<Option<Token>, StoreError>> + Send {
        DynamoStore::fetch_token(self, token)
    }

    fn touch_last_used(
        &self,
        token: &Token,
        now: OffsetDateTime,
        interval: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        DynamoStore::touch_last_used(self, token, now, interval)
    }
}

/// The per-container caches.
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `OWNER_CACHE_TTL_MS` | how long an account's and an organization's records are reused while every token is still read (each millisecond is up to a millisecond of delay for a disable, a delete or a policy change; 0–60000) | authorizer `1000`, admin functions `0` |
/// | `POSITIVE_CACHE_TTL_SECONDS` | how long a valid token's records are reused, the token's own included (each second is up to a second of revocation delay; 0–3600) | `0` |
/// | `NEGATIVE_CACHE_ENTRIES` | how many tokens refused for good are remembered (0–1000000) | `10000` |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    pub owner_ttl: Duration,
    pub positive_ttl: Duration,
    pub negative_entries: usize,
}

impl Default for CacheSettings {
    /// No reuse of any record (every verification reads all three): the admin functions'.
    fn default() -> Self {
        Self::ADMIN
    }
}

impl CacheSettings {
    /// The admin functions': every record read every time.
    pub const ADMIN: Self = Self {
        owner_ttl: Duration::ZERO,
        positive_ttl: Duration::ZERO,
        negative_entries: 10_000,
    };

    /// The authorizer's: the token read every time, its account and organization reused for a
    /// second, so no item is read by every request of an organization.
    pub const AUTHORIZER: Self = Self {
        owner_ttl: Duration::SECOND,
        positive_ttl: Duration::ZERO,
        negative_entries: 10_000,
    };

    /// `defaults`, overridden by the variables of the table above.
    pub fn from_lookup(
        defaults: Self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let owner_ms = i64::try_from(defaults.owner_ttl.whole_milliseconds()).unwrap_or(0);
        Ok(Self {
            owner_ttl: Duration::milliseconds(bounded(
                &lookup,
                "OWNER_CACHE_TTL_MS",
                owner_ms,
                0..=60_000,
            )?),
            positive_ttl: seconds(
                &lookup,
                "POSITIVE_CACHE_TTL_SECONDS",
                defaults.positive_ttl.whole_seconds(),
                0..=3_600,
            )?,
            negative_entries: bounded(
                &lookup,
                "NEGATIVE_CACHE_ENTRIES",
                defaults.negative_entries,
                0..=1_000_000,
            )?,
        })
    }
}

/// A credential that checked out: who it is, and the records that said so.
#[derive(Debug, Clone)]
pub struct Verified {
    pub principal: Principal,
    pub records: AuthorizationRecords,
    /// How the token may be named in logs (`svc_<token id>`).
    pub display_prefix: String,
}

impl Verified {
    /// When the token stops working by itself: its expiry, or a scheduled revocation (the
    /// end of a rotation's grace period), whichever comes first.
    pub fn token_end(&self) -> Option<OffsetDateTime> {
        self.records.token.as_ref().and_then(token_end)
    }
}

fn token_end(token: &Token) -> Option<OffsetDateTime> {
    [token.expires_at, token.revoked_at]
        .into_iter()
        .flatten()
        .min()
}

/// Why verification did not produce a principal.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The credential is refused: a 401 or a 403 by the reason's kind.
    #[error(transparent)]
    Denied(#[from] Denial),
    /// The records could not be read: never a refusal of a valid caller.
    #[error("the records could not be read: {0}")]
    Unavailable(#[from] StoreError),
}

impl From<VerifyError> for UseCaseError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Denied(denial) => Self::Denied(denial),
            VerifyError::Unavailable(error) => Self::Store(error),
        }
    }
}

type Key = [u8; 32];

/// An owner of tokens: an account of an organization, or the organization itself.
type OwnerKey = (shared::ids::OrgId, shared::token::TokenOwner);

/// An organization's and an account's records, as read at a time.
#[derive(Debug, Clone)]
struct Owners {
    read_at: OffsetDateTime,
    org: Option<shared::model::Organization>,
    account: Option<shared::model::ServiceAccount>,
}

#[derive(Debug, Default)]
struct Caches {
    /// Tokens that can never become valid again, with the reason. Keys are hashes, never
    /// tokens.
    refused: HashMap<Key, Unauthenticated>,
    /// The records of valid tokens, with when they were read.
    records: HashMap<Key, (OffsetDateTime, AuthorizationRecords)>,
    /// The owners' records, reused for the owner TTL while the token is read every time.
    owners: HashMap<OwnerKey, Owners>,
}

/// The verification path, built once per container.
#[derive(Debug)]
pub struct Verifier<S = DynamoStore> {
    source: S,
    clock: Arc<dyn Clock>,
    format: TokenFormat,
    settings: CacheSettings,
    caches: Mutex<Caches>,
}

impl<S: RecordSource> Verifier<S> {
    /// The most records the positive cache holds before it starts over.
    const MAX_CACHED_RECORDS: usize = 10_000;

    pub fn new(
        source: S,
        clock: Arc<dyn Clock>,
        format: TokenFormat,
        settings: CacheSettings,
    ) -> Self {
        Self {
            source,
            clock,
            format,
            settings,
            caches: Mutex::new(Caches::default()),
        }
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Verifies the credential in an `Authorization` header's value (`None`: there was none).
    pub async fn verify_header(
        &self,
        header: Option<&str>,
        source_ip: Option<IpAddr>,
    ) -> Result<Verified, VerifyError> {
        match header.and_then(bearer) {
            Some(secret) => self.verify(secret, source_ip).await,
            None => Err(Denial::Unauthenticated(Unauthenticated::NoCredential).into()),
        }
    }

    /// Verifies a presented token from `source_ip` (see the module's steps).
    pub async fn verify(
        &self,
        secret: TokenSecret,
        source_ip: Option<IpAddr>,
    ) -> Result<Verified, VerifyError> {
        let presented = ParsedToken::parse(&self.format, secret).map_err(|error| {
            tracing::info!(%error, "refused without a read");
            Denial::Unauthenticated(match error {
                TokenFormatError::NotMinted => Unauthenticated::NotMinted,
                _ => Unauthenticated::Malformed,
            })
        })?;
        let key: Key = *presented.hash().as_bytes();
        let now = self.clock.now();
        let cached = {
            let caches = self.lock();
            if let Some(reason) = caches.refused.get(&key) {
                return Err(Denial::Unauthenticated(*reason).into());
            }
            // A cached entry lasts the positive TTL from its read, and never beyond the
            // token's own end (its expiry, or a rotation's scheduled revocation).
            caches
                .records
                .get(&key)
                .filter(|(read_at, records)| {
                    now - *read_at < self.settings.positive_ttl
                        && records
                            .token
                            .as_ref()
                            .is_some_and(|token| token_end(token).is_none_or(|end| now < end))
                })
                .map(|(_, records)| records.clone())
        };
        let from_cache = cached.is_some();
        let records = match cached {
            Some(records) => records,
            None => self.read(&presented, now).await.inspect_err(|error| {
                tracing::error!(%error, "reading the token's records failed");
            })?,
        };
        let outcome = authenticate(&presented, &records, source_ip, now);
        self.remember(key, &outcome, &records, now, from_cache);
        match outcome {
            Ok(principal) => Ok(Verified {
                principal,
                records,
                display_prefix: presented.display_prefix().to_owned(),
            }),
            Err(denial) => {
                tracing::info!(token = presented.display_prefix(), %denial, "refused a token");
                Err(denial.into())
            }
        }
    }

    /// The records of `presented`: the token read every time (consistently); its account's and
    /// organization's from the owner cache when they were read less than the owner TTL ago,
    /// else read with it in one `BatchGetItem` (and cached).
    async fn read(
        &self,
        presented: &ParsedToken,
        now: OffsetDateTime,
    ) -> Result<AuthorizationRecords, StoreError> {
        let ttl = self.settings.owner_ttl;
        if ttl == Duration::ZERO {
            return self.source.fetch(presented).await;
        }
        let owner: OwnerKey = (presented.org().clone(), presented.owner().clone());
        let owners = self
            .lock()
            .owners
            .get(&owner)
            .filter(|owners| now - owners.read_at < ttl)
            .cloned();
        if let Some(owners) = owners {
            return Ok(AuthorizationRecords {
                token: self.source.fetch_token(presented).await?,
                org: owners.org,
                account: owners.account,
            });
        }
        let records = self.source.fetch(presented).await?;
        let mut caches = self.lock();
        if caches.owners.len() >= Self::MAX_CACHED_RECORDS {
            caches.owners.clear();
        }
        caches.owners.insert(
            owner,
            Owners {
                read_at: now,
                org: records.org.clone(),
                account: records.account.clone(),
            },
        );
        Ok(records)
    }

    /// Records that a verified token (and its account) was used now, unless that was recorded
    /// less than `interval` ago.
    pub async fn record_use(
        &self,
        verified: &Verified,
        interval: Duration,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let Some(token) = &verified.records.token else {
            return Ok(false);
        };
        let stale = token.last_used_at.is_none_or(|at| now - at >= interval);
        if stale {
            self.source.touch_last_used(token, now, interval).await?;
        }
        Ok(stale)
    }

    /// Updates the caches after a decision. Records are cached only when they were just read,
    /// so the positive TTL counts from the read and a token in constant use still sees a
    /// revocation within it.
    fn remember(
        &self,
        key: Key,
        outcome: &Result<Principal, Denial>,
        records: &AuthorizationRecords,
        now: OffsetDateTime,
        from_cache: bool,
    ) {
        let mut caches = self.lock();
        match outcome {
            Err(Denial::Unauthenticated(reason)) if reason.is_final() => {
                caches.records.remove(&key);
                if self.settings.negative_entries == 0 {
                    return;
                }
                if caches.refused.len() >= self.settings.negative_entries {
                    caches.refused.clear();
                }
                caches.refused.insert(key, *reason);
            }
            Ok(_) if from_cache => {}
            Ok(_) if self.settings.positive_ttl > Duration::ZERO => {
                if caches.records.len() >= Self::MAX_CACHED_RECORDS {
                    caches.records.clear();
                }
                caches.records.insert(key, (now, records.clone()));
            }
            _ => {
                caches.records.remove(&key);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Caches> {
        self.caches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
