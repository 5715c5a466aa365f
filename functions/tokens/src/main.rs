//! The `tokens` function: the token half of the admin API, `POST /v1/tokens/self/rotate` and
//! `POST /oauth2/token`, behind API Gateway (REST or HTTP API) or a Lambda function URL.

use admin_api::AdminContext;
use lambda_http::{Error, run, service_fn};
use shared::config::Settings;
use store::DynamoStore;
use tokens::TokensContext;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let settings = Settings::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), &settings.table_name);
    let admin = AdminContext::from_env(store, settings.token_prefix)?;
    let context = TokensContext::from_env(admin)?;
    run(service_fn(|request| tokens::handle(&context, request))).await
}
