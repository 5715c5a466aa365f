//! Keyless CI: a workload's OpenID Connect token, from a test issuer serving a real discovery
//! document and JWKS over HTTP ([`tests::issuer`], RS256 and ES256 keys), with the exact claim
//! shapes GitHub Actions and GitLab document, is exchanged at `/oauth2/token` under a trust
//! policy for an access token that the authorizer accepts; every claim that does not match,
//! every forged, misdirected or stale token, another organization's policy and a disabled
//! account are refused with `invalid_grant` and nothing written; the access token lives and
//! holds what the policy says and stops when the policy is deleted.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tests::admin::{AdminWorld, Reply};
use tests::events::{ApiCall, Shape};
use tests::issuer::{Idp, b64, fixture, sign};
use time::Duration;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// A deployment with a GitHub-Actions-shaped issuer, a `writer` account and a trust policy
/// for `octo-org/deploy` (owner 65) on `main`, in the `production` environment.
struct Ci {
    world: AdminWorld,
    idp: Arc<Idp>,
    account: String,
    policy: Value,
}

impl Ci {
    async fn new() -> Self {
        let world = AdminWorld::new().await;
        let idp = Idp::start(&["rsa-1", "ec-1"]).await;
        let account = create_account(&world, &world.acme.token, "acme", "deployer").await;
        let policy = create_policy(
            &world,
            "acme",
            &account,
            json!({
                "name": "deploy from main",
                "preset": "github_actions",
                "issuer": idp.issuer,
                "conditions": [
                    {"claim": "repository_owner_id", "equals": "65"},
                    {"claim": "repository", "equals": "octo-org/deploy"},
                    {"claim": "ref", "matches": "refs/heads/main"},
                    {"claim": "environment", "equals": "production"},
                ],
                "scopes": ["reader"],
                "lifetimeSeconds": 600,
            }),
        )
        .await;
        assert_eq!(policy.status, 201, "{}", policy.body);
        Self {
            world,
            idp,
            account,
            policy: policy.body,
        }
    }

    fn client_id(&self) -> String {
        format!("acme/{}", self.account)
    }

    /// A GitHub Actions job's token claims, exactly as GitHub documents them, for the
    /// deployment's audience, at the world's clock; `changes` replace claims (`null` removes).
    fn github(&self, changes: Value) -> Value {
        let now = self.world.clock_now().unix_timestamp();
        let mut claims = json!({
            "jti": "example-id",
            "sub": "repo:octo-org/deploy:environment:production",
            "environment": "production",
            "aud": self.policy["audience"],
            "ref": "refs/heads/main",
            "sha": "example-sha",
            "repository": "octo-org/deploy",
            "repository_owner": "octo-org",
            "actor_id": "12",
            "repository_visibility": "private",
            "repository_id": "74",
            "repository_owner_id": "65",
            "run_id": "example-run-id",
            "run_number": "10",
            "run_attempt": "2",
            "runner_environment": "github-hosted",
            "actor": "octocat",
            "workflow": "deploy",
            "head_ref": "",
            "base_ref": "",
            "event_name": "push",
            "ref_type": "branch",
            "job_workflow_ref": "octo-org/deploy/.github/workflows/deploy.yml@refs/heads/main",
            "iss": self.idp.issuer,
            "nbf": now - 600,
            "exp": now + 300,
            "iat": now,
        });
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    }

    async fn exchange(&self, jwt: &str) -> Reply {
        exchange(
            &self.world,
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", jwt),
                ("subject_token_type", JWT_TYPE),
                ("client_id", &self.client_id()),
            ],
        )
        .await
    }
}

async fn create_account(world: &AdminWorld, admin: &str, org: &str, name: &str) -> String {
    let created = world
        .accounts(
            ApiCall::new(
                Shape::HttpV2,
                "POST",
                &format!("/v1/orgs/{org}/service-accounts"),
            )
            .bearer(admin)
            .json(json!({"name": name, "roles": ["writer"]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

async fn create_policy(world: &AdminWorld, org: &str, account: &str, body: Value) -> Reply {
    let admin = if org == "acme" {
        world.acme.token.clone()
    } else {
        panic!("use policy_as for other organizations")
    };
    policy_as(world, &admin, org, account, body).await
}

async fn policy_as(
    world: &AdminWorld,
    admin: &str,
    org: &str,
    account: &str,
    body: Value,
) -> Reply {
    world
        .accounts(
            ApiCall::new(
                Shape::HttpV2,
                "POST",
                &format!("/v1/orgs/{org}/service-accounts/{account}/trust-policies"),
            )
            .bearer(admin)
            .json(body),
        )
        .await
}

async fn exchange(world: &AdminWorld, form: &[(&str, &str)]) -> Reply {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    world
        .tokens(
            ApiCall::new(Shape::HttpV2, "POST", "/oauth2/token")
                .raw_body(&body, Some("application/x-www-form-urlencoded")),
        )
        .await
}

fn assert_oauth_error(reply: &Reply, status: u16, code: &str, case: &str) {
    assert_eq!(reply.status, status, "{case}: {}", reply.body);
    assert_eq!(reply.body["error"], code, "{case}: {}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{case}");
}

#[tokio::test]
async fn a_github_actions_job_gets_an_access_token_through_both_grants_and_the_audit_names_it() {
    let ci = Ci::new().await;
    let audience = ci.policy["audience"].as_str().unwrap();
    assert_eq!(
        audience,
        format!("urn:service-accounts:{}", ci.world.tables.store.table()),
        "the deployment's default audience"
    );
    assert_eq!(ci.policy["issuer"], ci.idp.issuer);
    assert_eq!(ci.policy["preset"], "github_actions");

    let mut jobs = Vec::new();
    // RFC 8693 token exchange, an RS256 token.
    let jwt = sign("rsa-1", Algorithm::RS256, &ci.github(json!({})));
    jobs.push(jwt.clone());
    let issued = ci.exchange(&jwt).await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    assert_eq!(issued.header("cache-control"), Some("no-store"));
    assert_eq!(issued.body["token_type"], "Bearer");
    assert_eq!(
        issued.body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    // The policy's lifetime (the expiry is stamped to the whole second).
    let expires_in = issued.body["expires_in"].as_i64().unwrap();
    assert!((599..=600).contains(&expires_in), "{expires_in}");
    assert_eq!(issued.body["scope"], "reader", "the policy's scopes");
    let access = issued.body["access_token"].as_str().unwrap().to_owned();
    assert!(ci.world.passes_the_authorizer(&access).await);
    let principal = ci.world.principal(&access).await.unwrap();
    assert_eq!(principal.account.unwrap().as_str(), ci.account);

    // RFC 7523 JWT bearer, an ES256 token of a job in a release branch the pattern rejects
    // ... and then of main: the same account, no `issued_token_type`.
    let jwt = sign("ec-1", Algorithm::ES256, &ci.github(json!({})));
    jobs.push(jwt.clone());
    let issued = exchange(
        &ci.world,
        &[
            ("grant_type", JWT_BEARER),
            ("assertion", &jwt),
            ("client_id", &ci.client_id()),
        ],
    )
    .await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    assert!(issued.body.get("issued_token_type").is_none());
    let second = issued.body["access_token"].as_str().unwrap().to_owned();
    assert!(ci.world.passes_the_authorizer(&second).await);

    // RFC 8693's `audience` names the account as well as `client_id` does.
    let jwt = sign(
        "rsa-1",
        Algorithm::RS256,
        &ci.github(json!({"jti": "another-id"})),
    );
    jobs.push(jwt.clone());
    let by_audience = exchange(
        &ci.world,
        &[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", &jwt),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
            ("audience", &ci.client_id()),
            ("scope", "reader"),
        ],
    )
    .await;
    assert_eq!(by_audience.status, 200, "{}", by_audience.body);

    // The token's record and the audit trail name the workload and the claims it matched.
    let events = tests::faulty::audit_events(&ci.world).await.unwrap();
    let created = events
        .iter()
        .find(|event| event["action"] == "token.created" && event["actor"]["kind"] == "workload")
        .expect("a token.created event by the workload");
    let actor = &created["actor"];
    assert_eq!(actor["id"], "repo:octo-org/deploy:environment:production");
    assert_eq!(actor["issuer"], ci.idp.issuer);
    assert_eq!(actor["trustPolicy"], ci.policy["id"]);
    assert_eq!(
        actor["claims"],
        json!({
            "environment": "production",
            "ref": "refs/heads/main",
            "repository": "octo-org/deploy",
            "repository_owner_id": "65",
        })
    );
    assert_eq!(created["target"]["account"], ci.account.as_str());
    assert_eq!(created["changes"]["kind"]["new"], "access");
    assert_eq!(created["changes"]["trustPolicy"]["new"], ci.policy["id"]);
    let policy_created = events
        .iter()
        .find(|event| event["action"] == "trust_policy.created")
        .expect("the policy's creation is audited");
    assert_eq!(policy_created["target"]["id"], ci.policy["id"]);
    assert_eq!(policy_created["actor"]["kind"], "service_account");
    // No job token (not even its signature) and no access token anywhere in the trail or the
    // table.
    let trail = serde_json::to_string(&events).unwrap();
    let table = format!("{:?}", ci.world.tables.scan().await.unwrap());
    for secret in [&access, &second] {
        assert!(!trail.contains(secret.as_str()) && !table.contains(secret.as_str()));
    }
    for job in &jobs {
        let signature = job.rsplit('.').next().unwrap();
        assert!(!trail.contains(signature) && !table.contains(signature));
    }
}

#[tokio::test]
async fn every_mismatch_forgery_and_stale_token_is_invalid_grant_and_writes_nothing() {
    let ci = Ci::new().await;
    let now = ci.world.clock_now().unix_timestamp();
    let other = Idp::start(&["rsa-2"]).await;
    let claims = |changes: Value| ci.github(changes);
    let valid = sign("rsa-1", Algorithm::RS256, &claims(json!({})));
    let (header, rest) = valid.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let tampered = format!(
        "{header}.{}.{signature}",
        b64(&claims(json!({"repository": "octo-org/other"})))
    );
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": "rsa-1", "typ": "JWT"})),
        b64(&claims(json!({})))
    );
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("rsa-1".into());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &claims(json!({})),
        &EncodingKey::from_secret(&fixture("rsa-1.pub.pem")),
    )
    .unwrap();
    let mut attacker_header = Header::new(Algorithm::RS256);
    attacker_header.kid = Some("rsa-1".into());
    let attacker = jsonwebtoken::encode(
        &attacker_header,
        &claims(json!({})),
        &EncodingKey::from_rsa_pem(&fixture("attacker.pem")).unwrap(),
    )
    .unwrap();
    let rs = |changes: Value| sign("rsa-1", Algorithm::RS256, &claims(changes));
    let cases: Vec<(&str, String)> = vec![
        ("another branch", rs(json!({"ref": "refs/heads/main-evil"}))),
        (
            "a tag",
            rs(json!({"ref": "refs/tags/v1", "ref_type": "tag"})),
        ),
        (
            "another repository",
            rs(json!({"repository": "octo-org/other"})),
        ),
        (
            "a namesake repository under another owner id",
            rs(json!({"repository_owner_id": "66", "repository_owner": "octo-org"})),
        ),
        ("another environment", rs(json!({"environment": "staging"}))),
        ("no environment", rs(json!({"environment": null}))),
        (
            "another owner id, as a number",
            rs(json!({"repository_owner_id": 66})),
        ),
        ("another audience", rs(json!({"aud": "sts.amazonaws.com"}))),
        (
            "expired",
            rs(json!({"exp": now - 120, "iat": now - 400, "nbf": now - 1000})),
        ),
        (
            "issued too long ago (over an hour)",
            rs(json!({"iat": now - 7200, "nbf": now - 7200, "exp": now + 600})),
        ),
        ("not valid yet", rs(json!({"nbf": now + 900, "iat": now}))),
        ("alg none", none),
        ("HS256 keyed with the issuer's public key", hs256),
        (
            "an unknown key id",
            sign("rsa-2", Algorithm::RS256, &claims(json!({}))),
        ),
        ("a tampered payload", tampered),
        ("another key under the issuer's key id", attacker),
        (
            "another issuer's key and name",
            sign(
                "rsa-2",
                Algorithm::RS256,
                &claims(json!({"iss": other.issuer})),
            ),
        ),
        ("not a JWT", "not-a-jwt".to_owned()),
    ];
    let before = ci.world.tables.snapshot().await.unwrap();
    for (case, jwt) in &cases {
        let refused = ci.exchange(jwt).await;
        assert_oauth_error(&refused, 400, "invalid_grant", case);
        // The answer never says which check failed.
        assert_eq!(
            refused.body["error_description"],
            "the token is not valid, or no trust policy of this service account admits it",
            "{case}"
        );
    }
    assert_eq!(
        ci.world.tables.snapshot().await.unwrap(),
        before,
        "nothing was written for a refused exchange"
    );
    // And the valid token still works.
    assert_eq!(ci.exchange(&valid).await.status, 200);
}

#[tokio::test]
async fn another_organizations_policy_never_matches_and_a_disabled_account_gets_nothing() {
    let ci = Ci::new().await;
    let globex = ci.world.bootstrap_org("globex").await;
    // Globex trusts exactly the same jobs for its own account.
    let theirs = create_account(&ci.world, &globex.token, "globex", "theirs").await;
    let body = json!({
        "name": "same job",
        "preset": "github_actions",
        "issuer": ci.idp.issuer,
        "conditions": [
            {"claim": "repository_owner_id", "equals": "65"},
            {"claim": "repository", "equals": "octo-org/deploy"},
        ],
        "scopes": ["reader"],
    });
    let made = policy_as(&ci.world, &globex.token, "globex", &theirs, body.clone()).await;
    assert_eq!(made.status, 201, "{}", made.body);
    // Acme's admin cannot put a policy on Globex's account, nor read its policies.
    let foreign = policy_as(&ci.world, &ci.world.acme.token, "globex", &theirs, body).await;
    assert_eq!(foreign.status, 404, "{}", foreign.body);
    // An acme account without a policy.
    let bare = create_account(&ci.world, &ci.world.acme.token, "acme", "bare").await;

    let jwt = sign("rsa-1", Algorithm::RS256, &ci.github(json!({})));
    let before = ci.world.tables.snapshot().await.unwrap();
    for (case, client_id) in [
        ("an account with no policy", format!("acme/{bare}")),
        (
            "globex's account named under acme",
            format!("acme/{theirs}"),
        ),
        (
            "acme's account named under globex",
            format!("globex/{}", ci.account),
        ),
        (
            "an organization that does not exist",
            format!("nowhere/{}", ci.account),
        ),
    ] {
        let refused = exchange(
            &ci.world,
            &[
                ("grant_type", JWT_BEARER),
                ("assertion", &jwt),
                ("client_id", &client_id),
            ],
        )
        .await;
        assert_oauth_error(&refused, 400, "invalid_grant", case);
    }
    assert_eq!(ci.world.tables.snapshot().await.unwrap(), before);

    // Disabled: nothing, and nothing written; enabled again: a token.
    let path = format!("/v1/orgs/acme/service-accounts/{}", ci.account);
    let disabled = ci
        .world
        .accounts(
            ApiCall::new(Shape::HttpV2, "POST", &format!("{path}/disable"))
                .bearer(&ci.world.acme.token),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    let before = ci.world.tables.snapshot().await.unwrap();
    assert_oauth_error(&ci.exchange(&jwt).await, 400, "invalid_grant", "disabled");
    assert_eq!(ci.world.tables.snapshot().await.unwrap(), before);
    let enabled = ci
        .world
        .accounts(
            ApiCall::new(Shape::HttpV2, "POST", &format!("{path}/enable"))
                .bearer(&ci.world.acme.token),
        )
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    assert_eq!(ci.exchange(&jwt).await.status, 200);
}

#[tokio::test]
async fn the_access_token_lives_and_holds_what_the_policy_says_and_stops_with_it() {
    let ci = Ci::new().await;
    let jwt = sign("rsa-1", Algorithm::RS256, &ci.github(json!({})));
    let scoped = |scope: &'static str| {
        let jwt = jwt.clone();
        let client_id = ci.client_id();
        let world = &ci.world;
        async move {
            exchange(
                world,
                &[
                    ("grant_type", JWT_BEARER),
                    ("assertion", &jwt),
                    ("client_id", &client_id),
                    ("scope", scope),
                ],
            )
            .await
        }
    };
    // `scope` narrows within the policy's, never beyond (the account itself is a writer).
    assert_oauth_error(&scoped("writer").await, 400, "invalid_scope", "wider");
    assert_oauth_error(&scoped("admin").await, 400, "invalid_scope", "admin");
    let narrowed = scoped("reader").await;
    assert_eq!(narrowed.status, 200, "{}", narrowed.body);

    let issued = ci.exchange(&jwt).await;
    let access = issued.body["access_token"].as_str().unwrap().to_owned();
    let principal = ci.world.principal(&access).await.unwrap();
    let scopes: Vec<String> = principal.scopes.iter().map(ToString::to_string).collect();
    assert_eq!(
        scopes,
        ["reader"],
        "the token holds the policy's scopes only"
    );

    // It lives the policy's 600 s, not a second more.
    ci.world.clock.advance(Duration::seconds(599));
    assert!(ci.world.passes_the_authorizer(&access).await);
    ci.world.clock.advance(Duration::seconds(2));
    assert!(!ci.world.passes_the_authorizer(&access).await);
    ci.world.clock.advance(Duration::seconds(-601));

    // Deleting the policy revokes what it issued, and the next exchange is refused.
    let live = ci.exchange(&jwt).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ci.world.passes_the_authorizer(&live).await);
    let policy_path = format!(
        "/v1/orgs/acme/service-accounts/{}/trust-policies/{}",
        ci.account,
        ci.policy["id"].as_str().unwrap()
    );
    let deleted = ci
        .world
        .accounts(ApiCall::new(Shape::HttpV2, "DELETE", &policy_path).bearer(&ci.world.acme.token))
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert!(!ci.world.passes_the_authorizer(&live).await);
    assert!(!ci.world.passes_the_authorizer(&access).await);
    assert_oauth_error(
        &ci.exchange(&jwt).await,
        400,
        "invalid_grant",
        "deleted policy",
    );
    let gone = ci
        .world
        .accounts(ApiCall::new(Shape::HttpV2, "GET", &policy_path).bearer(&ci.world.acme.token))
        .await;
    assert_eq!(gone.status, 404);
    let events = tests::faulty::audit_events(&ci.world).await.unwrap();
    assert!(
        events
            .iter()
            .any(|event| event["action"] == "trust_policy.deleted"
                && event["actor"]["kind"] == "service_account")
    );
    assert!(
        events
            .iter()
            .filter(|event| event["action"] == "token.revoked")
            .count()
            >= 2,
        "the policy's live tokens were revoked, for the record"
    );
}

#[tokio::test]
async fn a_gitlab_job_is_admitted_by_its_namespace_and_project() {
    let world = AdminWorld::new().await;
    let idp = Idp::start(&["ec-1"]).await;
    let account = create_account(&world, &world.acme.token, "acme", "gitlab-deployer").await;
    let policy = create_policy(
        &world,
        "acme",
        &account,
        json!({
            "name": "gitlab main",
            "preset": "gitlab",
            "issuer": idp.issuer,
            "conditions": [
                {"claim": "namespace_id", "equals": "72"},
                {"claim": "project_path", "equals": "my-group/my-project"},
                {"claim": "ref_protected", "equals": "true"},
            ],
            "scopes": ["writer"],
        }),
    )
    .await;
    assert_eq!(policy.status, 201, "{}", policy.body);
    assert_eq!(policy.body["lifetimeSeconds"], 900, "the default lifetime");
    let now = world.clock_now().unix_timestamp();
    let gitlab = |protected: &str| {
        json!({
            "namespace_id": "72",
            "namespace_path": "my-group",
            "project_id": "20",
            "project_path": "my-group/my-project",
            "user_id": "1",
            "user_login": "sample-user",
            "pipeline_id": "574",
            "pipeline_source": "push",
            "job_id": "302",
            "ref": "main",
            "ref_type": "branch",
            "ref_path": "refs/heads/main",
            "ref_protected": protected,
            "runner_id": 1,
            "runner_environment": "gitlab-hosted",
            "sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
            "project_visibility": "private",
            "ci_config_ref_uri": "gitlab.com/my-group/my-project//.gitlab-ci.yml@refs/heads/main",
            "jti": "235b3a54-b797-45c7-ae9a-f72d7bc6ef5b",
            "iss": idp.issuer,
            "iat": now,
            "nbf": now - 5,
            "exp": now + 3600,
            "sub": "project_path:my-group/my-project:ref_type:branch:ref:main",
            "aud": policy.body["audience"],
        })
    };
    let client_id = format!("acme/{account}");
    let ask = |claims: Value| {
        let jwt = sign("ec-1", Algorithm::ES256, &claims);
        let client_id = client_id.clone();
        let world = &world;
        async move {
            exchange(
                world,
                &[
                    ("grant_type", JWT_BEARER),
                    ("assertion", &jwt),
                    ("client_id", &client_id),
                ],
            )
            .await
        }
    };
    assert_oauth_error(
        &ask(gitlab("false")).await,
        400,
        "invalid_grant",
        "unprotected",
    );
    let issued = ask(gitlab("true")).await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let expires_in = issued.body["expires_in"].as_i64().unwrap();
    assert!(
        (899..=900).contains(&expires_in),
        "the default lifetime: {expires_in}"
    );
    assert_eq!(issued.body["scope"], "writer");
    assert!(
        world
            .passes_the_authorizer(issued.body["access_token"].as_str().unwrap())
            .await
    );
}

#[tokio::test]
async fn trust_policies_that_do_not_pin_a_workload_down_are_refused_with_nothing_written() {
    let world = AdminWorld::new().await;
    let account = create_account(&world, &world.acme.token, "acme", "deployer").await;
    let owner = json!({"claim": "repository_owner_id", "equals": "65"});
    let repository = json!({"claim": "repository", "equals": "octo-org/deploy"});
    let base = |changes: Value| {
        let mut body = json!({
            "name": "deploy",
            "preset": "github_actions",
            "conditions": [owner, repository],
            "scopes": ["reader"],
        });
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                body.as_object_mut().unwrap().remove(name);
            } else {
                body[name] = value.clone();
            }
        }
        body
    };
    let before = world.tables.snapshot().await.unwrap();
    for (case, body, field) in [
        (
            "no owner id",
            base(json!({"conditions": [repository]})),
            "conditions",
        ),
        (
            "an owner id pattern",
            base(
                json!({"conditions": [{"claim": "repository_owner_id", "matches": "6."}, repository]}),
            ),
            "conditions",
        ),
        (
            "no repository",
            base(json!({"conditions": [owner]})),
            "conditions",
        ),
        (
            "no preset, no issuer",
            base(json!({"preset": null})),
            "issuer",
        ),
        (
            "GitHub's issuer without the preset, and no owner id",
            base(
                json!({"preset": null, "issuer": "https://token.actions.githubusercontent.com",
                        "conditions": [repository]}),
            ),
            "conditions",
        ),
        (
            "a pattern that closes its anchoring group",
            base(
                json!({"conditions": [owner, {"claim": "repository", "matches": "octo-org/deploy)|(?:.*"}]}),
            ),
            "conditions[1]",
        ),
        (
            "no preset, only patterns",
            base(json!({"preset": null, "issuer": "https://ci.example.com",
                        "conditions": [{"claim": "sub", "matches": ".*"}]})),
            "conditions",
        ),
        (
            "a pattern that is no regular expression",
            base(json!({"conditions": [owner, {"claim": "repository", "matches": "octo-org/("}]})),
            "conditions[1]",
        ),
        (
            "a reserved claim",
            base(json!({"conditions": [owner, repository, {"claim": "aud", "equals": "x"}]})),
            "conditions[2]",
        ),
        (
            "both equals and matches",
            base(
                json!({"conditions": [owner, {"claim": "repository", "equals": "a", "matches": "b"}]}),
            ),
            "conditions[1]",
        ),
        (
            "an audience of another service",
            base(json!({"audience": "sts.amazonaws.com"})),
            "audience",
        ),
        (
            "an http issuer",
            base(json!({"issuer": "http://ci.example.com"})),
            "issuer",
        ),
        ("no scopes", base(json!({"scopes": []})), "scopes"),
        (
            "wider than the account",
            base(json!({"scopes": ["admin"]})),
            "scopes",
        ),
        (
            "an unknown preset",
            base(json!({"preset": "jenkins"})),
            "preset",
        ),
        (
            "too short a lifetime",
            base(json!({"lifetimeSeconds": 59})),
            "lifetimeSeconds",
        ),
        (
            "too long a lifetime",
            base(json!({"lifetimeSeconds": 43_201})),
            "lifetimeSeconds",
        ),
    ] {
        let refused = create_policy(&world, "acme", &account, body).await;
        refused.assert_problem(422, "validation");
        let fields: Vec<&str> = refused.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|error| error["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{case}: {}", refused.body);
    }
    let unknown_field = create_policy(&world, "acme", &account, base(json!({"extra": 1}))).await;
    unknown_field.assert_problem(422, "validation");
    // `null` is no value: an optional field is left out, never null.
    for field in ["preset", "issuer", "audience", "lifetimeSeconds"] {
        let mut body = base(json!({}));
        body[field] = Value::Null;
        let refused = create_policy(&world, "acme", &account, body).await;
        refused.assert_problem(422, "validation");
    }
    assert_eq!(world.tables.snapshot().await.unwrap(), before);

    // A valid one is listed and read; a second page exists with limit 1.
    for repository in ["octo-org/deploy", "octo-org/build"] {
        let made = create_policy(
            &world,
            "acme",
            &account,
            base(json!({"conditions": [owner, {"claim": "repository", "equals": repository}]})),
        )
        .await;
        assert_eq!(made.status, 201, "{}", made.body);
        assert!(
            made.header("location")
                .unwrap()
                .ends_with(made.body["id"].as_str().unwrap())
        );
    }
    let path = format!("/v1/orgs/acme/service-accounts/{account}/trust-policies");
    let page = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "GET", &path)
                .query("limit", "1")
                .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        page.body["items"][0]["issuer"],
        "https://token.actions.githubusercontent.com"
    );
    let cursor = page.body["nextCursor"].as_str().unwrap();
    let rest = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "GET", &path)
                .query("cursor", cursor)
                .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    assert!(rest.body["nextCursor"].is_null());
}

#[tokio::test]
async fn malformed_token_requests_are_invalid_request_and_an_unreachable_issuer_is_a_503() {
    let ci = Ci::new().await;
    let jwt = sign("rsa-1", Algorithm::RS256, &ci.github(json!({})));
    let id = ci.client_id();
    let before = ci.world.tables.snapshot().await.unwrap();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "no subject_token_type",
            vec![
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", &jwt),
                ("client_id", &id),
            ],
            "invalid_request",
        ),
        (
            "an access token as the subject",
            vec![
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", &jwt),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
                ("client_id", &id),
            ],
            "invalid_request",
        ),
        (
            "delegation",
            vec![
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", &jwt),
                ("subject_token_type", JWT_TYPE),
                ("actor_token", &jwt),
                ("client_id", &id),
            ],
            "invalid_request",
        ),
        (
            "no account named",
            vec![("grant_type", JWT_BEARER), ("assertion", &jwt)],
            "invalid_request",
        ),
        (
            "a bare account id",
            vec![
                ("grant_type", JWT_BEARER),
                ("assertion", &jwt),
                ("client_id", &ci.account),
            ],
            "invalid_request",
        ),
        (
            "two accounts named",
            vec![
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", &jwt),
                ("subject_token_type", JWT_TYPE),
                ("client_id", &id),
                ("audience", "acme/0000000000000000"),
            ],
            "invalid_request",
        ),
        (
            "a malformed audience",
            vec![
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", &jwt),
                ("subject_token_type", JWT_TYPE),
                ("audience", "https://example.com"),
            ],
            "invalid_target",
        ),
        (
            "a client secret beside the token",
            vec![
                ("grant_type", JWT_BEARER),
                ("assertion", &jwt),
                ("client_id", &id),
                ("client_secret", "svc_whatever"),
            ],
            "invalid_request",
        ),
        (
            "no assertion",
            vec![("grant_type", JWT_BEARER), ("client_id", &id)],
            "invalid_request",
        ),
        (
            "an unknown grant",
            vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:saml2-bearer",
                ),
                ("client_id", &id),
            ],
            "unsupported_grant_type",
        ),
    ];
    for (case, form, code) in &cases {
        assert_oauth_error(&exchange(&ci.world, form).await, 400, code, case);
    }
    assert_eq!(ci.world.tables.snapshot().await.unwrap(), before);

    // A policy whose issuer does not answer: the exchange fails closed, with a retry.
    let silent = "http://127.0.0.1:9";
    let down = create_policy(
        &ci.world,
        "acme",
        &ci.account,
        json!({
            "name": "down",
            "issuer": silent,
            "conditions": [{"claim": "sub", "equals": "job"}],
            "scopes": ["reader"],
        }),
    )
    .await;
    assert_eq!(down.status, 201, "{}", down.body);
    let mut claims = ci.github(json!({"sub": "job"}));
    claims["iss"] = json!(silent);
    let unavailable = ci.exchange(&sign("rsa-1", Algorithm::RS256, &claims)).await;
    assert_oauth_error(&unavailable, 503, "temporarily_unavailable", "issuer down");
    assert!(unavailable.header("retry-after").is_some());
}

#[tokio::test]
async fn a_policys_quota_is_a_429_and_an_allowlist_is_checked_only_for_an_admitted_token() {
    let mut ci = Ci::new().await;
    ci.world.context.workloads.per_policy = 2;
    let jwt = sign("rsa-1", Algorithm::RS256, &ci.github(json!({})));
    for _ in 0..2 {
        assert_eq!(ci.exchange(&jwt).await.status, 200);
    }
    let before = ci.world.tables.snapshot().await.unwrap();
    let refused = ci.exchange(&jwt).await;
    assert_oauth_error(&refused, 429, "invalid_request", "quota");
    let retry: i64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry), "{retry}");
    assert_eq!(ci.world.tables.snapshot().await.unwrap(), before);

    // The account only admits callers from 192.0.2.0/24.
    let path = format!("/v1/orgs/acme/service-accounts/{}", ci.account);
    let fenced = ci
        .world
        .accounts(
            ApiCall::new(Shape::HttpV2, "PATCH", &path)
                .bearer(&ci.world.acme.token)
                .json(json!({"ipAllowlist": ["192.0.2.0/24"]})),
        )
        .await;
    assert_eq!(fenced.status, 200, "{}", fenced.body);
    ci.world.context.workloads.per_policy = 1000;
    let from = |jwt: String, ip: &'static str| {
        let client_id = ci.client_id();
        let world = &ci.world;
        async move {
            let body = form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("grant_type", JWT_BEARER),
                    ("assertion", jwt.as_str()),
                    ("client_id", client_id.as_str()),
                ])
                .finish();
            world
                .tokens(
                    ApiCall::new(Shape::HttpV2, "POST", "/oauth2/token")
                        .source_ip(ip)
                        .raw_body(&body, Some("application/x-www-form-urlencoded")),
                )
                .await
        }
    };
    // A forged token from outside learns nothing about the allowlist: invalid_grant.
    let forged = jwt.replace('.', ".x");
    assert_oauth_error(
        &from(forged, "203.0.113.9").await,
        400,
        "invalid_grant",
        "forged, outside",
    );
    // An admitted job outside it: unauthorized_client; inside: a token.
    assert_oauth_error(
        &from(jwt.clone(), "203.0.113.9").await,
        400,
        "unauthorized_client",
        "admitted, outside",
    );
    assert_eq!(from(jwt, "192.0.2.7").await.status, 200);
}

#[tokio::test]
async fn an_assertion_that_is_not_a_jwt_of_a_possible_issuer_is_refused_before_any_read() {
    let ci = Ci::new().await;
    let (store, counter) = tests::counting::counted_store(&ci.world.tables).await;
    let use_cases = usecases::UseCases {
        store,
        ..ci.world.context.clone()
    };
    // A run on this machine (the test issuer is plain http on loopback), and as deployed.
    let local = admin_api::AdminState::for_local_run(use_cases.clone(), ci.world.identity.clone());
    let deployed = admin_api::AdminState::new(use_cases, ci.world.identity.clone());
    let id = ci.client_id();
    let post = |state: &admin_api::AdminState, jwt: &str| {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", jwt),
                ("subject_token_type", JWT_TYPE),
                ("client_id", id.as_str()),
            ])
            .finish();
        ci.world.call(
            tokens::router(state.clone()),
            ApiCall::new(Shape::HttpV2, "POST", "/oauth2/token")
                .raw_body(&body, Some("application/x-www-form-urlencoded")),
        )
    };
    let signed_as = |iss: Value| sign("rsa-1", Algorithm::RS256, &ci.github(json!({ "iss": iss })));
    let claims = ci.github(json!({}));
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("rsa-1".into());
    let cases: Vec<(&str, String)> = vec![
        ("not a JWT", "not-a-jwt".to_owned()),
        ("two parts", "eyJhbGciOiJSUzI1NiJ9.eyJ9".to_owned()),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "kid": "rsa-1"})),
                b64(&claims)
            ),
        ),
        (
            "HS256",
            jsonwebtoken::encode(
                &hs_header,
                &claims,
                &EncodingKey::from_secret(&fixture("rsa-1.pub.pem")),
            )
            .unwrap(),
        ),
        (
            "no key id",
            jsonwebtoken::encode(
                &Header::new(Algorithm::RS256),
                &claims,
                &EncodingKey::from_rsa_pem(&fixture("rsa-1.pem")).unwrap(),
            )
            .unwrap(),
        ),
        ("no issuer", signed_as(Value::Null)),
        ("an issuer that is no URL", signed_as(json!("octo-org"))),
        ("a number as issuer", signed_as(json!(42))),
        (
            "a plain http issuer elsewhere",
            signed_as(json!("http://token.example.com")),
        ),
        (
            "an issuer with a query",
            signed_as(json!("https://token.example.com?x=1")),
        ),
    ];
    for (case, jwt) in &cases {
        assert_oauth_error(&post(&local, jwt).await, 400, "invalid_grant", case);
        assert_eq!(
            counter.take(),
            BTreeMap::new(),
            "{case}: read before refusing"
        );
    }
    // As deployed, a loopback issuer is none a policy could be trusted for.
    let valid = sign("rsa-1", Algorithm::RS256, &ci.github(json!({})));
    assert_oauth_error(
        &post(&deployed, &valid).await,
        400,
        "invalid_grant",
        "a loopback issuer, deployed",
    );
    assert_eq!(counter.take(), BTreeMap::new());
    // A well-formed token of a possible issuer is looked into (and, here, admitted).
    let admitted = post(&local, &valid).await;
    assert_eq!(admitted.status, 200, "{}", admitted.body);
    assert!(!counter.take().is_empty());
}

#[tokio::test]
async fn an_organization_has_at_most_a_hundred_trust_policies() {
    let world = AdminWorld::new().await;
    let policy = |n: usize| {
        json!({
            "name": format!("job {n}"),
            "issuer": "https://ci.example.com",
            "conditions": [{"claim": "sub", "equals": format!("job-{n}")}],
            "scopes": ["reader"],
        })
    };
    let mut accounts = Vec::new();
    let mut first = None;
    for n in 0..100 {
        if n % 20 == 0 {
            accounts
                .push(create_account(&world, &world.acme.token, "acme", &format!("ci-{n}")).await);
        }
        let created = create_policy(&world, "acme", accounts.last().unwrap(), policy(n)).await;
        assert_eq!(created.status, 201, "{n}: {}", created.body);
        first.get_or_insert_with(|| created.body["id"].as_str().unwrap().to_owned());
    }
    // The hundred and first, on an account with room for more: refused, nothing written.
    let spare = create_account(&world, &world.acme.token, "acme", "spare").await;
    let before = world.tables.snapshot().await.unwrap();
    let refused = create_policy(&world, "acme", &spare, policy(100)).await;
    refused.assert_problem(409, "conflict");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("100 trust policies"),
        "{}",
        refused.body
    );
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
    // Another organization has its own hundred.
    let globex = world.bootstrap_org("globex").await;
    let theirs = create_account(&world, &globex.token, "globex", "ci").await;
    let created = policy_as(&world, &globex.token, "globex", &theirs, policy(0)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    // A deleted policy makes room.
    let deleted = world
        .accounts(
            ApiCall::new(
                Shape::HttpV2,
                "DELETE",
                &format!(
                    "/v1/orgs/acme/service-accounts/{}/trust-policies/{}",
                    accounts[0],
                    first.unwrap()
                ),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let created = create_policy(&world, "acme", &spare, policy(100)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    create_policy(&world, "acme", &spare, policy(101))
        .await
        .assert_problem(409, "conflict");
    // So does a deleted account: its policies are deleted with it.
    let gone = world
        .accounts(
            ApiCall::new(
                Shape::HttpV2,
                "DELETE",
                &format!("/v1/orgs/acme/service-accounts/{}", accounts[1]),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    let created = create_policy(&world, "acme", &spare, policy(101)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let events = tests::faulty::audit_events(&world).await.unwrap();
    let deleted_with_it = events
        .iter()
        .filter(|event| {
            event["action"] == "trust_policy.deleted"
                && event["target"]["account"] == accounts[1].as_str()
        })
        .count();
    assert_eq!(deleted_with_it, 20);
}
