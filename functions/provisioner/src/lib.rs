//! Service accounts as code: the CloudFormation custom resource provider and the Secrets
//! Manager rotation function of service tokens.
//!
//! **The provider** ([`Provisioner`]) answers `Custom::ServiceAccount` and
//! `Custom::ServiceToken` requests through the same use cases as the admin API, as an actor of
//! kind `stack` that the organization's `iacAccess` admits ([`usecases::UseCases::stack_caller`]).
//! Every request gets exactly one answer, PUT to its `ResponseURL` ([`respond`]):
//!
//! * **Physical ids.** An account's is its id; a token's is the id of the token it minted.
//! * **Replacement.** Changing an account's `Organization`, or any property of a token, makes
//!   a new one and answers its new physical id; CloudFormation then deletes the old one (or,
//!   on rollback, the new one). Everything else about an account changes in place.
//! * **Idempotence.** A retried request (same `RequestId`) makes nothing twice: an account's
//!   id is derived from the stack, the resource and the request; a token is written to its
//!   secret first, as a version whose id is derived the same way, and a retry finds it there
//!   and stores that same token.
//! * **Refusals** (a caller the organization does not admit, a bad property) answer `FAILED`
//!   with the reason, before anything is written. A Delete of a resource that was never made
//!   (after a failed Create) succeeds.
//! * **Secrets.** The token is written only to its secret: never to the response, its
//!   `Data`, a log line or the audit trail.
//!
//! **The rotation function** ([`rotation`]) implements Secrets Manager's four steps with the
//! rotate-with-grace use case.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `TABLE_NAME`, `TOKEN_KEYS`, `TOKEN_PREFIX` | the deployment's table and tokens | required |
//! | `SECRET_NAME_PREFIX` | the names the secrets must start with (the roles' IAM policies allow no others) | `service-accounts/` |
//! | `IAC_ACCOUNT_IDS` | the other AWS accounts the deployment admits, each through its own alias `account-<id>` of the provider (comma-separated) | none |
//! | `ALLOW_LOCAL_RESPONSE_URLS` | `true`: also answer to `http://127.0.0.1` (a run on this machine; never in Lambda) | off |
//! | `ROTATION_GRACE_SECONDS` | how long a rotated token keeps working after the rotation's `setSecret` (0–604800) | `86400` |

pub mod accounts;
pub mod properties;
pub mod respond;
pub mod rotation;
pub mod secrets;
pub mod tokens;

use std::collections::BTreeMap;
use std::time::Duration;

use properties::Refusal;
use respond::{RespondError, Responder};
use secrets::Secrets;
use sha2::{Digest, Sha256};
use shared::config::{ConfigError, seconds};
use shared::iac::invoker::{InvokerError, invoking_account, parse_account_list};
use shared::iac::{
    AwsAccountId, CustomResourceRequest, CustomResourceResponse, RequestType, StackRef,
};
use shared::ids::ServiceAccountId;
use usecases::{UseCaseError, UseCases};

/// How the physical id of a resource whose Create failed starts (see
/// [`CustomResourceResponse::failure`]).
pub const FAILED_PREFIX: &str = "failed-";

/// The default of `SECRET_NAME_PREFIX`.
pub const DEFAULT_SECRET_PREFIX: &str = "service-accounts/";

/// The provider: the use cases, Secrets Manager, and the responder.
#[derive(Debug, Clone)]
pub struct Provisioner {
    pub use_cases: UseCases,
    pub secrets: Secrets,
    pub responder: Responder,
    pub secret_prefix: String,
    /// The other AWS accounts the deployment admits (`IAC_ACCOUNT_IDS`), each invoking
    /// through its own alias.
    pub iac_accounts: Vec<AwsAccountId>,
}

/// `IAC_ACCOUNT_IDS`: the other AWS accounts whose stacks may invoke the provider, each
/// through its alias `account-<id>` (the template makes the aliases and their permissions).
pub fn iac_accounts(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<AwsAccountId>, ConfigError> {
    parse_account_list(&lookup("IAC_ACCOUNT_IDS").unwrap_or_default()).map_err(|_| ConfigError {
        variable: "IAC_ACCOUNT_IDS",
        reason: "comma-separated 12-digit AWS account ids".into(),
    })
}

/// `SECRET_NAME_PREFIX`: 1–256 characters a secret's name may have.
pub fn secret_prefix(lookup: impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let prefix = lookup("SECRET_NAME_PREFIX").unwrap_or_else(|| DEFAULT_SECRET_PREFIX.into());
    let valid = !prefix.is_empty()
        && prefix.len() <= 256
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
    if valid {
        Ok(prefix)
    } else {
        Err(ConfigError {
            variable: "SECRET_NAME_PREFIX",
            reason: "1 to 256 letters, digits and /_+=.@-".into(),
        })
    }
}

/// `ROTATION_GRACE_SECONDS`.
pub fn rotation_grace(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<time::Duration, ConfigError> {
    seconds(&lookup, "ROTATION_GRACE_SECONDS", 86_400, 0..=604_800)
}

impl Provisioner {
    pub fn new(use_cases: UseCases, secrets: Secrets, secret_prefix: String) -> Self {
        Self {
            use_cases,
            secrets,
            responder: Responder::new(Duration::from_secs(20)),
            secret_prefix,
            iac_accounts: Vec::new(),
        }
    }

    /// Admits the stacks of `accounts` too, each invoking through its own alias.
    pub fn with_iac_accounts(mut self, accounts: Vec<AwsAccountId>) -> Self {
        self.iac_accounts = accounts;
        self
    }

    /// Also answers to a listener on this machine (`local` and the tests stand in for
    /// CloudFormation's response bucket).
    pub fn answering_locally(mut self) -> Self {
        self.responder = Responder::with_local(Duration::from_secs(20), true);
        self
    }

    /// Handles one invocation of `invoked_function_arn` (Lambda's context: the function, or
    /// the alias, the caller was allowed to invoke): the request's answer is PUT to its
    /// `ResponseURL`. An error (the answer could not be delivered) fails the invocation, so
    /// Lambda retries it, and the retry, with the same `RequestId`, makes nothing twice.
    pub async fn handle_event(
        &self,
        event: serde_json::Value,
        invoked_function_arn: &str,
    ) -> Result<(), ProvisionError> {
        let request: CustomResourceRequest = match serde_json::from_value(event.clone()) {
            Ok(request) => request,
            Err(error) => return self.answer_malformed(&event, &error.to_string()).await,
        };
        let invoker = invoking_account(invoked_function_arn, &self.iac_accounts);
        let response = self.answer(&request, invoker).await;
        tracing::info!(
            request_type = ?request.request_type,
            resource_type = %shared::text::sanitize_metadata(&request.resource_type, 64),
            logical_resource_id = %shared::text::sanitize_metadata(&request.logical_resource_id, 256),
            physical_resource_id = %response.physical_resource_id,
            status = ?response.status,
            reason = response.reason.as_deref().unwrap_or_default(),
            "answered a custom resource request"
        );
        Ok(self
            .responder
            .put(&request.response_url, response.body())
            .await?)
    }

    /// A request CloudFormation would not send (an unknown `RequestType`, a missing field)
    /// still gets its one answer, `FAILED`, when it names where to send it.
    async fn answer_malformed(
        &self,
        event: &serde_json::Value,
        error: &str,
    ) -> Result<(), ProvisionError> {
        let field = |name: &str| event[name].as_str().unwrap_or_default().to_owned();
        let response_url = field("ResponseURL");
        if response_url.is_empty() {
            return Err(ProvisionError::NotARequest(error.to_owned()));
        }
        let logical_resource_id = field("LogicalResourceId");
        let physical_resource_id = match event["PhysicalResourceId"].as_str() {
            Some(id) => id.to_owned(),
            None => format!("{FAILED_PREFIX}{logical_resource_id}"),
        };
        let response = CustomResourceResponse {
            status: shared::iac::ResponseStatus::Failed,
            reason: Some(shared::text::sanitize_metadata(
                &format!("the request is not one CloudFormation sends: {error}"),
                1024,
            )),
            physical_resource_id,
            stack_id: field("StackId"),
            request_id: field("RequestId"),
            logical_resource_id,
            data: BTreeMap::new(),
        };
        tracing::warn!(%error, "answered a malformed custom resource request");
        Ok(self.responder.put(&response_url, response.body()).await?)
    }

    /// The answer to `request`, made by a caller of the AWS account `invoker` (proven by the
    /// function or alias it invoked; never a secret in the answer).
    pub async fn answer(
        &self,
        request: &CustomResourceRequest,
        invoker: Result<AwsAccountId, InvokerError>,
    ) -> CustomResourceResponse {
        // A Delete of what a failed Create never made: nothing to do, whoever asks.
        if request.request_type == RequestType::Delete
            && physical_id(request).starts_with(FAILED_PREFIX)
        {
            return success(request, physical_id(request), BTreeMap::new());
        }
        let stack = match (StackRef::parse(&request.stack_id), invoker) {
            (Err(_), _) => Err(Refusal::new("StackId is not a CloudFormation stack ARN")),
            (_, Err(error)) => Err(Refusal::new(error.to_string())),
            // The request's StackId is the invoker's word: only a stack of the account
            // Lambda proved may act.
            (Ok(stack), Ok(invoker)) if stack.account != invoker => Err(Refusal::new(format!(
                "the stack is in AWS account {}, but this invocation comes from account {invoker}: each account invokes the provider through its own alias (account-<id>), and acts for its own stacks only",
                stack.account
            ))),
            (Ok(stack), Ok(_)) => Ok(stack),
        };
        let answered = match stack {
            Err(refusal) => Err(refusal),
            Ok(stack) => match request.resource_type.as_str() {
                accounts::RESOURCE_TYPE => accounts::handle(self, &stack, request).await,
                tokens::RESOURCE_TYPE => tokens::handle(self, &stack, request).await,
                // Nothing of an unknown type was ever made.
                _ if request.request_type == RequestType::Delete => {
                    Ok(success(request, physical_id(request), BTreeMap::new()))
                }
                other => Err(Refusal::new(format!(
                    "unknown resource type {:?}: this provider makes {} and {}",
                    other.chars().take(64).collect::<String>(),
                    accounts::RESOURCE_TYPE,
                    tokens::RESOURCE_TYPE
                ))),
            },
        };
        answered.unwrap_or_else(|refusal| CustomResourceResponse::failure(request, &refusal.0))
    }
}

/// Why an invocation failed (its answer was not delivered).
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("the event is not a CloudFormation custom resource request: {0}")]
    NotARequest(String),
    #[error(transparent)]
    Respond(#[from] RespondError),
}

pub(crate) fn success(
    request: &CustomResourceRequest,
    physical_id: &str,
    data: BTreeMap<String, String>,
) -> CustomResourceResponse {
    CustomResourceResponse::success(request, physical_id, data)
}

/// The request's physical id (an Update's or a Delete's), or none.
pub(crate) fn physical_id(request: &CustomResourceRequest) -> &str {
    request.physical_resource_id.as_deref().unwrap_or_default()
}

/// 32 bytes that only this request of this resource of this stack derives, for `purpose`.
fn derived(request: &CustomResourceRequest, purpose: &str) -> [u8; 32] {
    let mut hash = Sha256::new();
    for part in [
        purpose,
        &request.stack_id,
        &request.logical_resource_id,
        &request.request_id,
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().into()
}

/// The id of the account a Create (or a replacing Update) makes: the same for a retry.
pub(crate) fn derived_account_id(
    request: &CustomResourceRequest,
) -> Result<ServiceAccountId, Refusal> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let id: String = derived(request, "account")
        .iter()
        .take(ServiceAccountId::LEN)
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect();
    ServiceAccountId::parse(&id).map_err(|_| Refusal::new("deriving the account's id failed"))
}

/// The secret version id a token's Create (or replacing Update) writes: the same for a retry.
pub(crate) fn derived_version_id(request: &CustomResourceRequest) -> String {
    let hex = hex::encode(&derived(request, "secret-version")[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A fingerprint of a resource's properties, CloudFormation's own left out: a token's
/// document records the one it was made with, so that an Update to properties a live token of
/// the resource was made with (a rollback's, above all) finds that token instead of minting
/// another. Keys are sorted at every level, so the order CloudFormation sends them in does not
/// matter.
pub(crate) fn fingerprint(properties: &serde_json::Map<String, serde_json::Value>) -> String {
    fn canonical(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for key in keys {
                    out.push_str(&serde_json::Value::from(key.as_str()).to_string());
                    out.push(':');
                    canonical(&map[key], out);
                    out.push(',');
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for item in items {
                    canonical(item, out);
                    out.push(',');
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(
        &serde_json::Value::Object(shared::iac::provider_properties(properties)),
        &mut text,
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A use case's refusal as CloudFormation's reason, naming the property at fault.
pub(crate) fn refusal(error: UseCaseError) -> Refusal {
    match error {
        UseCaseError::Invalid { field, reason } => {
            let property = match field {
                "lifetime" | "expiresAt" => "Lifetime",
                "scopes" => "Scopes",
                "name" => "Name",
                other => other,
            };
            Refusal::new(format!("property {property}: {reason}"))
        }
        UseCaseError::NotFound(what) => Refusal::new(format!("{what} not found")),
        UseCaseError::Forbidden(reason) => Refusal::new(reason),
        other => Refusal::new(other.to_string()),
    }
}

impl From<secrets::SecretsError> for Refusal {
    fn from(error: secrets::SecretsError) -> Self {
        Refusal::new(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(request_id: &str) -> CustomResourceRequest {
        serde_json::from_value(serde_json::json!({
            "RequestType": "Create",
            "ResponseURL": "http://127.0.0.1:1/",
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/team/1",
            "RequestId": request_id,
            "ResourceType": "Custom::ServiceAccount",
            "LogicalResourceId": "Deployer"
        }))
        .unwrap()
    }

    #[test]
    fn the_fingerprint_ignores_cloudformations_properties_and_the_order_of_keys() {
        let map = |value: serde_json::Value| value.as_object().unwrap().clone();
        let a = map(
            serde_json::json!({"Name": "ci", "Scopes": ["reader"], "Tags": {"a": "1", "b": "2"}}),
        );
        let b = map(serde_json::json!({
            "ServiceTimeout": "300",
            "Tags": {"b": "2", "a": "1"},
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:other",
            "Scopes": ["reader"],
            "Name": "ci"
        }));
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let c = map(
            serde_json::json!({"Name": "ci", "Scopes": ["writer"], "Tags": {"a": "1", "b": "2"}}),
        );
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }

    #[test]
    fn derived_ids_are_the_same_for_a_retry_and_differ_between_requests() {
        let (a, b) = (request("one"), request("two"));
        assert_eq!(derived_account_id(&a), derived_account_id(&a));
        assert_ne!(derived_account_id(&a), derived_account_id(&b));
        assert_eq!(derived_version_id(&a), derived_version_id(&a));
        assert_ne!(derived_version_id(&a), derived_version_id(&b));
        assert_eq!(derived_version_id(&a).len(), 36);
    }
}
