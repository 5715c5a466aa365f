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

use shared::access::Scopes;
use shared::ids::{OrgId, TokenId};
use shared::model::{AccountStatus, Actor, NewToken, Organization, Token, TokenKind, TokenStatus};
use shared::policy::{PolicyViolation, TokenLifetime};
use shared::text::{Description, DisplayName};
use shared::token::{ParsedToken, TokenOwner};
use store::{Page, PageLimit, StoreError, TokenListScope};
use time::{Duration, OffsetDateTime};

use crate::verify::Verified;
use crate::{Caller, UseCaseError, UseCases};

/// The most a rotation's grace period may be: 7 days.
pub const MAX_GRACE: Duration = Duration::days(7);

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

fn check_grace(grace: Duration) -> Result<(), UseCaseError> {
    if (Duration::ZERO..=MAX_GRACE).contains(&grace) {
        Ok(())
    } else {
        Err(UseCaseError::invalid(
            "gracePeriodSeconds",
            "between 0 and 604800 (7 days)",
        ))
    }
}

/// Whether a rotation renews the lineage's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Renewal {
    /// An admin's rotation: a fresh grant, as long as the old token was minted to live.
    Admin,
    /// The token's own: never beyond its lineage's expiry (or allowed age).
    Own,
}

fn owner_of(token: &Token) -> TokenOwner {
    match &token.account {
        Some(account) => TokenOwner::Account(account.clone()),
        None => TokenOwner::Org,
    }
}

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

    /// Revokes one token at once, and its lineage (see the module's notes). It stays listed
    /// as revoked, with who and when, until its retention ends.
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
    async fn revoke_access_tokens_issued_for(
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

    /// An admin rotates a token of `org`.
    pub async fn rotate_token(
        &self,
        caller: &Caller,
        org: &Organization,
        owner: &TokenOwner,
        id: &TokenId,
        grace: Duration,
    ) -> Result<Minted, UseCaseError> {
        check_grace(grace)?;
        let old = self.token(&org.id, owner, id).await?;
        self.rotate(org, old, grace, caller.actor.clone(), None, Renewal::Admin)
            .await
    }

    /// The verified token rotates itself (so a pipeline renews its credential without an
    /// admin), recorded as done by its own account (or the org, for an org-wide token),
    /// unless the organization turned self-rotation off.
    pub async fn self_rotate(
        &self,
        verified: Verified,
        actor: Actor,
        grace: Duration,
    ) -> Result<Minted, UseCaseError> {
        self.self_rotate_into(verified, actor, grace, None).await
    }

    /// [`Self::self_rotate`] into `prepared` when given (made by [`Self::generate_token`]
    /// for the verified token's organization and owner): Secrets Manager's rotation keeps the
    /// new token as pending before the store knows it, so a repeated step rotates into the
    /// same token.
    pub async fn self_rotate_into(
        &self,
        verified: Verified,
        actor: Actor,
        grace: Duration,
        prepared: Option<ParsedToken>,
    ) -> Result<Minted, UseCaseError> {
        check_grace(grace)?;
        let (Some(org), Some(token)) = (verified.records.org, verified.records.token) else {
            return Err(UseCaseError::Internal(
                "verified records without their token",
            ));
        };
        if !org.token_policy.allow_self_rotation() {
            return Err(UseCaseError::Forbidden(
                "this organization does not allow tokens to rotate themselves; ask an admin",
            ));
        }
        self.rotate(&org, token, grace, actor, prepared, Renewal::Own)
            .await
    }

    /// Replaces `old` with a new token of the same owner, kind, name, description and
    /// scopes; `old` dies now or when `grace` ends. Both writes are one transaction.
    async fn rotate(
        &self,
        org: &Organization,
        mut old: Token,
        grace: Duration,
        actor: Actor,
        prepared: Option<ParsedToken>,
        renewal: Renewal,
    ) -> Result<Minted, UseCaseError> {
        let now = self.now();
        if old.kind == TokenKind::Access {
            return Err(UseCaseError::Conflict(
                "OAuth2 access tokens are not rotated: request a new one at /oauth2/token".into(),
            ));
        }
        if old.status(now) == TokenStatus::Revoked || old.rotated_to.is_some() {
            return Err(UseCaseError::Conflict(
                "the token is revoked or already rotated; mint a new one instead".into(),
            ));
        }
        let owner = owner_of(&old);
        let policy = &org.token_policy;
        let (expires_at, lineage_started_at) = match renewal {
            // The new token lives as long as the old one was minted to live (capped by
            // today's policy), so a rotation never turns a short-lived token into a
            // long-lived one; an admin's rotation starts a new lineage age.
            Renewal::Admin => {
                let lifetime = match old.expires_at {
                    None if policy.allow_non_expiring() => Some(TokenLifetime::NonExpiring),
                    None => None,
                    Some(expiry) => {
                        let length =
                            (expiry - old.created_at).min(policy.max_lifetime().duration());
                        Some(TokenLifetime::ExpiresAt(
                            now + length.max(Duration::minutes(1)),
                        ))
                    }
                };
                let expires_at = policy
                    .resolve_expiry(lifetime, now)
                    .map_err(|violation| UseCaseError::Conflict(violation.to_string()))?;
                (expires_at, None)
            }
            // A self-rotation keeps the lineage's expiry (or its allowed age).
            Renewal::Own => {
                let started = old.lineage_started();
                let lifetime = old.lineage_lifetime();
                let expires_at =
                    policy.self_rotation_expiry(old.expires_at, lifetime, started, now);
                (expires_at, Some((started, lifetime)))
            }
        };
        let parsed = match prepared {
            Some(parsed) if parsed.org() == &org.id && parsed.owner() == &owner => parsed,
            Some(_) => {
                return Err(UseCaseError::Internal(
                    "a prepared token of another organization or owner",
                ));
            }
            None => self.generate_token(&org.id, &owner)?,
        };
        let fields = NewToken {
            name: old.name.clone(),
            description: old.description.clone(),
            scopes: old.scopes.clone(),
            expires_at,
        };
        let mut new = Token::new(old.kind, &parsed, fields, actor.clone(), now);
        new.rotated_from = Some(old.id.clone());
        if let Some((started, lifetime)) = lineage_started_at {
            new.lineage_started_at = Some(started);
            new.lineage_lifetime_seconds = lifetime.map(Duration::whole_seconds);
        }
        old.rotated_to = Some(new.id.clone());
        old.revoke(actor.clone(), now + grace, self.retention);
        self.store.rotate_token(&old, &new).await?;
        // The access tokens issued for the old secret die with it, at the end of the grace
        // period; those issued during the grace period already expire by then.
        self.revoke_access_tokens_issued_for(&old, &owner, &actor, now + grace)
            .await?;
        tracing::info!(old = %old.id, new = parsed.display_prefix(), grace_seconds = grace.whole_seconds(), "rotated a token");
        Ok(Minted {
            token: new,
            secret: parsed,
        })
    }
}
