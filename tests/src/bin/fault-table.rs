//! Fault table: what each caller sees while DynamoDB Local, behind the harness's fault proxy,
//! is slow, stalled, resetting, refusing, failing, throttling or losing answers; how long it waited (p50 and
//! p99 over N requests per caller, 10 at a time, the four callers side by side); and, after
//! the fault is gone, how many acknowledged writes were lost and how many requests wrote
//! twice (by the table and by the audit trail).
//!
//! The functions' own client settings are used (`ClientSettings::AUTHORIZER` and `ADMIN`).
//!
//! `cargo run --profile perf -p tests --bin fault-table [-- N]` (N requests per caller and
//! fault, default 100; DynamoDB Local is started unless `AWS_ENDPOINT_URL_DYNAMODB` names one).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tests::admin::AdminWorld;
use tests::faults::{Fault, Rule};
use tests::faulty::{Faulty, account_names};

const AT_ONCE: usize = 10;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map_or(Ok(100), |n| n.parse())?;
    let ms = Duration::from_millis;
    let faults: Vec<(&str, Option<Rule>)> = vec![
        ("none", Some(Rule::all(Fault::Latency(Duration::ZERO)))),
        ("200 ms latency", Some(Rule::all(Fault::Latency(ms(200))))),
        ("stalled (as kill -STOP)", Some(Rule::all(Fault::Stall))),
        ("connections reset", Some(Rule::all(Fault::Reset))),
        ("connections refused", None),
        ("HTTP 500", Some(Rule::all(Fault::ServerError))),
        ("throttled", Some(Rule::all(Fault::Throttle))),
        (
            "throttled, 1 call in 3",
            Some(Rule::all(Fault::Throttle).share_at_random(33, 11)),
        ),
        (
            "reset, 1 call in 3",
            Some(Rule::all(Fault::Reset).share_at_random(33, 13)),
        ),
        (
            "answer lost after the write, 1 call in 3",
            Some(Rule::all(Fault::LoseAnswer).share_at_random(33, 17)),
        ),
    ];
    println!("{n} requests per caller and fault, {AT_ONCE} at a time, the four callers at once");
    println!();
    println!("| fault | caller | answers | p50 | p99 |");
    println!("| --- | --- | --- | ---: | ---: |");
    let mut losses = Vec::new();
    for (name, rule) in faults {
        let f = match &rule {
            Some(rule) => {
                let f = Faulty::new().await;
                f.proxy().set(rule.clone());
                f
            }
            None => Faulty::refused().await,
        };
        let label = name.replace(' ', "-");
        let (authorize, read, write, oauth) = tokio::join!(
            run(n, |_| async {
                match f.authorize(&f.client_secret).await {
                    Ok(effect) => effect,
                    Err(error) if error == "Unauthorized" => "401".to_owned(),
                    Err(_) => "error (500)".to_owned(),
                }
            }),
            run(n, |_| async {
                let reply = f.admin_read().await;
                format!("{}{}", reply.status, retry_after(&reply))
            }),
            run(n, |i| {
                let (f, label) = (&f, &label);
                async move {
                    let reply = f.admin_write(&format!("{label}-{i}")).await;
                    format!("{}{}", reply.status, retry_after(&reply))
                }
            }),
            run(n, |_| async {
                let reply = f.token_endpoint().await;
                format!("{}{}", reply.status, retry_after(&reply))
            }),
        );
        if let Some(proxy) = &f.proxy {
            proxy.clear();
        }
        for (caller, outcomes) in [
            ("authorizer", &authorize),
            ("admin read", &read),
            ("admin write", &write),
            ("token endpoint", &oauth),
        ] {
            println!(
                "| {name} | {caller} | {} | {} | {} |",
                answers(outcomes),
                millis(percentile(outcomes, 50)),
                millis(percentile(outcomes, 99)),
            );
        }
        let acknowledged: Vec<String> = write
            .iter()
            .enumerate()
            .filter(|(_, (answer, _))| answer.starts_with("201"))
            .map(|(i, _)| format!("{label}-{i}"))
            .collect();
        losses.push((
            name,
            acknowledged.len(),
            lost_and_doubled(&f.world, &acknowledged, &label).await?,
        ));
    }
    println!();
    println!(
        "| fault | writes acknowledged | lost | written twice (table) | written twice (audit) | written though refused |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, acknowledged, (lost, doubled, doubled_audit, unacknowledged)) in losses {
        println!(
            "| {name} | {acknowledged} | {lost} | {doubled} | {doubled_audit} | {unacknowledged} |"
        );
    }
    Ok(())
}

/// `n` requests made by `request(i)`, [`AT_ONCE`] at a time: each answer with its latency,
/// in the order of `i`.
async fn run<F, Fut>(n: usize, request: F) -> Vec<(String, Duration)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let mut outcomes = futures_util::stream::iter(0..n)
        .map(|i| {
            let call = request(i);
            async move {
                let started = Instant::now();
                let answer = call.await;
                (i, answer, started.elapsed())
            }
        })
        .buffer_unordered(AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    outcomes.sort_by_key(|(i, _, _)| *i);
    outcomes
        .into_iter()
        .map(|(_, answer, latency)| (answer, latency))
        .collect()
}

fn retry_after(reply: &tests::admin::Reply) -> String {
    reply
        .header("retry-after")
        .map(|seconds| format!(" (Retry-After: {seconds})"))
        .unwrap_or_default()
}

/// `100× 503 (Retry-After: 2)`, most frequent first.
fn answers(outcomes: &[(String, Duration)]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (answer, _) in outcomes {
        *counts.entry(answer.as_str()).or_default() += 1;
    }
    let mut counts: Vec<(&str, usize)> = counts.into_iter().collect();
    counts.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    counts
        .iter()
        .map(|(answer, count)| format!("{count}× {answer}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn percentile(outcomes: &[(String, Duration)], p: usize) -> Duration {
    let mut latencies: Vec<Duration> = outcomes.iter().map(|(_, latency)| *latency).collect();
    latencies.sort();
    let rank = (latencies.len() * p).div_ceil(100).max(1) - 1;
    latencies.get(rank).copied().unwrap_or_default()
}

fn millis(latency: Duration) -> String {
    format!("{:.0} ms", latency.as_secs_f64() * 1000.0)
}

/// After the fault: acknowledged creations missing from the table; requests whose account
/// is in the table more than once; creations recorded more than once by the audit trail;
/// accounts in the table whose request was refused.
async fn lost_and_doubled(
    world: &AdminWorld,
    acknowledged: &[String],
    label: &str,
) -> anyhow::Result<(usize, usize, usize, usize)> {
    let names = account_names(world).await;
    let mut in_table: BTreeMap<&str, usize> = BTreeMap::new();
    for name in names.iter().filter(|name| name.starts_with(label)) {
        *in_table.entry(name.as_str()).or_default() += 1;
    }
    let lost = acknowledged
        .iter()
        .filter(|name| !in_table.contains_key(name.as_str()))
        .count();
    let doubled = in_table.values().filter(|count| **count > 1).count();
    let unacknowledged = in_table
        .keys()
        .filter(|name| !acknowledged.iter().any(|a| a == *name))
        .count();
    // The audit trail: the real writer over the whole stream, then one creation per account.
    let mut created: BTreeMap<String, usize> = BTreeMap::new();
    for event in tests::faulty::audit_events(world).await? {
        if event["action"] == "service_account.created" {
            let target = event["target"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            *created.entry(target).or_default() += 1;
        }
    }
    let doubled_audit = created.values().filter(|count| **count > 1).count();
    Ok((lost, doubled, doubled_audit, unacknowledged))
}
