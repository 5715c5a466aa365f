//! Revocation sweeps: every token of an owner, or those a predicate selects.

use futures_util::StreamExt;
use shared::ids::OrgId;
use shared::model::{Actor, Token};
use shared::token::TokenOwner;
use time::OffsetDateTime;

use crate::items::TokenListScope;
use crate::paging::PageLimit;
use crate::{DynamoStore, StoreError};

impl DynamoStore {
    /// Revokes every token of `owner` that is not revoked yet, as `actor`, keeping each
    /// record for `retention`. A token changed concurrently (its last-used time, say) is
    /// re-read and revoked again. Returns how many tokens this call revoked.
    pub async fn revoke_tokens(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        actor: &Actor,
        at: OffsetDateTime,
        retention: time::Duration,
    ) -> Result<usize, StoreError> {
        self.revoke_tokens_where(org, owner, actor, at, retention, |_| true)
            .await
    }

    /// [`Self::revoke_tokens`], for the tokens of `owner` that `which` selects.
    pub async fn revoke_tokens_where(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        actor: &Actor,
        at: OffsetDateTime,
        retention: time::Duration,
        which: impl Fn(&Token) -> bool,
    ) -> Result<usize, StoreError> {
        let scope = TokenListScope::Owner(owner.clone());
        let mut revoked = 0;
        // A token can appear while a pass runs (a self-rotation that committed just before
        // its parent was revoked): passes repeat until one finds nothing left to revoke.
        for _pass in 0..Self::REVOKE_PASSES {
            let mut revoked_this_pass = 0;
            let mut cursor = None;
            loop {
                let page = self
                    .list_tokens(org, &scope, PageLimit(PageLimit::MAX), cursor.as_deref())
                    .await?;
                // A page's revocations run side by side (a bounded number at a time), so a
                // sweep of many tokens is a few round trips, not one per token.
                let outcomes: Vec<Result<bool, StoreError>> =
                    futures_util::stream::iter(page.items.into_iter().filter(|token| which(token)))
                        .map(|token| self.revoke_one(org, owner, token, actor, at, retention))
                        .buffer_unordered(Self::REVOKE_CONCURRENCY)
                        .collect()
                        .await;
                for outcome in outcomes {
                    if outcome? {
                        revoked_this_pass += 1;
                    }
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            if revoked_this_pass == 0 {
                return Ok(revoked);
            }
            revoked += revoked_this_pass;
        }
        Err(StoreError::VersionConflict {
            entity: "token",
            expected: 0,
        })
    }

    /// Revokes `token` unless it is revoked already; re-reads it after a concurrent change.
    /// Whether this call revoked it.
    pub(crate) async fn revoke_one(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        mut token: Token,
        actor: &Actor,
        at: OffsetDateTime,
        retention: time::Duration,
    ) -> Result<bool, StoreError> {
        for _attempt in 0..5 {
            if token.revoked_at.is_some_and(|earlier| earlier <= at) {
                return Ok(false);
            }
            token.revoke(actor.clone(), at, retention);
            match self.update_token(&token).await {
                Ok(_) => return Ok(true),
                Err(StoreError::VersionConflict { .. }) => {
                    match self.get_token(org, owner, &token.id).await? {
                        Some(fresh) => token = fresh,
                        None => return Ok(false),
                    }
                }
                Err(StoreError::NotFound { .. }) => return Ok(false),
                Err(error) => return Err(error),
            }
        }
        // Still changing after five tries: say so rather than leave it silently active.
        Err(StoreError::VersionConflict {
            entity: "token",
            expected: token.version,
        })
    }
}
