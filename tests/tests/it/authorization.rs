//! The authorizer against DynamoDB Local: every row of the decision table for every event
//! shape, the DynamoDB calls each costs, the exact policy, IP allowlists, revocation on the
//! very next call, and last-used throttling.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use authorizer::{Authorizer, AuthorizerConfig};
use serde_json::{Value, json};
use shared::access::{AccessLevel, Grant, Grants, IpAllowlist, ResourceName, Role, Roles, Scopes};
use shared::ids::ServiceAccountId;
use shared::model::{Actor, ActorKind, NewServiceAccount, OrgStatus, ServiceAccount};
use shared::text::DisplayName;
use store::{DynamoStore, PageLimit, TokenListScope};
use tests::admin::AdminWorld;
use tests::counting::{CallCounter, counted_store};
use tests::events::{ARN_BASE, ApiCall, AuthorizerShape, Shape, authorizer_event};
use time::Duration;

const INSIDE_V4: &str = "10.1.2.3";
const INSIDE_V6: &str = "2001:db8::77";
const OUTSIDE: &str = "192.0.2.9";

struct Fixture {
    world: AdminWorld,
    store: DynamoStore,
    counter: CallCounter,
    simple: Authorizer,
    iam: Authorizer,
}

/// An authorizer that reads every record on every call (`OWNER_CACHE_TTL_MS=0`), so each
/// change applies to the very next call; `tests::it::scale` covers the owner cache's bound.
fn authorizer(store: &DynamoStore, world: &AdminWorld, mode: &'static str) -> Authorizer {
    let config =
        AuthorizerConfig::from_lookup(tests::test_token_format(), move |name| match name {
            "HTTP_API_RESPONSE" => Some(mode.to_owned()),
            "OWNER_CACHE_TTL_MS" => Some("0".to_owned()),
            _ => None,
        })
        .unwrap();
    Authorizer::with_clock(store.clone(), config, world.clock.clone())
}

async fn fixture() -> Fixture {
    let world = AdminWorld::new().await;
    let (store, counter) = counted_store(&world.tables).await;
    // The authorizer's store: its calls are judged against the authorizer's role.
    let store = world.iam.store(&store, tests::iam::Function::Authorizer);
    let simple = authorizer(&store, &world, "simple");
    let iam = authorizer(&store, &world, "iam");
    Fixture {
        world,
        store,
        counter,
        simple,
        iam,
    }
}

impl Fixture {
    /// Fresh authorizers (empty caches) on the same counted store.
    fn renewed(&mut self) {
        self.simple = authorizer(&self.store, &self.world, "simple");
        self.iam = authorizer(&self.store, &self.world, "iam");
    }
}

/// A reader with `brain-1: read`, optionally behind an allowlist, and a token for it.
async fn reader(world: &AdminWorld, allowlist: &[&str]) -> (ServiceAccountId, String) {
    let account = ServiceAccount::new(
        world.acme.org.clone(),
        ServiceAccountId::generate().unwrap(),
        NewServiceAccount {
            name: DisplayName::parse("reader").unwrap(),
            description: None,
            roles: Roles::new([Role::Reader]),
            grants: Grants::parse(vec![Grant {
                resource: ResourceName::parse("brain-1").unwrap(),
                level: AccessLevel::Read,
            }])
            .unwrap(),
            ip_allowlist: IpAllowlist::parse(allowlist).unwrap(),
        },
        Actor::new(ActorKind::Operator, "tests"),
        world.clock_now(),
    );
    world.context.store.create_account(&account).await.unwrap();
    let token = world
        .mint(&world.acme.org, &account.id, Scopes::default())
        .await;
    (account.id, token)
}

/// What an authorizer answered, reduced to what API Gateway makes of it.
#[derive(Debug, PartialEq)]
enum Answer {
    Unauthorized,
    Forbidden,
    Allowed,
}

fn classify(
    shape: AuthorizerShape,
    iam: bool,
    result: &Result<Value, lambda_runtime::Error>,
    arn: &str,
) -> Answer {
    let response = match result {
        Err(error) if error.to_string() == "Unauthorized" => return Answer::Unauthorized,
        Err(error) => panic!("unexpected error {error}"),
        Ok(response) => response,
    };
    if shape == AuthorizerShape::HttpApi && !iam {
        return if response["isAuthorized"] == true {
            Answer::Allowed
        } else {
            Answer::Forbidden
        };
    }
    if infra::gateway::policy_allows(&response["policyDocument"], arn) {
        Answer::Allowed
    } else {
        Answer::Forbidden
    }
}

async fn ask(
    f: &Fixture,
    shape: AuthorizerShape,
    iam: bool,
    authorization: Option<&str>,
    method: &str,
    path: &str,
    ip: &str,
) -> (
    Answer,
    BTreeMap<String, u32>,
    Result<Value, lambda_runtime::Error>,
) {
    f.counter.take();
    let event = authorizer_event(shape, authorization, method, path, ip);
    let authorizer = if iam { &f.iam } else { &f.simple };
    let result = authorizer.handle(event).await;
    let calls = f.counter.take();
    let answer = classify(shape, iam, &result, &format!("{ARN_BASE}/{method}{path}"));
    (answer, calls, result)
}

fn modes() -> Vec<(AuthorizerShape, bool)> {
    vec![
        (AuthorizerShape::RestToken, true),
        (AuthorizerShape::RestRequest, true),
        (AuthorizerShape::HttpApi, false),
        (AuthorizerShape::HttpApi, true),
    ]
}

#[tokio::test]
async fn every_row_of_the_decision_table_in_every_event_shape() {
    let mut f = fixture().await;
    let world = &f.world;
    let (_, valid) = reader(world, &[]).await;
    let (revoked_account, revoked) = reader(world, &[]).await;
    let (_, expired) = reader(world, &[]).await;
    let (disabled_account, disabled) = reader(world, &[]).await;
    let (deleted_account, deleted) = reader(world, &[]).await;
    let never_minted = {
        let elsewhere = AdminWorld::new().await;
        reader(&elsewhere, &[]).await.1
    };
    let other = world.bootstrap_org("other").await;
    let sleepy = world.bootstrap_org("sleepy").await;

    // Put each token in its state the way an admin would.
    let admin = |call: ApiCall| call.bearer(&world.acme.token);
    let accounts = "/v1/orgs/acme/service-accounts";
    let revoke = format!("{accounts}/{revoked_account}/tokens/{}", &revoked[4..20]);
    assert_eq!(
        world
            .tokens(admin(ApiCall::new(Shape::HttpV2, "DELETE", &revoke)))
            .await
            .status,
        204
    );
    let disable = format!("{accounts}/{disabled_account}/disable");
    assert_eq!(
        world
            .accounts(admin(ApiCall::new(Shape::HttpV2, "POST", &disable)))
            .await
            .status,
        200
    );
    let delete = format!("{accounts}/{deleted_account}");
    assert_eq!(
        world
            .accounts(admin(ApiCall::new(Shape::HttpV2, "DELETE", &delete)))
            .await
            .status,
        204
    );
    let store = &world.context.store;
    let all = store
        .list_tokens(
            &world.acme.org,
            &TokenListScope::All,
            PageLimit::parse(100).unwrap(),
            None,
        )
        .await
        .unwrap();
    let mut token = all
        .items
        .into_iter()
        .find(|t| t.id.as_str() == &expired[4..20])
        .unwrap();
    token.expires_at = Some(world.clock_now() - Duration::seconds(1));
    store.update_token(&token).await.unwrap();
    let mut org = store.get_org(&sleepy.org).await.unwrap().unwrap();
    org.status = OrgStatus::Disabled;
    store.update_org(&org).await.unwrap();

    let mut tampered = valid.clone();
    let swap = if &valid[30..31] == "a" { "b" } else { "a" };
    tampered.replace_range(30..31, swap);
    let bearer = |token: &str| format!("Bearer {token}");
    // (case, Authorization header, method, path, expected answer, BatchGetItem calls)
    type Row<'a> = (&'a str, Option<String>, &'a str, &'a str, Answer, u32);
    let rows: Vec<Row> = vec![
        ("no token", None, "GET", "/items", Answer::Unauthorized, 0),
        (
            "garbage",
            Some("Bearer hello".into()),
            "GET",
            "/items",
            Answer::Unauthorized,
            0,
        ),
        (
            "another scheme",
            Some(format!("Basic {valid}")),
            "GET",
            "/items",
            Answer::Unauthorized,
            0,
        ),
        (
            "bad checksum",
            Some(bearer(&tampered)),
            "GET",
            "/items",
            Answer::Unauthorized,
            0,
        ),
        (
            "another prefix",
            Some(bearer(&valid.replacen("svc_", "ghp_", 1))),
            "GET",
            "/items",
            Answer::Unauthorized,
            0,
        ),
        (
            "unknown token",
            Some(bearer(&never_minted)),
            "GET",
            "/items",
            Answer::Unauthorized,
            1,
        ),
        (
            "revoked",
            Some(bearer(&revoked)),
            "GET",
            "/items",
            Answer::Unauthorized,
            1,
        ),
        (
            "expired",
            Some(bearer(&expired)),
            "GET",
            "/items",
            Answer::Unauthorized,
            1,
        ),
        (
            "disabled account",
            Some(bearer(&disabled)),
            "GET",
            "/items",
            Answer::Unauthorized,
            1,
        ),
        (
            "deleted account",
            Some(bearer(&deleted)),
            "GET",
            "/items",
            Answer::Unauthorized,
            1,
        ),
        (
            "disabled org",
            Some(bearer(&sleepy.token)),
            "GET",
            "/items",
            Answer::Unauthorized,
            1,
        ),
        (
            "route needs writer",
            Some(bearer(&valid)),
            "POST",
            "/items",
            Answer::Forbidden,
            1,
        ),
        (
            "route needs admin",
            Some(bearer(&valid)),
            "DELETE",
            "/items/7",
            Answer::Forbidden,
            1,
        ),
        (
            "route not in the map",
            Some(bearer(&valid)),
            "GET",
            "/elsewhere",
            Answer::Forbidden,
            1,
        ),
        (
            "grant not held",
            Some(bearer(&valid)),
            "GET",
            "/orgs/acme/brains/brain-2",
            Answer::Forbidden,
            1,
        ),
        (
            "grant too weak",
            Some(bearer(&valid)),
            "PUT",
            "/orgs/acme/brains/brain-1",
            Answer::Forbidden,
            1,
        ),
        (
            "allowed by role",
            Some(bearer(&valid)),
            "GET",
            "/items/7",
            Answer::Allowed,
            1,
        ),
        (
            "allowed by grant",
            Some(bearer(&valid)),
            "GET",
            "/orgs/acme/brains/brain-1",
            Answer::Allowed,
            1,
        ),
        (
            "bare token",
            Some(valid.clone()),
            "GET",
            "/items",
            Answer::Allowed,
            1,
        ),
        (
            "lower-case scheme",
            Some(format!("bearer {}", other.token)),
            "GET",
            "/hello",
            Answer::Allowed,
            1,
        ),
    ];
    for (shape, iam) in modes() {
        for (name, authorization, method, path, expected, reads) in &rows {
            f.renewed();
            let (answer, calls, _) = ask(
                &f,
                shape,
                iam,
                authorization.as_deref(),
                method,
                path,
                INSIDE_V4,
            )
            .await;
            assert_eq!(&answer, expected, "{shape:?} iam={iam}: {name}");
            let batch_reads = calls.get("BatchGetItem").copied().unwrap_or(0);
            assert_eq!(batch_reads, *reads, "{shape:?}: {name}: {calls:?}");
            let others: u32 = calls
                .iter()
                .filter(|(op, _)| op.as_str() != "BatchGetItem" && op.as_str() != "UpdateItem")
                .map(|(_, n)| n)
                .sum();
            assert_eq!(others, 0, "{name}: {calls:?}");
        }
    }
}

#[tokio::test]
async fn the_policy_lists_exactly_the_allowed_routes_and_the_context_the_principal() {
    let f = fixture().await;
    let (account, token) = reader(&f.world, &[]).await;
    for (shape, iam) in [
        (AuthorizerShape::RestToken, true),
        (AuthorizerShape::RestRequest, true),
        (AuthorizerShape::HttpApi, true),
    ] {
        let (_, _, result) = ask(
            &f,
            shape,
            iam,
            Some(&format!("Bearer {token}")),
            "GET",
            "/items",
            INSIDE_V4,
        )
        .await;
        let response = result.unwrap();
        assert_eq!(response["principalId"], account.as_str());
        let statements = response["policyDocument"]["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 1, "{response}");
        assert_eq!(statements[0]["Effect"], "Allow");
        assert_eq!(statements[0]["Action"], json!(["execute-api:Invoke"]));
        let resources: BTreeSet<&str> = statements[0]["Resource"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let expected: BTreeSet<String> = [
            "GET/orgs/acme/brains/brain-1",
            "GET/hello",
            "GET/items",
            "GET/items/*",
        ]
        .iter()
        .map(|route| format!("{ARN_BASE}/{route}"))
        .collect();
        assert_eq!(resources, expected.iter().map(String::as_str).collect());
        let context = &response["context"];
        assert_eq!(context["org"], "acme");
        assert_eq!(context["account"], account.as_str());
        assert_eq!(context["tokenId"], &token[4..20]);
        assert_eq!(context["tokenKind"], "service_account");
        assert_eq!(context["roles"], "reader");
        assert_eq!(context["grants"], "brain-1:read");
        assert_eq!(context["scopes"], "");
    }
    // A 403 keeps the same allowed list and adds a deny for the refused route only, so a
    // cached policy stays right for every route.
    let (_, _, result) = ask(
        &f,
        AuthorizerShape::RestRequest,
        true,
        Some(&format!("Bearer {token}")),
        "POST",
        "/items",
        INSIDE_V4,
    )
    .await;
    let response = result.unwrap();
    let statements = response["policyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(statements[0]["Resource"].as_array().unwrap().len(), 4);
    assert_eq!(statements[1]["Effect"], "Deny");
    assert_eq!(
        statements[1]["Resource"],
        json!([format!("{ARN_BASE}/POST/items")])
    );
    // The simple response carries the same context.
    let (_, _, result) = ask(
        &f,
        AuthorizerShape::HttpApi,
        false,
        Some(&format!("Bearer {token}")),
        "GET",
        "/items",
        INSIDE_V4,
    )
    .await;
    let response = result.unwrap();
    assert_eq!(response["isAuthorized"], true);
    assert_eq!(response["context"]["account"], account.as_str());
}

#[tokio::test]
async fn ip_allowlists_allow_and_deny_ipv4_and_ipv6_ranges() {
    let f = fixture().await;
    let (_, token) = reader(&f.world, &["10.0.0.0/8", "2001:db8::/32"]).await;
    let authorization = format!("Bearer {token}");
    for (shape, iam) in [
        (AuthorizerShape::RestRequest, true),
        (AuthorizerShape::HttpApi, false),
        (AuthorizerShape::HttpApi, true),
    ] {
        for (ip, expected) in [
            (INSIDE_V4, Answer::Allowed),
            (INSIDE_V6, Answer::Allowed),
            (OUTSIDE, Answer::Forbidden),
            ("2001:db9::1", Answer::Forbidden),
        ] {
            let (answer, _, result) =
                ask(&f, shape, iam, Some(&authorization), "GET", "/items", ip).await;
            assert_eq!(answer, expected, "{shape:?} from {ip}");
            if expected == Answer::Forbidden && iam {
                // A refused address is denied everything.
                let statements = result.unwrap()["policyDocument"]["Statement"].clone();
                assert_eq!(
                    statements,
                    json!([{"Action": ["execute-api:Invoke"], "Effect": "Deny", "Resource": [format!("{ARN_BASE}/*")]}])
                );
            }
        }
    }
    // TOKEN events carry no address, so an allowlisted token fails closed there.
    let (answer, _, _) = ask(
        &f,
        AuthorizerShape::RestToken,
        true,
        Some(&authorization),
        "GET",
        "/items",
        INSIDE_V4,
    )
    .await;
    assert_eq!(answer, Answer::Forbidden);
}

#[tokio::test]
async fn revocation_disabling_and_deletion_apply_on_the_very_next_call() {
    let f = fixture().await;
    let world = &f.world;
    let admin = |call: ApiCall| call.bearer(&world.acme.token);
    for change in ["revoke", "disable", "delete"] {
        let (account, token) = reader(world, &[]).await;
        let authorization = format!("Bearer {token}");
        for (shape, iam) in modes() {
            let (answer, _, _) = ask(
                &f,
                shape,
                iam,
                Some(&authorization),
                "GET",
                "/items",
                INSIDE_V4,
            )
            .await;
            assert_eq!(answer, Answer::Allowed, "{change}: before");
        }
        let base = format!("/v1/orgs/acme/service-accounts/{account}");
        let status = match change {
            "revoke" => {
                world
                    .tokens(admin(ApiCall::new(
                        Shape::HttpV2,
                        "DELETE",
                        &format!("{base}/tokens/{}", &token[4..20]),
                    )))
                    .await
                    .status
            }
            "disable" => {
                world
                    .accounts(admin(ApiCall::new(
                        Shape::HttpV2,
                        "POST",
                        &format!("{base}/disable"),
                    )))
                    .await
                    .status
            }
            _ => {
                world
                    .accounts(admin(ApiCall::new(Shape::HttpV2, "DELETE", &base)))
                    .await
                    .status
            }
        };
        assert!(status == 200 || status == 204);
        for (shape, iam) in modes() {
            let (answer, _, _) = ask(
                &f,
                shape,
                iam,
                Some(&authorization),
                "GET",
                "/items",
                INSIDE_V4,
            )
            .await;
            assert_eq!(
                answer,
                Answer::Unauthorized,
                "{change}: {shape:?} on the next call"
            );
        }
    }
}

#[tokio::test]
async fn refused_tokens_are_remembered_and_cost_no_second_read() {
    let f = fixture().await;
    let (account, token) = reader(&f.world, &[]).await;
    f.world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "DELETE",
                &format!("/v1/orgs/acme/service-accounts/{account}/tokens"),
            )
            .bearer(&f.world.acme.token),
        )
        .await;
    let authorization = format!("Bearer {token}");
    let (_, first, _) = ask(
        &f,
        AuthorizerShape::RestToken,
        true,
        Some(&authorization),
        "GET",
        "/items",
        INSIDE_V4,
    )
    .await;
    assert_eq!(first.get("BatchGetItem"), Some(&1));
    let (answer, second, _) = ask(
        &f,
        AuthorizerShape::RestToken,
        true,
        Some(&authorization),
        "GET",
        "/items",
        INSIDE_V4,
    )
    .await;
    assert_eq!(answer, Answer::Unauthorized);
    assert!(second.is_empty(), "{second:?}");
}

#[tokio::test]
async fn last_used_is_written_at_most_once_per_interval_and_never_blocks() {
    let f = fixture().await;
    let (account, token) = reader(&f.world, &[]).await;
    let authorization = format!("Bearer {token}");
    let (answer, calls, _) = ask(
        &f,
        AuthorizerShape::HttpApi,
        false,
        Some(&authorization),
        "GET",
        "/items",
        INSIDE_V4,
    )
    .await;
    assert_eq!(answer, Answer::Allowed);
    assert_eq!(
        calls,
        BTreeMap::from([("BatchGetItem".into(), 1), ("UpdateItem".into(), 2)]),
        "token and account"
    );
    let stored = f
        .world
        .context
        .store
        .get_account(&f.world.acme.org, &account)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.last_used_at.is_some());

    f.world.clock.advance(Duration::minutes(4));
    let (_, calls, _) = ask(
        &f,
        AuthorizerShape::HttpApi,
        false,
        Some(&authorization),
        "GET",
        "/items",
        INSIDE_V4,
    )
    .await;
    assert_eq!(
        calls,
        BTreeMap::from([("BatchGetItem".into(), 1)]),
        "within the interval: one read, no write"
    );

    f.world.clock.advance(Duration::minutes(2));
    let (_, calls, _) = ask(
        &f,
        AuthorizerShape::HttpApi,
        false,
        Some(&authorization),
        "GET",
        "/items",
        INSIDE_V4,
    )
    .await;
    assert_eq!(
        calls.get("UpdateItem"),
        Some(&2),
        "after the interval: written again"
    );

    // An admin's change made after a last-used write still succeeds (no version conflict).
    let reply = f
        .world
        .accounts(
            ApiCall::new(
                Shape::HttpV2,
                "PATCH",
                &format!("/v1/orgs/acme/service-accounts/{account}"),
            )
            .bearer(&f.world.acme.token)
            .json(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn a_positive_cache_reuses_records_only_for_its_ttl_which_is_the_revocation_delay() {
    let f = fixture().await;
    let config = AuthorizerConfig::from_lookup(tests::test_token_format(), |name| {
        (name == "POSITIVE_CACHE_TTL_SECONDS").then(|| "60".to_owned())
    })
    .unwrap();
    let cached = Authorizer::with_clock(f.store.clone(), config, f.world.clock.clone());
    let (account, token) = reader(&f.world, &[]).await;
    let event = || {
        authorizer_event(
            AuthorizerShape::RestRequest,
            Some(&format!("Bearer {token}")),
            "GET",
            "/items",
            INSIDE_V4,
        )
    };
    f.counter.take();
    assert!(cached.handle(event()).await.is_ok());
    assert_eq!(f.counter.take().get("BatchGetItem"), Some(&1));
    assert!(cached.handle(event()).await.is_ok());
    assert_eq!(
        f.counter.take().get("BatchGetItem"),
        None,
        "served from the container's cache"
    );

    let revoke = format!(
        "/v1/orgs/acme/service-accounts/{account}/tokens/{}",
        &token[4..20]
    );
    let reply = f
        .world
        .tokens(ApiCall::new(Shape::HttpV2, "DELETE", &revoke).bearer(&f.world.acme.token))
        .await;
    assert_eq!(reply.status, 204);
    f.world.clock.advance(Duration::seconds(59));
    assert!(
        cached.handle(event()).await.is_ok(),
        "within the TTL the revocation is not seen yet"
    );
    f.world.clock.advance(Duration::seconds(2));
    let refused = cached.handle(event()).await;
    assert_eq!(
        refused.unwrap_err().to_string(),
        "Unauthorized",
        "past the TTL it is"
    );
    // Other routes are still decided afresh from the cached records (route and address).
    let (fresh_account, fresh) = reader(&f.world, &["10.0.0.0/8"]).await;
    let _ = fresh_account;
    let allowed = authorizer_event(
        AuthorizerShape::RestRequest,
        Some(&format!("Bearer {fresh}")),
        "GET",
        "/items",
        INSIDE_V4,
    );
    assert!(cached.handle(allowed).await.is_ok());
    let outside = authorizer_event(
        AuthorizerShape::RestRequest,
        Some(&format!("Bearer {fresh}")),
        "GET",
        "/items",
        OUTSIDE,
    );
    let response = cached.handle(outside).await.unwrap();
    assert_eq!(response["policyDocument"]["Statement"][0]["Effect"], "Deny");
}

#[tokio::test]
async fn paths_are_read_without_the_stage_or_a_custom_domain_base_path() {
    let f = fixture().await;
    let (_, token) = reader(&f.world, &[]).await;
    let authorization = format!("Bearer {token}");
    // HTTP API on a named stage: `rawPath` starts with the stage.
    let mut event = authorizer_event(
        AuthorizerShape::HttpApi,
        Some(&authorization),
        "GET",
        "/items",
        INSIDE_V4,
    );
    event["requestContext"]["stage"] = json!("prod");
    event["rawPath"] = json!("/prod/items");
    assert_eq!(f.simple.handle(event).await.unwrap()["isAuthorized"], true);
    // REST API behind a custom domain's base path: the method ARN is authoritative.
    let mut event = authorizer_event(
        AuthorizerShape::RestRequest,
        Some(&authorization),
        "GET",
        "/items",
        INSIDE_V4,
    );
    event["path"] = json!("/v1/items");
    let response = f.iam.handle(event).await.unwrap();
    assert_eq!(
        response["policyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{response}"
    );
}
