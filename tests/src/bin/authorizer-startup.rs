//! Start-up of the real authorizer binary under a local Lambda Runtime API: the time from
//! spawn to its first request for work (init), and the latency of its first and second
//! authorizations, with and without the warm-up read during init.
//!
//! `cargo run --profile perf -p tests --bin authorizer-startup -- <path to authorizer> [runs]`

use std::time::{Duration, Instant};

use shared::access::{IpAllowlist, Role, Roles, Scopes};
use tests::admin::AdminWorld;
use tests::events::{AuthorizerShape, authorizer_event};
use tests::runtime_api::{LocalFunction, Outcome};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let binary = std::path::PathBuf::from(
        args.next()
            .ok_or_else(|| anyhow::anyhow!("usage: authorizer-startup <binary> [runs]"))?,
    );
    let runs: usize = args.next().map_or(Ok(15), |n| n.parse())?;
    let world = AdminWorld::new().await;
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
    println!(
        "{} ({} bytes), {runs} cold starts each:",
        binary.display(),
        std::fs::metadata(&binary)?.len()
    );
    println!(
        "{:<16} {:>12} {:>16} {:>16}",
        "warm-up read", "init p50", "1st request p50", "2nd request p50"
    );
    for warm_up in ["true", "false"] {
        let (mut init, mut first, mut second) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let env = [
                ("TABLE_NAME", world.tables.table.as_str()),
                ("AWS_ENDPOINT_URL_DYNAMODB", world.tables.endpoint.as_str()),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "local"),
                ("AWS_SECRET_ACCESS_KEY", "local"),
                ("LAST_USED_INTERVAL_SECONDS", "86400"),
                ("RUST_LOG", "warn"),
                ("WARM_UP", warm_up),
            ];
            let mut function = LocalFunction::start_binary(&binary, "authorizer", &env).await?;
            init.push(function.init_duration().await?);
            for samples in [&mut first, &mut second] {
                let started = Instant::now();
                let outcome = function.invoke(event.clone()).await?;
                samples.push(started.elapsed());
                if !matches!(outcome, Outcome::Response(_)) {
                    anyhow::bail!("the authorization was refused: {outcome:?}");
                }
            }
        }
        println!(
            "{warm_up:<16} {:>12} {:>16} {:>16}",
            millis(median(&mut init)),
            millis(median(&mut first)),
            millis(median(&mut second))
        );
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
