//! Service accounts as code, as CloudFormation and Secrets Manager drive them: the provider
//! and the rotation function over the test's tables (through the fault proxy, so a test can
//! make DynamoDB fail midway), Secrets Manager from moto in server mode, and a listener that
//! takes the responses CloudFormation's pre-signed `ResponseURL` would.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::put;
use provisioner::Provisioner;
use provisioner::rotation::{Rotation, RotationEvent, Step};
use provisioner::secrets::Secrets;
use serde_json::{Value, json};
use store::client::ClientSettings;

use crate::admin::Reply;
use crate::events::{ApiCall, Shape};
use crate::faulty::Faulty;
use crate::iam::Function;
use crate::moto::Moto;

/// The AWS account of the test's stacks.
pub const AWS_ACCOUNT: &str = "123456789012";
/// The organization's `iacAccess` admits stacks of [`AWS_ACCOUNT`] named `payments[-…]`.
pub const STACK_PREFIX: &str = "payments";
/// The provider as [`AWS_ACCOUNT`], the deployment's own account, invokes it (unqualified).
pub const PROVIDER: &str = "arn:aws:lambda:eu-west-1:123456789012:function:sa-provider";
/// Another AWS account the deployment admits (`IacAccountIds`): it invokes its own alias.
pub const OTHER_ACCOUNT: &str = "444455556666";

/// The provider's alias for `account`, as the template makes it.
pub fn provider_alias(account: &str) -> String {
    format!("{PROVIDER}:account-{account}")
}

/// A stack's ARN.
pub fn stack_id(account: &str, name: &str) -> String {
    format!(
        "arn:aws:cloudformation:eu-west-1:{account}:stack/{name}/51af3dc0-da77-11e4-872e-1234567db123"
    )
}

/// One PUT to the response listener, and the status it was answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub content_type: Option<String>,
    pub body: Value,
    pub status: u16,
}

/// The listener's state: what it took, and the statuses it answers before a `200`.
#[derive(Debug, Clone, Default)]
struct Listener {
    log: Arc<Mutex<BTreeMap<String, Vec<Received>>>>,
    /// Answered in order to the next PUTs (S3's `503 Slow Down`, a `500`, an expired `403`).
    refusals: Arc<Mutex<Vec<u16>>>,
}

async fn take(
    State(listener): State<Listener>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::http::StatusCode {
    let status = {
        let mut refusals = listener.refusals.lock().unwrap();
        if refusals.is_empty() {
            200
        } else {
            refusals.remove(0)
        }
    };
    let received = Received {
        content_type: headers
            .get("content-type")
            .map(|value| value.to_str().unwrap_or("<not text>").to_owned()),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        status,
    };
    listener
        .log
        .lock()
        .unwrap()
        .entry(key)
        .or_default()
        .push(received);
    axum::http::StatusCode::from_u16(status).unwrap()
}

/// The world of a service-accounts-as-code test.
#[derive(Debug)]
pub struct IacWorld {
    pub faulty: Faulty,
    pub moto: Moto,
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    pub provider: Provisioner,
    pub rotation: Rotation,
    responses: Listener,
    listener: SocketAddr,
    _server: tokio::task::JoinHandle<()>,
}

impl IacWorld {
    /// acme lets stacks of [`AWS_ACCOUNT`] named [`STACK_PREFIX`]`[-…]` manage it.
    pub async fn new() -> Self {
        let faulty = Faulty::new().await;
        let moto = Moto::start().await.unwrap();
        let config = ClientSettings::BACKGROUND.local_sdk_config(&moto.endpoint, "eu-west-1");
        let client = aws_sdk_secretsmanager::Client::new(&config);
        // Each function's calls are judged against its role; the test's own are only
        // observed (what they tell of the secrets' tags).
        let iam = &faulty.world.iam;
        let secretsmanager = iam.secretsmanager(&client, None);
        let secrets_as = |function| Secrets::new(iam.secretsmanager(&client, Some(function)));
        let provider = Provisioner::new(
            faulty.use_cases_as(Function::Provisioner),
            secrets_as(Function::Provisioner),
            provisioner::DEFAULT_SECRET_PREFIX.to_owned(),
        )
        .with_iac_accounts(vec![
            shared::iac::AwsAccountId::parse(OTHER_ACCOUNT).unwrap(),
        ])
        .answering_locally();
        let rotation = Rotation::new(
            faulty.use_cases_as(Function::Rotation),
            secrets_as(Function::Rotation),
            time::Duration::hours(1),
        );
        let responses = Listener::default();
        let app = Router::new()
            .route("/responses/{key}", put(take))
            .with_state(responses.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let world = Self {
            faulty,
            moto,
            secretsmanager,
            provider,
            rotation,
            responses,
            listener: address,
            _server: server,
        };
        let reply = world
            .set_iac_access(json!([{"account": AWS_ACCOUNT, "stackPrefix": STACK_PREFIX}]))
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        world
    }

    /// Sets acme's `iacAccess` through the admin API.
    pub async fn set_iac_access(&self, access: Value) -> Reply {
        let world = &self.faulty.world;
        world
            .accounts(
                ApiCall::new(
                    Shape::HttpV2,
                    "PATCH",
                    &format!("/v1/orgs/{}", world.acme.org),
                )
                .bearer(&world.acme.token)
                .json(json!({"iacAccess": access})),
            )
            .await
    }

    /// A request as CloudFormation sends it, from stack `stack` (an ARN), with a fresh
    /// `RequestId` and a `ResponseURL` on the listener.
    pub fn request(
        &self,
        request_type: &str,
        resource_type: &str,
        logical_id: &str,
        stack: &str,
        properties: Value,
    ) -> Value {
        let request_id = uuid::Uuid::new_v4().to_string();
        let mut properties = properties;
        properties["ServiceToken"] =
            json!("arn:aws:lambda:eu-west-1:111122223333:function:service-accounts-provisioner");
        json!({
            "RequestType": request_type,
            "ResponseURL": format!("http://{}/responses/{request_id}?X-Amz-Signature=abc", self.listener),
            "StackId": stack,
            "RequestId": request_id,
            "ResourceType": resource_type,
            "LogicalResourceId": logical_id,
            "ResourceProperties": properties,
        })
    }

    /// Invokes the provider with `request` as the deployment's own account does (the
    /// function, unqualified) and returns the one response it PUT (a test fails if there was
    /// none or more than one), checking the empty content type.
    pub async fn send(&self, request: &Value) -> Value {
        self.send_via(request, PROVIDER).await
    }

    /// [`Self::send`], invoking `invoked_function_arn` (an account's alias, say). Panics
    /// unless the provider's last PUT for the request was accepted.
    pub async fn send_via(&self, request: &Value, invoked_function_arn: &str) -> Value {
        self.provider
            .handle_event(request.clone(), invoked_function_arn)
            .await
            .unwrap();
        let key = request["RequestId"].as_str().unwrap().to_owned();
        let received = self.responses_to(&key);
        // The answer accepted last (a retried request with the same id is answered again).
        let accepted = received
            .iter()
            .rev()
            .find(|r| r.status == 200)
            .unwrap_or_else(|| panic!("an accepted response: {received:?}"));
        assert_eq!(
            accepted.content_type.as_deref(),
            Some(""),
            "the content type"
        );
        accepted.body.clone()
    }

    /// The listener answers the next PUTs with `statuses` (then `200` again).
    pub fn refuse_next_responses(&self, statuses: &[u16]) {
        self.responses
            .refusals
            .lock()
            .unwrap()
            .extend_from_slice(statuses);
    }

    /// Every response PUT for the request `request_id`.
    pub fn responses_to(&self, request_id: &str) -> Vec<Received> {
        self.responses
            .log
            .lock()
            .unwrap()
            .get(request_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Every body PUT so far, as text.
    pub fn all_responses_text(&self) -> String {
        self.responses
            .log
            .lock()
            .unwrap()
            .values()
            .flatten()
            .map(|received| received.body.to_string())
            .collect()
    }

    /// One rotation step, as Secrets Manager invokes the rotation function.
    pub async fn rotation_step(
        &self,
        secret: &str,
        version: &str,
        step: Step,
    ) -> Result<(), provisioner::rotation::RotationError> {
        let event = RotationEvent {
            secret_id: secret.to_owned(),
            client_request_token: version.to_owned(),
            step,
        };
        self.rotation.handle(&event).await
    }

    /// The secret's `AWSCURRENT` value as JSON.
    pub async fn current(&self, secret: &str) -> Value {
        self.version(secret, None, Some("AWSCURRENT"))
            .await
            .unwrap()
    }

    /// A version's value as JSON (`None`: no such version).
    pub async fn version(
        &self,
        secret: &str,
        id: Option<&str>,
        label: Option<&str>,
    ) -> Option<Value> {
        match self
            .secretsmanager
            .get_secret_value()
            .secret_id(secret)
            .set_version_id(id.map(str::to_owned))
            .set_version_stage(label.map(str::to_owned))
            .send()
            .await
        {
            Ok(output) => Some(serde_json::from_str(output.secret_string().unwrap()).unwrap()),
            Err(_) => None,
        }
    }

    /// Whether the secret exists (and is not deleted).
    pub async fn secret_exists(&self, secret: &str) -> bool {
        self.secretsmanager
            .describe_secret()
            .secret_id(secret)
            .send()
            .await
            .is_ok_and(|output| output.deleted_date().is_none())
    }
}
