//! The IAM conformance report: reads the record the integration tests wrote (the file
//! `IAM_CALL_LOG` names, or the first argument) and prints, role by role, the calls each
//! function made and the grants of `infra/template.yaml` that no call used. Exits non-zero if
//! the record holds a denial (the test that made the call failed too, unless the call ran in
//! a task nobody joined). Unused grants are printed, not failed (ARCHITECTURE.md, "The IAM
//! conformance test", says why).
//!
//! `IAM_CALL_LOG=/tmp/iam.jsonl cargo test -p tests --test it && cargo run -p tests --bin iam-report -- /tmp/iam.jsonl`

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use serde_json::Value;
use tests::iam::recorder::LOG_VARIABLE;
use tests::iam::template::{shown, template};

/// Grants the Lambda service uses for the function (its logs, its event source mapping and
/// that mapping's failure destination), not the function's code: no SDK call of the code
/// can use them.
fn platform(action: &str) -> bool {
    action.starts_with("logs:")
        || action == "sqs:SendMessage"
        || matches!(
            action,
            "dynamodb:DescribeStream"
                | "dynamodb:GetRecords"
                | "dynamodb:GetShardIterator"
                | "dynamodb:ListStreams"
        )
}

/// Each entry of an `Action` or `Resource`: an action as written, a resource as
/// [`shown`] (the form the record names grants by).
fn entries(value: &serde_yaml_ng::Value, show: fn(&serde_yaml_ng::Value) -> String) -> Vec<String> {
    match value {
        serde_yaml_ng::Value::Sequence(items) => items.iter().map(show).collect(),
        other => vec![show(other)],
    }
}

fn action_text(value: &serde_yaml_ng::Value) -> String {
    value.as_str().map_or_else(|| shown(value), str::to_owned)
}

fn main() -> ExitCode {
    let Some(path) = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os(LOG_VARIABLE))
    else {
        eprintln!("iam-report: name the record (argument, or {LOG_VARIABLE})");
        return ExitCode::FAILURE;
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("iam-report: {}: {error}", path.to_string_lossy());
            return ExitCode::FAILURE;
        }
    };
    let mut used = BTreeSet::new();
    let mut calls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut denied = BTreeSet::new();
    for line in text.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let field = |name: &str| entry[name].as_str().unwrap_or_default().to_owned();
        match entry["kind"].as_str() {
            Some("grant") => {
                used.insert((
                    field("role"),
                    field("sid"),
                    field("action"),
                    field("resource"),
                ));
            }
            Some("call") => {
                calls.entry(field("role")).or_default().insert(format!(
                    "{} ({})",
                    field("action"),
                    field("operation")
                ));
            }
            Some("denied") => {
                denied.insert(format!(
                    "{} {} {}: {}",
                    field("function"),
                    field("role"),
                    field("operation"),
                    field("why")
                ));
            }
            _ => {}
        }
    }
    let functions = match template().functions() {
        Ok(functions) => functions,
        Err(error) => {
            eprintln!("iam-report: {error}");
            return ExitCode::FAILURE;
        }
    };
    let roles: BTreeMap<&str, Vec<&str>> =
        functions
            .iter()
            .fold(BTreeMap::new(), |mut roles, (_, binary, role)| {
                roles
                    .entry(role.as_str())
                    .or_default()
                    .push(binary.as_str());
                roles
            });
    println!("IAM conformance: every call the tests' functions made, against their roles");
    let mut unused_by_code = 0;
    for (role, binaries) in &roles {
        let made = calls.get(*role).cloned().unwrap_or_default();
        println!(
            "\n{role} ({}): {} distinct calls",
            binaries.join(", "),
            made.len()
        );
        if made.is_empty() {
            println!(
                "  no call of its function was recorded: is its state built with tagged clients?"
            );
        }
        for call in &made {
            println!("  called   {call}");
        }
        let Ok(statements) = template().statements(role) else {
            continue;
        };
        for (index, statement) in statements.into_iter().enumerate() {
            let sid = statement["Sid"]
                .as_str()
                .map_or_else(|| format!("#{index}"), str::to_owned);
            for action in entries(&statement["Action"], action_text) {
                for resource in entries(&statement["Resource"], shown) {
                    let key = (
                        role.to_string(),
                        sid.clone(),
                        action.clone(),
                        resource.clone(),
                    );
                    if used.contains(&key) {
                        continue;
                    }
                    let note = if platform(&action) {
                        "  (used by the Lambda service, not by the code)"
                    } else {
                        unused_by_code += 1;
                        ""
                    };
                    println!("  unused   {sid}: {action} on {resource}{note}");
                }
            }
        }
    }
    println!(
        "\n{} grants no test's call used, besides those the Lambda service uses",
        unused_by_code
    );
    if denied.is_empty() {
        println!("no call was denied");
        ExitCode::SUCCESS
    } else {
        for denial in &denied {
            println!("DENIED {denial}");
        }
        ExitCode::FAILURE
    }
}
