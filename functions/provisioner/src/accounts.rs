//! `Custom::ServiceAccount`: Create, Update (in place, or a replacement when `Organization`
//! changes) and Delete, through the account use cases.

use std::collections::BTreeMap;

use shared::iac::{CustomResourceRequest, CustomResourceResponse, RequestType, StackRef};
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::{AccountStatus, ActorKind, ServiceAccount};
use usecases::PageLimit;
use usecases::accounts::AccountChanges;
use usecases::{Caller, UseCaseError};

use crate::properties::{AccountProperties, Refusal};
use crate::{Provisioner, derived_account_id, physical_id, refusal, success};

pub const RESOURCE_TYPE: &str = "Custom::ServiceAccount";

pub(crate) async fn handle(
    provider: &Provisioner,
    stack: &StackRef,
    request: &CustomResourceRequest,
) -> Result<CustomResourceResponse, Refusal> {
    match request.request_type {
        RequestType::Create => {
            let props = AccountProperties::parse(&request.resource_properties)?;
            create(provider, stack, request, props).await
        }
        RequestType::Update => update(provider, stack, request).await,
        RequestType::Delete => delete(provider, stack, request).await,
    }
}

async fn caller(
    provider: &Provisioner,
    stack: &StackRef,
    request: &CustomResourceRequest,
    org: &OrgId,
) -> Result<Caller, Refusal> {
    provider
        .use_cases
        .stack_caller(
            org,
            stack,
            &request.logical_resource_id,
            &request.request_id,
        )
        .await
        .map(|(caller, _)| caller)
        .map_err(refusal)
}

fn data(account: &ServiceAccount) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("Id".to_owned(), account.id.to_string()),
        ("Organization".to_owned(), account.org.to_string()),
        ("Name".to_owned(), account.name.to_string()),
    ])
}

/// Makes the account under the id derived from the request; a retry finds it made.
async fn create(
    provider: &Provisioner,
    stack: &StackRef,
    request: &CustomResourceRequest,
    props: AccountProperties,
) -> Result<CustomResourceResponse, Refusal> {
    let caller = caller(provider, stack, request, &props.org).await?;
    let use_cases = &provider.use_cases;
    let id = derived_account_id(request)?;
    let account = match use_cases
        .stored_account(&props.org, &id)
        .await
        .map_err(refusal)?
    {
        Some(account) if account.is_deleted() => {
            return Err(Refusal::new(
                "the account this request made has been deleted since",
            ));
        }
        Some(account) => account,
        None => use_cases
            .create_account_with_id(&caller, &props.org, id.clone(), props.fields)
            .await
            .map_err(refusal)?,
    };
    match set_enabled(provider, &caller, account, props.enabled).await {
        Ok(account) => Ok(success(request, id.as_str(), data(&account))),
        Err(refusal) => {
            // The answer is a failure, and no Delete will name this account: it goes.
            if let Err(error) = use_cases
                .delete_account(&caller, &props.org, &id, None)
                .await
            {
                tracing::error!(%error, account = %id, "deleting an account never handed over failed");
            }
            Err(refusal)
        }
    }
}

async fn set_enabled(
    provider: &Provisioner,
    caller: &Caller,
    account: ServiceAccount,
    enabled: bool,
) -> Result<ServiceAccount, Refusal> {
    let use_cases = &provider.use_cases;
    match (enabled, account.status) {
        (true, AccountStatus::Disabled) => use_cases
            .enable_account(caller, &account.org, &account.id, None)
            .await
            .map_err(refusal),
        (false, AccountStatus::Active) => use_cases
            .disable_account(caller, &account.org, &account.id, None, false)
            .await
            .map_err(refusal),
        _ => Ok(account),
    }
}

/// An Update: in place, unless `Organization` changed. An account does not move between
/// organizations, so then the resource's live account in the new organization is updated in
/// place if it has one (a rollback to the organization before a failed update: CloudFormation
/// sends the restored properties, with the failed ones as `OldResourceProperties`, and deletes
/// the replacement afterwards), else a new account replaces it.
async fn update(
    provider: &Provisioner,
    stack: &StackRef,
    request: &CustomResourceRequest,
) -> Result<CustomResourceResponse, Refusal> {
    let props = AccountProperties::parse(&request.resource_properties)?;
    let old_org = request
        .old_resource_properties
        .as_ref()
        .and_then(|old| AccountProperties::org_of(old).ok());
    let caller = caller(provider, stack, request, &props.org).await?;
    let id = if old_org.as_ref() == Some(&props.org) {
        ServiceAccountId::parse(physical_id(request))
            .map_err(|_| Refusal::new("the physical resource id is not a service account's id"))?
    } else {
        match resource_account(provider, request, &props.org).await? {
            Some(id) => id,
            None => return create(provider, stack, request, props).await,
        }
    };
    let use_cases = &provider.use_cases;
    let account = use_cases
        .account(&props.org, &id)
        .await
        .map_err(|error| match error {
            UseCaseError::NotFound(_) => Refusal::new(format!(
                "service account {id} no longer exists in {}",
                props.org
            )),
            other => refusal(other),
        })?;
    let fields = props.fields;
    let unchanged = account.name == fields.name
        && account.description == fields.description
        && account.roles == fields.roles
        && account.grants == fields.grants
        && account.ip_allowlist == fields.ip_allowlist;
    let account = if unchanged {
        account
    } else {
        let changes = AccountChanges {
            name: Some(fields.name),
            description: Some(fields.description),
            roles: Some(fields.roles),
            grants: Some(fields.grants),
            ip_allowlist: Some(fields.ip_allowlist),
        };
        use_cases
            .update_account(&caller, &props.org, &id, None, changes)
            .await
            .map_err(refusal)?
    };
    let account = set_enabled(provider, &caller, account, props.enabled).await?;
    Ok(success(request, id.as_str(), data(&account)))
}

/// The live account this resource of this stack made in `org`, if any (the newest, should
/// there be several).
async fn resource_account(
    provider: &Provisioner,
    request: &CustomResourceRequest,
    org: &OrgId,
) -> Result<Option<ServiceAccountId>, Refusal> {
    let mut found: Option<ServiceAccount> = None;
    let mut cursor: Option<String> = None;
    loop {
        let page = provider
            .use_cases
            .list_accounts(org, PageLimit::FULL, cursor.as_deref())
            .await
            .map_err(refusal)?;
        for account in page.items {
            let made = &account.created_by;
            let ours = made.kind == ActorKind::Stack
                && made.id == request.stack_id
                && made.logical_resource_id.as_deref() == Some(&request.logical_resource_id);
            if ours
                && found
                    .as_ref()
                    .is_none_or(|f| f.created_at < account.created_at)
            {
                found = Some(account);
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(found.map(|account| account.id)),
        }
    }
}

/// Deletes the account and revokes its tokens. One that was never made (its Create failed,
/// or it is gone) is deleted already.
async fn delete(
    provider: &Provisioner,
    stack: &StackRef,
    request: &CustomResourceRequest,
) -> Result<CustomResourceResponse, Refusal> {
    let physical = physical_id(request);
    let Ok(id) = ServiceAccountId::parse(physical) else {
        return Ok(success(request, physical, BTreeMap::new()));
    };
    let org = AccountProperties::org_of(&request.resource_properties)?;
    let caller = caller(provider, stack, request, &org).await?;
    match provider
        .use_cases
        .delete_account(&caller, &org, &id, None)
        .await
    {
        Ok(()) | Err(UseCaseError::NotFound(_)) => Ok(success(request, physical, BTreeMap::new())),
        Err(error) => Err(refusal(error)),
    }
}
