//! Service accounts as code: who may manage an organization through CloudFormation, and the
//! custom resource protocol's messages. Pure types and rules; the provider function (issue
//! #22) calls the use cases with them.
//!
//! * **Who.** CloudFormation calls a custom resource provider for a stack in some AWS account;
//!   the request names the stack by its ARN (`arn:aws:cloudformation:<region>:<account>:
//!   stack/<name>/<id>`). An organization lists the AWS accounts allowed to manage its
//!   accounts and tokens this way ([`IacAccess`]), each optionally limited to stacks whose
//!   name starts with a prefix, matched by whole `-`-separated segments (`payments` allows
//!   `payments` and `payments-prod`, not `paymentsx`).
//! * **The protocol.** [`CustomResourceRequest`] is what CloudFormation sends;
//!   [`CustomResourceResponse`] is what is PUT to its pre-signed `ResponseURL`, at most 4096
//!   bytes (a long `Reason` is cut).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ParseError;

pub mod invoker;

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AwsAccountId(String);

impl AwsAccountId {
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(ParseError::new("an AWS account id is 12 digits"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AwsAccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AwsAccountId {
    type Error = ParseError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<AwsAccountId> for String {
    fn from(value: AwsAccountId) -> Self {
        value.0
    }
}

/// A CloudFormation stack, from its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRef {
    pub arn: String,
    pub account: AwsAccountId,
    pub region: String,
    pub name: String,
}

impl StackRef {
    /// `arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>`.
    pub fn parse(arn: &str) -> Result<Self, ParseError> {
        let invalid = || ParseError::new("a CloudFormation stack ARN");
        if arn.len() > 1024 || arn.chars().any(char::is_control) {
            return Err(invalid());
        }
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [scheme, partition, service, region, account, resource] = parts[..] else {
            return Err(invalid());
        };
        if scheme != "arn"
            || partition.is_empty()
            || service != "cloudformation"
            || region.is_empty()
        {
            return Err(invalid());
        }
        let account = AwsAccountId::parse(account).map_err(|_| invalid())?;
        let mut resource = resource.split('/');
        let (Some("stack"), Some(name), Some(id), None) = (
            resource.next(),
            resource.next(),
            resource.next(),
            resource.next(),
        ) else {
            return Err(invalid());
        };
        let name_ok = !name.is_empty()
            && name.len() <= 128
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !name_ok || id.is_empty() {
            return Err(invalid());
        }
        Ok(Self {
            arn: arn.to_owned(),
            account,
            region: region.to_owned(),
            name: name.to_owned(),
        })
    }
}

/// One AWS account allowed to manage an organization through CloudFormation, optionally only
/// from stacks whose name starts with `stack_prefix` (whole segments).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IacPrincipal {
    pub account: AwsAccountId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_prefix: Option<String>,
}

impl IacPrincipal {
    pub fn new(account: AwsAccountId, stack_prefix: Option<&str>) -> Result<Self, ParseError> {
        if let Some(prefix) = stack_prefix {
            let ok = !prefix.is_empty()
                && prefix.len() <= 128
                && prefix.starts_with(|c: char| c.is_ascii_alphabetic())
                && !prefix.ends_with('-')
                && !prefix.contains("--")
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !ok {
                return Err(ParseError::new(
                    "a stack-name prefix: letters, digits and single hyphens, starting with a letter",
                ));
            }
        }
        Ok(Self {
            account,
            stack_prefix: stack_prefix.map(str::to_owned),
        })
    }

    /// Whether a stack of `stack` may act under this entry.
    pub fn allows(&self, stack: &StackRef) -> bool {
        self.account == stack.account
            && self.stack_prefix.as_deref().is_none_or(|prefix| {
                stack.name == prefix
                    || stack
                        .name
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('-'))
            })
    }
}

/// The AWS accounts (and stacks) allowed to manage an organization as code: at most
/// [`Self::MAX`] entries; none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<IacPrincipal>", into = "Vec<IacPrincipal>")]
pub struct IacAccess(Vec<IacPrincipal>);

impl IacAccess {
    pub const MAX: usize = 20;

    pub fn new(principals: Vec<IacPrincipal>) -> Result<Self, ParseError> {
        if principals.len() > Self::MAX {
            return Err(ParseError::new("at most 20 AWS accounts or stack prefixes"));
        }
        Ok(Self(principals))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn principals(&self) -> &[IacPrincipal] {
        &self.0
    }

    /// Whether `stack` may manage the organization.
    pub fn allows(&self, stack: &StackRef) -> bool {
        self.0.iter().any(|principal| principal.allows(stack))
    }
}

impl TryFrom<Vec<IacPrincipal>> for IacAccess {
    type Error = ParseError;

    fn try_from(value: Vec<IacPrincipal>) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<IacAccess> for Vec<IacPrincipal> {
    fn from(value: IacAccess) -> Self {
        value.0
    }
}

/// What CloudFormation asks of a custom resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// A custom resource request, as CloudFormation sends it (through Lambda or SNS).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub resource_type: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub old_resource_properties: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The properties `AWS::CloudFormation::CustomResource` has of its own (`ServiceTimeout`:
/// 1–3600 seconds, which CDK sets): CloudFormation passes them in `ResourceProperties` and
/// `OldResourceProperties` too. They are never the provider's: ignored, never a change.
pub const CLOUDFORMATION_PROPERTIES: [&str; 2] = ["ServiceToken", "ServiceTimeout"];

/// `properties` without [`CLOUDFORMATION_PROPERTIES`].
pub fn provider_properties(
    properties: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    properties
        .iter()
        .filter(|(name, _)| !CLOUDFORMATION_PROPERTIES.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// The outcome CloudFormation is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ResponseStatus {
    Success,
    Failed,
}

/// The body PUT to the request's `ResponseURL`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    pub status: ResponseStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
}

impl CustomResourceResponse {
    /// CloudFormation's limit on a response body.
    pub const MAX_BYTES: usize = 4096;

    /// A success for `request`, naming `physical_resource_id`, with `data` (never a secret:
    /// `Fn::GetAtt` shows it to anyone who can read the stack).
    pub fn success(
        request: &CustomResourceRequest,
        physical_resource_id: &str,
        data: BTreeMap<String, String>,
    ) -> Self {
        Self {
            status: ResponseStatus::Success,
            reason: None,
            physical_resource_id: physical_resource_id.to_owned(),
            stack_id: request.stack_id.clone(),
            request_id: request.request_id.clone(),
            logical_resource_id: request.logical_resource_id.clone(),
            data,
        }
    }

    /// A failure for `request` with a clear `reason`. The physical id is the request's own
    /// (an Update or Delete), or a placeholder for a failed Create, as CloudFormation needs one.
    pub fn failure(request: &CustomResourceRequest, reason: &str) -> Self {
        let physical = request
            .physical_resource_id
            .clone()
            .unwrap_or_else(|| format!("failed-{}", request.logical_resource_id));
        Self {
            status: ResponseStatus::Failed,
            reason: Some(crate::text::sanitize_metadata(reason, 1024)),
            physical_resource_id: physical,
            stack_id: request.stack_id.clone(),
            request_id: request.request_id.clone(),
            logical_resource_id: request.logical_resource_id.clone(),
            data: BTreeMap::new(),
        }
    }

    /// The JSON body, within [`Self::MAX_BYTES`] (the reason is cut if it must be).
    pub fn body(&self) -> String {
        let mut response = self.clone();
        loop {
            let body = serde_json::to_string(&response).unwrap_or_default();
            match &mut response.reason {
                Some(reason) if body.len() > Self::MAX_BYTES && !reason.is_empty() => {
                    let keep = reason.chars().count() / 2;
                    *reason = reason.chars().take(keep).collect();
                }
                _ => return body,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "arn:aws:cloudformation:eu-west-1:123456789012:stack/payments-prod/51af3dc0-da77-11e4-872e-1234567db123";

    fn stack(name: &str, account: &str) -> StackRef {
        StackRef::parse(&format!(
            "arn:aws:cloudformation:eu-west-1:{account}:stack/{name}/51af3dc0"
        ))
        .unwrap()
    }

    #[test]
    fn stack_arns_name_their_account_and_stack() {
        let parsed = StackRef::parse(STACK).unwrap();
        assert_eq!(parsed.account.as_str(), "123456789012");
        assert_eq!(parsed.name, "payments-prod");
        assert_eq!(parsed.region, "eu-west-1");
        for bad in [
            "",
            "arn:aws:s3:eu-west-1:123456789012:stack/a/b",
            "arn:aws:cloudformation:eu-west-1:12345678901:stack/a/b",
            "arn:aws:cloudformation:eu-west-1:123456789012:stackset/a/b",
            "arn:aws:cloudformation:eu-west-1:123456789012:stack/a",
            "arn:aws:cloudformation:eu-west-1:123456789012:stack/a/b/c",
            "arn:aws:cloudformation:eu-west-1:123456789012:stack/1a/b",
            "arn:aws:cloudformation:eu-west-1:123456789012:stack/a\n/b",
        ] {
            assert!(StackRef::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn accounts_and_prefixes_are_matched_by_whole_segments() {
        let account = AwsAccountId::parse("123456789012").unwrap();
        let any = IacPrincipal::new(account.clone(), None).unwrap();
        let payments = IacPrincipal::new(account, Some("payments")).unwrap();
        assert!(any.allows(&stack("anything", "123456789012")));
        assert!(!any.allows(&stack("anything", "210987654321")));
        assert!(payments.allows(&stack("payments", "123456789012")));
        assert!(payments.allows(&stack("payments-prod", "123456789012")));
        assert!(!payments.allows(&stack("paymentsx", "123456789012")));
        assert!(!payments.allows(&stack("payments-prod", "210987654321")));
        let access = IacAccess::new(vec![payments]).unwrap();
        assert!(access.allows(&stack("payments-eu-1", "123456789012")));
        assert!(!IacAccess::default().allows(&stack("payments", "123456789012")));
        for bad in ["", "-a", "a-", "a--b", "1a", "a_b"] {
            let account = AwsAccountId::parse("123456789012").unwrap();
            assert!(IacPrincipal::new(account, Some(bad)).is_err(), "{bad:?}");
        }
        assert!(AwsAccountId::parse("12345678901a").is_err());
    }

    #[test]
    fn responses_fit_cloudformations_limit_and_carry_the_request_ids() {
        let request: CustomResourceRequest = serde_json::from_value(serde_json::json!({
            "RequestType": "Create",
            "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x",
            "StackId": STACK,
            "RequestId": "unique-id-1",
            "ResourceType": "Custom::ServiceAccount",
            "LogicalResourceId": "Deployer",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:p", "Name": "deployer"}
        }))
        .unwrap();
        let failed = CustomResourceResponse::failure(&request, &"x".repeat(10_000));
        let body = failed.body();
        assert!(
            body.len() <= CustomResourceResponse::MAX_BYTES,
            "{}",
            body.len()
        );
        let back: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(back["Status"], "FAILED");
        assert_eq!(back["RequestId"], "unique-id-1");
        assert_eq!(back["LogicalResourceId"], "Deployer");
        assert_eq!(back["PhysicalResourceId"], "failed-Deployer");
        let ok = CustomResourceResponse::success(
            &request,
            "0123456789abcdef",
            BTreeMap::from([("Id".to_owned(), "0123456789abcdef".to_owned())]),
        );
        let back: serde_json::Value = serde_json::from_str(&ok.body()).unwrap();
        assert_eq!(back["Status"], "SUCCESS");
        assert_eq!(back["Data"]["Id"], "0123456789abcdef");
        assert!(back.get("Reason").is_none());
    }
}
