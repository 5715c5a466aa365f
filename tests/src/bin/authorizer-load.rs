//! Load harness: authorizations through the real authorizer handler against DynamoDB Local,
//! for one hot organization with many accounts and tokens, next to bare consistent `GetItem`s
//! of a token item, with the latency of each and the DynamoDB calls and read units each
//! outcome cost; then ten thousand forged, well-formed tokens in a row.
//!
//! Read units are counted from the requests: a strongly consistent read of an item under 4 KB
//! is one unit, so a `GetItem` of the token is 1 and a `BatchGetItem` one per key it asks for.
//!
//! `cargo run --profile perf -p tests --bin authorizer-load [-- N]` (N authorizations, default
//! 10000; DynamoDB Local is started unless `AWS_ENDPOINT_URL_DYNAMODB` names one).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use authorizer::{Authorizer, AuthorizerConfig};
use aws_sdk_dynamodb::types::AttributeValue;
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
    /// Well formed, with a correct CRC32, but not minted by this deployment.
    Forged,
    Garbage,
}

/// Accounts and tokens of the hot organization.
const ACCOUNTS: usize = 20;
const TOKENS_PER_ACCOUNT: usize = 10;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let total: usize = std::env::args().nth(1).map_or(Ok(10_000), |n| n.parse())?;
    let world = AdminWorld::new().await;
    let org = world.acme.org.clone();
    // One hot organization: many accounts, many tokens each.
    let mut valid = Vec::with_capacity(ACCOUNTS * TOKENS_PER_ACCOUNT);
    let mut first_account = None;
    for _ in 0..ACCOUNTS {
        let (account, token) = world
            .account_with_token(
                &org,
                Roles::new([Role::Reader]),
                Scopes::default(),
                IpAllowlist::default(),
            )
            .await;
        valid.push(token);
        for _ in 1..TOKENS_PER_ACCOUNT {
            valid.push(world.mint(&org, &account, Scopes::default()).await);
        }
        first_account.get_or_insert(account);
    }
    let account = first_account.ok_or_else(|| anyhow::anyhow!("no account"))?;
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
    // Tokens of another deployment: the same prefix and ids, another key.
    let elsewhere = shared::token::TokenFormat::new(
        shared::token::TokenPrefix::default(),
        shared::token::TokenKeys::parse("a:another-deployment-another-deployment-key", None)
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    let forge = || -> anyhow::Result<String> {
        let token = shared::token::ParsedToken::generate(&elsewhere, &org, owner.clone())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(token.secret().expose_secret().to_owned())
    };

    let (counted, counter) = counted_store(&world.tables).await;
    let config = AuthorizerConfig::from_lookup(tests::test_token_format(), |_| None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let authorizer = Authorizer::new(counted.clone(), config);
    authorizer.warm_up().await;

    // A bare consistent GetItem of the token item each valid authorization reads, through the
    // same client (the authorizer's settings and the counting interceptor), next to it: both
    // are measured under the same conditions, on the same item. The event is built before
    // the clock starts (it is the harness's work, not the authorizer's).
    let client = counted.client().clone();
    let table = world.tables.table.as_str();
    let format = tests::test_token_format();
    let bare_read = |token: &str| {
        let client = client.clone();
        let parsed = shared::token::ParsedToken::parse(
            &format,
            shared::token::TokenSecret::new(token.to_owned()),
        );
        async move {
            let parsed = parsed.map_err(|e| anyhow::anyhow!("{e}"))?;
            let sk = keys::token_sk(parsed.owner(), parsed.id());
            let started = Instant::now();
            client
                .get_item()
                .table_name(table)
                .set_key(Some(key(&keys::org_pk(parsed.org()), &sk)))
                .consistent_read(true)
                .send()
                .await?;
            anyhow::Ok(started.elapsed())
        }
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
        let token = &valid[i % valid.len()];
        authorizer
            .handle(event_for(i, token))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        bare_read(token).await?;
    }

    // The mix: 60% valid (every token of the organization in turn), 10% each revoked,
    // expired, forged and garbage, interleaved.
    let mut latencies: BTreeMap<Kind, Vec<Duration>> = BTreeMap::new();
    let mut calls: BTreeMap<Kind, BTreeMap<String, u32>> = BTreeMap::new();
    let mut items: BTreeMap<Kind, u32> = BTreeMap::new();
    let mut bare = Vec::with_capacity(total);
    // Valid authorizations whose account and organization came from the owner cache.
    let mut token_only = Vec::with_capacity(total);
    for i in 0..total {
        let kind = match i % 10 {
            0 => Kind::Revoked,
            1 => Kind::Expired,
            2 => Kind::Forged,
            3 => Kind::Garbage,
            _ => Kind::Valid,
        };
        let token = match kind {
            Kind::Valid => valid[i % valid.len()].clone(),
            Kind::Revoked => revoked.clone(),
            Kind::Expired => expired.clone(),
            Kind::Forged => forge()?,
            Kind::Garbage => format!("svc_{i:0>90}"),
        };
        // The bare read goes first for every other valid token and after for the rest, so
        // neither pays more often for touching the item first.
        let bare_first = kind == Kind::Valid && (i / 10) % 2 == 0;
        if bare_first {
            bare.push(bare_read(&token).await?);
        }
        let event = event_for(i, &token);
        counter.take();
        counter.take_items();
        let started = Instant::now();
        let result = authorizer.handle(event).await;
        let elapsed = started.elapsed();
        if (kind == Kind::Valid) != result.is_ok() {
            anyhow::bail!("{kind:?} got the wrong answer: {result:?}");
        }
        latencies.entry(kind).or_default().push(elapsed);
        let entry = calls.entry(kind).or_default();
        let made = counter.take();
        if kind == Kind::Valid && made.len() == 1 && made.contains_key("GetItem") {
            token_only.push(elapsed);
        }
        for (operation, n) in made {
            *entry.entry(operation).or_default() += n;
        }
        *items.entry(kind).or_default() += counter.take_items();
        if kind == Kind::Valid && !bare_first {
            bare.push(bare_read(&token).await?);
        }
    }

    println!(
        "authorizations: {total} through the real handler (after 1000 warm-up calls), one organization with {} tokens of {ACCOUNTS} accounts, against DynamoDB Local at {}",
        valid.len(),
        world.tables.endpoint
    );
    println!(
        "{:<12} {:>7} {:>10} {:>10} {:>12}   DynamoDB calls per authorization",
        "outcome", "count", "p50", "p99", "read units"
    );
    for (kind, samples) in &mut latencies {
        let count = samples.len();
        let ops = calls.get(kind).cloned().unwrap_or_default();
        let per = ops
            .iter()
            .map(|(op, n)| format!("{op} {:.4}", f64::from(*n) / count as f64))
            .collect::<Vec<_>>()
            .join(", ");
        let units = f64::from(items.get(kind).copied().unwrap_or(0));
        let (p50, p99) = percentiles(samples);
        println!(
            "{:<12} {count:>7} {:>10} {:>10} {:>12.4}   {}",
            format!("{kind:?}"),
            micros(p50),
            micros(p99),
            units / count as f64,
            if per.is_empty() {
                "none".to_owned()
            } else {
                per
            }
        );
    }
    let (p50, p99) = percentiles(&mut bare);
    println!(
        "{:<12} {:>7} {:>10} {:>10} {:>12.4}",
        "bare GetItem",
        bare.len(),
        micros(p50),
        micros(p99),
        1.0
    );
    if let Some(valid) = latencies.get_mut(&Kind::Valid) {
        let (valid_p50, _) = percentiles(valid);
        let (cached_p50, cached_p99) = percentiles(&mut token_only);
        println!(
            "valid with the owners cached: {} of them, p50 {}, p99 {}",
            token_only.len(),
            micros(cached_p50),
            micros(cached_p99)
        );
        println!(
            "p50 / bare GetItem p50: every valid authorization {:.3}, with the owners cached {:.3}",
            valid_p50.as_secs_f64() / p50.as_secs_f64(),
            cached_p50.as_secs_f64() / p50.as_secs_f64()
        );
    }

    // Ten thousand forged, well-formed tokens in a row.
    counter.take();
    let mut refused = 0;
    for i in 0..10_000 {
        if authorizer.handle(event_for(i, &forge()?)).await.is_err() {
            refused += 1;
        }
    }
    let reads: u32 = counter.take().values().sum();
    println!("forged, well-formed tokens: 10000 sent, {refused} refused, {reads} DynamoDB calls");
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
