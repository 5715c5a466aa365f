//! Every function is a real Lambda binary: it starts against a Lambda Runtime API, reads its
//! configuration, builds its DynamoDB client and answers an invocation of its event type.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use tests::TestTables;
use tests::runtime_api::{LocalFunction, Outcome};

/// A function's environment over the test tables.
fn environment(tables: &TestTables) -> Vec<(&str, &str)> {
    vec![
        ("TABLE_NAME", tables.table.as_str()),
        ("AUDIT_TABLE_NAME", tables.audit_table.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", tables.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("TOKEN_KEYS", tests::TEST_TOKEN_KEYS),
    ]
}

async fn start(name: &str, tables: &TestTables) -> LocalFunction {
    LocalFunction::start(name, &environment(tables))
        .await
        .unwrap()
}

fn http_api_event(path: &str) -> serde_json::Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "curl/8"},
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "12/Mar/2020:19:03:58 +0000",
            "timeEpoch": 1583348638390u64
        },
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn the_admin_api_functions_start_and_answer_http_events() {
    let tables = TestTables::create().await.unwrap();
    for name in ["accounts", "tokens"] {
        let mut function = start(name, &tables).await;
        let outcome = function
            .invoke(http_api_event("/v1/orgs/acme/nothing-here"))
            .await
            .unwrap();
        let Outcome::Response(response) = outcome else {
            panic!("{name} failed: {outcome:?}")
        };
        assert_eq!(response["statusCode"], 404, "{name}: {response}");
        assert_eq!(
            response["headers"]["content-type"],
            "application/problem+json"
        );
    }
}

#[tokio::test]
async fn the_authorizer_starts_and_fails_closed() {
    let tables = TestTables::create().await.unwrap();
    let mut function = start("authorizer", &tables).await;
    let event = json!({
        "type": "TOKEN",
        "authorizationToken": "Bearer svc_anything",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/request"
    });
    let outcome = function.invoke(event).await.unwrap();
    let Outcome::Error(error) = outcome else {
        panic!("allowed: {outcome:?}")
    };
    assert_eq!(error["errorMessage"], "Unauthorized");
}

#[tokio::test]
async fn the_audit_function_starts_writes_events_and_reports_what_it_cannot() {
    let tables = TestTables::create().await.unwrap();
    let mut function = start("audit", &tables).await;
    // An organization's item as the table holds it, as Lambda's JSON.
    let org = shared::model::Organization::new(
        shared::ids::OrgId::parse("acme").unwrap(),
        shared::text::DisplayName::parse("Acme").unwrap(),
        shared::policy::TokenPolicy::default(),
        shared::model::Actor::new(shared::model::ActorKind::Operator, "ops"),
        time::OffsetDateTime::now_utc(),
    );
    let mut image: serde_dynamo::Item = serde_dynamo::to_item(&org).unwrap();
    for (name, value) in [("pk", "ORG#acme"), ("sk", "ORG"), ("entity", "org")] {
        image.insert(name.into(), serde_dynamo::AttributeValue::S(value.into()));
    }
    let record = |event_id: &str, sequence: &str, image: serde_json::Value| {
        json!({
            "eventID": event_id,
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": {"pk": {"S": "ORG#acme"}, "sk": {"S": "ORG"}},
                "NewImage": image,
                "ApproximateCreationDateTime": 1479499740,
                "SequenceNumber": sequence,
                "SizeBytes": 26,
                "StreamViewType": "NEW_AND_OLD_IMAGES"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2016-11-16T20:42:48.104"
        })
    };
    let event = json!({"Records": [
        record("c4ca4238a0b923820dcc509a6f75849b", "4421584500000000017450439091",
            serde_json::to_value(&image).unwrap()),
        record("c81e728d9d4c2f636f067f89cc14862c", "4421584500000000017450439092",
            json!({"pk": {"S": "ORG#acme"}, "sk": {"S": "ORG"}})),
    ]});
    let outcome = function.invoke(event).await.unwrap();
    assert_eq!(
        outcome,
        Outcome::Response(
            json!({"batchItemFailures": [{"itemIdentifier": "4421584500000000017450439092"}]})
        )
    );
    let written = tables.scan_audit().await.unwrap();
    assert_eq!(written.len(), 1);
    let event: serde_json::Value = serde_dynamo::from_item(written[0].clone()).unwrap();
    assert_eq!(event["action"], "org.created");
    assert_eq!(event["actor"], json!({"kind": "operator", "id": "ops"}));
}

#[tokio::test]
async fn the_console_starts_and_answers_pages_through_api_gateway() {
    let tables = TestTables::create().await.unwrap();
    let key = "k".repeat(64) + &shared::random::base62_string(24).unwrap();
    let mut env = environment(&tables);
    env.push(("CONSOLE_SESSION_KEY", key.as_str()));
    let mut function = LocalFunction::start("console", &env).await.unwrap();
    // The landing page, as HTML with the console's policy.
    let Outcome::Response(landing) = function.invoke(http_api_event("/console")).await.unwrap()
    else {
        panic!("the console failed");
    };
    assert_eq!(landing["statusCode"], 200, "{landing}");
    assert_eq!(
        landing["headers"]["content-type"],
        "text/html; charset=utf-8"
    );
    assert!(
        landing["headers"]["content-security-policy"]
            .as_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    // A page of an organization without a session: off to sign in.
    let Outcome::Response(page) = function
        .invoke(http_api_event("/console/orgs/acme/service-accounts"))
        .await
        .unwrap()
    else {
        panic!("the console failed");
    };
    assert_eq!(page["statusCode"], 303, "{page}");
    assert_eq!(page["headers"]["location"], "/console/sign-in?org=acme");
    // Without its session key it does not start.
    let mut short = environment(&tables);
    short.push(("CONSOLE_SESSION_KEY", "too-short"));
    let mut broken = LocalFunction::start("console", &short).await.unwrap();
    let outcome = broken.invoke(http_api_event("/console")).await;
    assert!(
        !matches!(outcome, Ok(Outcome::Response(_))),
        "a console without a proper session key answered: {outcome:?}"
    );
}

#[tokio::test]
async fn the_lifecycle_function_starts_and_runs_on_a_scheduler_event() {
    use shared::model::{Actor, ActorKind, NewToken, Organization, Token, TokenKind};
    use shared::policy::{ExpiryWarningDays, TokenPolicy};
    let tables = TestTables::create().await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let org_id = shared::ids::OrgId::parse("acme").unwrap();
    let operator = Actor::new(ActorKind::Operator, "ops");
    let policy =
        TokenPolicy::default().with_lifecycle(ExpiryWarningDays::parse(&[14]).unwrap(), None);
    let org = Organization::new(
        org_id.clone(),
        shared::text::DisplayName::parse("Acme").unwrap(),
        policy,
        operator.clone(),
        now - time::Duration::days(30),
    );
    tables.store.create_org(&org).await.unwrap();
    let parsed = shared::token::ParsedToken::generate(
        &tests::test_token_format(),
        &org_id,
        shared::token::TokenOwner::Org,
    )
    .unwrap();
    let fields = NewToken {
        name: shared::text::DisplayName::parse("deploy").unwrap(),
        description: None,
        scopes: shared::access::Scopes::default(),
        expires_at: Some(now + time::Duration::days(10)),
    };
    let token = Token::new(
        TokenKind::Org,
        &parsed,
        fields,
        operator,
        now - time::Duration::days(30),
    );
    tables.store.create_token(&token).await.unwrap();

    let mut function = start("lifecycle", &tables).await;
    // EventBridge Scheduler's event (its content does not matter to the run).
    let scheduled = json!({
        "version": "0",
        "id": "f3d9c4a3-8a4c-4c58-9b2a-6b3f7f3c1e2d",
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": "123456789012",
        "time": "2026-11-28T14:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/lifecycle"],
        "detail": "{}"
    });
    let Outcome::Response(report) = function.invoke(scheduled.clone()).await.unwrap() else {
        panic!("the run failed");
    };
    assert_eq!(report["orgs"], 1, "{report}");
    assert_eq!(report["warned"], 1, "{report}");
    let Outcome::Response(again) = function.invoke(scheduled).await.unwrap() else {
        panic!("the second run failed");
    };
    assert_eq!(again["warned"], 0, "{again}");
    let stored = tables
        .store
        .get_token(&org_id, &shared::token::TokenOwner::Org, &token.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.expiry_warning.unwrap().days, 14);
}

/// The provider and the rotation function start with their settings, Secrets Manager from moto
/// beside DynamoDB Local: the provider answers a CloudFormation request with one PUT to its
/// response URL; the rotation function fails a step on a secret that does not exist, naming it.
#[tokio::test]
async fn the_provisioner_and_rotation_functions_start_and_answer_their_events() {
    let world = tests::iac::IacWorld::new().await;
    let tables = &world.faulty.world.tables;
    let mut env = environment(tables);
    env.push((
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        world.moto.endpoint.as_str(),
    ));
    env.push(("ALLOW_LOCAL_RESPONSE_URLS", "true"));
    env.push(("IAC_ACCOUNT_IDS", tests::iac::OTHER_ACCOUNT));
    let reply = world
        .set_iac_access(json!([{"account": tests::iac::OTHER_ACCOUNT}]))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let mut provisioner = LocalFunction::start("provisioner", &env).await.unwrap();
    let request = world.request(
        "Create",
        "Custom::ServiceAccount",
        "Deployer",
        &tests::iac::stack_id(tests::iac::OTHER_ACCOUNT, "payments"),
        json!({"Organization": "acme", "Name": "deployer"}),
    );
    // Through the function itself, the invoker is the function's own account (another):
    // refused. Through the other account's alias (IAC_ACCOUNT_IDS lists it): made.
    for (invoked, status) in [
        (tests::iac::PROVIDER.to_owned(), "FAILED"),
        (
            tests::iac::provider_alias(tests::iac::OTHER_ACCOUNT),
            "SUCCESS",
        ),
    ] {
        let mut request = request.clone();
        let id = uuid::Uuid::new_v4().to_string();
        let url = request["ResponseURL"]
            .as_str()
            .unwrap()
            .replace(request["RequestId"].as_str().unwrap(), &id);
        request["RequestId"] = json!(id);
        request["ResponseURL"] = json!(url);
        let outcome = provisioner.invoke_as(request, &invoked).await.unwrap();
        assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
        let received = world.responses_to(&id);
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].body["Status"], status, "{:?}", received[0].body);
        assert_eq!(received[0].content_type.as_deref(), Some(""));
    }
    // Not a custom resource request: there is no one to answer, so the invocation fails.
    let outcome = provisioner.invoke(json!({"hello": "world"})).await.unwrap();
    assert!(matches!(outcome, Outcome::Error(_)), "{outcome:?}");

    let mut env = environment(tables);
    env.push((
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        world.moto.endpoint.as_str(),
    ));
    env.push(("ROTATION_GRACE_SECONDS", "3600"));
    let mut rotation = LocalFunction::start("rotation", &env).await.unwrap();
    let outcome = rotation
        .invoke(json!({
            "SecretId": "service-accounts/nothing",
            "ClientRequestToken": "7c2a5f4e-0000-4000-8000-000000000000",
            "Step": "createSecret"
        }))
        .await
        .unwrap();
    let Outcome::Error(error) = outcome else {
        panic!("a step on no secret succeeded: {outcome:?}");
    };
    assert!(
        error
            .to_string()
            .contains("there is no secret service-accounts/nothing"),
        "{error}"
    );
}
