//! The verifier's per-container caches: their settings ([`CacheSettings`]), the refused
//! tokens (the negative cache), the records of valid tokens (the positive cache) and the
//! owners' records (the owner cache), and how the verification path reads through and
//! updates them.

use std::collections::HashMap;
use std::sync::Arc;

use shared::authn::{AuthorizationRecords, Denial, Principal, Unauthenticated};
use shared::config::{ConfigError, bounded, seconds};
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::{Organization, ServiceAccount};
use shared::token::ParsedToken;
use store::{StoreError, Wanted};
use time::{Duration, OffsetDateTime};

use super::{RecordSource, Verifier};

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

pub(super) type Key = [u8; 32];

/// A record as read at a time (`None`: it did not exist).
#[derive(Debug, Clone)]
struct Read<T> {
    at: OffsetDateTime,
    record: Option<T>,
}

#[derive(Debug, Default)]
pub(super) struct Caches {
    /// Tokens that can never become valid again, with the reason. Keys are hashes, never
    /// tokens.
    pub(super) refused: HashMap<Key, Unauthenticated>,
    /// The records of valid tokens, with when they were read.
    pub(super) records: HashMap<Key, (OffsetDateTime, AuthorizationRecords)>,
    /// Organizations and accounts, reused for the owner TTL while the token is read every
    /// time: one read of each per container and TTL, however many requests use them.
    orgs: HashMap<OrgId, Read<Arc<Organization>>>,
    accounts: HashMap<(OrgId, ServiceAccountId), Read<Arc<ServiceAccount>>>,
}

impl<S: RecordSource> Verifier<S> {
    /// The most records the positive cache holds before it starts over.
    const MAX_CACHED_RECORDS: usize = 10_000;

    /// The records of `presented`: the token read every time (consistently); its
    /// organization's and account's from the owner cache when they were read less than the
    /// owner TTL ago, else read with it (and cached).
    pub(super) async fn read(
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

    /// Updates the caches after a decision. Records are cached only when they were just read,
    /// so the positive TTL counts from the read and a token in constant use still sees a
    /// revocation within it.
    pub(super) fn remember(
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

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Caches> {
        self.caches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
