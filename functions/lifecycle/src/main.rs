//! The `lifecycle` function (see the library).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::config::env;
use store::client::ClientSettings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let settings = ClientSettings::from_lookup(ClientSettings::BACKGROUND, env)?;
    let use_cases = lifecycle::use_cases(store::client::dynamodb(&settings), env)?;
    run(service_fn(|_: LambdaEvent<serde_json::Value>| {
        let use_cases = &use_cases;
        async move { Ok::<_, Error>(lifecycle::handle(use_cases).await?) }
    }))
    .await
}
