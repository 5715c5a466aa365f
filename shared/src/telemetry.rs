//! Logging for the functions: one JSON object per line (CloudWatch parses them), at the level
//! `RUST_LOG` names (`error`, `warn`, `info`, `debug`, `trace`; default `info`). Set up once per
//! cold start, in `main`. A plain level filter, not `EnvFilter`, keeps `regex` out of the
//! binaries.
//!
//! Secrets never reach a log: token text lives in [`crate::token::TokenSecret`], whose
//! `Debug` and `Display` are redacted, and handlers log tokens by display prefix only.

use tracing_subscriber::filter::LevelFilter;

/// Installs the JSON subscriber. A second call (a test that starts two handlers) is a no-op.
pub fn init() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(false)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
