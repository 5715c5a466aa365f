//! An issuer's signing keys: its discovery document (`/.well-known/openid-configuration`) and
//! JWKS, fetched on first use and kept for the life of the container. A key id the cached set
//! does not hold refetches the JWKS, at most once per refresh interval per issuer, so a key
//! rotation is picked up at once while a flood of made-up key ids costs one fetch per interval.
//! Every URL the documents name is checked against the configured issuer ([`crate::fetch`]):
//! plain `http` only for a local issuer on a local run, never for a remote document naming
//! loopback.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde::Deserialize;

use crate::fetch::{FetchError, Fetcher};

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
    /// The last failure to discover the issuer: repeated, without a fetch, until the refresh
    /// interval is over, so an unreachable provider costs one timeout per interval.
    failed: Option<(Instant, KeyError)>,
}

#[derive(Debug)]
struct IssuerKeys {
    jwks_uri: String,
    endpoints: Option<Endpoints>,
    keys: JwkSet,
    fetched_at: Instant,
}

/// The keys of every issuer this container has seen.
#[derive(Debug)]
pub struct KeyCache {
    fetcher: Fetcher,
    refresh_interval: Duration,
    /// Per issuer, behind its own lock, so a slow provider delays only its own tokens.
    issuers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl KeyCache {
    pub fn new(fetcher: Fetcher, refresh_interval: Duration) -> Self {
        Self {
            fetcher,
            refresh_interval,
            issuers: Mutex::new(HashMap::new()),
        }
    }

    /// The key `kid` of `issuer` (a configured issuer, exactly).
    pub async fn key(&self, issuer: &str, kid: &str) -> Result<Jwk, KeyError> {
        let slot = {
            let mut issuers = self.issuers.lock().unwrap_or_else(|e| e.into_inner());
            issuers.entry(issuer.to_owned()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        let slot = &mut *slot;
        match slot.keys.as_mut() {
            None => {
                if let Some((at, error)) = &slot.failed
                    && at.elapsed() < self.refresh_interval
                {
                    return Err(error.clone());
                }
                let keys = match self.discover(issuer).await {
                    Ok(keys) => keys,
                    Err(error) => {
                        tracing::warn!(issuer, %error, "the issuer's keys could not be had");
                        slot.failed = Some((Instant::now(), error.clone()));
                        return Err(error);
                    }
                };
                let found = keys.keys.find(kid).cloned();
                slot.keys = Some(keys);
                slot.failed = None;
                found.ok_or_else(|| KeyError::UnknownKey(kid.to_owned()))
            }
            Some(cached) => {
                if let Some(key) = cached.keys.find(kid) {
                    return Ok(key.clone());
                }
                if cached.fetched_at.elapsed() < self.refresh_interval {
                    return Err(KeyError::UnknownKey(kid.to_owned()));
                }
                tracing::info!(
                    issuer,
                    kid,
                    "unknown key id: fetching the issuer's keys again"
                );
                // Whatever the outcome, no new fetch before the interval is over.
                cached.fetched_at = Instant::now();
                cached.keys = self.jwks(&cached.jwks_uri, issuer).await?;
                cached
                    .keys
                    .find(kid)
                    .cloned()
                    .ok_or_else(|| KeyError::UnknownKey(kid.to_owned()))
            }
        }
    }

    /// The issuer's sign-in endpoints, from its discovery document (fetched once, as for
    /// its keys).
    pub async fn endpoints(&self, issuer: &str) -> Result<Endpoints, KeyError> {
        let slot = {
            let mut issuers = self.issuers.lock().unwrap_or_else(|e| e.into_inner());
            issuers.entry(issuer.to_owned()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        if slot.keys.is_none() {
            if let Some((at, error)) = &slot.failed
                && at.elapsed() < self.refresh_interval
            {
                return Err(error.clone());
            }
            match self.discover(issuer).await {
                Ok(keys) => {
                    slot.keys = Some(keys);
                    slot.failed = None;
                }
                Err(error) => {
                    tracing::warn!(issuer, %error, "the issuer could not be discovered");
                    slot.failed = Some((Instant::now(), error.clone()));
                    return Err(error);
                }
            }
        }
        slot.keys
            .as_ref()
            .and_then(|keys| keys.endpoints.clone())
            .ok_or(KeyError::NoSignInEndpoints)
    }

    /// The fetcher, for the token endpoint's POST.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    async fn discover(&self, issuer: &str) -> Result<IssuerKeys, KeyError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self.fetcher.json(&url, issuer, MAX_DOCUMENT_BYTES).await?;
        // OpenID Connect Discovery §4.3: the issuer in the document is exactly the one asked.
        if discovery.issuer != issuer {
            return Err(KeyError::IssuerMismatch {
                configured: issuer.to_owned(),
                discovered: discovery.issuer,
            });
        }
        self.fetcher.check(&discovery.jwks_uri, issuer)?;
        let fetched_at = Instant::now();
        let keys = self.jwks(&discovery.jwks_uri, issuer).await?;
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
        Ok(IssuerKeys {
            jwks_uri: discovery.jwks_uri,
            endpoints,
            keys,
            fetched_at,
        })
    }

    /// The key set at `url`, for `issuer`.
    async fn jwks(&self, url: &str, issuer: &str) -> Result<JwkSet, KeyError> {
        Ok(self.fetcher.json(url, issuer, MAX_DOCUMENT_BYTES).await?)
    }
}
