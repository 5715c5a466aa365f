//! Service accounts as code: who may manage an organization through CloudFormation.
//!
//! The custom resource provider (`functions/provisioner`) and the Secrets Manager rotation
//! function call the same use cases as the admin API; this module only admits their caller.
//! A stack acts for `org` when `org` is active and its `iacAccess` lists the stack's AWS
//! account (and, when the entry has one, a prefix of the stack's name by whole segments).
//! Anything else gets one answer, whether the organization exists or not, so a stack cannot
//! learn which organizations exist.

use shared::iac::StackRef;
use shared::ids::OrgId;
use shared::model::{OrgStatus, Organization};

use crate::{Caller, Identity, StackIdentity, UseCaseError, UseCases};

/// Why a stack is refused, whatever the cause.
pub const NOT_ALLOWED: &str = "the organization does not exist or does not let this AWS account and stack manage it as code (an admin adds the account to the organization's iacAccess)";

impl UseCases {
    /// The caller for `stack`'s resource `logical_resource_id` acting on `org`, and the
    /// organization as read; `Forbidden` unless the organization lets the stack in.
    pub async fn stack_caller(
        &self,
        org: &OrgId,
        stack: &StackRef,
        logical_resource_id: &str,
        request_id: &str,
    ) -> Result<(Caller, Organization), UseCaseError> {
        let organization = match self.store.get_org(org).await? {
            Some(organization)
                if organization.status == OrgStatus::Active
                    && organization.iac_access.allows(stack) =>
            {
                organization
            }
            _ => return Err(UseCaseError::Forbidden(NOT_ALLOWED)),
        };
        let identity = Identity::Stack(StackIdentity {
            org: org.clone(),
            stack: stack.clone(),
            logical_resource_id: logical_resource_id.to_owned(),
        });
        let caller = Caller::new(identity, None, Some("AWS CloudFormation"), Some(request_id));
        Ok((caller, organization))
    }
}
