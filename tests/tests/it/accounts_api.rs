//! The service-account admin API, driven by real API Gateway REST, HTTP API and function URL
//! events against DynamoDB Local.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use serde_json::{Value, json};
use shared::access::{IpAllowlist, Role, Roles, Scope, Scopes};
use shared::ids::ServiceAccountId;
use shared::model::{AccountStatus, ActorKind, NewServiceAccount, ServiceAccount};
use shared::text::DisplayName;
use tests::admin::{AdminWorld, IAM_ADMIN};
use tests::events::{ApiCall, Shape};

const COLLECTION: &str = "/v1/orgs/acme/service-accounts";

fn item(id: &str) -> String {
    format!("{COLLECTION}/{id}")
}

/// Whether `token` authenticates right now, through the one verification path.
async fn authenticates(world: &AdminWorld, token: &str) -> bool {
    // Inside the lifecycle account's allowlist (10.0.0.0/8).
    let source = Some("10.1.2.3".parse().unwrap());
    world.principal_from(token, source).await.is_some()
}

fn scopes(texts: &[&str]) -> Scopes {
    Scopes::parse(texts.iter().map(|t| Scope::parse(t).unwrap()).collect()).unwrap()
}

#[tokio::test]
async fn the_full_lifecycle_works_in_every_event_shape() {
    let world = AdminWorld::new().await;
    let admin = world.acme.token.clone();
    for shape in Shape::ALL {
        let created = world
            .accounts(
                ApiCall::new(shape, "POST", COLLECTION)
                    .bearer(&admin)
                    .json(json!({
                        "name": "nightly-research-bot",
                        "description": "pulls the corpus every night",
                        "roles": ["writer"],
                        "grants": [{"resource": "brain-42", "level": "read"}],
                        "ipAllowlist": ["10.0.0.0/8", "2001:db8::/32"]
                    })),
            )
            .await;
        assert_eq!(created.status, 201, "{shape:?}: {:?}", created.body);
        let id = created.body["id"].as_str().unwrap().to_owned();
        // REST API URLs carry the stage; HTTP APIs ($default stage) and function URLs do not.
        let stage = if shape == Shape::RestV1 {
            "/testStage"
        } else {
            ""
        };
        assert_eq!(
            created.header("location"),
            Some(format!("{stage}{}", item(&id)).as_str())
        );
        assert_eq!(created.header("etag"), Some("\"1\""));
        assert_eq!(created.header("cache-control"), Some("no-store"));
        assert_eq!(created.body["status"], "ACTIVE");
        assert_eq!(created.body["roles"], json!(["writer"]));
        assert_eq!(
            created.body["grants"],
            json!([{"resource": "brain-42", "level": "read"}])
        );
        assert_eq!(created.body["createdBy"]["kind"], "service_account");
        assert_eq!(created.body["createdBy"]["id"], world.acme.account.as_str());

        let read = world
            .accounts(ApiCall::new(shape, "GET", &item(&id)).bearer(&admin))
            .await;
        assert_eq!(read.status, 200);
        assert_eq!(read.body, created.body);
        assert_eq!(read.header("etag"), Some("\"1\""));

        let listed = world
            .accounts(ApiCall::new(shape, "GET", COLLECTION).bearer(&admin))
            .await;
        assert_eq!(listed.status, 200);
        let ids: Vec<&str> = listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&id.as_str()));

        let patched = world
            .accounts(
                ApiCall::new(shape, "PATCH", &item(&id))
                    .bearer(&admin)
                    .header("if-match", "\"1\"")
                    .json(json!({"name": "renamed-bot", "description": null, "roles": ["reader"]})),
            )
            .await;
        assert_eq!(patched.status, 200, "{:?}", patched.body);
        assert_eq!(patched.header("etag"), Some("\"2\""));
        assert_eq!(patched.body["name"], "renamed-bot");
        assert_eq!(patched.body["description"], Value::Null);
        assert_eq!(patched.body["roles"], json!(["reader"]));
        assert_eq!(
            patched.body["grants"], created.body["grants"],
            "untouched fields stay"
        );

        let account_id = ServiceAccountId::parse(&id).unwrap();
        let token = world
            .mint(&world.acme.org, &account_id, Scopes::default())
            .await;
        assert!(authenticates(&world, &token).await);

        let disabled = world
            .accounts(ApiCall::new(shape, "POST", &format!("{}/disable", item(&id))).bearer(&admin))
            .await;
        assert_eq!(disabled.status, 200);
        assert_eq!(disabled.body["status"], "DISABLED");
        assert!(
            !authenticates(&world, &token).await,
            "a disabled account's tokens stop at once"
        );

        let enabled = world
            .accounts(ApiCall::new(shape, "POST", &format!("{}/enable", item(&id))).bearer(&admin))
            .await;
        assert_eq!(enabled.status, 200);
        assert_eq!(enabled.body["status"], "ACTIVE");
        assert!(
            authenticates(&world, &token).await,
            "and come back on enable"
        );

        let deleted = world
            .accounts(ApiCall::new(shape, "DELETE", &item(&id)).bearer(&admin))
            .await;
        assert_eq!(deleted.status, 204);
        assert!(
            !authenticates(&world, &token).await,
            "a deleted account's tokens stop at once"
        );
        let gone = world
            .accounts(ApiCall::new(shape, "GET", &item(&id)).bearer(&admin))
            .await;
        gone.assert_problem(404, "not-found");
        let again = world
            .accounts(ApiCall::new(shape, "DELETE", &item(&id)).bearer(&admin))
            .await;
        again.assert_problem(404, "not-found");
        let listed = world
            .accounts(ApiCall::new(shape, "GET", COLLECTION).bearer(&admin))
            .await;
        assert!(
            !listed.body.to_string().contains(&id),
            "deleted accounts are not listed"
        );

        // The delete is attributed: the tombstone names who deleted it.
        let tombstone = world
            .context
            .store
            .get_account(&world.acme.org, &account_id)
            .await
            .unwrap()
            .unwrap();
        let deleted_by = tombstone.deleted_by.unwrap();
        assert_eq!(deleted_by.kind, ActorKind::ServiceAccount);
        assert_eq!(deleted_by.id, world.acme.account.as_str());
        assert_eq!(deleted_by.source_ip, Some("198.51.100.7".parse().unwrap()));
        assert!(tombstone.purge_after.is_some());
    }
}

#[tokio::test]
async fn disabling_with_revoke_tokens_keeps_them_dead_after_enable() {
    let world = AdminWorld::new().await;
    let admin = &world.acme.token;
    let (id, token) = world
        .account_with_token(
            &world.acme.org,
            Roles::new([Role::Reader]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await;
    let path = format!("{}/disable", item(id.as_str()));
    let reply = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "POST", &path)
                .bearer(admin)
                .json(json!({"revokeTokens": true})),
        )
        .await;
    assert_eq!(reply.status, 200);
    world
        .accounts(
            ApiCall::new(
                Shape::HttpV2,
                "POST",
                &format!("{}/enable", item(id.as_str())),
            )
            .bearer(admin),
        )
        .await;
    assert!(!authenticates(&world, &token).await);
}

#[tokio::test]
async fn another_organizations_admin_gets_404_on_every_route() {
    let world = AdminWorld::new().await;
    let other = world.bootstrap_org("other").await;
    let (victim, _) = world
        .account_with_token(
            &world.acme.org,
            Roles::new([Role::Reader]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await;
    let before = world.tables.snapshot().await.unwrap();
    let victim_item = item(victim.as_str());
    let calls = [
        (
            "POST",
            COLLECTION.to_owned(),
            Some(json!({"name": "intruder"})),
        ),
        ("GET", COLLECTION.to_owned(), None),
        ("GET", victim_item.clone(), None),
        ("PATCH", victim_item.clone(), Some(json!({"name": "pwned"}))),
        ("DELETE", victim_item.clone(), None),
        ("POST", format!("{victim_item}/disable"), None),
        ("POST", format!("{victim_item}/enable"), None),
    ];
    for shape in Shape::ALL {
        for (method, path, body) in &calls {
            let mut call = ApiCall::new(shape, method, path).bearer(&other.token);
            if let Some(body) = body {
                call = call.json(body.clone());
            }
            let reply = world.accounts(call).await;
            reply.assert_problem(404, "not-found");
        }
        // acme's admin cannot reach other's accounts through acme's path either.
        let foreign = world
            .accounts(
                ApiCall::new(shape, "GET", &item(other.account.as_str())).bearer(&world.acme.token),
            )
            .await;
        foreign.assert_problem(404, "not-found");
    }
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn valid_tokens_without_the_admin_role_get_403() {
    let world = AdminWorld::new().await;
    let org = world.acme.org.clone();
    let (_, writer) = world
        .account_with_token(
            &org,
            Roles::new([Role::Writer]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await;
    let (_, scoped_admin) = world
        .account_with_token(
            &org,
            Roles::new([Role::Admin]),
            scopes(&["reader"]),
            IpAllowlist::default(),
        )
        .await;
    for token in [&writer, &scoped_admin] {
        for (method, path) in [("GET", COLLECTION), ("POST", COLLECTION)] {
            let reply = world
                .accounts(
                    ApiCall::new(Shape::RestV1, method, path)
                        .bearer(token)
                        .json(json!({"name": "x"})),
                )
                .await;
            reply.assert_problem(403, "forbidden");
        }
    }
}

#[tokio::test]
async fn requests_without_valid_credentials_get_401() {
    let world = AdminWorld::new().await;
    let (account, revoked) = world
        .account_with_token(
            &world.acme.org,
            Roles::new([Role::Admin]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await;
    world
        .context
        .store
        .revoke_tokens(
            &world.acme.org,
            &shared::token::TokenOwner::Account(account),
            &shared::model::Actor::system("tests"),
            world.clock_now(),
            time::Duration::days(1),
        )
        .await
        .unwrap();
    // One secret character changed (to another one, so the forgery is never the original).
    let mut forged = world.acme.token.clone();
    let at = forged.len() - 10;
    let other = if &forged[at..=at] == "Z" { "Y" } else { "Z" };
    forged.replace_range(at..=at, other);
    for call in [
        ApiCall::new(Shape::HttpV2, "GET", COLLECTION),
        ApiCall::new(Shape::HttpV2, "GET", COLLECTION).bearer("not-a-token"),
        ApiCall::new(Shape::HttpV2, "GET", COLLECTION).bearer(&forged),
        ApiCall::new(Shape::HttpV2, "GET", COLLECTION).bearer(&revoked),
        ApiCall::new(Shape::HttpV2, "GET", COLLECTION)
            .header("authorization", "Basic YWRtaW46YWRtaW4="),
        ApiCall::new(Shape::FunctionUrl, "GET", COLLECTION),
    ] {
        let reply = world.accounts(call).await;
        reply.assert_problem(401, "unauthenticated");
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"admin\"")
        );
    }
    // The bearer scheme is matched without regard to case.
    let lower = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "GET", COLLECTION)
                .header("authorization", &format!("bearer {}", world.acme.token)),
        )
        .await;
    assert_eq!(lower.status, 200);
}

#[tokio::test]
async fn the_authorizer_context_identifies_the_caller() {
    // A deployment whose admin routes sit behind our authorizer, on the fixtures' APIs.
    let mut identity = tests::admin::iam_only();
    identity.authorizer_api_ids = identity.iam_api_ids.clone();
    let world = AdminWorld::with_identity(identity).await;
    let context = |org: &str, roles: &str| {
        json!({
            "org": org, "account": world.acme.account.as_str(), "tokenId": "0123456789abcdef",
            "tokenKind": "service_account", "roles": roles, "grants": ""
        })
        .as_object()
        .unwrap()
        .clone()
    };
    for shape in [Shape::RestV1, Shape::HttpV2] {
        let created = world
            .accounts(
                ApiCall::new(shape, "POST", COLLECTION)
                    .authorizer_context(context("acme", "admin"))
                    .json(json!({"name": "via-authorizer"})),
            )
            .await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        assert_eq!(created.body["createdBy"]["id"], world.acme.account.as_str());
        let reader = world
            .accounts(
                ApiCall::new(shape, "GET", COLLECTION)
                    .authorizer_context(context("acme", "reader")),
            )
            .await;
        reader.assert_problem(403, "forbidden");
        let foreign = world
            .accounts(
                ApiCall::new(shape, "GET", COLLECTION)
                    .authorizer_context(context("other", "admin")),
            )
            .await;
        foreign.assert_problem(404, "not-found");
        let malformed = world
            .accounts(
                ApiCall::new(shape, "GET", COLLECTION).authorizer_context(context("acme", "root")),
            )
            .await;
        malformed.assert_problem(401, "unauthenticated");
    }
}

#[tokio::test]
async fn allowed_iam_principals_administer_and_are_recorded() {
    let world = AdminWorld::new().await;
    for shape in Shape::ALL {
        let created = world
            .accounts(
                ApiCall::new(shape, "POST", COLLECTION)
                    .iam(IAM_ADMIN)
                    .json(json!({"name": "via-iam"})),
            )
            .await;
        assert_eq!(created.status, 201, "{shape:?}: {:?}", created.body);
        assert_eq!(
            created.body["createdBy"],
            json!({"kind": "iam_principal", "id": IAM_ADMIN})
        );
        let stranger = world
            .accounts(
                ApiCall::new(shape, "GET", COLLECTION)
                    .iam("arn:aws:iam::111122223333:role/someone-else"),
            )
            .await;
        stranger.assert_problem(403, "forbidden");
        let missing_org = world
            .accounts(ApiCall::new(shape, "GET", "/v1/orgs/nobody/service-accounts").iam(IAM_ADMIN))
            .await;
        missing_org.assert_problem(404, "not-found");
    }
}

#[tokio::test]
async fn an_admin_outside_its_ip_allowlist_gets_403() {
    let world = AdminWorld::new().await;
    let (_, token) = world
        .account_with_token(
            &world.acme.org,
            Roles::new([Role::Admin]),
            Scopes::default(),
            IpAllowlist::parse(&["203.0.113.0/24"]).unwrap(),
        )
        .await;
    let inside = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "GET", COLLECTION)
                .bearer(&token)
                .source_ip("203.0.113.9"),
        )
        .await;
    assert_eq!(inside.status, 200);
    let outside = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "GET", COLLECTION)
                .bearer(&token)
                .source_ip("198.51.100.1"),
        )
        .await;
    outside.assert_problem(403, "forbidden");
}

#[tokio::test]
async fn every_bad_input_gets_its_4xx_and_changes_nothing() {
    let world = AdminWorld::new().await;
    let admin = world.acme.token.clone();
    let (id, _) = world
        .account_with_token(
            &world.acme.org,
            Roles::new([Role::Reader]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await;
    let existing = item(id.as_str());
    let post = |body: Value| {
        ApiCall::new(Shape::HttpV2, "POST", COLLECTION)
            .bearer(&admin)
            .json(body)
    };
    let patch = |body: Value| {
        ApiCall::new(Shape::HttpV2, "PATCH", &existing)
            .bearer(&admin)
            .json(body)
    };
    let get = |path: &str| ApiCall::new(Shape::HttpV2, "GET", path).bearer(&admin);
    let big_description = "x".repeat(17 * 1024);
    let cases: Vec<(ApiCall, u16, &str, Option<&str>)> = vec![
        (
            ApiCall::new(Shape::HttpV2, "POST", COLLECTION)
                .bearer(&admin)
                .raw_body("{\"name\": ", Some("application/json")),
            400,
            "malformed-body",
            None,
        ),
        (
            ApiCall::new(Shape::HttpV2, "POST", COLLECTION)
                .bearer(&admin)
                .raw_body("[1, 2]", Some("application/json")),
            400,
            "malformed-body",
            None,
        ),
        (
            ApiCall::new(Shape::HttpV2, "POST", COLLECTION).bearer(&admin),
            400,
            "malformed-body",
            None,
        ),
        (
            post(json!({"name": "ok", "colour": "blue"})),
            422,
            "validation",
            Some("colour"),
        ),
        (
            post(json!({"description": "no name"})),
            422,
            "validation",
            Some("name"),
        ),
        (
            post(json!({"name": big_description})),
            413,
            "payload-too-large",
            None,
        ),
        (
            ApiCall::new(Shape::HttpV2, "POST", COLLECTION)
                .bearer(&admin)
                .raw_body("{\"name\":\"x\"}", Some("text/plain")),
            415,
            "unsupported-media-type",
            None,
        ),
        (
            post(json!({"name": "bell\u{7}"})),
            422,
            "validation",
            Some("name"),
        ),
        (
            post(json!({"name": "line\nbreak"})),
            422,
            "validation",
            Some("name"),
        ),
        (post(json!({"name": "  "})), 422, "validation", Some("name")),
        (post(json!({"name": 5})), 422, "validation", Some("name")),
        (
            post(json!({"name": "ok", "roles": ["admin", "root"]})),
            422,
            "validation",
            Some("roles[1]"),
        ),
        (
            post(json!({"name": "ok", "grants": [{"resource": "b", "level": "delete"}]})),
            422,
            "validation",
            Some("grants[0].level"),
        ),
        (
            post(json!({"name": "ok", "grants": [{"resource": "b", "level": "read", "extra": 1}]})),
            422,
            "validation",
            Some("grants[0].extra"),
        ),
        (
            post(json!({"name": "ok", "ipAllowlist": ["10.0.0.1/8"]})),
            422,
            "validation",
            Some("ipAllowlist"),
        ),
        (
            post(json!({"name": "ok", "ipAllowlist": ["not-an-ip"]})),
            422,
            "validation",
            Some("ipAllowlist"),
        ),
        (patch(json!({})), 422, "validation", Some("body")),
        (
            patch(json!({"description": 7})),
            422,
            "validation",
            Some("description"),
        ),
        (
            patch(json!({"name": "ok", "status": "ACTIVE"})),
            422,
            "validation",
            Some("status"),
        ),
        (
            ApiCall::new(Shape::HttpV2, "PATCH", &existing)
                .bearer(&admin)
                .header("if-match", "W/\"1\"")
                .json(json!({"name": "x"})),
            400,
            "invalid-header",
            None,
        ),
        (
            ApiCall::new(Shape::HttpV2, "PATCH", &existing)
                .bearer(&admin)
                .header("if-match", "\"7\"")
                .json(json!({"name": "x"})),
            409,
            "conflict",
            None,
        ),
        (get(&item("short")), 400, "invalid-parameter", None),
        (
            get(&item("0123456789abcdeF0")),
            400,
            "invalid-parameter",
            None,
        ),
        (
            get("/v1/orgs/ACME/service-accounts"),
            400,
            "invalid-parameter",
            None,
        ),
        (get(&item("0123456789abcdef")), 404, "not-found", None),
        (
            get(COLLECTION).query("cursor", "dGFtcGVyZWQ"),
            400,
            "invalid-cursor",
            None,
        ),
        (
            get(COLLECTION).query("limit", "0"),
            400,
            "invalid-parameter",
            None,
        ),
        (
            get(COLLECTION).query("limit", "101"),
            400,
            "invalid-parameter",
            None,
        ),
        (
            get(COLLECTION).query("limit", "ten"),
            400,
            "invalid-parameter",
            None,
        ),
        (
            get(COLLECTION).query("limt", "10"),
            400,
            "invalid-parameter",
            None,
        ),
        (
            ApiCall::new(Shape::HttpV2, "PUT", COLLECTION).bearer(&admin),
            405,
            "method-not-allowed",
            None,
        ),
        (get("/v1/orgs/acme/nothing"), 404, "not-found", None),
    ];
    let before = world.tables.snapshot().await.unwrap();
    for (call, status, kind, field) in cases {
        let description = format!("{} {:?}", call.event()["rawPath"], call.event().get("body"));
        let reply = world.accounts(call).await;
        assert_eq!(reply.status, status, "{description}: {:?}", reply.body);
        reply.assert_problem(status, kind);
        if let Some(field) = field {
            let fields: Vec<&str> = reply.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap())
                .collect();
            assert!(fields.contains(&field), "{description}: {fields:?}");
        }
        if status == 405 {
            assert_eq!(reply.header("allow"), Some("POST, GET"));
        }
    }
    assert_eq!(
        world.tables.snapshot().await.unwrap(),
        before,
        "bad input changed the table"
    );
}

#[tokio::test]
async fn error_messages_never_echo_a_secret_pasted_into_the_wrong_field() {
    let world = AdminWorld::new().await;
    let admin = world.acme.token.clone();
    let secret = world.acme.token.clone();
    for body in [
        json!({"name": "ok", "roles": [secret]}),
        json!({"name": "ok", "ipAllowlist": [secret]}),
        json!({"name": "ok", "roles": secret}),
        json!({"name": "ok", secret.clone(): 1}),
        json!({"name": "ok", "grants": [{"resource": "x", "level": "read", secret.clone(): 1}]}),
        json!({"name": ["ok", secret]}),
    ] {
        let reply = world
            .accounts(
                ApiCall::new(Shape::HttpV2, "POST", COLLECTION)
                    .bearer(&admin)
                    .json(body),
            )
            .await;
        assert_eq!(reply.status, 422);
        assert!(
            !reply.body.to_string().contains(&secret[8..40]),
            "{}",
            reply.body
        );
    }
}

#[tokio::test]
async fn pagination_walks_250_accounts_with_no_duplicates_or_gaps() {
    let world = AdminWorld::new().await;
    let mut expected: HashSet<String> = HashSet::from([world.acme.account.to_string()]);
    let actor = shared::model::Actor::system("tests");
    let mut creates = Vec::new();
    for i in 0..250 {
        let account = ServiceAccount::new(
            world.acme.org.clone(),
            ServiceAccountId::generate().unwrap(),
            NewServiceAccount {
                name: DisplayName::parse(&format!("bot-{i}")).unwrap(),
                description: None,
                roles: Roles::new([Role::Reader]),
                grants: Default::default(),
                ip_allowlist: IpAllowlist::default(),
            },
            actor.clone(),
            world.clock_now(),
        );
        expected.insert(account.id.to_string());
        creates.push(account);
    }
    for chunk in creates.chunks(25) {
        let writes = chunk
            .iter()
            .map(|account| world.context.store.create_account(account));
        for result in futures_join(writes).await {
            result.unwrap();
        }
    }
    // A deleted account in the middle must neither show up nor shorten a page.
    let (deleted, _) = world
        .account_with_token(
            &world.acme.org,
            Roles::new([Role::Reader]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await;
    let reply = world
        .accounts(
            ApiCall::new(Shape::RestV1, "DELETE", &item(deleted.as_str()))
                .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(reply.status, 204);

    for (shape, limit, pages) in [
        (Shape::RestV1, Some("100"), 3),
        (Shape::HttpV2, None, 6),
        (Shape::FunctionUrl, Some("7"), 36),
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut page_count = 0;
        loop {
            let mut call = ApiCall::new(shape, "GET", COLLECTION).bearer(&world.acme.token);
            if let Some(limit) = limit {
                call = call.query("limit", limit);
            }
            if let Some(cursor) = &cursor {
                call = call.query("cursor", cursor);
            }
            let reply = world.accounts(call).await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
            page_count += 1;
            let items = reply.body["items"].as_array().unwrap();
            let full = limit.map_or(50, |l| l.parse().unwrap());
            seen.extend(items.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
            match reply.body["nextCursor"].as_str() {
                Some(next) => {
                    assert_eq!(items.len(), full, "only the last page may be short");
                    cursor = Some(next.to_owned());
                }
                None => break,
            }
        }
        assert_eq!(page_count, pages, "{shape:?}");
        assert_eq!(seen.len(), 251, "{shape:?}: no duplicates");
        assert_eq!(
            seen.into_iter().collect::<HashSet<_>>(),
            expected,
            "{shape:?}: no gaps"
        );
    }
}

async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.collect();
    let mut out = Vec::with_capacity(handles.len());
    for future in handles {
        out.push(future.await);
    }
    out
}

#[tokio::test]
async fn two_concurrent_updates_with_the_same_if_match_give_one_success_and_one_409() {
    let world = AdminWorld::new().await;
    let admin = world.acme.token.clone();
    let (id, _) = world
        .account_with_token(
            &world.acme.org,
            Roles::new([Role::Reader]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await;
    let path = item(id.as_str());
    for round in 1..=5u64 {
        let etag = format!("\"{round}\"");
        let first = ApiCall::new(Shape::HttpV2, "PATCH", &path)
            .bearer(&admin)
            .header("if-match", &etag)
            .json(json!({"name": format!("a-{round}")}));
        let second = ApiCall::new(Shape::RestV1, "PATCH", &path)
            .bearer(&admin)
            .header("if-match", &etag)
            .json(json!({"name": format!("b-{round}")}));
        let (a, b) = tokio::join!(world.accounts(first), world.accounts(second));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 409],
            "round {round}: {:?} {:?}",
            a.body,
            b.body
        );
        let winner = if a.status == 200 { &a } else { &b };
        let stored = world
            .context
            .store
            .get_account(&world.acme.org, &id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.name.as_str(), winner.body["name"].as_str().unwrap());
        assert_eq!(stored.version, round + 1);
    }
}

#[tokio::test]
async fn internal_errors_answer_a_generic_500() {
    let world = AdminWorld::new().await;
    let mut broken = world.context.clone();
    let missing = shared::config::TableName::parse("no-such-table-here").unwrap();
    broken.store = store::DynamoStore::new(world.tables.client.clone(), &missing);
    let state = accounts::AccountsState {
        admin: admin_api::AdminState::new(broken, world.identity.clone()),
        audit: world.tables.audit.clone().into(),
    };
    let call = ApiCall::new(Shape::HttpV2, "GET", COLLECTION).iam(IAM_ADMIN);
    let reply = world.call(accounts::router(state), call).await;
    reply.assert_problem(500, "internal");
    let text = reply.body.to_string();
    assert!(
        !text.contains("no-such-table-here") && !text.contains("ResourceNotFound"),
        "{text}"
    );
}

#[tokio::test]
async fn a_disabled_account_status_is_visible_and_idempotent() {
    let world = AdminWorld::new().await;
    let (id, _) = world
        .account_with_token(
            &world.acme.org,
            Roles::new([Role::Reader]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await;
    let path = format!("{}/disable", item(id.as_str()));
    for _ in 0..2 {
        let reply = world
            .accounts(ApiCall::new(Shape::HttpV2, "POST", &path).bearer(&world.acme.token))
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body["status"], "DISABLED");
        assert_eq!(
            reply.header("etag"),
            Some("\"2\""),
            "disabling twice writes once"
        );
    }
    let stored = world
        .context
        .store
        .get_account(&world.acme.org, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, AccountStatus::Disabled);
}
