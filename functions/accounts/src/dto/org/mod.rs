//! The organization's request body and view: `GET` and `PATCH /v1/orgs/{org}`.
//!
//! The parts of the body have their own modules: the token policy ([`policy`]), the identity
//! providers ([`providers`]) and the access of infrastructure as code ([`iac`]).

mod iac;
mod policy;
mod providers;

use admin_api::problem::{ApiError, FieldError};
use admin_api::response::ActorView;
use serde::{Deserialize, Serialize};
use shared::iac::IacPrincipal;
use shared::model::{OrgStatus, Organization};
use shared::people::IdentityProvider;
use shared::policy::TokenPolicy;
use shared::text::DisplayName;
use time::OffsetDateTime;
use usecases::orgs::OrgChanges;

use super::{check, not_null};

pub use iac::IacBody;
pub use policy::PatchPolicy;
pub use providers::ProviderBody;

use iac::iac_access;
use policy::{PolicyView, patched_policy};
use providers::providers;

/// `PATCH /v1/orgs/{org}`: fields present are replaced; the policy's fields one by one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchOrg {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    token_policy: Option<PatchPolicy>,
    /// The whole list of the organization's identity providers (an empty list removes them).
    #[serde(default, deserialize_with = "not_null")]
    identity_providers: Option<Vec<ProviderBody>>,
    /// The whole list of AWS accounts (and stack-name prefixes) whose CloudFormation may
    /// manage the organization as code (an empty list allows none).
    #[serde(default, deserialize_with = "not_null")]
    iac_access: Option<Vec<IacBody>>,
}

impl PatchOrg {
    pub fn validate(self, current: &TokenPolicy) -> Result<OrgChanges, ApiError> {
        let mut errors = Vec::new();
        let name = self
            .name
            .as_deref()
            .and_then(|name| check(&mut errors, "name", DisplayName::parse(name)));
        let token_policy = self
            .token_policy
            .as_ref()
            .and_then(|patch| patched_policy(&mut errors, patch, current));
        let identity_providers = self
            .identity_providers
            .as_deref()
            .and_then(|bodies| providers(&mut errors, bodies));
        let iac_access = self
            .iac_access
            .as_deref()
            .and_then(|bodies| iac_access(&mut errors, bodies));
        if self.name.is_none()
            && self.token_policy.is_none()
            && self.identity_providers.is_none()
            && self.iac_access.is_none()
        {
            errors.push(FieldError::new(
                "body",
                "names no field to change (name, tokenPolicy, identityProviders, iacAccess)",
            ));
        }
        if errors.is_empty() {
            Ok(OrgChanges {
                name,
                token_policy,
                identity_providers,
                iac_access,
            })
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// An organization, as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgView {
    id: String,
    name: String,
    status: OrgStatus,
    token_policy: PolicyView,
    identity_providers: Vec<IdentityProvider>,
    iac_access: Vec<IacPrincipal>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    created_by: ActorView,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    updated_by: ActorView,
    version: u64,
}

impl From<&Organization> for OrgView {
    fn from(org: &Organization) -> Self {
        Self {
            id: org.id.to_string(),
            name: org.name.to_string(),
            status: org.status,
            token_policy: PolicyView::from(&org.token_policy),
            identity_providers: org.identity_providers.clone(),
            iac_access: org.iac_access.principals().to_vec(),
            created_at: org.created_at,
            created_by: ActorView::from(&org.created_by),
            updated_at: org.updated_at,
            updated_by: ActorView::from(&org.updated_by),
            version: org.version,
        }
    }
}
