//! Logging for the functions: one JSON object per line (CloudWatch parses them), level from
//! `RUST_LOG` (default `info`). Set up once per cold start, in `main`.
//!
//! Secrets never reach a log: token text lives in [`crate::token::TokenSecret`], whose
//! `Debug` and `Display` are redacted, and handlers skip it in their spans.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. A second call (a test that starts two handlers) is a no-op.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
