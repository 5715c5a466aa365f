//! The decision record: one JSON line per allowed or refused-by-route request, written
//! directly, not through `tracing`'s formatter.
//!
//! `{"record":"decision","time":1733580000123,"outcome":"allow","token":"svc_…"}`, and for a
//! refusal `"outcome":"forbidden","reason":"…"` (with the token when it was valid). The token
//! appears by its display prefix only, never its text or hash. CloudWatch Logs stamps each line
//! again; a subscription filter selects the records with `{ $.record = "decision" }`.
//!
//! Through `tracing-subscriber`'s JSON formatter this line cost 4.8 µs of an allowed request's
//! 14.7 µs (the `rest_request_logged` benchmark), more than the decision itself: it renders the
//! fields into a string, formats a calendar timestamp and builds the line field by field. The
//! record is a borrowed struct serialized into a reused buffer and handed to the writer in one
//! call. It follows the log level: `RUST_LOG=warn` (or stricter) writes none.

use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;
use shared::decision::Decision;
use time::OffsetDateTime;

/// Where the records go: standard output in Lambda; the tests and benchmarks pass their own.
pub type RecordWriter = Box<dyn Fn(&[u8]) + Send + Sync>;

/// Standard output, one line per call (a whole line in one `write`: Lambda's log capture
/// never interleaves two records).
pub fn stdout() -> RecordWriter {
    Box::new(|line| {
        let _ = std::io::stdout().lock().write_all(line);
    })
}

#[derive(Serialize)]
struct DecisionRecord<'a> {
    record: &'static str,
    /// Milliseconds since the Unix epoch.
    time: i64,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// The records of one authorizer: a writer and the buffer lines are serialized into.
pub struct Records {
    writer: RecordWriter,
    buffer: Mutex<Vec<u8>>,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").finish_non_exhaustive()
    }
}

impl Records {
    pub fn new(writer: RecordWriter) -> Self {
        Self {
            writer,
            buffer: Mutex::new(Vec::with_capacity(256)),
        }
    }

    /// Writes the record of `decision` (none for a 401: forged and malformed tokens are not
    /// worth a line each), naming the token by `display_prefix` when it was valid.
    pub fn write(
        &self,
        decision: &Decision<'_>,
        display_prefix: Option<&str>,
        now: OffsetDateTime,
    ) {
        match decision {
            Decision::Allow { .. } => self.write_line("allow", None, display_prefix, now),
            Decision::Forbidden { reason, .. } => {
                self.write_line("forbidden", Some(reason.as_str()), display_prefix, now)
            }
            Decision::Unauthorized(_) => {}
        }
    }

    fn write_line(
        &self,
        outcome: &'static str,
        reason: Option<&'static str>,
        token: Option<&str>,
        now: OffsetDateTime,
    ) {
        if !tracing::enabled!(tracing::Level::INFO) {
            return;
        }
        let record = DecisionRecord {
            record: "decision",
            time: (now.unix_timestamp_nanos() / 1_000_000) as i64,
            outcome,
            token,
            reason,
        };
        let mut buffer = self
            .buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buffer.clear();
        if serde_json::to_writer(&mut *buffer, &record).is_ok() {
            buffer.push(b'\n');
            (self.writer)(&buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use shared::authn::{Forbidden, Unauthenticated};
    use time::macros::datetime;
    use tracing::level_filters::LevelFilter;

    use super::*;

    /// The lines written under a subscriber at `level`.
    fn written(level: LevelFilter, write: impl FnOnce(&Records)) -> String {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let records = Records::new(Box::new(move |line| {
            sink.lock().unwrap().extend_from_slice(line)
        }));
        let subscriber = shared::telemetry::subscriber(level, std::io::sink);
        tracing::subscriber::with_default(subscriber, || write(&records));
        String::from_utf8(lines.lock().unwrap().clone()).unwrap()
    }

    const NOW: OffsetDateTime = datetime!(2026-12-07 17:00:00.123 UTC);

    #[test]
    fn an_allow_and_a_refusal_are_one_line_each_and_a_401_none() {
        let text = written(LevelFilter::INFO, |records| {
            records.write_line("allow", None, Some("svc_0123456789abcdef"), NOW);
            let refused = Decision::Forbidden {
                principal: None,
                allowed: Vec::new(),
                reason: Forbidden::AccountAllowlist,
            };
            records.write(&refused, None, NOW);
            records.write(
                &Decision::Unauthorized(Unauthenticated::NoCredential),
                None,
                NOW,
            );
        });
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                serde_json::json!({"record": "decision", "time": 1_796_662_800_123_i64,
                    "outcome": "allow", "token": "svc_0123456789abcdef"}),
                serde_json::json!({"record": "decision", "time": 1_796_662_800_123_i64,
                    "outcome": "forbidden", "reason": Forbidden::AccountAllowlist.as_str()}),
            ]
        );
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_level_stricter_than_info_writes_none() {
        let text = written(LevelFilter::WARN, |records| {
            records.write_line("allow", None, Some("svc_0123456789abcdef"), NOW);
        });
        assert_eq!(text, "");
    }
}
