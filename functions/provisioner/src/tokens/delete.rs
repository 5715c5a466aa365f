//! A token's Delete: every token the resource wrote is revoked with its whole rotation
//! lineage; then the secret is deleted if the resource created it and still holds its token,
//! given back to the token it held before if that one is another (earlier) resource's and
//! still valid (the rollback of a replacement in the same secret), or else left.

use std::collections::BTreeMap;

use shared::iac::{CustomResourceRequest, CustomResourceResponse, StackRef};
use shared::ids::TokenId;
use shared::token::TokenOwner;
use usecases::UseCaseError;

use super::{caller, drop_pending, made_by, still_valid};
use crate::properties::{Refusal, SecretTarget, TokenProperties};
use crate::secrets::{CURRENT, PENDING, PREVIOUS, PROVISIONING};
use crate::{Provisioner, physical_id, refusal, success};

pub(super) async fn delete(
    provider: &Provisioner,
    stack: &StackRef,
    request: &CustomResourceRequest,
) -> Result<CustomResourceResponse, Refusal> {
    let physical = physical_id(request);
    let Ok(id) = TokenId::parse(physical) else {
        // Never made (its Create failed): nothing to delete.
        return Ok(success(request, physical, BTreeMap::new()));
    };
    let (org, account, secret) =
        TokenProperties::parse_for_delete(&request.resource_properties, &provider.secret_prefix)?;
    let (caller, _) = caller(provider, stack, request, &org).await?;
    let secrets = &provider.secrets;
    let info = secrets.describe(secret.id()).await?;
    // Every token of this resource that its secret's labelled versions hold, revoked by its
    // own id as well as through the lineage of the first: once the retention after its
    // revocation by a rotation has passed, DynamoDB's TTL purges the first token's record.
    let mut current = None;
    let mut revoke = vec![id];
    if let Some(info) = &info {
        for label in [CURRENT, PENDING, PREVIOUS, PROVISIONING] {
            let Some(version) = info.version_with(label) else {
                continue;
            };
            let Some(document) = secrets
                .token_document(&info.arn, Some(version), None)
                .await?
            else {
                continue;
            };
            let ours = document.resource == physical
                && document.organization == org.as_str()
                && document.service_account.as_deref() == Some(account.as_str());
            if let (true, Ok(held)) = (ours, TokenId::parse(&document.token_id))
                && !revoke.contains(&held)
            {
                revoke.push(held);
            }
            if label == CURRENT {
                current = Some(document);
            }
        }
    }
    let owner = TokenOwner::Account(account);
    let use_cases = &provider.use_cases;
    for id in &revoke {
        match use_cases.revoke_token(&caller, &org, &owner, id).await {
            Ok(()) | Err(UseCaseError::NotFound(_)) => {}
            Err(error) => return Err(refusal(error)),
        }
    }
    let Some(info) = info else {
        return Ok(success(request, physical, BTreeMap::new()));
    };
    if current
        .as_ref()
        .is_some_and(|current| current.resource == physical)
    {
        let previous = match info.version_with(PREVIOUS) {
            Some(version) => secrets
                .token_document(&info.arn, Some(version), None)
                .await?
                .filter(|previous| previous.resource != physical)
                .map(|previous| (version.to_owned(), previous)),
            None => None,
        };
        let restorable = match &previous {
            Some((_, previous)) => still_valid(provider, previous).await?,
            None => false,
        };
        match (previous, restorable) {
            (Some((version, _)), true) => {
                let current = info.version_with(CURRENT).map(str::to_owned);
                secrets
                    .move_label(&info.arn, CURRENT, &version, current.as_deref())
                    .await?;
                drop_pending(secrets, &info).await?;
            }
            _ if matches!(secret, SecretTarget::Name(_)) && made_by(&info, request) => {
                secrets.delete(&info.arn).await?;
            }
            _ => {}
        }
    }
    Ok(success(request, physical, BTreeMap::new()))
}
