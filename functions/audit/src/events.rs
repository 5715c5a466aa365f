//! Every audit event, published on an EventBridge bus, so that security teams route the
//! trail to their own tools (email, chat, a SIEM) with rules instead of polling the API.
//!
//! | field | value |
//! | --- | --- |
//! | `source` | [`EVENT_SOURCE`] (`service-accounts`) |
//! | `detail-type` | the audit action (`token.expiring`, `token.leaked`, ...) |
//! | `time` | the event's time |
//! | `detail` | the audit event as the API shows it, with `"version": "1"` ([`DETAIL_VERSION`]); its JSON Schema is `docs/events/audit-event.v1.schema.json` |
//!
//! The detail is built from the audit event, whose `changes` come from an allowlist of
//! fields: no token, secret or hash can be in it. Publishing is at least once: a record whose
//! publication failed is reported failed, Lambda retries it, and its event (already in the
//! trail) is published again; a consumer that must not act twice keys on `detail.id`.

use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use shared::audit::AuditEvent;

/// The `source` of every event.
pub const EVENT_SOURCE: &str = "service-accounts";
/// The version of the `detail` schema.
pub const DETAIL_VERSION: &str = "1";
/// The most entries one `PutEvents` takes.
const PER_CALL: usize = 10;

/// The `detail` of an audit event: the event, versioned.
pub fn detail(event: &AuditEvent) -> serde_json::Value {
    let mut detail = serde_json::to_value(event).unwrap_or_default();
    if let Some(object) = detail.as_object_mut() {
        object.insert("version".into(), DETAIL_VERSION.into());
    }
    detail
}

/// A bus the audit writer publishes to.
#[derive(Debug, Clone)]
pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    /// The bus's name or ARN.
    bus: String,
}

impl EventBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    /// Publishes `events`; for each, whether EventBridge took it.
    pub async fn publish(&self, events: &[&AuditEvent]) -> Vec<bool> {
        let mut taken = Vec::with_capacity(events.len());
        for chunk in events.chunks(PER_CALL) {
            taken.extend(self.publish_chunk(chunk).await);
        }
        taken
    }

    async fn publish_chunk(&self, events: &[&AuditEvent]) -> Vec<bool> {
        let entries = events
            .iter()
            .map(|event| {
                let millis = i64::try_from(event.time.unix_timestamp_nanos() / 1_000_000)
                    .unwrap_or_default();
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(EVENT_SOURCE)
                    .detail_type(event.action.as_str())
                    .detail(detail(event).to_string())
                    .time(DateTime::from_millis(millis))
                    .build()
            })
            .collect::<Vec<_>>();
        match self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
        {
            // One result per entry, in order; an entry with an error code was not taken.
            Ok(output) => {
                let results = output.entries.unwrap_or_default();
                (0..events.len())
                    .map(|i| {
                        results
                            .get(i)
                            .is_some_and(|result| result.error_code.is_none())
                    })
                    .collect()
            }
            Err(error) => {
                tracing::error!(error = %aws_sdk_eventbridge::error::DisplayErrorContext(&error), "PutEvents failed");
                vec![false; events.len()]
            }
        }
    }
}
