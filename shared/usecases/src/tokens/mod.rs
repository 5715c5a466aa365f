//! Tokens: mint, read, list, revoke (with its cascades), revoke all, rotate, self-rotate.
//!
//! * A mint resolves the lifetime against the organization's policy, refuses a disabled
//!   account (so it never makes a token that silently does not work), and keeps scopes within
//!   what the owner holds; an org-wide token needs at least one scope.
//! * A revocation ends the token's whole lineage ([`shared::model::lineage`]): the tokens it
//!   was rotated from and into, however many, and the OAuth2 access tokens issued for any of
//!   them, found in one listing of the owner's tokens. Revoking a revoked token runs the sweep
//!   again, so a sweep cut short is finished by repeating the request, and always finishes.
//! * A rotation writes the new token and the changed old one in one transaction; the old
//!   one's access tokens end with its grace period. An admin's rotation renews: the new token
//!   lives as long as the old one was minted to live (capped by today's policy). A
//!   self-rotation does not: the new token keeps the old one's expiry, unless the policy's
//!   `maxLineageAgeDays` lets the lineage live longer
//!   ([`shared::policy::TokenPolicy::self_rotation_expiry`]).
//!
//! | module | holds |
//! | --- | --- |
//! | this one | what a mint asks for and makes ([`MintRequest`], [`Minted`]); reading and listing |
//! | `mint` | minting, and a token's text prepared before it is stored |
//! | `revoke` | revoking a token with its lineage, a rule's conditional revocation, revoke all |
//! | `rotate` | an admin's rotation and a self-rotation ([`MAX_GRACE`]) |

mod mint;
mod revoke;
mod rotate;

use shared::access::Scopes;
use shared::ids::{OrgId, TokenId};
use shared::model::Token;
use shared::policy::TokenLifetime;
use shared::text::{Description, DisplayName};
use shared::token::{ParsedToken, TokenOwner};
use store::{Page, PageLimit, TokenListScope};

use crate::{UseCaseError, UseCases};

pub use self::rotate::MAX_GRACE;

/// What a mint asks for. The lifetime is resolved against the organization's policy by the
/// use case (`None`: the policy's default).
#[derive(Debug, Clone)]
pub struct MintRequest {
    pub name: DisplayName,
    pub description: Option<Description>,
    pub scopes: Scopes,
    pub lifetime: Option<TokenLifetime>,
}

/// A token just made: its metadata, and the parsed token whose text is shown this once.
#[derive(Debug)]
pub struct Minted {
    pub token: Token,
    pub secret: ParsedToken,
}

impl UseCases {
    pub async fn token(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        id: &TokenId,
    ) -> Result<Token, UseCaseError> {
        self.store
            .get_token(org, owner, id)
            .await?
            .ok_or(UseCaseError::NotFound("token"))
    }

    pub async fn list_tokens(
        &self,
        org: &OrgId,
        scope: &TokenListScope,
        limit: PageLimit,
        cursor: Option<&str>,
    ) -> Result<Page<Token>, UseCaseError> {
        Ok(self.store.list_tokens(org, scope, limit, cursor).await?)
    }
}
