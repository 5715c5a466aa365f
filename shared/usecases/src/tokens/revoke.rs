//! Revocation: a token and its whole lineage (the tokens it was rotated from and into, and
//! the OAuth2 access tokens issued for any of them), a lifecycle rule's revocation of a token
//! still due, and the revocation of every live token of an owner. Revoking a revoked token
//! runs the sweep again, so a sweep cut short is finished by repeating the request.

use shared::ids::{OrgId, TokenId};
use shared::model::{Actor, Token, TokenKind, TokenStatus};
use shared::token::TokenOwner;
use store::StoreError;
use time::OffsetDateTime;

use crate::{Caller, UseCaseError, UseCases};

impl UseCases {
    /// Revokes one token at once, and its lineage (see the [`tokens`](super) module's notes).
    /// It stays listed as revoked, with who and when, until its retention ends.
    pub async fn revoke_token(
        &self,
        caller: &Caller,
        org: &OrgId,
        owner: &TokenOwner,
        id: &TokenId,
    ) -> Result<(), UseCaseError> {
        caller.refuse_own_token(id)?;
        self.revoke_lineage(&caller.actor, org, owner, id).await
    }

    /// [`Self::revoke_token`]'s work, as `actor` (an admin, a leak's reporter).
    pub(crate) async fn revoke_lineage(
        &self,
        actor: &Actor,
        org: &OrgId,
        owner: &TokenOwner,
        id: &TokenId,
    ) -> Result<(), UseCaseError> {
        self.revoke_lineage_if(actor, None, org, owner, id, &|_| true)
            .await
            .map(|_| ())
    }

    /// [`Self::revoke_lineage`] for a rule (the lifecycle policy): `id` itself is revoked only
    /// if `due` still holds on the token as read just before its revocation is written, and
    /// with the rule's `reason`. Whether it was (or already was) revoked.
    pub(crate) async fn revoke_lineage_if(
        &self,
        actor: &Actor,
        reason: Option<&str>,
        org: &OrgId,
        owner: &TokenOwner,
        id: &TokenId,
        due: &(dyn Fn(&Token) -> bool + Send + Sync),
    ) -> Result<bool, UseCaseError> {
        let now = self.now();
        if self
            .revoke_now(actor, reason, due, org, owner, id, now)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let revoked = self
            .store
            .revoke_lineage(org, owner, id, actor, None, now, self.retention)
            .await?;
        if revoked > 0 {
            tracing::info!(token = %id, revoked, "revoked the rest of its lineage");
        }
        Ok(true)
    }

    /// Revokes `id` now unless its revocation is already in force; the token as stored, or
    /// `None` when `due` no longer holds on it.
    #[allow(clippy::too_many_arguments)]
    async fn revoke_now(
        &self,
        actor: &Actor,
        reason: Option<&str>,
        due: &(dyn Fn(&Token) -> bool + Send + Sync),
        org: &OrgId,
        owner: &TokenOwner,
        id: &TokenId,
        now: OffsetDateTime,
    ) -> Result<Option<Token>, UseCaseError> {
        for _attempt in 0..3 {
            let mut token = self.token(org, owner, id).await?;
            if token.status(now) == TokenStatus::Revoked {
                return Ok(Some(token));
            }
            if !due(&token) {
                return Ok(None);
            }
            token.revoke(actor.clone(), now, self.retention);
            token.revocation_reason = reason.map(str::to_owned);
            match self.store.update_token(&token).await {
                Ok(stored) => return Ok(Some(stored)),
                // Changed concurrently (rotated, warned, revoked): read it again and decide.
                Err(StoreError::VersionConflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(UseCaseError::Conflict(
            "the token keeps changing; retry".into(),
        ))
    }

    /// Revoking a client secret also revokes the OAuth2 access tokens issued for it, as of
    /// `at`: a revocation answers a leak, and a leaked secret's access tokens are just as
    /// leaked (at the end of a rotation's grace period, for a rotated secret). Access tokens
    /// that expire by then are left alone.
    pub(super) async fn revoke_access_tokens_issued_for(
        &self,
        secret: &Token,
        owner: &TokenOwner,
        actor: &Actor,
        at: OffsetDateTime,
    ) -> Result<(), UseCaseError> {
        if secret.kind != TokenKind::ServiceAccount {
            return Ok(());
        }
        let revoked = self
            .store
            .revoke_tokens_where(&secret.org, owner, actor, at, self.retention, |token| {
                token.kind == TokenKind::Access
                    && token.issued_for.as_ref() == Some(&secret.id)
                    && token.expires_at.is_none_or(|expiry| expiry > at)
            })
            .await?;
        if revoked > 0 {
            tracing::info!(client_secret = %secret.id, revoked, "revoked access tokens issued for it");
        }
        Ok(())
    }

    /// Revokes every live token of `owner` (access tokens included); how many it revoked.
    pub async fn revoke_all_tokens(
        &self,
        caller: &Caller,
        org: &OrgId,
        owner: &TokenOwner,
    ) -> Result<usize, UseCaseError> {
        caller.refuse_revoking_all(org, owner)?;
        Ok(self
            .store
            .revoke_tokens(org, owner, &caller.actor, self.now(), self.retention)
            .await?)
    }
}
