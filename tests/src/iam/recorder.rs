//! The interceptor that checks each call a function's client makes against the function's
//! role, at the moment it is made, and keeps the process's record of it.
//!
//! A call the role would deny panics in the task that made it, so the test that made it
//! fails with the call, the role and why; it is also written to the record, so a denial in a
//! task whose panic nobody joins still fails the run's report (`iam-report`). Clients of the
//! harness itself (the test's own set-up and checks) are observed only for what they tell of
//! secrets (their tags and keys), never judged.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::{Value, json};

use super::policy::Decision;
use super::requests::{Place, SecretFacts, operation, requests, secret_name};
use super::{ACCOUNT, Deployment, Function};

/// The variable naming the file the record is appended to (JSON lines); unset: no file.
pub const LOG_VARIABLE: &str = "IAM_CALL_LOG";

/// A client's recorder: whose calls, in which deployment, from which region.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub caller: Option<Function>,
    pub deployment: Deployment,
    pub region: String,
}

/// The call's target and body, kept from serialization to its answer.
#[derive(Debug, Clone)]
struct Sent {
    target: String,
    body: Value,
}

impl Storable for Sent {
    type Storer = StoreReplace<Self>;
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "IamRecorder"
    }

    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .to_owned();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or(Value::Null);
        cfg.interceptor_state().store_put(Sent {
            target: target.clone(),
            body: body.clone(),
        });
        if let Some(function) = self.caller {
            self.judge(function, &target, &body);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let Some(sent) = cfg.load::<Sent>() else {
            return Ok(());
        };
        if response.status().as_u16() != 200 {
            return Ok(());
        }
        let answer: Value = response
            .body()
            .bytes()
            .and_then(|bytes| serde_json::from_slice(bytes).ok())
            .unwrap_or(Value::Null);
        self.learn(sent, &answer);
        Ok(())
    }
}

impl Recorder {
    /// Judges a function's call: each IAM request it makes, against its role.
    fn judge(&self, function: Function, target: &str, body: &Value) {
        let place = Place {
            region: &self.region,
            account: ACCOUNT,
        };
        let operation = operation(target).map_or(target, |(_, operation)| operation);
        let facts = |name: &str| self.deployment.secret(name);
        let asked = requests(target, body, &place, &facts)
            .unwrap_or_else(|why| fail(function, "?", operation, &why));
        let (role, policy) = self
            .deployment
            .policy(function, &self.region)
            .unwrap_or_else(|why| fail(function, "?", operation, &why));
        for request in asked {
            note(json!({
                "kind": "call", "function": function.binary(), "role": role,
                "operation": operation, "action": request.action,
            }));
            match policy.decide(&request) {
                Decision::Allowed(grants) => {
                    for grant in grants {
                        note(json!({
                            "kind": "grant", "role": grant.role, "sid": grant.sid,
                            "action": grant.action, "resource": grant.resource,
                        }));
                    }
                }
                Decision::Denied(why) => {
                    let what = format!("{} on {}: {why}", request.action, request.resource);
                    note(json!({
                        "kind": "denied", "function": function.binary(), "role": role,
                        "operation": operation, "why": what,
                    }));
                    fail(function, &role, operation, &what);
                }
            }
        }
    }

    /// What a successful call tells of a secret.
    fn learn(&self, sent: &Sent, answer: &Value) {
        let Some(("secretsmanager", operation)) = operation(&sent.target) else {
            return;
        };
        let body = &sent.body;
        let tags = |list: &Value| {
            list.as_array()
                .into_iter()
                .flatten()
                .map(|tag| {
                    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                    (text(&tag["Key"]), text(&tag["Value"]))
                })
                .collect::<Vec<_>>()
        };
        let id = |value: &Value| secret_name(value.as_str().unwrap_or_default());
        match operation {
            "CreateSecret" => self.deployment.learn(&id(&body["Name"]), |facts| {
                *facts = SecretFacts {
                    tags: tags(&body["Tags"]).into_iter().collect(),
                    kms_key: body["KmsKeyId"].as_str().map(str::to_owned),
                };
            }),
            "DescribeSecret" => self.deployment.learn(&id(&answer["Name"]), |facts| {
                *facts = SecretFacts {
                    tags: tags(&answer["Tags"]).into_iter().collect(),
                    kms_key: answer["KmsKeyId"].as_str().map(str::to_owned),
                };
            }),
            "TagResource" => self.deployment.learn(&id(&body["SecretId"]), |facts| {
                facts.tags.extend(tags(&body["Tags"]));
            }),
            "UntagResource" => self.deployment.learn(&id(&body["SecretId"]), |facts| {
                for key in body["TagKeys"].as_array().into_iter().flatten() {
                    facts.tags.remove(key.as_str().unwrap_or_default());
                }
            }),
            _ => {}
        }
    }
}

/// Fails the call's test: the role would deny it in AWS (or it cannot be judged).
fn fail(function: Function, role: &str, operation: &str, why: &str) -> ! {
    let message = format!(
        "IAM conformance: the {} function's {operation} would be denied in AWS ({role}): {why}. \
         Grant it in infra/template.yaml, or teach tests/src/iam/ the call \
         (ARCHITECTURE.md, \"The IAM conformance test\")",
        function.binary()
    );
    eprintln!("{message}");
    panic!("{message}");
}

/// Adds a line to the process's record (each distinct line once), and to the file
/// [`LOG_VARIABLE`] names.
fn note(line: Value) {
    static RECORD: OnceLock<Mutex<(BTreeSet<String>, Option<std::fs::File>)>> = OnceLock::new();
    let record = RECORD.get_or_init(|| {
        let file = std::env::var_os(LOG_VARIABLE).and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()
        });
        Mutex::new((BTreeSet::new(), file))
    });
    let line = line.to_string();
    let mut record = record
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (seen, file) = &mut *record;
    if seen.insert(line.clone())
        && let Some(file) = file
    {
        let _ = writeln!(file, "{line}");
    }
}
