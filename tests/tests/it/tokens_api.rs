//! The token admin API, self-rotation and OAuth2 client credentials, driven by real API
//! Gateway events against DynamoDB Local. Whether a token works is always checked with the
//! domain's verification code (the authorizer's), never by reading flags.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, ClientSecret, RequestTokenError, Scope as OAuthScope, TokenResponse,
    TokenUrl,
};
use serde_json::{Value, json};
use shared::access::{AccessLevel, Grant, Grants, IpAllowlist, ResourceName, Role, Roles};
use shared::authn::Principal;
use shared::ids::ServiceAccountId;
use shared::model::{Actor, ActorKind, NewServiceAccount, ServiceAccount};
use shared::text::DisplayName;
use tests::admin::AdminWorld;
use tests::events::{ApiCall, Shape};
use tests::logs::CapturedLogs;
use time::Duration;

async fn principal(world: &AdminWorld, token: &str) -> Option<Principal> {
    world.principal(token).await
}

async fn works(world: &AdminWorld, token: &str) -> bool {
    world.works(token).await
}

/// A service account with `roles` and a `brain-1: write` grant, created in the store.
async fn account(world: &AdminWorld, roles: Roles) -> ServiceAccountId {
    let account = ServiceAccount::new(
        world.acme.org.clone(),
        ServiceAccountId::generate().unwrap(),
        NewServiceAccount {
            name: DisplayName::parse("ci").unwrap(),
            description: None,
            roles,
            grants: Grants::parse(vec![Grant {
                resource: ResourceName::parse("brain-1").unwrap(),
                level: AccessLevel::Write,
            }])
            .unwrap(),
            ip_allowlist: IpAllowlist::default(),
        },
        Actor::new(ActorKind::Operator, "tests"),
        world.clock_now(),
    );
    world.context.store.create_account(&account).await.unwrap();
    account.id
}

fn tokens_path(account: &ServiceAccountId) -> String {
    format!("/v1/orgs/acme/service-accounts/{account}/tokens")
}

/// A token's status as the admin API reads it (not presenting the token: presenting one
/// rotated away is a reuse).
async fn status(world: &AdminWorld, path: &str, token: &Value) -> String {
    let reply = world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "GET",
                &format!("{path}/{}", token["id"].as_str().unwrap()),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["status"].as_str().unwrap().to_owned()
}

/// Mints through the API; returns the response body.
async fn mint(world: &AdminWorld, account: &ServiceAccountId, body: Value) -> Value {
    let reply = world
        .tokens(
            ApiCall::new(Shape::HttpV2, "POST", &tokens_path(account))
                .bearer(&world.acme.token)
                .json(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

#[tokio::test]
async fn the_mint_response_holds_the_secret_and_nothing_later_does() {
    let world = AdminWorld::new().await;
    let logs = CapturedLogs::global();
    let id = account(&world, Roles::new([Role::Writer])).await;
    let path = tokens_path(&id);
    let reply = world
        .tokens(
            ApiCall::new(Shape::RestV1, "POST", &path)
                .bearer(&world.acme.token)
                .json(json!({"name": "deploy", "description": "CD pipeline", "lifetime": "90d", "scopes": ["reader", "brain-1:read"]})),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let secret = reply.body["token"].as_str().unwrap().to_owned();
    let token_id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.header("location"),
        Some(format!("/testStage{path}/{token_id}").as_str())
    );
    assert_eq!(reply.body["displayPrefix"], format!("svc_{token_id}"));
    assert_eq!(reply.body["status"], "active");
    assert_eq!(reply.body["scopes"], json!(["reader", "brain-1:read"]));
    let expires = time::OffsetDateTime::parse(
        reply.body["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((expires - world.clock_now() - Duration::days(90)).abs() < Duration::seconds(2));
    let principal = principal(&world, &secret)
        .await
        .expect("the minted token works");
    assert_eq!(principal.permissions.roles, Roles::new([Role::Reader]));

    // Nothing after the mint shows the secret: reads, lists, the table, the logs.
    let secret_part = &secret[secret.rfind('_').unwrap() + 1..];
    let later = [
        world
            .tokens(ApiCall::new(Shape::HttpV2, "GET", &path).bearer(&world.acme.token))
            .await,
        world
            .tokens(
                ApiCall::new(Shape::HttpV2, "GET", &format!("{path}/{token_id}"))
                    .bearer(&world.acme.token),
            )
            .await,
        world
            .tokens(
                ApiCall::new(Shape::HttpV2, "GET", "/v1/orgs/acme/tokens")
                    .bearer(&world.acme.token),
            )
            .await,
    ];
    for reply in &later {
        assert_eq!(reply.status, 200);
        let text = reply.body.to_string();
        assert!(text.contains(&token_id), "the token is listed");
        assert!(!text.contains(secret_part), "{text}");
        assert!(reply.body.get("token").is_none());
    }
    for item in world.tables.snapshot().await.unwrap() {
        assert!(!item.contains(secret_part), "{item}");
    }
    let logged = logs.text();
    assert!(
        logged.contains(&format!("svc_{token_id}")),
        "the display prefix is logged"
    );
    assert!(!logged.contains(secret_part));
    assert!(!logged.contains(&world.acme.token[world.acme.token.rfind('_').unwrap() + 1..]));
}

#[tokio::test]
async fn lifetimes_beyond_the_policy_and_wider_scopes_are_refused_and_change_nothing() {
    let world = AdminWorld::new().await;
    let id = account(&world, Roles::new([Role::Writer])).await;
    let path = tokens_path(&id);
    let far = (world.clock_now() + Duration::days(400))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let past = (world.clock_now() - Duration::days(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let cases = [
        (json!({"name": "t", "lifetime": "2y"}), "lifetime"),
        (json!({"name": "t", "lifetime": "5y"}), "lifetime"),
        (json!({"name": "t", "lifetime": "never"}), "lifetime"),
        (json!({"name": "t", "lifetime": "1w"}), "lifetime"),
        (json!({"name": "t", "expiresAt": far}), "expiresAt"),
        (json!({"name": "t", "expiresAt": past}), "expiresAt"),
        (json!({"name": "t", "expiresAt": "tomorrow"}), "expiresAt"),
        (
            json!({"name": "t", "lifetime": "1d", "expiresAt": far}),
            "expiresAt",
        ),
        (json!({"name": "t", "scopes": ["admin"]}), "scopes"),
        (json!({"name": "t", "scopes": ["brain-1:owner"]}), "scopes"),
        (json!({"name": "t", "scopes": ["brain-2:read"]}), "scopes"),
        (json!({"name": "t", "scopes": ["root"]}), "scopes[0]"),
        (json!({"name": "t\u{0}"}), "name"),
        (json!({"name": "t", "secret": "x"}), "secret"),
    ];
    let before = world.tables.snapshot().await.unwrap();
    for (body, field) in cases {
        let reply = world
            .tokens(
                ApiCall::new(Shape::HttpV2, "POST", &path)
                    .bearer(&world.acme.token)
                    .json(body.clone()),
            )
            .await;
        reply.assert_problem(422, "validation");
        let fields: Vec<&str> = reply.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body}: {fields:?}");
    }
    // The same org-wide: no scopes at all is refused too.
    let reply = world
        .tokens(
            ApiCall::new(Shape::HttpV2, "POST", "/v1/orgs/acme/service-tokens")
                .bearer(&world.acme.token)
                .json(json!({"name": "t"})),
        )
        .await;
    reply.assert_problem(422, "validation");
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn revoke_revoke_all_and_rotate_leave_exactly_the_right_tokens_valid() {
    let world = AdminWorld::new().await;
    let id = account(&world, Roles::new([Role::Writer])).await;
    let other = account(&world, Roles::new([Role::Reader])).await;
    let path = tokens_path(&id);
    let a = mint(&world, &id, json!({"name": "a"})).await;
    let b = mint(&world, &id, json!({"name": "b", "scopes": ["reader"]})).await;
    let c = mint(&world, &id, json!({"name": "c"})).await;
    let elsewhere = mint(&world, &other, json!({"name": "other"})).await;
    let secret = |minted: &Value| minted["token"].as_str().unwrap().to_owned();

    // Revoke one: only it stops; it stays listed as revoked with who and when.
    let reply = world
        .tokens(
            ApiCall::new(
                Shape::RestV1,
                "DELETE",
                &format!("{path}/{}", a["id"].as_str().unwrap()),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(reply.status, 204);
    assert!(!works(&world, &secret(&a)).await);
    assert!(works(&world, &secret(&b)).await && works(&world, &secret(&c)).await);
    let read = world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "GET",
                &format!("{path}/{}", a["id"].as_str().unwrap()),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(read.body["status"], "revoked");
    assert_eq!(
        read.body["revokedBy"],
        json!({"kind": "service_account", "id": world.acme.account.as_str()})
    );
    let again = world
        .tokens(
            ApiCall::new(
                Shape::RestV1,
                "DELETE",
                &format!("{path}/{}", a["id"].as_str().unwrap()),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(again.status, 204, "revoking twice is fine");

    // Rotate without grace: the old one dies at once, the new one works, same name and scopes.
    let rotated = world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "POST",
                &format!("{path}/{}/rotate", b["id"].as_str().unwrap()),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(rotated.status, 201, "{:?}", rotated.body);
    assert_eq!(rotated.body["name"], "b");
    assert_eq!(rotated.body["scopes"], json!(["reader"]));
    assert_eq!(rotated.body["rotatedFrom"], b["id"]);
    assert!(works(&world, &secret(&rotated.body)).await);
    // The old one is revoked at once (presenting it would be a reuse, which ends the whole
    // lineage: tested on its own in the lineage tests).
    assert_eq!(status(&world, &path, &b).await, "revoked");
    let rotate_again = world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "POST",
                &format!("{path}/{}/rotate", b["id"].as_str().unwrap()),
            )
            .bearer(&world.acme.token),
        )
        .await;
    rotate_again.assert_problem(409, "conflict");

    // Rotate with a grace period: both work until it ends, then only the new one.
    let graceful = world
        .tokens(
            ApiCall::new(
                Shape::FunctionUrl,
                "POST",
                &format!("{path}/{}/rotate", c["id"].as_str().unwrap()),
            )
            .bearer(&world.acme.token)
            .json(json!({"gracePeriodSeconds": 3600})),
        )
        .await;
    assert_eq!(graceful.status, 201);
    assert!(
        works(&world, &secret(&c)).await,
        "the old token works during the grace period"
    );
    assert!(works(&world, &secret(&graceful.body)).await);
    world.clock.advance(Duration::seconds(3601));
    assert!(works(&world, &secret(&graceful.body)).await);
    assert_eq!(
        status(&world, &path, &c).await,
        "revoked",
        "and stops when it ends"
    );
    for grace in [
        json!({"gracePeriodSeconds": 604_801}),
        json!({"gracePeriodSeconds": -1}),
        json!({"grace": 5}),
    ] {
        let reply = world
            .tokens(
                ApiCall::new(
                    Shape::HttpV2,
                    "POST",
                    &format!("{path}/{}/rotate", graceful.body["id"].as_str().unwrap()),
                )
                .bearer(&world.acme.token)
                .json(grace),
            )
            .await;
        reply.assert_problem(422, "validation");
    }

    // Revoke all: every token of this account stops, the other account's keeps working.
    let all = world
        .tokens(ApiCall::new(Shape::HttpV2, "DELETE", &path).bearer(&world.acme.token))
        .await;
    assert_eq!(all.status, 200);
    assert_eq!(
        all.body["revoked"], 2,
        "the two live successors; the others were revoked already: {:?}",
        all.body
    );
    for minted in [&a, &b, &c, &rotated.body, &graceful.body] {
        assert!(!works(&world, &secret(minted)).await);
    }
    assert!(works(&world, &secret(&elsewhere)).await);
}

#[tokio::test]
async fn org_wide_tokens_are_minted_listed_used_and_revoked() {
    let world = AdminWorld::new().await;
    let reply = world
        .tokens(
            ApiCall::new(Shape::HttpV2, "POST", "/v1/orgs/acme/service-tokens")
                .bearer(&world.acme.token)
                .json(json!({"name": "migration", "lifetime": "1d", "scopes": ["admin"]})),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["kind"], "org");
    assert_eq!(reply.body["account"], Value::Null);
    let token = reply.body["token"].as_str().unwrap().to_owned();
    let token_id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.header("location"),
        Some(format!("/v1/orgs/acme/service-tokens/{token_id}").as_str())
    );
    let principal = principal(&world, &token).await.unwrap();
    assert_eq!(principal.account, None);

    // It administers the org, recorded as an org token.
    let created = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "POST", "/v1/orgs/acme/service-accounts")
                .bearer(&token)
                .json(json!({"name": "made-by-script"})),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.body["createdBy"],
        json!({"kind": "org_token", "id": "acme"})
    );

    let listed = world
        .tokens(
            ApiCall::new(Shape::HttpV2, "GET", "/v1/orgs/acme/service-tokens")
                .bearer(&world.acme.token),
        )
        .await;
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [token_id.as_str()]);
    let everything = world
        .tokens(
            ApiCall::new(Shape::HttpV2, "GET", "/v1/orgs/acme/tokens").bearer(&world.acme.token),
        )
        .await;
    assert_eq!(
        everything.body["items"].as_array().unwrap().len(),
        2,
        "the bootstrap token and the org token"
    );

    let revoked = world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "DELETE",
                &format!("/v1/orgs/acme/service-tokens/{token_id}"),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(revoked.status, 204);
    assert!(!works(&world, &token).await);
}

#[tokio::test]
async fn a_token_rotates_itself_and_is_recorded_as_its_account() {
    let world = AdminWorld::new().await;
    let id = account(&world, Roles::new([Role::Reader])).await;
    let minted = mint(&world, &id, json!({"name": "pipeline"})).await;
    let old = minted["token"].as_str().unwrap().to_owned();
    let reply = world
        .tokens(
            ApiCall::new(Shape::HttpV2, "POST", "/v1/tokens/self/rotate")
                .bearer(&old)
                .json(json!({"gracePeriodSeconds": 60})),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let new = reply.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        reply.body["createdBy"],
        json!({"kind": "service_account", "id": id.as_str()})
    );
    assert!(works(&world, &old).await && works(&world, &new).await);
    world.clock.advance(Duration::seconds(61));
    assert!(works(&world, &new).await);
    let stored_old = world
        .context
        .store
        .get_token(
            &world.acme.org,
            &shared::token::TokenOwner::Account(id.clone()),
            &shared::ids::TokenId::parse(minted["id"].as_str().unwrap()).unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let revoked_by = stored_old.revoked_by.unwrap();
    assert_eq!(
        (revoked_by.kind, revoked_by.id.as_str()),
        (ActorKind::ServiceAccount, id.as_str())
    );

    // The old token cannot rotate again (it is a reuse, which ends the lineage); garbage
    // and nothing are 401.
    let again = world
        .tokens(ApiCall::new(Shape::HttpV2, "POST", "/v1/tokens/self/rotate").bearer(&old))
        .await;
    again.assert_problem(401, "unauthenticated");
    let nothing = world
        .tokens(ApiCall::new(
            Shape::HttpV2,
            "POST",
            "/v1/tokens/self/rotate",
        ))
        .await;
    nothing.assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn token_routes_keep_to_the_organization_and_to_admins() {
    let world = AdminWorld::new().await;
    let other = world.bootstrap_org("other").await;
    let id = account(&world, Roles::new([Role::Writer])).await;
    let minted = mint(&world, &id, json!({"name": "a"})).await;
    let writer_token = minted["token"].as_str().unwrap().to_owned();
    let path = tokens_path(&id);
    let token_path = format!("{path}/{}", minted["id"].as_str().unwrap());
    let before = world.tables.snapshot().await.unwrap();
    let routes = [
        ("POST", path.clone()),
        ("GET", path.clone()),
        ("DELETE", path.clone()),
        ("GET", token_path.clone()),
        ("DELETE", token_path.clone()),
        ("POST", format!("{token_path}/rotate")),
        ("POST", "/v1/orgs/acme/service-tokens".to_owned()),
        ("GET", "/v1/orgs/acme/service-tokens".to_owned()),
        ("GET", "/v1/orgs/acme/tokens".to_owned()),
    ];
    for (method, route) in &routes {
        let body = json!({"name": "x", "scopes": ["reader"]});
        let foreign = world
            .tokens(
                ApiCall::new(Shape::RestV1, method, route)
                    .bearer(&other.token)
                    .json(body.clone()),
            )
            .await;
        foreign.assert_problem(404, "not-found");
        let non_admin = world
            .tokens(
                ApiCall::new(Shape::RestV1, method, route)
                    .bearer(&writer_token)
                    .json(body),
            )
            .await;
        non_admin.assert_problem(403, "forbidden");
    }
    assert_eq!(world.tables.snapshot().await.unwrap(), before);

    // Tokens of a disabled account are not minted.
    world
        .accounts(
            ApiCall::new(
                Shape::HttpV2,
                "POST",
                &format!("/v1/orgs/acme/service-accounts/{id}/disable"),
            )
            .bearer(&world.acme.token),
        )
        .await;
    let reply = world
        .tokens(
            ApiCall::new(Shape::HttpV2, "POST", &path)
                .bearer(&world.acme.token)
                .json(json!({"name": "t"})),
        )
        .await;
    reply.assert_problem(409, "conflict");
}

// ---- OAuth2 client credentials -------------------------------------------------------------

/// An HTTP client for the `oauth2` crate that delivers its requests to the tokens handler as
/// API Gateway HTTP API events, and hands back the handler's responses.
async fn via_handler(
    world: &AdminWorld,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, std::io::Error> {
    let mut call = ApiCall::new(
        Shape::HttpV2,
        request.method().as_str(),
        request.uri().path(),
    );
    for (name, value) in request.headers() {
        call = call.header(name.as_str(), value.to_str().unwrap());
    }
    let call = call.raw_body(std::str::from_utf8(request.body()).unwrap(), None);
    let reply = world.tokens(call).await;
    let mut response = oauth2::http::Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(name.as_str(), value.as_bytes());
    }
    Ok(response.body(reply.body.to_string().into_bytes()).unwrap())
}

fn client(
    id: &str,
    secret: &str,
    auth: AuthType,
) -> BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    BasicClient::new(ClientId::new(id.to_owned()))
        .set_client_secret(ClientSecret::new(secret.to_owned()))
        .set_token_uri(TokenUrl::new("https://api.example.com/oauth2/token".to_owned()).unwrap())
        .set_auth_type(auth)
}

#[tokio::test]
async fn a_real_oauth2_client_gets_access_tokens_that_the_authorizer_accepts() {
    let world = AdminWorld::new().await;
    let id = account(&world, Roles::new([Role::Writer])).await;
    let secret = mint(&world, &id, json!({"name": "client secret"})).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let http = |request| via_handler(&world, request);

    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let response = client(id.as_str(), &secret, auth.clone())
            .exchange_client_credentials()
            .add_scope(OAuthScope::new("reader".into()))
            .request_async(&http)
            .await
            .unwrap_or_else(|error| panic!("{auth:?}: {error:?}"));
        assert_eq!(response.token_type().as_ref(), "bearer");
        let expires_in = response.expires_in().unwrap();
        assert!(
            expires_in <= std::time::Duration::from_secs(3600)
                && expires_in > std::time::Duration::from_secs(3590)
        );
        assert_eq!(response.scopes().unwrap()[0].as_str(), "reader");
        let access = response.access_token().secret();
        let principal = principal(&world, access)
            .await
            .expect("the authorizer accepts the access token");
        assert_eq!(
            principal.permissions.roles,
            Roles::new([Role::Reader]),
            "the scope narrowed it"
        );
        assert_eq!(principal.token_kind, shared::model::TokenKind::Access);
        world.clock.advance(Duration::seconds(3601));
        assert!(
            !works(&world, access).await,
            "access tokens are short-lived"
        );
        assert!(works(&world, &secret).await);
    }

    // A wider scope is invalid_scope; a wrong secret or a disabled account is invalid_client.
    let wider = client(id.as_str(), &secret, AuthType::BasicAuth)
        .exchange_client_credentials()
        .add_scope(OAuthScope::new("admin".into()))
        .request_async(&http)
        .await;
    match wider {
        Err(RequestTokenError::ServerResponse(error)) => {
            assert_eq!(error.error().as_ref(), "invalid_scope")
        }
        other => panic!("{other:?}"),
    }
    let other_secret = mint(
        &world,
        &account(&world, Roles::new([Role::Reader])).await,
        json!({"name": "x"}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for (client_id, client_secret) in [
        (id.as_str(), "svc_garbage"),
        (id.as_str(), other_secret.as_str()),
    ] {
        let refused = client(client_id, client_secret, AuthType::BasicAuth)
            .exchange_client_credentials()
            .request_async(&http)
            .await;
        match refused {
            Err(RequestTokenError::ServerResponse(error)) => {
                assert_eq!(error.error().as_ref(), "invalid_client")
            }
            other => panic!("{other:?}"),
        }
    }
    world
        .accounts(
            ApiCall::new(
                Shape::HttpV2,
                "POST",
                &format!("/v1/orgs/acme/service-accounts/{id}/disable"),
            )
            .bearer(&world.acme.token),
        )
        .await;
    let disabled = client(id.as_str(), &secret, AuthType::BasicAuth)
        .exchange_client_credentials()
        .request_async(&http)
        .await;
    match disabled {
        Err(RequestTokenError::ServerResponse(error)) => {
            assert_eq!(error.error().as_ref(), "invalid_client")
        }
        other => panic!("a disabled account got a token: {other:?}"),
    }
}

#[tokio::test]
async fn the_token_endpoint_answers_every_rfc_6749_error_case() {
    let world = AdminWorld::new().await;
    let id = account(&world, Roles::new([Role::Writer])).await;
    let secret = mint(&world, &id, json!({"name": "client secret"})).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = "application/x-www-form-urlencoded";
    let post = |body: &str| {
        ApiCall::new(Shape::HttpV2, "POST", "/oauth2/token").raw_body(body, Some(form))
    };
    let creds = format!("client_id={id}&client_secret={secret}");
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    );
    let cases = [
        (
            post(&format!("{creds}&grant_type=client_credentials")),
            200,
            None,
        ),
        // Unrecognized parameters are ignored, repeated or not (RFC 6749 §3.2); only the
        // recognized ones may not repeat.
        (
            post(&format!(
                "{creds}&grant_type=client_credentials&audience=a&audience=b&resource=x"
            )),
            200,
            None,
        ),
        (post(&creds), 400, Some("invalid_request")),
        (
            post(&format!("{creds}&grant_type=password")),
            400,
            Some("unsupported_grant_type"),
        ),
        (
            post(&format!(
                "{creds}&grant_type=client_credentials&grant_type=client_credentials"
            )),
            400,
            Some("invalid_request"),
        ),
        (
            post(&format!("{creds}&grant_type=client_credentials")).header("authorization", &basic),
            400,
            Some("invalid_request"),
        ),
        (
            ApiCall::new(Shape::HttpV2, "POST", "/oauth2/token")
                .json(json!({"grant_type": "client_credentials"})),
            400,
            Some("invalid_request"),
        ),
        (
            post("grant_type=client_credentials"),
            401,
            Some("invalid_client"),
        ),
        (
            post(&format!(
                "client_id={id}&client_secret=wrong&grant_type=client_credentials"
            )),
            401,
            Some("invalid_client"),
        ),
        (
            post(&format!(
                "client_id=0123456789abcdef&client_secret={secret}&grant_type=client_credentials"
            )),
            401,
            Some("invalid_client"),
        ),
        (
            post("grant_type=client_credentials").header("authorization", "Basic !!!"),
            401,
            Some("invalid_client"),
        ),
        (
            post(&format!(
                "{creds}&grant_type=client_credentials&scope=brain-1:owner"
            )),
            400,
            Some("invalid_scope"),
        ),
        (
            post(&format!("{creds}&grant_type=client_credentials&scope=root")),
            400,
            Some("invalid_scope"),
        ),
        (
            ApiCall::new(Shape::HttpV2, "GET", "/oauth2/token"),
            405,
            Some("invalid_request"),
        ),
    ];
    for (call, status, error) in cases {
        let description = format!("{:?}", call.event()["body"]);
        let reply = world.tokens(call).await;
        assert_eq!(reply.status, status, "{description}: {:?}", reply.body);
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("content-type"), Some("application/json"));
        match error {
            None => {
                assert_eq!(reply.body["token_type"], "Bearer");
                assert!(works(&world, reply.body["access_token"].as_str().unwrap()).await);
            }
            Some(error) => {
                assert_eq!(reply.body["error"], error, "{description}");
                assert!(
                    !reply
                        .body
                        .to_string()
                        .contains(&secret[secret.rfind('_').unwrap() + 1..])
                );
                if status == 401 {
                    assert!(
                        reply
                            .header("www-authenticate")
                            .unwrap()
                            .starts_with("Basic")
                    );
                }
            }
        }
    }
    // An access token is not a client secret, and cannot rotate itself.
    let access = world
        .tokens(post(&format!("{creds}&grant_type=client_credentials")))
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = world
        .tokens(post(&format!(
            "client_id={id}&client_secret={access}&grant_type=client_credentials"
        )))
        .await;
    assert_eq!(reply.body["error"], "invalid_client");
    let reply = world
        .tokens(ApiCall::new(Shape::HttpV2, "POST", "/v1/tokens/self/rotate").bearer(&access))
        .await;
    reply.assert_problem(409, "conflict");
}

#[tokio::test]
async fn revoking_a_client_secret_revokes_the_access_tokens_issued_for_it() {
    let world = AdminWorld::new().await;
    let id = account(&world, Roles::new([Role::Writer])).await;
    let minted = mint(&world, &id, json!({"name": "client secret"})).await;
    let other = mint(&world, &id, json!({"name": "other secret"})).await;
    let exchange = |secret: &str| {
        ApiCall::new(Shape::HttpV2, "POST", "/oauth2/token").raw_body(
            &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
            Some("application/x-www-form-urlencoded"),
        )
    };
    let access = world
        .tokens(exchange(minted["token"].as_str().unwrap()))
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let unrelated = world
        .tokens(exchange(other["token"].as_str().unwrap()))
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(works(&world, &access).await && works(&world, &unrelated).await);
    let path = format!("{}/{}", tokens_path(&id), minted["id"].as_str().unwrap());
    let reply = world
        .tokens(ApiCall::new(Shape::HttpV2, "DELETE", &path).bearer(&world.acme.token))
        .await;
    assert_eq!(reply.status, 204);
    assert!(
        !works(&world, &access).await,
        "the leaked secret's access token dies with it"
    );
    assert!(
        works(&world, &unrelated).await,
        "another secret's access token lives on"
    );
}

#[tokio::test]
async fn an_admins_rotation_keeps_the_lifetime_the_token_was_minted_with() {
    let world = AdminWorld::new().await;
    let id = account(&world, Roles::new([Role::Reader])).await;
    let short = mint(&world, &id, json!({"name": "short", "lifetime": "1h"})).await;
    world.clock.advance(Duration::minutes(30));
    let reply = world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "POST",
                &format!(
                    "{}/{}/rotate",
                    tokens_path(&id),
                    short["id"].as_str().unwrap()
                ),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let rfc = &time::format_description::well_known::Rfc3339;
    let expires =
        time::OffsetDateTime::parse(reply.body["expiresAt"].as_str().unwrap(), rfc).unwrap();
    let lifetime = expires - world.clock_now();
    assert!(
        (lifetime - Duration::hours(1)).abs() < Duration::seconds(2),
        "a 1h token rotates into a 1h token, not {lifetime}"
    );
}

#[tokio::test]
async fn a_blank_scope_does_not_widen_a_scoped_client_secret() {
    let world = AdminWorld::new().await;
    let id = account(&world, Roles::new([Role::Admin])).await;
    let scoped = mint(
        &world,
        &id,
        json!({"name": "narrow", "scopes": ["brain-1:read"]}),
    )
    .await;
    for scope in ["&scope=", "&scope=%20%20"] {
        let body = format!(
            "grant_type=client_credentials&client_id={id}&client_secret={}{scope}",
            scoped["token"].as_str().unwrap()
        );
        let reply = world
            .tokens(
                ApiCall::new(Shape::HttpV2, "POST", "/oauth2/token")
                    .raw_body(&body, Some("application/x-www-form-urlencoded")),
            )
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(
            reply.body["scope"], "brain-1:read",
            "the client's own scopes apply"
        );
        let principal = principal(&world, reply.body["access_token"].as_str().unwrap())
            .await
            .unwrap();
        assert!(
            !principal.permissions.roles.at_least(Role::Reader),
            "no role: the secret had none"
        );
    }
}
