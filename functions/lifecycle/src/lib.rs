//! The `lifecycle` function, run on a schedule (every hour by default, `LifecycleSchedule` in
//! the template): one [`usecases::UseCases::run_lifecycle`] per invocation, whatever the
//! scheduler's event holds. A run that cannot list the organizations fails, so the scheduler
//! retries it; a token that fails is left for the next run.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `TABLE_NAME` | the table | required |
//! | `RETENTION_DAYS` | how long a retired token stays listed as revoked (1–3650) | `30` |

use usecases::UseCases;
use usecases::lifecycle::LifecycleReport;

/// One run; its report is the invocation's answer.
pub async fn handle(use_cases: &UseCases) -> Result<LifecycleReport, usecases::UseCaseError> {
    use_cases.run_lifecycle().await
}
