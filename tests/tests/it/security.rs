//! The security review's findings (issue 12), one test each: forged identity claims, access
//! tokens outliving their client secret, races between an exchange and a revocation,
//! revocation of a rotated lineage, the authorizer's cache and resource scoping, time bounds
//! at the ends of the calendar, and paths spelled so that readers could disagree on them.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use admin_api::identity::IdentitySources;
use authorizer::{Authorizer, AuthorizerConfig};
use serde_json::{Value, json};
use shared::access::{AccessLevel, Grant, Grants, IpAllowlist, ResourceName, Role, Roles, Scopes};
use shared::ids::ServiceAccountId;
use shared::model::{
    Actor, ActorKind, NewServiceAccount, NewToken, ServiceAccount, Token, TokenKind,
};
use shared::text::DisplayName;
use shared::token::{ParsedToken, TokenOwner, TokenSecret};
use store::StoreError;
use tests::admin::{AdminWorld, IAM_ADMIN, Reply};
use tests::events::{ARN_BASE, ApiCall, AuthorizerShape, Shape, authorizer_event};
use time::Duration;

const ACCOUNTS: &str = "/v1/orgs/acme/service-accounts";

/// A writer account with a `brain-42: read` grant in `org`, and a token for it.
async fn writer_in(world: &AdminWorld, org: &shared::ids::OrgId) -> (ServiceAccountId, String) {
    let account = ServiceAccount::new(
        org.clone(),
        ServiceAccountId::generate().unwrap(),
        NewServiceAccount {
            name: DisplayName::parse("ci").unwrap(),
            description: None,
            roles: Roles::new([Role::Writer]),
            grants: Grants::parse(vec![Grant {
                resource: ResourceName::parse("brain-42").unwrap(),
                level: AccessLevel::Read,
            }])
            .unwrap(),
            ip_allowlist: IpAllowlist::default(),
        },
        Actor::new(ActorKind::Operator, "tests"),
        world.clock_now(),
    );
    world.context.store.create_account(&account).await.unwrap();
    let token = world.mint(org, &account.id, Scopes::default()).await;
    (account.id, token)
}

async fn exchange(world: &AdminWorld, account: &ServiceAccountId, secret: &str) -> Reply {
    let form = format!("grant_type=client_credentials&client_id={account}&client_secret={secret}");
    world
        .tokens(
            ApiCall::new(Shape::HttpV2, "POST", "/oauth2/token")
                .raw_body(&form, Some("application/x-www-form-urlencoded")),
        )
        .await
}

fn token_path(account: &ServiceAccountId, token: &str) -> String {
    format!("{ACCOUNTS}/{account}/tokens/{}", &token[4..20])
}

// 1. An authorizer context or an IAM identity is trusted only where the deployment says.
#[tokio::test]
async fn a_forged_authorizer_context_or_iam_identity_administers_nothing() {
    let world = AdminWorld::new().await;
    let before = world.tables.snapshot().await.unwrap();
    let forged = json!({
        "org": "acme", "account": world.acme.account.as_str(), "tokenId": "0123456789abcdef",
        "tokenKind": "service_account", "roles": "admin", "grants": "", "scopes": ""
    });
    for shape in Shape::ALL {
        let create = || ApiCall::new(shape, "POST", ACCOUNTS).json(json!({"name": "planted"}));
        // A direct invoker's hand-made context: this deployment has no authorizer in front
        // of its admin routes, so the context is no identity at all.
        let reply = world
            .accounts(create().authorizer_context(forged.as_object().unwrap().clone()))
            .await;
        reply.assert_problem(401, "unauthenticated");
        // An IAM identity from an API or URL the deployment does not name for IAM.
        let reply = world
            .accounts(create().iam(IAM_ADMIN).via_api("unknownapi1"))
            .await;
        reply.assert_problem(401, "unauthenticated");
    }
    // With IAM administration off, no IAM identity counts, from any API.
    let closed = AdminWorld::with_identity(IdentitySources::default()).await;
    let closed_before = closed.tables.snapshot().await.unwrap();
    for shape in Shape::ALL {
        let reply = closed
            .accounts(
                ApiCall::new(shape, "POST", ACCOUNTS)
                    .iam(IAM_ADMIN)
                    .json(json!({"name": "planted"})),
            )
            .await;
        reply.assert_problem(401, "unauthenticated");
    }
    assert_eq!(
        world.tables.snapshot().await.unwrap(),
        before,
        "nothing written"
    );
    assert_eq!(closed.tables.snapshot().await.unwrap(), closed_before);
}

// 2. Access tokens die with (or at the end of the grace period of) their client secret; the
//    sweep can be retried; the live ones are bounded.
#[tokio::test]
async fn rotating_a_client_secret_ends_its_access_tokens_at_the_end_of_the_grace_period() {
    let world = AdminWorld::new().await;
    let (account, secret) = writer_in(&world, &world.acme.org).await;
    let before_rotation = exchange(&world, &account, &secret).await;
    assert_eq!(before_rotation.status, 200, "{:?}", before_rotation.body);
    let early = before_rotation.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let rotated = world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "POST",
                &format!("{}/rotate", token_path(&account, &secret)),
            )
            .bearer(&world.acme.token)
            .json(json!({"gracePeriodSeconds": 600})),
        )
        .await;
    assert_eq!(rotated.status, 201, "{:?}", rotated.body);
    // During the grace period the old secret still exchanges, but for no longer than it lives.
    let during = exchange(&world, &account, &secret).await;
    assert_eq!(during.status, 200, "{:?}", during.body);
    assert!(
        during.body["expires_in"].as_i64().unwrap() <= 600,
        "{:?}",
        during.body
    );
    let late = during.body["access_token"].as_str().unwrap().to_owned();
    assert!(world.works(&early).await && world.works(&late).await);

    world.clock.advance(Duration::seconds(601));
    assert!(
        !world.works(&early).await,
        "issued before the rotation: ends with the grace"
    );
    assert!(
        !world.works(&late).await,
        "issued during the grace period: ends with it"
    );
}

#[tokio::test]
async fn revoking_a_revoked_secret_finishes_the_sweep_and_live_access_tokens_are_bounded() {
    let mut world = AdminWorld::new().await;
    world.context.access_tokens.per_secret = 3;
    let (account, secret) = writer_in(&world, &world.acme.org).await;
    for _ in 0..3 {
        assert_eq!(exchange(&world, &account, &secret).await.status, 200);
    }
    let refused = exchange(&world, &account, &secret).await;
    assert_eq!(refused.status, 429, "{:?}", refused.body);
    assert_eq!(refused.body["error"], "invalid_request");
    assert_eq!(refused.header("cache-control"), Some("no-store"));
    let retry_after: i64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let access_tokens = |items: &[tests::Item]| {
        items
            .iter()
            .filter(|item| {
                item.get("kind")
                    .and_then(|k| k.as_s().ok())
                    .map(String::as_str)
                    == Some("access")
            })
            .count()
    };
    assert_eq!(access_tokens(&world.tables.scan().await.unwrap()), 3);
    // The next window issues again.
    world.clock.advance(Duration::hours(1));
    assert_eq!(exchange(&world, &account, &secret).await.status, 200);

    // A sweep cut short (here: an access token that the first sweep never saw) is finished
    // by revoking the secret again.
    let path = token_path(&account, &secret);
    let revoke = || ApiCall::new(Shape::HttpV2, "DELETE", &path).bearer(&world.acme.token);
    assert_eq!(world.tokens(revoke()).await.status, 204);
    let parsed = ParsedToken::parse(
        &tests::test_token_format(),
        TokenSecret::new(secret.clone()),
    )
    .unwrap();
    let straggler = ParsedToken::generate(
        &tests::test_token_format(),
        &world.acme.org,
        TokenOwner::Account(account.clone()),
    )
    .unwrap();
    let mut item = Token::new(
        TokenKind::Access,
        &straggler,
        NewToken {
            name: DisplayName::parse("OAuth2 access token").unwrap(),
            description: None,
            scopes: Scopes::default(),
            expires_at: Some(world.clock_now() + Duration::minutes(30)),
        },
        Actor::new(ActorKind::ServiceAccount, account.as_str()),
        world.clock_now(),
    );
    item.issued_for = Some(parsed.id().clone());
    world.context.store.create_token(&item).await.unwrap();
    let straggler = straggler.secret().expose_secret().to_owned();
    assert!(world.works(&straggler).await);
    assert_eq!(world.tokens(revoke()).await.status, 204);
    assert!(
        !world.works(&straggler).await,
        "the repeated revocation swept it"
    );
}

// 3. An exchange that read the secret before its revocation cannot write after it.
#[tokio::test]
async fn an_exchange_cannot_land_after_its_secret_is_revoked() {
    let world = AdminWorld::new().await;
    let (account, secret) = writer_in(&world, &world.acme.org).await;
    let parsed = ParsedToken::parse(
        &tests::test_token_format(),
        TokenSecret::new(secret.clone()),
    )
    .unwrap();
    let store = &world.context.store;
    // The exchange has read the secret...
    let as_read = store
        .fetch_for_authorization(&parsed)
        .await
        .unwrap()
        .token
        .unwrap();
    // ...the admin revokes it...
    let revoked = world
        .tokens(
            ApiCall::new(Shape::HttpV2, "DELETE", &token_path(&account, &secret))
                .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(revoked.status, 204);
    // ...and the exchange's write, conditioned on what it read, does not happen.
    let access = ParsedToken::generate(
        &tests::test_token_format(),
        &world.acme.org,
        TokenOwner::Account(account.clone()),
    )
    .unwrap();
    let mut token = Token::new(
        TokenKind::Access,
        &access,
        NewToken {
            name: DisplayName::parse("OAuth2 access token").unwrap(),
            description: None,
            scopes: Scopes::default(),
            expires_at: Some(world.clock_now() + Duration::hours(1)),
        },
        Actor::new(ActorKind::ServiceAccount, account.as_str()),
        world.clock_now(),
    );
    token.issued_for = Some(as_read.id.clone());
    let outcome = store
        .create_access_token(&token, &as_read, 0, 100, None)
        .await;
    assert!(
        matches!(outcome, Err(StoreError::VersionConflict { .. })),
        "{outcome:?}"
    );
    assert!(!world.works(access.secret().expose_secret()).await);

    // The same race over HTTP: exchanges running while the secret is revoked leave no
    // working access token behind.
    let (account, secret) = writer_in(&world, &world.acme.org).await;
    let exchanges = (0..12).map(|_| exchange(&world, &account, &secret));
    let revoke = async {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        world
            .tokens(
                ApiCall::new(Shape::HttpV2, "DELETE", &token_path(&account, &secret))
                    .bearer(&world.acme.token),
            )
            .await
    };
    let (replies, revoked) = tokio::join!(futures_util::future::join_all(exchanges), revoke);
    assert_eq!(revoked.status, 204);
    for reply in replies {
        if let Some(access) = reply.body["access_token"].as_str() {
            assert!(
                !world.works(access).await,
                "an access token outlived its secret"
            );
        }
    }
}

// 4. Revocation follows rotation; an organization can turn self-rotation off.
#[tokio::test]
async fn revoking_a_stolen_token_revokes_what_the_thief_rotated_it_into() {
    let world = AdminWorld::new().await;
    let (account, stolen) = writer_in(&world, &world.acme.org).await;
    let mut held = stolen.clone();
    for _ in 0..3 {
        let reply = world
            .tokens(ApiCall::new(Shape::HttpV2, "POST", "/v1/tokens/self/rotate").bearer(&held))
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        held = reply.body["token"].as_str().unwrap().to_owned();
    }
    assert!(world.works(&held).await);
    let exchanged = exchange(&world, &account, &held).await;
    let access = exchanged.body["access_token"].as_str().unwrap().to_owned();
    let reply = world
        .tokens(
            ApiCall::new(Shape::HttpV2, "DELETE", &token_path(&account, &stolen))
                .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(reply.status, 204);
    assert!(
        !world.works(&held).await,
        "the thief's successor is revoked too"
    );
    assert!(!world.works(&access).await, "and what it exchanged");
}

#[tokio::test]
async fn an_organization_can_turn_self_rotation_off() {
    let world = AdminWorld::new().await;
    let (_, token) = writer_in(&world, &world.acme.org).await;
    let org = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "PATCH", "/v1/orgs/acme")
                .bearer(&world.acme.token)
                .json(json!({"tokenPolicy": {"allowSelfRotation": false}})),
        )
        .await;
    assert_eq!(org.status, 200, "{:?}", org.body);
    assert_eq!(org.body["tokenPolicy"]["allowSelfRotation"], false);
    let before = world.tables.snapshot().await.unwrap();
    let reply = world
        .tokens(ApiCall::new(Shape::HttpV2, "POST", "/v1/tokens/self/rotate").bearer(&token))
        .await;
    reply.assert_problem(403, "forbidden");
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
    assert!(world.works(&token).await);
}

fn authorizer_with(
    world: &AdminWorld,
    settings: &'static [(&'static str, &'static str)],
) -> Authorizer {
    let config = AuthorizerConfig::from_lookup(tests::test_token_format(), |name| {
        settings
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    let store = world
        .iam
        .store(&world.context.store, tests::iam::Function::Authorizer);
    Authorizer::with_clock(store, config, world.clock.clone())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// The authorizer's answer when it lets the request through, as API Gateway reads it.
async fn allowed(
    authorizer: &Authorizer,
    shape: AuthorizerShape,
    token: &str,
    method: &str,
    path: &str,
) -> Option<Value> {
    let event = authorizer_event(shape, Some(&bearer(token)), method, path, "198.51.100.7");
    let response = authorizer.handle(event).await.ok()?;
    let arn = format!("{ARN_BASE}/{method}{path}");
    let permits = match response.get("isAuthorized") {
        Some(authorized) => *authorized == true,
        None => infra::gateway::policy_allows(&response["policyDocument"], &arn),
    };
    permits.then_some(response)
}

// 5. The authorizer's caches: no cached Allow outlives its token.
#[tokio::test]
async fn no_cached_allow_outlives_its_token() {
    let world = AdminWorld::new().await;
    let (account, _) = writer_in(&world, &world.acme.org).await;
    let short = {
        let parsed = ParsedToken::generate(
            &tests::test_token_format(),
            &world.acme.org,
            TokenOwner::Account(account.clone()),
        )
        .unwrap();
        let token = Token::new(
            TokenKind::ServiceAccount,
            &parsed,
            NewToken {
                name: DisplayName::parse("short").unwrap(),
                description: None,
                scopes: Scopes::default(),
                expires_at: Some(world.clock_now() + Duration::seconds(100)),
            },
            Actor::new(ActorKind::Operator, "tests"),
            world.clock_now(),
        );
        world.context.store.create_token(&token).await.unwrap();
        parsed.secret().expose_secret().to_owned()
    };
    let long = world
        .mint(&world.acme.org, &account, Scopes::default())
        .await;
    // Behind API Gateway's 300 s cache, a token with 100 s left is refused: an Allow cached
    // now would pass it for 200 s after it expired.
    let behind_cache = authorizer_with(&world, &[("GATEWAY_CACHE_TTL_SECONDS", "300")]);
    let no_cache = authorizer_with(&world, &[]);
    for shape in AuthorizerShape::ALL {
        assert!(
            allowed(&behind_cache, shape, &short, "GET", "/items")
                .await
                .is_none(),
            "{shape:?}"
        );
        assert!(
            allowed(&behind_cache, shape, &long, "GET", "/items")
                .await
                .is_some(),
            "{shape:?}"
        );
        assert!(
            allowed(&no_cache, shape, &short, "GET", "/items")
                .await
                .is_some(),
            "{shape:?}"
        );
    }
    // The container's own cache keeps records for 60 s, but not past the token's expiry.
    let caching = authorizer_with(&world, &[("POSITIVE_CACHE_TTL_SECONDS", "60")]);
    assert!(
        allowed(
            &caching,
            AuthorizerShape::RestRequest,
            &short,
            "GET",
            "/items"
        )
        .await
        .is_some()
    );
    world.clock.advance(Duration::seconds(101));
    assert!(
        allowed(
            &caching,
            AuthorizerShape::RestRequest,
            &short,
            "GET",
            "/items"
        )
        .await
        .is_none()
    );
}

// 6. A grant names a resource of the caller's own organization only.
#[tokio::test]
async fn a_grant_opens_its_own_organizations_resource_only() {
    let world = AdminWorld::new().await;
    let other = world.bootstrap_org("other").await;
    let (_, theirs) = writer_in(&world, &other.org).await;
    let (_, ours) = writer_in(&world, &world.acme.org).await;
    let authorizer = authorizer_with(&world, &[("HTTP_API_RESPONSE", "iam")]);
    for shape in AuthorizerShape::ALL {
        // Org `other` granted its account `brain-42` too; acme's brain-42 stays closed to it.
        assert!(
            allowed(
                &authorizer,
                shape,
                &theirs,
                "GET",
                "/orgs/acme/brains/brain-42"
            )
            .await
            .is_none(),
            "{shape:?}"
        );
        assert!(
            allowed(
                &authorizer,
                shape,
                &ours,
                "GET",
                "/orgs/acme/brains/brain-42"
            )
            .await
            .is_some(),
            "{shape:?}"
        );
        let response = allowed(
            &authorizer,
            shape,
            &theirs,
            "GET",
            "/orgs/other/brains/brain-42",
        )
        .await
        .unwrap();
        assert_eq!(response["context"]["org"], "other");
        let resources = response["policyDocument"]["Statement"][0]["Resource"].to_string();
        assert!(
            resources.contains("/GET/orgs/other/brains/brain-42"),
            "{resources}"
        );
        assert!(
            !resources.contains("orgs/acme") && !resources.contains("orgs/*"),
            "{resources}"
        );
    }
}

// 7. Instants at the ends of the calendar are refused, not overflowed.
#[tokio::test]
async fn instants_beyond_the_calendar_are_a_400_or_422_never_a_crash() {
    let world = AdminWorld::new().await;
    for (name, value) in [
        ("until", "9999-12-31T23:59:59-01:00"),
        ("since", "0000-01-01T00:00:00+00:01"),
        ("since", "9999-12-31T23:59:59-23:59"),
    ] {
        let reply = world
            .accounts(
                ApiCall::new(Shape::HttpV2, "GET", "/v1/orgs/acme/audit-events")
                    .bearer(&world.acme.token)
                    .query(name, value),
            )
            .await;
        reply.assert_problem(400, "invalid-parameter");
    }
    let (account, _) = writer_in(&world, &world.acme.org).await;
    let before = world.tables.snapshot().await.unwrap();
    for at in [
        "9999-12-31T23:59:59-01:00",
        "0000-01-01T00:00:00+00:01",
        "-0001-01-01T00:00:00Z",
    ] {
        let reply = world
            .tokens(
                ApiCall::new(
                    Shape::HttpV2,
                    "POST",
                    &format!("{ACCOUNTS}/{account}/tokens"),
                )
                .bearer(&world.acme.token)
                .json(json!({"name": "far", "expiresAt": at})),
            )
            .await;
        reply.assert_problem(422, "validation");
    }
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
}

// 10. A path spelled so that API Gateway, IAM and the backend could read it differently is
//     refused in every event shape.
#[tokio::test]
async fn escaped_dotted_and_doubled_paths_are_refused_in_every_event_shape() {
    let world = AdminWorld::new().await;
    let (_, token) = writer_in(&world, &world.acme.org).await;
    let simple = authorizer_with(&world, &[]);
    let iam = authorizer_with(&world, &[("HTTP_API_RESPONSE", "iam")]);
    for path in [
        "/items/a%2Fb",
        "/items/a%2fb",
        "/items/%2E%2E",
        "/items/..",
        "/items/.",
        "/items/../items",
        "/items//7",
        "//items",
        "/items/",
        "/items/a\\b",
    ] {
        for shape in AuthorizerShape::ALL {
            for authorizer in [&simple, &iam] {
                assert!(
                    allowed(authorizer, shape, &token, "GET", path)
                        .await
                        .is_none(),
                    "{shape:?} {path}"
                );
            }
        }
    }
    // The canonical spelling of the same route is allowed.
    for shape in AuthorizerShape::ALL {
        assert!(
            allowed(&simple, shape, &token, "GET", "/items/7")
                .await
                .is_some()
        );
    }
}
