//! The bootstrap command, run as an operator runs it: against the table, with the standard
//! AWS endpoint variables.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};
use std::sync::Arc;

use shared::access::Role;
use shared::clock::SystemClock;
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::ActorKind;
use shared::policy::LifetimePreset;
use shared::token::{TokenFormat, TokenPrefix, TokenSecret};
use tests::TestTables;
use tests::runtime_api::workspace_binary;
use time::OffsetDateTime;
use usecases::verify::{CacheSettings, Verifier};

fn run(tables: &TestTables, args: &[&str]) -> Output {
    Command::new(workspace_binary("infra").unwrap())
        .arg("bootstrap")
        .args(args)
        .env("TABLE_NAME", tables.table.as_str())
        .env("TOKEN_PREFIX", "alk_svc_")
        .env("TOKEN_KEYS", tests::TEST_TOKEN_KEYS)
        .env("AWS_ENDPOINT_URL_DYNAMODB", &tables.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("USER", "ops-alice")
        .output()
        .unwrap()
}

#[tokio::test]
async fn bootstrap_creates_the_org_its_admin_and_a_working_token_once() {
    let tables = TestTables::create().await.unwrap();
    let output = run(
        &tables,
        &[
            "--org",
            "acme",
            "--name",
            "Acme Research",
            "--max-lifetime",
            "2y",
            "--token-lifetime",
            "90d",
            "--json",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let token = printed["token"].as_str().unwrap();
    assert_eq!(printed["org"], "acme");
    assert!(token.starts_with("alk_svc_"));

    let org = tables
        .store
        .get_org(&OrgId::parse("acme").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(org.name.as_str(), "Acme Research");
    assert_eq!(org.token_policy.max_lifetime(), LifetimePreset::TwoYears);
    assert_eq!(org.created_by.kind, ActorKind::Operator);
    assert_eq!(org.created_by.id, "ops-alice");
    let account_id =
        ServiceAccountId::parse(printed["serviceAccountId"].as_str().unwrap()).unwrap();
    let account = tables
        .store
        .get_account(&org.id, &account_id)
        .await
        .unwrap()
        .unwrap();
    assert!(account.roles.contains(Role::Admin));

    let format = TokenFormat::new(
        TokenPrefix::parse("alk_svc_").unwrap(),
        tests::test_token_format().keys,
    );
    let verifier = Verifier::new(
        tables.store.clone(),
        Arc::new(SystemClock),
        format,
        CacheSettings::default(),
    );
    let verified = verifier
        .verify(TokenSecret::new(token.to_owned()), None)
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    assert!(verified.principal.has_role_in(&org.id, Role::Admin));
    let expires = verified.records.token.unwrap().expires_at.unwrap();
    assert!((expires - now - time::Duration::days(90)).abs() < time::Duration::minutes(1));

    // Running it again refuses and changes nothing.
    let before = tables.snapshot().await.unwrap();
    let again = run(&tables, &["--org", "acme", "--json"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert!(again.stdout.is_empty());
    assert_eq!(tables.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn bootstrap_prints_the_token_once_for_people_and_refuses_bad_flags() {
    let tables = TestTables::create().await.unwrap();
    let output = run(&tables, &["--org", "globex"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(text.matches("alk_svc_").count(), 1, "{text}");
    assert!(text.contains("shown only this once"));

    let before = tables.snapshot().await.unwrap();
    for args in [
        vec!["--org", "Not A Slug"],
        vec!["--org", "initech", "--token-lifetime", "2y"],
        vec!["--org", "initech", "--default-lifetime", "5y"],
        vec!["--org", "initech", "--ip-allowlist", "10.0.0.1/8"],
        vec!["--org", "initech", "--token-lifetime", "1w"],
    ] {
        let output = run(&tables, &args);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).starts_with("error: --"),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(tables.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn bootstrap_can_start_an_organization_with_its_identity_provider_and_no_admin_token() {
    let tables = TestTables::create().await.unwrap();
    let oidc = [
        "--oidc-issuer",
        "https://acme.okta.com",
        "--oidc-audience",
        "0oa-service-accounts",
        "--oidc-admin-group",
        "sa-admins",
        "--oidc-auditor-group",
        "security",
    ];
    let before = tables.snapshot().await.unwrap();
    for bad in [
        vec!["--org", "initech", "--no-admin-token"],
        vec![
            "--org",
            "initech",
            "--oidc-issuer",
            "http://acme.okta.com",
            "--oidc-audience",
            "a",
            "--oidc-admin-group",
            "x",
        ],
        vec![
            "--org",
            "initech",
            "--oidc-issuer",
            "https://acme.okta.com",
            "--oidc-audience",
            "a",
        ],
        vec!["--org", "initech", "--oidc-issuer", "https://acme.okta.com"],
    ] {
        let output = run(&tables, &bad);
        assert!(!output.status.success(), "{bad:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("error"),
            "{bad:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(tables.snapshot().await.unwrap(), before);

    let mut args = vec!["--org", "acme", "--no-admin-token", "--json"];
    args.extend(oidc);
    let output = run(&tables, &args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, serde_json::json!({"org": "acme"}));
    let org = tables
        .store
        .get_org(&OrgId::parse("acme").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(org.identity_providers.len(), 1);
    let provider = &org.identity_providers[0];
    assert_eq!(provider.issuer.as_str(), "https://acme.okta.com");
    assert_eq!(provider.audiences, ["0oa-service-accounts"]);
    assert_eq!(provider.roles.admin, ["sa-admins"]);
    assert_eq!(provider.roles.auditor, ["security"]);
    // The organization alone: no account, no token, nothing to leak.
    assert_eq!(tables.scan().await.unwrap().len(), 1);
}
