//! Load harness: authorizations through the real authorizer handler against DynamoDB Local,
//! next to bare `BatchGetItem`s of the same items, with the latency of each and the DynamoDB
//! calls each outcome cost.
//!
//! `cargo run --profile perf -p tests --bin authorizer-load [-- N]` (N authorizations, default
//! 10000; DynamoDB Local is started unless `AWS_ENDPOINT_URL_DYNAMODB` names one).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use authorizer::{Authorizer, AuthorizerConfig};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use shared::access::{IpAllowlist, Role, Roles, Scopes};
use store::keys;
use tests::admin::AdminWorld;
use tests::counting::counted_store;
use tests::events::{AuthorizerShape, authorizer_event};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Valid,
    Revoked,
    Expired,
    Garbage,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let total: usize = std::env::args().nth(1).map_or(Ok(10_000), |n| n.parse())?;
    let world = AdminWorld::new().await;
    let org = world.acme.org.clone();
    let (account, valid) = world
        .account_with_token(
            &org,
            Roles::new([Role::Reader]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await;
    let revoked = world.mint(&org, &account, Scopes::default()).await;
    let expired = world.mint(&org, &account, Scopes::default()).await;
    let store = &world.context.store;
    let owner = shared::token::TokenOwner::Account(account.clone());
    for (text, change) in [(&revoked, "revoke"), (&expired, "expire")] {
        let id = shared::ids::TokenId::parse(&text[4..20]).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut token = store
            .get_token(&org, &owner, &id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("minted"))?;
        let now = world.clock_now();
        match change {
            "revoke" => token.revoke(
                shared::model::Actor::system("load"),
                now,
                time::Duration::days(1),
            ),
            _ => token.expires_at = Some(now - time::Duration::seconds(1)),
        }
        store.update_token(&token).await?;
    }

    let (counted, counter) = counted_store(&world.tables).await;
    let config = AuthorizerConfig::from_lookup(tests::test_token_format(), |_| None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let authorizer = Authorizer::new(counted, config);
    authorizer.warm_up().await;

    // The same items the authorizer reads, for a bare BatchGetItem after each valid
    // authorization, so both are measured under the same conditions.
    let client = &world.tables.client;
    let pk = keys::org_pk(&org);
    let token_id =
        shared::ids::TokenId::parse(&valid[4..20]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let request = KeysAndAttributes::builder()
        .set_keys(Some(vec![
            key(&pk, &keys::token_sk(&owner, &token_id)),
            key(&pk, keys::ORG_SK),
            key(&pk, &keys::account_sk(&account)),
        ]))
        .consistent_read(true)
        .build()?;
    let table = world.tables.table.as_str();
    let bare_read = || async {
        let started = Instant::now();
        client
            .batch_get_item()
            .request_items(table, request.clone())
            .send()
            .await
            .map(|_| started.elapsed())
    };
    let shapes = AuthorizerShape::ALL;
    let event_for = |i: usize, token: &str| {
        authorizer_event(
            shapes[i % 3],
            Some(&format!("Bearer {token}")),
            "GET",
            "/items",
            "10.1.2.3",
        )
    };
    // Warm both paths, and DynamoDB Local's JIT, before measuring anything.
    for i in 0..1_000 {
        authorizer
            .handle(event_for(i, &valid))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        bare_read().await?;
    }

    // The mix: 70% valid, 10% each revoked, expired and garbage, interleaved.
    let mut latencies: BTreeMap<Kind, Vec<Duration>> = BTreeMap::new();
    let mut calls: BTreeMap<Kind, BTreeMap<String, u32>> = BTreeMap::new();
    let mut bare = Vec::with_capacity(total);
    for i in 0..total {
        let kind = match i % 10 {
            0 => Kind::Revoked,
            1 => Kind::Expired,
            2 => Kind::Garbage,
            _ => Kind::Valid,
        };
        let token = match kind {
            Kind::Valid => valid.clone(),
            Kind::Revoked => revoked.clone(),
            Kind::Expired => expired.clone(),
            Kind::Garbage => format!("svc_{i:0>90}"),
        };
        counter.take();
        let started = Instant::now();
        let result = authorizer.handle(event_for(i, &token)).await;
        let elapsed = started.elapsed();
        if (kind == Kind::Valid) != result.is_ok() {
            anyhow::bail!("{kind:?} got the wrong answer: {result:?}");
        }
        latencies.entry(kind).or_default().push(elapsed);
        let entry = calls.entry(kind).or_default();
        for (operation, n) in counter.take() {
            *entry.entry(operation).or_default() += n;
        }
        if kind == Kind::Valid {
            bare.push(bare_read().await?);
        }
    }

    println!(
        "authorizations: {total} through the real handler (after 1000 warm-up calls), against DynamoDB Local at {}",
        world.tables.endpoint
    );
    println!(
        "{:<28} {:>7} {:>10} {:>10}   DynamoDB calls per authorization",
        "outcome", "count", "p50", "p99"
    );
    for (kind, samples) in &mut latencies {
        let count = samples.len();
        let per = calls
            .get(kind)
            .map(|ops| {
                ops.iter()
                    .map(|(op, n)| format!("{op} {:.4}", f64::from(*n) / count as f64))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|text| !text.is_empty())
            .unwrap_or_else(|| "none".into());
        let (p50, p99) = percentiles(samples);
        println!(
            "{:<28} {count:>7} {:>10} {:>10}   {per}",
            format!("{kind:?}"),
            micros(p50),
            micros(p99)
        );
    }
    let (p50, p99) = percentiles(&mut bare);
    println!(
        "{:<28} {:>7} {:>10} {:>10}",
        "bare BatchGetItem",
        bare.len(),
        micros(p50),
        micros(p99)
    );
    if let Some(valid) = latencies.get_mut(&Kind::Valid) {
        let (valid_p50, _) = percentiles(valid);
        println!(
            "valid authorization p50 / bare BatchGetItem p50 = {:.3}",
            valid_p50.as_secs_f64() / p50.as_secs_f64()
        );
    }
    Ok(())
}

fn key(pk: &str, sk: &str) -> std::collections::HashMap<String, AttributeValue> {
    std::collections::HashMap::from([
        (keys::PK.to_owned(), AttributeValue::S(pk.to_owned())),
        (keys::SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    (at(0.50), at(0.99))
}

fn micros(duration: Duration) -> String {
    format!("{:.0} µs", duration.as_secs_f64() * 1e6)
}
