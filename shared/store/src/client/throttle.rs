//! Throttled attempts: counted for the process ([`throttled_attempts`]) and, in Lambda,
//! written as a CloudWatch embedded metric format line (see the [`client`](super) module's
//! documentation).

use std::sync::atomic::{AtomicU64, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::AfterDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

static THROTTLED_ATTEMPTS: AtomicU64 = AtomicU64::new(0);

/// How many attempts of this process's DynamoDB clients were throttled.
pub fn throttled_attempts() -> u64 {
    THROTTLED_ATTEMPTS.load(Ordering::Relaxed)
}

/// Counts the attempts DynamoDB throttled (see the [`client`](super) module's documentation).
#[derive(Debug)]
pub(super) struct ThrottleMetric;

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
}
