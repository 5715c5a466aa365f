//! A rotation lineage is one credential (DESIGN's trust rules), against DynamoDB Local:
//! revoking any member ends every member however many rotations there were, and repeating a
//! revocation always finishes; a leak report of a token already rotated away ends its
//! successors; a self-rotation never extends its lineage unless the organization's policy lets
//! it age; and a token presented after it was rotated away, past its grace, ends the whole
//! lineage with the reason recorded.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use shared::access::{IpAllowlist, Role, Roles, Scopes};
use shared::ids::{ServiceAccountId, TokenId};
use shared::token::TokenOwner;
use tests::admin::AdminWorld;
use tests::events::{ApiCall, Shape};
use time::Duration;

async fn writer(world: &AdminWorld) -> (ServiceAccountId, String) {
    world
        .account_with_token(
            &world.acme.org,
            Roles::new([Role::Writer]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await
}

/// `token` rotates itself with `grace` seconds; the new token's body.
async fn self_rotate(world: &AdminWorld, token: &str, grace: i64) -> Value {
    let reply = world
        .tokens(
            ApiCall::new(Shape::HttpV2, "POST", "/v1/tokens/self/rotate")
                .bearer(token)
                .json(json!({"gracePeriodSeconds": grace})),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body
}

fn id_of(token: &str) -> TokenId {
    let parsed = shared::token::ParsedToken::parse(
        &tests::test_token_format(),
        shared::token::TokenSecret::new(token.to_owned()),
    )
    .unwrap();
    parsed.id().clone()
}

async fn revoke(world: &AdminWorld, account: &ServiceAccountId, token: &TokenId) -> u16 {
    world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "DELETE",
                &format!("/v1/orgs/acme/service-accounts/{account}/tokens/{token}"),
            )
            .bearer(&world.acme.token),
        )
        .await
        .status
}

async fn stored(
    world: &AdminWorld,
    account: &ServiceAccountId,
    id: &TokenId,
) -> shared::model::Token {
    world
        .context
        .store
        .get_token(&world.acme.org, &TokenOwner::Account(account.clone()), id)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn revoking_the_first_token_ends_a_lineage_of_any_length_in_one_request() {
    let world = AdminWorld::new().await;
    let (account, stolen) = writer(&world).await;
    // A thief self-rotates the stolen token 120 times (more than any walk of a fixed depth),
    // keeping each old one alive for a while.
    let mut held = stolen.clone();
    let mut in_grace = Vec::new();
    for _ in 0..120 {
        let next = self_rotate(&world, &held, 3600).await;
        in_grace.push(held);
        held = next["token"].as_str().unwrap().to_owned();
    }
    assert!(world.works(&held).await);
    assert_eq!(revoke(&world, &account, &id_of(&stolen)).await, 204);
    assert!(
        !world.works(&held).await,
        "the thief's newest token is revoked"
    );
    for old in in_grace.iter().step_by(17) {
        assert!(!world.works(old).await, "and every one in its grace period");
    }
    // Repeating it changes nothing and succeeds.
    let before = world.tables.snapshot().await.unwrap();
    assert_eq!(revoke(&world, &account, &id_of(&stolen)).await, 204);
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn revoking_a_later_member_ends_the_earlier_ones_in_their_grace() {
    let world = AdminWorld::new().await;
    let (account, first) = writer(&world).await;
    let second = self_rotate(&world, &first, 3600).await;
    let second = second["token"].as_str().unwrap().to_owned();
    let third = self_rotate(&world, &second, 3600).await;
    let third = third["token"].as_str().unwrap().to_owned();
    let (_, unrelated) = writer(&world).await;
    assert!(world.works(&first).await && world.works(&second).await);
    assert_eq!(revoke(&world, &account, &id_of(&third)).await, 204);
    for token in [&first, &second, &third] {
        assert!(!world.works(token).await);
    }
    assert!(world.works(&unrelated).await);
}

#[tokio::test]
async fn a_leak_report_of_a_token_already_rotated_away_ends_its_successors() {
    let world = AdminWorld::new().await;
    let (account, leaked) = writer(&world).await;
    // The thief rotates the leaked token at once (no grace): it is "already revoked".
    let successor = self_rotate(&world, &leaked, 0).await;
    let successor = successor["token"].as_str().unwrap().to_owned();
    let reply = world
        .tokens(
            ApiCall::new(Shape::RestV1, "POST", "/v1/tokens/revoke")
                .source_ip("198.51.100.20")
                .json(json!({"tokens": [leaked]})),
        )
        .await;
    assert_eq!(reply.status, 202, "{:?}", reply.body);
    assert!(!world.works(&successor).await, "the successor is revoked");
    let token = stored(&world, &account, &id_of(&leaked)).await;
    assert!(
        token.leak.is_some(),
        "the leak is recorded on the reported token"
    );
    let events = tests::faulty::audit_events(&world).await.unwrap();
    assert!(
        events.iter().any(|event| event["action"] == "token.leaked"
            && event["target"]["id"] == id_of(&leaked).as_str()),
        "{events:#?}"
    );
}

#[tokio::test]
async fn a_self_rotation_keeps_its_lineages_expiry_unless_the_policy_lets_it_age() {
    let world = AdminWorld::new().await;
    let (account, _) = writer(&world).await;
    let minted = world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "POST",
                &format!("/v1/orgs/acme/service-accounts/{account}/tokens"),
            )
            .bearer(&world.acme.token)
            .json(json!({"name": "daily", "lifetime": "1d"})),
        )
        .await;
    assert_eq!(minted.status, 201, "{:?}", minted.body);
    let expiry = minted.body["expiresAt"].clone();
    world.clock.advance(Duration::hours(12));
    let rotated = self_rotate(&world, minted.body["token"].as_str().unwrap(), 60).await;
    assert_eq!(
        rotated["expiresAt"], expiry,
        "a stolen token cannot renew itself"
    );

    // An organization may let its lineages age: each renewal as long as the first token was
    // made to live, never past the lineage's age from the first token.
    let reply = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "PATCH", "/v1/orgs/acme")
                .bearer(&world.acme.token)
                .json(json!({"tokenPolicy": {"maxLineageAgeDays": 2}})),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["tokenPolicy"]["maxLineageAgeDays"], 2);
    let renewed = self_rotate(&world, rotated["token"].as_str().unwrap(), 60).await;
    let rfc = &time::format_description::well_known::Rfc3339;
    let at = |value: &Value| time::OffsetDateTime::parse(value.as_str().unwrap(), rfc).unwrap();
    let day_from_now = world.clock_now() + Duration::days(1);
    assert!(
        (at(&renewed["expiresAt"]) - day_from_now).abs() < Duration::seconds(2),
        "{renewed}"
    );
    world.clock.advance(Duration::hours(23));
    let capped = self_rotate(&world, renewed["token"].as_str().unwrap(), 60).await;
    let first_made = at(&minted.body["createdAt"]);
    assert!(
        (at(&capped["expiresAt"]) - (first_made + Duration::days(2))).abs() < Duration::seconds(2),
        "{capped}"
    );
    // Bad values are refused with the field.
    let refused = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "PATCH", "/v1/orgs/acme")
                .bearer(&world.acme.token)
                .json(json!({"tokenPolicy": {"maxLineageAgeDays": 0}})),
        )
        .await;
    refused.assert_problem(422, "validation");
    assert!(
        refused.body.to_string().contains("maxLineageAgeDays"),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn a_token_presented_after_it_was_rotated_away_ends_its_whole_lineage() {
    let world = AdminWorld::new().await;
    let (account, old) = writer(&world).await;
    let new = self_rotate(&world, &old, 60).await;
    let new = new["token"].as_str().unwrap().to_owned();
    // Within its grace the old token is no reuse.
    assert!(world.works(&old).await && world.works(&new).await);
    world.clock.advance(Duration::seconds(61));
    assert!(world.works(&new).await);
    // Past it, presenting the old token (with its right secret) is: both are revoked.
    assert!(!world.passes_the_authorizer(&old).await);
    assert!(!world.works(&new).await, "the lineage is revoked");
    let revoked = stored(&world, &account, &id_of(&new)).await;
    let reason = revoked.revocation_reason.unwrap_or_default();
    assert!(reason.starts_with("reuse:"), "{reason}");
    let events = tests::faulty::audit_events(&world).await.unwrap();
    let event = events
        .iter()
        .find(|event| {
            event["action"] == "token.revoked" && event["target"]["id"] == id_of(&new).as_str()
        })
        .unwrap_or_else(|| panic!("{events:#?}"));
    assert_eq!(event["actor"]["id"], "reuse-detection", "{event}");
    assert!(event.to_string().contains("reuse:"), "{event}");

    // Another lineage is left alone, and a text that is not the old token (a mistyped
    // copy) is no reuse: it changes nothing.
    let (_, other_old) = writer(&world).await;
    let other_new = self_rotate(&world, &other_old, 0).await;
    let other_new = other_new["token"].as_str().unwrap().to_owned();
    let mut mistyped: Vec<char> = other_old.chars().collect();
    let at = mistyped.len() - 12;
    mistyped[at] = if mistyped[at] == 'a' { 'b' } else { 'a' };
    let mistyped: String = mistyped.into_iter().collect();
    let before = world.tables.snapshot().await.unwrap();
    assert!(!world.works(&mistyped).await);
    assert_eq!(world.tables.snapshot().await.unwrap(), before);
    assert!(world.works(&other_new).await);
}
