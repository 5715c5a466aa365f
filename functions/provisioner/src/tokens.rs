//! `Custom::ServiceToken`: a token minted into a Secrets Manager secret; every change of a
//! property replaces it; Delete revokes it (and its rotations) and deletes the secret if the
//! resource created it.
//!
//! A Create (or a replacing Update) runs in an order that a retry can repeat and a failure
//! leaves behind nothing in use:
//!
//! 1. the caller, the account and the policy are checked (a refusal writes nothing);
//! 2. the version derived from the request is looked for in the secret: a retry finds the
//!    token the first attempt wrote there, else a new token is generated;
//! 3. the token is written to the secret: a new secret (created with it, tagged with the
//!    stack and the resource), or a new version of an existing one, labelled
//!    `SERVICE-ACCOUNTS-PROVISIONING` (not `AWSCURRENT`: readers keep the old token);
//! 4. the token is stored with the mint use case (unless a retry finds it stored);
//! 5. the version becomes `AWSCURRENT`.
//!
//! A failure at 4 undoes 3 (the created secret is deleted, the version unlabelled), so an
//! Update that fails leaves the old token current, and the rollback finds it as it was.

use std::collections::BTreeMap;

use shared::iac::{CustomResourceRequest, CustomResourceResponse, RequestType, StackRef};
use shared::ids::{OrgId, ServiceAccountId, TokenId};
use shared::model::{AccountStatus, Organization, TokenStatus};
use shared::token::{ParsedToken, TokenOwner, TokenSecret};
use usecases::tokens::MintRequest;
use usecases::{Caller, UseCaseError};

use crate::properties::{Refusal, SecretTarget, TokenProperties};
use crate::secrets::{
    CURRENT, PENDING, PREVIOUS, PROVISIONING, SecretInfo, TAG_LOGICAL_ID, TAG_ORGANIZATION,
    TAG_STACK, TokenDocument,
};
use crate::{Provisioner, derived_version_id, physical_id, refusal, success};

pub const RESOURCE_TYPE: &str = "Custom::ServiceToken";

pub(crate) async fn handle(
    provider: &Provisioner,
    stack: &StackRef,
    request: &CustomResourceRequest,
) -> Result<CustomResourceResponse, Refusal> {
    match request.request_type {
        RequestType::Create => create(provider, stack, request).await,
        RequestType::Update => {
            let unchanged = request.old_resource_properties.as_ref().is_some_and(|old| {
                let mut old = old.clone();
                let mut new = request.resource_properties.clone();
                old.remove("ServiceToken");
                new.remove("ServiceToken");
                old == new
            });
            if unchanged {
                // Nothing to change (a new ServiceToken, the same provider): the same token.
                let props =
                    TokenProperties::parse(&request.resource_properties, &provider.secret_prefix)?;
                caller(provider, stack, request, &props.org).await?;
                let info = provider
                    .secrets
                    .describe(props.secret.id())
                    .await?
                    .ok_or_else(|| Refusal::new("the token's secret no longer exists"))?;
                let id = physical_id(request);
                let data = data(&info.arn, id, &display_prefix(provider, id), &props.account);
                Ok(success(request, id, data))
            } else {
                // A token cannot change: a new one replaces it.
                create(provider, stack, request).await
            }
        }
        RequestType::Delete => delete(provider, stack, request).await,
    }
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

/// Whether `info` is a secret this resource of this stack created.
fn made_by(info: &SecretInfo, request: &CustomResourceRequest) -> bool {
    info.tags.get(TAG_STACK) == Some(&request.stack_id)
        && info.tags.get(TAG_LOGICAL_ID) == Some(&request.logical_resource_id)
}

async fn create(
    provider: &Provisioner,
    stack: &StackRef,
    request: &CustomResourceRequest,
) -> Result<CustomResourceResponse, Refusal> {
    let props = TokenProperties::parse(&request.resource_properties, &provider.secret_prefix)?;
    let use_cases = &provider.use_cases;
    let (caller, org) = caller(provider, stack, request, &props.org).await?;
    // 1. What the mint would refuse, refused before anything is written.
    let account = use_cases
        .account(&props.org, &props.account)
        .await
        .map_err(|error| match error {
            UseCaseError::NotFound(_) => Refusal::new(format!(
                "property ServiceAccount: no service account {} in {}",
                props.account, props.org
            )),
            other => refusal(other),
        })?;
    if account.status != AccountStatus::Active {
        return Err(Refusal::new(
            "property ServiceAccount: the service account is disabled",
        ));
    }
    props
        .scopes
        .ensure_within(&account.roles, &account.grants)
        .map_err(|error| Refusal::new(format!("property Scopes: {}", error.reason())))?;
    org.token_policy
        .resolve_expiry(props.lifetime, use_cases.now())
        .map_err(|violation| Refusal::new(format!("property Lifetime: {violation}")))?;

    // 2. The secret, and the token a first attempt may have written to it.
    let secrets = &provider.secrets;
    let info = secrets.describe(props.secret.id()).await?;
    match (&props.secret, &info) {
        (SecretTarget::Name(name), Some(info)) if !made_by(info, request) => {
            return Err(Refusal::new(format!(
                "property SecretName: a secret named {name} exists and is not this resource's; name another, or give its ARN as SecretArn"
            )));
        }
        (SecretTarget::Arn(_), None) => {
            return Err(Refusal::new(
                "property SecretArn: no such secret (or it is scheduled for deletion)",
            ));
        }
        (SecretTarget::Arn(_), Some(info)) => {
            check_foreign_secret(secrets, info, request, &props.org).await?;
        }
        _ => {}
    }
    let version = derived_version_id(request);
    let owner = TokenOwner::Account(props.account.clone());
    let written = match &info {
        Some(_) => {
            secrets
                .document(props.secret.id(), Some(&version), None)
                .await?
        }
        None => None,
    };
    let parsed = match &written {
        Some(document) => ParsedToken::parse(
            &use_cases.token_format,
            TokenSecret::new(document.token.clone()),
        )
        .map_err(|_| Refusal::new("the secret's version holds no token of this deployment"))?,
        None => use_cases
            .generate_token(&props.org, &owner)
            .map_err(refusal)?,
    };
    let document = TokenDocument {
        token: parsed.secret().expose_secret().to_owned(),
        token_id: parsed.id().to_string(),
        prefix: parsed.display_prefix().to_owned(),
        organization: props.org.to_string(),
        service_account: Some(props.account.to_string()),
        resource: parsed.id().to_string(),
    };

    // 3. Into the secret. A secret this request created holds only this request's version
    // (also when a retry finds it): a failure deletes it.
    let created_before = info.as_ref().is_some_and(|info| {
        matches!(props.secret, SecretTarget::Name(_))
            && made_by(info, request)
            && info.versions.len() == 1
            && info.versions.contains_key(&version)
    });
    let (arn, created) = match &info {
        None => {
            let arn = secrets
                .create(
                    props.secret.id(),
                    &version,
                    &document,
                    props.kms_key_id.as_deref(),
                    &tags(request, &props.org),
                )
                .await?;
            (arn, true)
        }
        Some(info) => {
            if !made_by(info, request)
                || info.tags.get(TAG_ORGANIZATION).map(String::as_str) != Some(props.org.as_str())
            {
                // The resource claims the secret (for its organization now), so no other
                // resource can write to it.
                secrets.tag(&info.arn, &tags(request, &props.org)).await?;
            }
            if written.is_none() {
                secrets
                    .put(&info.arn, &version, &document, PROVISIONING)
                    .await?;
            }
            (info.arn.clone(), created_before)
        }
    };

    // 4. Into the store, unless a first attempt got this far.
    let token_id = parsed.id().clone();
    let stored = use_cases
        .store
        .get_token(&props.org, &owner, &token_id)
        .await
        .map_err(|error| refusal(error.into()))?
        .is_some();
    if !stored {
        let mint = MintRequest {
            name: props.name,
            description: props.description,
            scopes: props.scopes,
            lifetime: props.lifetime,
        };
        if let Err(error) = use_cases
            .mint_prepared(&caller, &org, &owner, mint, parsed)
            .await
        {
            undo_secret(secrets, &arn, &version, created).await;
            return Err(refusal(error));
        }
    }

    // 5. The new token becomes the secret's current one. If that fails, the answer is a
    // failure, so nothing may stay behind: the token is revoked and the secret's write undone.
    if !created && let Err(error) = make_current(secrets, &arn, &version).await {
        match use_cases
            .revoke_token(&caller, &props.org, &owner, &token_id)
            .await
        {
            Ok(()) => undo_secret(secrets, &arn, &version, created).await,
            Err(revoke) => {
                tracing::error!(%revoke, token = %token_id, "revoking a token that was never handed over failed");
            }
        }
        return Err(error);
    }
    Ok(success(
        request,
        token_id.as_str(),
        data(&arn, token_id.as_str(), &document.prefix, &props.account),
    ))
}

/// The tags of a secret this resource writes to.
fn tags<'a>(request: &'a CustomResourceRequest, org: &'a OrgId) -> [(&'static str, &'a str); 3] {
    [
        (TAG_STACK, request.stack_id.as_str()),
        (TAG_LOGICAL_ID, request.logical_resource_id.as_str()),
        (TAG_ORGANIZATION, org.as_str()),
    ]
}

/// Refuses an existing secret (`SecretArn`) that another resource, or another organization,
/// holds a token in.
async fn check_foreign_secret(
    secrets: &crate::secrets::Secrets,
    info: &SecretInfo,
    request: &CustomResourceRequest,
    org: &OrgId,
) -> Result<(), Refusal> {
    if made_by(info, request) {
        // This resource's already (a retry, or a replacement, to another organization too).
        return Ok(());
    }
    let tagged_by_another = info.tags.contains_key(TAG_STACK);
    let other_org = info
        .tags
        .get(TAG_ORGANIZATION)
        .is_some_and(|tagged| tagged != org.as_str());
    let holds_other_org = match info.version_with(CURRENT) {
        // A value that is not a token document (the secret's own placeholder) is fine.
        Some(_) => secrets
            .document(&info.arn, None, Some(CURRENT))
            .await
            .ok()
            .flatten()
            .is_some_and(|current| current.organization != org.as_str()),
        None => false,
    };
    if tagged_by_another || other_org || holds_other_org {
        return Err(Refusal::new(
            "property SecretArn: the secret holds another resource's or another organization's token",
        ));
    }
    Ok(())
}

/// Moves `AWSCURRENT` to `version` (and takes the provider's label and a stale
/// `AWSPENDING` off): the new token is the one readers get.
async fn make_current(
    secrets: &crate::secrets::Secrets,
    arn: &str,
    version: &str,
) -> Result<(), Refusal> {
    let info = secrets
        .describe(arn)
        .await?
        .ok_or_else(|| Refusal::new("the secret was deleted meanwhile"))?;
    if !info.version_has(version, CURRENT) {
        let current = info.version_with(CURRENT).map(str::to_owned);
        secrets
            .move_label(arn, CURRENT, version, current.as_deref())
            .await?;
    }
    if info.version_has(version, PROVISIONING) {
        secrets.remove_label(arn, PROVISIONING, version).await?;
    }
    drop_pending(secrets, &info).await
}

/// Takes `AWSPENDING` off the version that has it: a rotation of the token a replacement (or
/// a rollback) just took out of the secret would rotate the wrong token.
async fn drop_pending(secrets: &crate::secrets::Secrets, info: &SecretInfo) -> Result<(), Refusal> {
    if let Some(pending) = info.version_with(PENDING) {
        secrets.remove_label(&info.arn, PENDING, pending).await?;
    }
    Ok(())
}

/// Undoes a write to the secret whose token was not handed over: the secret this request
/// created is deleted, else the version loses the provider's label. A failure is logged.
async fn undo_secret(secrets: &crate::secrets::Secrets, arn: &str, version: &str, created: bool) {
    let undone = if created {
        secrets.delete(arn).await
    } else {
        secrets.remove_label(arn, PROVISIONING, version).await
    };
    if let Err(undo) = undone {
        tracing::warn!(%undo, "undoing the secret's write failed");
    }
}

/// Revokes the token and the tokens it was rotated into; then the secret: deleted if the
/// resource created it and still holds its token, given back to the token it held before if
/// that one is another resource's and still valid (the rollback of a replacement), else left.
async fn delete(
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
    // This resource's tokens in its secret, current and pending. They are revoked by their
    // own ids as well as through the lineage of the first: once the retention after its
    // revocation by a rotation has passed, DynamoDB's TTL purges the first token's record,
    // and the lineage can no longer be walked from it.
    let mut current = None;
    let mut revoke = vec![id];
    if let Some(info) = &info {
        for label in [CURRENT, PENDING] {
            let Some(document) = secrets.token_document(&info.arn, None, Some(label)).await? else {
                continue;
            };
            let ours = document.resource == physical
                && document.organization == org.as_str()
                && document.service_account.as_deref() == Some(account.as_str());
            if let (true, Ok(held)) = (ours, TokenId::parse(&document.token_id)) {
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
    let owner = &TokenOwner::Account(account);
    let use_cases = &provider.use_cases;
    let token = use_cases
        .store
        .get_token(&org, owner, &id)
        .await
        .map_err(|error| refusal(error.into()))?;
    Ok(token.is_some_and(|token| token.status(use_cases.now()) == TokenStatus::Active))
}
