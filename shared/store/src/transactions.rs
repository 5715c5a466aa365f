//! Writes of several items at once, all or nothing: bootstrap, rotation, an access token's
//! issue (OAuth2 client credentials, a workload's exchange).

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use shared::model::{Organization, ServiceAccount, Token};

use crate::records::{AccessIssuer, Record, encode, key};
use crate::{DynamoStore, Item, StoreError, keys};

impl DynamoStore {
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

    /// Stores the access token `access`, issued by `issuer` (an OAuth2 client secret, or a
    /// trust policy) as it was read, in one transaction with a count on the issuer: the write
    /// happens only if the issuer is still at the version it was read at (so a revocation or a
    /// deletion that landed in between wins) and fewer than `cap` access tokens were issued by
    /// it in `window`. The count is written without a new `version`, so it is no change for
    /// the audit trail. With `account`, the account too must still be at the version it was
    /// read at (a disable that lands in between wins). [`StoreError::VersionConflict`] means:
    /// read them again and decide again.
    pub async fn create_access_token<T: AccessIssuer>(
        &self,
        access: &Token,
        issuer: &T,
        window: i64,
        cap: u32,
        account: Option<&ServiceAccount>,
    ) -> Result<(), StoreError> {
        let issued = match issuer.access_count() {
            (Some(current), issued) if current == window => issued.unwrap_or(0),
            _ => 0,
        };
        if issued >= cap {
            return Err(StoreError::QuotaExceeded);
        }
        let version = issuer.version();
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(issuer.partition_key(), issuer.sort_key())))
            .expression_attribute_names("#version", keys::VERSION)
            .expression_attribute_names("#window", "accessWindow")
            .expression_attribute_names("#issued", "accessIssued")
            .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
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
        let mut items = vec![
            self.put_if_absent(encode(access)?)?,
            TransactWriteItem::builder().update(update).build(),
        ];
        if let Some(account) = account {
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(account.partition_key(), account.sort_key())))
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", keys::VERSION)
                .expression_attribute_values(
                    ":version",
                    AttributeValue::N(account.version.to_string()),
                )
                .build()
                .map_err(|error| StoreError::dynamo("TransactWriteItems", error))?;
            items.push(TransactWriteItem::builder().condition_check(check).build());
        }
        let conflict = StoreError::VersionConflict {
            entity: T::ENTITY,
            expected: version,
        };
        self.transact(items, conflict).await
    }

    /// A transaction's `Put` that writes only if no item has the key yet.
    pub(crate) fn put_if_absent(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
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
    pub(crate) fn put_if_version(
        &self,
        item: Item,
        expected: u64,
    ) -> Result<TransactWriteItem, StoreError> {
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
    pub(crate) async fn transact(
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
        let error = match result {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        let reasons: Vec<&str> = match error.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(canceled)) => canceled
                .cancellation_reasons()
                .iter()
                .filter_map(|reason| reason.code())
                .collect(),
            _ => Vec::new(),
        };
        if reasons.contains(&"ConditionalCheckFailed") {
            Err(on_condition)
        } else if reasons.contains(&"TransactionConflict")
            || error
                .as_service_error()
                .is_some_and(TransactWriteItemsError::is_transaction_in_progress_exception)
        {
            Err(StoreError::Contended {
                operation: "TransactWriteItems",
            })
        } else if reasons
            .iter()
            .any(|code| crate::THROTTLING_CODES.contains(code))
        {
            Err(StoreError::Unavailable {
                operation: "TransactWriteItems",
                outage: crate::Outage::Throttled,
                source: Box::new(error),
            })
        } else {
            Err(StoreError::sdk("TransactWriteItems", error))
        }
    }
}
