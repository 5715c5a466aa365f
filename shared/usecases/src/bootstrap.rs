//! The first organization, its first admin service account and that account's first token,
//! written straight to the table with the operator's AWS credentials (there is no admin yet
//! who could call the admin API).
//!
//! The three items are written in one transaction that refuses to overwrite an existing
//! organization, so running it twice never replaces an org or its admin.

use shared::access::{IpAllowlist, Role, Roles};
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::{
    Actor, ActorKind, NewServiceAccount, NewToken, Organization, ServiceAccount, Token, TokenKind,
};
use shared::people::IdentityProvider;
use shared::policy::{LifetimePreset, TokenLifetime, TokenPolicy};
use shared::text::DisplayName;
use shared::token::{ParsedToken, TokenOwner, TokenSecret};
use store::StoreError;
use time::OffsetDateTime;

use crate::UseCases;

/// What the operator asked for, already validated.
#[derive(Debug, Clone)]
pub struct BootstrapRequest {
    pub org: OrgId,
    pub org_name: DisplayName,
    pub policy: TokenPolicy,
    pub admin_name: DisplayName,
    pub token_lifetime: Option<LifetimePreset>,
    pub operator: String,
    /// The organization's identity providers, whose people may administer it from the start.
    pub identity_providers: Vec<IdentityProvider>,
}

/// What was created. `token` is the only copy of the admin token.
#[derive(Debug)]
pub struct Bootstrapped {
    pub org: OrgId,
    pub service_account_id: ServiceAccountId,
    pub token: TokenSecret,
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("organization {0} already exists; nothing was changed")]
    OrgExists(OrgId),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(StoreError),
}

impl UseCases {
    pub async fn bootstrap(
        &self,
        request: BootstrapRequest,
    ) -> Result<Bootstrapped, BootstrapError> {
        let now = self.now();
        let actor = Actor::new(ActorKind::Operator, &request.operator);
        let expires_at = request
            .policy
            .resolve_expiry(request.token_lifetime.map(TokenLifetime::Preset), now)
            .map_err(|violation| {
                BootstrapError::Invalid(format!("--token-lifetime: {violation}"))
            })?;
        let mut org = Organization::new(
            request.org.clone(),
            request.org_name,
            request.policy,
            actor.clone(),
            now,
        );
        org.identity_providers = request.identity_providers;
        let account_id =
            ServiceAccountId::generate().map_err(|e| BootstrapError::Invalid(e.to_string()))?;
        let account = ServiceAccount::new(
            request.org.clone(),
            account_id.clone(),
            NewServiceAccount {
                name: request.admin_name,
                description: None,
                roles: Roles::new([Role::Admin]),
                grants: Default::default(),
                ip_allowlist: IpAllowlist::default(),
            },
            actor.clone(),
            now,
        );
        let parsed = ParsedToken::generate(
            &self.token_format,
            &request.org,
            TokenOwner::Account(account_id.clone()),
        )
        .map_err(|e| BootstrapError::Invalid(e.to_string()))?;
        let token = Token::new(
            TokenKind::ServiceAccount,
            &parsed,
            NewToken {
                name: DisplayName::parse("bootstrap")
                    .map_err(|e| BootstrapError::Invalid(e.to_string()))?,
                description: None,
                scopes: Default::default(),
                expires_at,
            },
            actor,
            now,
        );
        match self
            .store
            .create_org_with_admin(&org, &account, &token)
            .await
        {
            Ok(()) => Ok(Bootstrapped {
                org: request.org,
                service_account_id: account_id,
                token: parsed.secret().clone(),
                expires_at,
            }),
            Err(StoreError::AlreadyExists { .. }) => Err(BootstrapError::OrgExists(request.org)),
            Err(error) => Err(BootstrapError::Store(error)),
        }
    }

    /// The organization alone, administered from the start by the people of its identity
    /// providers: no admin service account, no shared admin token.
    pub async fn bootstrap_without_admin(
        &self,
        request: BootstrapRequest,
    ) -> Result<OrgId, BootstrapError> {
        if request.identity_providers.is_empty() {
            return Err(BootstrapError::Invalid(
                "an organization without an admin token needs an identity provider (--oidc-issuer)"
                    .into(),
            ));
        }
        let actor = Actor::new(ActorKind::Operator, &request.operator);
        let mut org = Organization::new(
            request.org.clone(),
            request.org_name,
            request.policy,
            actor,
            self.now(),
        );
        org.identity_providers = request.identity_providers;
        match self.store.create_org(&org).await {
            Ok(()) => Ok(request.org),
            Err(StoreError::AlreadyExists { .. }) => Err(BootstrapError::OrgExists(request.org)),
            Err(error) => Err(BootstrapError::Store(error)),
        }
    }
}
