//! Service accounts as code from the other side of its contracts: a caller of one AWS account
//! naming another's stack, CloudFormation's rollbacks (the restored properties sent as an
//! Update, the failed ones as `OldResourceProperties`), its own `ServiceTimeout` property, and
//! S3 asking for the response to be sent again.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use tests::events::{ApiCall, Shape};
use tests::iac::{AWS_ACCOUNT, IacWorld, OTHER_ACCOUNT, PROVIDER, provider_alias, stack_id};

use crate::provisioner::{
    ACCOUNT_TYPE, TOKEN_TYPE, account_props, create_account, payments, table_text, token_props,
};

/// An Update of `logical` from `old` to `new` properties, of the resource `physical`.
fn update(
    world: &IacWorld,
    kind: &str,
    logical: &str,
    physical: &str,
    old: &Value,
    new: &Value,
) -> Value {
    let mut request = world.request("Update", kind, logical, &payments(), new.clone());
    request["PhysicalResourceId"] = json!(physical);
    request["OldResourceProperties"] = old.clone();
    request
}

fn delete(world: &IacWorld, kind: &str, logical: &str, physical: &str, props: &Value) -> Value {
    let mut request = world.request("Delete", kind, logical, &payments(), props.clone());
    request["PhysicalResourceId"] = json!(physical);
    request
}

/// The statuses of the account's tokens, as the admin API lists them.
async fn token_statuses(world: &IacWorld, account: &str) -> Vec<String> {
    let admin = &world.faulty.world;
    let reply = admin
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "GET",
                &format!("/v1/orgs/acme/service-accounts/{account}/tokens"),
            )
            .bearer(&admin.acme.token),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|token| token["status"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_stack_acts_only_through_the_account_that_invoked_the_provider() {
    let world = IacWorld::new().await;
    let reply = world
        .set_iac_access(json!([
            {"account": AWS_ACCOUNT, "stackPrefix": "payments"},
            {"account": OTHER_ACCOUNT},
            {"account": "777788889999"},
        ]))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let props = account_props("intruder");
    let before = table_text(&world).await;
    // The deployment's own account (unqualified) naming another account's stack, the other
    // account's alias naming a stack of the deployment's account, and an alias the
    // deployment never made: each refused, whatever the organization lists.
    for (stack, invoked, says) in [
        (
            stack_id(OTHER_ACCOUNT, "team"),
            PROVIDER.to_owned(),
            "comes from account 123456789012",
        ),
        (
            payments(),
            provider_alias(OTHER_ACCOUNT),
            "comes from account 444455556666",
        ),
        (
            stack_id("777788889999", "team"),
            provider_alias("777788889999"),
            "no AWS account's alias",
        ),
    ] {
        let request = world.request("Create", ACCOUNT_TYPE, "Admin", &stack, props.clone());
        let body = world.send_via(&request, &invoked).await;
        assert_eq!(body["Status"], "FAILED", "{body}");
        assert!(body["Reason"].as_str().unwrap().contains(says), "{body}");
    }
    assert_eq!(table_text(&world).await, before, "nothing written");
    // The other account's own stacks, through its own alias, act.
    let own = world.request(
        "Create",
        ACCOUNT_TYPE,
        "Admin",
        &stack_id(OTHER_ACCOUNT, "team"),
        props,
    );
    let body = world.send_via(&own, &provider_alias(OTHER_ACCOUNT)).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
}

#[tokio::test]
async fn another_accounts_stack_cannot_take_over_a_secret() {
    let world = IacWorld::new().await;
    let reply = world
        .set_iac_access(json!([
            {"account": AWS_ACCOUNT, "stackPrefix": "payments"},
            {"account": OTHER_ACCOUNT},
        ]))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let account = create_account(&world, "Deployer", account_props("deployer")).await;
    let secret = "service-accounts/payments/victim";
    let body = world
        .send(&world.request(
            "Create",
            TOKEN_TYPE,
            "CiToken",
            &payments(),
            token_props(&account, secret),
        ))
        .await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let arn = body["Data"]["SecretArn"].as_str().unwrap().to_owned();
    let victim = world.current(secret).await;
    // Another account's stack (its own alias, proven) names the secret, by name and by ARN.
    let thief_stack = stack_id(OTHER_ACCOUNT, "thief");
    let thief_account = {
        let request = world.request(
            "Create",
            ACCOUNT_TYPE,
            "Deployer",
            &thief_stack,
            account_props("thief"),
        );
        let body = world
            .send_via(&request, &provider_alias(OTHER_ACCOUNT))
            .await;
        assert_eq!(body["Status"], "SUCCESS", "{body}");
        body["PhysicalResourceId"].as_str().unwrap().to_owned()
    };
    for target in [json!({"SecretName": secret}), json!({"SecretArn": arn})] {
        let mut props =
            json!({"Organization": "acme", "ServiceAccount": thief_account, "Name": "mine"});
        for (key, value) in target.as_object().unwrap() {
            props[key] = value.clone();
        }
        let request = world.request("Create", TOKEN_TYPE, "Thief", &thief_stack, props);
        let body = world
            .send_via(&request, &provider_alias(OTHER_ACCOUNT))
            .await;
        assert_eq!(body["Status"], "FAILED", "{body}");
        assert_eq!(world.current(secret).await, victim);
    }
}

#[tokio::test]
async fn a_rollback_finds_the_token_as_it_was_and_the_stacks_deletion_revokes_everything() {
    let world = IacWorld::new().await;
    let account = create_account(&world, "Deployer", account_props("deployer")).await;
    let secret = "service-accounts/payments/rollback";
    let p1 = token_props(&account, secret);
    let created = world
        .send(&world.request("Create", TOKEN_TYPE, "CiToken", &payments(), p1.clone()))
        .await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let t1 = created["PhysicalResourceId"].as_str().unwrap().to_owned();
    let token1 = world.current(secret).await["token"].clone();

    // The update replaces the token, then another resource of the stack fails: CloudFormation
    // rolls back with an Update of the new resource to the old properties.
    let mut p2 = p1.clone();
    p2["Lifetime"] = json!("30d");
    let replaced = world
        .send(&update(&world, TOKEN_TYPE, "CiToken", &t1, &p1, &p2))
        .await;
    assert_eq!(replaced["Status"], "SUCCESS", "{replaced}");
    let t2 = replaced["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_ne!(t2, t1);
    let token2 = world.current(secret).await["token"].clone();
    let rollback = world
        .send(&update(&world, TOKEN_TYPE, "CiToken", &t2, &p2, &p1))
        .await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert_eq!(rollback["PhysicalResourceId"], t1, "the resource as it was");
    assert_eq!(world.current(secret).await["token"], token1);
    // The rollback's cleanup deletes the replacement: the old token stays, working.
    let cleanup = world
        .send(&delete(&world, TOKEN_TYPE, "CiToken", &t2, &p2))
        .await;
    assert_eq!(cleanup["Status"], "SUCCESS", "{cleanup}");
    let admin = &world.faulty.world;
    assert!(admin.passes_the_authorizer(token1.as_str().unwrap()).await);
    assert!(!admin.passes_the_authorizer(token2.as_str().unwrap()).await);
    assert_eq!(world.current(secret).await["token"], token1);

    // An update the provider refused, rolled back: the same token, nothing minted.
    let mut p3 = p1.clone();
    p3["Scopes"] = json!(["admin"]);
    let refused = world
        .send(&update(&world, TOKEN_TYPE, "CiToken", &t1, &p1, &p3))
        .await;
    assert_eq!(refused["Status"], "FAILED", "{refused}");
    let tokens = token_statuses(&world, &account).await.len();
    let rollback = world
        .send(&update(&world, TOKEN_TYPE, "CiToken", &t1, &p3, &p1))
        .await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert_eq!(rollback["PhysicalResourceId"], t1);
    assert_eq!(token_statuses(&world, &account).await.len(), tokens);
    assert_eq!(world.current(secret).await["token"], token1);

    // The stack is deleted: every token the resource ever wrote is revoked.
    let deleted = world
        .send(&delete(&world, TOKEN_TYPE, "CiToken", &t1, &p1))
        .await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert!(!world.secret_exists(secret).await);
    let statuses = token_statuses(&world, &account).await;
    assert!(
        statuses.iter().all(|status| status == "revoked"),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_rolled_back_move_to_another_organization_finds_the_first_account() {
    let world = IacWorld::new().await;
    let beta = world.faulty.world.bootstrap_org("beta").await;
    let reply = world
        .faulty
        .world
        .accounts(
            ApiCall::new(Shape::HttpV2, "PATCH", "/v1/orgs/beta")
                .bearer(&beta.token)
                .json(json!({"iacAccess": [{"account": AWS_ACCOUNT}]})),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let acme = account_props("deployer");
    let a1 = create_account(&world, "Deployer", acme.clone()).await;
    let mut in_beta = acme.clone();
    in_beta["Organization"] = json!("beta");
    let moved = world
        .send(&update(
            &world,
            ACCOUNT_TYPE,
            "Deployer",
            &a1,
            &acme,
            &in_beta,
        ))
        .await;
    assert_eq!(moved["Status"], "SUCCESS", "{moved}");
    let a2 = moved["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_ne!(a2, a1);
    let rollback = world
        .send(&update(
            &world,
            ACCOUNT_TYPE,
            "Deployer",
            &a2,
            &in_beta,
            &acme,
        ))
        .await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert_eq!(rollback["PhysicalResourceId"], a1);
    let cleanup = world
        .send(&delete(&world, ACCOUNT_TYPE, "Deployer", &a2, &in_beta))
        .await;
    assert_eq!(cleanup["Status"], "SUCCESS", "{cleanup}");
    let admin = &world.faulty.world;
    let listed = admin
        .accounts(
            ApiCall::new(Shape::HttpV2, "GET", "/v1/orgs/acme/service-accounts")
                .bearer(&admin.acme.token),
        )
        .await;
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|account| account["name"] == "deployer")
        .map(|account| account["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a1.as_str()], "one deployer, the first");
}

#[tokio::test]
async fn cloudformations_own_service_timeout_is_ignored_everywhere() {
    let world = IacWorld::new().await;
    let mut props = account_props("deployer");
    props["ServiceTimeout"] = json!("300");
    let account = create_account(&world, "Deployer", props).await;
    let secret = "service-accounts/payments/timeout";
    let mut p1 = token_props(&account, secret);
    p1["ServiceTimeout"] = json!("300");
    let created = world
        .send(&world.request("Create", TOKEN_TYPE, "CiToken", &payments(), p1.clone()))
        .await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let t1 = created["PhysicalResourceId"].as_str().unwrap().to_owned();
    let mut p2 = p1.clone();
    p2["ServiceTimeout"] = json!("900");
    let updated = world
        .send(&update(&world, TOKEN_TYPE, "CiToken", &t1, &p1, &p2))
        .await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(updated["PhysicalResourceId"], t1, "no replacement");
    assert_eq!(token_statuses(&world, &account).await, ["active"]);
}

#[tokio::test]
async fn the_response_is_sent_again_when_s3_asks_and_accepted_once() {
    let world = IacWorld::new().await;
    world.refuse_next_responses(&[503, 500]);
    let request = world.request(
        "Create",
        ACCOUNT_TYPE,
        "Deployer",
        &payments(),
        account_props("d"),
    );
    let body = world.send(&request).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let key = request["RequestId"].as_str().unwrap();
    let statuses: Vec<u16> = world
        .responses_to(key)
        .iter()
        .map(|received| received.status)
        .collect();
    assert_eq!(statuses, [503, 500, 200]);
    assert!(world.responses_to(key).iter().all(|r| r.body == body));

    // A refusal no retry changes (an expired signature) is final: the invocation fails, so
    // Lambda retries it with the same request.
    world.refuse_next_responses(&[403]);
    let request = world.request(
        "Create",
        ACCOUNT_TYPE,
        "Other",
        &payments(),
        account_props("o"),
    );
    let outcome = world.provider.handle_event(request.clone(), PROVIDER).await;
    assert!(outcome.is_err(), "{outcome:?}");
    let key = request["RequestId"].as_str().unwrap();
    assert_eq!(world.responses_to(key).len(), 1);
    // Lambda's retry: the same answer, the account made once.
    let again = world.send(&request).await;
    assert_eq!(again["Status"], "SUCCESS", "{again}");
}
