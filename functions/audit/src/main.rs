//! The `audit` function: turns the table's stream into the audit trail (see the library).

use audit::AuditWriter;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let writer = AuditWriter::from_lookup(client, |name| std::env::var(name).ok())?;
    run(service_fn(|event: LambdaEvent<_>| {
        let writer = &writer;
        async move { Ok::<_, Error>(writer.handle(event.payload).await) }
    }))
    .await
}
