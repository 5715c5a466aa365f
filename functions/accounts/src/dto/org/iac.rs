//! The organization's infrastructure-as-code access, as `PATCH /v1/orgs/{org}` sends it: the
//! AWS accounts (and stack-name prefixes) whose CloudFormation may manage the organization.

use admin_api::problem::FieldError;
use serde::Deserialize;
use shared::iac::{AwsAccountId, IacAccess, IacPrincipal};

use crate::dto::{check, not_null};

/// One AWS account allowed to manage the organization as code, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IacBody {
    account: String,
    #[serde(default, deserialize_with = "not_null")]
    stack_prefix: Option<String>,
}

pub(super) fn iac_access(errors: &mut Vec<FieldError>, bodies: &[IacBody]) -> Option<IacAccess> {
    let mut principals = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        let account = check(
            errors,
            &format!("iacAccess[{i}].account"),
            AwsAccountId::parse(&body.account),
        );
        if let Some(account) = account
            && let Some(principal) = check(
                errors,
                &format!("iacAccess[{i}].stackPrefix"),
                IacPrincipal::new(account, body.stack_prefix.as_deref()),
            )
        {
            principals.push(principal);
        }
    }
    check(errors, "iacAccess", IacAccess::new(principals))
}
