//! An admin cannot lock out the credential it calls with: disabling, deleting, revoking all
//! tokens of, or taking the admin role from its own account, or revoking its own token, is a
//! 409 that writes nothing; another admin can.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use shared::access::{IpAllowlist, Role, Roles, Scopes};
use tests::admin::AdminWorld;
use tests::events::{ApiCall, Shape};

#[tokio::test]
async fn an_admin_cannot_lock_itself_out_and_another_admin_can() {
    let world = AdminWorld::new().await;
    let admin = world.acme.token.clone();
    let me = format!("/v1/orgs/acme/service-accounts/{}", world.acme.account);
    let my_token_id = &admin[4..20];
    let before = world.tables.snapshot().await.unwrap();
    let disable = format!("{me}/disable");
    let my_tokens = format!("{me}/tokens");
    let my_token = format!("{me}/tokens/{my_token_id}");
    let refused = [
        ("POST", disable.as_str(), None),
        (
            "POST",
            disable.as_str(),
            Some(json!({"revokeTokens": true})),
        ),
        ("DELETE", me.as_str(), None),
        ("PATCH", me.as_str(), Some(json!({"roles": ["writer"]}))),
        ("DELETE", my_tokens.as_str(), None),
        ("DELETE", my_token.as_str(), None),
    ];
    for (method, path, body) in refused {
        let mut call = ApiCall::new(Shape::HttpV2, method, path).bearer(&admin);
        if let Some(body) = body {
            call = call.json(body);
        }
        let reply = if path.contains("/tokens") {
            world.tokens(call).await
        } else {
            world.accounts(call).await
        };
        assert_eq!(reply.status, 409, "{method} {path}: {:?}", reply.body);
        assert_eq!(reply.body["type"], "/problems/conflict", "{method} {path}");
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .contains("lock out the credential making the request"),
            "{method} {path}: {:?}",
            reply.body
        );
    }
    // The organization's allowlist may not leave out the caller's own address either.
    let org_lockout = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "PATCH", "/v1/orgs/acme")
                .bearer(&admin)
                .json(json!({"tokenPolicy": {"ipAllowlist": ["192.0.2.0/24"]}})),
        )
        .await;
    assert_eq!(org_lockout.status, 409, "{:?}", org_lockout.body);
    // Nothing was written, and the admin still works.
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
    let renamed = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "PATCH", &me)
                .bearer(&admin)
                .json(json!({"roles": ["admin", "reader"], "name": "still-admin"})),
        )
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    let narrowed = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "PATCH", "/v1/orgs/acme")
                .bearer(&admin)
                .json(json!({"tokenPolicy": {"ipAllowlist": ["198.51.100.0/24"]}})),
        )
        .await;
    assert_eq!(
        narrowed.status, 200,
        "the caller's own range: {:?}",
        narrowed.body
    );

    // Another admin of the organization can disable the first.
    let (_, other) = world
        .account_with_token(
            &world.acme.org,
            Roles::new([Role::Admin]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await;
    let disabled = world
        .accounts(ApiCall::new(Shape::HttpV2, "POST", &format!("{me}/disable")).bearer(&other))
        .await;
    assert_eq!(disabled.status, 200, "{:?}", disabled.body);
    let refused = world
        .accounts(ApiCall::new(Shape::HttpV2, "GET", &me).bearer(&admin))
        .await;
    assert_eq!(refused.status, 401);
}
