//! The HTTP edge through Lambda: every route family of both admin functions, driven by real
//! API Gateway REST (payload 1.0), HTTP API (payload 2.0) and function URL events into the
//! Lambda entry, with stage prefixes, base64 bodies, multi-value headers and query strings,
//! percent-encoded paths, and the layers every answer gets.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use serde_json::json;
use tests::admin::{AdminWorld, Reply};
use tests::events::{ApiCall, Shape};

const ACCOUNTS: &str = "/v1/orgs/acme/service-accounts";

fn admin(world: &AdminWorld, shape: Shape, method: &str, path: &str) -> ApiCall {
    ApiCall::new(shape, method, path).bearer(&world.acme.token)
}

fn expect(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
}

/// Every route of both functions, in order, in one event shape.
async fn every_route(world: &AdminWorld, shape: Shape) {
    let what = |route: &str| format!("{shape:?} {route}");
    // The organization.
    let org = world
        .accounts(admin(world, shape, "GET", "/v1/orgs/acme"))
        .await;
    expect(&org, 200, &what("GET org"));
    let etag = org.header("etag").unwrap().to_owned();
    let patched = world
        .accounts(
            admin(world, shape, "PATCH", "/v1/orgs/acme")
                .header("if-match", &etag)
                .json(json!({"name": "Acme"})),
        )
        .await;
    expect(&patched, 200, &what("PATCH org"));

    // Service accounts.
    let created = world
        .accounts(
            admin(world, shape, "POST", ACCOUNTS)
                .json(json!({"name": "edge", "roles": ["writer"]})),
        )
        .await;
    expect(&created, 201, &what("POST accounts"));
    let id = created.body["id"].as_str().unwrap().to_owned();
    let item = format!("{ACCOUNTS}/{id}");
    expect(
        &world.accounts(admin(world, shape, "GET", ACCOUNTS)).await,
        200,
        &what("GET accounts"),
    );
    let read = world.accounts(admin(world, shape, "GET", &item)).await;
    expect(&read, 200, &what("GET account"));
    let patched = world
        .accounts(
            admin(world, shape, "PATCH", &item)
                .header("if-match", read.header("etag").unwrap())
                .raw_body(
                    r#"{"description": "via the edge"}"#,
                    Some("application/merge-patch+json"),
                ),
        )
        .await;
    expect(&patched, 200, &what("PATCH account"));
    expect(
        &world
            .accounts(admin(world, shape, "POST", &format!("{item}/disable")))
            .await,
        200,
        &what("disable"),
    );
    expect(
        &world
            .accounts(admin(world, shape, "POST", &format!("{item}/enable")))
            .await,
        200,
        &what("enable"),
    );

    // Tokens of the account.
    let tokens = format!("{item}/tokens");
    let minted = world
        .tokens(admin(world, shape, "POST", &tokens).json(json!({"name": "ci", "lifetime": "1d"})))
        .await;
    expect(&minted, 201, &what("POST tokens"));
    let secret = minted.body["token"].as_str().unwrap().to_owned();
    let token = format!("{tokens}/{}", minted.body["id"].as_str().unwrap());
    expect(
        &world.tokens(admin(world, shape, "GET", &tokens)).await,
        200,
        &what("GET tokens"),
    );
    expect(
        &world.tokens(admin(world, shape, "GET", &token)).await,
        200,
        &what("GET token"),
    );
    let rotated = world
        .tokens(
            admin(world, shape, "POST", &format!("{token}/rotate"))
                .json(json!({"gracePeriodSeconds": 60})),
        )
        .await;
    expect(&rotated, 201, &what("rotate"));
    let successor = rotated.body["token"].as_str().unwrap().to_owned();
    let self_rotated = world
        .tokens(ApiCall::new(shape, "POST", "/v1/tokens/self/rotate").bearer(&successor))
        .await;
    expect(&self_rotated, 201, &what("self-rotate"));
    let client_secret = self_rotated.body["token"].as_str().unwrap().to_owned();
    let exchanged = world
        .tokens(ApiCall::new(shape, "POST", "/oauth2/token").raw_body(
            &format!("grant_type=client_credentials&client_id={id}&client_secret={client_secret}"),
            Some("application/x-www-form-urlencoded"),
        ))
        .await;
    expect(&exchanged, 200, &what("oauth2 token"));
    assert!(
        world
            .works(exchanged.body["access_token"].as_str().unwrap())
            .await
    );
    expect(
        &world.tokens(admin(world, shape, "DELETE", &token)).await,
        204,
        &what("DELETE token"),
    );
    assert!(!world.works(&secret).await);

    // Org-wide tokens and every token.
    let org_tokens = "/v1/orgs/acme/service-tokens";
    let org_minted = world
        .tokens(
            admin(world, shape, "POST", org_tokens)
                .json(json!({"name": "org", "scopes": ["reader"]})),
        )
        .await;
    expect(&org_minted, 201, &what("POST service-tokens"));
    let org_token = format!("{org_tokens}/{}", org_minted.body["id"].as_str().unwrap());
    expect(
        &world.tokens(admin(world, shape, "GET", org_tokens)).await,
        200,
        &what("GET service-tokens"),
    );
    expect(
        &world.tokens(admin(world, shape, "GET", &org_token)).await,
        200,
        &what("GET service-token"),
    );
    let org_rotated = world
        .tokens(admin(world, shape, "POST", &format!("{org_token}/rotate")))
        .await;
    expect(&org_rotated, 201, &what("rotate service-token"));
    let org_rotated = format!("{org_tokens}/{}", org_rotated.body["id"].as_str().unwrap());
    expect(
        &world
            .tokens(admin(world, shape, "DELETE", &org_rotated))
            .await,
        204,
        &what("DELETE service-token"),
    );
    expect(
        &world
            .tokens(admin(world, shape, "GET", "/v1/orgs/acme/tokens"))
            .await,
        200,
        &what("GET all tokens"),
    );
    let all = world.tokens(admin(world, shape, "DELETE", &tokens)).await;
    expect(&all, 200, &what("DELETE tokens"));

    // The audit trail, and the account's end.
    expect(
        &world
            .accounts(
                admin(world, shape, "GET", "/v1/orgs/acme/audit-events").query("account", &id),
            )
            .await,
        200,
        &what("GET audit-events"),
    );
    expect(
        &world.accounts(admin(world, shape, "DELETE", &item)).await,
        204,
        &what("DELETE account"),
    );
    expect(
        &world.accounts(admin(world, shape, "GET", &item)).await,
        404,
        &what("GET deleted"),
    );
}

#[tokio::test]
async fn every_route_family_answers_every_event_shape() {
    let world = AdminWorld::new().await;
    for shape in Shape::ALL {
        every_route(&world, shape).await;
    }
}

#[tokio::test]
async fn a_stage_prefix_is_routed_without_it_and_kept_in_links() {
    let world = AdminWorld::new().await;
    for (shape, stage) in [
        (Shape::RestV1, "prod"),
        (Shape::RestV1, "v1"),
        (Shape::HttpV2, "prod"),
    ] {
        let reply = world
            .accounts(
                admin(&world, shape, "POST", ACCOUNTS)
                    .stage(stage)
                    .json(json!({"name": "staged"})),
            )
            .await;
        expect(&reply, 201, &format!("{shape:?} on stage {stage}"));
        let location = reply.header("location").unwrap();
        assert!(
            location.starts_with(&format!("/{stage}/v1/orgs/acme/service-accounts/")),
            "{shape:?} {stage}: {location}"
        );
    }
}

#[tokio::test]
async fn base64_bodies_are_read_as_their_bytes() {
    let world = AdminWorld::new().await;
    for shape in Shape::ALL {
        let created = world
            .accounts(
                admin(&world, shape, "POST", ACCOUNTS)
                    .json(json!({"name": "encoded"}))
                    .base64(),
            )
            .await;
        expect(&created, 201, &format!("{shape:?} base64 JSON"));
        assert_eq!(created.body["name"], "encoded");
    }
    // A form body too (the token endpoint), and bytes that are no UTF-8 at all.
    let binary = base64::engine::general_purpose::STANDARD
        .decode("/w==")
        .unwrap();
    assert_eq!(binary, [0xff]);
    let reply = world
        .accounts(
            admin(&world, Shape::RestV1, "POST", ACCOUNTS)
                .raw_body("\u{fffd}", Some("application/json"))
                .base64(),
        )
        .await;
    reply.assert_problem(400, "malformed-body");
}

#[tokio::test]
async fn repeated_query_parameters_and_headers_arrive_as_sent() {
    let world = AdminWorld::new().await;
    for shape in Shape::ALL {
        // A filter given twice is refused, whatever the event shape's query maps say.
        let reply = world
            .accounts(
                admin(&world, shape, "GET", "/v1/orgs/acme/audit-events")
                    .query("action", "token.revoked")
                    .query("action", "token.created"),
            )
            .await;
        reply.assert_problem(400, "invalid-parameter");
        let reply = world
            .accounts(
                admin(&world, shape, "GET", ACCOUNTS)
                    .query("limit", "1")
                    .query("limit", "2"),
            )
            .await;
        reply.assert_problem(400, "invalid-parameter");
        // A header sent twice (multi-value in REST events) does not confuse the caller.
        let reply = world
            .accounts(
                admin(&world, shape, "GET", ACCOUNTS)
                    .header("x-trace", "a")
                    .header("x-trace", "b"),
            )
            .await;
        expect(&reply, 200, &format!("{shape:?} repeated header"));
    }
}

#[tokio::test]
async fn percent_encoded_paths_decode_to_their_ids_or_are_refused() {
    let world = AdminWorld::new().await;
    let before = world.tables.snapshot().await.unwrap();
    for shape in [Shape::HttpV2, Shape::FunctionUrl] {
        // `%6D` is `m`: the organization is `acme`.
        let reply = world
            .accounts(admin(
                &world,
                shape,
                "GET",
                "/v1/orgs/ac%6De/service-accounts",
            ))
            .await;
        expect(&reply, 200, &format!("{shape:?} encoded letter"));
    }
    for shape in Shape::ALL {
        for path in [
            "/v1/orgs/ac%2Fme/service-accounts",
            "/v1/orgs/acme/service-accounts/%2E%2E",
            "/v1/orgs/acme/service-accounts/0123456789abcde%00",
            "/v1/orgs/%61cme/service-accounts/..%2F..%2Fservice-tokens",
        ] {
            let reply = world.accounts(admin(&world, shape, "GET", path)).await;
            assert!(
                (400..500).contains(&reply.status),
                "{shape:?} {path}: {} {:?}",
                reply.status,
                reply.body
            );
            assert_eq!(
                reply.header("content-type"),
                Some("application/problem+json")
            );
        }
    }
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_a_request_id() {
    let world = AdminWorld::new().await;
    for shape in Shape::ALL {
        for call in [
            admin(&world, shape, "GET", ACCOUNTS),
            ApiCall::new(shape, "GET", ACCOUNTS),
            admin(&world, shape, "GET", "/v1/orgs/acme/nothing"),
            admin(&world, shape, "HEAD", ACCOUNTS),
            admin(&world, shape, "TRACE", "/v1/orgs/acme/service-tokens"),
        ] {
            let reply = world.accounts(call).await;
            assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
            assert_eq!(reply.header("x-frame-options"), Some("DENY"));
            assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
            assert!(reply.header("content-security-policy").is_some());
            assert!(
                reply
                    .header("x-request-id")
                    .is_some_and(|id| !id.is_empty())
            );
        }
        // Undeclared methods on known paths are 405 with `Allow`; HEAD is not declared.
        let head = world.accounts(admin(&world, shape, "HEAD", ACCOUNTS)).await;
        assert_eq!(head.status, 405);
        assert_eq!(head.header("allow"), Some("POST, GET"));
        let trace = world
            .tokens(admin(
                &world,
                shape,
                "TRACE",
                "/v1/orgs/acme/service-tokens",
            ))
            .await;
        trace.assert_problem(405, "method-not-allowed");
        assert_eq!(trace.header("allow"), Some("POST, GET"));
    }
}

#[tokio::test]
async fn the_route_lists_are_the_routers_routes() {
    let world = AdminWorld::new().await;
    let concrete = |path: &str| {
        path.replace("{org}", "acme")
            .replace("{id}", "0123456789abcdef")
            .replace("{tid}", "0123456789abcdef")
    };
    for (function, routes) in [("accounts", accounts::ROUTES), ("tokens", tokens::ROUTES)] {
        for (method, path) in routes {
            let call = ApiCall::new(Shape::HttpV2, method, &concrete(path));
            let reply = match function {
                "accounts" => world.accounts(call).await,
                _ => world.tokens(call).await,
            };
            let unrouted = reply.status == 405
                || (reply.status == 404 && reply.body["detail"] == "no such route");
            assert!(!unrouted, "{function}: {method} {path}: {:?}", reply.body);
        }
    }
}
