//! The audit writer: turns a batch of the table's stream records into audit events.
//!
//! Each record is decoded, mapped by [`shared::audit::audit_event`] (which decides what the
//! change means and who made it) and written with a conditional put, all records of a batch
//! concurrently. A record that cannot be decoded or written is reported in
//! `batchItemFailures` by its sequence number, and the others are still written: Lambda then
//! retries from the first failed record, and the conditional put makes the retry of the
//! records already written a no-op, so redelivery never duplicates an event.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `AUDIT_TABLE_NAME` | the audit trail's table | required |
//! | `AUDIT_RETENTION_DAYS` | how long an event is kept (then DynamoDB's TTL removes it) | `400` |
//! | `EVENT_BUS_NAME` | the EventBridge bus (name or ARN) every event is also published to ([`events`]) | none: not published |
//!
//! With a bus, a record is done once its event is in the trail *and* on the bus; a record
//! whose publication failed is reported failed like a failed write, and its retry finds the
//! event in the trail and publishes it again.

pub mod events;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use shared::audit::{AuditEvent, Change, ChangeKind, MappingError, TTL_PRINCIPAL, audit_event};
use shared::config::{ConfigError, TableName};
use time::{Duration, OffsetDateTime};
use usecases::UseCaseError;
use usecases::audit::{AuditTrail, PutOutcome};

use crate::events::EventBus;

/// Why one record was not written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("unknown stream event name")]
    UnknownEventName,
    #[error("the record's creation time is out of range")]
    InvalidTime,
    #[error(transparent)]
    Mapping(#[from] MappingError),
    #[error(transparent)]
    Write(#[from] UseCaseError),
    #[error("the event was not published on the bus")]
    NotPublished,
}

/// What one batch came to, for the logs and the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSummary {
    pub written: usize,
    pub already_written: usize,
    /// Records that mean no audit event (a last-used write, the end of a retention, a rate
    /// limit's counter).
    pub skipped: usize,
    pub failed: usize,
}

#[derive(Debug, Clone)]
pub struct AuditWriter {
    trail: AuditTrail,
    retention: Duration,
    bus: Option<EventBus>,
}

impl AuditWriter {
    pub const DEFAULT_RETENTION_DAYS: u16 = 400;

    pub fn new(trail: impl Into<AuditTrail>, retention: Duration) -> Self {
        Self {
            trail: trail.into(),
            retention,
            bus: None,
        }
    }

    /// The same writer, also publishing every event on `bus`.
    pub fn with_bus(mut self, bus: EventBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Reads `AUDIT_TABLE_NAME`, `AUDIT_RETENTION_DAYS` and `EVENT_BUS_NAME` through `lookup`.
    pub fn from_lookup(
        client: aws_sdk_dynamodb::Client,
        events: aws_sdk_eventbridge::Client,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let table: TableName = shared::config::table_setting(&lookup, "AUDIT_TABLE_NAME")?;
        let retention = shared::config::days(
            &lookup,
            "AUDIT_RETENTION_DAYS",
            Self::DEFAULT_RETENTION_DAYS,
            1..=3650,
        )?;
        let writer = Self::new(AuditTrail::new(client, &table), retention);
        Ok(
            match lookup("EVENT_BUS_NAME").filter(|bus| !bus.is_empty()) {
                Some(bus) => writer.with_bus(EventBus::new(events, bus)),
                None => writer,
            },
        )
    }

    /// Handles one batch: every record is attempted; the ones that failed are reported.
    pub async fn handle(&self, event: Event) -> DynamoDbEventResponse {
        self.handle_with_summary(event).await.0
    }

    pub async fn handle_with_summary(&self, event: Event) -> (DynamoDbEventResponse, BatchSummary) {
        let mut outcomes =
            futures_util::future::join_all(event.records.iter().map(|r| self.write(r))).await;
        self.publish(&mut outcomes).await;
        let mut response = DynamoDbEventResponse::default();
        let mut summary = BatchSummary::default();
        for (record, outcome) in event.records.iter().zip(outcomes) {
            match outcome {
                Ok(Some((PutOutcome::Written, _))) => summary.written += 1,
                Ok(Some((PutOutcome::AlreadyWritten, _))) => summary.already_written += 1,
                Ok(None) => summary.skipped += 1,
                Err(error) => {
                    summary.failed += 1;
                    tracing::error!(
                        event_id = %record.event_id,
                        sequence = record.change.sequence_number.as_deref().unwrap_or(""),
                        error = %error,
                        "stream record not written to the audit trail"
                    );
                    // Lambda identifies a stream record by its sequence number; a record
                    // without one fails the whole batch, which is the safe reading.
                    let mut failure = DynamoDbBatchItemFailure::default();
                    failure.item_identifier = record.change.sequence_number.clone();
                    response.batch_item_failures.push(failure);
                }
            }
        }
        tracing::info!(
            records = event.records.len(),
            written = summary.written,
            already_written = summary.already_written,
            skipped = summary.skipped,
            failed = summary.failed,
            "audit batch"
        );
        (response, summary)
    }

    /// Publishes the events of the records written (or found written), if there is a bus;
    /// a record whose event EventBridge did not take becomes a failure.
    async fn publish(
        &self,
        outcomes: &mut [Result<Option<(PutOutcome, AuditEvent)>, RecordError>],
    ) {
        let Some(bus) = &self.bus else {
            return;
        };
        let events: Vec<&AuditEvent> = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                Ok(Some((_, event))) => Some(event),
                _ => None,
            })
            .collect();
        if events.is_empty() {
            return;
        }
        let taken = bus.publish(&events).await;
        let mut taken = taken.into_iter();
        for outcome in outcomes.iter_mut() {
            if matches!(outcome, Ok(Some(_))) && taken.next() != Some(true) {
                *outcome = Err(RecordError::NotPublished);
            }
        }
    }

    async fn write(
        &self,
        record: &EventRecord,
    ) -> Result<Option<(PutOutcome, AuditEvent)>, RecordError> {
        if AuditTrail::is_bookkeeping(&record.change.keys) {
            return Ok(None);
        }
        let change = change_of(record)?;
        let Some(event) = audit_event(&change)? else {
            return Ok(None);
        };
        let sequence = record.change.sequence_number.as_deref().unwrap_or_default();
        let outcome = self
            .trail
            .record(&event, sequence, event.time + self.retention)
            .await?;
        Ok(Some((outcome, event)))
    }
}

/// Decodes a stream record into a [`Change`].
pub fn change_of(record: &EventRecord) -> Result<Change, RecordError> {
    let kind = match record.event_name.as_str() {
        "INSERT" => ChangeKind::Insert,
        "MODIFY" => ChangeKind::Modify,
        "REMOVE" => ChangeKind::Remove,
        _ => return Err(RecordError::UnknownEventName),
    };
    let by_ttl = record.user_identity.as_ref().is_some_and(|identity| {
        identity.type_ == "Service" && identity.principal_id == TTL_PRINCIPAL
    });
    let millis = record
        .change
        .approximate_creation_date_time
        .timestamp_millis();
    let time = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .map_err(|_| RecordError::InvalidTime)?;
    Ok(Change {
        event_id: record.event_id.clone(),
        time,
        kind,
        by_ttl,
        old: AuditTrail::entity(record.change.old_image.clone())?,
        new: AuditTrail::entity(record.change.new_image.clone())?,
    })
}
