//! Service accounts as code, against DynamoDB Local and Secrets Manager from moto: the custom
//! resource provider's Create, Update (in place and replacement) and Delete of both resource
//! types with the exact response bodies; a repeated `RequestId`; a Delete after a failed
//! Create; an Update that fails midway leaving the old state; callers the organization does
//! not admit and bad properties, each `FAILED` with its reason and nothing written; the token
//! in the secret authenticating through the authorizer and appearing nowhere else; and
//! Secrets Manager's four rotation steps, each repeated, with the grace period.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_dynamodb::types::AttributeValue;
use provisioner::rotation::Step;
use serde_json::{Value, json};
use tests::events::{ApiCall, Shape};
use tests::faults::{Fault, Rule, WRITES};
use tests::faulty::audit_events;
use tests::iac::{AWS_ACCOUNT, IacWorld, OTHER_ACCOUNT, PROVIDER, provider_alias, stack_id};
use time::Duration;

pub(crate) const ACCOUNT_TYPE: &str = "Custom::ServiceAccount";
pub(crate) const TOKEN_TYPE: &str = "Custom::ServiceToken";

pub(crate) fn payments() -> String {
    stack_id(AWS_ACCOUNT, "payments-prod")
}

/// Every item of the table, as JSON text in a stable order (to compare the table before and
/// after, and to look for secrets).
pub(crate) async fn table_text(world: &IacWorld) -> Vec<String> {
    let mut items: Vec<String> = world
        .faulty
        .world
        .tables
        .scan()
        .await
        .unwrap()
        .into_iter()
        .map(|item| {
            serde_dynamo::from_item::<_, Value>(item)
                .unwrap()
                .to_string()
        })
        .collect();
    items.sort();
    items
}

pub(crate) fn account_props(name: &str) -> Value {
    json!({
        "Organization": "acme",
        "Name": name,
        "Description": "deploys payments",
        "Role": "writer",
        "Grants": ["brain-1:read"],
    })
}

/// Creates an account through the provider; its id.
pub(crate) async fn create_account(world: &IacWorld, logical: &str, props: Value) -> String {
    let request = world.request("Create", ACCOUNT_TYPE, logical, &payments(), props);
    let body = world.send(&request).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    body["PhysicalResourceId"].as_str().unwrap().to_owned()
}

pub(crate) fn token_props(account: &str, secret: &str) -> Value {
    json!({
        "Organization": "acme",
        "ServiceAccount": account,
        "Name": "ci",
        "Lifetime": "90d",
        "Scopes": ["reader"],
        "SecretName": secret,
    })
}

pub(crate) async fn account_reply(world: &IacWorld, id: &str) -> tests::admin::Reply {
    let world = &world.faulty.world;
    world
        .accounts(
            ApiCall::new(
                Shape::HttpV2,
                "GET",
                &format!("/v1/orgs/acme/service-accounts/{id}"),
            )
            .bearer(&world.acme.token),
        )
        .await
}

#[tokio::test]
async fn iac_access_is_set_through_the_admin_api_and_checked() {
    let world = IacWorld::new().await;
    let reply = world
        .faulty
        .world
        .accounts(
            ApiCall::new(Shape::HttpV2, "GET", "/v1/orgs/acme")
                .bearer(&world.faulty.world.acme.token),
        )
        .await;
    assert_eq!(
        reply.body["iacAccess"],
        json!([{"account": AWS_ACCOUNT, "stackPrefix": "payments"}])
    );
    for (bad, field) in [
        (json!([{"account": "12345"}]), "iacAccess[0].account"),
        (
            json!([{"account": AWS_ACCOUNT, "stackPrefix": "pay--ments"}]),
            "iacAccess[0].stackPrefix",
        ),
        (
            json!([{"account": AWS_ACCOUNT, "colour": "red"}]),
            "iacAccess[0].colour",
        ),
        (
            json!(vec![json!({"account": AWS_ACCOUNT}); 21]),
            "iacAccess",
        ),
    ] {
        let reply = world.set_iac_access(bad.clone()).await;
        assert_eq!(reply.status, 422, "{bad}: {:?}", reply.body);
        assert!(
            reply.body.to_string().contains(field),
            "{field}: {:?}",
            reply.body
        );
    }
    let events = audit_events(&world.faulty.world).await.unwrap();
    let changes: Vec<&Value> = events
        .iter()
        .filter(|event| event["action"] == "org.updated")
        .collect();
    assert_eq!(
        changes.len(),
        1,
        "one change, none for the refused: {changes:?}"
    );
    assert!(changes[0]["changes"].to_string().contains("iacAccess"));
}

#[tokio::test]
async fn accounts_are_created_updated_replaced_and_deleted_as_code() {
    let world = IacWorld::new().await;
    let beta = world.faulty.world.bootstrap_org("beta").await;
    // beta admits the same stacks.
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

    // Create: the exact response.
    let create = world.request(
        "Create",
        ACCOUNT_TYPE,
        "Deployer",
        &payments(),
        account_props("deployer"),
    );
    let body = world.send(&create).await;
    let id = body["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        json!({
            "Status": "SUCCESS",
            "PhysicalResourceId": id,
            "StackId": payments(),
            "RequestId": create["RequestId"],
            "LogicalResourceId": "Deployer",
            "Data": {"Id": id, "Organization": "acme", "Name": "deployer"},
        })
    );
    let reply = account_reply(&world, &id).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["roles"], json!(["writer"]));
    assert_eq!(reply.body["createdBy"]["kind"], "stack");
    assert_eq!(reply.body["createdBy"]["id"], payments());
    assert_eq!(reply.body["createdBy"]["awsAccount"], AWS_ACCOUNT);
    assert_eq!(reply.body["createdBy"]["logicalResourceId"], "Deployer");

    // The same request again (CloudFormation's or Lambda's retry): the same account, once.
    let items = table_text(&world).await.len();
    let again = world.send(&create).await;
    assert_eq!(again, body);
    assert_eq!(table_text(&world).await.len(), items, "nothing made twice");
    assert_eq!(
        world
            .responses_to(create["RequestId"].as_str().unwrap())
            .len(),
        2
    );

    // Update in place: a new name and roles, disabled.
    let mut update = world.request(
        "Update",
        ACCOUNT_TYPE,
        "Deployer",
        &payments(),
        json!({"Organization": "acme", "Name": "deployer-2", "Role": ["reader"], "Enabled": "false"}),
    );
    update["PhysicalResourceId"] = json!(id);
    update["OldResourceProperties"] = account_props("deployer");
    let body = world.send(&update).await;
    assert_eq!(
        body,
        json!({
            "Status": "SUCCESS",
            "PhysicalResourceId": id,
            "StackId": payments(),
            "RequestId": update["RequestId"],
            "LogicalResourceId": "Deployer",
            "Data": {"Id": id, "Organization": "acme", "Name": "deployer-2"},
        }),
        "in place"
    );
    let reply = account_reply(&world, &id).await;
    assert_eq!(reply.body["name"], "deployer-2");
    assert_eq!(reply.body["roles"], json!(["reader"]));
    assert_eq!(reply.body["status"], "DISABLED");
    assert_eq!(reply.body["updatedBy"]["kind"], "stack");

    // Update of the organization: a replacement, with a new physical id.
    let mut replace = world.request(
        "Update",
        ACCOUNT_TYPE,
        "Deployer",
        &payments(),
        json!({"Organization": "beta", "Name": "deployer"}),
    );
    replace["PhysicalResourceId"] = json!(id);
    replace["OldResourceProperties"] = json!({"Organization": "acme", "Name": "deployer-2", "Role": ["reader"], "Enabled": "false"});
    let body = world.send(&replace).await;
    let new_id = body["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id);
    assert_eq!(
        body,
        json!({
            "Status": "SUCCESS",
            "PhysicalResourceId": new_id,
            "StackId": payments(),
            "RequestId": replace["RequestId"],
            "LogicalResourceId": "Deployer",
            "Data": {"Id": new_id, "Organization": "beta", "Name": "deployer"},
        })
    );

    // CloudFormation then deletes the old one (with its properties).
    let mut delete = world.request(
        "Delete",
        ACCOUNT_TYPE,
        "Deployer",
        &payments(),
        json!({"Organization": "acme", "Name": "deployer-2", "Role": ["reader"], "Enabled": "false"}),
    );
    delete["PhysicalResourceId"] = json!(id);
    let body = world.send(&delete).await;
    assert_eq!(
        body,
        json!({
            "Status": "SUCCESS",
            "PhysicalResourceId": id,
            "StackId": payments(),
            "RequestId": delete["RequestId"],
            "LogicalResourceId": "Deployer",
        })
    );
    assert_eq!(account_reply(&world, &id).await.status, 404);
    // A repeated Delete succeeds (the account is gone).
    assert_eq!(world.send(&delete).await["Status"], "SUCCESS");

    // The audit trail names the stack.
    let events = audit_events(&world.faulty.world).await.unwrap();
    let by_stack: Vec<&Value> = events
        .iter()
        .filter(|event| event["actor"]["kind"] == "stack")
        .collect();
    let actions: Vec<&str> = by_stack
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    for action in [
        "service_account.created",
        "service_account.updated",
        "service_account.disabled",
        "service_account.deleted",
    ] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
    for event in by_stack {
        assert_eq!(event["actor"]["awsAccount"], AWS_ACCOUNT);
        assert_eq!(event["actor"]["logicalResourceId"], "Deployer");
        assert_eq!(event["actor"]["id"], payments());
    }
}

#[tokio::test]
async fn refused_callers_and_bad_properties_fail_with_a_reason_and_write_nothing() {
    let world = IacWorld::new().await;
    let account = create_account(&world, "Deployer", account_props("deployer")).await;
    let before = table_text(&world).await;
    world.faulty.proxy().reset_seen();
    let secrets_before = world
        .secretsmanager
        .list_secrets()
        .send()
        .await
        .unwrap()
        .secret_list()
        .len();

    let cases = [
        // Another AWS account (one the deployment admits, invoking its own alias, that the
        // organization does not list); a stack outside the prefix; an organization that
        // admits none.
        (
            stack_id(OTHER_ACCOUNT, "payments-prod"),
            ACCOUNT_TYPE,
            account_props("x"),
            "does not let this AWS account and stack manage it as code",
        ),
        (
            stack_id(AWS_ACCOUNT, "paymentsx"),
            ACCOUNT_TYPE,
            account_props("x"),
            "does not let this AWS account and stack manage it as code",
        ),
        (
            payments(),
            ACCOUNT_TYPE,
            json!({"Organization": "nope", "Name": "x"}),
            "does not let this AWS account and stack manage it as code",
        ),
        (
            "arn:aws:sns:eu-west-1:123456789012:topic".to_owned(),
            ACCOUNT_TYPE,
            account_props("x"),
            "StackId is not a CloudFormation stack ARN",
        ),
        // Bad properties.
        (
            payments(),
            ACCOUNT_TYPE,
            json!({"Organization": "acme", "Name": "x", "Role": "root"}),
            "property Role: a role is one of",
        ),
        (
            payments(),
            ACCOUNT_TYPE,
            json!({"Organization": "acme", "Name": "x", "Grants": ["brain-1:superuser"]}),
            "property Grants[0]: an access level is one of",
        ),
        (
            payments(),
            TOKEN_TYPE,
            json!({"Organization": "acme", "ServiceAccount": account, "Name": "ci", "Lifetime": "5y", "SecretName": "service-accounts/x"}),
            "property Lifetime: the lifetime exceeds the organization's maximum",
        ),
        (
            payments(),
            TOKEN_TYPE,
            json!({"Organization": "acme", "ServiceAccount": account, "Name": "ci", "Scopes": ["brain-2:read"], "SecretName": "service-accounts/x"}),
            "property Scopes: scope `brain-2:read` is wider than what the service account holds",
        ),
        (
            payments(),
            TOKEN_TYPE,
            json!({"Organization": "acme", "ServiceAccount": "0123456789abcdef", "Name": "ci", "SecretName": "service-accounts/x"}),
            "property ServiceAccount: no service account",
        ),
        (
            payments(),
            TOKEN_TYPE,
            json!({"Organization": "acme", "ServiceAccount": account, "Name": "ci", "SecretName": "elsewhere/x"}),
            "property SecretName: the secret's name must start with",
        ),
        (
            payments(),
            "Custom::Database",
            json!({}),
            "unknown resource type",
        ),
    ];
    for (stack, resource_type, props, reason) in cases {
        let request = world.request("Create", resource_type, "Thing", &stack, props.clone());
        let invoked = if stack.contains(OTHER_ACCOUNT) {
            provider_alias(OTHER_ACCOUNT)
        } else {
            PROVIDER.to_owned()
        };
        let body = world.send_via(&request, &invoked).await;
        assert_eq!(body["Status"], "FAILED", "{props}: {body}");
        assert!(
            body["Reason"].as_str().unwrap().contains(reason),
            "{props}: {body}"
        );
        assert_eq!(body["PhysicalResourceId"], "failed-Thing");
        assert_eq!(body["RequestId"], request["RequestId"]);
        assert!(body.get("Data").is_none());
        // CloudFormation rolls back: a Delete of the resource never made succeeds, and
        // changes nothing either.
        let mut delete = world.request("Delete", resource_type, "Thing", &stack, props);
        delete["PhysicalResourceId"] = json!("failed-Thing");
        assert_eq!(world.send(&delete).await["Status"], "SUCCESS");
    }
    // A request CloudFormation would not send still gets its one answer.
    let mut odd = world.request(
        "Create",
        ACCOUNT_TYPE,
        "Thing",
        &payments(),
        account_props("x"),
    );
    odd["RequestType"] = json!("Upsert");
    let body = world.send(&odd).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(
        body["Reason"]
            .as_str()
            .unwrap()
            .contains("unknown variant `Upsert`"),
        "{body}"
    );
    assert_eq!(body["PhysicalResourceId"], "failed-Thing");
    assert_eq!(body["RequestId"], odd["RequestId"]);
    assert_eq!(
        world.faulty.proxy().seen().forwarded_of(&WRITES),
        0,
        "zero writes"
    );
    assert_eq!(table_text(&world).await, before, "nothing changed");
    let secrets_after = world
        .secretsmanager
        .list_secrets()
        .send()
        .await
        .unwrap()
        .secret_list()
        .len();
    assert_eq!(secrets_after, secrets_before, "no secret made");
}

#[tokio::test]
async fn a_token_lives_only_in_its_secret_and_is_replaced_and_revoked_with_the_stack() {
    let logs = tests::logs::CapturedLogs::global();
    let world = IacWorld::new().await;
    let account = create_account(&world, "Deployer", account_props("deployer")).await;
    let secret = "service-accounts/payments/ci";
    let create = world.request(
        "Create",
        TOKEN_TYPE,
        "CiToken",
        &payments(),
        token_props(&account, secret),
    );
    world.faulty.proxy().reset_seen();
    let body = world.send(&create).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    // What a token's Create costs in DynamoDB: the organization, the account and the token
    // read, the token written once.
    let seen = world.faulty.proxy().seen();
    println!("a token's Create, DynamoDB calls: {:?}", seen.forwarded);
    assert_eq!(seen.forwarded_of(&WRITES), 1, "{seen:?}");
    let token_id = body["PhysicalResourceId"].as_str().unwrap().to_owned();
    let stored = world.current(secret).await;
    let token = stored["token"].as_str().unwrap().to_owned();
    assert_eq!(stored["tokenId"], token_id);
    assert_eq!(stored["organization"], "acme");
    assert_eq!(stored["serviceAccount"], account);
    let arn = body["Data"]["SecretArn"].as_str().unwrap().to_owned();
    assert!(
        arn.contains(":secret:service-accounts/payments/ci-"),
        "{arn}"
    );
    assert_eq!(
        body,
        json!({
            "Status": "SUCCESS",
            "PhysicalResourceId": token_id,
            "StackId": payments(),
            "RequestId": create["RequestId"],
            "LogicalResourceId": "CiToken",
            "Data": {
                "SecretArn": arn,
                "TokenId": token_id,
                "Prefix": stored["prefix"],
                "ServiceAccount": account,
            },
        })
    );
    // It works, through the authorizer.
    assert!(world.faulty.world.passes_the_authorizer(&token).await);

    // A retried Create: the same token, once.
    let items = table_text(&world).await.len();
    assert_eq!(world.send(&create).await, body);
    assert_eq!(table_text(&world).await.len(), items);
    assert_eq!(world.current(secret).await["token"], token);

    // An Update that fails midway (DynamoDB drops the new token's write): FAILED, and the old
    // token stays the secret's current one, working.
    let mut update = world.request(
        "Update",
        TOKEN_TYPE,
        "CiToken",
        &payments(),
        json!({"Organization": "acme", "ServiceAccount": account, "Name": "ci", "Lifetime": "30d", "Scopes": ["writer"], "SecretName": secret}),
    );
    update["PhysicalResourceId"] = json!(token_id);
    update["OldResourceProperties"] = token_props(&account, secret);
    world
        .faulty
        .proxy()
        .set(Rule::on(Fault::Reset, &["PutItem", "TransactWriteItems"]));
    let failed = world.send(&update).await;
    world.faulty.proxy().clear();
    assert_eq!(failed["Status"], "FAILED", "{failed}");
    assert_eq!(failed["PhysicalResourceId"], token_id);
    assert_eq!(
        world.current(secret).await["token"],
        token,
        "the old token is current"
    );
    assert!(world.faulty.world.passes_the_authorizer(&token).await);

    // The same Update, DynamoDB well again (CloudFormation's next attempt): a replacement.
    let mut update = world.request(
        "Update",
        TOKEN_TYPE,
        "CiToken",
        &payments(),
        update["ResourceProperties"].clone(),
    );
    update["PhysicalResourceId"] = json!(token_id);
    update["OldResourceProperties"] = token_props(&account, secret);
    let body = world.send(&update).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let new_id = body["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_ne!(new_id, token_id, "a token is replaced");
    let new_token = world.current(secret).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_token, token);
    assert!(world.faulty.world.passes_the_authorizer(&new_token).await);
    let principal = world.faulty.world.principal(&new_token).await.unwrap();
    let writer = shared::access::Scope::parse("writer").unwrap();
    assert_eq!(principal.scopes.iter().collect::<Vec<_>>(), vec![&writer]);

    // CloudFormation deletes the old one: revoked, and the secret (holding the new one) kept.
    let mut delete_old = world.request(
        "Delete",
        TOKEN_TYPE,
        "CiToken",
        &payments(),
        token_props(&account, secret),
    );
    delete_old["PhysicalResourceId"] = json!(token_id);
    assert_eq!(world.send(&delete_old).await["Status"], "SUCCESS");
    assert!(!world.faulty.world.passes_the_authorizer(&token).await);
    assert!(world.faulty.world.passes_the_authorizer(&new_token).await);
    assert_eq!(world.current(secret).await["token"], new_token);

    // The stack is deleted: the token is revoked and the secret it made deleted.
    let mut delete = world.request(
        "Delete",
        TOKEN_TYPE,
        "CiToken",
        &payments(),
        update["ResourceProperties"].clone(),
    );
    delete["PhysicalResourceId"] = json!(new_id);
    assert_eq!(world.send(&delete).await["Status"], "SUCCESS");
    assert!(!world.faulty.world.passes_the_authorizer(&new_token).await);
    assert!(!world.secret_exists(secret).await);
    assert_eq!(world.send(&delete).await["Status"], "SUCCESS", "again");

    // Neither token appears anywhere but in the secret: responses, Data, table, audit trail,
    // logs (which name the tokens by their display prefix).
    let logs = logs.text();
    assert!(
        logs.contains(&format!("svc_{token_id}")),
        "the marker is logged"
    );
    assert!(logs.contains("answered a custom resource request"));
    let responses = world.all_responses_text();
    let table = table_text(&world).await.join("\n");
    let audit = serde_json::to_string(&audit_events(&world.faulty.world).await.unwrap()).unwrap();
    for secret_text in [&token, &new_token] {
        assert!(!logs.contains(secret_text.as_str()));
        assert!(!responses.contains(secret_text.as_str()));
        assert!(!table.contains(secret_text.as_str()));
        assert!(!audit.contains(secret_text.as_str()));
    }
    assert!(audit.contains("\"kind\":\"stack\""));
}

#[tokio::test]
async fn a_token_written_to_an_existing_secret_is_left_there_and_a_rollback_restores_the_old_one() {
    let world = IacWorld::new().await;
    let account = create_account(&world, "Deployer", account_props("deployer")).await;
    let existing = world
        .secretsmanager
        .create_secret()
        .name("service-accounts/shared")
        .secret_string("{}")
        .send()
        .await
        .unwrap();
    let arn = existing.arn().unwrap().to_owned();
    let props =
        json!({"Organization": "acme", "ServiceAccount": account, "Name": "ci", "SecretArn": arn});
    let body = world
        .send(&world.request("Create", TOKEN_TYPE, "CiToken", &payments(), props.clone()))
        .await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let first = body["PhysicalResourceId"].as_str().unwrap().to_owned();
    let first_token = world.current(&arn).await["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // A replacement (new scopes) then rolled back: CloudFormation deletes the new one, and
    // the secret gets the old token back.
    let mut changed = props.clone();
    changed["Scopes"] = json!(["reader"]);
    let mut update = world.request(
        "Update",
        TOKEN_TYPE,
        "CiToken",
        &payments(),
        changed.clone(),
    );
    update["PhysicalResourceId"] = json!(first);
    update["OldResourceProperties"] = props.clone();
    let body = world.send(&update).await;
    let second = body["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let mut rollback = world.request("Delete", TOKEN_TYPE, "CiToken", &payments(), changed);
    rollback["PhysicalResourceId"] = json!(second);
    assert_eq!(world.send(&rollback).await["Status"], "SUCCESS");
    assert_eq!(world.current(&arn).await["token"], first_token);
    assert!(world.faulty.world.passes_the_authorizer(&first_token).await);

    // Another resource may not take the secret over (it is tagged as this one's now).
    let body = world
        .send(&world.request(
            "Create",
            TOKEN_TYPE,
            "OtherToken",
            &payments(),
            props.clone(),
        ))
        .await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(
        body["Reason"]
            .as_str()
            .unwrap()
            .contains("another resource's"),
        "{body}"
    );
    assert_eq!(world.current(&arn).await["token"], first_token);

    // Deleting the resource revokes its token and leaves the secret it did not make.
    let mut delete = world.request("Delete", TOKEN_TYPE, "CiToken", &payments(), props);
    delete["PhysicalResourceId"] = json!(first);
    assert_eq!(world.send(&delete).await["Status"], "SUCCESS");
    assert!(!world.faulty.world.passes_the_authorizer(&first_token).await);
    assert!(world.secret_exists(&arn).await);

    // A secret holding another organization's token is refused, and left as it was.
    let foreign = world
        .secretsmanager
        .create_secret()
        .name("service-accounts/beta-ci")
        .secret_string(
            json!({"token": "svc_x", "tokenId": "0123456789abcdef", "prefix": "svc_0123456789abcdef", "organization": "beta", "resource": "0123456789abcdef"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let foreign = foreign.arn().unwrap().to_owned();
    let props = json!({"Organization": "acme", "ServiceAccount": account, "Name": "ci", "SecretArn": foreign});
    let body = world
        .send(&world.request("Create", TOKEN_TYPE, "Thief", &payments(), props))
        .await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(
        body["Reason"]
            .as_str()
            .unwrap()
            .contains("another organization's"),
        "{body}"
    );
    assert_eq!(world.current(&foreign).await["organization"], "beta");

    // Deleting a token written once into a secret whose earlier value is no token document
    // (`{}` here, a generated password elsewhere) revokes it and leaves the secret.
    let placeholder = world
        .secretsmanager
        .create_secret()
        .name("service-accounts/placeholder")
        .secret_string("{}")
        .send()
        .await
        .unwrap();
    let placeholder = placeholder.arn().unwrap().to_owned();
    let props = json!({"Organization": "acme", "ServiceAccount": account, "Name": "direct", "SecretArn": placeholder});
    let body = world
        .send(&world.request("Create", TOKEN_TYPE, "Direct", &payments(), props.clone()))
        .await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let direct = world.current(&placeholder).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(world.faulty.world.passes_the_authorizer(&direct).await);
    let mut delete = world.request("Delete", TOKEN_TYPE, "Direct", &payments(), props);
    delete["PhysicalResourceId"] = body["PhysicalResourceId"].clone();
    let deleted = world.send(&delete).await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert!(!world.faulty.world.passes_the_authorizer(&direct).await);
    assert!(world.secret_exists(&placeholder).await);
}

#[tokio::test]
async fn a_secret_never_moves_to_another_organization() {
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
    let acme_account = create_account(&world, "Deployer", account_props("deployer")).await;
    let mut beta_props = account_props("deployer");
    beta_props["Organization"] = json!("beta");
    let beta_account = create_account(&world, "Deployer", beta_props).await;
    let secret = "service-accounts/payments/moved";
    let old_props = token_props(&acme_account, secret);
    let body = world
        .send(&world.request(
            "Create",
            TOKEN_TYPE,
            "CiToken",
            &payments(),
            old_props.clone(),
        ))
        .await;
    let first = body["PhysicalResourceId"].as_str().unwrap().to_owned();
    let first_token = world.current(secret).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The stack moves the token to beta in the same secret: refused, nothing changes.
    let mut new_props = token_props(&beta_account, secret);
    new_props["Organization"] = json!("beta");
    let mut update = world.request("Update", TOKEN_TYPE, "CiToken", &payments(), new_props);
    update["PhysicalResourceId"] = json!(first);
    update["OldResourceProperties"] = old_props;
    let before = table_text(&world).await;
    let body = world.send(&update).await;
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(
        body["Reason"]
            .as_str()
            .unwrap()
            .contains("never moves between organizations"),
        "{body}"
    );
    assert_eq!(table_text(&world).await, before);
    assert_eq!(world.current(secret).await["token"], first_token);
    assert_eq!(world.current(secret).await["organization"], "acme");
    assert!(world.faulty.world.passes_the_authorizer(&first_token).await);
}

#[tokio::test]
async fn secrets_manager_rotates_the_token_in_four_repeatable_steps() {
    let world = IacWorld::new().await;
    let account = create_account(&world, "Deployer", account_props("deployer")).await;
    let secret = "service-accounts/payments/rotated";
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
    let old = world.current(secret).await;
    let old_token = old["token"].as_str().unwrap().to_owned();

    // A step on a secret without rotation is refused.
    let version = uuid::Uuid::new_v4().to_string();
    let refused = world
        .rotation_step(secret, &version, Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("not enabled"), "{refused}");
    // Rotation turned on (moto's RotateSecret with no function copies the value: the same
    // token stays current).
    world
        .secretsmanager
        .rotate_secret()
        .secret_id(secret)
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .rotate_immediately(false)
        .send()
        .await
        .unwrap();
    assert_eq!(world.current(secret).await["token"], old_token);

    for step in [Step::CreateSecret, Step::CreateSecret] {
        world.rotation_step(secret, &version, step).await.unwrap();
    }
    let pending = world
        .version(secret, Some(&version), Some("AWSPENDING"))
        .await
        .unwrap();
    let new_token = pending["token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, old_token);
    assert_eq!(pending["resource"], old["resource"], "the resource is kept");
    assert!(!world.faulty.world.works(&new_token).await, "not set yet");
    // testSecret before setSecret fails: the pending token is not live yet.
    assert!(
        world
            .rotation_step(secret, &version, Step::TestSecret)
            .await
            .is_err()
    );

    for step in [
        Step::SetSecret,
        Step::SetSecret,
        Step::TestSecret,
        Step::TestSecret,
    ] {
        world.rotation_step(secret, &version, step).await.unwrap();
    }
    assert!(world.faulty.world.works(&new_token).await);
    assert!(world.faulty.world.works(&old_token).await, "in its grace");
    assert_eq!(
        world.current(secret).await["token"],
        old_token,
        "not finished"
    );

    for step in [Step::FinishSecret, Step::FinishSecret] {
        world.rotation_step(secret, &version, step).await.unwrap();
    }
    assert_eq!(world.current(secret).await["token"], new_token);
    // No version is left pending, so the next RotateSecret starts afresh.
    let described = world
        .secretsmanager
        .describe_secret()
        .secret_id(secret)
        .send()
        .await
        .unwrap();
    let pending = described
        .version_ids_to_stages()
        .unwrap()
        .values()
        .filter(|labels| labels.iter().any(|label| label == "AWSPENDING"))
        .count();
    assert_eq!(pending, 0, "{described:?}");
    // A step of the finished rotation, repeated, does nothing.
    world
        .rotation_step(secret, &version, Step::SetSecret)
        .await
        .unwrap();

    // The old token works through the grace period (an hour here) and not after it.
    let world_clock = &world.faulty.world.clock;
    let now = world.faulty.world.clock_now();
    world_clock.set(now + Duration::minutes(59));
    assert!(world.faulty.world.passes_the_authorizer(&old_token).await);
    world_clock.set(now + Duration::minutes(61));
    assert!(world.faulty.world.passes_the_authorizer(&new_token).await);
    // Past it the old one is revoked (presenting it now would be a reuse, which ends the
    // whole lineage: the lineage tests show it).
    let old_id = shared::token::ParsedToken::parse(
        &world.provider.use_cases.token_format,
        shared::token::TokenSecret::new(old_token.clone()),
    )
    .unwrap()
    .id()
    .to_string();
    let old_status = world
        .faulty
        .world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "GET",
                &format!("/v1/orgs/acme/service-accounts/{account}/tokens/{old_id}"),
            )
            .bearer(&world.faulty.world.acme.token),
        )
        .await;
    assert_eq!(
        old_status.body["status"], "revoked",
        "{:?}",
        old_status.body
    );

    // The trail: one rotation, by the token's own account, named by the rotation's version.
    let events = audit_events(&world.faulty.world).await.unwrap();
    let rotations: Vec<&Value> = events
        .iter()
        .filter(|event| event["action"] == "token.rotated")
        .collect();
    assert_eq!(rotations.len(), 1, "{rotations:?}");
    assert_eq!(rotations[0]["actor"]["kind"], "service_account");
    assert_eq!(rotations[0]["actor"]["requestId"], version);
    let audit = serde_json::to_string(&events).unwrap();
    assert!(!audit.contains(&new_token) && !audit.contains(&old_token));

    // Deleting the stack's token revokes the rotated one too, and deletes the secret, even
    // once DynamoDB's TTL has purged the first token's record (its retention after the
    // rotation's revocation has passed), so the lineage cannot be walked from it.
    let first_id = body["PhysicalResourceId"].as_str().unwrap();
    let tables = &world.faulty.world.tables;
    tables
        .client
        .delete_item()
        .table_name(tables.table.as_str())
        .key("pk", AttributeValue::S("ORG#acme".into()))
        .key("sk", AttributeValue::S(format!("TK#{account}#{first_id}")))
        .send()
        .await
        .unwrap();
    let mut delete = world.request(
        "Delete",
        TOKEN_TYPE,
        "CiToken",
        &payments(),
        token_props(&account, secret),
    );
    delete["PhysicalResourceId"] = body["PhysicalResourceId"].clone();
    assert_eq!(
        world.send(&delete).await,
        json!({
            "Status": "SUCCESS",
            "PhysicalResourceId": first_id,
            "StackId": payments(),
            "RequestId": delete["RequestId"],
            "LogicalResourceId": "CiToken",
        })
    );
    assert!(!world.faulty.world.passes_the_authorizer(&new_token).await);
    assert!(!world.secret_exists(secret).await);
}
