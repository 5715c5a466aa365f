//! The `audit` function: turns the table's stream into the audit trail (see the library).

use audit::AuditWriter;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::config::env;
use store::client::ClientSettings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let settings = ClientSettings::from_lookup(ClientSettings::BACKGROUND, env)?;
    let config = settings.sdk_config();
    let writer = AuditWriter::from_lookup(
        store::client::dynamodb_in(&config, settings.partition),
        aws_sdk_eventbridge::Client::new(&config),
        env,
    )?;
    run(service_fn(|event: LambdaEvent<_>| {
        let writer = &writer;
        async move { Ok::<_, Error>(writer.handle(event.payload).await) }
    }))
    .await
}
