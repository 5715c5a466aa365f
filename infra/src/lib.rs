//! The project's infrastructure as code, seen from Rust: the tables declared in
//! `infra/template.yaml` ([`template`]), DynamoDB Local for development and tests ([`local`]),
//! the audit writer following a local stream ([`stream`]), and API Gateway's side of an
//! authorizer call, as `local` and the tests play it ([`gateway`]), and the operator's DynamoDB
//! client ([`operator_dynamodb`]).

pub mod gateway;
pub mod local;
pub mod process;
pub mod stream;
pub mod template;

use store::client::ClientSettings;

/// The operator's DynamoDB client (`infra create-tables`, `infra bootstrap`): credentials and
/// region from `aws-config`'s standard chain (the environment, profiles, SSO, a credential
/// process, ...), unlike the functions, which read Lambda's environment only; the same HTTPS
/// client, bounds and retries as theirs.
pub async fn operator_dynamodb(settings: &ClientSettings) -> aws_sdk_dynamodb::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(store::client::https_client(|key| std::env::var(key).ok()))
        .timeout_config(settings.timeouts())
        .retry_config(settings.retries())
        .load()
        .await;
    store::client::dynamodb_in(&config, settings.partition)
}

/// The table names local development uses unless `TABLE_NAME` / `AUDIT_TABLE_NAME` say
/// otherwise.
pub const DEFAULT_TABLE_NAME: &str = "service-accounts";
/// What stands for the stack's `SecretScanningEndpoint` output in the committed enrollment
/// message (`infra secret-patterns --tool github-partner`, without `--endpoint`).
pub const PARTNER_ENDPOINT_PLACEHOLDER: &str = "[the stack's SecretScanningEndpoint output: https://<api>.execute-api.<region>.amazonaws.com/<stage>/v1/secret-scanning/github]";
pub const DEFAULT_AUDIT_TABLE_NAME: &str = "service-accounts-audit";
