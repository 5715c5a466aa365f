//! Every function is a real Lambda binary: it starts against a Lambda Runtime API, reads its
//! configuration, builds its DynamoDB client and answers an invocation of its event type.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use tests::TestTables;
use tests::runtime_api::{LocalFunction, Outcome};

async fn start(name: &str, tables: &TestTables) -> LocalFunction {
    let env = [
        ("TABLE_NAME", tables.table.as_str()),
        ("AUDIT_TABLE_NAME", tables.audit_table.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", tables.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ];
    LocalFunction::start(name, &env).await.unwrap()
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
async fn the_audit_function_starts_and_keeps_unwritten_records_on_the_stream() {
    let tables = TestTables::create().await.unwrap();
    let mut function = start("audit", &tables).await;
    let event = json!({"Records": [{
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": {"pk": {"S": "ORG#acme"}, "sk": {"S": "ORG"}},
            "NewImage": {"pk": {"S": "ORG#acme"}, "sk": {"S": "ORG"}},
            "ApproximateCreationDateTime": 1479499740,
            "SequenceNumber": "4421584500000000017450439091",
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2016-11-16T20:42:48.104"
    }]});
    let outcome = function.invoke(event).await.unwrap();
    assert_eq!(
        outcome,
        Outcome::Response(
            json!({"batchItemFailures": [{"itemIdentifier": "4421584500000000017450439091"}]})
        )
    );
}
