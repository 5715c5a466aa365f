//! Service accounts: create, read, list, change, disable, enable, delete.
//!
//! Every change is conditional on the version it read (and on `If-Match` when given), and
//! records its actor on the item. Disabling stops every token at once (they come back on
//! enable); deleting turns the account into a tombstone that names who deleted it, so the
//! audit trail attributes it, and then revokes its tokens one by one, for the record.

use shared::access::{Grants, IpAllowlist, Role, Roles};
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::{AccountStatus, NewServiceAccount, ServiceAccount};
use shared::text::{Description, DisplayName};
use shared::token::TokenOwner;
use store::{Page, PageLimit};

use crate::{Caller, UseCaseError, UseCases};

/// A validated change to an account: each field present replaces the stored one
/// (`description: Some(None)` removes the description).
#[derive(Debug, Default, Clone)]
pub struct AccountChanges {
    pub name: Option<DisplayName>,
    pub description: Option<Option<Description>>,
    pub roles: Option<Roles>,
    pub grants: Option<Grants>,
    pub ip_allowlist: Option<IpAllowlist>,
}

impl AccountChanges {
    fn apply_to(self, account: &mut ServiceAccount) {
        if let Some(name) = self.name {
            account.name = name;
        }
        if let Some(description) = self.description {
            account.description = description;
        }
        if let Some(roles) = self.roles {
            account.roles = roles;
        }
        if let Some(grants) = self.grants {
            account.grants = grants;
        }
        if let Some(ip_allowlist) = self.ip_allowlist {
            account.ip_allowlist = ip_allowlist;
        }
    }
}

impl UseCases {
    pub async fn create_account(
        &self,
        caller: &Caller,
        org: &OrgId,
        fields: NewServiceAccount,
    ) -> Result<ServiceAccount, UseCaseError> {
        let id = ServiceAccountId::generate()
            .map_err(|error| UseCaseError::internal("generating an id", &error))?;
        self.create_account_with_id(caller, org, id, fields).await
    }

    /// [`Self::create_account`] under an id the caller chose (the provisioner derives it from
    /// CloudFormation's request, so a retried request finds the account it made); a conflict
    /// if the id is taken.
    pub async fn create_account_with_id(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: ServiceAccountId,
        fields: NewServiceAccount,
    ) -> Result<ServiceAccount, UseCaseError> {
        let account =
            ServiceAccount::new(org.clone(), id, fields, caller.actor.clone(), self.now());
        self.store.create_account(&account).await?;
        Ok(account)
    }

    /// The account, unless it does not exist or is deleted.
    pub async fn account(
        &self,
        org: &OrgId,
        id: &ServiceAccountId,
    ) -> Result<ServiceAccount, UseCaseError> {
        match self.store.get_account(org, id).await? {
            Some(account) if !account.is_deleted() => Ok(account),
            _ => Err(UseCaseError::NotFound("service account")),
        }
    }

    /// One page of the organization's accounts (deleted ones left out).
    pub async fn list_accounts(
        &self,
        org: &OrgId,
        limit: PageLimit,
        cursor: Option<&str>,
    ) -> Result<Page<ServiceAccount>, UseCaseError> {
        Ok(self.store.list_accounts(org, limit, cursor).await?)
    }

    pub async fn update_account(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ServiceAccountId,
        if_match: Option<u64>,
        changes: AccountChanges,
    ) -> Result<ServiceAccount, UseCaseError> {
        let mut account = self.account(org, id).await?;
        UseCaseError::check_version(if_match, account.version, "service account")?;
        // The caller's own account must keep the admin role and let the caller's address in.
        let keeps_access = changes
            .roles
            .as_ref()
            .is_none_or(|roles| roles.contains(Role::Admin))
            && changes
                .ip_allowlist
                .as_ref()
                .is_none_or(|allowlist| caller.is_let_in_by(allowlist));
        caller.refuse_self_lockout(org, id, keeps_access)?;
        changes.apply_to(&mut account);
        self.save_account(caller, account).await
    }

    /// Disables the account (every token stops at once, and comes back on enable), and with
    /// `revoke_tokens` revokes each token for good. Disabling a disabled account writes
    /// nothing, but still revokes when asked.
    pub async fn disable_account(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ServiceAccountId,
        if_match: Option<u64>,
        revoke_tokens: bool,
    ) -> Result<ServiceAccount, UseCaseError> {
        let mut account = self.account(org, id).await?;
        UseCaseError::check_version(if_match, account.version, "service account")?;
        caller.refuse_self_lockout(org, id, false)?;
        let account = if account.status == AccountStatus::Disabled {
            account
        } else {
            account.status = AccountStatus::Disabled;
            self.save_account(caller, account).await?
        };
        if revoke_tokens {
            self.revoke_account_tokens(caller, org, id).await?;
        }
        Ok(account)
    }

    pub async fn enable_account(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ServiceAccountId,
        if_match: Option<u64>,
    ) -> Result<ServiceAccount, UseCaseError> {
        let mut account = self.account(org, id).await?;
        UseCaseError::check_version(if_match, account.version, "service account")?;
        if account.status == AccountStatus::Active {
            return Ok(account);
        }
        account.status = AccountStatus::Active;
        self.save_account(caller, account).await
    }

    /// The account becomes a tombstone naming who deleted it; from that write on, neither it
    /// nor any of its tokens authorizes anything. Its tokens are then revoked, and its trust
    /// policies deleted, for the record.
    pub async fn delete_account(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ServiceAccountId,
        if_match: Option<u64>,
    ) -> Result<(), UseCaseError> {
        let mut account = match self.store.get_account(org, id).await? {
            Some(account) if !account.is_deleted() => account,
            // A delete that stopped after its tombstone (a timeout, a crash) is finished by
            // the same request again: its tokens are revoked now. Once none is left, the
            // account is gone (404), as for any deleted account.
            Some(_) => {
                let revoked = self.revoke_account_tokens(caller, org, id).await?;
                let deleted = self.delete_account_trust_policies(caller, org, id).await?;
                return match revoked + deleted {
                    0 => Err(UseCaseError::NotFound("service account")),
                    _ => Ok(()),
                };
            }
            None => return Err(UseCaseError::NotFound("service account")),
        };
        UseCaseError::check_version(if_match, account.version, "service account")?;
        caller.refuse_self_lockout(org, id, false)?;
        account.delete(caller.actor.clone(), self.now(), self.retention);
        self.store.update_account(&account).await?;
        self.revoke_account_tokens(caller, org, id).await?;
        // Its trust policies go with it (they would otherwise count against the
        // organization's cap for ever, with no account to delete them from).
        self.delete_account_trust_policies(caller, org, id).await?;
        Ok(())
    }

    async fn revoke_account_tokens(
        &self,
        caller: &Caller,
        org: &OrgId,
        id: &ServiceAccountId,
    ) -> Result<usize, UseCaseError> {
        let revoked = self
            .revoke_all_tokens(caller, org, &TokenOwner::Account(id.clone()))
            .await?;
        tracing::info!(account = %id, revoked, "revoked the account's tokens");
        Ok(revoked)
    }

    /// Stores a changed account, conditional on the version it was read at.
    async fn save_account(
        &self,
        caller: &Caller,
        mut account: ServiceAccount,
    ) -> Result<ServiceAccount, UseCaseError> {
        account.updated_at = self.now();
        account.updated_by = caller.actor.clone();
        Ok(self.store.update_account(&account).await?)
    }
}
