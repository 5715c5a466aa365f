//! Where the verifier reads the records a decision needs: the [`RecordSource`] port, and the
//! store's implementation of it (with the revocation of a reused token's lineage).

use std::fmt;
use std::future::Future;

use shared::authn::AuthorizationRecords;
use shared::model::{Actor, Token};
use shared::token::{ParsedToken, TokenOwner};
use store::{DynamoStore, StoreError, Wanted};
use time::{Duration, OffsetDateTime};

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
