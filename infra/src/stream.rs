//! The table's stream, read locally the way Lambda's event source mapping reads it in AWS.
//!
//! [`StreamReader`] follows every shard of the table's latest stream and turns its records
//! into the `DynamoDbEvent` records Lambda would deliver (same JSON: keys, images, sequence
//! number, approximate creation time, user identity). [`StreamPoller`] feeds them to the real
//! [`audit::AuditWriter`] in batches and, like the event source mapping with
//! `ReportBatchItemFailures`, retries a batch from its first failed record, a bounded number of
//! times, before it gives the records up (in AWS they would go to the on-failure queue).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use anyhow::Context;
use audit::AuditWriter;
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use serde_json::{Value, json};

/// Reads a stream from its beginning, remembering where each shard is.
#[derive(Debug)]
pub struct StreamReader {
    client: StreamsClient,
    stream_arn: String,
    table: String,
    /// Open shards and their next iterator, by shard id.
    iterators: BTreeMap<String, String>,
    /// Shards read to their end.
    finished: HashSet<String>,
}

impl StreamReader {
    /// A reader of `table`'s latest stream, at its oldest record. `config` is the SDK
    /// configuration of the DynamoDB endpoint (DynamoDB Local serves streams there too).
    pub async fn open(config: &aws_config::SdkConfig, table: &str) -> anyhow::Result<Self> {
        let dynamodb = store::client::dynamodb_from(config);
        let described = dynamodb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .with_context(|| format!("describing table {table}"))?;
        let stream_arn = described
            .table
            .and_then(|table| table.latest_stream_arn)
            .with_context(|| format!("table {table} has no stream"))?;
        Ok(Self {
            client: StreamsClient::new(config),
            stream_arn,
            table: table.to_owned(),
            iterators: BTreeMap::new(),
            finished: HashSet::new(),
        })
    }

    /// Every record written since the last call, in stream order per shard, as Lambda would
    /// deliver them.
    pub async fn read(&mut self) -> anyhow::Result<Vec<EventRecord>> {
        self.discover_shards().await?;
        let mut records = Vec::new();
        let shards: Vec<String> = self.iterators.keys().cloned().collect();
        for shard in shards {
            let Some(mut iterator) = self.iterators.remove(&shard) else {
                continue;
            };
            loop {
                let output = self
                    .client
                    .get_records()
                    .shard_iterator(&iterator)
                    .send()
                    .await
                    .context("reading stream records")?;
                let fetched = output.records().len();
                for record in output.records() {
                    records.push(self.to_lambda(record)?);
                }
                match output.next_shard_iterator {
                    Some(next) if fetched > 0 => iterator = next,
                    Some(next) => {
                        self.iterators.insert(shard.clone(), next);
                        break;
                    }
                    None => {
                        self.finished.insert(shard.clone());
                        break;
                    }
                }
            }
        }
        Ok(records)
    }

    async fn discover_shards(&mut self) -> anyhow::Result<()> {
        let mut start = None;
        loop {
            let output = self
                .client
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start)
                .send()
                .await
                .context("describing the stream")?;
            let Some(description) = output.stream_description else {
                return Ok(());
            };
            for shard in description.shards.unwrap_or_default() {
                let Some(id) = shard.shard_id else { continue };
                if self.finished.contains(&id) || self.iterators.contains_key(&id) {
                    continue;
                }
                let iterator = self
                    .client
                    .get_shard_iterator()
                    .stream_arn(&self.stream_arn)
                    .shard_id(&id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .context("opening a stream shard")?;
                if let Some(iterator) = iterator.shard_iterator {
                    self.iterators.insert(id, iterator);
                } else {
                    self.finished.insert(id);
                }
            }
            match description.last_evaluated_shard_id {
                Some(last) => start = Some(last),
                None => return Ok(()),
            }
        }
    }

    /// The record as Lambda's event source mapping delivers it (its JSON, deserialized).
    fn to_lambda(&self, record: &Record) -> anyhow::Result<EventRecord> {
        let change = record
            .dynamodb()
            .context("a stream record without its change")?;
        let image =
            |image: Option<&std::collections::HashMap<String, _>>| -> anyhow::Result<Value> {
                match image {
                    Some(image) => {
                        let item: serde_dynamo::Item = image.clone().into();
                        Ok(serde_json::to_value(item)?)
                    }
                    None => Ok(Value::Null),
                }
            };
        let created = change
            .approximate_creation_date_time()
            .map_or(0.0, |at| at.as_secs_f64());
        let mut value = json!({
            "eventID": record.event_id(),
            "eventName": record.event_name().map(|name| name.as_str()),
            "eventVersion": record.event_version(),
            "eventSource": "aws:dynamodb",
            "awsRegion": record.aws_region().unwrap_or("local"),
            "eventSourceARN": self.stream_arn,
            "tableName": self.table,
            "dynamodb": {
                "ApproximateCreationDateTime": created,
                "Keys": image(change.keys())?,
                "NewImage": image(change.new_image())?,
                "OldImage": image(change.old_image())?,
                "SequenceNumber": change.sequence_number(),
                "SizeBytes": change.size_bytes().unwrap_or_default(),
                "StreamViewType": change.stream_view_type().map(|view| view.as_str()),
            },
        });
        if let Some(identity) = record.user_identity() {
            value["userIdentity"] = json!({
                "type": identity.r#type(),
                "principalId": identity.principal_id(),
            });
        }
        serde_json::from_value(value).context("converting a stream record")
    }
}

/// Feeds a table's stream to the audit writer until stopped.
#[derive(Debug)]
pub struct StreamPoller {
    reader: StreamReader,
    writer: AuditWriter,
    /// Records handed to the writer at once (the event source mapping's batch size).
    pub batch_size: usize,
    /// How often an idle stream is read again.
    pub interval: Duration,
    /// Retries of a failed batch before its records are given up.
    pub max_retries: u32,
}

impl StreamPoller {
    pub fn new(reader: StreamReader, writer: AuditWriter) -> Self {
        Self {
            reader,
            writer,
            batch_size: 100,
            interval: Duration::from_millis(250),
            max_retries: 5,
        }
    }

    /// Reads and writes until the task is dropped. A failed read is logged and retried.
    pub async fn run(mut self) {
        loop {
            match self.poll_once().await {
                Ok(0) => tokio::time::sleep(self.interval).await,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "reading the stream failed");
                    tokio::time::sleep(self.interval * 4).await;
                }
            }
        }
    }

    /// Reads what is new and writes it; returns how many records were read.
    pub async fn poll_once(&mut self) -> anyhow::Result<usize> {
        let records = self.reader.read().await?;
        let count = records.len();
        for batch in records.chunks(self.batch_size.max(1)) {
            self.deliver(batch.to_vec()).await;
        }
        Ok(count)
    }

    /// Hands a batch to the writer; on reported failures, re-delivers from the first failed
    /// record (as Lambda does), with backoff.
    async fn deliver(&self, mut batch: Vec<EventRecord>) {
        for attempt in 0..=self.max_retries {
            let mut event = Event::default();
            event.records = batch.clone();
            let response = self.writer.handle(event).await;
            let failed: Vec<Option<String>> = response
                .batch_item_failures
                .into_iter()
                .map(|failure| failure.item_identifier)
                .collect();
            if failed.is_empty() {
                return;
            }
            let first = batch
                .iter()
                .position(|record| failed.contains(&record.change.sequence_number))
                .unwrap_or(0);
            batch.drain(..first);
            if attempt < self.max_retries {
                tokio::time::sleep(Duration::from_millis(200 << attempt.min(6))).await;
            }
        }
        for record in &batch {
            tracing::error!(
                event_id = %record.event_id,
                "stream record given up after retries (in AWS: the on-failure queue)"
            );
        }
    }
}

/// Runs the real audit writer on `table`'s stream into `audit_table`, in the background, with
/// the default retention. `config` is the SDK configuration of the DynamoDB endpoint.
pub async fn follow(
    config: &aws_config::SdkConfig,
    table: &str,
    audit_table: &str,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let reader = StreamReader::open(config, table).await?;
    let audit_table =
        shared::config::TableName::parse(audit_table).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = store::audit::AuditStore::new(store::client::dynamodb_from(config), &audit_table);
    let retention = time::Duration::days(i64::from(AuditWriter::DEFAULT_RETENTION_DAYS));
    let poller = StreamPoller::new(reader, AuditWriter::new(store, retention));
    Ok(tokio::spawn(poller.run()))
}
