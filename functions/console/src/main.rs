//! The `console` function: the console's pages behind API Gateway (REST or HTTP API) or a
//! Lambda function URL.

use std::sync::Arc;

use accounts::AccountsState;
use admin_api::AdminState;
use console::{ConsoleConfig, ConsoleState};
use shared::config::{Settings, audit_table_from_env, env};
use store::DynamoStore;
use store::audit::AuditStore;
use store::client::ClientSettings;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let settings = Settings::from_env()?;
    let client =
        store::client::dynamodb(&ClientSettings::from_lookup(ClientSettings::ADMIN, env)?).await;
    let state = ConsoleState {
        accounts: AccountsState {
            audit: AuditStore::new(client.clone(), &audit_table_from_env()?),
            admin: AdminState::from_lookup(
                DynamoStore::new(client, &settings.table_name),
                settings.token_format,
                env,
            )?,
        },
        config: Arc::new(ConsoleConfig::from_lookup(env)?),
    };
    admin_api::lambda::run(console::router(state)).await
}
