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

//!
//! | module | holds |
//! | --- | --- |
//! | this one | the [`Verifier`] and its decision path, [`Verified`], [`VerifyError`], the last-used writes |
//! | `source` | [`RecordSource`]: where the records are read (the store), and a reuse's revocation |
//! | `cache` | [`CacheSettings`] and the per-container caches the path reads through |

mod cache;
mod source;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use shared::authn::{AuthorizationRecords, Denial, Principal, Unauthenticated, authenticate};
use shared::clock::Clock;
use shared::model::{Actor, Token};
use shared::token::{ParsedToken, TokenFormat, TokenFormatError, TokenSecret, bearer};
use store::{DynamoStore, StoreError};
use time::{Duration, OffsetDateTime};

use self::cache::{Caches, Key};
use crate::UseCaseError;

pub use self::cache::CacheSettings;
pub use self::source::RecordSource;

/// The system actor's id when a reuse revokes a lineage.
pub const REUSE_DETECTION: &str = "reuse-detection";

/// How often the admin functions and the token endpoint write a token's last-used time, at
/// most (the authorizer's `LAST_USED_INTERVAL_SECONDS` default).
pub const LAST_USED_INTERVAL: Duration = Duration::minutes(5);

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
}
