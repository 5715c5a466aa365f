//! A token's metadata, as stored: what it is, who made it, when it expires or was revoked,
//! and what happened to it since (rotations, a leak report, an expiry warning). The token
//! itself is never stored, only its hash.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::Actor;
use crate::access::Scopes;
use crate::ids::{OrgId, ServiceAccountId, TokenId, TrustPolicyId};
use crate::text::{Description, DisplayName};
use crate::token::{ParsedToken, TokenHash};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A token of a service account, minted by an admin.
    ServiceAccount,
    /// An org-wide service token, not tied to any account.
    Org,
    /// A short-lived OAuth2 access token, issued for client credentials.
    Access,
}

/// What a token's metadata says about it at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenStatus {
    Active,
    Revoked,
    Expired,
}

/// A token's metadata. The token itself is never stored: only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub org: OrgId,
    pub id: TokenId,
    pub kind: TokenKind,
    /// The owning account; `None` for org-wide tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<ServiceAccountId>,
    pub name: DisplayName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    pub display_prefix: String,
    pub hash: TokenHash,
    pub scopes: Scopes,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Actor,
    /// `None`: the token never expires (only where the org's policy allows it).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<Actor>,
    /// The token this one replaced by rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_from: Option<TokenId>,
    /// The token that replaced this one by rotation (this one dies at `revoked_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_to: Option<TokenId>,
    /// When that rotation happened (its `token.rotated` event's time; `revoked_at` is the end
    /// of its grace period).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub rotated_at: Option<OffsetDateTime>,
    /// When the lineage of a self-rotated token began (its first token's creation): a
    /// self-rotation never extends a lineage past the organization's `maxLineageAgeDays`
    /// from then. Absent on a lineage's first token (its `created_at`).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub lineage_started_at: Option<OffsetDateTime>,
    /// How long the lineage's first token was made to live, in seconds (carried by
    /// self-rotations: what a renewal under `maxLineageAgeDays` grants). Absent on a first
    /// token (its `expires_at - created_at`) and on non-expiring ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage_lifetime_seconds: Option<i64>,
    /// For an OAuth2 access token: the client secret (a token of the same account) it was
    /// issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_for: Option<TokenId>,
    /// For an access token a workload exchanged its platform's token for: the trust policy
    /// that admitted it (deleting the policy revokes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_policy: Option<TrustPolicyId>,
    /// For a client secret: how many access tokens were issued for it in `access_window` (a
    /// window as long as an access token lives), so the live ones stay bounded. Written
    /// without a new `version`, like the last-used time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_window: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_issued: Option<u32>,
    /// Where the token was seen in public, as first reported (its revocation follows).
    /// Boxed: most tokens never have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leak: Option<Box<Leak>>,
    /// The last expiry warning recorded (`token.expiring`): the window it was for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_warning: Option<Box<ExpiryWarning>>,
    /// Why the token was revoked, when a rule did it (the lifecycle policy's retirement of
    /// unused tokens); an admin's revocation carries no reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<String>,
    /// When a revoked token's record may be removed (its retention): it overrides the expiry
    /// as the item's TTL, so a revoked token stays listed as revoked until then.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub purge_after: Option<OffsetDateTime>,
    pub version: u64,
}

/// A report that a token was seen in public: who reported it (an actor of kind
/// `secret_scanning`), when, and where it was found. The texts are the reporter's, made safe
/// to store and print, with the token itself cut out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Leak {
    #[serde(with = "time::serde::rfc3339")]
    pub reported_at: OffsetDateTime,
    pub reported_by: Actor,
    /// What kind of place it was found in, as the reporter says (GitHub's `source`:
    /// `content`, `commit`, `pull_request_comment`, `npm`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where it was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A warning that a token expires soon: recorded once per window of the organization's
/// `expiryWarningDays`, by the lifecycle run (an actor of kind `policy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryWarning {
    /// The window: the token expires within this many days.
    pub days: u16,
    #[serde(with = "time::serde::rfc3339")]
    pub warned_at: OffsetDateTime,
    pub warned_by: Actor,
}

/// What a new token's metadata is made of, beside the parsed token itself.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub name: DisplayName,
    pub description: Option<Description>,
    pub scopes: Scopes,
    pub expires_at: Option<OffsetDateTime>,
}

impl Token {
    /// The metadata to store for a freshly generated token: its hash, never its text.
    pub fn new(
        kind: TokenKind,
        token: &ParsedToken,
        fields: NewToken,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            org: token.org().clone(),
            id: token.id().clone(),
            kind,
            account: token.owner().account().cloned(),
            name: fields.name,
            description: fields.description,
            display_prefix: token.display_prefix().to_owned(),
            hash: token.hash().clone(),
            scopes: fields.scopes,
            created_at: now,
            created_by: actor,
            expires_at: fields.expires_at,
            last_used_at: None,
            revoked_at: None,
            revoked_by: None,
            rotated_from: None,
            rotated_to: None,
            rotated_at: None,
            lineage_started_at: None,
            lineage_lifetime_seconds: None,
            issued_for: None,
            trust_policy: None,
            access_window: None,
            access_issued: None,
            leak: None,
            expiry_warning: None,
            revocation_reason: None,
            purge_after: None,
            version: 1,
        }
    }

    /// Revokes the token at `at` (now, or the end of a rotation's grace period) and keeps
    /// its record for `retention` after that. Revoking a token that is already revoked
    /// keeps the earlier revocation.
    pub fn revoke(&mut self, actor: Actor, at: OffsetDateTime, retention: Duration) {
        if self.revoked_at.is_some_and(|earlier| earlier <= at) {
            return;
        }
        self.revoked_at = Some(at);
        self.revoked_by = Some(actor);
        self.purge_after = Some(at + retention);
    }

    /// Replaces the token by `successor` at `at`: it keeps working for `grace`, then is
    /// revoked (its record kept for `retention` after that).
    pub fn rotate_to(
        &mut self,
        successor: &Token,
        actor: Actor,
        at: OffsetDateTime,
        grace: Duration,
        retention: Duration,
    ) {
        self.rotated_to = Some(successor.id.clone());
        self.rotated_at = Some(at);
        self.revoke(actor, at + grace, retention);
    }

    /// Revoked wins over expired: a revocation is an admin's decision and stays visible.
    /// A revocation dated in the future (a rotation's grace period) is not yet in force.
    pub fn status(&self, now: OffsetDateTime) -> TokenStatus {
        if self.revoked_at.is_some_and(|at| at <= now) {
            TokenStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }

    /// Whether `presented` is this token and it is active at `now`. The hash comparison is
    /// constant-time; the ids were already matched by the key it was read with.
    pub fn accepts(&self, presented: &ParsedToken, now: OffsetDateTime) -> bool {
        self.id == *presented.id()
            && self.org == *presented.org()
            && self.account.as_ref() == presented.owner().account()
            && self.hash.matches(presented)
            && self.status(now) == TokenStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{TokenFormat, TokenOwner};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-05-01 00:00 UTC);

    fn minted(expires_at: Option<OffsetDateTime>) -> (ParsedToken, Token) {
        let org = OrgId::parse("acme").unwrap();
        let account = ServiceAccountId::generate().unwrap();
        let parsed = ParsedToken::generate(
            &TokenFormat::generate().unwrap(),
            &org,
            TokenOwner::Account(account),
        )
        .unwrap();
        let fields = NewToken {
            name: DisplayName::parse("deploy").unwrap(),
            description: None,
            scopes: Scopes::default(),
            expires_at,
        };
        let actor = Actor::system("test");
        let token = Token::new(TokenKind::ServiceAccount, &parsed, fields, actor, NOW);
        (parsed, token)
    }

    #[test]
    fn a_token_is_active_until_it_expires() {
        let (parsed, token) = minted(Some(NOW + Duration::days(1)));
        assert!(token.accepts(&parsed, NOW));
        assert_eq!(token.status(NOW + Duration::days(1)), TokenStatus::Expired);
        assert!(!token.accepts(&parsed, NOW + Duration::days(1)));
    }

    #[test]
    fn revocation_wins_and_a_future_revocation_is_a_grace_period() {
        let (parsed, mut token) = minted(None);
        token.revoked_at = Some(NOW + Duration::hours(1));
        assert!(token.accepts(&parsed, NOW));
        assert_eq!(token.status(NOW + Duration::hours(1)), TokenStatus::Revoked);
        assert!(!token.accepts(&parsed, NOW + Duration::hours(2)));
    }

    #[test]
    fn only_the_minted_token_is_accepted() {
        let (_, token) = minted(None);
        let (other, _) = minted(None);
        assert!(!token.accepts(&other, NOW));
    }

    #[test]
    fn the_stored_metadata_holds_no_token_text() {
        let (parsed, token) = minted(None);
        let json = serde_json::to_string(&token).unwrap();
        assert!(!json.contains(parsed.secret().expose_secret()));
        assert!(json.contains(&parsed.hash().to_hex()));
    }
}
