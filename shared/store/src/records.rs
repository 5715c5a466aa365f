//! Items: how each entity is stored (its keys, item type and TTL beside its own fields), and
//! the single-item reads and conditional writes every other module builds on.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::federation::TrustPolicy;
use shared::lifecycle;
use shared::model::{Organization, ServiceAccount, Token};
use shared::token::TokenOwner;

use crate::{DynamoStore, Item, StoreError, keys};

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
    /// The keys of the sparse indexes the item belongs to, derived from its state on every
    /// write (so a write that ends its membership removes them).
    fn index_attributes(&self) -> Vec<(&'static str, AttributeValue)> {
        Vec::new()
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

    fn index_attributes(&self) -> Vec<(&'static str, AttributeValue)> {
        if self.token_policy.has_lifecycle() {
            vec![(
                keys::LIFECYCLE,
                AttributeValue::S(keys::LIFECYCLE_ORGS.to_owned()),
            )]
        } else {
            Vec::new()
        }
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

    fn index_attributes(&self) -> Vec<(&'static str, AttributeValue)> {
        if !lifecycle::is_tracked(self) {
            return Vec::new();
        }
        let epoch = |at: time::OffsetDateTime| AttributeValue::N(at.unix_timestamp().to_string());
        let mut attributes = vec![(keys::ACTIVE_AT, epoch(lifecycle::unused_since(self)))];
        if let Some(expiry) = self.expires_at {
            attributes.push((keys::EXPIRING, epoch(expiry)));
        }
        attributes
    }
}

impl Record for TrustPolicy {
    const ENTITY: &'static str = "trust_policy";

    fn partition_key(&self) -> String {
        keys::org_pk(&self.org)
    }

    fn sort_key(&self) -> String {
        keys::trust_policy_sk(&self.account, &self.id)
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

/// A record that issues access tokens, counted per window: a client secret, a trust policy.
pub trait AccessIssuer: Record {
    /// The window of the count, and the count in it.
    fn access_count(&self) -> (Option<i64>, Option<u32>);
}

impl AccessIssuer for Token {
    fn access_count(&self) -> (Option<i64>, Option<u32>) {
        (self.access_window, self.access_issued)
    }
}

impl AccessIssuer for TrustPolicy {
    fn access_count(&self) -> (Option<i64>, Option<u32>) {
        (self.access_window, self.access_issued)
    }
}

pub(crate) fn token_owner(token: &Token) -> TokenOwner {
    match &token.account {
        Some(account) => TokenOwner::Account(account.clone()),
        None => TokenOwner::Org,
    }
}

impl DynamoStore {
    pub(crate) async fn get<T: Record>(
        &self,
        pk: String,
        sk: String,
    ) -> Result<Option<T>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| StoreError::sdk("GetItem", error))?;
        output.item.map(decode).transpose()
    }

    /// Creates `record`. An item already under its key is `AlreadyExists`, unless it is
    /// exactly this record: then it is this very write, applied by an attempt whose answer was
    /// lost (a reset connection, a timeout after DynamoDB wrote) and retried by the SDK.
    pub(crate) async fn put_new<T: Record>(&self, record: &T) -> Result<(), StoreError> {
        let item = encode(record)?;
        match put_absent(&self.client, &self.table, item.clone()).await? {
            None => Ok(()),
            Some(existing) if existing == item => Ok(()),
            Some(_) => Err(StoreError::AlreadyExists { entity: T::ENTITY }),
        }
    }

    pub(crate) async fn put_next_version<T: Record + Clone>(
        &self,
        record: &T,
    ) -> Result<T, StoreError> {
        let expected = record.version();
        let mut next = record.clone();
        next.set_version(expected + 1);
        let item = encode(&next)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.clone()))
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
                    // This very write, applied by an attempt whose answer was lost.
                    if failed.item() == Some(&item) {
                        Ok(next)
                    } else if failed.item().is_some() {
                        Err(StoreError::VersionConflict {
                            entity: T::ENTITY,
                            expected,
                        })
                    } else {
                        Err(StoreError::NotFound { entity: T::ENTITY })
                    }
                }
                _ => Err(StoreError::sdk("PutItem", error)),
            },
        }
    }
}

pub(crate) fn key(pk: String, sk: String) -> Item {
    HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(pk)),
        (keys::SK.to_owned(), AttributeValue::S(sk)),
    ])
}

/// Puts `item` unless an item with its key exists: `None` when written, else the item that
/// was there.
pub(crate) async fn put_absent(
    client: &Client,
    table: &str,
    item: Item,
) -> Result<Option<Item>, StoreError> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", keys::PK)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    match result {
        Ok(_) => Ok(None),
        Err(error) => match error.as_service_error() {
            Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed)) => {
                Ok(Some(failed.item().cloned().unwrap_or_default()))
            }
            _ => Err(StoreError::sdk("PutItem", error)),
        },
    }
}

pub(crate) fn entity_of(item: &Item) -> Option<&str> {
    match item.get(keys::ENTITY) {
        Some(AttributeValue::S(entity)) => Some(entity.as_str()),
        _ => None,
    }
}

pub(crate) fn encode<T: Record>(record: &T) -> Result<Item, StoreError> {
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
    for (name, value) in record.index_attributes() {
        item.insert(name.to_owned(), value);
    }
    Ok(item)
}

pub(crate) fn decode<T: Record>(item: Item) -> Result<T, StoreError> {
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
