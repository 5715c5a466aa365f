//! The DynamoDB store of organizations, service accounts and tokens.
//!
//! Items are converted with `serde_dynamo`; the keys, TTL and item type are added beside the
//! entity's own fields ([`keys`] documents the design). Writes are conditional:
//!
//! * creates use `attribute_not_exists(pk)`, so a duplicate fails with
//!   [`StoreError::AlreadyExists`] instead of overwriting;
//! * updates replace the item only if its `version` is still the one that was read, and write
//!   the next version, so of two concurrent updates one wins and the other gets
//!   [`StoreError::VersionConflict`] (the admin API's `409` and `If-Match`);
//!
//! and every read that a decision depends on is strongly consistent.

pub mod audit;
pub mod keys;

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::config::TableName;
use crate::ids::{OrgId, ServiceAccountId, TokenId};
use crate::model::{Actor, Organization, ServiceAccount, Token};
use crate::token::{ParsedToken, TokenOwner};

type Item = HashMap<String, AttributeValue>;

/// Why a store operation failed. The messages carry ids and causes, never token text (the
/// store never sees any: only hashes).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the {entity} already exists")]
    AlreadyExists { entity: &'static str },
    #[error("the {entity} does not exist")]
    NotFound { entity: &'static str },
    #[error("the {entity} was changed concurrently (expected version {expected})")]
    VersionConflict { entity: &'static str, expected: u64 },
    #[error("the pagination cursor is not valid for this list")]
    InvalidCursor,
    #[error("a time is outside the years 0000 to 9999 in UTC")]
    InvalidTime,
    #[error("a stored {entity} could not be read: {reason}")]
    Corrupt {
        entity: &'static str,
        reason: String,
    },
    #[error("DynamoDB {operation} failed: {source}")]
    Dynamo {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("DynamoDB left keys unprocessed after {attempts} attempts")]
    Throttled { attempts: u32 },
    #[error("the client secret has issued its quota of access tokens for this window")]
    QuotaExceeded,
}

impl StoreError {
    fn dynamo(
        operation: &'static str,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Dynamo {
            operation,
            source: Box::new(error),
        }
    }
}

/// An entity that is stored as one item.
pub trait Record: Serialize + DeserializeOwned {
    /// The item type, stored in the `entity` attribute.
    const ENTITY: &'static str;
    fn partition_key(&self) -> String;
    fn sort_key(&self) -> String;
    fn version(&self) -> u64;
    fn set_version(&mut self, version: u64);
    /// The epoch second after which DynamoDB may delete the item.
    fn expires_at_epoch(&self) -> Option<i64> {
        None
    }
}

impl Record for Organization {
    const ENTITY: &'static str = "org";

    fn partition_key(&self) -> String {
        keys::org_pk(&self.id)
    }

    fn sort_key(&self) -> String {
        keys::ORG_SK.to_owned()
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn set_version(&mut self, version: u64) {
        self.version = version;
    }
}

impl Record for ServiceAccount {
    const ENTITY: &'static str = "service_account";

    fn partition_key(&self) -> String {
        keys::org_pk(&self.org)
    }

    fn sort_key(&self) -> String {
        keys::account_sk(&self.id)
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    fn expires_at_epoch(&self) -> Option<i64> {
        self.purge_after.map(|at| at.unix_timestamp())
    }
}

impl Record for Token {
    const ENTITY: &'static str = "token";

    fn partition_key(&self) -> String {
        keys::org_pk(&self.org)
    }

    fn sort_key(&self) -> String {
        keys::token_sk(&token_owner(self), &self.id)
    }

    fn version(&self) -> u64 {
        self.version
    }

    fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    fn expires_at_epoch(&self) -> Option<i64> {
        self.purge_after
            .or(self.expires_at)
            .map(|at| at.unix_timestamp())
    }
}

fn token_owner(token: &Token) -> TokenOwner {
    match &token.account {
        Some(account) => TokenOwner::Account(account.clone()),
        None => TokenOwner::Org,
    }
}

/// How many items a list page holds: 1–100, default 50.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u16);

impl PageLimit {
    pub const MAX: u16 = 100;

    pub fn parse(value: u64) -> Result<Self, crate::ParseError> {
        match u16::try_from(value) {
            Ok(limit @ 1..=Self::MAX) => Ok(Self(limit)),
            _ => Err(crate::ParseError::new("`limit` is between 1 and 100")),
        }
    }

    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(50)
    }
}

/// One page of a list, and the cursor of the next page if there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The tokens a list covers.
#[derive(Debug, Clone)]
pub enum TokenListScope {
    /// Every token in the organization.
    All,
    /// The tokens of one owner: an account, or the org-wide tokens.
    Owner(TokenOwner),
}

/// What the authorizer needs to decide on a token, fetched in one round trip.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationRecords {
    pub org: Option<Organization>,
    /// Always `None` for org-wide tokens.
    pub account: Option<ServiceAccount>,
    pub token: Option<Token>,
}

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.table)
            .finish()
    }
}

impl DynamoStore {
    /// How often a `BatchGetItem` with unprocessed keys is retried before giving up.
    const BATCH_ATTEMPTS: u32 = 6;
    /// How many passes a revoke-all makes at most before it reports a conflict.
    const REVOKE_PASSES: u32 = 5;
    /// How many revocations of one sweep are in flight at once.
    const REVOKE_CONCURRENCY: usize = 16;

    pub fn new(client: Client, table: &TableName) -> Self {
        Self {
            client,
            table: table.as_str().to_owned(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

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

    /// Creates an organization, its first admin account and that account's first token,
    /// all or nothing. Refuses (`AlreadyExists`) if the organization exists.
    pub async fn create_org_with_admin(
        &self,
        org: &Organization,
        account: &ServiceAccount,
        token: &Token,
    ) -> Result<(), StoreError> {
        let items = vec![
            self.put_if_absent(encode(org)?)?,
            self.put_if_absent(encode(account)?)?,
            self.put_if_absent(encode(token)?)?,
        ];
        self.transact(items, StoreError::AlreadyExists { entity: "org" })
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

    /// Stores `new` and the changed `old` token (revoked at once or at the end of a grace
    /// period, pointing at `new`) in one transaction: either the rotation happened or
    /// nothing did. `old` must still be at the version it was read at.
    pub async fn rotate_token(&self, old: &Token, new: &Token) -> Result<Token, StoreError> {
        let mut next = old.clone();
        next.set_version(old.version + 1);
        let items = vec![
            self.put_if_absent(encode(new)?)?,
            self.put_if_version(encode(&next)?, old.version)?,
        ];
        let conflict = StoreError::VersionConflict {
            entity: "token",
            expected: old.version,
        };
        self.transact(items, conflict).await?;
        Ok(next)
    }

    /// Stores the OAuth2 access token `access`, issued for the client secret `secret` as it was
    /// read, in one transaction with a count on the secret: the write happens only if the
    /// secret is still at the version it was read at (so a revocation that landed in between
    /// wins) and fewer than `cap` access tokens were issued for it in `window`. The count is
    /// written without a new `version`, so it is no change for the audit trail.
    /// [`StoreError::VersionConflict`] means: read the secret again and decide again.
    pub async fn create_access_token(
        &self,
        access: &Token,
        secret: &Token,
        window: i64,
        cap: u32,
    ) -> Result<(), StoreError> {
        let issued = match secret.access_window {
            Some(current) if current == window => secret.access_issued.unwrap_or(0),
            _ => 0,
        };
        if issued >= cap {
            return Err(StoreError::QuotaExceeded);
        }
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(secret.partition_key(), secret.sort_key())))
            .expression_attribute_names("#version", keys::VERSION)
            .expression_attribute_names("#window", "accessWindow")
            .expression_attribute_names("#issued", "accessIssued")
            .expression_attribute_values(":version", AttributeValue::N(secret.version.to_string()))
            .expression_attribute_values(":window", AttributeValue::N(window.to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()));
        update = if issued == 0 {
            update
                .update_expression("SET #window = :window, #issued = :one")
                .condition_expression(
                    "#version = :version AND (attribute_not_exists(#window) OR #window < :window)",
                )
        } else {
            update
                .update_expression("SET #issued = #issued + :one")
                .condition_expression(
                    "#version = :version AND #window = :window AND #issued < :cap",
                )
                .expression_attribute_values(":cap", AttributeValue::N(cap.to_string()))
        };
        let update = update
            .build()
            .map_err(|error| StoreError::dynamo("TransactWriteItems", error))?;
        let items = vec![
            self.put_if_absent(encode(access)?)?,
            TransactWriteItem::builder().update(update).build(),
        ];
        let conflict = StoreError::VersionConflict {
            entity: "token",
            expected: secret.version,
        };
        self.transact(items, conflict).await
    }

    /// A transaction's `Put` that writes only if no item has the key yet.
    fn put_if_absent(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .build()
            .map_err(|error| StoreError::dynamo("TransactWriteItems", error))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A transaction's `Put` that writes only if the stored version is still `expected`.
    fn put_if_version(&self, item: Item, expected: u64) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", keys::VERSION)
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .build()
            .map_err(|error| StoreError::dynamo("TransactWriteItems", error))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Writes `items` all or nothing; a cancellation by a failed condition is `on_condition`.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        on_condition: StoreError,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error.as_service_error().is_some_and(|e| {
                    e.is_transaction_canceled_exception()
                        && e.to_string().contains("ConditionalCheckFailed")
                }) =>
            {
                Err(on_condition)
            }
            Err(error) => Err(StoreError::dynamo("TransactWriteItems", error)),
        }
    }

    /// Revokes every token of `owner` that is not revoked yet, as `actor`, keeping each
    /// record for `retention`. A token changed concurrently (its last-used time, say) is
    /// re-read and revoked again. Returns how many tokens this call revoked.
    pub async fn revoke_tokens(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        actor: &Actor,
        at: OffsetDateTime,
        retention: time::Duration,
    ) -> Result<usize, StoreError> {
        self.revoke_tokens_where(org, owner, actor, at, retention, |_| true)
            .await
    }

    /// [`Self::revoke_tokens`], for the tokens of `owner` that `which` selects.
    pub async fn revoke_tokens_where(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        actor: &Actor,
        at: OffsetDateTime,
        retention: time::Duration,
        which: impl Fn(&Token) -> bool,
    ) -> Result<usize, StoreError> {
        let scope = TokenListScope::Owner(owner.clone());
        let mut revoked = 0;
        // A token can appear while a pass runs (a self-rotation that committed just before
        // its parent was revoked): passes repeat until one finds nothing left to revoke.
        for _pass in 0..Self::REVOKE_PASSES {
            let mut revoked_this_pass = 0;
            let mut cursor = None;
            loop {
                let page = self
                    .list_tokens(org, &scope, PageLimit(PageLimit::MAX), cursor.as_deref())
                    .await?;
                // A page's revocations run side by side (a bounded number at a time), so a
                // sweep of many tokens is a few round trips, not one per token.
                let outcomes: Vec<Result<bool, StoreError>> =
                    futures_util::stream::iter(page.items.into_iter().filter(|token| which(token)))
                        .map(|token| self.revoke_one(org, owner, token, actor, at, retention))
                        .buffer_unordered(Self::REVOKE_CONCURRENCY)
                        .collect()
                        .await;
                for outcome in outcomes {
                    if outcome? {
                        revoked_this_pass += 1;
                    }
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            if revoked_this_pass == 0 {
                return Ok(revoked);
            }
            revoked += revoked_this_pass;
        }
        Err(StoreError::VersionConflict {
            entity: "token",
            expected: 0,
        })
    }

    /// Revokes `token` unless it is revoked already; re-reads it after a concurrent change.
    /// Whether this call revoked it.
    async fn revoke_one(
        &self,
        org: &OrgId,
        owner: &TokenOwner,
        mut token: Token,
        actor: &Actor,
        at: OffsetDateTime,
        retention: time::Duration,
    ) -> Result<bool, StoreError> {
        for _attempt in 0..5 {
            if token.revoked_at.is_some_and(|earlier| earlier <= at) {
                return Ok(false);
            }
            token.revoke(actor.clone(), at, retention);
            match self.update_token(&token).await {
                Ok(_) => return Ok(true),
                Err(StoreError::VersionConflict { .. }) => {
                    match self.get_token(org, owner, &token.id).await? {
                        Some(fresh) => token = fresh,
                        None => return Ok(false),
                    }
                }
                Err(StoreError::NotFound { .. }) => return Ok(false),
                Err(error) => return Err(error),
            }
        }
        // Still changing after five tries: say so rather than leave it silently active.
        Err(StoreError::VersionConflict {
            entity: "token",
            expected: token.version,
        })
    }

    /// Records that `token` (and its account) was used at `now`, unless that was recorded
    /// less than `interval` ago. Conditional writes that touch only `lastUsedAt`, so they never
    /// conflict with an admin's change; a lost condition means someone else recorded it.
    pub async fn touch_last_used(
        &self,
        token: &Token,
        now: OffsetDateTime,
        interval: time::Duration,
    ) -> Result<(), StoreError> {
        let now = crate::policy::truncate_to_seconds(now);
        let stamp = |at: OffsetDateTime| {
            at.format(&time::format_description::well_known::Rfc3339)
                .map_err(|error| StoreError::dynamo("UpdateItem", error))
        };
        let (now_text, threshold) = (stamp(now)?, stamp(now - interval)?);
        let pk = keys::org_pk(&token.org);
        let token_sk = keys::token_sk(&token_owner(token), &token.id);
        let on_token = self.set_last_used(pk.clone(), token_sk, &now_text, &threshold);
        let on_account = async {
            match &token.account {
                Some(account) => {
                    let sk = keys::account_sk(account);
                    self.set_last_used(pk.clone(), sk, &now_text, &threshold)
                        .await
                }
                None => Ok(()),
            }
        };
        let (on_token, on_account) = tokio::join!(on_token, on_account);
        on_token.and(on_account)
    }

    async fn set_last_used(
        &self,
        pk: String,
        sk: String,
        now: &str,
        threshold: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression("SET #used = :now")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#used) OR #used < :threshold)",
            )
            .expression_attribute_names("#used", "lastUsedAt")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":now", AttributeValue::S(now.to_owned()))
            .expression_attribute_values(":threshold", AttributeValue::S(threshold.to_owned()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(StoreError::dynamo("UpdateItem", error)),
        }
    }

    /// Reads the token, its account (if it has one) and its organization in one strongly
    /// consistent `BatchGetItem`, retrying unprocessed keys with backoff.
    pub async fn fetch_for_authorization(
        &self,
        token: &ParsedToken,
    ) -> Result<AuthorizationRecords, StoreError> {
        let pk = keys::org_pk(token.org());
        let mut wanted = vec![
            key(pk.clone(), keys::token_sk(token.owner(), token.id())),
            key(pk.clone(), keys::ORG_SK.to_owned()),
        ];
        if let TokenOwner::Account(account) = token.owner() {
            wanted.push(key(pk, keys::account_sk(account)));
        }
        let mut records = AuthorizationRecords::default();
        for item in self.batch_get(wanted).await? {
            match entity_of(&item) {
                Some(Organization::ENTITY) => records.org = Some(decode(item)?),
                Some(ServiceAccount::ENTITY) => records.account = Some(decode(item)?),
                Some(Token::ENTITY) => records.token = Some(decode(item)?),
                _ => {
                    return Err(StoreError::Corrupt {
                        entity: "item",
                        reason: "unknown entity type".into(),
                    });
                }
            }
        }
        Ok(records)
    }

    async fn batch_get(&self, wanted: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(wanted.len());
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(wanted))
            .consistent_read(true)
            .build()
            .map_err(|error| StoreError::dynamo("BatchGetItem", error))?;
        for attempt in 0..Self::BATCH_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
            }
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, pending.clone())
                .send()
                .await
                .map_err(|error| StoreError::dynamo("BatchGetItem", error))?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(&self.table).unwrap_or_default());
            }
            match output
                .unprocessed_keys
                .and_then(|mut unprocessed| unprocessed.remove(&self.table))
            {
                Some(rest) if !rest.keys().is_empty() => pending = rest,
                _ => return Ok(found),
            }
        }
        Err(StoreError::Throttled {
            attempts: Self::BATCH_ATTEMPTS,
        })
    }

    async fn get<T: Record>(&self, pk: String, sk: String) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| StoreError::dynamo("GetItem", error))?;
        output.item.map(decode).transpose()
    }

    async fn put_new<T: Record>(&self, record: &T) -> Result<(), StoreError> {
        if put_absent(&self.client, &self.table, encode(record)?).await? {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists { entity: T::ENTITY })
        }
    }

    async fn put_next_version<T: Record + Clone>(&self, record: &T) -> Result<T, StoreError> {
        let expected = record.version();
        let mut next = record.clone();
        next.set_version(expected + 1);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(&next)?))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", keys::VERSION)
            .expression_attribute_values(":expected", AttributeValue::N(expected.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(next),
            Err(error) => match error.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed)) => {
                    if failed.item().is_some() {
                        Err(StoreError::VersionConflict {
                            entity: T::ENTITY,
                            expected,
                        })
                    } else {
                        Err(StoreError::NotFound { entity: T::ENTITY })
                    }
                }
                _ => Err(StoreError::dynamo("PutItem", error)),
            },
        }
    }

    /// One page of the items of `org` whose sort key starts with `sk_prefix` and that pass
    /// `filter`. DynamoDB applies `Limit` before a filter, so this keeps querying until it has
    /// one item more than the page holds (which proves another page exists) or the
    /// partition is exhausted.
    async fn query_page<T: Record>(
        &self,
        org: &OrgId,
        sk_prefix: &str,
        filter: Option<&str>,
        limit: PageLimit,
        cursor: Option<&str>,
    ) -> Result<Page<T>, StoreError> {
        let pk = keys::org_pk(org);
        let start = cursor
            .map(|cursor| decode_cursor(cursor, org, sk_prefix))
            .transpose()?
            .map(|sk| key(pk.clone(), sk));
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .set_filter_expression(filter.map(str::to_owned))
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":prefix", AttributeValue::S(sk_prefix.to_owned()))
            .consistent_read(true);
        let (items, next_cursor) = query_items(query, start, limit, org).await?;
        let items = items.into_iter().map(decode).collect::<Result<_, _>>()?;
        Ok(Page { items, next_cursor })
    }
}

fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(pk)),
        (keys::SK.to_owned(), AttributeValue::S(sk)),
    ])
}

/// Puts `item` unless an item with its key exists; whether it was written.
async fn put_absent(client: &Client, table: &str, item: Item) -> Result<bool, StoreError> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", keys::PK)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(error) => Err(StoreError::dynamo("PutItem", error)),
    }
}

/// Runs `query` from `start` until it has a page of `limit` items and the cursor of the next
/// page, if there is one. DynamoDB applies `Limit` before a filter, so this keeps querying
/// until it has one item more than the page holds (which proves another page exists) or the
/// query is exhausted; the cursor names the last item's sort key, bound to `org`.
async fn query_items(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    mut start: Option<Item>,
    limit: PageLimit,
    org: &OrgId,
) -> Result<(Vec<Item>, Option<String>), StoreError> {
    let wanted = usize::from(limit.get());
    let mut items: Vec<Item> = Vec::with_capacity(wanted + 1);
    loop {
        let missing = wanted + 1 - items.len();
        let output = query
            .clone()
            .limit(i32::try_from(missing).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|error| StoreError::dynamo("Query", error))?;
        items.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key.filter(|key| !key.is_empty());
        if items.len() > wanted || start.is_none() {
            break;
        }
    }
    let has_more = items.len() > wanted;
    items.truncate(wanted);
    let next_cursor = match items.last().and_then(|last| last.get(keys::SK)) {
        Some(AttributeValue::S(sort_key)) if has_more => Some(encode_cursor(org, sort_key)),
        _ => None,
    };
    Ok((items, next_cursor))
}

fn entity_of(item: &Item) -> Option<&str> {
    match item.get(keys::ENTITY) {
        Some(AttributeValue::S(entity)) => Some(entity.as_str()),
        _ => None,
    }
}

fn encode<T: Record>(record: &T) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(record).map_err(|error| StoreError::Corrupt {
        entity: T::ENTITY,
        reason: error.to_string(),
    })?;
    item.insert(
        keys::PK.to_owned(),
        AttributeValue::S(record.partition_key()),
    );
    item.insert(keys::SK.to_owned(), AttributeValue::S(record.sort_key()));
    item.insert(
        keys::ENTITY.to_owned(),
        AttributeValue::S(T::ENTITY.to_owned()),
    );
    if let Some(epoch) = record.expires_at_epoch() {
        item.insert(keys::TTL.to_owned(), AttributeValue::N(epoch.to_string()));
    }
    Ok(item)
}

fn decode<T: Record>(item: Item) -> Result<T, StoreError> {
    if entity_of(&item) != Some(T::ENTITY) {
        return Err(StoreError::Corrupt {
            entity: T::ENTITY,
            reason: "the item is of another type".into(),
        });
    }
    serde_dynamo::from_item(item).map_err(|error| StoreError::Corrupt {
        entity: T::ENTITY,
        reason: error.to_string(),
    })
}

/// A cursor names the organization and the last sort key seen. It is checked against the
/// organization and the list it is used with, so a cursor can neither read another
/// organization nor jump into another kind of item.
fn encode_cursor(org: &OrgId, sort_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1\n{org}\n{sort_key}"))
}

fn decode_cursor(cursor: &str, org: &OrgId, sk_prefix: &str) -> Result<String, StoreError> {
    decode_cursor_where(cursor, org, |sort_key| {
        sort_key.len() > sk_prefix.len()
            && sort_key.starts_with(sk_prefix)
            && sort_key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'#')
    })
}

/// The sort key a cursor names, if the cursor was made for `org` and the key passes `valid`.
fn decode_cursor_where(
    cursor: &str,
    org: &OrgId,
    valid: impl Fn(&str) -> bool,
) -> Result<String, StoreError> {
    if cursor.len() > 512 {
        return Err(StoreError::InvalidCursor);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    let mut parts = text.splitn(3, '\n');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(cursor_org), Some(sort_key))
            if cursor_org == org.as_str() && valid(sort_key) =>
        {
            Ok(sort_key.to_owned())
        }
        _ => Err(StoreError::InvalidCursor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_bound_to_their_org_and_list() {
        let acme = OrgId::parse("acme").unwrap();
        let other = OrgId::parse("other").unwrap();
        let cursor = encode_cursor(&acme, "SA#0123456789abcdef");
        assert_eq!(
            decode_cursor(&cursor, &acme, "SA#").unwrap(),
            "SA#0123456789abcdef"
        );
        assert!(decode_cursor(&cursor, &other, "SA#").is_err());
        assert!(decode_cursor(&cursor, &acme, "TK#").is_err());
        for tampered in [
            "",
            "!!!",
            "djEKYWNtZQ",
            &format!("{cursor}x"),
            &"A".repeat(600),
        ] {
            assert!(decode_cursor(tampered, &acme, "SA#").is_err(), "{tampered}");
        }
    }

    #[test]
    fn page_limits_are_between_one_and_a_hundred() {
        assert!(PageLimit::parse(0).is_err());
        assert_eq!(PageLimit::parse(1).unwrap().get(), 1);
        assert_eq!(PageLimit::parse(100).unwrap().get(), 100);
        assert!(PageLimit::parse(101).is_err());
        assert!(PageLimit::parse(u64::MAX).is_err());
        assert_eq!(PageLimit::default().get(), 50);
    }
}
