//! The `authorizer` function: API Gateway's Lambda authorizer, on the hot path of every
//! request to the organization's APIs. Everything is built once per container, before the
//! first request: settings, route map, DynamoDB client, and a warm-up read.

use authorizer::{Authorizer, AuthorizerConfig};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use lambda_runtime::{Error, run, service_fn};
use shared::config::Settings;
use store::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let settings = Settings::from_env()?;
    let config = AuthorizerConfig::from_lookup(settings.token_prefix.clone(), |name| {
        std::env::var(name).ok()
    })?;
    // A pooled connection can die while the sandbox is frozen; a short attempt timeout with
    // retries replaces it instead of waiting for TCP to notice.
    let attempt_ms = std::env::var("DYNAMODB_ATTEMPT_TIMEOUT_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(500);
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(1))
                .operation_attempt_timeout(std::time::Duration::from_millis(attempt_ms))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.table_name);
    let authorizer = Authorizer::new(store, config);
    // WARM_UP=false exists only to measure what the warm-up read saves.
    if std::env::var("WARM_UP").as_deref() != Ok("false") {
        authorizer.warm_up().await;
    }
    run(service_fn(
        |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let authorizer = &authorizer;
            async move { authorizer.handle(event.payload).await }
        },
    ))
    .await
}
