//! The `accounts` function: the service-account half of the admin API, behind API Gateway
//! (REST or HTTP API) or a Lambda function URL, and the audit trail's query.

use accounts::AccountsState;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let state = AccountsState::from_env().await?;
    admin_api::lambda::run(accounts::router(state)).await
}
