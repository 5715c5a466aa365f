//! The one construction of AWS clients, used by every function's `main.rs`, by `local`, by
//! `infra` and by the tests: every call has explicit time bounds and a bounded number of
//! attempts, so a slow, throttling or failing DynamoDB never holds a caller longer than the
//! function's budget allows.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `DYNAMODB_CONNECT_TIMEOUT_MS` | establishing a connection (100–10000) | the function's |
//! | `DYNAMODB_ATTEMPT_TIMEOUT_MS` | one attempt of a call (50–20000) | the function's |
//! | `DYNAMODB_OPERATION_TIMEOUT_MS` | a call, all attempts and backoff included (100–25000) | the function's |
//! | `DYNAMODB_MAX_ATTEMPTS` | attempts per call, the first included (1–10) | the function's |
//! | `DYNAMODB_RETRY_MODE` | `standard` or `adaptive` (client-side rate limiting under throttling) | `standard` |
//!
//! **Configuration from Lambda's environment.** A function's region, credentials and
//! endpoints come from the variables Lambda sets (`AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and the standard endpoint overrides
//! (`AWS_ENDPOINT_URL_<SERVICE>`, then `AWS_ENDPOINT_URL`; the tests and `local` point them at
//! DynamoDB Local and moto), read once at start-up ([`ClientSettings::sdk_config`]). The
//! functions do not link `aws-config`: its provider chain (profile files, SSO, STS web
//! identity, the container and instance metadata endpoints) never applies in Lambda, and it
//! was a tenth of the authorizer's code (`aws-config` 576 KiB and `aws-sdk-sts` 232 KiB of
//! 7.6 MiB, `cargo bloat`) besides reading profile files at every cold start. The operator's
//! tool (`infra`) builds its configuration with `aws-config`'s chain, over the bounds and the
//! HTTPS client here.
//!
//! **Trusted roots.** AWS's endpoints (DynamoDB, Secrets Manager, EventBridge, STS, their VPC
//! and FIPS endpoints) present certificates of Amazon Trust Services, so the clients trust
//! exactly its roots (Amazon Root CA 1–4 and the Starfield Services Root CA G2 that
//! cross-signs them, embedded at build time) and read no system store: loading the system's
//! ~150 certificate files cost a cold start 7 ms. `AWS_CA_BUNDLE` (the AWS tools' variable)
//! names a PEM file of more roots, for an endpoint behind a proxy or a private CA; a file that
//! cannot be read is logged, and the clients keep Amazon's roots only.
//!
//! Every client counts its throttled attempts (retried by the SDK with backoff, within the
//! bounds above): in Lambda each one is a CloudWatch metric, `DynamoDbThrottledAttempts` in
//! the namespace `METRICS_NAMESPACE` (the stack sets `ServiceAccounts/<stack>`; default
//! `ServiceAccounts`) with the dimension `FunctionName`, written as an embedded metric format
//! line that also names the `Operation`; elsewhere a warning in the log.
//! [`throttled_attempts`] is the process's count.
//!
//! | module | holds |
//! | --- | --- |
//! | this one | the DynamoDB clients ([`dynamodb`], [`dynamodb_in`], [`dynamodb_from`]) |
//! | `settings` | [`ClientSettings`]: the bounds, retries and SDK configuration from the environment |
//! | `https` | [`https_client`] and the roots it trusts |
//! | `throttle` | the count and metric of throttled attempts |

mod https;
mod settings;
mod throttle;

use std::borrow::Cow;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryPartition;
use aws_types::SdkConfig;

use self::throttle::ThrottleMetric;

pub use self::https::https_client;
pub use self::settings::ClientSettings;
pub use self::throttle::throttled_attempts;

/// A function's DynamoDB client, from Lambda's environment, with `settings`.
pub fn dynamodb(settings: &ClientSettings) -> Client {
    dynamodb_in(&settings.sdk_config(), settings.partition)
}

/// The DynamoDB client of `config` (from [`ClientSettings::sdk_config`] or
/// [`ClientSettings::local_sdk_config`]) in the retry partition `partition` (see
/// [`ClientSettings::partition`]), counting its throttled attempts.
pub fn dynamodb_in(config: &SdkConfig, partition: impl Into<Cow<'static, str>>) -> Client {
    let config = aws_sdk_dynamodb::config::Builder::from(config)
        .retry_partition(RetryPartition::new(partition))
        .interceptor(ThrottleMetric)
        .build();
    Client::from_conf(config)
}

/// [`dynamodb_in`] the SDK's default partition (the operator's tools).
pub fn dynamodb_from(config: &SdkConfig) -> Client {
    dynamodb_in(config, "dynamodb")
}
