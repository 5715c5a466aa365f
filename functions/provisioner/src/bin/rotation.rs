//! The `rotation` function: Secrets Manager's rotation of service tokens (see the library's
//! `rotation` module).
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use provisioner::rotation::{Rotation, RotationEvent};
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
    let rotation = Rotation::new(use_cases, secrets, provisioner::rotation_grace(env)?);
    run(service_fn(|event: LambdaEvent<RotationEvent>| {
        let rotation = &rotation;
        async move { Ok::<_, Error>(rotation.handle(&event.payload).await?) }
    }))
    .await
}
