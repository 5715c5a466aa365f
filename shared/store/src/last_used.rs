//! Last-used stamps: conditional writes of `lastUsedAt` alone, at most once per interval.

use aws_sdk_dynamodb::types::AttributeValue;
use shared::model::Token;
use time::OffsetDateTime;

use crate::records::{key, token_owner};
use crate::{DynamoStore, StoreError, keys};

impl DynamoStore {
    /// Records that `token` (and its account) was used at `now`, unless that was recorded
    /// less than `interval` ago. Conditional writes that touch only `lastUsedAt`, so they never
    /// conflict with an admin's change; a lost condition means someone else recorded it.
    pub async fn touch_last_used(
        &self,
        token: &Token,
        now: OffsetDateTime,
        interval: time::Duration,
    ) -> Result<(), StoreError> {
        let now = shared::policy::truncate_to_seconds(now);
        let stamp = |at: OffsetDateTime| {
            at.format(&time::format_description::well_known::Rfc3339)
                .map_err(|error| StoreError::dynamo("UpdateItem", error))
        };
        let (now_text, threshold) = (stamp(now)?, stamp(now - interval)?);
        let pk = keys::org_pk(&token.org);
        let token_sk = keys::token_sk(&token_owner(token), &token.id);
        // A tracked token's activity moves with it (its key in the `unused` index).
        let active = shared::lifecycle::is_tracked(token).then_some(now.unix_timestamp());
        let on_token = self.set_last_used(pk.clone(), token_sk, &now_text, &threshold, active);
        let on_account = async {
            match &token.account {
                Some(account) => {
                    let sk = keys::account_sk(account);
                    self.set_last_used(pk.clone(), sk, &now_text, &threshold, None)
                        .await
                }
                None => Ok(()),
            }
        };
        let (on_token, on_account) = tokio::join!(on_token, on_account);
        on_token.and(on_account)
    }

    pub(crate) async fn set_last_used(
        &self,
        pk: String,
        sk: String,
        now: &str,
        threshold: &str,
        active: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)));
        update = match active {
            Some(epoch) => update
                .update_expression("SET #used = :now, #active = :active")
                .expression_attribute_names("#active", keys::ACTIVE_AT)
                .expression_attribute_values(":active", AttributeValue::N(epoch.to_string())),
            None => update.update_expression("SET #used = :now"),
        };
        let result = update
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
            Err(error) => Err(StoreError::sdk("UpdateItem", error)),
        }
    }
}
