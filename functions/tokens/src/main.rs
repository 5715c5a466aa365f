//! The `tokens` function: the token half of the admin API, `POST /v1/tokens/self/rotate` and
//! `POST /oauth2/token`, behind API Gateway (REST or HTTP API) or a Lambda function URL.

use admin_api::AdminState;
use shared::config::{Settings, env};
use store::DynamoStore;
use store::client::ClientSettings;
use usecases::UseCases;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let settings = Settings::from_env()?;
    let client = store::client::dynamodb(&ClientSettings::from_lookup(ClientSettings::ADMIN, env)?);
    let use_cases = UseCases::from_lookup(
        DynamoStore::new(client, &settings.table_name),
        settings.token_format,
        env,
    )?;
    let state = AdminState::from_lookup(use_cases, env)?;
    admin_api::lambda::run(tokens::router(state)).await
}
