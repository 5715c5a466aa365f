//! The authorization read: a token, its account and its organization in one consistent
//! `BatchGetItem`.

use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use shared::authn::AuthorizationRecords;
use shared::model::{Organization, ServiceAccount, Token};
use shared::token::{ParsedToken, TokenOwner};

use crate::records::{Record, decode, entity_of, key};
use crate::{DynamoStore, Item, StoreError, keys};

impl DynamoStore {
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

    /// Reads the token alone, with a strongly consistent `GetItem` (one read unit): the
    /// verification path's read when its account and organization are cached.
    pub async fn fetch_token(&self, token: &ParsedToken) -> Result<Option<Token>, StoreError> {
        self.get_token(token.org(), token.owner(), token.id()).await
    }

    pub(crate) async fn batch_get(&self, wanted: Vec<Item>) -> Result<Vec<Item>, StoreError> {
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
}
