//! The `audit` function: turns the table's stream into the audit trail.

mod handler;

use lambda_runtime::{Error, run, service_fn};
use shared::config::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let settings = Settings::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    run(service_fn(|event| {
        handler::handle(&client, &settings, event)
    }))
    .await
}
