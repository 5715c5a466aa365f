//! The `provisioner` function: CloudFormation's custom resource provider (see the library).
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use provisioner::{Provisioner, iac_accounts, secret_prefix};
use shared::config::{Settings, env};
use store::DynamoStore;
use store::client::ClientSettings;
use usecases::UseCases;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let settings = Settings::from_lookup(env)?;
    let client = ClientSettings::from_lookup(ClientSettings::ADMIN, env)?;
    let config = client.sdk_config();
    let store = DynamoStore::new(
        store::client::dynamodb_in(&config, client.partition),
        &settings.table_name,
    );
    let use_cases = UseCases::from_lookup(store, settings.token_format, env)?;
    let secrets = provisioner::secrets::Secrets::new(aws_sdk_secretsmanager::Client::new(&config));
    let mut provider = Provisioner::new(use_cases, secrets, secret_prefix(env)?)
        .with_iac_accounts(iac_accounts(env)?);
    // Only for a run on this machine (the tests' local Runtime API); never set in the stack.
    if env("ALLOW_LOCAL_RESPONSE_URLS").as_deref() == Some("true") {
        provider = provider.answering_locally();
    }
    run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let provider = &provider;
        // The function or alias Lambda let the caller invoke: it proves the caller's account.
        let invoked = event.context.invoked_function_arn;
        async move { Ok::<_, Error>(provider.handle_event(event.payload, &invoked).await?) }
    }))
    .await
}
