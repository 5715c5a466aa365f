//! Start-up of a real function binary under a local Lambda Runtime API: the time from spawn to
//! its first request for work (init), and the latency of its first and second invocations.
//!
//! ```text
//! cargo run --profile perf -p tests --bin function-startup -- authorizer <binary> [runs]
//! cargo run --profile perf -p tests --bin function-startup -- accounts <binary> [runs]
//! cargo run --profile perf -p tests --bin function-startup -- tokens <binary> [runs]
//! ```
//!
//! The authorizer is measured with and without its warm-up read during init; the admin
//! functions answer an IAM administrator's list request (HTTP API payload 2.0), with the
//! reads it takes. Then one process of the first variant answers 1,000 invocations, and its
//! peak resident set (`VmHWM`) is printed.

use std::time::{Duration, Instant};

use serde_json::Value;
use shared::access::{IpAllowlist, Role, Roles, Scopes};
use tests::admin::AdminWorld;
use tests::events::{ApiCall, AuthorizerShape, Shape, authorizer_event};
use tests::runtime_api::{LocalFunction, Outcome};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage =
        || anyhow::anyhow!("usage: function-startup <authorizer|accounts|tokens> <binary> [runs]");
    let function = args.next().ok_or_else(usage)?;
    let binary = std::path::PathBuf::from(args.next().ok_or_else(usage)?);
    let runs: usize = args.next().map_or(Ok(15), |n| n.parse())?;
    let world = AdminWorld::new().await;
    let (event, variants): (Value, Vec<(&str, &str)>) = match function.as_str() {
        "authorizer" => {
            let (_, token) = world
                .account_with_token(
                    &world.acme.org,
                    Roles::new([Role::Reader]),
                    Scopes::default(),
                    IpAllowlist::default(),
                )
                .await;
            let event = authorizer_event(
                AuthorizerShape::RestRequest,
                Some(&format!("Bearer {token}")),
                "GET",
                "/items",
                "10.1.2.3",
            );
            (
                event,
                vec![("warm-up read", "true"), ("no warm-up", "false")],
            )
        }
        "accounts" | "tokens" => {
            let path = if function == "accounts" {
                "/v1/orgs/acme/service-accounts"
            } else {
                "/v1/orgs/acme/tokens"
            };
            // As an IAM administrator: the same request for every version of the function
            // (whatever its token format), with its reads.
            let call = ApiCall::new(Shape::HttpV2, "GET", path).iam(tests::admin::IAM_ADMIN);
            (call.event(), vec![("as deployed", "true")])
        }
        _ => return Err(usage()),
    };
    println!(
        "{} ({} bytes), {runs} cold starts each:",
        binary.display(),
        std::fs::metadata(&binary)?.len()
    );
    println!(
        "{:<16} {:>12} {:>16} {:>16}",
        "variant", "init p50", "1st request p50", "2nd request p50"
    );
    let env_of = |warm_up: &'static str| {
        [
            ("TABLE_NAME", world.tables.table.as_str()),
            ("AUDIT_TABLE_NAME", world.tables.audit_table.as_str()),
            ("AWS_ENDPOINT_URL_DYNAMODB", world.tables.endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("TOKEN_KEYS", tests::TEST_TOKEN_KEYS),
            ("ADMIN_IAM_PRINCIPALS", tests::admin::IAM_ADMIN),
            ("IAM_API_IDS", "aaaaaaaaaa"),
            ("LAST_USED_INTERVAL_SECONDS", "3600"),
            ("RUST_LOG", "warn"),
            ("WARM_UP", warm_up),
        ]
    };
    for &(name, warm_up) in &variants {
        let (mut init, mut first, mut second) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let mut process =
                LocalFunction::start_binary(&binary, &function, &env_of(warm_up)).await?;
            init.push(process.init_duration().await?);
            for samples in [&mut first, &mut second] {
                let started = Instant::now();
                answer(&mut process, &event).await?;
                samples.push(started.elapsed());
            }
        }
        println!(
            "{name:<16} {:>12} {:>16} {:>16}",
            millis(median(&mut init)),
            millis(median(&mut first)),
            millis(median(&mut second))
        );
    }
    let (name, warm_up) = variants[0];
    let mut process = LocalFunction::start_binary(&binary, &function, &env_of(warm_up)).await?;
    for _ in 0..1_000 {
        answer(&mut process, &event).await?;
    }
    println!(
        "peak resident set after 1,000 invocations ({name}): {:.2} MiB",
        process.peak_rss_kib()? as f64 / 1024.0
    );
    Ok(())
}

/// Invokes the function with `event`; an error unless it answered (a 200 for an HTTP event).
async fn answer(process: &mut LocalFunction, event: &Value) -> anyhow::Result<()> {
    let outcome = process.invoke(event.clone()).await?;
    let answered = match &outcome {
        Outcome::Response(response) => response
            .get("statusCode")
            .is_none_or(|status| status == 200),
        _ => false,
    };
    if !answered {
        anyhow::bail!("the invocation did not succeed: {outcome:?}");
    }
    Ok(())
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1e3)
}
