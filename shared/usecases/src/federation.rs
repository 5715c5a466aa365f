//! Workload identity federation: trust policies on a service account (create, read, list,
//! delete). The exchange of a workload's OpenID Connect token for an access token under them
//! is [`crate::exchange`]'s.
//!
//! An account has at most [`MAX_POLICIES_PER_ACCOUNT`] policies and an organization at most
//! [`MAX_POLICIES_PER_ORG`] (beyond, `409`): each policy may name another issuer, whose keys
//! the deployment then fetches and caches for tokens that arrive unauthenticated. Deleting a
//! policy revokes the live tokens it issued; deleting its account deletes it
//! ([`UseCases::delete_account_trust_policies`]); disabling or deleting the account, or
//! revoking its tokens, stops them as it stops any token.

use std::net::IpAddr;
use std::time::Duration as StdDuration;

use shared::access::Scopes;
use shared::federation::{
    ClaimCondition, MAX_POLICIES_PER_ACCOUNT, MAX_POLICIES_PER_ORG, Preset, TrustPolicy, TrustRules,
};
use shared::ids::{OrgId, ServiceAccountId, TrustPolicyId};
use shared::people::Issuer;
use shared::text::DisplayName;
use shared::token::TokenOwner;
use store::{Page, PageLimit, StoreError};

use crate::{Caller, UseCaseError, UseCases};

/// The deployment's side of federation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadSettings {
    /// The audiences a workload's token may name: this deployment's names. A policy's
    /// audience is one of them, so a token meant for another service is never accepted here.
    pub audiences: Vec<String>,
    /// The oldest token accepted, by its `iat`.
    pub max_age: StdDuration,
    /// How many access tokens one policy may issue per its lifetime.
    pub per_policy: u32,
}

impl WorkloadSettings {
    /// The audience of a deployment that names none: unique to its table.
    pub fn default_audience(table: &str) -> String {
        format!("urn:service-accounts:{table}")
    }
}

/// A new trust policy as asked for, each value parsed; its rules are checked by the use case
/// against the deployment (audience) and the account (scopes).
#[derive(Debug, Clone)]
pub struct NewTrustPolicy {
    pub name: DisplayName,
    pub preset: Option<Preset>,
    /// `None`: the preset's.
    pub issuer: Option<Issuer>,
    /// `None`: the deployment's first audience.
    pub audience: Option<String>,
    pub conditions: Vec<ClaimCondition>,
    pub scopes: Scopes,
    /// `None`: the default, 15 minutes.
    pub lifetime_seconds: Option<u32>,
}

/// A workload's request, as parsed from the wire.
pub struct WorkloadExchange {
    pub org: OrgId,
    pub account: ServiceAccountId,
    /// The workload's JWT (a credential: never logged or shown).
    pub token: String,
    pub scope: Option<Scopes>,
    pub source_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl std::fmt::Debug for WorkloadExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadExchange")
            .field("org", &self.org)
            .field("account", &self.account)
            .field("token", &"[redacted]")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Why a workload got no access token, in RFC 6749's terms.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// `invalid_grant`: the token is not valid, or no policy of that account admits it (the
    /// reason is logged, never answered: it would help a forger).
    #[error("the grant is not valid: {0}")]
    InvalidGrant(String),
    /// `unauthorized_client`: the workload calls from outside an allowlist.
    #[error("the workload may not request tokens from this address")]
    UnauthorizedClient,
    /// `invalid_scope`: wider than the policy allows, or than the account holds.
    #[error("{0}")]
    InvalidScope(&'static str),
    /// The policy issued its quota for this window.
    #[error("the trust policy issued as many access tokens as it may for now")]
    QuotaExceeded { retry_after: i64 },
    /// The issuer's keys could not be had (503).
    #[error("the workload's issuer is unavailable")]
    IssuerUnavailable,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the trust policy kept changing")]
    Contended,
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl UseCases {
    /// Adds a trust policy to the account `account` of `org`.
    pub async fn create_trust_policy(
        &self,
        caller: &Caller,
        org: &OrgId,
        account: &ServiceAccountId,
        new: NewTrustPolicy,
    ) -> Result<TrustPolicy, UseCaseError> {
        caller.require_admin(org)?;
        let holder = self.account(org, account).await?;
        let audience = match new.audience {
            Some(audience) if self.workloads.audiences.contains(&audience) => audience,
            Some(_) => {
                return Err(UseCaseError::invalid(
                    "audience",
                    format!(
                        "must be one of this deployment's audiences: {}",
                        self.workloads.audiences.join(", ")
                    ),
                ));
            }
            None => self
                .workloads
                .audiences
                .first()
                .cloned()
                .ok_or(UseCaseError::Internal("no workload audience configured"))?,
        };
        let rules = TrustRules::new(
            new.preset,
            new.issuer,
            audience,
            new.conditions,
            new.scopes,
            new.lifetime_seconds,
        )
        .map_err(|(field, error)| UseCaseError::invalid(field, error.reason()))?;
        rules
            .scopes
            .ensure_within(&holder.roles, &holder.grants)
            .map_err(|error| UseCaseError::invalid("scopes", error.reason()))?;
        let existing = self
            .store
            .list_trust_policies(org, account, PageLimit::FULL, None)
            .await?;
        if existing.items.len() >= MAX_POLICIES_PER_ACCOUNT {
            return Err(UseCaseError::Conflict(format!(
                "an account has at most {MAX_POLICIES_PER_ACCOUNT} trust policies; delete one first"
            )));
        }
        if self.store.count_trust_policies(org).await? >= MAX_POLICIES_PER_ORG {
            return Err(UseCaseError::Conflict(format!(
                "an organization has at most {MAX_POLICIES_PER_ORG} trust policies; delete one first"
            )));
        }
        let id = TrustPolicyId::generate()
            .map_err(|error| UseCaseError::internal("generating an id", &error))?;
        let policy = TrustPolicy::new(
            org.clone(),
            account.clone(),
            id,
            new.name,
            rules,
            caller.actor.clone(),
            self.now(),
        );
        self.store.create_trust_policy(&policy).await?;
        Ok(policy)
    }

    /// The policy, unless it does not exist or is deleted.
    pub async fn trust_policy(
        &self,
        org: &OrgId,
        account: &ServiceAccountId,
        id: &TrustPolicyId,
    ) -> Result<TrustPolicy, UseCaseError> {
        self.account(org, account).await?;
        match self.store.get_trust_policy(org, account, id).await? {
            Some(policy) if !policy.is_deleted() => Ok(policy),
            _ => Err(UseCaseError::NotFound("trust policy")),
        }
    }

    /// One page of the account's policies (deleted ones left out).
    pub async fn list_trust_policies(
        &self,
        org: &OrgId,
        account: &ServiceAccountId,
        limit: PageLimit,
        cursor: Option<&str>,
    ) -> Result<Page<TrustPolicy>, UseCaseError> {
        self.account(org, account).await?;
        Ok(self
            .store
            .list_trust_policies(org, account, limit, cursor)
            .await?)
    }

    /// Deletes the policy (a tombstone naming the caller, for the audit trail) and revokes
    /// the live access tokens it issued. Repeating it on a deleted policy finishes a sweep
    /// that was cut short.
    pub async fn delete_trust_policy(
        &self,
        caller: &Caller,
        org: &OrgId,
        account: &ServiceAccountId,
        id: &TrustPolicyId,
        expected: Option<u64>,
    ) -> Result<(), UseCaseError> {
        caller.require_admin(org)?;
        self.account(org, account).await?;
        let mut policy = self
            .store
            .get_trust_policy(org, account, id)
            .await?
            .ok_or(UseCaseError::NotFound("trust policy"))?;
        let now = self.now();
        if !policy.is_deleted() {
            UseCaseError::check_version(expected, policy.version, "trust policy")?;
            self.tombstone_trust_policy(caller, &mut policy).await?;
        }
        let revoked = self
            .store
            .revoke_tokens_where(
                org,
                &TokenOwner::Account(account.clone()),
                &caller.actor,
                now,
                self.retention,
                |token| {
                    token.trust_policy.as_ref() == Some(id)
                        && token.expires_at.is_none_or(|expiry| expiry > now)
                },
            )
            .await?;
        if revoked > 0 {
            tracing::info!(trust_policy = %id, revoked, "revoked the access tokens of a deleted trust policy");
        }
        Ok(())
    }

    /// Deletes every live trust policy of `account` (being deleted by `caller`), so that
    /// they stop counting against the organization's cap and leave with their retention;
    /// the account's tokens, theirs included, are revoked with the account. Repeating it
    /// finishes what was cut short. Returns how many it deleted.
    pub async fn delete_account_trust_policies(
        &self,
        caller: &Caller,
        org: &OrgId,
        account: &ServiceAccountId,
    ) -> Result<usize, UseCaseError> {
        // At most `MAX_POLICIES_PER_ACCOUNT` live ones: one full page holds them.
        let policies = self
            .store
            .list_trust_policies(org, account, PageLimit::FULL, None)
            .await?
            .items;
        let mut deleted = 0;
        for mut policy in policies {
            self.tombstone_trust_policy(caller, &mut policy).await?;
            deleted += 1;
        }
        Ok(deleted)
    }

    /// Writes `policy` as deleted by `caller`, kept for the retention.
    async fn tombstone_trust_policy(
        &self,
        caller: &Caller,
        policy: &mut TrustPolicy,
    ) -> Result<(), UseCaseError> {
        let now = self.now();
        policy.deleted_at = Some(now);
        policy.deleted_by = Some(caller.actor.clone());
        policy.purge_after = Some(now + self.retention);
        self.store
            .update_trust_policy(policy)
            .await
            .map_err(|error| match error {
                StoreError::VersionConflict { .. } => UseCaseError::Conflict(
                    "the trust policy changed meanwhile; read it again and retry".into(),
                ),
                other => other.into(),
            })?;
        Ok(())
    }
}
