//! `Custom::ServiceToken`: a token minted into a Secrets Manager secret; every change of a
//! property replaces it, except a change back to what a live token of the resource was made
//! with (a rollback), which finds that token again; Delete revokes it (and its whole rotation
//! lineage) and deletes the secret if the resource created it.
//!
//! A secret belongs to one resource of one organization: it never moves to another.

mod create;
mod delete;

use std::collections::BTreeMap;

use shared::iac::{CustomResourceRequest, CustomResourceResponse, RequestType, StackRef};
use shared::ids::{OrgId, ServiceAccountId, TokenId};
use shared::model::{Organization, TokenStatus};
use shared::token::TokenOwner;
use usecases::{Caller, UseCaseError};

use crate::properties::{Refusal, TokenProperties};
use crate::secrets::{
    CURRENT, PENDING, PREVIOUS, SecretInfo, Secrets, TAG_LOGICAL_ID, TAG_ORGANIZATION, TAG_STACK,
    TokenDocument,
};
use crate::{Provisioner, fingerprint, physical_id, refusal, success};

pub const RESOURCE_TYPE: &str = "Custom::ServiceToken";

pub(crate) async fn handle(
    provider: &Provisioner,
    stack: &StackRef,
    request: &CustomResourceRequest,
) -> Result<CustomResourceResponse, Refusal> {
    match request.request_type {
        RequestType::Create => create::create(provider, stack, request).await,
        RequestType::Update => update(provider, stack, request).await,
        RequestType::Delete => delete::delete(provider, stack, request).await,
    }
}

/// An Update. When the secret the properties name holds a live token of this resource made
/// with these very properties, that token is the resource: nothing changed but
/// CloudFormation's own properties, or a rollback asks for the resource as it was before a
/// failed update (CloudFormation then sends the restored properties, with the failed ones as
/// `OldResourceProperties`, and deletes the replacement afterwards). That token is made
/// current again and its physical id answered. Otherwise a token cannot change: a new one
/// replaces it.
async fn update(
    provider: &Provisioner,
    stack: &StackRef,
    request: &CustomResourceRequest,
) -> Result<CustomResourceResponse, Refusal> {
    let props = TokenProperties::parse(&request.resource_properties, &provider.secret_prefix)?;
    caller(provider, stack, request, &props.org).await?;
    if let Some(found) = existing(provider, request, &props).await? {
        return Ok(found);
    }
    // A token written before documents recorded their properties: only CloudFormation's own
    // properties changed, so it is the same token.
    let unchanged = request.old_resource_properties.as_ref().is_some_and(|old| {
        shared::iac::provider_properties(old)
            == shared::iac::provider_properties(&request.resource_properties)
    });
    if unchanged {
        let info = provider
            .secrets
            .describe(props.secret.id())
            .await?
            .ok_or_else(|| Refusal::new("the token's secret no longer exists"))?;
        let id = physical_id(request);
        let data = data(&info.arn, id, &display_prefix(provider, id), &props.account);
        return Ok(success(request, id, data));
    }
    create::create(provider, stack, request).await
}

/// The answer for the live token of this resource that the secret holds as `AWSCURRENT` or
/// `AWSPREVIOUS` and that was made with the request's properties, made current if needed.
async fn existing(
    provider: &Provisioner,
    request: &CustomResourceRequest,
    props: &TokenProperties,
) -> Result<Option<CustomResourceResponse>, Refusal> {
    let secrets = &provider.secrets;
    let Some(info) = secrets.describe(props.secret.id()).await? else {
        return Ok(None);
    };
    if !made_by(&info, request) {
        return Ok(None);
    }
    let wanted = fingerprint(&request.resource_properties);
    for label in [CURRENT, PREVIOUS] {
        let Some(version) = info.version_with(label) else {
            continue;
        };
        let Some(document) = secrets
            .token_document(&info.arn, Some(version), None)
            .await?
        else {
            continue;
        };
        let same = document.properties.as_deref() == Some(wanted.as_str())
            && document.organization == props.org.as_str()
            && document.service_account.as_deref() == Some(props.account.as_str());
        if !same || !still_valid(provider, &document).await? {
            continue;
        }
        if label != CURRENT {
            let current = info.version_with(CURRENT).map(str::to_owned);
            secrets
                .move_label(&info.arn, CURRENT, version, current.as_deref())
                .await?;
            drop_pending(secrets, &info).await?;
        }
        let id = document.resource.as_str();
        let data = data(&info.arn, id, &display_prefix(provider, id), &props.account);
        return Ok(Some(success(request, id, data)));
    }
    Ok(None)
}

fn display_prefix(provider: &Provisioner, id: &str) -> String {
    format!("{}{id}", provider.use_cases.token_format.prefix().as_str())
}

fn data(
    secret_arn: &str,
    token_id: &str,
    prefix: &str,
    account: &ServiceAccountId,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("SecretArn".to_owned(), secret_arn.to_owned()),
        ("TokenId".to_owned(), token_id.to_owned()),
        ("Prefix".to_owned(), prefix.to_owned()),
        ("ServiceAccount".to_owned(), account.to_string()),
    ])
}

async fn caller(
    provider: &Provisioner,
    stack: &StackRef,
    request: &CustomResourceRequest,
    org: &OrgId,
) -> Result<(Caller, Organization), Refusal> {
    provider
        .use_cases
        .stack_caller(
            org,
            stack,
            &request.logical_resource_id,
            &request.request_id,
        )
        .await
        .map_err(refusal)
}

/// Whether `info` is a secret this resource of this stack created or claimed.
fn made_by(info: &SecretInfo, request: &CustomResourceRequest) -> bool {
    info.tags.get(TAG_STACK) == Some(&request.stack_id)
        && info.tags.get(TAG_LOGICAL_ID) == Some(&request.logical_resource_id)
}

/// The organization whose tokens the secret holds, by its tag (none before its first token).
fn tagged_org(info: &SecretInfo) -> Option<&str> {
    info.tags.get(TAG_ORGANIZATION).map(String::as_str)
}

/// The tags of a secret this resource writes to.
fn tags<'a>(request: &'a CustomResourceRequest, org: &'a OrgId) -> [(&'static str, &'a str); 3] {
    [
        (TAG_STACK, request.stack_id.as_str()),
        (TAG_LOGICAL_ID, request.logical_resource_id.as_str()),
        (TAG_ORGANIZATION, org.as_str()),
    ]
}

/// Takes `AWSPENDING` off the version that has it: a rotation of the token a replacement (or
/// a rollback) just took out of the secret would rotate the wrong token.
async fn drop_pending(secrets: &Secrets, info: &SecretInfo) -> Result<(), Refusal> {
    if let Some(pending) = info.version_with(PENDING) {
        secrets.remove_label(&info.arn, PENDING, pending).await?;
    }
    Ok(())
}

/// Whether the token `document` holds is stored and active (in its own organization).
async fn still_valid(provider: &Provisioner, document: &TokenDocument) -> Result<bool, Refusal> {
    let (Ok(org), Ok(id), Some(Ok(account))) = (
        OrgId::parse(&document.organization),
        TokenId::parse(&document.token_id),
        document
            .service_account
            .as_deref()
            .map(ServiceAccountId::parse),
    ) else {
        return Ok(false);
    };
    let use_cases = &provider.use_cases;
    match use_cases
        .token(&org, &TokenOwner::Account(account), &id)
        .await
    {
        Ok(token) => Ok(token.status(use_cases.now()) == TokenStatus::Active),
        Err(UseCaseError::NotFound(_)) => Ok(false),
        Err(error) => Err(refusal(error)),
    }
}
