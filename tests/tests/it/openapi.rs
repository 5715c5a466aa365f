//! The OpenAPI description in `infra/openapi.yaml` lists exactly the routes the functions
//! serve, and every reference in it resolves. (`scripts/test` also runs a full OpenAPI 3.1
//! validator over it.)

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml_ng::Value;

fn description() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/openapi.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[test]
fn every_served_route_is_described_and_every_described_route_is_served() {
    let spec = description();
    let mut described = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                described.insert(format!(
                    "{} {}",
                    method.to_uppercase(),
                    path.as_str().unwrap()
                ));
            }
        }
    }
    let served: BTreeSet<String> = accounts::ROUTES
        .iter()
        .chain(tokens::ROUTES)
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert_eq!(described, served);
}

#[test]
fn the_described_audit_actions_and_actor_kinds_are_the_ones_recorded() {
    let spec = description();
    let schemas = &spec["components"]["schemas"];
    let described: Vec<&str> = schemas["AuditAction"]["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|value| value.as_str().unwrap())
        .collect();
    let recorded: Vec<&str> = shared::audit::AuditAction::ALL
        .iter()
        .map(|action| action.as_str())
        .collect();
    assert_eq!(described, recorded);
    let kinds = &schemas["AuditActor"]["properties"]["kind"]["enum"];
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
        let name = name.as_str().unwrap();
        assert!(
            kinds
                .as_sequence()
                .unwrap()
                .iter()
                .any(|k| k.as_str() == Some(name)),
            "{name}"
        );
    }
}

#[test]
fn the_description_is_openapi_3_1_and_every_reference_resolves() {
    let spec = description();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1."));
    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference
            .strip_prefix("#/")
            .unwrap_or_else(|| panic!("external ref {reference}"));
        let mut node = &spec;
        for part in pointer.split('/') {
            node = node
                .get(part)
                .unwrap_or_else(|| panic!("{reference} does not resolve"));
        }
    }
    let mut operation_ids = BTreeSet::new();
    for (_, item) in spec["paths"].as_mapping().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                let id = operation["operationId"].as_str().unwrap();
                assert!(
                    operation_ids.insert(id.to_owned()),
                    "duplicate operationId {id}"
                );
                assert!(
                    operation["responses"]
                        .as_mapping()
                        .is_some_and(|r| !r.is_empty())
                );
            }
        }
    }
}

fn collect_refs(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Mapping(map) => {
            for (key, value) in map {
                if key.as_str() == Some("$ref") {
                    out.push(value.as_str().unwrap().to_owned());
                } else {
                    collect_refs(value, out);
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}
