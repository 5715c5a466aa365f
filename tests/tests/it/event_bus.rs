//! Every audit event on an EventBridge bus (moto in server mode): the real audit writer
//! publishes the trail's events with the documented `source` and `detail-type`, each `detail`
//! valid against the JSON Schema in `docs/events/`, and the example rules of
//! `infra/examples/audit-event-rules.yaml`, created on the bus with their own patterns, route
//! them: expiry warnings and leaks to the notification rule, everything to the log rule.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use audit::AuditWriter;
use audit::events::EventBus;
use infra::local::sdk_config_for;
use serde_json::{Value, json};
use store::client::ClientSettings;
use tests::admin::AdminWorld;
use tests::events::{ApiCall, Shape};
use tests::iam::Function;
use tests::moto::{Moto, python, repository};
use time::Duration;
use time::format_description::well_known::Rfc3339;

const BUS: &str = "service-accounts-audit";

/// Runs the probe `tests/scripts/event_rules.py` with `arguments`; its JSON answer.
fn probe(arguments: &[&str]) -> Value {
    let output = std::process::Command::new(python())
        .arg(repository().join("tests/scripts/event_rules.py"))
        .args(arguments)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the probe failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn every_audit_event_reaches_the_bus_in_the_documented_schema_and_the_examples_route_it() {
    let moto = Moto::start().await.unwrap();
    let examples = repository().join("infra/examples/audit-event-rules.yaml");
    let rules = probe(&["setup", &moto.endpoint, BUS, examples.to_str().unwrap()]);
    let rules = rules.as_object().unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");

    // A policy change, two tokens, an expiry warning, a leak and its revocation.
    let world = AdminWorld::new().await;
    let t0 = world.clock_now();
    let patch = ApiCall::new(Shape::HttpV2, "PATCH", "/v1/orgs/acme")
        .bearer(&world.acme.token)
        .json(json!({"tokenPolicy": {"expiryWarningDays": [14]}}));
    assert_eq!(world.accounts(patch).await.status, 200);
    let path = format!(
        "/v1/orgs/acme/service-accounts/{}/tokens",
        world.acme.account
    );
    let mut secrets = vec![world.acme.token.clone()];
    for name in ["expiring", "leaked"] {
        let mint = ApiCall::new(Shape::HttpV2, "POST", &path)
            .bearer(&world.acme.token)
            .json(json!({"name": name, "expiresAt": (t0 + Duration::days(20)).format(&Rfc3339).unwrap()}));
        let reply = world.tokens(mint).await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        secrets.push(reply.body["token"].as_str().unwrap().to_owned());
    }
    let report = ApiCall::new(Shape::HttpV2, "POST", "/v1/tokens/revoke")
        .json(json!({"tokens": [secrets[2]]}));
    assert_eq!(world.tokens(report).await.status, 202);
    world.clock.set(t0 + Duration::days(6) + Duration::hours(1));
    let lifecycle = world.use_cases_as(Function::Lifecycle);
    assert_eq!(lifecycle.run_lifecycle().await.unwrap().warned, 1);

    // The audit writer takes the whole stream, publishing on a bus that does not exist: every
    // record with an event is reported failed (its event is in the trail), as Lambda would
    // see it; redelivered to a writer on the real bus, each event is published, once.
    let local = sdk_config_for(&moto.endpoint, &ClientSettings::BACKGROUND).await;
    // A writer configured with `bus` is a deployment whose EventBusName is `bus`.
    let writer_on = |bus: &str| {
        let deployment = world.iam.with_parameter("EventBusName", bus);
        let events = aws_sdk_eventbridge::Client::new(&local);
        AuditWriter::new(
            deployment.audit_store(&world.tables, Function::Audit),
            Duration::days(400),
        )
        .with_bus(EventBus::new(
            deployment.eventbridge(&events, Function::Audit),
            bus,
        ))
    };
    let config = sdk_config_for(&world.tables.endpoint, &ClientSettings::BACKGROUND).await;
    let mut reader = infra::stream::StreamReader::open(&config, world.tables.table.as_str())
        .await
        .unwrap();
    let records = reader.read().await.unwrap();
    let mut batch = aws_lambda_events::event::dynamodb::Event::default();
    batch.records = records.clone();
    let (response, summary) = writer_on("no-such-bus").handle_with_summary(batch).await;
    assert_eq!(summary.written, 0, "{summary:?}");
    assert_eq!(summary.failed, response.batch_item_failures.len());
    let events_written = world.tables.scan_audit().await.unwrap().len();
    assert_eq!(
        summary.failed, events_written,
        "one failure per event not published"
    );
    let mut batch = aws_lambda_events::event::dynamodb::Event::default();
    batch.records = records;
    let (response, summary) = writer_on(BUS).handle_with_summary(batch).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(summary.already_written, events_written);

    let trail: Vec<Value> = world
        .tables
        .scan_audit()
        .await
        .unwrap()
        .into_iter()
        .map(|item| {
            let event: shared::audit::AuditEvent = serde_dynamo::from_item(item).unwrap();
            serde_json::to_value(event).unwrap()
        })
        .collect();
    let actions: BTreeSet<&str> = trail
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    for action in [
        "org.updated",
        "token.created",
        "token.expiring",
        "token.leaked",
        "token.revoked",
    ] {
        assert!(actions.contains(action), "{action}: {actions:?}");
    }
    let schema = repository().join("docs/events/audit-event.v1.schema.json");
    let received = probe(&["drain", &moto.endpoint, schema.to_str().unwrap()]);
    let text = received.to_string();
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a token reached the bus");
    }
    assert!(!text.contains("\"hash\""), "a hash reached the bus");
    for (rule, pattern) in rules {
        let wanted: Option<Vec<&str>> = pattern.get("detail-type").map(|types| {
            types
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect()
        });
        let mut expected: Vec<&str> = trail
            .iter()
            .filter(|event| {
                wanted
                    .as_ref()
                    .is_none_or(|types| types.contains(&event["action"].as_str().unwrap()))
            })
            .map(|event| event["id"].as_str().unwrap())
            .collect();
        let messages = received[rule].as_array().unwrap();
        let mut got: Vec<&str> = messages
            .iter()
            .map(|message| message["detail"]["id"].as_str().unwrap())
            .collect();
        expected.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, expected, "{rule}");
        for message in messages {
            assert_eq!(message["errors"], json!([]), "{rule}: {message}");
            assert_eq!(message["source"], "service-accounts");
            assert_eq!(message["detail-type"], message["detail"]["action"]);
            assert_eq!(message["detail"]["version"], "1");
            let event = trail
                .iter()
                .find(|event| event["id"] == message["detail"]["id"])
                .unwrap();
            let mut detail = message["detail"].clone();
            detail.as_object_mut().unwrap().remove("version");
            assert_eq!(&detail, event, "the detail is the trail's event");
        }
    }
    let notified: BTreeSet<&str> = rules
        .iter()
        .filter(|(_, pattern)| pattern.get("detail-type").is_some())
        .flat_map(|(rule, _)| received[rule].as_array().unwrap())
        .map(|message| message["detail-type"].as_str().unwrap())
        .collect();
    assert_eq!(notified, BTreeSet::from(["token.expiring", "token.leaked"]));
}

/// The published schema names exactly the actions, actor kinds and changed fields the audit
/// mapping can produce.
#[test]
fn the_event_schema_follows_the_audit_mapping() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(repository().join("docs/events/audit-event.v1.schema.json"))
            .unwrap(),
    )
    .unwrap();
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let actions: Vec<String> = shared::audit::AuditAction::ALL
        .iter()
        .map(|action| action.as_str().to_owned())
        .collect();
    assert_eq!(
        strings(&schema["properties"]["action"]["examples"]),
        actions
    );
    let fields: Vec<String> = shared::audit::change_fields()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let known: Vec<String> = schema["properties"]["changes"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(known, fields);
    let forbidden = strings(&schema["properties"]["changes"]["propertyNames"]["not"]["enum"]);
    let kinds = strings(&schema["$defs"]["actor"]["properties"]["kind"]["examples"]);
    for kind in [
        shared::model::ActorKind::ServiceAccount,
        shared::model::ActorKind::OrgToken,
        shared::model::ActorKind::IamPrincipal,
        shared::model::ActorKind::Operator,
        shared::model::ActorKind::Person,
        shared::model::ActorKind::Workload,
        shared::model::ActorKind::SecretScanning,
        shared::model::ActorKind::Policy,
        shared::model::ActorKind::Stack,
        shared::model::ActorKind::System,
        shared::model::ActorKind::Unknown,
    ] {
        let name = serde_json::to_value(kind).unwrap();
        assert!(kinds.iter().any(|k| k == name.as_str().unwrap()), "{name}");
    }
    assert_eq!(kinds.len(), 11);
    for secret in ["hash", "displayPrefix", "lastUsedAt", "token"] {
        assert!(!fields.iter().any(|field| field == secret), "{secret}");
        assert!(forbidden.iter().any(|field| field == secret), "{secret}");
    }
}
