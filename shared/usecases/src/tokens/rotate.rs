//! Rotation: an admin's (which renews the lineage's lifetime) and a token's own (which does
//! not, unless the policy's `maxLineageAgeDays` lets it), each writing the new token and the
//! changed old one in one transaction; the old one's access tokens end with its grace period.

use shared::ids::TokenId;
use shared::model::{Actor, NewToken, Organization, Token, TokenKind, TokenStatus};
use shared::policy::TokenLifetime;
use shared::token::{ParsedToken, TokenOwner};
use time::Duration;

use super::Minted;
use crate::verify::Verified;
use crate::{Caller, UseCaseError, UseCases};

/// The most a rotation's grace period may be: 7 days.
pub const MAX_GRACE: Duration = Duration::days(7);

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
        old.rotate_to(&new, actor.clone(), now, grace, self.retention);
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
