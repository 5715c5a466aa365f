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
//! 4. [`shared::authn::authenticate`] decides;
//! 5. a token rotated away whose grace is over, presented with its right secret, is a reuse:
//!    its whole lineage is revoked, with the reason (the refusal is the same 401).
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
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::{Actor, Organization, ServiceAccount, Token};
use shared::token::{ParsedToken, TokenFormat, TokenFormatError, TokenOwner, TokenSecret, bearer};
use store::{DynamoStore, StoreError, Wanted};
use time::{Duration, OffsetDateTime};

use crate::UseCaseError;

/// Where the verifier reads the records a decision needs, and writes last-used times. The
/// store implements it; a benchmark can hand the real path fixed records.
pub trait RecordSource: fmt::Debug + Send + Sync {
    /// The token, and its organization and account as `wanted`, in one consistent read.
    fn fetch(
        &self,
        token: &ParsedToken,
        wanted: Wanted,
    ) -> impl Future<Output = Result<AuthorizationRecords, StoreError>> + Send;

    fn touch_last_used(
        &self,
        token: &Token,
        now: OffsetDateTime,
        interval: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends the lineage of `token`, presented at `now` after it was rotated away (a reuse:
    /// a thief and its owner both hold the lineage), as `actor`, with the reason on every
    /// member it revokes. How many tokens it revoked.
    fn revoke_reused(
        &self,
        token: &Token,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}

impl RecordSource for DynamoStore {
    fn fetch(
        &self,
        token: &ParsedToken,
        wanted: Wanted,
    ) -> impl Future<Output = Result<AuthorizationRecords, StoreError>> + Send {
        self.fetch_records(token, wanted)
    }

    fn touch_last_used(
        &self,
        token: &Token,
        now: OffsetDateTime,
        interval: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        DynamoStore::touch_last_used(self, token, now, interval)
    }

    async fn revoke_reused(
        &self,
        token: &Token,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<usize, StoreError> {
        let owner = match &token.account {
            Some(account) => TokenOwner::Account(account.clone()),
            None => TokenOwner::Org,
        };
        // The members keep the retention the presented token was given.
        let retention = match (token.revoked_at, token.purge_after) {
            (Some(revoked), Some(purge)) if purge > revoked => purge - revoked,
            _ => Duration::days(30),
        };
        let reason = format!(
            "reuse: {} was presented after it was rotated away",
            token.display_prefix
        );
        self.revoke_lineage(
            &token.org,
            &owner,
            &token.id,
            actor,
            Some(&reason),
            now,
            retention,
        )
        .await
    }
}

/// The system actor's id when a reuse revokes a lineage.
pub const REUSE_DETECTION: &str = "reuse-detection";

/// How often the admin functions and the token endpoint write a token's last-used time, at
/// most (the authorizer's `LAST_USED_INTERVAL_SECONDS` default).
pub const LAST_USED_INTERVAL: Duration = Duration::minutes(5);

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

/// Whether `token`'s last use was recorded `interval` before `now` or earlier (or never).
fn use_is_due(token: &Token, now: OffsetDateTime, interval: Duration) -> bool {
    token.last_used_at.is_none_or(|at| now - at >= interval)
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

/// A record as read at a time (`None`: it did not exist).
#[derive(Debug, Clone)]
struct Read<T> {
    at: OffsetDateTime,
    record: Option<T>,
}

#[derive(Debug, Default)]
struct Caches {
    /// Tokens that can never become valid again, with the reason. Keys are hashes, never
    /// tokens.
    refused: HashMap<Key, Unauthenticated>,
    /// The records of valid tokens, with when they were read.
    records: HashMap<Key, (OffsetDateTime, AuthorizationRecords)>,
    /// Organizations and accounts, reused for the owner TTL while the token is read every
    /// time: one read of each per container and TTL, however many requests use them.
    orgs: HashMap<OrgId, Read<Arc<Organization>>>,
    accounts: HashMap<(OrgId, ServiceAccountId), Read<Arc<ServiceAccount>>>,
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
        if let Err(Denial::Unauthenticated(Unauthenticated::RevokedToken)) = outcome
            && let Some(token) = records.token.as_ref().filter(|t| t.rotated_away(now))
        {
            // Boxed: the rare path keeps its future out of every verification's.
            Box::pin(self.answer_reuse(token, source_ip, now)).await;
        }
        self.remember(key, &outcome, &records, now, from_cache);
        match outcome {
            Ok(principal) => Ok(Verified {
                principal,
                records,
                display_prefix: presented.into_display_prefix(),
            }),
            Err(denial) => {
                tracing::info!(token = presented.display_prefix(), %denial, "refused a token");
                Err(denial.into())
            }
        }
    }

    /// The records of `presented`: the token read every time (consistently); its
    /// organization's and account's from the owner cache when they were read less than the
    /// owner TTL ago, else read with it (and cached).
    async fn read(
        &self,
        presented: &ParsedToken,
        now: OffsetDateTime,
    ) -> Result<AuthorizationRecords, StoreError> {
        let ttl = self.settings.owner_ttl;
        if ttl == Duration::ZERO {
            return self.source.fetch(presented, Wanted::ALL).await;
        }
        let org_id = presented.org().clone();
        let account_key = presented
            .owner()
            .account()
            .map(|account| (org_id.clone(), account.clone()));
        let fresh = |read_at: OffsetDateTime| now - read_at < ttl;
        let (cached_org, cached_account) = {
            let caches = self.lock();
            let org = caches
                .orgs
                .get(&org_id)
                .filter(|read| fresh(read.at))
                .cloned();
            let account = account_key
                .as_ref()
                .and_then(|key| caches.accounts.get(key))
                .filter(|read| fresh(read.at))
                .cloned();
            (org, account)
        };
        let wanted = Wanted {
            org: cached_org.is_none(),
            account: account_key.is_some() && cached_account.is_none(),
        };
        let mut records = self.source.fetch(presented, wanted).await?;
        let mut caches = self.lock();
        match cached_org {
            Some(read) => records.org = read.record,
            None => {
                if caches.orgs.len() >= Self::MAX_CACHED_RECORDS {
                    caches.orgs.clear();
                }
                let read = Read {
                    at: now,
                    record: records.org.clone(),
                };
                caches.orgs.insert(org_id, read);
            }
        }
        match (cached_account, account_key) {
            (Some(read), _) => records.account = read.record,
            (None, Some(key)) => {
                if caches.accounts.len() >= Self::MAX_CACHED_RECORDS {
                    caches.accounts.clear();
                }
                let read = Read {
                    at: now,
                    record: records.account.clone(),
                };
                caches.accounts.insert(key, read);
            }
            (None, None) => {}
        }
        Ok(records)
    }

    /// A token rotated away, past its grace, was presented (its hash matched): someone still
    /// holds an old member of a lineage that goes on, so the thief and the owner cannot both
    /// keep it. The whole lineage is revoked, with the reason, as the system detecting it from
    /// `source_ip`. Once per container and token (the refusal is then cached); a failure is
    /// logged, and the request is refused either way.
    async fn answer_reuse(&self, token: &Token, source_ip: Option<IpAddr>, now: OffsetDateTime) {
        let actor = Actor::system(REUSE_DETECTION).with_request(source_ip, None, None);
        match self.source.revoke_reused(token, &actor, now).await {
            Ok(0) => {}
            Ok(revoked) => tracing::warn!(
                token = %token.display_prefix,
                org = %token.org,
                revoked,
                "a token rotated away was presented again: its lineage is revoked"
            ),
            Err(error) => {
                tracing::error!(%error, token = %token.display_prefix, "revoking a reused token's lineage failed");
            }
        }
    }

    /// [`Self::record_use`] at [`LAST_USED_INTERVAL`], for a caller that must not fail on it
    /// (the admin functions, the token endpoint): a failed write is logged. A token used only
    /// against the admin API or as a client secret is in use, so the lifecycle policy's
    /// retirement of unused tokens must see it.
    pub async fn note_use(&self, verified: &Verified) {
        if let Err(error) = self.record_use(verified, LAST_USED_INTERVAL).await {
            tracing::warn!(%error, "last-used write failed");
        }
    }

    /// Records that a verified token (and its account) was used now, unless that was recorded
    /// less than `interval` ago.
    pub async fn record_use(
        &self,
        verified: &Verified,
        interval: Duration,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let Some(token) = verified
            .records
            .token
            .as_ref()
            .filter(|token| use_is_due(token, now, interval))
        else {
            return Ok(false);
        };
        self.source.touch_last_used(token, now, interval).await?;
        Ok(true)
    }

    /// Whether [`Self::record_use`] would write: the token's last use was recorded `interval`
    /// ago or more (or never).
    pub fn use_is_due(&self, verified: &Verified, interval: Duration) -> bool {
        let now = self.clock.now();
        verified
            .records
            .token
            .as_ref()
            .is_some_and(|token| use_is_due(token, now, interval))
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
