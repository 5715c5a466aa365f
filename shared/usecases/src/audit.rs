//! The audit trail: the events the table's changes mean, each written once however often its
//! stream record is delivered, and an organization's trail read back, newest first.
//!
//! The audit writer (the `audit` function) decodes a stream record's images with
//! [`AuditTrail::entity`], maps the change with [`shared::audit::audit_event`] and writes the
//! event with [`AuditTrail::record`]; the admin API reads it with [`AuditTrail::query`].

use aws_sdk_dynamodb::Client;
use shared::audit::{AuditEvent, Entity, MappingError};
use shared::config::TableName;
use shared::ids::OrgId;
use store::audit::AuditStore;
use time::OffsetDateTime;

use crate::{Page, PageLimit, UseCaseError};

pub use store::audit::{AuditFilter, PutOutcome};

/// The audit trail's table, as the use cases reach it.
#[derive(Debug, Clone)]
pub struct AuditTrail {
    store: AuditStore,
}

impl AuditTrail {
    pub fn new(client: Client, table: &TableName) -> Self {
        Self {
            store: AuditStore::new(client, table),
        }
    }

    /// Whether a changed item's keys are the store's bookkeeping (a rate limit's counter, a
    /// lifecycle run's checkpoint): no entity of the trail, so no event.
    pub fn is_bookkeeping(keys: &serde_dynamo::Item) -> bool {
        store::stream::is_bookkeeping(keys)
    }

    /// A stream image as the entity it holds (`None` for an empty image). The error names the
    /// item type, never a stored value.
    pub fn entity(image: serde_dynamo::Item) -> Result<Option<Entity>, MappingError> {
        store::stream::entity_from_image(image)
    }

    /// Writes `event` unless it is written already (a redelivered record: the same stream
    /// `sequence`), kept until `keep_until`.
    pub async fn record(
        &self,
        event: &AuditEvent,
        sequence: &str,
        keep_until: OffsetDateTime,
    ) -> Result<PutOutcome, UseCaseError> {
        Ok(self.store.put(event, sequence, keep_until).await?)
    }

    /// One page of the organization's events that pass `filter`, newest first (the caller has
    /// been allowed to read the organization's trail).
    pub async fn query(
        &self,
        org: &OrgId,
        filter: &AuditFilter,
        limit: PageLimit,
        cursor: Option<&str>,
    ) -> Result<Page<AuditEvent>, UseCaseError> {
        Ok(self.store.query(org, filter, limit, cursor).await?)
    }
}

impl From<AuditStore> for AuditTrail {
    fn from(store: AuditStore) -> Self {
        Self { store }
    }
}
