//! Organizations, service accounts, tokens and trust policies: create, read, update, list.

use aws_sdk_dynamodb::types::{AttributeValue, Select};
use shared::federation::TrustPolicy;
use shared::ids::{OrgId, ServiceAccountId, TokenId, TrustPolicyId};
use shared::model::{Organization, ServiceAccount, Token};
use shared::token::TokenOwner;

use crate::paging::{Page, PageLimit};
use crate::{DynamoStore, StoreError, keys};

/// The tokens a list covers.
#[derive(Debug, Clone)]
pub enum TokenListScope {
    /// Every token in the organization.
    All,
    /// The tokens of one owner: an account, or the org-wide tokens.
    Owner(TokenOwner),
}

impl DynamoStore {
    pub async fn create_org(&self, org: &Organization) -> Result<(), StoreError> {
        self.put_new(org).await
    }

    pub async fn get_org(&self, org: &OrgId) -> Result<Option<Organization>, StoreError> {
        self.get(keys::org_pk(org), keys::ORG_SK.to_owned()).await
    }

    /// Stores `org` if the stored version is still `org.version`; returns what was stored.
    pub async fn update_org(&self, org: &Organization) -> Result<Organization, StoreError> {
        self.put_next_version(org).await
    }

    pub async fn create_account(&self, account: &ServiceAccount) -> Result<(), StoreError> {
        self.put_new(account).await
    }

    pub async fn get_account(
        &self,
        org: &OrgId,
        account: &ServiceAccountId,
    ) -> Result<Option<ServiceAccount>, StoreError> {
        self.get(keys::org_pk(org), keys::account_sk(account)).await
    }

    /// Stores `account` if the stored version is still `account.version`.
    pub async fn update_account(
        &self,
        account: &ServiceAccount,
    ) -> Result<ServiceAccount, StoreError> {
        self.put_next_version(account).await
    }

    /// One page of the organization's service accounts, deleted ones (tombstones) left out.
    pub async fn list_accounts(
        &self,
        org: &OrgId,
        limit: PageLimit,
        cursor: Option<&str>,
    ) -> Result<Page<ServiceAccount>, StoreError> {
        self.query_page(
            org,
            keys::ACCOUNT_SK_PREFIX,
            Some("attribute_not_exists(deletedAt)"),
            limit,
            cursor,
        )
        .await
    }

    pub async fn create_token(&self, token: &Token) -> Result<(), StoreError> {
        self.put_new(token).await
    }

    pub async fn get_token(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        token: &TokenId,
    ) -> Result<Option<Token>, StoreError> {
        self.get(keys::org_pk(org), keys::token_sk(owner, token))
            .await
    }

    /// Stores `token` if the stored version is still `token.version`.
    pub async fn update_token(&self, token: &Token) -> Result<Token, StoreError> {
        self.put_next_version(token).await
    }

    pub async fn list_tokens(
        &self,
        org: &OrgId,
        scope: &TokenListScope,
        limit: PageLimit,
        cursor: Option<&str>,
    ) -> Result<Page<Token>, StoreError> {
        let prefix = match scope {
            TokenListScope::All => keys::TOKEN_SK_PREFIX.to_owned(),
            TokenListScope::Owner(owner) => keys::token_owner_prefix(owner),
        };
        self.query_page(org, &prefix, None, limit, cursor).await
    }

    pub async fn create_trust_policy(&self, policy: &TrustPolicy) -> Result<(), StoreError> {
        self.put_new(policy).await
    }

    /// A trust policy, deleted ones (tombstones) included.
    pub async fn get_trust_policy(
        &self,
        org: &OrgId,
        account: &ServiceAccountId,
        policy: &TrustPolicyId,
    ) -> Result<Option<TrustPolicy>, StoreError> {
        self.get(keys::org_pk(org), keys::trust_policy_sk(account, policy))
            .await
    }

    /// Stores `policy` if the stored version is still `policy.version`.
    pub async fn update_trust_policy(
        &self,
        policy: &TrustPolicy,
    ) -> Result<TrustPolicy, StoreError> {
        self.put_next_version(policy).await
    }

    /// How many live (not deleted) trust policies `org` has, all its accounts together:
    /// counted by DynamoDB (`Select: COUNT`, consistent), so no policy is sent back.
    pub async fn count_trust_policies(&self, org: &OrgId) -> Result<usize, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .filter_expression("attribute_not_exists(deletedAt)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::org_pk(org)))
            .expression_attribute_values(
                ":prefix",
                AttributeValue::S(keys::TRUST_POLICY_SK_PREFIX.to_owned()),
            )
            .select(Select::Count)
            .consistent_read(true);
        let mut count = 0usize;
        let mut start = None;
        loop {
            let output = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|error| StoreError::sdk("Query", error))?;
            count = count.saturating_add(usize::try_from(output.count).unwrap_or(0));
            start = output.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    /// One page of an account's trust policies, deleted ones left out.
    pub async fn list_trust_policies(
        &self,
        org: &OrgId,
        account: &ServiceAccountId,
        limit: PageLimit,
        cursor: Option<&str>,
    ) -> Result<Page<TrustPolicy>, StoreError> {
        self.query_page(
            org,
            &keys::trust_policies_prefix(account),
            Some("attribute_not_exists(deletedAt)"),
            limit,
            cursor,
        )
        .await
    }
}
