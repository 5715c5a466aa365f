//! Handles a batch of stream records. Until the audit writer lands, no record is written, so
//! every record is reported as a batch item failure: the stream keeps them, and nothing is
//! silently dropped from the audit trail.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent};
use shared::config::Settings;

pub async fn handle(
    _client: &aws_sdk_dynamodb::Client,
    _settings: &Settings,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, Error> {
    let mut response = DynamoDbEventResponse::default();
    for record in event.payload.records {
        // Lambda identifies a failed stream record by its sequence number.
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = record.change.sequence_number;
        response.batch_item_failures.push(failure);
    }
    tracing::warn!(
        records = response.batch_item_failures.len(),
        "audit writer not enabled: records left on the stream"
    );
    Ok(response)
}
