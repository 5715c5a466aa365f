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

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::{RetryConfig, RetryMode, RetryPartition};
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::SdkConfig;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use shared::config::{ConfigError, bounded, millis};

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

    /// The SDK configuration of a function, from Lambda's environment (see the module's
    /// documentation), with these bounds.
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

/// The roots of Amazon Trust Services, which every AWS endpoint's certificate chains to.
const AMAZON_ROOTS: &[u8] = include_bytes!("amazon-roots.pem");

/// The roots the clients trust, as PEM: Amazon's, and the file `AWS_CA_BUNDLE` names.
fn roots(lookup: impl Fn(&str) -> Option<String>) -> Vec<Cow<'static, [u8]>> {
    let mut roots = vec![Cow::Borrowed(AMAZON_ROOTS)];
    if let Some(path) = lookup("AWS_CA_BUNDLE").filter(|path| !path.is_empty()) {
        match std::fs::read(&path) {
            Ok(pem) => roots.push(Cow::Owned(pem)),
            Err(error) => tracing::error!(
                %path,
                %error,
                "AWS_CA_BUNDLE cannot be read: trusting Amazon's roots only"
            ),
        }
    }
    roots
}

/// The HTTPS client of every AWS client: rustls on aws-lc, trusting [`roots`] and no system
/// store (`AWS_CA_BUNDLE` from `lookup`).
pub fn https_client(lookup: impl Fn(&str) -> Option<String>) -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(
                    roots(lookup)
                        .into_iter()
                        .fold(TrustStore::empty(), |store, pem| {
                            store.with_pem_certificate(pem)
                        }),
                )
                .build()
                .unwrap_or_default(),
        )
        .build_https()
}

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

static THROTTLED_ATTEMPTS: AtomicU64 = AtomicU64::new(0);

/// How many attempts of this process's DynamoDB clients were throttled.
pub fn throttled_attempts() -> u64 {
    THROTTLED_ATTEMPTS.load(Ordering::Relaxed)
}

/// Counts the attempts DynamoDB throttled (see the module's documentation).
#[derive(Debug)]
struct ThrottleMetric;

impl Intercept for ThrottleMetric {
    fn name(&self) -> &'static str {
        "ThrottleMetric"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        if response.status().as_u16() != 400 || !response.body().bytes().is_some_and(is_throttling)
        {
            return Ok(());
        }
        THROTTLED_ATTEMPTS.fetch_add(1, Ordering::Relaxed);
        let operation = cfg.load::<Metadata>().map_or("unknown", Metadata::name);
        if let Ok(function) = std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
            let namespace =
                std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| "ServiceAccounts".to_owned());
            let line = throttle_metric_line(
                &namespace,
                &function,
                operation,
                time::OffsetDateTime::now_utc(),
            );
            println!("{line}");
        } else {
            tracing::warn!(operation, "DynamoDB throttled an attempt");
        }
        Ok(())
    }
}

/// Whether an error body is DynamoDB's throttling: its `__type`, or a cancelled transaction's
/// reason.
fn is_throttling(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Reason {
        #[serde(rename = "Code")]
        code: Option<String>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(rename = "__type")]
        kind: Option<String>,
        #[serde(rename = "CancellationReasons", default)]
        reasons: Vec<Reason>,
    }
    let Ok(error) = serde_json::from_slice::<ErrorBody>(body) else {
        return false;
    };
    let throttling = |code: &str| {
        // `__type` is `com.amazonaws.dynamodb.v20120810#ThrottlingException`.
        let code = code.rsplit('#').next().unwrap_or(code);
        crate::THROTTLING_CODES.contains(&code)
    };
    error.kind.as_deref().is_some_and(throttling)
        || error
            .reasons
            .iter()
            .filter_map(|reason| reason.code.as_deref())
            .any(throttling)
}

/// One throttled attempt as a CloudWatch embedded metric format line.
fn throttle_metric_line(
    namespace: &str,
    function: &str,
    operation: &str,
    at: time::OffsetDateTime,
) -> String {
    let millis = at.unix_timestamp_nanos() / 1_000_000;
    serde_json::json!({
        "_aws": {
            "Timestamp": millis,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["FunctionName"]],
                "Metrics": [{"Name": "DynamoDbThrottledAttempts", "Unit": "Count"}],
            }],
        },
        "FunctionName": function,
        "Operation": operation,
        "DynamoDbThrottledAttempts": 1,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    fn certificates(pem: &[u8]) -> usize {
        CertificateDer::pem_slice_iter(pem)
            .map(|certificate| certificate.expect("a PEM certificate"))
            .filter(|certificate| !certificate.is_empty())
            .count()
    }

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
    fn the_clients_trust_amazons_five_roots_and_no_system_store() {
        let roots = roots(|_| None);
        assert_eq!(roots.len(), 1);
        assert_eq!(certificates(&roots[0]), 5);
        let text = std::str::from_utf8(AMAZON_ROOTS).unwrap();
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(text.contains(&format!("# {name}\n")), "{name}");
        }
    }

    #[test]
    fn aws_ca_bundle_adds_its_roots_and_an_unreadable_one_adds_none() {
        let dir = std::env::temp_dir().join(format!("ca-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bundle = dir.join("proxy.pem");
        // Any certificate will do: the first of Amazon's stands for a proxy's root.
        let one = &AMAZON_ROOTS[AMAZON_ROOTS.windows(5).position(|w| w == b"-----").unwrap()..];
        std::fs::write(&bundle, one).unwrap();
        let path = bundle.to_str().unwrap().to_owned();
        let with_bundle = roots(|key| (key == "AWS_CA_BUNDLE").then(|| path.clone()));
        assert_eq!(with_bundle.len(), 2);
        assert!(certificates(&with_bundle[1]) >= 1);
        let missing = dir.join("missing.pem").to_str().unwrap().to_owned();
        assert_eq!(
            roots(|key| (key == "AWS_CA_BUNDLE").then(|| missing.clone())).len(),
            1
        );
        assert_eq!(
            roots(|key| (key == "AWS_CA_BUNDLE").then(String::new)).len(),
            1
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn throttling_bodies_are_recognised_and_others_are_not() {
        for body in [
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
            r#"{"__type":"com.amazon.coral.availability#ThrottlingException"}"#,
            r#"{"__type":"RequestLimitExceeded"}"#,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","CancellationReasons":[{"Code":"None"},{"Code":"ThrottlingError"}]}"#,
        ] {
            assert!(is_throttling(body.as_bytes()), "{body}");
        }
        for body in [
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}"#,
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","CancellationReasons":[{"Code":"ConditionalCheckFailed"}]}"#,
            r#"{"__type":"ValidationException","message":"ThrottlingException"}"#,
            "not json",
        ] {
            assert!(!is_throttling(body.as_bytes()), "{body}");
        }
    }

    #[test]
    fn the_metric_line_is_embedded_metric_format() {
        let at = time::macros::datetime!(2026-11-27 12:00 UTC);
        let line: serde_json::Value = serde_json::from_str(&throttle_metric_line(
            "ServiceAccounts/prod",
            "prod-authorizer",
            "GetItem",
            at,
        ))
        .unwrap();
        assert_eq!(line["_aws"]["Timestamp"], 1_795_780_800_000_i64);
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "DynamoDbThrottledAttempts"
        );
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ServiceAccounts/prod");
        assert_eq!(directive["Dimensions"][0][0], "FunctionName");
        assert_eq!(line["FunctionName"], "prod-authorizer");
        assert_eq!(line["Operation"], "GetItem");
        assert_eq!(line["DynamoDbThrottledAttempts"], 1);
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
