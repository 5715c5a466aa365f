//! Leak response: GitHub's secret-scanning reports, signed in the test with a P-256 key of its
//! own that a local key endpoint publishes in GitHub's format, revoke the live tokens they
//! name (the authorizer then refuses them) and tell the organization where they leaked
//! (`token.leaked`, then `token.revoked`); every bad report changes nothing; the public
//! revocation endpoint revokes whatever it is given that is ours, answers alike for anything
//! else, and throttles each address.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use admin_api::AdminState;
use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use oidc::fetch::Fetcher;
use oidc::secret_scanning::ReportKeys;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use rand::TryRng;
use rand::rngs::SysRng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::token::{ParsedToken, TokenOwner};
use tests::admin::{AdminWorld, Reply};
use tests::events::{ApiCall, Shape};
use usecases::PublicRevocationLimit;

const REPORTS: &str = "/v1/secret-scanning/github";
const PUBLIC: &str = "/v1/tokens/revoke";

fn signing_key() -> SigningKey {
    let mut bytes = [0u8; 32];
    SysRng.try_fill_bytes(&mut bytes).unwrap();
    SigningKey::from_slice(&bytes).unwrap()
}

/// A key endpoint in GitHub's format, publishing `keys` by id, counting its fetches. Like
/// GitHub's API, it refuses a request without a `User-Agent`.
struct KeyEndpoint {
    url: String,
    fetches: Arc<AtomicUsize>,
    /// While set, it answers 503.
    failing: Arc<AtomicBool>,
}

impl KeyEndpoint {
    async fn start(keys: &[(&str, &SigningKey)]) -> Self {
        let keys: Vec<(&str, &SigningKey, bool)> =
            keys.iter().map(|(id, key)| (*id, *key, true)).collect();
        Self::start_marked(&keys).await
    }

    /// Publishes each key with its `is_current` mark, as GitHub's document does.
    async fn start_marked(keys: &[(&str, &SigningKey, bool)]) -> Self {
        let published: Vec<Value> = keys
            .iter()
            .map(|(id, key, current)| {
                json!({
                    "key_identifier": id,
                    "key": key.verifying_key().to_public_key_pem(LineEnding::LF).unwrap(),
                    "is_current": current,
                })
            })
            .collect();
        let document = json!({"public_keys": published}).to_string();
        let fetches = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let counter = fetches.clone();
        let fails = failing.clone();
        let app = Router::new().route(
            "/meta/public_keys/secret_scanning",
            get(move |headers: axum::http::HeaderMap| {
                let document = document.clone();
                counter.fetch_add(1, Ordering::SeqCst);
                let fails = fails.load(Ordering::SeqCst);
                async move {
                    if fails {
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
                    }
                    if headers.get("user-agent").is_none() {
                        return (axum::http::StatusCode::FORBIDDEN, String::new()).into_response();
                    }
                    ([("content-type", "application/json")], document).into_response()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{address}/meta/public_keys/secret_scanning"),
            fetches,
            failing,
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// A deployment whose tokens function checks reports against `keys_url`, one state for the
/// whole test (so its key cache is kept, as a warm container's).
struct Scanning {
    world: AdminWorld,
    state: AdminState,
    key: SigningKey,
    keys: KeyEndpoint,
}

impl Scanning {
    async fn new() -> Self {
        let world = AdminWorld::new().await;
        let key = signing_key();
        let keys = KeyEndpoint::start(&[("github-key-1", &key)]).await;
        let state = state_with_keys(&world, &keys.url);
        Self {
            world,
            state,
            key,
            keys,
        }
    }

    async fn post(&self, call: ApiCall) -> Reply {
        self.world
            .call(tokens::router(self.state.clone()), call)
            .await
    }

    /// `body` sent as GitHub sends it: signed by `key` under `key_id`.
    async fn report_signed(&self, body: &str, key_id: &str, key: &SigningKey) -> Reply {
        self.post(report(body, key_id, &sign(key, body.as_bytes())))
            .await
    }

    async fn report(&self, body: &str) -> Reply {
        self.report_signed(body, "github-key-1", &self.key).await
    }

    /// A new live token of the bootstrap admin's account, minted through the API.
    async fn mint(&self, name: &str) -> (String, String) {
        mint(&self.world, self.world.acme.account.as_ref(), name).await
    }

    /// The main table, without the rate limits' counters.
    async fn records(&self) -> Vec<String> {
        records(&self.world).await
    }
}

/// The state of a run on this machine (the key endpoint is plain http on loopback).
fn state_with_keys(world: &AdminWorld, url: &str) -> AdminState {
    let keys = ReportKeys::new(
        Fetcher::new(StdDuration::from_secs(2)).allowing_local(),
        url,
        StdDuration::from_secs(60),
    )
    .unwrap();
    AdminState::with_report_keys(
        world.use_cases_as(tests::iam::Function::Tokens),
        world.identity.clone(),
        keys,
    )
}

async fn records(world: &AdminWorld) -> Vec<String> {
    world
        .tables
        .snapshot()
        .await
        .unwrap()
        .into_iter()
        .filter(|item| !item.contains("\"RATE#"))
        .collect()
}

async fn mint(world: &AdminWorld, account: &str, name: &str) -> (String, String) {
    let minted = world
        .tokens(
            ApiCall::new(
                Shape::RestV1,
                "POST",
                &format!("/v1/orgs/acme/service-accounts/{account}/tokens"),
            )
            .bearer(&world.acme.token)
            .json(json!({"name": name})),
        )
        .await;
    assert_eq!(minted.status, 201, "{}", minted.body);
    (
        minted.body["token"].as_str().unwrap().to_owned(),
        minted.body["id"].as_str().unwrap().to_owned(),
    )
}

fn sign(key: &SigningKey, body: &[u8]) -> String {
    let signature: Signature = key.sign(body);
    STANDARD.encode(signature.to_der().as_bytes())
}

fn report(body: &str, key_id: &str, signature: &str) -> ApiCall {
    ApiCall::new(Shape::RestV1, "POST", REPORTS)
        .source_ip("192.30.252.10")
        .header("Github-Public-Key-Identifier", key_id)
        .header("Github-Public-Key-Signature", signature)
        .raw_body(body, Some("application/json"))
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A token of this deployment's format, checksum and tag, for `acme`, never stored.
fn unknown_token(world: &AdminWorld) -> String {
    ParsedToken::generate(
        &world.context.token_format,
        &world.acme.org,
        TokenOwner::Account(world.acme.account.clone()),
    )
    .unwrap()
    .secret()
    .expose_secret()
    .to_owned()
}

async fn audit_of(world: &AdminWorld, token_id: &str) -> Vec<Value> {
    let mut events: Vec<Value> = tests::faulty::audit_events(world)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event["target"]["id"] == token_id)
        .collect();
    // Stable: events of the same instant keep the trail's (stream) order.
    let time = |event: &Value| {
        time::OffsetDateTime::parse(
            event["time"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    events.sort_by_key(time);
    events
}

#[tokio::test]
async fn a_signed_report_revokes_a_live_token_and_the_trail_says_where() {
    let logs = tests::logs::CapturedLogs::global();
    let scan = Scanning::new().await;
    let world = &scan.world;
    let (leaked, leaked_id) = scan.mint("leaky").await;
    let (kept, _) = scan.mint("kept").await;
    assert!(world.passes_the_authorizer(&leaked).await);
    let unknown = unknown_token(world);
    let url = format!("https://github.com/octo-org/app/blob/0a1b2c/.env?t={leaked}");
    let body = json!([
        {"token": leaked, "type": "service_accounts_token", "url": url, "source": "content"},
        {"token": unknown, "type": "service_accounts_token", "url": "https://github.com/x/y", "source": "commit"},
        {"token": "ghp_notours0000000000000000000000000000", "type": "service_accounts_token", "url": "https://github.com/x/z", "source": "content"},
        {"token": "sat_garbage", "type": "service_accounts_token", "source": "npm"},
    ])
    .to_string();

    let answer = scan.report(&body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!([
            {"token_hash": sha256(&leaked), "token_type": "service_accounts_token", "label": "true_positive"},
            {"token_hash": sha256(&unknown), "token_type": "service_accounts_token", "label": "false_positive"},
            {"token_hash": sha256("ghp_notours0000000000000000000000000000"), "token_type": "service_accounts_token", "label": "false_positive"},
            {"token_hash": sha256("sat_garbage"), "token_type": "service_accounts_token", "label": "false_positive"},
        ])
    );
    assert!(!answer.body.to_string().contains(&leaked));
    // The very next request with it is refused; the other token is untouched.
    assert!(!world.passes_the_authorizer(&leaked).await);
    assert!(world.passes_the_authorizer(&kept).await);

    // The token says where it leaked, the token's own text cut out of the URL.
    let read = world
        .tokens(
            ApiCall::new(
                Shape::RestV1,
                "GET",
                &format!(
                    "/v1/orgs/acme/service-accounts/{}/tokens/{leaked_id}",
                    world.acme.account
                ),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["status"], "revoked");
    assert_eq!(read.body["revokedBy"]["kind"], "secret_scanning");
    assert_eq!(read.body["revokedBy"]["id"], "github");
    assert_eq!(
        read.body["leak"]["url"],
        "https://github.com/octo-org/app/blob/0a1b2c/.env?t=[token]"
    );
    assert_eq!(read.body["leak"]["source"], "content");

    // The trail: token.leaked with where, then token.revoked, both by GitHub's scanning.
    let events = audit_of(world, &leaked_id).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["token.created", "token.leaked", "token.revoked"],
        "{events:#?}"
    );
    let leak = &events[1];
    assert_eq!(leak["actor"]["kind"], "secret_scanning");
    assert_eq!(leak["actor"]["id"], "github");
    assert_eq!(leak["actor"]["sourceIp"], "192.30.252.10");
    assert_eq!(
        leak["changes"]["leak"]["new"]["url"],
        "https://github.com/octo-org/app/blob/0a1b2c/.env?t=[token]"
    );
    assert_eq!(leak["changes"]["leak"]["new"]["source"], "content");
    assert_eq!(events[2]["actor"]["kind"], "secret_scanning");
    let trail = tests::faulty::audit_events(world).await.unwrap();
    assert!(!serde_json::to_string(&trail).unwrap().contains(&leaked));
    let mut stored = Vec::new();
    for item in world.tables.scan().await.unwrap() {
        for value in item.values() {
            tests::strings_in(value, &mut stored);
        }
    }
    assert!(stored.iter().all(|text| !text.contains(&leaked)));

    // The audit API filters on it.
    let filtered = world
        .accounts(
            ApiCall::new(Shape::RestV1, "GET", "/v1/orgs/acme/audit-events")
                .query("action", "token.leaked")
                .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(filtered.status, 200, "{}", filtered.body);
    let items = filtered.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", filtered.body);
    assert_eq!(items[0]["target"]["id"], leaked_id.as_str());

    // Reported again (GitHub retries, or finds it elsewhere): still ours, nothing written.
    let before = world.tables.snapshot().await.unwrap();
    let again = scan
        .report(
            &json!([{"token": leaked, "type": "service_accounts_token", "url": "https://gist.github.com/x", "source": "gist"}])
                .to_string(),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body[0]["label"], "true_positive");
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
    assert_eq!(scan.keys.fetches(), 1, "the keys are fetched once and kept");

    // The logs name the token by its display prefix, never by its text.
    let logged = logs.text();
    assert!(logged.contains(&read.body["displayPrefix"].as_str().unwrap().to_owned()));
    assert!(!logged.contains(&leaked[leaked.rfind('_').unwrap() + 1..]));
}

#[tokio::test]
async fn a_report_cut_short_is_finished_by_its_retry_down_the_lineage() {
    let scan = Scanning::new().await;
    let world = &scan.world;
    let (old, old_id) = scan.mint("rotating").await;
    // Rotated with a day's grace: the old token still works, beside its successor.
    let rotated = world
        .tokens(
            ApiCall::new(
                Shape::RestV1,
                "POST",
                &format!(
                    "/v1/orgs/acme/service-accounts/{}/tokens/{old_id}/rotate",
                    world.acme.account
                ),
            )
            .bearer(&world.acme.token)
            .json(json!({"gracePeriodSeconds": 86400})),
        )
        .await;
    assert_eq!(rotated.status, 201, "{}", rotated.body);
    let successor = rotated.body["token"].as_str().unwrap().to_owned();
    assert!(world.works(&old).await && world.works(&successor).await);

    // A first report that recorded the leak and revoked the old token, then died before the
    // rest of the lineage.
    let parsed = ParsedToken::parse(
        &world.context.token_format,
        shared::token::TokenSecret::new(old.clone()),
    )
    .unwrap();
    let mut token = world
        .context
        .store
        .get_token(parsed.org(), parsed.owner(), parsed.id())
        .await
        .unwrap()
        .unwrap();
    let reporter = shared::model::Actor::secret_scanning("github");
    token.leak = Some(Box::new(shared::model::Leak {
        reported_at: world.clock_now(),
        reported_by: reporter.clone(),
        source: Some("content".into()),
        url: None,
    }));
    token.revoke(reporter, world.clock_now(), time::Duration::days(30));
    world.context.store.update_token(&token).await.unwrap();
    // (Not presented: a token rotated away and presented past its grace is a reuse, which
    // would finish the sweep itself.)
    assert!(
        world.works(&successor).await,
        "the cut-short report left it live"
    );

    // GitHub's retry finishes it: the successor the leaked token rotated into is revoked.
    let body =
        json!([{"token": old, "type": "service_accounts_token", "source": "content"}]).to_string();
    let answer = scan.report(&body).await;
    assert_eq!(answer.body[0]["label"], "true_positive", "{}", answer.body);
    assert!(!world.works(&successor).await);
    // And a further retry writes nothing.
    let before = world.tables.snapshot().await.unwrap();
    assert_eq!(scan.report(&body).await.status, 200);
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn bad_reports_change_nothing() {
    let scan = Scanning::new().await;
    let (live, _) = scan.mint("live").await;
    let body = json!([{"token": live, "type": "service_accounts_token", "url": "https://github.com/a/b", "source": "content"}]).to_string();
    let other_body = json!([{"token": "sat_other", "type": "service_accounts_token"}]).to_string();
    let stranger = signing_key();
    let before = scan.records().await;

    let mut cases: Vec<(&str, ApiCall, u16, &str)> = vec![
        (
            "no signature",
            ApiCall::new(Shape::RestV1, "POST", REPORTS).raw_body(&body, Some("application/json")),
            401,
            "invalid-signature",
        ),
        (
            "a signature that is not base64 DER",
            report(&body, "github-key-1", "bm90IGEgc2lnbmF0dXJl"),
            401,
            "invalid-signature",
        ),
        (
            "the body replayed with another body's signature",
            report(
                &body,
                "github-key-1",
                &sign(&scan.key, other_body.as_bytes()),
            ),
            401,
            "invalid-signature",
        ),
        (
            "signed by another key under GitHub's key id",
            report(&body, "github-key-1", &sign(&stranger, body.as_bytes())),
            401,
            "invalid-signature",
        ),
        (
            "an unknown key id",
            report(&body, "made-up-key", &sign(&stranger, body.as_bytes())),
            401,
            "invalid-signature",
        ),
        (
            "a body tampered with after signing",
            report(
                &body.replace("github.com/a/b", "github.com/a/c"),
                "github-key-1",
                &sign(&scan.key, body.as_bytes()),
            ),
            401,
            "invalid-signature",
        ),
    ];
    // Well signed, but not a report.
    for (name, bad) in [
        ("an object", json!({"token": live, "type": "t"}).to_string()),
        ("a string", json!(live).to_string()),
        (
            "entries without a token",
            json!([{"type": "t"}]).to_string(),
        ),
        ("not JSON", format!("[{live}")),
    ] {
        cases.push((
            name,
            report(&bad, "github-key-1", &sign(&scan.key, bad.as_bytes())),
            400,
            "malformed-body",
        ));
    }
    let oversized =
        json!([{"token": live, "type": "t", "url": "x".repeat(600 * 1024)}]).to_string();
    cases.push((
        "an oversized body",
        report(
            &oversized,
            "github-key-1",
            &sign(&scan.key, oversized.as_bytes()),
        ),
        413,
        "payload-too-large",
    ));
    let too_many = Value::Array(vec![json!({"token": "sat_x", "type": "t"}); 1001]).to_string();
    cases.push((
        "more than 1000 reports",
        report(
            &too_many,
            "github-key-1",
            &sign(&scan.key, too_many.as_bytes()),
        ),
        422,
        "validation",
    ));
    cases.push((
        "not JSON by its content type",
        ApiCall::new(Shape::RestV1, "POST", REPORTS)
            .header("Github-Public-Key-Identifier", "github-key-1")
            .header(
                "Github-Public-Key-Signature",
                &sign(&scan.key, body.as_bytes()),
            )
            .raw_body(&body, Some("text/plain")),
        415,
        "unsupported-media-type",
    ));

    for (name, call, status, kind) in cases {
        let answer = scan.post(call).await;
        answer.assert_problem(status, kind);
        assert!(
            !answer.body.to_string().contains(&live),
            "{name}: the answer quotes the token"
        );
        assert_eq!(scan.records().await, before, "{name} changed the table");
        assert!(scan.world.works(&live).await, "{name} revoked the token");
    }
    // One fetch for the first key id looked up; made-up ones after it cost none.
    assert_eq!(scan.keys.fetches(), 1);
    for n in 0..5 {
        let answer = scan
            .report_signed(&body, &format!("made-up-{n}"), &stranger)
            .await;
        answer.assert_problem(401, "invalid-signature");
    }
    assert_eq!(
        scan.keys.fetches(),
        1,
        "unknown key ids refetch at most once a minute"
    );

    // Keys that cannot be had: 503, so GitHub retries; nothing changed.
    let unreachable = state_with_keys(&scan.world, "http://127.0.0.1:9/keys");
    let answer = scan
        .world
        .call(
            tokens::router(unreachable),
            report(&body, "github-key-1", &sign(&scan.key, body.as_bytes())),
        )
        .await;
    answer.assert_problem(503, "signer-unavailable");
    assert!(answer.header("retry-after").is_some());
    assert_eq!(scan.records().await, before);

    // And the same report, well signed, does revoke it.
    let answer = scan.report(&body).await;
    assert_eq!(answer.body[0]["label"], "true_positive", "{}", answer.body);
    assert!(!scan.world.works(&live).await);
}

#[tokio::test]
async fn a_report_signed_with_a_key_github_retired_is_refused() {
    let world = AdminWorld::new().await;
    let retired = signing_key();
    let current = signing_key();
    let keys = KeyEndpoint::start_marked(&[
        ("github-key-old", &retired, false),
        ("github-key-new", &current, true),
    ])
    .await;
    let state = state_with_keys(&world, &keys.url);
    let (live, _) = mint(&world, world.acme.account.as_ref(), "live").await;
    let body = json!([{"token": live, "type": "service_accounts_token", "url": "https://github.com/a/b", "source": "content"}]).to_string();
    let before = records(&world).await;

    // GitHub signs with its current key only: a report under a retired one is refused, as
    // PyPI's partner endpoint refuses it, and changes nothing.
    let answer = world
        .call(
            tokens::router(state.clone()),
            report(&body, "github-key-old", &sign(&retired, body.as_bytes())),
        )
        .await;
    answer.assert_problem(401, "invalid-signature");
    assert_eq!(records(&world).await, before);
    assert!(world.works(&live).await);

    let answer = world
        .call(
            tokens::router(state),
            report(&body, "github-key-new", &sign(&current, body.as_bytes())),
        )
        .await;
    assert_eq!(answer.body[0]["label"], "true_positive", "{}", answer.body);
    assert!(!world.works(&live).await);
    assert_eq!(keys.fetches(), 1);
}

#[tokio::test]
async fn githubs_keys_in_hand_outlive_their_age_by_a_short_grace_only_while_github_fails() {
    let world = AdminWorld::new().await;
    let key = signing_key();
    let keys = KeyEndpoint::start(&[("github-key-1", &key)]).await;
    let report_keys = ReportKeys::new(
        Fetcher::new(StdDuration::from_secs(2)).allowing_local(),
        &keys.url,
        StdDuration::from_millis(100),
    )
    .unwrap()
    .with_ages(StdDuration::from_secs(1), StdDuration::from_secs(2));
    let state =
        AdminState::with_report_keys(world.context.clone(), world.identity.clone(), report_keys);
    let signed = |body: &str| report(body, "github-key-1", &sign(&key, body.as_bytes()));
    let nothing = json!([{"token": "sat_nothing", "type": "t"}]).to_string();
    let post = |call: ApiCall| world.call(tokens::router(state.clone()), call);

    assert_eq!(post(signed(&nothing)).await.status, 200);
    // Older than its age, and GitHub fails: the set in hand serves, for the grace.
    keys.failing.store(true, Ordering::SeqCst);
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    assert_eq!(post(signed(&nothing)).await.status, 200);
    assert_eq!(keys.fetches(), 2);
    // Past the grace: 503 (GitHub retries), until GitHub answers again.
    tokio::time::sleep(StdDuration::from_millis(2000)).await;
    post(signed(&nothing))
        .await
        .assert_problem(503, "signer-unavailable");
    keys.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(StdDuration::from_millis(150)).await;
    assert_eq!(post(signed(&nothing)).await.status, 200);
}

#[tokio::test]
async fn githubs_keys_are_fetched_over_plain_http_only_on_a_local_run() {
    let key = signing_key();
    let keys = KeyEndpoint::start(&[("github-key-1", &key)]).await;
    // As deployed: refused at start, so a misconfigured URL is an error, not a fetch.
    let deployed = ReportKeys::new(
        Fetcher::new(StdDuration::from_secs(2)),
        &keys.url,
        StdDuration::from_secs(60),
    );
    assert!(deployed.is_err());
    let world = AdminWorld::new().await;
    let lookup = |allow: bool| {
        let url = keys.url.clone();
        move |name: &str| match name {
            "GITHUB_SECRET_SCANNING_KEYS_URL" => Some(url.clone()),
            "ALLOW_LOCAL_ISSUERS" if allow => Some("true".to_owned()),
            _ => None,
        }
    };
    let use_cases = || {
        usecases::UseCases::from_lookup(
            world.tables.store.clone(),
            tests::test_token_format(),
            |_| None,
        )
        .unwrap()
    };
    let refused = AdminState::from_lookup(use_cases(), lookup(false));
    let Err(error) = refused else {
        panic!("a plain http keys URL was accepted as deployed");
    };
    assert_eq!(error.variable, "GITHUB_SECRET_SCANNING_KEYS_URL");
    // On a local run (`ALLOW_LOCAL_ISSUERS=true`), it is.
    assert!(AdminState::from_lookup(use_cases(), lookup(true)).is_ok());
    assert_eq!(keys.fetches(), 0);
}

#[tokio::test]
async fn the_public_endpoint_revokes_answers_alike_and_throttles() {
    let mut world = AdminWorld::new().await;
    world.context.public_revocation = PublicRevocationLimit {
        limit: 4,
        window: time::Duration::hours(1),
    };
    let public = |tokens: Value, ip: &str| {
        ApiCall::new(Shape::RestV1, "POST", PUBLIC)
            .source_ip(ip)
            .json(json!({ "tokens": tokens }))
    };
    let (live, live_id) = mint(&world, world.acme.account.as_ref(), "pasted").await;

    // A disabled account's token is revoked too (enabling the account does not bring it back).
    let created = world
        .accounts(
            ApiCall::new(Shape::RestV1, "POST", "/v1/orgs/acme/service-accounts")
                .bearer(&world.acme.token)
                .json(json!({"name": "dormant", "roles": ["reader"]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let dormant = created.body["id"].as_str().unwrap().to_owned();
    let (dormant_token, _) = mint(&world, &dormant, "dormant").await;
    let path = format!("/v1/orgs/acme/service-accounts/{dormant}");
    for action in ["disable", "enable"] {
        if action == "enable" {
            let answer = world
                .tokens(public(json!([dormant_token]), "198.51.100.7"))
                .await;
            assert_eq!(answer.status, 202, "{}", answer.body);
        }
        let answer = world
            .accounts(
                ApiCall::new(Shape::RestV1, "POST", &format!("{path}/{action}"))
                    .bearer(&world.acme.token),
            )
            .await;
        assert_eq!(answer.status, 200, "{action}: {}", answer.body);
    }
    assert!(!world.works(&dormant_token).await);

    // Unknown, foreign and malformed tokens: the same answer, and nothing but the counter.
    let before = records(&world).await;
    let unknown = world
        .tokens(public(
            json!([unknown_token(&world), "ghp_x", "sat_garbage", ""]),
            "198.51.100.7",
        ))
        .await;
    assert_eq!(unknown.status, 202, "{}", unknown.body);
    assert_eq!(records(&world).await, before);

    let revoked = world.tokens(public(json!([live]), "198.51.100.7")).await;
    assert_eq!(revoked.status, 202);
    assert_eq!(revoked.body, unknown.body, "the answer tells nothing");
    assert!(!world.works(&live).await);
    let events = audit_of(&world, &live_id).await;
    let leak = events
        .iter()
        .find(|event| event["action"] == "token.leaked")
        .expect("token.leaked");
    assert_eq!(leak["actor"]["kind"], "secret_scanning");
    assert_eq!(leak["actor"]["id"], "public");
    assert_eq!(leak["actor"]["sourceIp"], "198.51.100.7");
    assert_eq!(events.last().unwrap()["action"], "token.revoked");

    // Already revoked: the same answer again, nothing new written.
    let before = records(&world).await;
    let again = world.tokens(public(json!([live]), "198.51.100.7")).await;
    assert_eq!(again.status, 202);
    assert_eq!(again.body, unknown.body);
    assert_eq!(records(&world).await, before);

    // Bad input is refused before it counts, and changes nothing.
    let snapshot = world.tables.snapshot().await.unwrap();
    let many: Vec<String> = (0..101).map(|n| format!("sat_{n}")).collect();
    for (name, call, status, kind) in [
        (
            "no tokens",
            public(json!([]), "198.51.100.7"),
            422,
            "validation",
        ),
        (
            "101 tokens",
            public(json!(many), "198.51.100.7"),
            422,
            "validation",
        ),
        (
            "an unknown field",
            ApiCall::new(Shape::RestV1, "POST", PUBLIC)
                .source_ip("198.51.100.7")
                .json(json!({"tokens": ["sat_x"], "why": "found it"})),
            422,
            "validation",
        ),
        (
            "not JSON",
            ApiCall::new(Shape::RestV1, "POST", PUBLIC)
                .source_ip("198.51.100.7")
                .raw_body("{tokens", Some("application/json")),
            400,
            "malformed-body",
        ),
    ] {
        let answer = world.tokens(call).await;
        answer.assert_problem(status, kind);
        assert_eq!(
            world.tables.snapshot().await.unwrap(),
            snapshot,
            "{name} changed the table"
        );
    }

    // A hundred of the longest tokens (the longest organization id) fit in one request.
    let long_org = shared::ids::OrgId::parse(&"z".repeat(32)).unwrap();
    let longest: Vec<String> = (0..100)
        .map(|_| {
            ParsedToken::generate(
                &world.context.token_format,
                &long_org,
                TokenOwner::Account(world.acme.account.clone()),
            )
            .unwrap()
            .secret()
            .expose_secret()
            .to_owned()
        })
        .collect();
    let answer = world.tokens(public(json!(longest), "203.0.113.77")).await;
    assert_eq!(answer.status, 202, "{}", answer.body);
    let too_long = world
        .tokens(public(json!(["x".repeat(257)]), "203.0.113.77"))
        .await;
    too_long.assert_problem(422, "validation");

    // The fifth request of the hour from that address is refused before anything is looked
    // at; another address still gets through.
    let (fresh, _) = mint(&world, world.acme.account.as_ref(), "fresh").await;
    let before = world.tables.snapshot().await.unwrap();
    let throttled = world.tokens(public(json!([fresh]), "198.51.100.7")).await;
    throttled.assert_problem(429, "rate-limited");
    let retry_after: i64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
    assert!(world.works(&fresh).await);
    let elsewhere = world.tokens(public(json!([fresh]), "203.0.113.50")).await;
    assert_eq!(elsewhere.status, 202, "{}", elsewhere.body);
    assert!(!world.works(&fresh).await);
    // The next window opens the address again.
    world.clock.advance(time::Duration::hours(1));
    let reopened = world.tokens(public(json!(["sat_x"]), "198.51.100.7")).await;
    assert_eq!(reopened.status, 202, "{}", reopened.body);
}

#[tokio::test]
async fn a_sender_over_the_public_limit_is_refused_without_another_write() {
    let world = AdminWorld::new().await;
    let (store, counter) = tests::counting::counted_store(&world.tables).await;
    let use_cases = usecases::UseCases {
        store,
        public_revocation: PublicRevocationLimit {
            limit: 2,
            window: time::Duration::hours(1),
        },
        ..world.context.clone()
    };
    let sender = Some("198.51.100.30".parse().unwrap());
    for _ in 0..2 {
        use_cases.admit_public_revocation(sender).await.unwrap();
    }
    counter.take();
    let refused = use_cases.admit_public_revocation(sender).await;
    assert!(
        matches!(refused, Err(usecases::UseCaseError::RateLimited { .. })),
        "{refused:?}"
    );
    assert_eq!(
        counter.take().values().sum::<u32>(),
        1,
        "the refusal that counted"
    );
    for _ in 0..5 {
        let refused = use_cases.admit_public_revocation(sender).await;
        assert!(matches!(
            refused,
            Err(usecases::UseCaseError::RateLimited { retry_after }) if (1..=3600).contains(&retry_after)
        ));
    }
    assert!(counter.take().is_empty(), "no write once refused");
    // A request that holds no token of this deployment's format costs nothing at all, from
    // any sender: no read, no count, no write.
    let reporter = shared::model::Actor::secret_scanning("public");
    for source in [sender, Some("198.51.100.32".parse().unwrap())] {
        let garbage = ["ghp_0123456789", "sat_garbage", ""]
            .map(|text| shared::token::TokenSecret::new(text.to_owned()))
            .into();
        use_cases
            .revoke_reported_publicly(&reporter, source, garbage)
            .await
            .unwrap();
    }
    assert!(counter.take().is_empty(), "nothing read or written");
    // Another sender is counted as before; the next window opens the address again.
    use_cases
        .admit_public_revocation(Some("198.51.100.31".parse().unwrap()))
        .await
        .unwrap();
    world.clock.advance(time::Duration::hours(1));
    use_cases.admit_public_revocation(sender).await.unwrap();
}
