//! The function's start-up: its state built once per cold start from its environment. The
//! only file of this crate that names the store, to build it; everything else reaches it
//! through the use cases.

use admin_api::AdminState;
use shared::config::{Settings, audit_table_from_env, env};
use store::DynamoStore;
use store::client::ClientSettings;
use usecases::UseCases;
use usecases::audit::AuditTrail;

use crate::AccountsState;

impl AccountsState {
    /// The state as a deployed function builds it at cold start, from its environment: the
    /// admin settings, one DynamoDB client with the admin bounds, the audit table.
    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let settings = Settings::from_env()?;
        let client =
            store::client::dynamodb(&ClientSettings::from_lookup(ClientSettings::ADMIN, env)?);
        let use_cases = UseCases::from_lookup(
            DynamoStore::new(client.clone(), &settings.table_name),
            settings.token_format,
            env,
        )?;
        Ok(Self {
            audit: AuditTrail::new(client, &audit_table_from_env()?),
            admin: AdminState::from_lookup(use_cases, env)?,
        })
    }
}
