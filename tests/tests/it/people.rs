//! People sign in with their organization's identity provider (the real `oidc-provider` of
//! `tools/oidc-provider`): an admin creates an account, mints and revokes a token, and the
//! audit trail names them; an auditor reads and is refused every change; a person of no
//! mapped group, a token used on another organization, a forged token and an unreachable
//! provider are refused with nothing changed. Behind an HTTP API JWT authorizer, the claims
//! the gateway verified name the person under the same rules.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine;
use serde_json::{Map, Value, json};
use tests::admin::{AdminWorld, Reply};
use tests::events::{ApiCall, FIXTURE_API_IDS, Shape};
use tests::oidc_provider::LocalProvider;

const ORG: &str = "/v1/orgs/acme";
const ACCOUNTS: &str = "/v1/orgs/acme/service-accounts";

fn providers(issuer: &str) -> Value {
    json!({"identityProviders": [{
        "issuer": issuer,
        "audiences": ["service-accounts-admin"],
        "displayClaim": "email",
        "roles": {"claim": "groups", "admin": ["sa-admins"], "auditor": ["sa-auditors"]},
    }]})
}

async fn configure(world: &AdminWorld, body: Value) -> Reply {
    world
        .accounts(
            ApiCall::new(Shape::HttpV2, "PATCH", ORG)
                .bearer(&world.acme.token)
                .json(body),
        )
        .await
}

async fn call(
    world: &AdminWorld,
    method: &str,
    path: &str,
    jwt: &str,
    body: Option<Value>,
) -> Reply {
    let mut call = ApiCall::new(Shape::HttpV2, method, path).bearer(jwt);
    if let Some(body) = body {
        call = call.json(body);
    }
    if path.contains("tokens") {
        world.tokens(call).await
    } else {
        world.accounts(call).await
    }
}

/// The real audit writer over the table's whole stream (idempotent).
async fn sync_audit(world: &AdminWorld) -> Vec<Value> {
    tests::faulty::audit_events(world).await.unwrap()
}

#[tokio::test]
async fn an_admin_person_changes_things_and_the_audit_trail_names_them() {
    let world = AdminWorld::new().await;
    let op = LocalProvider::start().unwrap();
    let configured = configure(&world, providers(&op.issuer)).await;
    assert_eq!(configured.status, 200, "{:?}", configured.body);
    assert_eq!(configured.body["identityProviders"][0]["issuer"], op.issuer);
    assert_eq!(
        configured.body["identityProviders"][0]["roles"]["admin"],
        json!(["sa-admins"])
    );

    let ada = op.token_for("ada").await.unwrap();
    let created = call(
        &world,
        "POST",
        ACCOUNTS,
        &ada,
        Some(json!({"name": "made-by-ada", "roles": ["reader"]})),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        created.body["createdBy"],
        json!({"kind": "person", "id": "ada", "issuer": op.issuer, "display": "ada@example.com"})
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    let minted = call(
        &world,
        "POST",
        &format!("{ACCOUNTS}/{id}/tokens"),
        &ada,
        Some(json!({"name": "ci"})),
    )
    .await;
    assert_eq!(minted.status, 201, "{:?}", minted.body);
    let token_id = minted.body["id"].as_str().unwrap().to_owned();
    let revoked = call(
        &world,
        "DELETE",
        &format!("{ACCOUNTS}/{id}/tokens/{token_id}"),
        &ada,
        None,
    )
    .await;
    assert_eq!(revoked.status, 204, "{:?}", revoked.body);

    // The auditor reads the trail, filtered by the person.
    sync_audit(&world).await;
    let grace = op.token_for("grace").await.unwrap();
    for person in ["ada@example.com", "ada"] {
        let trail = call(
            &world,
            "GET",
            &format!("/v1/orgs/acme/audit-events?person={person}"),
            &grace,
            None,
        )
        .await;
        assert_eq!(trail.status, 200, "{:?}", trail.body);
        let actions: Vec<&str> = trail.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            ["token.revoked", "token.created", "service_account.created"],
            "{person}"
        );
        for event in trail.body["items"].as_array().unwrap() {
            assert_eq!(event["actor"]["kind"], "person");
            assert_eq!(event["actor"]["display"], "ada@example.com");
        }
    }

    // A person may not remove the provider or the mapping that makes them admin.
    let demoting = call(
        &world,
        "PATCH",
        ORG,
        &ada,
        Some(json!({"identityProviders": []})),
    )
    .await;
    demoting.assert_problem(409, "conflict");
}

#[tokio::test]
async fn an_auditor_reads_and_is_refused_every_change() {
    let world = AdminWorld::new().await;
    let op = LocalProvider::start().unwrap();
    assert_eq!(configure(&world, providers(&op.issuer)).await.status, 200);
    let grace = op.token_for("grace").await.unwrap();
    let account = world.acme.account.clone();
    let before = world.tables.snapshot().await.unwrap();
    for (method, path) in [
        ("GET", ACCOUNTS.to_owned()),
        ("GET", format!("{ACCOUNTS}/{account}")),
        ("GET", format!("{ACCOUNTS}/{account}/tokens")),
        ("GET", "/v1/orgs/acme/tokens".to_owned()),
        ("GET", "/v1/orgs/acme/service-tokens".to_owned()),
        ("GET", ORG.to_owned()),
        ("GET", "/v1/orgs/acme/audit-events".to_owned()),
    ] {
        let reply = call(&world, method, &path, &grace, None).await;
        assert_eq!(reply.status, 200, "{method} {path}: {:?}", reply.body);
    }
    for (method, path, body) in [
        (
            "POST",
            ACCOUNTS.to_owned(),
            Some(json!({"name": "no", "roles": ["reader"]})),
        ),
        (
            "PATCH",
            format!("{ACCOUNTS}/{account}"),
            Some(json!({"name": "no"})),
        ),
        ("DELETE", format!("{ACCOUNTS}/{account}"), None),
        (
            "POST",
            format!("{ACCOUNTS}/{account}/disable"),
            Some(json!({})),
        ),
        (
            "POST",
            format!("{ACCOUNTS}/{account}/tokens"),
            Some(json!({"name": "no"})),
        ),
        ("DELETE", format!("{ACCOUNTS}/{account}/tokens"), None),
        (
            "POST",
            "/v1/orgs/acme/service-tokens".to_owned(),
            Some(json!({"name": "no"})),
        ),
        ("PATCH", ORG.to_owned(), Some(json!({"name": "no"}))),
    ] {
        let reply = call(&world, method, &path, &grace, body).await;
        assert_eq!(reply.status, 403, "{method} {path}: {:?}", reply.body);
        reply.assert_problem(403, "forbidden");
    }
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn people_without_a_role_tokens_of_other_organizations_and_forgeries_are_refused() {
    let world = AdminWorld::new().await;
    let op = LocalProvider::start().unwrap();
    assert_eq!(configure(&world, providers(&op.issuer)).await.status, 200);
    let globex = world.bootstrap_org("globex").await;
    let before = world.tables.snapshot().await.unwrap();
    let ada = op.token_for("ada").await.unwrap();

    // In no mapped group.
    let eve = op.token_for("eve").await.unwrap();
    call(&world, "GET", ACCOUNTS, &eve, None)
        .await
        .assert_problem(403, "forbidden");
    // Acme's provider grants nothing in globex, nor in an organization that does not exist.
    for org in [globex.org.as_str(), "initech"] {
        call(
            &world,
            "GET",
            &format!("/v1/orgs/{org}/service-accounts"),
            &ada,
            None,
        )
        .await
        .assert_problem(404, "not-found");
    }
    // Forged: another signature, a tampered payload, `alg: none`, garbage.
    let (header, rest) = ada.split_once('.').unwrap();
    let (payload, _) = rest.split_once('.').unwrap();
    let b64 =
        |value: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    let mut claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["groups"] = json!(["sa-admins", "everything"]);
    let tampered = format!(
        "{header}.{}.{}",
        b64(claims.clone()),
        rest.split_once('.').unwrap().1
    );
    let none = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "kid": "local-1"})),
        b64(claims)
    );
    for forged in [
        tampered,
        none,
        format!("{ada}x"),
        "eyJhbGciOi.eyJ.x".to_owned(),
    ] {
        call(&world, "GET", ACCOUNTS, &forged, None)
            .await
            .assert_problem(401, "unauthenticated");
    }
    assert_eq!(world.tables.snapshot().await.unwrap(), before);

    // A provider that does not answer: a clear 503, in bounded time.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = format!("http://127.0.0.1:{port}");
    assert_eq!(configure(&world, providers(&gone)).await.status, 200);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = format!(
        "{}.{}.c2ln",
        b64(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})),
        b64(
            json!({"iss": gone, "aud": "service-accounts-admin", "sub": "x", "iat": now, "exp": now + 60})
        )
    );
    let reply = call(&world, "GET", ACCOUNTS, &token, None).await;
    reply.assert_problem(503, "identity-provider-unavailable");
    assert_eq!(reply.header("retry-after"), Some("5"));
}

/// The claims of `jwt` as an HTTP API JWT authorizer hands them on: every value a string,
/// numbers as their text and arrays as `[a b]`.
fn gateway_claims(jwt: &str) -> Map<String, Value> {
    let payload = jwt.split('.').nth(1).unwrap();
    let claims: Map<String, Value> = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text,
                Value::Array(values) => format!(
                    "[{}]",
                    values
                        .iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                other => other.to_string(),
            };
            (name, Value::String(text))
        })
        .collect()
}

#[tokio::test]
async fn behind_an_http_api_jwt_authorizer_the_gateways_claims_name_the_person() {
    // A deployment whose HTTP API (the fixture's) puts the admin routes behind a JWT
    // authorizer: no Authorization header reaches the rules below, only the claims.
    let mut identity = tests::admin::iam_only();
    identity.jwt_authorizer_api_ids = vec![FIXTURE_API_IDS[1].to_owned()];
    let world = AdminWorld::with_identity(identity).await;
    let op = LocalProvider::start().unwrap();
    assert_eq!(configure(&world, providers(&op.issuer)).await.status, 200);
    let ada = gateway_claims(&op.token_for("ada").await.unwrap());
    let grace = gateway_claims(&op.token_for("grace").await.unwrap());
    let eve = gateway_claims(&op.token_for("eve").await.unwrap());
    assert!(ada["groups"].as_str().unwrap().starts_with('['));

    let via_gateway = |method: &str, path: &str, claims: &Map<String, Value>| {
        ApiCall::new(Shape::HttpV2, method, path).jwt_claims(claims.clone())
    };
    let created = world
        .accounts(via_gateway("POST", ACCOUNTS, &ada).json(json!({"name": "via-gateway"})))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(
        created.body["createdBy"],
        json!({"kind": "person", "id": "ada", "issuer": op.issuer, "display": "ada@example.com"})
    );
    let events = sync_audit(&world).await;
    let by_people: Vec<&Value> = events
        .iter()
        .filter(|event| event["actor"]["kind"] == "person")
        .collect();
    assert_eq!(by_people.len(), 1, "{events:?}");
    assert_eq!(by_people[0]["action"], "service_account.created");
    assert_eq!(by_people[0]["actor"]["display"], "ada@example.com");
    assert_eq!(by_people[0]["actor"]["issuer"], op.issuer.as_str());

    let globex = world.bootstrap_org("globex").await;
    let before = world.tables.snapshot().await.unwrap();
    let read = world.accounts(via_gateway("GET", ACCOUNTS, &grace)).await;
    assert_eq!(read.status, 200, "{:?}", read.body);
    world
        .accounts(via_gateway("POST", ACCOUNTS, &grace).json(json!({"name": "no"})))
        .await
        .assert_problem(403, "forbidden");
    world
        .accounts(via_gateway("GET", ACCOUNTS, &eve))
        .await
        .assert_problem(403, "forbidden");
    // Acme's provider grants nothing in another organization.
    world
        .accounts(via_gateway(
            "GET",
            &format!("/v1/orgs/{}/service-accounts", globex.org),
            &ada,
        ))
        .await
        .assert_problem(404, "not-found");
    // The organization's rules hold on top of the gateway's: its issuer exactly, one of its
    // audiences, the times.
    let changed = |name: &str, value: &str| {
        let mut claims = ada.clone();
        claims.insert(name.to_owned(), json!(value));
        claims
    };
    let expired = (time::OffsetDateTime::now_utc().unix_timestamp() - 3600).to_string();
    for (claims, status, kind) in [
        (changed("iss", "https://idp.example.com"), 404, "not-found"),
        (changed("aud", "someone-else"), 401, "unauthenticated"),
        (changed("exp", &expired), 401, "unauthenticated"),
    ] {
        world
            .accounts(via_gateway("POST", ACCOUNTS, &claims).json(json!({"name": "no"})))
            .await
            .assert_problem(status, kind);
    }
    // `[not sa-admins]`: one group or two? The claims are not guessed at: without the JWT
    // they are refused, with it (API Gateway passes the header on) the JWT is verified here.
    let ambiguous = changed("groups", "[not sa-admins]");
    world
        .accounts(via_gateway("POST", ACCOUNTS, &ambiguous).json(json!({"name": "no"})))
        .await
        .assert_problem(401, "unauthenticated");
    let eve_jwt = op.token_for("eve").await.unwrap();
    world
        .accounts(
            via_gateway("POST", ACCOUNTS, &ambiguous)
                .bearer(&eve_jwt)
                .json(json!({"name": "no"})),
        )
        .await
        .assert_problem(403, "forbidden");
    // Claims from an API the deployment does not put behind a JWT authorizer are not read.
    world
        .accounts(
            via_gateway("POST", ACCOUNTS, &ada)
                .via_api("zzzzzzzzzz")
                .json(json!({"name": "no"})),
        )
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
}

/// A provider that also signs people in to the console: its console client is one of its
/// audiences, as the console requires.
fn providers_with_console(issuer: &str) -> Value {
    json!({"identityProviders": [{
        "issuer": issuer,
        "audiences": ["service-accounts-admin", "service-accounts-console"],
        "consoleClientId": "service-accounts-console",
        "displayClaim": "email",
        "roles": {"claim": "groups", "admin": ["sa-admins"], "auditor": ["sa-auditors"]},
    }]})
}

#[tokio::test]
async fn a_bearer_jwt_must_be_an_access_token_and_the_consoles_id_token_is_not_one() {
    use jsonwebtoken::Algorithm;
    use tests::issuer::{Idp, sign_typed};

    let mut identity = tests::admin::iam_only();
    identity.jwt_authorizer_api_ids = vec![FIXTURE_API_IDS[1].to_owned()];
    let world = AdminWorld::with_identity(identity).await;
    let idp = Idp::start(&["rsa-1"]).await;
    let configured = configure(&world, providers_with_console(&idp.issuer)).await;
    assert_eq!(configured.status, 200, "{:?}", configured.body);
    let claims = |aud: Value| {
        let mut claims = idp.claims("ada");
        claims["aud"] = aud;
        claims
    };
    // The console's ID token, exactly as a provider hands it to the console's sign-in.
    let mut id_token = claims(json!("service-accounts-console"));
    id_token["azp"] = json!("service-accounts-console");
    id_token["nonce"] = json!("n-0S6_WzA2Mj");
    let both = json!(["service-accounts-admin", "service-accounts-console"]);
    let before = world.tables.snapshot().await.unwrap();
    for (case, token, status) in [
        (
            "the console's ID token",
            sign_typed("rsa-1", Algorithm::RS256, "JWT", &id_token),
            401,
        ),
        (
            "a token for the console's client alone, even typed as an access token",
            sign_typed(
                "rsa-1",
                Algorithm::RS256,
                "at+jwt",
                &claims(json!("service-accounts-console")),
            ),
            401,
        ),
        (
            "an untyped token naming the console's client beside the API",
            sign_typed("rsa-1", Algorithm::RS256, "JWT", &claims(both.clone())),
            401,
        ),
        (
            "an access token by its type (RFC 9068)",
            sign_typed(
                "rsa-1",
                Algorithm::RS256,
                "at+jwt",
                &claims(json!("service-accounts-admin")),
            ),
            200,
        ),
        (
            "an access token by its media type",
            sign_typed(
                "rsa-1",
                Algorithm::RS256,
                "application/at+jwt",
                &claims(json!(["service-accounts-admin"])),
            ),
            200,
        ),
        (
            "a token for the API's audience",
            sign_typed(
                "rsa-1",
                Algorithm::RS256,
                "JWT",
                &claims(json!("service-accounts-admin")),
            ),
            200,
        ),
        (
            "an access token naming the console's client beside the API",
            sign_typed("rsa-1", Algorithm::RS256, "at+jwt", &claims(both)),
            200,
        ),
    ] {
        let reply = call(&world, "GET", ACCOUNTS, &token, None).await;
        if status == 200 {
            assert_eq!(reply.status, 200, "{case}: {:?}", reply.body);
            continue;
        }
        reply.assert_problem(status, "unauthenticated");
        // Nor may it change anything.
        call(
            &world,
            "POST",
            ACCOUNTS,
            &token,
            Some(json!({"name": "by-a-jwt", "roles": ["reader"]})),
        )
        .await
        .assert_problem(status, "unauthenticated");
        assert_eq!(world.tables.snapshot().await.unwrap(), before, "{case}");
    }

    // Behind an HTTP API JWT authorizer: the console's ID token's claims are refused too;
    // the API's audience is accepted.
    let via_gateway = |aud: &str| {
        let mut claims = gateway_claims(&sign_typed(
            "rsa-1",
            Algorithm::RS256,
            "JWT",
            &idp.claims("ada"),
        ));
        claims.insert("aud".into(), json!(aud));
        ApiCall::new(Shape::HttpV2, "GET", ACCOUNTS).jwt_claims(claims)
    };
    world
        .accounts(via_gateway("service-accounts-console"))
        .await
        .assert_problem(401, "unauthenticated");
    assert_eq!(
        world
            .accounts(via_gateway("service-accounts-admin"))
            .await
            .status,
        200
    );

    // The real provider's access token (RFC 9068, for the API's audience) still works when
    // the console is configured.
    let op = LocalProvider::start().unwrap();
    assert_eq!(
        configure(&world, providers_with_console(&op.issuer))
            .await
            .status,
        200
    );
    let ada = op.token_for("ada").await.unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(ada.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(call(&world, "GET", ACCOUNTS, &ada, None).await.status, 200);
}
