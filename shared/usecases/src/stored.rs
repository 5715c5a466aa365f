//! Reads of items as they are stored, deleted accounts and revoked tokens included, and the
//! verification path over the store: for the edges that must tell "done, then undone" from
//! "never done" (a custom resource's retried request, a rotation step repeated by Secrets
//! Manager), and the verification path over the store (the functions' verifiers, warmed up
//! at start-up).

use std::sync::Arc;

use shared::ids::{OrgId, ServiceAccountId, TokenId};
use shared::model::{ServiceAccount, Token};
use shared::token::TokenOwner;

use crate::verify::{CacheSettings, Verifier};
use crate::{Store, UseCaseError, UseCases};

impl UseCases {
    /// The account as stored, deleted or not (`None`: never made, or its retention ended).
    pub async fn stored_account(
        &self,
        org: &OrgId,
        id: &ServiceAccountId,
    ) -> Result<Option<ServiceAccount>, UseCaseError> {
        Ok(self.store.get_account(org, id).await?)
    }

    /// The token as stored, revoked or not (`None`: never minted, or its retention ended).
    pub async fn stored_token(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        id: &TokenId,
    ) -> Result<Option<Token>, UseCaseError> {
        Ok(self.store.get_token(org, owner, id).await?)
    }

    /// The one verification path over this store, with the caches of `settings`.
    pub fn verifier(&self, settings: CacheSettings) -> Verifier<Store> {
        Verifier::new(
            self.store.clone(),
            Arc::clone(&self.clock),
            self.token_format.clone(),
            settings,
        )
    }
}

impl Verifier<Store> {
    /// One throwaway read, during a function's init, so that its first request does not pay
    /// for DNS, TLS and credential loading. A failure is only logged: the first request
    /// retries for real.
    pub async fn warm_up(&self) {
        if let Ok(org) = OrgId::parse("warm-up")
            && let Err(error) = self.source().get_org(&org).await
        {
            tracing::warn!(%error, "warm-up read failed");
        }
    }
}
