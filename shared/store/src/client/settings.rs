//! [`ClientSettings`]: a client's time bounds and retries, read from the variables of the
//! [`client`](super) module's table, and the SDK configuration they make from Lambda's
//! environment (region, credentials, endpoint overrides) or for a local endpoint.

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::{RetryConfig, RetryMode};
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_types::SdkConfig;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use shared::config::{ConfigError, bounded, millis};

use super::https_client;

/// The time bounds and retries of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    pub connect_timeout: Duration,
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
    pub max_attempts: u32,
    pub adaptive: bool,
    /// The SDK's retry partition: clients of one partition share a retry quota (a token
    /// bucket that stops retries when most attempts fail, so a failing store is not hit by a
    /// storm of retries) and, in adaptive mode, a rate limiter. Each kind of function has its
    /// own, as in Lambda, so in `local` the admin API's retries never starve the authorizer's.
    pub partition: &'static str,
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
        partition: "authorizer",
    };

    /// The admin functions': a call gives up after 5 s, so even a use case of several calls
    /// answers well inside the function's 28 s and API Gateway's 29 s.
    pub const ADMIN: Self = Self {
        connect_timeout: Duration::from_millis(1_000),
        attempt_timeout: Duration::from_millis(2_000),
        operation_timeout: Duration::from_millis(5_000),
        max_attempts: 3,
        adaptive: false,
        partition: "admin",
    };

    /// The audit writer's, and the operator's tools': patient, since nobody waits on them
    /// but a retrying stream.
    pub const BACKGROUND: Self = Self {
        connect_timeout: Duration::from_millis(2_000),
        attempt_timeout: Duration::from_millis(5_000),
        operation_timeout: Duration::from_millis(20_000),
        max_attempts: 5,
        adaptive: false,
        partition: "background",
    };

    /// `defaults`, overridden by the variables of the [`client`](super) module's table.
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
            partition: defaults.partition,
        })
    }

    /// The time bounds, as the SDK's configuration.
    pub fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    /// The retries, as the SDK's configuration.
    pub fn retries(&self) -> RetryConfig {
        let mode = if self.adaptive {
            RetryMode::Adaptive
        } else {
            RetryMode::Standard
        };
        RetryConfig::standard()
            .with_retry_mode(mode)
            .with_max_attempts(self.max_attempts)
    }

    /// The SDK configuration of a function, from Lambda's environment (see the
    /// [`client`](super) module's documentation), with these bounds.
    pub fn sdk_config(&self) -> SdkConfig {
        self.sdk_config_from(|key| std::env::var(key).ok())
    }

    /// [`Self::sdk_config`] from the variables `lookup` finds.
    pub fn sdk_config_from(&self, lookup: impl Fn(&str) -> Option<String>) -> SdkConfig {
        let region = lookup("AWS_REGION").or_else(|| lookup("AWS_DEFAULT_REGION"));
        let credentials = match (lookup("AWS_ACCESS_KEY_ID"), lookup("AWS_SECRET_ACCESS_KEY")) {
            (Some(key), Some(secret)) => Some(Credentials::new(
                key,
                secret,
                lookup("AWS_SESSION_TOKEN").filter(|token| !token.is_empty()),
                None,
                "environment",
            )),
            _ => None,
        };
        let endpoints = EnvEndpoints(
            ENDPOINT_VARIABLES
                .iter()
                .filter_map(|&name| Some((name, lookup(name).filter(|url| !url.is_empty())?)))
                .collect(),
        );
        let mut config = self.builder(lookup).service_config(endpoints);
        config.set_region(region.map(Region::new));
        config.set_credentials_provider(credentials.map(SharedCredentialsProvider::new));
        config.build()
    }

    /// The SDK configuration for a local endpoint (DynamoDB Local, moto), with the fixed
    /// credentials it accepts and these bounds.
    pub fn local_sdk_config(&self, endpoint: &str, region: &str) -> SdkConfig {
        self.builder(|key| std::env::var(key).ok())
            .region(Region::new(region.to_owned()))
            .endpoint_url(endpoint)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "local",
                "local",
                None,
                None,
                "dynamodb-local",
            )))
            .build()
    }

    fn builder(&self, lookup: impl Fn(&str) -> Option<String>) -> aws_types::sdk_config::Builder {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .http_client(https_client(lookup))
            .timeout_config(self.timeouts())
            .retry_config(self.retries())
    }
}

/// The endpoint overrides a function may be given: the global one and one per service the
/// functions call (the SDK asks for `AWS_ENDPOINT_URL` with the service's id, and the
/// service's variable wins, as in every AWS SDK).
const ENDPOINT_VARIABLES: [&str; 5] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
    "AWS_ENDPOINT_URL_EVENTBRIDGE",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
];

/// The endpoint overrides found at start-up, by variable.
#[derive(Debug)]
struct EnvEndpoints(Vec<(&'static str, String)>);

impl LoadServiceConfig for EnvEndpoints {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        // `DynamoDB` → `AWS_ENDPOINT_URL_DYNAMODB`, `Secrets Manager` →
        // `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
        let service = format!(
            "{}_{}",
            key.env(),
            key.service_id().to_ascii_uppercase().replace(' ', "_")
        );
        let found = |name: &str| {
            self.0
                .iter()
                .find(|(variable, _)| *variable == name)
                .map(|(_, value)| value.clone())
        };
        found(&service).or_else(|| found(key.env()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured(variables: &[(&str, &str)]) -> SdkConfig {
        ClientSettings::ADMIN.sdk_config_from(|key| {
            variables
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    fn credentials(config: &SdkConfig) -> Option<Credentials> {
        use aws_sdk_dynamodb::config::ProvideCredentials;
        use futures_util::FutureExt;
        let provider = config.credentials_provider()?;
        let provided = provider.provide_credentials().now_or_never()?;
        Some(provided.expect("static credentials"))
    }

    fn endpoint(config: &SdkConfig, service_id: &str) -> Option<String> {
        let key = ServiceConfigKey::builder()
            .service_id(service_id)
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .expect("a complete key");
        config.service_config()?.load_config(key)
    }

    #[test]
    fn lambdas_variables_give_the_region_credentials_and_endpoints() {
        let lambda = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2"),
        ];
        let sdk = configured(&lambda);
        assert_eq!(sdk.region().map(Region::as_ref), Some("eu-west-1"));
        let credentials = credentials(&sdk).expect("the key pair");
        assert_eq!(credentials.access_key_id(), "ASIAEXAMPLE");
        assert_eq!(credentials.secret_access_key(), "secret");
        assert_eq!(credentials.session_token(), Some("session"));
        // The service's own variable wins; a service without one gets the global one.
        assert_eq!(
            endpoint(&sdk, "DynamoDB").as_deref(),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(
            endpoint(&sdk, "Secrets Manager").as_deref(),
            Some("http://127.0.0.1:1")
        );
    }

    #[test]
    fn a_service_variable_with_spaces_and_the_default_region_are_read() {
        let sdk = configured(&[
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:3"),
        ]);
        assert_eq!(sdk.region().map(Region::as_ref), Some("us-east-1"));
        assert_eq!(
            endpoint(&sdk, "Secrets Manager").as_deref(),
            Some("http://127.0.0.1:3")
        );
        assert_eq!(endpoint(&sdk, "DynamoDB"), None);
        // No key pair: no credentials (the SDK refuses to sign), never half a pair.
        assert!(credentials(&sdk).is_none());
        assert!(credentials(&configured(&[("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")])).is_none());
    }

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
