//! A token's Create (or a replacing Update), in an order that a retry can repeat and a
//! failure leaves behind nothing in use:
//!
//! 1. the caller, the account, the policy and the secret are checked (a refusal writes
//!    nothing);
//! 2. the version derived from the request is looked for in the secret: a retry finds the
//!    token the first attempt wrote there, else a new token is generated;
//! 3. the token is written to the secret: a new secret (created with it, tagged with the
//!    stack, the resource and the organization), or a new version of an existing one,
//!    labelled `SERVICE-ACCOUNTS-PROVISIONING` (not `AWSCURRENT`: readers keep the old token);
//! 4. the token is stored with the mint use case (unless a retry finds it stored);
//! 5. the version becomes `AWSCURRENT`.
//!
//! A failure at 4 undoes 3 (the created secret is deleted, the version unlabelled), so an
//! Update that fails leaves the old token current, and the rollback finds it as it was.

use shared::iac::{CustomResourceRequest, CustomResourceResponse, StackRef};
use shared::ids::OrgId;
use shared::model::AccountStatus;
use shared::token::{ParsedToken, TokenOwner, TokenSecret};
use usecases::UseCaseError;
use usecases::tokens::MintRequest;

use super::{caller, data, drop_pending, made_by, tagged_org, tags};
use crate::properties::{Refusal, SecretTarget, TokenProperties};
use crate::secrets::{CURRENT, PROVISIONING, SecretInfo, Secrets, TokenDocument};
use crate::{Provisioner, derived_version_id, fingerprint, refusal, success};

pub(super) async fn create(
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
    let secrets = &provider.secrets;
    let info = secrets.describe(props.secret.id()).await?;
    check_secret(secrets, &props, info.as_ref(), request).await?;

    // 2. The token a first attempt may have written to the secret, or a new one.
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
        properties: Some(fingerprint(&request.resource_properties)),
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
            if !made_by(info, request) || tagged_org(info).is_none() {
                // The resource claims the secret for its organization, so no other resource
                // (and no other organization) can write to it.
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
    let stored = match use_cases.token(&props.org, &owner, &token_id).await {
        Ok(_) => true,
        Err(UseCaseError::NotFound(_)) => false,
        Err(error) => return Err(refusal(error)),
    };
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

/// Refuses a secret this resource may not write to. A secret belongs to one resource of one
/// organization, and never moves: a `SecretName` secret that exists must be this resource's;
/// a `SecretArn` secret must be untagged and hold no token yet, or be this resource's; and
/// this resource's secret holds tokens of the organization it was first written for only (a
/// new `Organization` needs a new secret).
async fn check_secret(
    secrets: &Secrets,
    props: &TokenProperties,
    info: Option<&SecretInfo>,
    request: &CustomResourceRequest,
) -> Result<(), Refusal> {
    let Some(info) = info else {
        return match props.secret {
            SecretTarget::Name(_) => Ok(()),
            SecretTarget::Arn(_) => Err(Refusal::new(
                "property SecretArn: no such secret (or it is scheduled for deletion)",
            )),
        };
    };
    if made_by(info, request) {
        return match tagged_org(info) {
            Some(org) if org != props.org.as_str() => Err(Refusal::new(format!(
                "property Organization: the secret {} holds this resource's token of another organization, and a secret never moves between organizations; name a new secret for {}",
                props.secret.name(),
                props.org
            ))),
            _ => Ok(()),
        };
    }
    match props.secret {
        SecretTarget::Name(ref name) => Err(Refusal::new(format!(
            "property SecretName: a secret named {name} exists and is not this resource's; name another, or give its ARN as SecretArn"
        ))),
        SecretTarget::Arn(_) => check_foreign_secret(secrets, info, &props.org).await,
    }
}

/// Refuses an existing secret (`SecretArn`) that is not this resource's when another
/// resource or organization claimed it, or it already holds a token (of anyone's).
async fn check_foreign_secret(
    secrets: &Secrets,
    info: &SecretInfo,
    org: &OrgId,
) -> Result<(), Refusal> {
    let tagged_by_another = info.tags.contains_key(crate::secrets::TAG_STACK)
        || tagged_org(info).is_some_and(|tagged| tagged != org.as_str());
    let holds_a_token = match info.version_with(CURRENT) {
        // A value that is not a token document (the secret's own placeholder) is fine.
        Some(_) => secrets
            .token_document(&info.arn, None, Some(CURRENT))
            .await?
            .is_some(),
        None => false,
    };
    if tagged_by_another || holds_a_token {
        return Err(Refusal::new(
            "property SecretArn: the secret holds another resource's or another organization's token",
        ));
    }
    Ok(())
}

/// Moves `AWSCURRENT` to `version` (and takes the provider's label and a stale
/// `AWSPENDING` off): the new token is the one readers get.
async fn make_current(secrets: &Secrets, arn: &str, version: &str) -> Result<(), Refusal> {
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

/// Undoes a write to the secret whose token was not handed over: the secret this request
/// created is deleted, else the version loses the provider's label. A failure is logged.
async fn undo_secret(secrets: &Secrets, arn: &str, version: &str, created: bool) {
    let undone = if created {
        secrets.delete(arn).await
    } else {
        secrets.remove_label(arn, PROVISIONING, version).await
    };
    if let Err(undo) = undone {
        tracing::warn!(%undo, "undoing the secret's write failed");
    }
}
