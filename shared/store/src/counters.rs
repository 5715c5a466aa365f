//! Fixed-window request counters, for the rate limits of open endpoints (the public
//! revocation endpoint's, per source address). One item per subject and window, in a
//! partition of its own (`RATE#<scope>#<subject>`, so no organization's query ever meets it),
//! removed by DynamoDB's TTL once its window is over. The audit writer skips these items.

use aws_sdk_dynamodb::types::AttributeValue;
use time::{Duration, OffsetDateTime};

use crate::records::key;
use crate::{DynamoStore, StoreError, keys};

/// The item type of a counter.
pub const COUNTER_ENTITY: &str = "counter";

/// Whether a request may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// The subject's window is full: the next opens in this many seconds.
    Refused {
        retry_after: i64,
    },
}

impl DynamoStore {
    /// Counts one request of `subject` under `scope` in the current `window` (windows start
    /// at multiples of its length since the epoch), unless `limit` were already counted: one
    /// conditional `UpdateItem`, so concurrent requests never count past the limit.
    pub async fn count_request(
        &self,
        scope: &str,
        subject: &str,
        window: Duration,
        limit: u32,
        now: OffsetDateTime,
    ) -> Result<Admission, StoreError> {
        let length = window.whole_seconds().max(1);
        let start = now.unix_timestamp().div_euclid(length) * length;
        let end = start + length;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                format!("{}{scope}#{subject}", keys::COUNTER_PK_PREFIX),
                format!("W#{start}"),
            )))
            .update_expression("SET #entity = :entity, #ttl = :ttl ADD #hits :one")
            .condition_expression("attribute_not_exists(#hits) OR #hits < :limit")
            .expression_attribute_names("#entity", keys::ENTITY)
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_names("#hits", "hits")
            .expression_attribute_values(":entity", AttributeValue::S(COUNTER_ENTITY.into()))
            .expression_attribute_values(":ttl", AttributeValue::N(end.to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":limit", AttributeValue::N(limit.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Admission::Admitted),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Admission::Refused {
                    retry_after: (end - now.unix_timestamp()).max(1),
                })
            }
            Err(error) => Err(StoreError::sdk("UpdateItem", error)),
        }
    }
}
