//! Minting: a token for an account or for the organization itself, its lifetime resolved
//! against the organization's policy and its scopes kept within what the owner holds; and a
//! token's text generated before it is stored, for a caller that must keep it first.

use shared::ids::OrgId;
use shared::model::{AccountStatus, NewToken, Organization, Token, TokenKind};
use shared::policy::{PolicyViolation, TokenLifetime};
use shared::token::{ParsedToken, TokenOwner};

use super::{MintRequest, Minted};
use crate::{Caller, UseCaseError, UseCases};

impl UseCases {
    /// Mints a token for `owner` (an account of `org`, or the organization itself).
    pub async fn mint_token(
        &self,
        caller: &Caller,
        org: &Organization,
        owner: &TokenOwner,
        request: MintRequest,
    ) -> Result<Minted, UseCaseError> {
        let parsed = self.generate_token(&org.id, owner)?;
        self.mint_prepared(caller, org, owner, request, parsed)
            .await
    }

    /// A new token's text for `owner` in `org`, not yet stored: for a caller that must keep
    /// it somewhere (a Secrets Manager secret) before the store knows it, so that a retry
    /// stores the same token rather than a second one.
    pub fn generate_token(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
    ) -> Result<ParsedToken, UseCaseError> {
        ParsedToken::generate(&self.token_format, org, owner.clone())
            .map_err(|error| UseCaseError::internal("generating a token", &error))
    }

    /// [`Self::mint_token`] storing `parsed` (made by [`Self::generate_token`] for the same
    /// organization and owner). A token already stored is a conflict.
    pub async fn mint_prepared(
        &self,
        caller: &Caller,
        org: &Organization,
        owner: &TokenOwner,
        request: MintRequest,
        parsed: ParsedToken,
    ) -> Result<Minted, UseCaseError> {
        if parsed.org() != &org.id || parsed.owner() != owner {
            return Err(UseCaseError::Internal(
                "a prepared token of another organization or owner",
            ));
        }
        let now = self.now();
        let field = match request.lifetime {
            Some(TokenLifetime::ExpiresAt(_)) => "expiresAt",
            _ => "lifetime",
        };
        let expires_at = org
            .token_policy
            .resolve_expiry(request.lifetime, now)
            .map_err(|violation: PolicyViolation| {
                UseCaseError::invalid(field, violation.to_string())
            })?;
        let kind = match owner {
            TokenOwner::Account(id) => {
                let account = self.account(&org.id, id).await?;
                if account.status != AccountStatus::Active {
                    return Err(UseCaseError::Conflict(
                        "the service account is disabled; enable it before minting tokens".into(),
                    ));
                }
                request
                    .scopes
                    .ensure_within(&account.roles, &account.grants)
                    .map_err(|error| UseCaseError::invalid("scopes", error.reason()))?;
                TokenKind::ServiceAccount
            }
            TokenOwner::Org => {
                if request.scopes.is_empty() {
                    return Err(UseCaseError::invalid(
                        "scopes",
                        "an org-wide token holds exactly its scopes: name at least one",
                    ));
                }
                TokenKind::Org
            }
        };
        let fields = NewToken {
            name: request.name,
            description: request.description,
            scopes: request.scopes,
            expires_at,
        };
        let token = Token::new(kind, &parsed, fields, caller.actor.clone(), now);
        self.store.create_token(&token).await?;
        tracing::info!(token = parsed.display_prefix(), org = %org.id, "minted a token");
        Ok(Minted {
            token,
            secret: parsed,
        })
    }
}
