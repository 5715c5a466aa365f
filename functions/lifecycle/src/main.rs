//! The `lifecycle` function (see the library).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::config::{ConfigError, env, table_setting};
use shared::token::TokenFormat;
use store::DynamoStore;
use store::client::ClientSettings;
use usecases::UseCases;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let settings = ClientSettings::from_lookup(ClientSettings::BACKGROUND, env)?;
    let use_cases = use_cases(store::client::dynamodb(&settings), env)?;
    run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let use_cases = &use_cases;
        async move { Ok::<_, Error>(lifecycle::handle(use_cases).await?) }
    }))
    .await
}

/// The use cases a run needs, built once per cold start.
fn use_cases(
    client: aws_sdk_dynamodb::Client,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<UseCases, ConfigError> {
    let table = table_setting(&lookup, "TABLE_NAME")?;
    // The lifecycle never mints or parses a token: a format of its own, never used, spares it
    // the deployment's token keys.
    let format = TokenFormat::generate().map_err(|error| ConfigError {
        variable: "TOKEN_KEYS",
        reason: error.to_string(),
    })?;
    UseCases::from_lookup(DynamoStore::new(client, &table), format, lookup)
}
