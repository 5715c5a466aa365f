//! Logging for the functions: one JSON object per line (CloudWatch parses them), at the level
//! `RUST_LOG` names (`error`, `warn`, `info`, `debug`, `trace`; default `info`). Set up once per
//! cold start, in `main`. A plain level filter, not `EnvFilter`, keeps `regex` out of the
//! binaries.
//!
//! Secrets never reach a log: token text lives in [`crate::token::TokenSecret`], whose
//! `Debug` and `Display` are redacted, and handlers log tokens by display prefix only.

use tracing::Subscriber;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON subscriber. A second call (a test that starts two handlers) is a no-op.
pub fn init() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|level| level.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let _ = tracing::subscriber::set_global_default(subscriber(level, std::io::stdout));
}

/// The functions' subscriber, writing to `writer` (standard output in Lambda; the benchmarks
/// measure what a line costs by writing to nowhere).
pub fn subscriber<W>(level: LevelFilter, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(false)
        .with_ansi(false)
        .with_target(false)
        .with_writer(writer)
        .finish()
}
