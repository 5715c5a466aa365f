//! The `authorizer` function: API Gateway's Lambda authorizer, on the hot path of every
//! request to the organization's APIs. Everything is built once per container, before the
//! first request: settings, route map, DynamoDB client, and a warm-up read.

use authorizer::{Authorizer, AuthorizerConfig};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::value::RawValue;
use shared::config::{Settings, env};
use store::DynamoStore;
use store::client::ClientSettings;

// One thread: Lambda hands a sandbox one event at a time, and a worker pool's threads and
// queues only add to the cold start and the resident set.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let settings = Settings::from_env()?;
    let config = AuthorizerConfig::from_lookup(settings.token_format.clone(), env)?;
    // Short attempts with retries: a pooled connection that died while the sandbox was frozen
    // is replaced instead of waited on (see `ClientSettings::AUTHORIZER`).
    let client_settings = ClientSettings::from_lookup(ClientSettings::AUTHORIZER, env)?;
    let store = DynamoStore::new(
        store::client::dynamodb(&client_settings),
        &settings.table_name,
    );
    let warm_up = config.warm_up;
    let authorizer = Authorizer::new(store, config);
    if warm_up {
        authorizer.warm_up().await;
    }
    // The event is kept as its JSON text and read once, borrowed, by the authorizer; the
    // answer is written as text too.
    run(service_fn(|event: LambdaEvent<Box<RawValue>>| {
        let authorizer = &authorizer;
        async move { authorizer.handle_json(event.payload.get()).await }
    }))
    .await
}
