//! The IAM conformance check itself (`tests/src/iam/`): every function of the template is
//! known and its role resolves; and the evaluator denies what AWS would deny, on the roles
//! of the template. The check of the functions' real calls runs in every other test of this
//! binary, through the clients the harness gives each function.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use tests::iam::policy::Decision;
use tests::iam::requests::{Place, SecretFacts, requests};
use tests::iam::template::template;
use tests::iam::{ACCOUNT, Deployment, Function};

const REGION: &str = "eu-west-1";
const TABLE: &str = "test-table";
const AUDIT: &str = "test-audit";

fn deployment() -> Deployment {
    Deployment::named(TABLE, AUDIT)
}

/// The decisions on one call of `function`, with `facts` known of every secret (`None`: of
/// none).
fn decide(
    function: Function,
    target: &str,
    body: &Value,
    facts: Option<SecretFacts>,
) -> Vec<Decision> {
    let place = Place {
        region: REGION,
        account: ACCOUNT,
    };
    let facts = move |_: &str| facts.clone();
    let (_, policy) = deployment().policy(function, REGION).unwrap();
    requests(target, body, &place, &facts)
        .unwrap()
        .iter()
        .map(|request| policy.decide(request))
        .collect()
}

fn allowed(decisions: &[Decision]) -> bool {
    !decisions.is_empty() && decisions.iter().all(|d| matches!(d, Decision::Allowed(_)))
}

fn dynamodb(operation: &str) -> String {
    format!("DynamoDB_20120810.{operation}")
}

#[test]
fn every_function_of_the_template_is_known_and_its_role_resolves() {
    let functions = template().functions().unwrap();
    let binaries: BTreeSet<&str> = functions.iter().map(|(_, b, _)| b.as_str()).collect();
    let known: BTreeSet<&str> = Function::ALL.iter().map(|f| f.binary()).collect();
    assert_eq!(
        binaries, known,
        "tests::iam::Function must name every function"
    );
    for function in Function::ALL {
        let (role, policy) = deployment().policy(function, REGION).unwrap();
        assert!(role.ends_with("Role"), "{role}");
        assert!(!policy.statements.is_empty(), "{role}");
    }
    // The resolution names the test's tables, region and account.
    let (_, accounts) = deployment().policy(Function::Accounts, REGION).unwrap();
    let resources: Vec<&str> = accounts
        .statements
        .iter()
        .flat_map(|s| s.resources.iter().map(|(arn, _)| arn.as_str()))
        .collect();
    assert!(resources.contains(&"arn:aws:dynamodb:eu-west-1:123456789012:table/test-table"));
    assert!(
        resources
            .contains(&"arn:aws:dynamodb:eu-west-1:123456789012:table/test-audit/index/by-target")
    );
}

/// The workload exchange's transaction: the access token put, the trust policy's count
/// updated, and a condition check on the account. Each item needs its own action.
#[test]
fn a_transactions_items_each_need_their_action_on_their_table() {
    let key = json!({"pk": {"S": "ORG#acme"}, "sk": {"S": "SA#x"}});
    let exchange = json!({"TransactItems": [
        {"Put": {"TableName": TABLE, "Item": key, "ConditionExpression": "attribute_not_exists(#pk)", "ExpressionAttributeNames": {"#pk": "pk"}}},
        {"Update": {"TableName": TABLE, "Key": key, "UpdateExpression": "SET #issued = #issued + :one", "ExpressionAttributeNames": {"#issued": "accessIssued"}}},
        {"ConditionCheck": {"TableName": TABLE, "Key": key, "ConditionExpression": "#version = :version", "ExpressionAttributeNames": {"#version": "version"}}},
    ]});
    let decisions = decide(
        Function::Tokens,
        &dynamodb("TransactWriteItems"),
        &exchange,
        None,
    );
    assert_eq!(decisions.len(), 3);
    assert!(allowed(&decisions), "{decisions:?}");
    // The same transaction on another table is denied, item by item.
    let elsewhere: Value =
        serde_json::from_str(&exchange.to_string().replace(TABLE, "another-table")).unwrap();
    let decisions = decide(
        Function::Tokens,
        &dynamodb("TransactWriteItems"),
        &elsewhere,
        None,
    );
    assert!(
        decisions.iter().all(|d| matches!(d, Decision::Denied(_))),
        "{decisions:?}"
    );
    // The provider has no UpdateItem at all.
    let decisions = decide(
        Function::Provisioner,
        &dynamodb("TransactWriteItems"),
        &exchange,
        None,
    );
    assert!(!allowed(&decisions), "{decisions:?}");
}

#[test]
fn conditions_on_attributes_and_indexes_are_applied() {
    let key = json!({"pk": {"S": "ORG#acme"}, "sk": {"S": "TOKEN#x"}});
    let stamp = |expression: &str, names: Value, returns: Option<&str>| {
        let mut body = json!({"TableName": TABLE, "Key": key, "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(#pk)", "ExpressionAttributeNames": names});
        if let Some(returns) = returns {
            body["ReturnValues"] = json!(returns);
        }
        decide(Function::Authorizer, &dynamodb("UpdateItem"), &body, None)
    };
    let names = json!({"#pk": "pk", "#used": "lastUsedAt"});
    assert!(allowed(&stamp("SET #used = :now", names.clone(), None)));
    assert!(allowed(&stamp(
        "SET #used = :now",
        names.clone(),
        Some("NONE")
    )));
    assert!(!allowed(&stamp(
        "SET #used = :now",
        names.clone(),
        Some("ALL_NEW")
    )));
    let wider = json!({"#pk": "pk", "#used": "lastUsedAt", "#v": "version"});
    assert!(!allowed(&stamp("SET #used = :now, #v = :v", wider, None)));
    // It may revoke (a reused token's lineage), and write nothing else of a token.
    assert!(allowed(&stamp("SET revokedAt = :now", names.clone(), None)));
    for other in ["scopes", "hash", "expiresAt", "account"] {
        let widened = json!({"#pk": "pk", "#other": other});
        assert!(
            !allowed(&stamp("SET #other = :x", widened, None)),
            "{other}"
        );
    }
    let put = json!({"TableName": TABLE, "Item": {"pk": {"S": "ORG#acme"}, "sk": {"S": "TK#x"}}});
    assert!(!allowed(&decide(
        Function::Authorizer,
        &dynamodb("PutItem"),
        &put,
        None
    )));
    let _ = names;

    // The accounts function queries the audit trail's two indexes, and no other.
    let query = |index: Option<&str>, table: &str| {
        let mut body = json!({"TableName": table, "KeyConditionExpression": "pk = :pk"});
        if let Some(index) = index {
            body["IndexName"] = json!(index);
        }
        decide(Function::Accounts, &dynamodb("Query"), &body, None)
    };
    assert!(allowed(&query(Some("by-target"), AUDIT)));
    assert!(allowed(&query(None, AUDIT)));
    assert!(!allowed(&query(Some("by-anything"), AUDIT)));
    // Nor an index of the main table it has no grant on.
    assert!(!allowed(&query(Some("expiring"), TABLE)));
    // The audit trail is written by the audit writer alone.
    let put = json!({"TableName": AUDIT, "Item": {"pk": {"S": "x"}}});
    assert!(!allowed(&decide(
        Function::Accounts,
        &dynamodb("PutItem"),
        &put,
        None
    )));
    assert!(allowed(&decide(
        Function::Audit,
        &dynamodb("PutItem"),
        &put,
        None
    )));
    // A batch read is judged per table.
    let batch = json!({"RequestItems": {TABLE: {"Keys": [key]}, AUDIT: {"Keys": [key]}}});
    let decisions = decide(
        Function::Authorizer,
        &dynamodb("BatchGetItem"),
        &batch,
        None,
    );
    assert_eq!(decisions.len(), 2);
    assert!(!allowed(&decisions));
}

#[test]
fn secrets_are_judged_by_name_tags_and_key() {
    let sm = |operation: &str| format!("secretsmanager.{operation}");
    let ours = BTreeMap::from([
        (
            "service-accounts:stack-id".to_owned(),
            "arn:stack".to_owned(),
        ),
        ("service-accounts:logical-id".to_owned(), "Token".to_owned()),
    ]);
    let tagged = Some(SecretFacts {
        tags: ours.clone(),
        kms_key: None,
    });
    let untagged = Some(SecretFacts::default());
    let delete = json!({"SecretId": "service-accounts/ci", "ForceDeleteWithoutRecovery": true});
    assert!(allowed(&decide(
        Function::Provisioner,
        &sm("DeleteSecret"),
        &delete,
        tagged.clone()
    )));
    assert!(!allowed(&decide(
        Function::Provisioner,
        &sm("DeleteSecret"),
        &delete,
        untagged.clone()
    )));
    // Tags it never saw: it cannot tell, so it denies.
    assert!(!allowed(&decide(
        Function::Provisioner,
        &sm("DeleteSecret"),
        &delete,
        None
    )));
    assert!(!allowed(&decide(
        Function::Rotation,
        &sm("DeleteSecret"),
        &delete,
        tagged.clone()
    )));

    // Only under the prefix, and only this account's (an ARN of another is another secret).
    let value = |id: &str| json!({"SecretId": id, "VersionStage": "AWSCURRENT"});
    assert!(allowed(&decide(
        Function::Rotation,
        &sm("GetSecretValue"),
        &value("service-accounts/ci"),
        untagged.clone()
    )));
    assert!(!allowed(&decide(
        Function::Rotation,
        &sm("GetSecretValue"),
        &value("prod/db"),
        untagged.clone()
    )));
    let foreign = "arn:aws:secretsmanager:eu-west-1:999999999999:secret:service-accounts/ci-AbCdEf";
    assert!(!allowed(&decide(
        Function::Rotation,
        &sm("GetSecretValue"),
        &value(foreign),
        untagged.clone()
    )));

    // A create with tags needs TagResource, for the provider's own tag keys only.
    let create = |tags: Value, key: Option<&str>| {
        let mut body = json!({"Name": "service-accounts/ci", "SecretString": "{}", "Tags": tags});
        if let Some(key) = key {
            body["KmsKeyId"] = json!(key);
        }
        decide(Function::Provisioner, &sm("CreateSecret"), &body, None)
    };
    let own = json!([{"Key": "service-accounts:stack-id", "Value": "s"}]);
    assert_eq!(create(own.clone(), None).len(), 2);
    assert!(allowed(&create(own.clone(), None)));
    assert!(!allowed(&create(
        json!([{"Key": "owner", "Value": "me"}]),
        None
    )));
    // A customer managed key of this account, through Secrets Manager: allowed; of another
    // account: denied.
    let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let decisions = create(own.clone(), Some(key));
    assert_eq!(decisions.len(), 4, "{decisions:?}");
    assert!(allowed(&decisions));
    let theirs = key.replace("123456789012", "999999999999");
    assert!(!allowed(&create(own, Some(&theirs))));
    // Reading a secret under that key needs kms:Decrypt: the rotation has it.
    let under_key = Some(SecretFacts {
        tags: ours,
        kms_key: Some(key.to_owned()),
    });
    let decisions = decide(
        Function::Rotation,
        &sm("GetSecretValue"),
        &value("service-accounts/ci"),
        under_key,
    );
    assert_eq!(decisions.len(), 2);
    assert!(allowed(&decisions));
}

#[test]
fn events_go_to_the_deployments_bus_alone() {
    let put = |bus: &str| json!({"Entries": [{"Source": "service-accounts", "EventBusName": bus, "DetailType": "x", "Detail": "{}"}]});
    let on = |deployment: &Deployment, bus: &str| {
        let place = Place {
            region: REGION,
            account: ACCOUNT,
        };
        let (_, policy) = deployment.policy(Function::Audit, REGION).unwrap();
        requests("AWSEvents.PutEvents", &put(bus), &place, &|_| None)
            .unwrap()
            .iter()
            .all(|request| matches!(policy.decide(request), Decision::Allowed(_)))
    };
    // The stack's own bus (EventBusName empty: the stack creates `<stack>-audit`).
    assert!(on(&deployment(), "service-accounts-audit"));
    assert!(!on(&deployment(), "default"));
    // An operator's bus.
    let theirs = deployment().with_parameter("EventBusName", "ops-bus");
    assert!(on(&theirs, "ops-bus"));
    assert!(!on(&theirs, "service-accounts-audit"));
    // No other function publishes.
    let (_, tokens) = deployment().policy(Function::Tokens, REGION).unwrap();
    let place = Place {
        region: REGION,
        account: ACCOUNT,
    };
    let request = &requests(
        "AWSEvents.PutEvents",
        &put("service-accounts-audit"),
        &place,
        &|_| None,
    )
    .unwrap()[0];
    assert!(matches!(tokens.decide(request), Decision::Denied(_)));
}

/// A token written into a secret under a customer managed key (`KmsKeyId`): the provider's
/// create, reads and deletion are judged with the KMS calls Secrets Manager makes with its
/// credentials (`kms:GenerateDataKey`, `kms:Decrypt` through `secretsmanager`), and its role
/// allows them for a key of its account.
#[tokio::test]
async fn a_secret_under_a_customer_managed_key_stays_within_the_providers_role() {
    use tests::iac::{AWS_ACCOUNT, IacWorld, stack_id};
    let world = IacWorld::new().await;
    let stack = stack_id(AWS_ACCOUNT, "payments-kms");
    let send = |request: Value| {
        let world = &world;
        async move {
            let body = world.send(&request).await;
            assert_eq!(body["Status"], "SUCCESS", "{body}");
            body
        }
    };
    let account = send(world.request(
        "Create",
        "Custom::ServiceAccount",
        "Bot",
        &stack,
        json!({"Organization": "acme", "Name": "kms-bot", "Role": "reader"}),
    ))
    .await["PhysicalResourceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let key =
        format!("arn:aws:kms:{REGION}:{AWS_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let props = json!({
        "Organization": "acme",
        "ServiceAccount": account,
        "Name": "ci",
        "SecretName": "service-accounts/kms-ci",
        "KmsKeyId": key,
    });
    let created = send(world.request(
        "Create",
        "Custom::ServiceToken",
        "Token",
        &stack,
        props.clone(),
    ))
    .await;
    assert_eq!(
        world.current("service-accounts/kms-ci").await["organization"],
        "acme"
    );
    let mut delete = world.request("Delete", "Custom::ServiceToken", "Token", &stack, props);
    delete["PhysicalResourceId"] = created["PhysicalResourceId"].clone();
    send(delete).await;
    assert!(!world.secret_exists("service-accounts/kms-ci").await);
}
