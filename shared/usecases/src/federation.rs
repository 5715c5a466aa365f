//! Workload identity federation: trust policies on a service account (create, read, list,
//! delete), and the exchange of a workload's OpenID Connect token for an access token.
//!
//! The exchange, in order (the first rule that fails is the answer, and nothing is written):
//!
//! 1. the account the request names exists, is not deleted or disabled, in an active
//!    organization, and the caller's address is inside both allowlists;
//! 2. the token is verified by the `oidc` crate (the people sign-in's verifier: discovery,
//!    JWKS cache, asymmetric algorithms only, exact `iss`, `aud` one of the account's
//!    policies' audiences, `exp`/`nbf`/`iat`, at most [`WorkloadSettings::max_age`] old)
//!    against the issuers of the account's policies, and of no one else;
//! 3. the first policy (oldest first) whose issuer, audience and every condition the token
//!    meets admits it; none: refused;
//! 4. the scopes: those asked for, which must lie within the policy's, or else the policy's;
//!    either way within what the account holds now;
//! 5. an ordinary `access` token, living the policy's lifetime capped by the organization's
//!    maximum, written in one transaction on the policy's version with a count per window
//!    (so a deletion that lands meanwhile wins, and one policy's live tokens stay bounded).
//!
//! Its actor is the workload (kind `workload`): the token's issuer and subject, the policy,
//! and the values of the claims the policy named, so the audit trail says which pipeline did
//! what. Deleting a policy revokes the live tokens it issued; disabling or deleting the
//! account, or revoking its tokens, stops them as it stops any token.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration as StdDuration;

use oidc::{OidcVerifier, Provider, Rejection};
use shared::access::{Grants, Roles, Scope, Scopes};
use shared::authn::allowed_from;
use shared::federation::{
    ClaimCondition, MAX_POLICIES_PER_ACCOUNT, Preset, TrustPolicy, TrustRules, audiences,
};
use shared::ids::{OrgId, ServiceAccountId, TrustPolicyId};
use shared::model::{AccountStatus, Actor, NewToken, OrgStatus, Organization, Token, TokenKind};
use shared::people::Issuer;
use shared::text::DisplayName;
use shared::token::{ParsedToken, TokenOwner};
use store::{Page, PageLimit, StoreError};

use crate::oauth::AccessToken;
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
            policy.deleted_at = Some(now);
            policy.deleted_by = Some(caller.actor.clone());
            policy.purge_after = Some(now + self.retention);
            self.store
                .update_trust_policy(&policy)
                .await
                .map_err(|error| match error {
                    StoreError::VersionConflict { .. } => UseCaseError::Conflict(
                        "the trust policy changed meanwhile; read it again and retry".into(),
                    ),
                    other => other.into(),
                })?;
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

    /// Exchanges a workload's token for an access token (see the module's rules).
    pub async fn exchange_workload_token(
        &self,
        verifier: &OidcVerifier,
        request: &WorkloadExchange,
    ) -> Result<AccessToken, WorkloadError> {
        // Every exchange under one policy counts on the policy's item: the parallel jobs of a
        // matrix collide there, so a lost transaction waits a little (more each time, with
        // jitter, so they do not collide again) and decides again.
        for attempt in 0..Self::EXCHANGE_ATTEMPTS {
            match self.try_exchange(verifier, request).await {
                Err(WorkloadError::Contended) if attempt + 1 < Self::EXCHANGE_ATTEMPTS => {
                    // Jitter from the clock's nanoseconds: spread, not secret.
                    let jitter = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |since| u64::from(since.subsec_nanos() % 25));
                    tokio::time::sleep(std::time::Duration::from_millis(
                        10 * (1 << attempt) + jitter,
                    ))
                    .await;
                }
                outcome => return outcome,
            }
        }
        Err(WorkloadError::Contended)
    }

    /// How often an exchange that lost a race is decided again.
    const EXCHANGE_ATTEMPTS: u32 = 5;

    async fn try_exchange(
        &self,
        verifier: &OidcVerifier,
        request: &WorkloadExchange,
    ) -> Result<AccessToken, WorkloadError> {
        let refuse = |why: &str| Err(WorkloadError::InvalidGrant(why.to_owned()));
        let (org, account) = futures_util::future::join(
            self.store.get_org(&request.org),
            self.store.get_account(&request.org, &request.account),
        )
        .await;
        let (Some(org), Some(account)) = (org?, account?) else {
            return refuse("no such service account");
        };
        if org.status != OrgStatus::Active
            || account.is_deleted()
            || account.status != AccountStatus::Active
        {
            return refuse("the service account or its organization is disabled");
        }
        let mut policies = self
            .store
            .list_trust_policies(&request.org, &request.account, PageLimit::FULL, None)
            .await?
            .items;
        // A policy whose audience the deployment no longer has admits nothing.
        policies.retain(|policy| self.workloads.audiences.contains(&policy.audience));
        if policies.is_empty() {
            return refuse("the service account has no trust policy");
        }
        policies.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let now = self.now();
        let verified = verifier
            .verify_with_max_age(
                &request.token,
                &providers(&policies),
                now,
                self.workloads.max_age,
            )
            .await
            .map_err(|rejection| match rejection {
                Rejection::ProviderUnavailable(error) => {
                    tracing::warn!(%error, "a workload's issuer is unavailable");
                    WorkloadError::IssuerUnavailable
                }
                other => WorkloadError::InvalidGrant(other.to_string()),
            })?;
        let token_audiences = audiences(&verified.claims);
        let Some(policy) = policies
            .into_iter()
            .find(|policy| policy.admits(&verified.issuer, &token_audiences, &verified.claims))
        else {
            return refuse("no trust policy of the account admits the token's claims");
        };
        // Only now, so that the answer tells a caller without a valid job token nothing about
        // the account.
        if !allowed_from(&account.ip_allowlist, request.source_ip)
            || !allowed_from(org.token_policy.ip_allowlist(), request.source_ip)
        {
            return Err(WorkloadError::UnauthorizedClient);
        }
        let scopes = scopes_for(&policy, &account, request.scope.as_ref())?;
        let lifetime = time::Duration::seconds(i64::from(policy.lifetime_seconds));
        let expires_at = shared::policy::truncate_to_seconds(
            now + lifetime.min(org.token_policy.max_lifetime().duration()),
        );
        let actor = Actor::workload(
            &verified.issuer,
            &verified.subject,
            &policy.id,
            policy.matched_claims(&verified.claims),
        )
        .with_request(
            request.source_ip,
            request.user_agent.as_deref(),
            request.request_id.as_deref(),
        );
        let (token, secret) =
            self.workload_token(&org, &policy, scopes.clone(), expires_at, actor)?;
        let window_length = i64::from(policy.lifetime_seconds).max(1);
        let window = now.unix_timestamp().div_euclid(window_length);
        match self
            .store
            .create_access_token(
                &token,
                &policy,
                window,
                self.workloads.per_policy,
                Some(&account),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::VersionConflict { .. } | StoreError::Contended { .. }) => {
                return Err(WorkloadError::Contended);
            }
            Err(StoreError::QuotaExceeded) => {
                return Err(WorkloadError::QuotaExceeded {
                    retry_after: (window + 1) * window_length - now.unix_timestamp(),
                });
            }
            Err(error) => return Err(error.into()),
        }
        tracing::info!(
            token = secret.display_prefix(),
            trust_policy = %policy.id,
            account = %policy.account,
            "issued an access token to a workload"
        );
        Ok(AccessToken {
            secret,
            token,
            expires_at,
            scopes,
        })
    }

    fn workload_token(
        &self,
        org: &Organization,
        policy: &TrustPolicy,
        scopes: Scopes,
        expires_at: time::OffsetDateTime,
        actor: Actor,
    ) -> Result<(Token, ParsedToken), WorkloadError> {
        let parsed = ParsedToken::generate(
            &self.token_format,
            &org.id,
            TokenOwner::Account(policy.account.clone()),
        )
        .map_err(|_| WorkloadError::Internal("generating a token"))?;
        let name = DisplayName::parse(&format!("Workload: {}", policy.name.as_str()))
            .or_else(|_| DisplayName::parse("Workload access token"))
            .map_err(|_| WorkloadError::Internal("naming a token"))?;
        let fields = NewToken {
            name,
            description: None,
            scopes,
            expires_at: Some(expires_at),
        };
        let mut token = Token::new(TokenKind::Access, &parsed, fields, actor, self.now());
        token.trust_policy = Some(policy.id.clone());
        Ok((token, parsed))
    }
}

/// The issuers of `policies`, each with every audience its policies name.
fn providers(policies: &[TrustPolicy]) -> Vec<Provider> {
    let mut by_issuer: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for policy in policies {
        let audiences = by_issuer.entry(policy.issuer.as_str()).or_default();
        if !audiences.contains(&policy.audience) {
            audiences.push(policy.audience.clone());
        }
    }
    by_issuer
        .into_iter()
        .map(|(issuer, audiences)| Provider {
            issuer: issuer.to_owned(),
            audiences,
        })
        .collect()
}

/// The scopes of the access token: `requested` (within the policy's) or the policy's, and
/// within what the account holds now.
fn scopes_for(
    policy: &TrustPolicy,
    account: &shared::model::ServiceAccount,
    requested: Option<&Scopes>,
) -> Result<Scopes, WorkloadError> {
    let scopes = match requested {
        Some(requested) if !requested.is_empty() => {
            let roles = Roles::new(policy.scopes.iter().filter_map(|scope| match scope {
                Scope::Role(role) => Some(*role),
                Scope::Grant(_) => None,
            }));
            let grants = Grants::parse(
                policy
                    .scopes
                    .iter()
                    .filter_map(|scope| match scope {
                        Scope::Grant(grant) => Some(grant.clone()),
                        Scope::Role(_) => None,
                    })
                    .collect(),
            )
            .map_err(|_| WorkloadError::Internal("reading a policy's grants"))?;
            requested
                .ensure_within(&roles, &grants)
                .map_err(|_| WorkloadError::InvalidScope("the scope exceeds the trust policy's"))?;
            requested.clone()
        }
        _ => policy.scopes.clone(),
    };
    scopes
        .ensure_within(&account.roles, &account.grants)
        .map_err(|_| {
            WorkloadError::InvalidScope("the scope exceeds what the service account holds")
        })?;
    Ok(scopes)
}
