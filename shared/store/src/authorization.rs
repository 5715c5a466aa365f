//! The authorization read: a token, and those of its account and organization that the
//! caller has no fresh copy of, in one consistent read (a `GetItem` for the token alone, else
//! a `BatchGetItem`).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use shared::authn::AuthorizationRecords;
use shared::model::{Organization, ServiceAccount, Token};
use shared::token::ParsedToken;

use crate::records::{Record, decode, entity_of, key};
use crate::{DynamoStore, Item, StoreError, keys};

/// Which records an authorization read fetches beside the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub org: bool,
    /// Ignored for an org-wide token, which has no account.
    pub account: bool,
}

impl Wanted {
    pub const ALL: Self = Self {
        org: true,
        account: true,
    };
}

impl DynamoStore {
    /// Reads the token, its account (if it has one) and its organization in one strongly
    /// consistent `BatchGetItem`, retrying unprocessed keys with backoff.
    pub async fn fetch_for_authorization(
        &self,
        token: &ParsedToken,
    ) -> Result<AuthorizationRecords, StoreError> {
        self.fetch_records(token, Wanted::ALL).await
    }

    /// Reads the token and the `wanted` records beside it, strongly consistent: a `GetItem`
    /// (one read unit) for the token alone, else one `BatchGetItem` (one unit per item).
    pub async fn fetch_records(
        &self,
        token: &ParsedToken,
        wanted: Wanted,
    ) -> Result<AuthorizationRecords, StoreError> {
        let account = token.owner().account().filter(|_| wanted.account);
        if !wanted.org && account.is_none() {
            return Ok(AuthorizationRecords {
                token: self
                    .get_token(token.org(), token.owner(), token.id())
                    .await?,
                ..AuthorizationRecords::default()
            });
        }
        let pk = keys::org_pk(token.org());
        let mut wanted_keys = vec![key(pk.clone(), keys::token_sk(token.owner(), token.id()))];
        if wanted.org {
            wanted_keys.push(key(pk.clone(), keys::ORG_SK.to_owned()));
        }
        if let Some(account) = account {
            wanted_keys.push(key(pk, keys::account_sk(account)));
        }
        let mut records = AuthorizationRecords::default();
        for item in self.batch_get(wanted_keys).await? {
            match entity_of(&item) {
                Some(Organization::ENTITY) => records.org = Some(Arc::new(decode(item)?)),
                Some(ServiceAccount::ENTITY) => records.account = Some(Arc::new(decode(item)?)),
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
                .map_err(|error| StoreError::sdk("BatchGetItem", error))?;
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
        Err(StoreError::Unavailable {
            operation: "BatchGetItem",
            outage: crate::Outage::Throttled,
            source: format!(
                "keys left unprocessed after {} attempts",
                Self::BATCH_ATTEMPTS
            )
            .into(),
        })
    }
}
