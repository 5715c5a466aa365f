//! The DynamoDB adapter of organizations, service accounts and tokens: the table's key design
//! ([`keys`]), items and their conditional writes ([`records`]), pages and cursors
//! ([`paging`]), the authorization read, revocation sweeps, last-used stamps, the audit table
//! ([`audit`]) and the table stream's images ([`stream`]).
//!
//! Items are converted with `serde_dynamo`; the keys, TTL and item type are added beside the
//! entity's own fields. Writes are conditional:
//!
//! * creates use `attribute_not_exists(pk)`, so a duplicate fails with
//!   [`StoreError::AlreadyExists`] instead of overwriting;
//! * updates replace the item only if its `version` is still the one that was read, and write
//!   the next version, so of two concurrent updates one wins and the other gets
//!   [`StoreError::VersionConflict`] (the admin API's `409` and `If-Match`);
//!
//! and every read that a decision depends on is strongly consistent.

pub mod audit;
mod authorization;
pub mod client;
pub mod counters;
mod items;
pub mod keys;
mod last_used;
pub mod lifecycle;
pub mod paging;
pub mod records;
mod revocation;
pub mod stream;
mod transactions;

use std::collections::HashMap;
use std::fmt;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use shared::config::TableName;

pub use authorization::Wanted;
pub use items::TokenListScope;
pub use paging::{Page, PageLimit};

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
    /// DynamoDB did not serve the call within the client's bounds (its attempts, timeouts and
    /// retries spent): the caller should try again shortly; nothing is known to be written.
    #[error("DynamoDB {operation} is unavailable ({outage}): {source}")]
    Unavailable {
        operation: &'static str,
        outage: Outage,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A transaction lost to another one on the same items (`TransactionConflict`): the state
    /// changed meanwhile, as with a stale version.
    #[error("DynamoDB {operation} lost to a concurrent transaction")]
    Contended { operation: &'static str },
    #[error(
        "the client secret or trust policy has issued its quota of access tokens for this window"
    )]
    QuotaExceeded,
}

/// Why DynamoDB was unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// No answer within the attempt or operation timeout.
    TimedOut,
    /// No connection, or one that broke before the answer was complete.
    Unreachable,
    /// An HTTP 5xx answer on every attempt.
    ServerError,
    /// Throttled (`ProvisionedThroughputExceededException`, `ThrottlingException`,
    /// `RequestLimitExceeded`, or keys left unprocessed) on every attempt.
    Throttled,
}

impl fmt::Display for Outage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TimedOut => "timed out",
            Self::Unreachable => "unreachable",
            Self::ServerError => "server error",
            Self::Throttled => "throttled",
        })
    }
}

/// The error codes of DynamoDB's throttling (the SDK retries them with backoff).
/// (The last two are a cancelled transaction's reasons.)
pub const THROTTLING_CODES: [&str; 5] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];

impl StoreError {
    /// The outage, when the store could not be used at all (the caller sees a 503).
    pub fn outage(&self) -> Option<Outage> {
        match self {
            Self::Unavailable { outage, .. } => Some(*outage),
            _ => None,
        }
    }

    /// A failed call: an outage (timeout, no connection, 5xx, throttling) when the SDK's
    /// retries could not get past it, else a plain failure (a bug, a missing table, a refused
    /// request), which is an internal error.
    pub(crate) fn sdk<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let outage = match &error {
            SdkError::TimeoutError(_) => Some(Outage::TimedOut),
            SdkError::DispatchFailure(failure) if failure.is_timeout() => Some(Outage::TimedOut),
            SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_other() => {
                Some(Outage::Unreachable)
            }
            SdkError::ResponseError(_) => Some(Outage::Unreachable),
            SdkError::ServiceError(context) => {
                if context
                    .err()
                    .code()
                    .is_some_and(|code| THROTTLING_CODES.contains(&code))
                {
                    Some(Outage::Throttled)
                } else if context.raw().status().is_server_error() {
                    Some(Outage::ServerError)
                } else {
                    None
                }
            }
            _ => None,
        };
        match outage {
            Some(outage) => Self::Unavailable {
                operation,
                outage,
                source: Box::new(error),
            },
            None => Self::dynamo(operation, error),
        }
    }

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
}
