//! The signature on a GitHub secret-scanning report: ECDSA P-256 with SHA-256 over the raw
//! body, by the key named in `Github-Public-Key-Identifier`, given base64 (of its DER form) in
//! `Github-Public-Key-Signature`. The keys are GitHub's published set
//! (`{"public_keys": [{"key_identifier", "key" (PEM), "is_current"}]}`, at
//! [`GITHUB_KEYS_URL`] unless configured otherwise):
//!
//! * **Current keys only.** GitHub signs with its current key; a key it lists with
//!   `is_current: false` is retired, and a report under it is refused ([`SignatureError::RetiredKey`]),
//!   as PyPI's partner endpoint refuses it. A retired key signs nothing legitimate any more;
//!   whoever still holds it (a leak is why keys are retired) could only forge reports, and
//!   revoke people's tokens with them. GitHub retries a refused report, signed anew.
//! * **A bounded age.** The set is fetched on first use and trusted for an hour
//!   ([`MAX_KEYS_AGE`]); then it is fetched again, so a withdrawn or retired key stops being
//!   trusted. If that refetch fails, the set in hand serves for at most [`STALE_GRACE`] more
//!   (GitHub's API limits unauthenticated calls, and a blip should not refuse every report),
//!   then reports are refused with 503 (GitHub retries) until GitHub answers.
//! * **Unknown key ids** refetch the set at most once per refresh interval, so a new key is
//!   picked up at once while a flood of made-up key ids costs one fetch per interval.
//!
//! The curve arithmetic and the DER and PEM decoding are the `p256` crate's (RustCrypto),
//! never hand-written.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde::Deserialize;

use crate::fetch::{FetchError, Fetcher};

/// Where GitHub publishes the keys it signs secret-scanning reports with.
pub const GITHUB_KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";
/// The largest key document read.
pub const MAX_KEYS_BYTES: usize = 64 * 1024;
/// The longest key id and signature header values looked at.
const MAX_KEY_ID_CHARS: usize = 256;
const MAX_SIGNATURE_CHARS: usize = 256;
/// How often an unknown key id may refetch the key set, at most.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// How long a fetched key set is trusted before it is fetched again.
pub const MAX_KEYS_AGE: Duration = Duration::from_secs(3600);
/// How long past its age the set in hand still serves while GitHub cannot be reached.
pub const STALE_GRACE: Duration = Duration::from_secs(3600);

/// Why a report's signature was not accepted. The texts name the rule, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request is not signed (no key id or no signature)")]
    Unsigned,
    #[error("the key id or the signature is not well-formed")]
    Malformed,
    #[error("the signer has published no such key")]
    UnknownKey,
    /// The signer lists the key as retired (`is_current: false`).
    #[error("the signer has retired this key")]
    RetiredKey,
    #[error("the signature does not match the body")]
    Mismatch,
    /// The keys could not be had (the caller fails closed, and the sender retries).
    #[error("the signer's keys could not be had: {0}")]
    Unavailable(FetchError),
}

#[derive(Debug, Deserialize)]
struct KeyDocument {
    public_keys: Vec<PublishedKey>,
}

#[derive(Debug, Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
    /// Absent counts as retired: only a key the signer calls current is trusted.
    #[serde(default)]
    is_current: bool,
}

/// The published set, as trusted.
#[derive(Debug, Default)]
struct KeySet {
    /// The current keys, by id.
    current: HashMap<String, VerifyingKey>,
    /// The ids listed as retired.
    retired: HashSet<String>,
}

#[derive(Debug, Default)]
struct Cached {
    keys: KeySet,
    /// When a fetch was last tried (whatever came of it): no new fetch for an unknown key id
    /// or after a failure before the refresh interval is over.
    fetched_at: Option<Instant>,
    /// When the set in hand was fetched.
    fetched_ok_at: Option<Instant>,
    /// The last failure, repeated without a fetch until the interval is over.
    failed: Option<FetchError>,
}

/// A signer's published keys, cached.
#[derive(Debug)]
pub struct ReportKeys {
    fetcher: Fetcher,
    url: String,
    refresh_interval: Duration,
    max_age: Duration,
    stale_grace: Duration,
    cached: tokio::sync::Mutex<Cached>,
}

impl ReportKeys {
    /// The keys published at `url` (an https URL; plain http only to loopback on a local
    /// run, see [`Fetcher::allowing_local`]), fetched by `fetcher`, refetched for an unknown
    /// key id at most once per `refresh_interval`, aged by [`MAX_KEYS_AGE`] and
    /// [`STALE_GRACE`].
    pub fn new(
        fetcher: Fetcher,
        url: &str,
        refresh_interval: Duration,
    ) -> Result<Self, FetchError> {
        fetcher.check(url, url)?;
        Ok(Self {
            fetcher,
            url: url.to_owned(),
            refresh_interval,
            max_age: MAX_KEYS_AGE,
            stale_grace: STALE_GRACE,
            cached: tokio::sync::Mutex::new(Cached::default()),
        })
    }

    /// These keys, trusted for `max_age` and, while the signer cannot be reached, for
    /// `stale_grace` more.
    #[must_use]
    pub fn with_ages(mut self, max_age: Duration, stale_grace: Duration) -> Self {
        self.max_age = max_age;
        self.stale_grace = stale_grace;
        self
    }

    /// GitHub's published keys ([`GITHUB_KEYS_URL`]), refetched for an unknown key id at
    /// most once per [`REFRESH_INTERVAL`].
    pub fn github(fetcher: Fetcher) -> Self {
        Self {
            fetcher,
            url: GITHUB_KEYS_URL.to_owned(),
            refresh_interval: REFRESH_INTERVAL,
            max_age: MAX_KEYS_AGE,
            stale_grace: STALE_GRACE,
            cached: tokio::sync::Mutex::new(Cached::default()),
        }
    }

    /// Checks that `signature` (base64 of an ASN.1 DER ECDSA signature) is the key `key_id`'s
    /// over exactly `body`. The header values are checked for shape before any key is looked
    /// up, so garbage costs no fetch.
    pub async fn verify(
        &self,
        key_id: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let (Some(key_id), Some(signature)) = (key_id, signature) else {
            return Err(SignatureError::Unsigned);
        };
        let key_id = key_id.trim();
        if key_id.is_empty()
            || key_id.len() > MAX_KEY_ID_CHARS
            || !key_id.bytes().all(|b| b.is_ascii_graphic())
            || signature.len() > MAX_SIGNATURE_CHARS
        {
            return Err(SignatureError::Malformed);
        }
        let der = STANDARD
            .decode(signature.trim())
            .map_err(|_| SignatureError::Malformed)?;
        let signature = Signature::from_der(&der).map_err(|_| SignatureError::Malformed)?;
        let key = self.key(key_id).await?;
        key.verify(body, &signature)
            .map_err(|_| SignatureError::Mismatch)
    }

    async fn key(&self, key_id: &str) -> Result<VerifyingKey, SignatureError> {
        let mut cached = self.cached.lock().await;
        let now = Instant::now();
        let age = |cached: &Cached| {
            cached
                .fetched_ok_at
                .map(|at| now.saturating_duration_since(at))
        };
        let fresh = age(&cached).is_some_and(|age| age < self.max_age);
        if fresh {
            if let Some(key) = cached.keys.current.get(key_id) {
                return Ok(*key);
            }
            if cached.keys.retired.contains(key_id) {
                return Err(SignatureError::RetiredKey);
            }
        }
        // An unknown key id in a fresh set, or a set that failed: once per interval. A set
        // older than its age that was fetched fine: at once.
        let may_fetch = (!fresh && cached.failed.is_none())
            || cached
                .fetched_at
                .is_none_or(|at| now.saturating_duration_since(at) >= self.refresh_interval);
        if may_fetch {
            tracing::info!(url = %self.url, "fetching the secret-scanning signer's keys");
            cached.fetched_at = Some(now);
            match self.fetch().await {
                Ok(keys) => {
                    cached.keys = keys;
                    cached.fetched_ok_at = Some(now);
                    cached.failed = None;
                }
                Err(error) => {
                    tracing::warn!(%error, "the secret-scanning signer's keys could not be had");
                    cached.failed = Some(error);
                }
            }
        }
        // The set in hand: fresh, or within the grace while the signer fails.
        let usable = age(&cached).is_some_and(|age| {
            age < self.max_age
                || (cached.failed.is_some() && age < self.max_age.saturating_add(self.stale_grace))
        });
        let refused = |cached: &Cached, otherwise| match &cached.failed {
            Some(error) => SignatureError::Unavailable(error.clone()),
            None => otherwise,
        };
        if !usable {
            return Err(refused(&cached, SignatureError::UnknownKey));
        }
        if let Some(key) = cached.keys.current.get(key_id) {
            return Ok(*key);
        }
        if cached.keys.retired.contains(key_id) {
            return Err(SignatureError::RetiredKey);
        }
        Err(refused(&cached, SignatureError::UnknownKey))
    }

    /// The published set: every well-formed P-256 key by its id, current or retired (a key
    /// that is not one is left out and logged, so one bad entry cannot take the others
    /// down).
    async fn fetch(&self) -> Result<KeySet, FetchError> {
        let document: KeyDocument = self
            .fetcher
            .json(&self.url, &self.url, MAX_KEYS_BYTES)
            .await?;
        let mut keys = KeySet::default();
        for published in document.public_keys {
            if !published.is_current {
                keys.retired.insert(published.key_identifier);
                continue;
            }
            match VerifyingKey::from_public_key_pem(published.key.trim()) {
                Ok(key) => {
                    keys.current.insert(published.key_identifier, key);
                }
                Err(_) => tracing::warn!(
                    key_id = %published.key_identifier,
                    "a published key is not a P-256 public key in PEM: left out"
                ),
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> ReportKeys {
        // Nothing listens on port 9: a lookup that gets as far as a fetch fails, fast.
        ReportKeys::new(
            Fetcher::new(Duration::from_millis(500)).allowing_local(),
            "http://127.0.0.1:9/keys",
            Duration::from_secs(60),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn headers_are_checked_before_any_key_is_fetched() {
        let keys = keys();
        let body = b"[]";
        assert_eq!(
            keys.verify(None, Some("MEUC"), body).await,
            Err(SignatureError::Unsigned)
        );
        assert_eq!(
            keys.verify(Some("k"), None, body).await,
            Err(SignatureError::Unsigned)
        );
        for (id, signature) in [
            ("", "MEUC"),
            ("a b", "MEUC"),
            ("k", "not base64!"),
            ("k", "AAAA"),
            ("k", &"A".repeat(400)),
        ] {
            assert_eq!(
                keys.verify(Some(id), Some(signature), body).await,
                Err(SignatureError::Malformed),
                "{id:?} {signature:?}"
            );
        }
        assert!(keys.cached.lock().await.fetched_at.is_none());
    }

    #[test]
    fn only_checked_urls_are_accepted() {
        let fetcher = Fetcher::new(Duration::from_secs(1));
        let local = fetcher.clone().allowing_local();
        for url in ["http://example.com/keys", "http://127.0.0.1:9001/keys"] {
            assert!(
                ReportKeys::new(fetcher.clone(), url, Duration::ZERO).is_err(),
                "{url}"
            );
        }
        assert!(ReportKeys::new(local.clone(), "http://example.com/keys", Duration::ZERO).is_err());
        assert!(ReportKeys::new(local, "http://127.0.0.1:9001/keys", Duration::ZERO).is_ok());
        assert!(ReportKeys::new(fetcher, GITHUB_KEYS_URL, Duration::ZERO).is_ok());
    }
}
