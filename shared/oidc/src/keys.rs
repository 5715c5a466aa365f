//! An issuer's signing keys: its discovery document (`/.well-known/openid-configuration`) and
//! JWKS, fetched on first use and trusted only for a bounded age, so a key the issuer
//! withdraws (compromised, rotated out) stops verifying within that age.
//!
//! * **Age**: the JWKS answer's `Cache-Control` (`max-age`; `no-cache` and `no-store` count as
//!   zero) within [`KeyCacheLimits::min_age`] and [`KeyCacheLimits::max_age`] (one minute,
//!   one hour), else [`KeyCacheLimits::default_age`] (five minutes). An older set is replaced
//!   by discovery and JWKS fetched again (discovery too, so a moved `jwks_uri` or endpoint is
//!   followed).
//! * **Unknown key ids** refetch too, at most once per refresh interval per issuer, so a key
//!   rotation is picked up at once while a flood of made-up key ids costs one fetch per
//!   interval.
//! * **Failures** (unreachable, slow, too large, not JSON, another issuer) are remembered for
//!   the refresh interval: callers are refused at once instead of each waiting for a timeout.
//!   When the refetch of a set older than its age fails, the set in hand still serves for
//!   [`KeyCacheLimits::stale_grace`] (five minutes), then its issuer's tokens are refused (fail
//!   closed) until it answers: a blip does not sign everyone out, and a withdrawn key outlives
//!   its withdrawal by at most its age and the grace, and the grace only while the issuer
//!   cannot be reached (a set it does answer replaces the old one at once).
//! * **Bounds**: at most [`KeyCacheLimits::max_issuers`] issuers and
//!   [`KeyCacheLimits::max_bytes`] of their documents; the least recently used is forgotten
//!   first ([`crate::slots`]). Each issuer has its own lock, so a slow provider delays only
//!   its own tokens.
//! * **Plain http** only for a local issuer on a local run ([`crate::fetch`]): the documents'
//!   URLs are checked against the configured issuer, never trusted for naming loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde::Deserialize;

use crate::fetch::{Document, FetchError, Fetcher};
use crate::slots::Slots;

/// The largest discovery document and JWKS read.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Why no key could be had for a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The provider's documents could not be read (the caller fails closed).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The discovery document names another issuer than the one configured.
    #[error("the discovery document of {configured} names the issuer {discovered}")]
    IssuerMismatch {
        configured: String,
        discovered: String,
    },
    /// No key with this id, even in a freshly fetched set (or a fetch was made too recently).
    #[error("the issuer has no key `{0}`")]
    UnknownKey(String),
    /// The discovery document names no usable authorization or token endpoint.
    #[error("the issuer's discovery document names no authorization and token endpoints")]
    NoSignInEndpoints,
}

/// How long key sets are trusted, and how much the cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyCacheLimits {
    /// The shortest a key set is kept, whatever its `Cache-Control` says.
    pub min_age: Duration,
    /// The longest a key set is trusted, whatever its `Cache-Control` says.
    pub max_age: Duration,
    /// A key set's age when its answer says nothing.
    pub default_age: Duration,
    /// How long past its age a set still serves while its issuer cannot be reached.
    pub stale_grace: Duration,
    /// The most issuers remembered at once.
    pub max_issuers: usize,
    /// The most bytes of their documents (discovery and JWKS, as fetched) remembered at once.
    pub max_bytes: usize,
}

impl KeyCacheLimits {
    pub const DEFAULT: Self = Self {
        min_age: Duration::from_secs(60),
        max_age: Duration::from_secs(3600),
        default_age: Duration::from_secs(300),
        stale_grace: Duration::from_secs(300),
        max_issuers: 256,
        max_bytes: 4 * 1024 * 1024,
    };

    /// The age of a set whose answer said `max_age` (`Cache-Control`), within the bounds.
    /// (Not `clamp`, which panics on bounds the wrong way round.)
    fn age(&self, max_age: Option<Duration>) -> Duration {
        max_age
            .unwrap_or(self.default_age)
            .max(self.min_age)
            .min(self.max_age)
    }
}

impl Default for KeyCacheLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
    #[serde(default)]
    authorization_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint: Option<String>,
}

/// Where a person signs in with an issuer (authorization code flow), from its discovery
/// document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
}

/// What is known of one issuer.
#[derive(Debug, Default)]
struct Slot {
    keys: Option<IssuerKeys>,
    /// When a fetch was last tried, whatever came of it.
    tried_at: Option<Instant>,
    /// Why the last try failed, if it did: repeated without a fetch until the refresh
    /// interval is over, so an unreachable provider costs one timeout per interval.
    failed: Option<KeyError>,
}

#[derive(Debug)]
struct IssuerKeys {
    endpoints: Option<Endpoints>,
    keys: JwkSet,
    /// When the fetch that got them started.
    fetched_at: Instant,
    /// How long they are trusted.
    age: Duration,
}

impl Slot {
    /// The keys, if they are younger than their age.
    fn fresh(&self, now: Instant) -> Option<&IssuerKeys> {
        self.keys
            .as_ref()
            .filter(|keys| now.saturating_duration_since(keys.fetched_at) < keys.age)
    }

    /// The keys that may verify now: fresh ones, or, while the issuer cannot be reached,
    /// older ones within the grace.
    fn usable(&self, now: Instant, grace: Duration) -> Option<&IssuerKeys> {
        self.keys.as_ref().filter(|keys| {
            let age = now.saturating_duration_since(keys.fetched_at);
            age < keys.age || (self.failed.is_some() && age < keys.age.saturating_add(grace))
        })
    }

    /// Whether to fetch now: a set older than its age that was fetched fine is fetched again
    /// at once; after a failure, and for an unknown key id in a fresh set, once per
    /// `interval`.
    fn should_fetch(&self, now: Instant, interval: Duration, unknown_key: bool) -> bool {
        let stale = self.fresh(now).is_none();
        if !stale && !unknown_key {
            return false;
        }
        (stale && self.failed.is_none())
            || self
                .tried_at
                .is_none_or(|at| now.saturating_duration_since(at) >= interval)
    }

    /// The answer when nothing usable holds what was asked for.
    fn refusal(&self, otherwise: KeyError) -> KeyError {
        self.failed.clone().unwrap_or(otherwise)
    }
}

type SharedSlot = tokio::sync::Mutex<Slot>;

/// The keys of the issuers this container has seen (see the module's rules).
#[derive(Debug)]
pub struct KeyCache {
    fetcher: Fetcher,
    refresh_interval: Duration,
    limits: KeyCacheLimits,
    issuers: Slots<SharedSlot>,
}

impl KeyCache {
    /// A cache fetching with `fetcher`, refetching for unknown key ids and after failures at
    /// most once per `refresh_interval`, with the [`KeyCacheLimits::DEFAULT`] ages and bounds.
    pub fn new(fetcher: Fetcher, refresh_interval: Duration) -> Self {
        Self::with_limits(fetcher, refresh_interval, KeyCacheLimits::DEFAULT)
    }

    /// [`Self::new`], with other ages and bounds.
    pub fn with_limits(
        fetcher: Fetcher,
        refresh_interval: Duration,
        limits: KeyCacheLimits,
    ) -> Self {
        Self {
            fetcher,
            refresh_interval,
            limits,
            issuers: Slots::new(limits.max_issuers, limits.max_bytes),
        }
    }

    /// How many issuers are remembered now.
    pub fn issuers(&self) -> usize {
        self.issuers.len()
    }

    /// How many bytes of documents are remembered now.
    pub fn bytes(&self) -> usize {
        self.issuers.bytes()
    }

    /// The key `kid` of `issuer` (a configured issuer, exactly).
    pub async fn key(&self, issuer: &str, kid: &str) -> Result<Jwk, KeyError> {
        let shared = self.issuers.get(issuer);
        let mut slot = shared.lock().await;
        let now = Instant::now();
        if let Some(key) = slot.fresh(now).and_then(|keys| keys.keys.find(kid)) {
            return Ok(key.clone());
        }
        if slot.should_fetch(now, self.refresh_interval, true) {
            if slot.fresh(now).is_some() {
                tracing::info!(
                    issuer,
                    kid,
                    "unknown key id: fetching the issuer's keys again"
                );
            }
            self.refresh(issuer, &shared, &mut slot).await;
        }
        let unknown = || KeyError::UnknownKey(kid.to_owned());
        match slot.usable(Instant::now(), self.limits.stale_grace) {
            Some(keys) => match keys.keys.find(kid) {
                Some(key) => Ok(key.clone()),
                None => Err(slot.refusal(unknown())),
            },
            None => Err(slot.refusal(unknown())),
        }
    }

    /// The issuer's sign-in endpoints, from its discovery document (fetched and aged with its
    /// keys).
    pub async fn endpoints(&self, issuer: &str) -> Result<Endpoints, KeyError> {
        let shared = self.issuers.get(issuer);
        let mut slot = shared.lock().await;
        if slot.should_fetch(Instant::now(), self.refresh_interval, false) {
            self.refresh(issuer, &shared, &mut slot).await;
        }
        match slot.usable(Instant::now(), self.limits.stale_grace) {
            Some(keys) => keys.endpoints.clone().ok_or(KeyError::NoSignInEndpoints),
            None => Err(slot.refusal(KeyError::NoSignInEndpoints)),
        }
    }

    /// The fetcher, for the token endpoint's POST.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// Fetches discovery and keys again into `slot`, the state of `issuer` (`shared`); on
    /// failure, the keys in hand are kept for the grace and the failure is remembered.
    async fn refresh(&self, issuer: &str, shared: &Arc<SharedSlot>, slot: &mut Slot) {
        let started = Instant::now();
        slot.tried_at = Some(started);
        match self.discover(issuer, started).await {
            Ok((keys, bytes)) => {
                slot.keys = Some(keys);
                slot.failed = None;
                self.issuers.set_bytes(issuer, shared, bytes);
            }
            Err(error) => {
                tracing::warn!(issuer, %error, "the issuer's keys could not be had");
                slot.failed = Some(error);
            }
        }
    }

    /// The issuer's discovery document and keys, fetched now (`started`), and their size.
    async fn discover(
        &self,
        issuer: &str,
        started: Instant,
    ) -> Result<(IssuerKeys, usize), KeyError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let discovery: Document<Discovery> = self
            .fetcher
            .document(&url, issuer, MAX_DOCUMENT_BYTES)
            .await?;
        let bytes = discovery.bytes;
        let discovery = discovery.value;
        // OpenID Connect Discovery §4.3: the issuer in the document is exactly the one asked.
        if discovery.issuer != issuer {
            return Err(KeyError::IssuerMismatch {
                configured: issuer.to_owned(),
                discovered: discovery.issuer,
            });
        }
        let jwks: Document<JwkSet> = self
            .fetcher
            .document(&discovery.jwks_uri, issuer, MAX_DOCUMENT_BYTES)
            .await?;
        let endpoints = match (discovery.authorization_endpoint, discovery.token_endpoint) {
            (Some(authorization), Some(token))
                if self.fetcher.check(&authorization, issuer).is_ok()
                    && self.fetcher.check(&token, issuer).is_ok() =>
            {
                Some(Endpoints {
                    authorization,
                    token,
                })
            }
            _ => None,
        };
        let keys = IssuerKeys {
            endpoints,
            keys: jwks.value,
            fetched_at: started,
            age: self.limits.age(jwks.max_age),
        };
        Ok((keys, bytes.saturating_add(jwks.bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sets_age_is_its_cache_control_within_the_bounds() {
        let limits = KeyCacheLimits::DEFAULT;
        let secs = Duration::from_secs;
        assert_eq!(limits.age(None), secs(300));
        assert_eq!(limits.age(Some(Duration::ZERO)), secs(60));
        assert_eq!(limits.age(Some(secs(900))), secs(900));
        assert_eq!(limits.age(Some(secs(86_400))), secs(3600));
        // Bounds the wrong way round: the maximum wins, and nothing panics.
        let odd = KeyCacheLimits {
            min_age: secs(600),
            max_age: secs(60),
            ..limits
        };
        assert_eq!(odd.age(None), secs(60));
    }

    #[test]
    fn a_fresh_set_is_fetched_again_only_for_an_unknown_key_and_once_per_interval() {
        let now = Instant::now();
        let interval = Duration::from_secs(30);
        let mut slot = Slot {
            keys: Some(IssuerKeys {
                endpoints: None,
                keys: JwkSet { keys: Vec::new() },
                fetched_at: now,
                age: Duration::from_secs(300),
            }),
            tried_at: Some(now),
            failed: None,
        };
        let later = |secs| now + Duration::from_secs(secs);
        assert!(!slot.should_fetch(later(10), interval, false));
        assert!(!slot.should_fetch(later(10), interval, true));
        assert!(slot.should_fetch(later(40), interval, true));
        assert!(!slot.should_fetch(later(40), interval, false));
        // Older than its age: at once, without waiting for the interval.
        assert!(slot.should_fetch(later(300), interval, false));
        // A failed refetch: the set serves within the grace, refetched once per interval.
        slot.tried_at = Some(later(300));
        slot.failed = Some(KeyError::NoSignInEndpoints);
        let grace = Duration::from_secs(300);
        assert!(slot.usable(later(310), grace).is_some());
        assert!(!slot.should_fetch(later(310), interval, false));
        assert!(slot.should_fetch(later(331), interval, false));
        assert!(slot.usable(later(600), grace).is_none());
        // Without a failure, an old set is not usable at all.
        slot.failed = None;
        assert!(slot.usable(later(310), grace).is_none());
    }
}
