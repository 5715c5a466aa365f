//! `local`'s command line: the ports, the demo organization, where to keep the data, and how
//! often the lifecycle runs (each also from the environment where it says so).

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "local",
    about = "Service accounts for AWS, locally: DynamoDB Local, the admin API, OAuth2, the authorizer in front of example routes, and the audit trail, at one base URL"
)]
pub(crate) struct Cli {
    /// The port of the base URL (0: any free port).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub(crate) port: u16,
    /// DynamoDB Local's port (0: any free port).
    #[arg(long, env = "DYNAMODB_PORT", default_value_t = 0)]
    pub(crate) dynamodb_port: u16,
    /// The demo organization to bootstrap.
    #[arg(long, default_value = "acme")]
    pub(crate) org: String,
    /// Keep DynamoDB Local's data in this folder across restarts (default: in memory, gone
    /// when `local` stops).
    #[arg(long, env = "LOCAL_DATA_DIR")]
    pub(crate) data_dir: Option<std::path::PathBuf>,
    /// How often the lifecycle runs (expiry warnings, retirement of unused tokens), in
    /// seconds; the deployed stack runs it hourly. 0: never.
    #[arg(long, env = "LIFECYCLE_INTERVAL_SECONDS", default_value_t = 60)]
    pub(crate) lifecycle_interval: u64,
}
