//! The `authorizer` function: API Gateway's Lambda authorizer, on the hot path of every
//! request to the organization's APIs.

mod handler;

use lambda_runtime::{Error, run, service_fn};
use shared::config::Settings;
use shared::store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let settings = Settings::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.table_name);
    run(service_fn(|event| handler::handle(&store, event))).await
}
