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
//! The endpoint, region and credentials come from the standard AWS variables
//! (`AWS_ENDPOINT_URL_DYNAMODB`, `AWS_REGION`, ...), read by `aws-config`.

use std::time::Duration;

use aws_config::retry::{RetryConfig, RetryMode};
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region};
use shared::config::{ConfigError, bounded, millis};

/// The time bounds and retries of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    pub connect_timeout: Duration,
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
    pub max_attempts: u32,
    pub adaptive: bool,
}

impl ClientSettings {
    /// The authorizer's: well inside API Gateway's 10 s for an authorizer, and short enough
    /// that a pooled connection that died while the sandbox was frozen is replaced quickly.
    pub const AUTHORIZER: Self = Self {
        connect_timeout: Duration::from_millis(1_000),
        attempt_timeout: Duration::from_millis(500),
        operation_timeout: Duration::from_millis(1_800),
        max_attempts: 3,
        adaptive: false,
    };

    /// The admin functions': a call gives up after 5 s, so even a use case of several calls
    /// answers well inside the function's 28 s and API Gateway's 29 s.
    pub const ADMIN: Self = Self {
        connect_timeout: Duration::from_millis(1_000),
        attempt_timeout: Duration::from_millis(2_000),
        operation_timeout: Duration::from_millis(5_000),
        max_attempts: 3,
        adaptive: false,
    };

    /// The audit writer's, and the operator's tools': patient, since nobody waits on them
    /// but a retrying stream.
    pub const BACKGROUND: Self = Self {
        connect_timeout: Duration::from_millis(2_000),
        attempt_timeout: Duration::from_millis(5_000),
        operation_timeout: Duration::from_millis(20_000),
        max_attempts: 5,
        adaptive: false,
    };

    /// `defaults`, overridden by the variables of the module's table.
    pub fn from_lookup(
        defaults: Self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let as_ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let adaptive = match lookup("DYNAMODB_RETRY_MODE").as_deref() {
            None => defaults.adaptive,
            Some("standard") => false,
            Some("adaptive") => true,
            Some(_) => {
                return Err(ConfigError {
                    variable: "DYNAMODB_RETRY_MODE",
                    reason: "`standard` or `adaptive`".into(),
                });
            }
        };
        Ok(Self {
            connect_timeout: millis(
                &lookup,
                "DYNAMODB_CONNECT_TIMEOUT_MS",
                as_ms(defaults.connect_timeout),
                100..=10_000,
            )?,
            attempt_timeout: millis(
                &lookup,
                "DYNAMODB_ATTEMPT_TIMEOUT_MS",
                as_ms(defaults.attempt_timeout),
                50..=20_000,
            )?,
            operation_timeout: millis(
                &lookup,
                "DYNAMODB_OPERATION_TIMEOUT_MS",
                as_ms(defaults.operation_timeout),
                100..=25_000,
            )?,
            max_attempts: bounded(
                &lookup,
                "DYNAMODB_MAX_ATTEMPTS",
                defaults.max_attempts,
                1..=10,
            )?,
            adaptive,
        })
    }

    fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    fn retries(&self) -> RetryConfig {
        let mode = if self.adaptive {
            RetryMode::Adaptive
        } else {
            RetryMode::Standard
        };
        RetryConfig::standard()
            .with_retry_mode(mode)
            .with_max_attempts(self.max_attempts)
    }

    /// The SDK configuration from the standard AWS environment, with these bounds.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(self.timeouts())
            .retry_config(self.retries())
            .load()
            .await
    }

    /// The SDK configuration for a local endpoint (DynamoDB Local), with the fixed
    /// credentials it accepts and these bounds.
    pub async fn local_sdk_config(&self, endpoint: &str, region: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(
                "local",
                "local",
                None,
                None,
                "dynamodb-local",
            ))
            .timeout_config(self.timeouts())
            .retry_config(self.retries())
            .load()
            .await
    }
}

/// A DynamoDB client from the standard AWS environment, with `settings`.
pub async fn dynamodb(settings: &ClientSettings) -> Client {
    Client::new(&settings.sdk_config().await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_can_be_set_within_its_range() {
        let set = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let defaults = ClientSettings::from_lookup(ClientSettings::ADMIN, |_| None).unwrap();
        assert_eq!(defaults, ClientSettings::ADMIN);
        let tuned = ClientSettings::from_lookup(
            ClientSettings::ADMIN,
            set(&[
                ("DYNAMODB_ATTEMPT_TIMEOUT_MS", "300"),
                ("DYNAMODB_MAX_ATTEMPTS", "2"),
                ("DYNAMODB_RETRY_MODE", "adaptive"),
            ]),
        )
        .unwrap();
        assert_eq!(tuned.attempt_timeout, Duration::from_millis(300));
        assert_eq!(tuned.max_attempts, 2);
        assert!(tuned.adaptive);
        for bad in [
            &[("DYNAMODB_MAX_ATTEMPTS", "0")][..],
            &[("DYNAMODB_ATTEMPT_TIMEOUT_MS", "5")][..],
            &[("DYNAMODB_RETRY_MODE", "eager")][..],
        ] {
            let pairs: &'static [(&str, &str)] = bad;
            assert!(ClientSettings::from_lookup(ClientSettings::ADMIN, set(pairs)).is_err());
        }
    }
}
