//! Captures what the code under test logs, so a test can prove a secret never reaches a log.
//!
//! One global subscriber per test process, recording every level into one buffer. (A
//! thread-scoped subscriber would miss events: tracing caches per-callsite interest globally,
//! and another test's thread without a subscriber can settle it to "never".) A test checks
//! that the buffer holds its own marker (say, a display prefix it expects to be logged) and
//! none of its secrets.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Debug, Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// The process's capture, installed on first use.
    pub fn global() -> Self {
        static CAPTURE: OnceLock<CapturedLogs> = OnceLock::new();
        CAPTURE
            .get_or_init(|| {
                let logs = Self::default();
                let writer = logs.clone();
                let subscriber = tracing_subscriber::fmt()
                    .json()
                    .with_max_level(tracing::Level::TRACE)
                    .with_writer(move || writer.clone())
                    .finish();
                tracing::subscriber::set_global_default(subscriber)
                    .expect("no other global subscriber in the test process");
                logs
            })
            .clone()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
