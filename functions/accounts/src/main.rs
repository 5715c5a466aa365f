//! The `accounts` function: the service-account half of the admin API, behind API Gateway
//! (REST or HTTP API) or a Lambda function URL, and the audit trail's query.

use accounts::AccountsContext;
use admin_api::AdminContext;
use lambda_http::{Error, run, service_fn};
use shared::config::Settings;
use store::DynamoStore;
use store::audit::AuditStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let settings = Settings::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let audit = AuditStore::new(client.clone(), &shared::config::audit_table_from_env()?);
    let store = DynamoStore::new(client, &settings.table_name);
    let context = AccountsContext {
        admin: AdminContext::from_env(store, settings.token_prefix)?,
        audit,
    };
    run(service_fn(|request| accounts::handle(&context, request))).await
}
