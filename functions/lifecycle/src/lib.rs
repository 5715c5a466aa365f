//! The `lifecycle` function, run on a schedule (every hour by default, `LifecycleSchedule` in
//! the template): one [`usecases::UseCases::run_lifecycle`] per invocation, whatever the
//! scheduler's event holds. A run that cannot list the organizations fails, so the scheduler
//! retries it; a token that fails is left for the next run.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `TABLE_NAME` | the table | required |
//! | `RETENTION_DAYS` | how long a retired token stays listed as revoked (1–3650) | `30` |

use shared::config::{ConfigError, table_setting};
use shared::token::TokenFormat;
use store::DynamoStore;
use usecases::UseCases;
use usecases::lifecycle::LifecycleReport;

/// The use cases a run needs, built once per cold start.
pub fn use_cases(
    client: aws_sdk_dynamodb::Client,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<UseCases, ConfigError> {
    let table = table_setting(&lookup, "TABLE_NAME")?;
    // The lifecycle never mints or parses a token: a format of its own, never used, spares it
    // the deployment's token keys.
    let format = TokenFormat::generate().map_err(|error| ConfigError {
        variable: "TOKEN_KEYS",
        reason: error.to_string(),
    })?;
    UseCases::from_lookup(DynamoStore::new(client, &table), format, lookup)
}

/// One run; its report is the invocation's answer.
pub async fn handle(use_cases: &UseCases) -> Result<LifecycleReport, usecases::UseCaseError> {
    use_cases.run_lifecycle().await
}
