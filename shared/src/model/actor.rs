//! Who made a change, and from where: recorded on every item it changes and copied into the
//! audit event the change becomes.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::ids::{TokenId, TrustPolicyId};
use crate::text::sanitize_metadata;

/// What kind of principal made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// A service account acting through one of its tokens.
    ServiceAccount,
    /// An org-wide service token.
    OrgToken,
    /// An AWS IAM principal, through API Gateway's IAM authorization.
    IamPrincipal,
    /// An operator running the bootstrap command with their own AWS credentials.
    Operator,
    /// A person signed in with the organization's identity provider: `id` is their subject,
    /// `issuer` the provider and `display` the configured display claim.
    Person,
    /// A workload (a CI job) that exchanged its platform's OpenID Connect token under a trust
    /// policy: `id` is the token's subject, `issuer` its platform, `claims` the values of the
    /// claims the policy matched (repository, ref, ...), `trustPolicy` the policy.
    Workload,
    /// A report that a token leaked: `id` is the reporter (`github`, GitHub's secret
    /// scanning partner program; `public`, the public revocation endpoint, with the sender's
    /// address as `sourceIp`).
    SecretScanning,
    /// The organization's lifecycle policy, applied by the scheduled lifecycle run: `id` names
    /// the rule (`expiryWarningDays`, `revokeUnusedAfterDays`).
    Policy,
    /// A CloudFormation stack managing the organization as code, through the custom resource
    /// provider: `id` is the stack's ARN, `awsAccount` its AWS account and
    /// `logicalResourceId` the resource in the stack.
    Stack,
    /// The system itself: DynamoDB's TTL, the audit writer.
    System,
    /// A change made outside the API (a direct write to the table): the audit trail records
    /// it but cannot name who made it.
    Unknown,
}

/// Who made a change, and from where. Recorded on every item it changes and copied into the
/// audit event the change becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    pub kind: ActorKind,
    /// The service-account id, org-token id, IAM ARN, or operator name.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<TokenId>,
    /// A person's identity provider (the token's `iss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// How a person is shown (their email, name or user name, as the provider says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// A workload's matched claims, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<BTreeMap<String, String>>,
    /// The trust policy a workload was admitted by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_policy: Option<TrustPolicyId>,
    /// A stack's AWS account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_account: Option<String>,
    /// The resource of a stack that made the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Actor {
    const MAX_ID_CHARS: usize = 256;
    const MAX_USER_AGENT_CHARS: usize = 512;
    const MAX_REQUEST_ID_CHARS: usize = 128;

    /// An actor with no request metadata. `id` is made safe to store and print.
    pub fn new(kind: ActorKind, id: &str) -> Self {
        Self {
            kind,
            id: sanitize_metadata(id, Self::MAX_ID_CHARS),
            token_id: None,
            issuer: None,
            display: None,
            claims: None,
            trust_policy: None,
            aws_account: None,
            logical_resource_id: None,
            source_ip: None,
            user_agent: None,
            request_id: None,
        }
    }

    /// A person: the subject `subject` of the identity provider `issuer`, shown as `display`.
    pub fn person(issuer: &str, subject: &str, display: &str) -> Self {
        Self {
            issuer: Some(sanitize_metadata(issuer, Self::MAX_ID_CHARS)),
            display: Some(sanitize_metadata(display, Self::MAX_ID_CHARS)),
            ..Self::new(ActorKind::Person, subject)
        }
    }

    /// A workload: the subject `subject` of the platform `issuer`, admitted by `policy` on
    /// the values of `claims` (each made safe to store, at most 20).
    pub fn workload(
        issuer: &str,
        subject: &str,
        policy: &TrustPolicyId,
        claims: Vec<(String, String)>,
    ) -> Self {
        let claims = claims
            .into_iter()
            .take(20)
            .map(|(name, value)| {
                (
                    sanitize_metadata(&name, 64),
                    sanitize_metadata(&value, Self::MAX_ID_CHARS),
                )
            })
            .collect();
        Self {
            issuer: Some(sanitize_metadata(issuer, Self::MAX_ID_CHARS)),
            claims: Some(claims),
            trust_policy: Some(policy.clone()),
            ..Self::new(ActorKind::Workload, subject)
        }
    }

    /// A leak reporter (see [`ActorKind::SecretScanning`]).
    pub fn secret_scanning(reporter: &str) -> Self {
        Self::new(ActorKind::SecretScanning, reporter)
    }

    /// A rule of the organization's lifecycle policy (see [`ActorKind::Policy`]).
    pub fn policy(rule: &str) -> Self {
        Self::new(ActorKind::Policy, rule)
    }

    /// A CloudFormation stack's resource (see [`ActorKind::Stack`]).
    pub fn stack(stack: &crate::iac::StackRef, logical_resource_id: &str) -> Self {
        Self {
            aws_account: Some(stack.account.to_string()),
            logical_resource_id: Some(sanitize_metadata(logical_resource_id, 256)),
            ..Self::new(ActorKind::Stack, &stack.arn)
        }
    }

    /// The deployment itself (TTL expiry, migrations).
    pub fn system(id: &str) -> Self {
        Self::new(ActorKind::System, id)
    }

    /// Adds the request's metadata, each value cut to a sane length and stripped of control
    /// characters, since all of it is caller-controlled.
    pub fn with_request(
        mut self,
        source_ip: Option<IpAddr>,
        user_agent: Option<&str>,
        request_id: Option<&str>,
    ) -> Self {
        self.source_ip = source_ip;
        self.user_agent = user_agent.map(|ua| sanitize_metadata(ua, Self::MAX_USER_AGENT_CHARS));
        self.request_id = request_id.map(|id| sanitize_metadata(id, Self::MAX_REQUEST_ID_CHARS));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_neutralise_request_metadata() {
        let actor = Actor::new(ActorKind::Operator, "ops\nforged").with_request(
            None,
            Some(&"agent\r\n".repeat(200)),
            Some("req-1"),
        );
        assert_eq!(actor.id, "ops?forged");
        let user_agent = actor.user_agent.unwrap();
        assert_eq!(user_agent.chars().count(), 512);
        assert!(!user_agent.contains('\n'));
    }
}
