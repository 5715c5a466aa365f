//! The `console` function: the console's pages behind API Gateway (REST or HTTP API) or a
//! Lambda function URL.

use std::sync::Arc;

use accounts::AccountsState;
use console::{ConsoleConfig, ConsoleState};
use shared::config::env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = ConsoleState {
        accounts: AccountsState::from_env().await?,
        config: Arc::new(ConsoleConfig::from_lookup(env)?),
    };
    admin_api::lambda::run(console::router(state)).await
}
