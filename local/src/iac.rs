//! Local stand-ins for CloudFormation and Secrets Manager's rotation, so a custom resource
//! request and a rotation step can be replayed against the running system (DynamoDB Local and
//! Secrets Manager from moto):
//!
//! * `POST /local/cloudformation` takes a custom resource request as CloudFormation sends it
//!   (`RequestId`, `StackId` and `ResponseURL` may be left out: a fresh id, a stack of the
//!   local account `000000000000` named `local-demo`, and this listener), invokes the real
//!   provider as the local account's CloudFormation does (the function itself, unqualified:
//!   only stacks of `000000000000` may act), and answers what the provider PUT to the
//!   response URL;
//! * `PUT /local/cloudformation/responses/{id}` is that response URL: it keeps the last
//!   responses, as CloudFormation's pre-signed S3 URL would take them;
//! * `POST /local/secretsmanager/rotate` with `{"SecretId": ...}` runs a whole rotation (the
//!   four steps, as Secrets Manager invokes the rotation function), or one step with
//!   `"Step"` and `"ClientRequestToken"`.
//!
//! Nothing here is deployed: the stack's CloudFormation and Secrets Manager call the
//! functions themselves.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use provisioner::Provisioner;
use provisioner::rotation::{Rotation, RotationEvent, Step};
use serde_json::{Value, json};

/// The local account's stack that requests name when they name none.
pub const LOCAL_STACK: &str = "arn:aws:cloudformation:us-east-1:000000000000:stack/local-demo/00000000-0000-0000-0000-000000000000";

/// The provider as the local account invokes it (unqualified: its own account's stacks).
pub const LOCAL_PROVIDER: &str = "arn:aws:lambda:us-east-1:000000000000:function:local-provider";

/// How many responses are kept.
const KEPT: usize = 100;

/// The replay's state.
#[derive(Debug, Clone)]
pub struct Replay {
    pub provider: Arc<Provisioner>,
    pub rotation: Arc<Rotation>,
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    /// This listener's base URL.
    pub base: String,
    responses: Arc<Mutex<BTreeMap<String, Value>>>,
}

impl Replay {
    pub fn new(
        provider: Provisioner,
        rotation: Rotation,
        secretsmanager: aws_sdk_secretsmanager::Client,
        base: String,
    ) -> Self {
        Self {
            provider: Arc::new(provider),
            rotation: Arc::new(rotation),
            secretsmanager,
            base,
            responses: Arc::default(),
        }
    }

    /// The routes.
    pub fn routes(self) -> Router {
        Router::new()
            .route("/local/cloudformation", post(custom_resource))
            .route("/local/cloudformation/responses/{id}", put(response))
            .route("/local/secretsmanager/rotate", post(rotate))
            .with_state(self)
    }
}

fn problem(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": message.to_string()}))).into_response()
}

async fn custom_resource(State(replay): State<Replay>, body: Bytes) -> Response {
    let Ok(Value::Object(mut request)) = serde_json::from_slice::<Value>(&body) else {
        return problem(
            StatusCode::BAD_REQUEST,
            "the body is a custom resource request: a JSON object",
        );
    };
    let request_id = match request.get("RequestId").and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    if request_id.is_empty()
        || request_id.len() > 128
        || !request_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return problem(
            StatusCode::BAD_REQUEST,
            "RequestId: 1 to 128 letters, digits and hyphens",
        );
    }
    request.insert("RequestId".into(), json!(request_id));
    request
        .entry("StackId")
        .or_insert_with(|| json!(LOCAL_STACK));
    request.entry("ResponseURL").or_insert_with(|| {
        json!(format!(
            "{}/local/cloudformation/responses/{request_id}",
            replay.base
        ))
    });
    if let Err(error) = replay
        .provider
        .handle_event(Value::Object(request), LOCAL_PROVIDER)
        .await
    {
        return problem(StatusCode::BAD_GATEWAY, error);
    }
    match replay.responses.lock() {
        Ok(responses) => match responses.get(&request_id) {
            Some(answer) => Json(answer.clone()).into_response(),
            None => Json(json!({"delivered": "to the request's own ResponseURL"})).into_response(),
        },
        Err(_) => problem(StatusCode::INTERNAL_SERVER_ERROR, "the responses are lost"),
    }
}

async fn response(State(replay): State<Replay>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let Ok(answer) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    println!(
        "CloudFormation response {id}: {} {}",
        answer["Status"].as_str().unwrap_or("?"),
        answer["Reason"].as_str().unwrap_or_default()
    );
    if let Ok(mut responses) = replay.responses.lock() {
        if responses.len() >= KEPT {
            responses.clear();
        }
        responses.insert(id, answer);
    }
    StatusCode::OK
}

async fn rotate(State(replay): State<Replay>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return problem(StatusCode::BAD_REQUEST, "the body is JSON");
    };
    let Some(secret) = request["SecretId"].as_str() else {
        return problem(StatusCode::BAD_REQUEST, "SecretId is required");
    };
    let step = match request.get("Step") {
        None | Some(Value::Null) => None,
        Some(step) => match serde_json::from_value::<Step>(step.clone()) {
            Ok(step) => Some(step),
            Err(_) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "Step: createSecret, setSecret, testSecret or finishSecret",
                );
            }
        },
    };
    let token = match (request["ClientRequestToken"].as_str(), step) {
        (Some(token), _) => token.to_owned(),
        (None, None) => uuid::Uuid::new_v4().to_string(),
        (None, Some(_)) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "ClientRequestToken is required with Step",
            );
        }
    };
    if let Err(error) = enable_rotation(&replay.secretsmanager, secret).await {
        return problem(StatusCode::CONFLICT, error);
    }
    let steps = match step {
        Some(step) => vec![step],
        None => vec![
            Step::CreateSecret,
            Step::SetSecret,
            Step::TestSecret,
            Step::FinishSecret,
        ],
    };
    let mut done = Vec::new();
    for step in steps {
        let event = RotationEvent {
            secret_id: secret.to_owned(),
            client_request_token: token.clone(),
            step,
        };
        if let Err(error) = replay.rotation.handle(&event).await {
            return problem(
                StatusCode::CONFLICT,
                format!("{step:?} failed after {done:?}: {error}"),
            );
        }
        done.push(format!("{step:?}"));
    }
    Json(json!({"SecretId": secret, "ClientRequestToken": token, "steps": done})).into_response()
}

/// Turns rotation on, as a `RotationSchedule` does. Locally that is moto's `RotateSecret`
/// without a function, which copies the current value into a new current version: the same
/// token stays current.
async fn enable_rotation(
    client: &aws_sdk_secretsmanager::Client,
    secret: &str,
) -> Result<(), String> {
    let described = client
        .describe_secret()
        .secret_id(secret)
        .send()
        .await
        .map_err(|_| format!("no secret {secret}"))?;
    if described.rotation_enabled() == Some(true) {
        return Ok(());
    }
    client
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
        .map(|_| ())
        .map_err(|error| {
            format!(
                "turning rotation on failed: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&error)
            )
        })
}
