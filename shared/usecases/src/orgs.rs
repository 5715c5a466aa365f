//! Organizations: read one, change its name, token policy and identity providers.

use shared::ids::OrgId;
use shared::model::Organization;
use shared::people::{IdentityProvider, PersonRole};
use shared::policy::TokenPolicy;
use shared::text::DisplayName;

use crate::caller::SELF_LOCKOUT;
use crate::{Caller, Identity, UseCaseError, UseCases};

/// A validated change to an organization: each field present replaces the stored one.
#[derive(Debug, Default, Clone)]
pub struct OrgChanges {
    pub name: Option<DisplayName>,
    pub token_policy: Option<TokenPolicy>,
    pub identity_providers: Option<Vec<IdentityProvider>>,
    pub iac_access: Option<shared::iac::IacAccess>,
}

impl UseCases {
    /// The organization, or "not found".
    pub async fn org(&self, id: &OrgId) -> Result<Organization, UseCaseError> {
        self.store
            .get_org(id)
            .await?
            .ok_or(UseCaseError::NotFound("organization"))
    }

    /// Changes `org` as read, conditional on its version (and `if_match`). The policy bounds
    /// every token minted afterwards; its allowlist and self-rotation apply at once.
    pub async fn update_org(
        &self,
        caller: &Caller,
        mut org: Organization,
        if_match: Option<u64>,
        changes: OrgChanges,
    ) -> Result<Organization, UseCaseError> {
        UseCaseError::check_version(if_match, org.version, "organization")?;
        if let Some(name) = changes.name {
            org.name = name;
        }
        if let Some(policy) = changes.token_policy {
            // An allowlist that leaves out the calling token's own address would lock it out.
            // So would one that leaves out a person's (the allowlist applies to people too).
            let bound = caller.is_token_of(&org.id)
                || matches!(&caller.identity, Identity::Person(person) if person.org == org.id);
            if bound && !caller.is_let_in_by(policy.ip_allowlist()) {
                return Err(UseCaseError::Conflict(SELF_LOCKOUT.into()));
            }
            org.token_policy = policy;
        }
        if let Some(providers) = changes.identity_providers {
            // A person may not take away the provider or the mapping that makes them admin.
            if let Identity::Person(person) = &caller.identity {
                let stays_admin = providers.iter().any(|provider| {
                    provider.issuer.as_str() == person.issuer
                        && provider.roles.role_of(&person.claims) == Some(PersonRole::Admin)
                });
                if !stays_admin {
                    return Err(UseCaseError::Conflict(SELF_LOCKOUT.into()));
                }
            }
            org.identity_providers = providers;
        }
        if let Some(access) = changes.iac_access {
            org.iac_access = access;
        }
        org.updated_at = self.now();
        org.updated_by = caller.actor.clone();
        Ok(self.store.update_org(&org).await?)
    }
}
