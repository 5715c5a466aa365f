//! A workload's OpenID Connect token exchanged for an access token of a service account,
//! under one of the account's trust policies ([`crate::federation`]).
//!
//! The exchange, in order (the first rule that fails is the answer, and nothing is written):
//!
//! 1. the token's shape, before anything is read: a JWT of at most 16 KiB with an asymmetric
//!    algorithm and a key id, whose unverified `iss` is an issuer a trust policy could name
//!    (a valid issuer URL that can be fetched from here: `https`, or plain `http` to loopback
//!    on a local run), so garbage and made-up issuers cost no read;
//! 2. the account the request names exists, is not deleted or disabled, in an active
//!    organization, and has policies;
//! 3. the token is verified by the `oidc` crate (the people sign-in's verifier: discovery,
//!    JWKS cache, asymmetric algorithms only, exact `iss`, `aud` one of the account's
//!    policies' audiences, `exp`/`nbf`/`iat`, at most [`WorkloadSettings::max_age`] old)
//!    against the issuers of the account's policies, and of no one else;
//! 4. the first policy (oldest first) whose issuer, audience and every condition the token
//!    meets admits it; none: refused; then the caller's address must be inside both
//!    allowlists;
//! 5. the scopes: those asked for, which must lie within the policy's, or else the policy's;
//!    either way within what the account holds now;
//! 6. an ordinary `access` token, living the policy's lifetime capped by the organization's
//!    maximum, written in one transaction on the policy's version with a count per window
//!    (so a deletion that lands meanwhile wins, and one policy's live tokens stay bounded).
//!
//! Its actor is the workload (kind `workload`): the token's issuer and subject, the policy,
//! and the values of the claims the policy named, so the audit trail says which pipeline did
//! what.
//!
//! [`WorkloadSettings::max_age`]: crate::WorkloadSettings

use std::collections::BTreeMap;

use oidc::{OidcVerifier, Provider, Rejection};
use shared::access::{Grants, Roles, Scope, Scopes};
use shared::authn::allowed_from;
use shared::federation::{TrustPolicy, audiences};
use shared::model::{AccountStatus, Actor, NewToken, OrgStatus, Organization, Token, TokenKind};
use shared::people::Issuer;
use shared::text::DisplayName;
use shared::token::{ParsedToken, TokenOwner};
use store::{PageLimit, StoreError};

use crate::UseCases;
use crate::federation::{WorkloadError, WorkloadExchange};
use crate::oauth::AccessToken;

impl UseCases {
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
        // The endpoint is unauthenticated: nothing is read for a token that is not a JWT
        // from an issuer some policy could name.
        let screened = verifier
            .screen(&request.token)
            .map_err(|rejection| WorkloadError::InvalidGrant(rejection.to_string()))?;
        if Issuer::parse(&screened.issuer).is_err() {
            return refuse("the token's issuer is none a trust policy could name");
        }
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
