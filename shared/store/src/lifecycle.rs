//! The lifecycle run's reads and bookkeeping: organizations with a lifecycle policy, tracked
//! tokens by expiry and by last activity (each a `Query` of a sparse index, keys only, then
//! one consistent `BatchGetItem`), the run's checkpoint, and removing a token's stale index
//! keys. Every read reports how many items it read, so a run can account for its work.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use shared::ids::OrgId;
use shared::lifecycle::Checkpoint;
use shared::model::{ExpiryWarning, Token};
use shared::policy::ExpiryWarningDays;
use time::OffsetDateTime;

use crate::records::{decode, key, token_owner};
use crate::{DynamoStore, Item, StoreError, keys};

/// Items found, how many items were read to find them, and how many of those could not be
/// decoded (skipped and logged, so one damaged item does not stop the rest).
#[derive(Debug)]
pub struct Found<T> {
    pub items: Vec<T>,
    pub read: u64,
    pub unreadable: usize,
}

/// The most keys a `BatchGetItem` takes.
const BATCH: usize = 100;

impl DynamoStore {
    /// Every organization whose policy has a lifecycle (index `lifecycle`).
    pub async fn lifecycle_orgs(&self) -> Result<Found<OrgId>, StoreError> {
        let keys = self
            .query_index(
                keys::LIFECYCLE_INDEX,
                "#lifecycle = :orgs",
                &[("#lifecycle", keys::LIFECYCLE)],
                vec![(":orgs", AttributeValue::S(keys::LIFECYCLE_ORGS.to_owned()))],
                usize::MAX,
            )
            .await?;
        let items = keys
            .items
            .iter()
            .filter_map(|item| match item.get(keys::PK) {
                Some(AttributeValue::S(pk)) => pk.strip_prefix("ORG#"),
                _ => None,
            })
            .filter_map(|org| OrgId::parse(org).ok())
            .collect();
        Ok(Found {
            items,
            read: keys.read,
            unreadable: 0,
        })
    }

    /// The tracked tokens of `org` that expire after `after` and at or before `upto`, at most
    /// `limit` of them (index `expiring`, then a consistent read of each).
    pub async fn tokens_expiring(
        &self,
        org: &OrgId,
        after: OffsetDateTime,
        upto: OffsetDateTime,
        limit: usize,
    ) -> Result<Found<Token>, StoreError> {
        let keys = self
            .query_index(
                keys::EXPIRING_INDEX,
                "#pk = :pk AND #expiring BETWEEN :after AND :upto",
                &[("#pk", keys::PK), ("#expiring", keys::EXPIRING)],
                vec![
                    (":pk", AttributeValue::S(keys::org_pk(org))),
                    // Expiries are whole seconds: "after" is exclusive.
                    (":after", epoch(after.unix_timestamp() + 1)),
                    (":upto", epoch(upto.unix_timestamp())),
                ],
                limit,
            )
            .await?;
        self.tokens_at(keys).await
    }

    /// The tracked tokens of `org` last active (used, or created) at or before `cutoff`, at
    /// most `limit` of them (index `unused`, then a consistent read of each).
    pub async fn tokens_inactive_since(
        &self,
        org: &OrgId,
        cutoff: OffsetDateTime,
        limit: usize,
    ) -> Result<Found<Token>, StoreError> {
        let keys = self
            .query_index(
                keys::UNUSED_INDEX,
                "#pk = :pk AND #active <= :cutoff",
                &[("#pk", keys::PK), ("#active", keys::ACTIVE_AT)],
                vec![
                    (":pk", AttributeValue::S(keys::org_pk(org))),
                    (":cutoff", epoch(cutoff.unix_timestamp())),
                ],
                limit,
            )
            .await?;
        self.tokens_at(keys).await
    }

    /// Removes a token's lifecycle index keys (it is no longer tracked, or it expired), unless
    /// it changed since it was read. Written without a new `version`: it is no change of the
    /// token's, and the audit trail skips it.
    pub async fn untrack_token(&self, token: &Token) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::org_pk(&token.org),
                keys::token_sk(&token_owner(token), &token.id),
            )))
            .update_expression("REMOVE #expiring, #active")
            .condition_expression("#version = :version")
            .expression_attribute_names("#expiring", keys::EXPIRING)
            .expression_attribute_names("#active", keys::ACTIVE_AT)
            .expression_attribute_names("#version", keys::VERSION)
            .expression_attribute_values(":version", AttributeValue::N(token.version.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Changed meanwhile: the next run sees it as it is then.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(StoreError::sdk("UpdateItem", error)),
        }
    }

    /// Records `warning` on `token` as read (its `version`), with the next version, touching
    /// nothing else: a last use stamped since the read (which moves no version) is kept.
    /// `VersionConflict` when the token changed, `NotFound` when it is gone.
    pub async fn record_expiry_warning(
        &self,
        token: &Token,
        warning: &ExpiryWarning,
    ) -> Result<(), StoreError> {
        let value =
            serde_dynamo::to_attribute_value(warning).map_err(|error| StoreError::Corrupt {
                entity: "token",
                reason: error.to_string(),
            })?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::org_pk(&token.org),
                keys::token_sk(&token_owner(token), &token.id),
            )))
            .update_expression("SET #warning = :warning, #version = :next")
            .condition_expression("#version = :version")
            .expression_attribute_names("#warning", "expiryWarning")
            .expression_attribute_names("#version", keys::VERSION)
            .expression_attribute_values(":warning", value)
            .expression_attribute_values(
                ":version",
                epoch(i64::try_from(token.version).unwrap_or(i64::MAX)),
            )
            .expression_attribute_values(
                ":next",
                epoch(i64::try_from(token.version + 1).unwrap_or(i64::MAX)),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    if failed.item().is_some() {
                        Err(StoreError::VersionConflict {
                            entity: "token",
                            expected: token.version,
                        })
                    } else {
                        Err(StoreError::NotFound { entity: "token" })
                    }
                }
                _ => Err(StoreError::sdk("UpdateItem", error)),
            },
        }
    }

    /// Where the last complete run of `org`'s warnings ended, and the windows it used.
    pub async fn warnings_checkpoint(&self, org: &OrgId) -> Result<Found<Checkpoint>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::checkpoint_pk(org),
                keys::WARNINGS_CHECKPOINT_SK.to_owned(),
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| StoreError::sdk("GetItem", error))?;
        let Some(item) = output.item else {
            return Ok(Found {
                items: Vec::new(),
                read: 0,
                unreadable: 0,
            });
        };
        let through = match item.get("through") {
            Some(AttributeValue::N(n)) => n.parse::<i64>().ok(),
            _ => None,
        }
        .and_then(|n| OffsetDateTime::from_unix_timestamp(n).ok());
        let windows = match item.get("windows") {
            Some(AttributeValue::Ns(days)) => {
                let days: Vec<i64> = days.iter().filter_map(|d| d.parse().ok()).collect();
                ExpiryWarningDays::parse(&days).ok()
            }
            _ => None,
        };
        // An unreadable checkpoint is no checkpoint: the next run reads every window.
        Ok(Found {
            items: through
                .zip(windows)
                .map(|(through, windows)| Checkpoint { through, windows })
                .into_iter()
                .collect(),
            read: 1,
            unreadable: 0,
        })
    }

    /// Records that `org`'s warnings are done through `checkpoint.through`, unless a later run
    /// recorded a later time.
    pub async fn save_warnings_checkpoint(
        &self,
        org: &OrgId,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        let windows = checkpoint
            .windows
            .days()
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                keys::checkpoint_pk(org),
                keys::WARNINGS_CHECKPOINT_SK.to_owned(),
            )))
            .condition_expression("attribute_not_exists(#through) OR #through <= :through")
            .expression_attribute_names("#through", "through")
            .expression_attribute_values(":through", epoch(checkpoint.through.unix_timestamp()));
        // A number set cannot be empty: no windows, no set.
        update = if windows.is_empty() {
            update
                .update_expression("SET #through = :through REMOVE #windows")
                .expression_attribute_names("#windows", "windows")
        } else {
            update
                .update_expression("SET #through = :through, #windows = :windows")
                .expression_attribute_names("#windows", "windows")
                .expression_attribute_values(":windows", AttributeValue::Ns(windows))
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(StoreError::sdk("UpdateItem", error)),
        }
    }

    /// The items of `keys`, read consistently (the index only pointed at them).
    async fn tokens_at(&self, keys: Found<Item>) -> Result<Found<Token>, StoreError> {
        let mut read = keys.read;
        let mut unreadable = 0;
        let mut tokens = Vec::with_capacity(keys.items.len());
        for chunk in keys.items.chunks(BATCH) {
            let wanted = chunk
                .iter()
                .filter_map(|item| {
                    let pk = item.get(keys::PK)?.clone();
                    let sk = item.get(keys::SK)?.clone();
                    Some(Item::from([
                        (keys::PK.to_owned(), pk),
                        (keys::SK.to_owned(), sk),
                    ]))
                })
                .collect();
            let items = self.batch_get(wanted).await?;
            read += items.len() as u64;
            for item in items {
                match decode::<Token>(item) {
                    Ok(token) => tokens.push(token),
                    Err(error) => {
                        unreadable += 1;
                        tracing::error!(%error, "a token item the lifecycle cannot read was skipped");
                    }
                }
            }
        }
        Ok(Found {
            items: tokens,
            read,
            unreadable,
        })
    }

    /// The keys an index query finds, every page of it up to `limit`.
    async fn query_index(
        &self,
        index: &str,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
        limit: usize,
    ) -> Result<Found<Item>, StoreError> {
        let mut found = Vec::new();
        let mut read = 0;
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(condition)
                .set_exclusive_start_key(start.take());
            for (name, attribute) in names {
                query = query.expression_attribute_names(*name, *attribute);
            }
            for (name, value) in &values {
                query = query.expression_attribute_values(*name, value.clone());
            }
            let wanted = limit.saturating_sub(found.len());
            if wanted < 1000 {
                query = query.limit(i32::try_from(wanted).unwrap_or(1000).max(1));
            }
            let output = query
                .send()
                .await
                .map_err(|error| StoreError::sdk("Query", error))?;
            read += u64::try_from(output.scanned_count).unwrap_or(0);
            found.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(last) if found.len() < limit && !last.is_empty() => start = Some(last),
                _ => break,
            }
        }
        found.truncate(limit);
        Ok(Found {
            items: found,
            read,
            unreadable: 0,
        })
    }
}

fn epoch(seconds: i64) -> AttributeValue {
    AttributeValue::N(seconds.to_string())
}
