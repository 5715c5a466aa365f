//! The Secrets Manager calls the provider and the rotation function make, and the document a
//! service token's secret holds.
//!
//! A secret's value is JSON: the token and what names it (`tokenId`, `prefix`,
//! `organization`, `serviceAccount`), `resource`, the id of the `Custom::ServiceToken`
//! that wrote it (its first token's id; a rotation keeps it), and `properties`, the
//! fingerprint of the properties it was made with. Errors name the call and the
//! service's error code, never a value.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::types::Tag;
use serde::{Deserialize, Serialize};

/// The staging label of the version that holds the live token.
pub const CURRENT: &str = "AWSCURRENT";
/// The staging label of a rotation's new version.
pub const PENDING: &str = "AWSPENDING";
/// The staging label of the version `AWSCURRENT` was moved from.
pub const PREVIOUS: &str = "AWSPREVIOUS";
/// The staging label of a version the provider wrote and has not made current yet.
pub const PROVISIONING: &str = "SERVICE-ACCOUNTS-PROVISIONING";

/// The tags the provider puts on a secret it creates: which stack resource owns it.
pub const TAG_STACK: &str = "service-accounts:stack-id";
pub const TAG_LOGICAL_ID: &str = "service-accounts:logical-id";
pub const TAG_ORGANIZATION: &str = "service-accounts:organization";

/// A failed call, by the call and the service's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Secrets Manager {call} failed: {reason}")]
pub struct SecretsError {
    pub call: &'static str,
    pub reason: String,
}

fn failed<E, R>(call: &'static str) -> impl FnOnce(SdkError<E, R>) -> SecretsError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    move |error| {
        let reason = match error.code() {
            Some(code) => format!("{code}: {}", error.message().unwrap_or_default()),
            None => DisplayErrorContext(&error).to_string(),
        };
        SecretsError { call, reason }
    }
}

fn not_found<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.code() == Some("ResourceNotFoundException")
}

/// What a secret's value holds. Its `Debug` leaves the token out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenDocument {
    pub token: String,
    pub token_id: String,
    pub prefix: String,
    pub organization: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    pub resource: String,
    /// The fingerprint of the properties the resource's token was made with (a rotation
    /// keeps it): an Update back to them (a rollback) finds the token instead of minting one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<String>,
}

impl fmt::Debug for TokenDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenDocument")
            .field("token", &"<redacted>")
            .field("token_id", &self.token_id)
            .field("prefix", &self.prefix)
            .field("organization", &self.organization)
            .field("service_account", &self.service_account)
            .field("resource", &self.resource)
            .field("properties", &self.properties)
            .finish()
    }
}

impl TokenDocument {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The document in a secret's value, or why it is not one (no part of the value).
    pub fn from_json(value: &str) -> Result<Self, String> {
        serde_json::from_str(value).map_err(|error| {
            format!(
                "the secret's value is not a service token document (line {}, column {})",
                error.line(),
                error.column()
            )
        })
    }
}

/// A secret's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    pub arn: String,
    pub name: String,
    pub tags: HashMap<String, String>,
    /// Each version's staging labels.
    pub versions: HashMap<String, Vec<String>>,
    pub rotation_enabled: bool,
}

impl SecretInfo {
    /// The version that has `label`.
    pub fn version_with(&self, label: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, labels)| labels.iter().any(|l| l == label))
            .map(|(id, _)| id.as_str())
    }

    pub fn version_has(&self, version: &str, label: &str) -> bool {
        self.versions
            .get(version)
            .is_some_and(|labels| labels.iter().any(|l| l == label))
    }
}

/// The Secrets Manager client, with the calls made.
#[derive(Debug, Clone)]
pub struct Secrets {
    client: Client,
}

impl Secrets {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The secret's metadata (`None`: there is no such secret, or it is scheduled for
    /// deletion).
    pub async fn describe(&self, id: &str) -> Result<Option<SecretInfo>, SecretsError> {
        let output = match self.client.describe_secret().secret_id(id).send().await {
            Ok(output) => output,
            Err(error) if not_found(&error) => return Ok(None),
            Err(error) => return Err(failed("DescribeSecret")(error)),
        };
        if output.deleted_date().is_some() {
            return Ok(None);
        }
        Ok(Some(SecretInfo {
            arn: output.arn().unwrap_or_default().to_owned(),
            name: output.name().unwrap_or_default().to_owned(),
            tags: output
                .tags()
                .iter()
                .filter_map(|tag| Some((tag.key()?.to_owned(), tag.value()?.to_owned())))
                .collect(),
            versions: output.version_ids_to_stages().cloned().unwrap_or_default(),
            rotation_enabled: output.rotation_enabled().unwrap_or(false),
        }))
    }

    /// The document of a version, by id or by label (`None`: no such version or secret).
    pub async fn document(
        &self,
        id: &str,
        version: Option<&str>,
        label: Option<&str>,
    ) -> Result<Option<TokenDocument>, SecretsError> {
        let Some(value) = self.value(id, version, label).await? else {
            return Ok(None);
        };
        TokenDocument::from_json(&value)
            .map(Some)
            .map_err(|reason| SecretsError {
                call: "GetSecretValue",
                reason,
            })
    }

    /// As [`Secrets::document`], with a value that is not a token document (the placeholder a
    /// secret given by ARN held before its first token: `{}`, a generated password) read as
    /// none: what a Delete steps over rather than fails on.
    pub async fn token_document(
        &self,
        id: &str,
        version: Option<&str>,
        label: Option<&str>,
    ) -> Result<Option<TokenDocument>, SecretsError> {
        let value = self.value(id, version, label).await?;
        Ok(value.and_then(|value| TokenDocument::from_json(&value).ok()))
    }

    /// The text of a version, by id or by label (`None`: no such version or secret).
    async fn value(
        &self,
        id: &str,
        version: Option<&str>,
        label: Option<&str>,
    ) -> Result<Option<String>, SecretsError> {
        match self
            .client
            .get_secret_value()
            .secret_id(id)
            .set_version_id(version.map(str::to_owned))
            .set_version_stage(label.map(str::to_owned))
            .send()
            .await
        {
            Ok(output) => Ok(Some(output.secret_string().unwrap_or_default().to_owned())),
            Err(error) if not_found(&error) => Ok(None),
            Err(error) => Err(failed("GetSecretValue")(error)),
        }
    }

    /// Creates the secret `name` with `document` as its first version (`version`), encrypted
    /// with `kms_key_id` (or the account's `aws/secretsmanager` key), tagged with `tags`. Its ARN.
    pub async fn create(
        &self,
        name: &str,
        version: &str,
        document: &TokenDocument,
        kms_key_id: Option<&str>,
        tags: &[(&str, &str)],
    ) -> Result<String, SecretsError> {
        let tags = tags
            .iter()
            .map(|(key, value)| Tag::builder().key(*key).value(*value).build())
            .collect();
        let output = self
            .client
            .create_secret()
            .name(name)
            .description(
                "A service token, managed by the service-accounts custom resource provider",
            )
            .client_request_token(version)
            .secret_string(document.to_json())
            .set_kms_key_id(kms_key_id.map(str::to_owned))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(failed("CreateSecret"))?;
        Ok(output.arn().unwrap_or_default().to_owned())
    }

    /// Puts `tags` on the secret.
    pub async fn tag(&self, id: &str, tags: &[(&str, &str)]) -> Result<(), SecretsError> {
        let tags = tags
            .iter()
            .map(|(key, value)| Tag::builder().key(*key).value(*value).build())
            .collect();
        self.client
            .tag_resource()
            .secret_id(id)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(failed("TagResource"))?;
        Ok(())
    }

    /// Adds `document` as version `version` with the staging label `label` alone.
    pub async fn put(
        &self,
        id: &str,
        version: &str,
        document: &TokenDocument,
        label: &str,
    ) -> Result<(), SecretsError> {
        self.client
            .put_secret_value()
            .secret_id(id)
            .client_request_token(version)
            .secret_string(document.to_json())
            .version_stages(label)
            .send()
            .await
            .map_err(failed("PutSecretValue"))?;
        Ok(())
    }

    /// Moves `label` to `to` (from `from`, the version that has it, if any).
    pub async fn move_label(
        &self,
        id: &str,
        label: &str,
        to: &str,
        from: Option<&str>,
    ) -> Result<(), SecretsError> {
        self.client
            .update_secret_version_stage()
            .secret_id(id)
            .version_stage(label)
            .move_to_version_id(to)
            .set_remove_from_version_id(from.map(str::to_owned))
            .send()
            .await
            .map_err(failed("UpdateSecretVersionStage"))?;
        Ok(())
    }

    /// Takes `label` off `from`.
    pub async fn remove_label(
        &self,
        id: &str,
        label: &str,
        from: &str,
    ) -> Result<(), SecretsError> {
        self.client
            .update_secret_version_stage()
            .secret_id(id)
            .version_stage(label)
            .remove_from_version_id(from)
            .send()
            .await
            .map_err(failed("UpdateSecretVersionStage"))?;
        Ok(())
    }

    /// Deletes the secret at once (its token is revoked: nothing is worth recovering, and the
    /// name is free for the stack's next create). A secret already gone is fine.
    pub async fn delete(&self, id: &str) -> Result<(), SecretsError> {
        match self
            .client
            .delete_secret()
            .secret_id(id)
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if not_found(&error) => Ok(()),
            Err(error) => Err(failed("DeleteSecret")(error)),
        }
    }
}

/// The name of the secret an ARN names: `arn:<partition>:secretsmanager:<region>:<account>:
/// secret:<name>-<6 characters>`.
pub fn name_in_arn(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    let [scheme, _, service, _, _, kind, rest] = parts[..] else {
        return None;
    };
    if scheme != "arn" || service != "secretsmanager" || kind != "secret" {
        return None;
    }
    let (name, suffix) = rest.rsplit_once('-')?;
    (suffix.len() == 6 && !name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_their_secret() {
        assert_eq!(
            name_in_arn(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:service-accounts/ci-token-a1B2c3"
            ),
            Some("service-accounts/ci-token")
        );
        assert_eq!(name_in_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(
            name_in_arn("arn:aws:secretsmanager:eu-west-1:123456789012:secret:nosuffix"),
            None
        );
    }

    #[test]
    fn a_document_never_prints_its_token() {
        let document = TokenDocument {
            token: "svc_secret_text".into(),
            token_id: "0123456789abcdef".into(),
            prefix: "svc_0123456789abcdef".into(),
            organization: "acme".into(),
            service_account: None,
            resource: "0123456789abcdef".into(),
            properties: None,
        };
        assert!(!format!("{document:?}").contains("svc_secret_text"));
        let error = TokenDocument::from_json("{\"token\": \"svc_secret_text\"").unwrap_err();
        assert!(!error.contains("svc_secret_text"));
    }
}
