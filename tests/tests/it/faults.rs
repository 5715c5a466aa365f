//! Faults: a slow, stalled, resetting, failing or throttling DynamoDB, put between the SDK and
//! DynamoDB Local by the harness's fault proxy. Every caller (the authorizer, an admin read,
//! an admin write, the token endpoint) answers within its bound, refuses rather than allows,
//! and leaves the table and the audit trail unchanged, or exactly as one request leaves them.
//!
//! The functions' own client settings are used (`ClientSettings::AUTHORIZER` and `ADMIN`), so
//! the waits here are the deployed ones; time bounds are asserted with a wide margin only.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration as StdDuration, Instant};

use audit::AuditWriter;
use infra::local::sdk_config_for;
use infra::stream::{StreamPoller, StreamReader};
use serde_json::json;
use shared::access::Scopes;
use shared::ids::ServiceAccountId;
use store::audit::AuditStore;
use store::client::ClientSettings;
use store::keys;
use tests::admin::{AdminWorld, Reply};
use tests::events::{ApiCall, Shape};
use tests::faults::{Fault, Rule, WRITES};
use tests::faulty::{ACCOUNTS, Faulty, account_names};
use time::Duration;

/// The four callers at once, each with how long it waited.
async fn all_four(f: &Faulty, name: &str) -> Outcomes {
    four(f, name, true).await
}

/// The four callers, one after the other (so an evenly spread share of faults falls on
/// every other call of each).
async fn in_turn(f: &Faulty, name: &str) -> Outcomes {
    four(f, name, false).await
}

async fn four(f: &Faulty, name: &str, at_once: bool) -> Outcomes {
    let timed = |started: Instant| started.elapsed();
    let authorize = async {
        let started = Instant::now();
        let answer = f.authorize(&f.client_secret).await;
        (answer, timed(started))
    };
    let read = async {
        let started = Instant::now();
        let reply = f.admin_read().await;
        (reply, timed(started))
    };
    let write = async {
        let started = Instant::now();
        let reply = f.admin_write(name).await;
        (reply, timed(started))
    };
    let oauth = async {
        let started = Instant::now();
        let reply = f.token_endpoint().await;
        (reply, timed(started))
    };
    let (authorize, read, write, oauth) = if at_once {
        tokio::join!(authorize, read, write, oauth)
    } else {
        (authorize.await, read.await, write.await, oauth.await)
    };
    Outcomes {
        authorize,
        read,
        write,
        oauth,
    }
}

struct Outcomes {
    authorize: (Result<String, String>, StdDuration),
    read: (Reply, StdDuration),
    write: (Reply, StdDuration),
    oauth: (Reply, StdDuration),
}

/// The generous ceilings of the tests: three times the documented bound (README), so a busy
/// machine never fails them, while a hang (the 90 s and more) always does.
const AUTHORIZER_CEILING: StdDuration = StdDuration::from_secs(6);
const ADMIN_CEILING: StdDuration = StdDuration::from_secs(15);

impl Outcomes {
    /// Every caller refused in its own way, in time.
    fn assert_unavailable(&self, retry_after: &str) {
        let (answer, waited) = &self.authorize;
        // Fails closed: an error (API Gateway's 500), neither an Allow nor a 401.
        match answer {
            Err(error) => assert_ne!(error, "Unauthorized"),
            Ok(effect) => panic!("the authorizer answered {effect} without its table"),
        }
        assert!(*waited < AUTHORIZER_CEILING, "authorizer waited {waited:?}");
        for (reply, waited) in [&self.read, &self.write] {
            reply.assert_problem(503, "unavailable");
            assert_eq!(reply.header("retry-after"), Some(retry_after));
            assert!(*waited < ADMIN_CEILING, "admin call waited {waited:?}");
        }
        let (reply, waited) = &self.oauth;
        assert_eq!(reply.status, 503, "{:?}", reply.body);
        assert_eq!(reply.body["error"], "temporarily_unavailable");
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("retry-after"), Some(retry_after));
        assert!(*waited < ADMIN_CEILING, "token endpoint waited {waited:?}");
    }

    fn assert_served(&self) {
        assert_eq!(self.authorize.0, Ok("Allow".to_owned()));
        assert_eq!(self.read.0.status, 200, "{:?}", self.read.0.body);
        assert_eq!(self.write.0.status, 201, "{:?}", self.write.0.body);
        assert_eq!(self.oauth.0.status, 200, "{:?}", self.oauth.0.body);
    }
}

/// Under `rule`, every caller is refused in time and nothing is written; once the fault is
/// gone, every caller is served again and the write happens once.
async fn refused_in_time_then_recovered(rule: Rule, retry_after: &str) {
    let f = Faulty::new().await;
    let before = f.world.tables.snapshot().await.unwrap();
    f.proxy().set(rule);
    all_four(&f, "during-the-fault")
        .await
        .assert_unavailable(retry_after);
    assert_eq!(f.proxy().seen().forwarded_of(&WRITES), 0);
    f.proxy().clear();
    assert_eq!(f.world.tables.snapshot().await.unwrap(), before);

    all_four(&f, "after-the-fault").await.assert_served();
    let names = account_names(&f.world).await;
    assert_eq!(names.iter().filter(|n| *n == "after-the-fault").count(), 1);
    assert!(!names.iter().any(|n| n == "during-the-fault"));
}

#[tokio::test]
async fn a_stalled_store_is_a_503_and_a_closed_authorizer_in_bounded_time() {
    refused_in_time_then_recovered(Rule::all(Fault::Stall), "2").await;
}

#[tokio::test]
async fn reset_connections_are_a_503_and_a_closed_authorizer() {
    refused_in_time_then_recovered(Rule::all(Fault::Reset), "2").await;
}

#[tokio::test]
async fn server_errors_after_the_retries_are_a_503_and_a_closed_authorizer() {
    refused_in_time_then_recovered(Rule::all(Fault::ServerError), "2").await;
}

#[tokio::test]
async fn throttling_after_the_retries_is_a_503_counted_in_the_metric() {
    let counted = store::client::throttled_attempts();
    refused_in_time_then_recovered(Rule::all(Fault::Throttle), "1").await;
    // Every caller's every attempt: at least the authorizer's three.
    assert!(store::client::throttled_attempts() >= counted + 3);
}

#[tokio::test]
async fn refused_connections_are_a_503_and_a_closed_authorizer() {
    let f = Faulty::refused().await;
    let before = f.world.tables.snapshot().await.unwrap();
    all_four(&f, "refused").await.assert_unavailable("2");
    assert_eq!(f.world.tables.snapshot().await.unwrap(), before);
}

/// `local` serves the same routers and the same authorizer with the same client settings: a
/// stalled store looks the same through it as through API Gateway and Lambda.
#[tokio::test]
async fn local_answers_a_stalled_store_as_the_deployed_functions_do() {
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use tower::ServiceExt as _;

    let f = Faulty::new().await;
    let app = local::app(f.accounts_state(), f.admin_state(), f.authorizer.clone());
    let call = |method: &str, path: &str, bearer: Option<&str>, body: Option<(&str, String)>| {
        let mut request = axum::http::Request::builder().method(method).uri(path);
        if let Some(bearer) = bearer {
            request = request.header("authorization", format!("Bearer {bearer}"));
        }
        if let Some((content_type, _)) = &body {
            request = request.header("content-type", *content_type);
        }
        let mut request = request
            .body(body.map_or_else(Body::empty, |(_, text)| Body::from(text)))
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                40_000,
            ))));
        let app = app.clone();
        async move { tests::admin::reply(app.oneshot(request).await.unwrap()).await }
    };
    let admin = f.world.acme.token.clone();
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        f.client_id, f.client_secret
    );
    let secret = Some(f.client_secret.as_str());
    assert_eq!(call("GET", "/hello", secret, None).await.status, 200);

    f.proxy().set(Rule::all(Fault::Stall));
    let started = Instant::now();
    let (hello, read, write, oauth) = tokio::join!(
        call("GET", "/hello", secret, None),
        call("GET", ACCOUNTS, Some(&admin), None),
        call(
            "POST",
            ACCOUNTS,
            Some(&admin),
            Some((
                "application/json",
                json!({"name": "paused", "roles": ["reader"]}).to_string()
            ))
        ),
        call(
            "POST",
            "/oauth2/token",
            None,
            Some(("application/x-www-form-urlencoded", form))
        ),
    );
    f.proxy().clear();
    assert!(started.elapsed() < ADMIN_CEILING);
    // API Gateway's answer when its authorizer fails.
    assert_eq!(hello.status, 500);
    assert_eq!(hello.body, json!({"message": null}));
    for reply in [&read, &write] {
        reply.assert_problem(503, "unavailable");
        assert_eq!(reply.header("retry-after"), Some("2"));
    }
    assert_eq!(oauth.status, 503);
    assert_eq!(oauth.body["error"], "temporarily_unavailable");
    assert!(!account_names(&f.world).await.iter().any(|n| n == "paused"));
    assert_eq!(call("GET", "/hello", secret, None).await.status, 200);
}

#[tokio::test]
async fn a_slow_store_and_occasional_throttling_or_resets_are_served_by_the_retries() {
    let f = Faulty::new().await;
    f.proxy()
        .set(Rule::all(Fault::Latency(StdDuration::from_millis(150))));
    all_four(&f, "slow").await.assert_served();
    let counted = store::client::throttled_attempts();
    f.proxy().set(Rule::all(Fault::Throttle).share(50));
    in_turn(&f, "throttled-half").await.assert_served();
    assert!(store::client::throttled_attempts() > counted);
    f.proxy().set(Rule::all(Fault::Reset).share(50));
    in_turn(&f, "reset-half").await.assert_served();
    assert!(f.proxy().seen().faulted_total() > 0);
    f.proxy().clear();
    let names = account_names(&f.world).await;
    for name in ["slow", "throttled-half", "reset-half"] {
        assert_eq!(names.iter().filter(|n| *n == name).count(), 1, "{name}");
    }
}

#[tokio::test]
async fn a_burst_of_authorizations_against_a_stalled_store_never_allows() {
    let f = Faulty::new().await;
    let mut tokens = Vec::new();
    for _ in 0..20 {
        tokens.push(
            f.world
                .mint(&f.world.acme.org, &f.client_id, Scopes::default())
                .await,
        );
    }
    // Each token is confirmed once before the stall: its records are not kept, so nothing
    // the store cannot confirm now is allowed.
    assert_eq!(f.authorize(&tokens[0]).await, Ok("Allow".to_owned()));
    f.proxy().set(Rule::all(Fault::Stall));
    let answers =
        futures_util::future::join_all((0..200).map(|i| f.authorize(&tokens[i % tokens.len()])))
            .await;
    f.proxy().clear();
    for answer in &answers {
        match answer {
            Err(error) => assert_ne!(error, "Unauthorized"),
            Ok(effect) => panic!("answered {effect} with a stalled store"),
        }
    }
    assert_eq!(f.authorize(&tokens[1]).await, Ok("Allow".to_owned()));
}

#[tokio::test]
async fn concurrent_rotations_of_one_token_are_one_success_and_conflicts_never_a_500() {
    let f = Faulty::new().await;
    let (account, token_ids) = account_with_tokens(&f, 1).await;
    let token_id = &token_ids[0];
    let path = format!("{ACCOUNTS}/{account}/tokens/{token_id}/rotate");
    let rotate = || {
        f.tokens(
            ApiCall::new(Shape::HttpV2, "POST", &path)
                .bearer(&f.world.acme.token)
                .json(json!({})),
        )
    };
    let replies = futures_util::future::join_all((0..6).map(|_| rotate())).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    for reply in replies.iter().filter(|r| r.status != 201) {
        reply.assert_problem(409, "conflict");
    }
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_retried_into_one_change_not_a_conflict() {
    let f = Faulty::new().await;
    // DynamoDB applies each write; its answer never comes back; the SDK retries it.
    let lose_one = |operation: &'static str| Rule::on(Fault::LoseAnswer, &[operation]).times(1);
    f.proxy().set(lose_one("PutItem"));
    let created = f.admin_write("answer-lost").await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let item = format!("{ACCOUNTS}/{id}");

    f.proxy().set(lose_one("PutItem"));
    let patched = f
        .accounts(
            ApiCall::new(Shape::HttpV2, "PATCH", &item)
                .bearer(&f.world.acme.token)
                .header("if-match", "\"1\"")
                .json(json!({"description": "renamed once"})),
        )
        .await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.header("etag"), Some("\"2\""));

    f.proxy().set(lose_one("PutItem"));
    let minted = f
        .tokens(
            ApiCall::new(Shape::HttpV2, "POST", &format!("{item}/tokens"))
                .bearer(&f.world.acme.token)
                .json(json!({"name": "once"})),
        )
        .await;
    assert_eq!(minted.status, 201, "{:?}", minted.body);
    let token_id = minted.body["id"].as_str().unwrap().to_owned();

    f.proxy().set(lose_one("TransactWriteItems"));
    let rotated = f
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "POST",
                &format!("{item}/tokens/{token_id}/rotate"),
            )
            .bearer(&f.world.acme.token)
            .json(json!({})),
        )
        .await;
    assert_eq!(rotated.status, 201, "{:?}", rotated.body);
    assert_eq!(f.proxy().seen().faulted_total(), 4);
    f.proxy().clear();

    let names = account_names(&f.world).await;
    assert_eq!(names.iter().filter(|n| *n == "answer-lost").count(), 1);
    let events = audit_actions(&f.world).await;
    assert_eq!(count(&events, "service_account.created", &id), 1);
    assert_eq!(count(&events, "service_account.updated", &id), 1);
    assert_eq!(count(&events, "token.created", &token_id), 1);
    assert_eq!(count(&events, "token.rotated", &token_id), 1);
}

// ---- use cases interrupted between their writes, then repeated ----

/// An account with `n` tokens, made through the API (so the audit trail has them).
async fn account_with_tokens(f: &Faulty, n: usize) -> (ServiceAccountId, Vec<String>) {
    let created = f.admin_write("doomed").await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = ServiceAccountId::parse(created.body["id"].as_str().unwrap()).unwrap();
    let mut token_ids = Vec::new();
    for i in 0..n {
        let minted = f
            .tokens(
                ApiCall::new(Shape::HttpV2, "POST", &format!("{ACCOUNTS}/{id}/tokens"))
                    .bearer(&f.world.acme.token)
                    .json(json!({"name": format!("t{i}")})),
            )
            .await;
        assert_eq!(minted.status, 201, "{:?}", minted.body);
        token_ids.push(minted.body["id"].as_str().unwrap().to_owned());
    }
    (id, token_ids)
}

#[tokio::test]
async fn a_delete_killed_between_its_writes_is_finished_by_repeating_it() {
    let f = Faulty::new().await;
    let (id, token_ids) = account_with_tokens(&f, 5).await;
    let delete = || {
        f.accounts(
            ApiCall::new(Shape::HttpV2, "DELETE", &format!("{ACCOUNTS}/{id}"))
                .bearer(&f.world.acme.token),
        )
    };
    // The tombstone and two revocations land; the next writes hang, and the request is
    // dropped there, as a function killed at its timeout.
    f.proxy().set(Rule::on(Fault::Stall, &WRITES).after(3));
    let killed = tokio::time::timeout(StdDuration::from_millis(1_500), delete()).await;
    assert!(killed.is_err(), "the request was still running");
    f.proxy().clear();
    assert_eq!(revoked(&f.world, &id, &token_ids).await, 2);

    assert_eq!(delete().await.status, 204);
    assert_eq!(revoked(&f.world, &id, &token_ids).await, 5);
    delete().await.assert_problem(404, "not-found");
    let events = audit_actions(&f.world).await;
    assert_eq!(count(&events, "service_account.deleted", id.as_str()), 1);
    for token in &token_ids {
        assert_eq!(count(&events, "token.revoked", token), 1, "{token}");
    }
}

#[tokio::test]
async fn a_disable_with_revocation_cut_by_resets_is_finished_by_repeating_it() {
    let f = Faulty::new().await;
    let (id, token_ids) = account_with_tokens(&f, 4).await;
    let disable = || {
        f.accounts(
            ApiCall::new(Shape::HttpV2, "POST", &format!("{ACCOUNTS}/{id}/disable"))
                .bearer(&f.world.acme.token)
                .json(json!({"revokeTokens": true})),
        )
    };
    f.proxy().set(Rule::on(Fault::Reset, &WRITES).after(2));
    disable().await.assert_problem(503, "unavailable");
    f.proxy().clear();
    assert_eq!(revoked(&f.world, &id, &token_ids).await, 1);
    let done = disable().await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["status"], "DISABLED");
    assert_eq!(revoked(&f.world, &id, &token_ids).await, 4);
    let events = audit_actions(&f.world).await;
    assert_eq!(count(&events, "service_account.disabled", id.as_str()), 1);
    for token in &token_ids {
        assert_eq!(count(&events, "token.revoked", token), 1, "{token}");
    }
}

#[tokio::test]
async fn a_revoke_all_cut_by_a_failing_store_is_finished_by_repeating_it() {
    let f = Faulty::new().await;
    let (id, token_ids) = account_with_tokens(&f, 6).await;
    let revoke_all = || {
        f.tokens(
            ApiCall::new(Shape::HttpV2, "DELETE", &format!("{ACCOUNTS}/{id}/tokens"))
                .bearer(&f.world.acme.token),
        )
    };
    f.proxy()
        .set(Rule::on(Fault::ServerError, &["UpdateItem", "PutItem"]).after(3));
    revoke_all().await.assert_problem(503, "unavailable");
    f.proxy().clear();
    assert_eq!(revoked(&f.world, &id, &token_ids).await, 3);
    let done = revoke_all().await;
    assert!(done.status < 300, "{:?}", done.body);
    assert_eq!(revoked(&f.world, &id, &token_ids).await, 6);
    let events = audit_actions(&f.world).await;
    for token in &token_ids {
        assert_eq!(count(&events, "token.revoked", token), 1, "{token}");
    }
}

// ---- the stream path ----

#[tokio::test]
async fn audit_writes_failing_half_the_time_are_retried_into_exactly_one_event_each() {
    let f = Faulty::new().await;
    let (_, token_ids) = account_with_tokens(&f, 8).await;
    // One attempt per call, so the failures reach the writer and the poller's redelivery.
    let once = ClientSettings {
        max_attempts: 1,
        ..ClientSettings::BACKGROUND
    };
    let config = sdk_config_for(f.proxy().endpoint(), &once).await;
    let audit_table = shared::config::TableName::parse(&f.world.tables.audit_table).unwrap();
    let client = f.world.iam.dynamodb(
        &store::client::dynamodb_from(&config),
        tests::iam::Function::Audit,
    );
    let writer = AuditWriter::new(AuditStore::new(client, &audit_table), Duration::days(400));
    let direct = sdk_config_for(&f.world.tables.endpoint, &ClientSettings::BACKGROUND).await;
    let reader = StreamReader::open(&direct, f.world.tables.table.as_str())
        .await
        .unwrap();
    let mut poller = StreamPoller::new(reader, writer);
    poller.batch_size = 4;
    poller.max_retries = 20;
    f.proxy()
        .set(Rule::on(Fault::ServerError, &["PutItem"]).share_at_random(30, 7));
    let records = poller.poll_once().await.unwrap();
    f.proxy().clear();
    assert!(f.proxy().seen().faulted["PutItem"] > 0);
    // Bootstrap (3), the writer's account and token (2), the account and its 8 tokens; and
    // the admin token's first use (on its token and its account), which is no event.
    let items = f.world.tables.scan_audit().await.unwrap();
    assert_eq!(items.len(), records - 2, "one event per change");
    let events = audit_actions(&f.world).await;
    assert_eq!(
        events.len(),
        records - 2,
        "nothing added when written again"
    );
    for token in &token_ids {
        assert_eq!(count(&events, "token.created", token), 1, "{token}");
    }
}

#[tokio::test]
async fn a_follower_killed_mid_batch_is_resumed_by_the_next_without_loss_or_duplicates() {
    let f = Faulty::new().await;
    account_with_tokens(&f, 5).await;
    let direct = sdk_config_for(&f.world.tables.endpoint, &ClientSettings::BACKGROUND).await;
    let proxied = sdk_config_for(f.proxy().endpoint(), &ClientSettings::BACKGROUND).await;
    let audit_table = shared::config::TableName::parse(&f.world.tables.audit_table).unwrap();
    let follower = |config: aws_config::SdkConfig| {
        let audit_table = audit_table.clone();
        let direct = direct.clone();
        let table = f.world.tables.table.clone();
        let iam = f.world.iam.clone();
        async move {
            let reader = StreamReader::open(&direct, table.as_str()).await.unwrap();
            let client = iam.dynamodb(
                &store::client::dynamodb_from(&config),
                tests::iam::Function::Audit,
            );
            let writer =
                AuditWriter::new(AuditStore::new(client, &audit_table), Duration::days(400));
            StreamPoller::new(reader, writer)
        }
    };
    // The first follower writes four events, then stalls and is killed.
    let mut first = follower(proxied).await;
    f.proxy().set(Rule::on(Fault::Stall, &["PutItem"]).after(4));
    let killed = tokio::time::timeout(StdDuration::from_millis(1_500), first.poll_once()).await;
    assert!(killed.is_err());
    drop(first);
    f.proxy().clear();
    assert_eq!(f.world.tables.scan_audit().await.unwrap().len(), 4);
    // More changes while no follower runs.
    account_with_tokens(&f, 2).await;
    // The next follower (as `local` restarted) reads the stream from where it is kept.
    let mut second = follower(direct.clone()).await;
    let records = second.poll_once().await.unwrap();
    let items = f.world.tables.scan_audit().await.unwrap();
    // Every record but the admin token's first use (its token and account): no event.
    assert_eq!(items.len(), records - 2);
    assert_eq!(second.poll_once().await.unwrap(), 0);
}

// ---- helpers ----

/// How many of `token_ids` (of account `id`) are revoked.
async fn revoked(world: &AdminWorld, id: &ServiceAccountId, token_ids: &[String]) -> usize {
    let pk = keys::org_pk(&world.acme.org);
    let mut revoked = 0;
    for token in token_ids {
        let sk = keys::token_sk(
            &shared::token::TokenOwner::Account(id.clone()),
            &shared::ids::TokenId::parse(token).unwrap(),
        );
        let item = world.tables.raw_item(&pk, &sk).await.unwrap().unwrap();
        if item.contains_key("revokedAt") {
            revoked += 1;
        }
    }
    revoked
}

/// Every audit event of the world's table as (action, target id), after the real writer
/// took the whole stream (again: writing is idempotent by the record's event id).
async fn audit_actions(world: &AdminWorld) -> Vec<(String, String)> {
    tests::faulty::audit_events(world)
        .await
        .unwrap()
        .into_iter()
        .map(|event| {
            (
                event["action"].as_str().unwrap().to_owned(),
                event["target"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn count(events: &[(String, String)], action: &str, target: &str) -> usize {
    events
        .iter()
        .filter(|(a, t)| a == action && t == target)
        .count()
}
