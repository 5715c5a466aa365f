//! The audit trail's event: what happened (an [`AuditAction`]), to what, by whom, and what
//! changed.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{OrgId, ServiceAccountId};
use crate::model::Actor;

/// What an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    #[serde(rename = "org.created")]
    OrgCreated,
    #[serde(rename = "org.updated")]
    OrgUpdated,
    #[serde(rename = "org.deleted")]
    OrgDeleted,
    #[serde(rename = "service_account.created")]
    ServiceAccountCreated,
    #[serde(rename = "service_account.updated")]
    ServiceAccountUpdated,
    #[serde(rename = "service_account.disabled")]
    ServiceAccountDisabled,
    #[serde(rename = "service_account.enabled")]
    ServiceAccountEnabled,
    #[serde(rename = "service_account.deleted")]
    ServiceAccountDeleted,
    #[serde(rename = "token.created")]
    TokenCreated,
    #[serde(rename = "token.rotated")]
    TokenRotated,
    /// Its expiry is within one of the organization's warning windows (once per window).
    #[serde(rename = "token.expiring")]
    TokenExpiring,
    /// Reported as seen in public (its `token.revoked` follows).
    #[serde(rename = "token.leaked")]
    TokenLeaked,
    #[serde(rename = "token.revoked")]
    TokenRevoked,
    #[serde(rename = "token.expired")]
    TokenExpired,
    /// Removed from the table outside the API (the API revokes, it never deletes).
    #[serde(rename = "token.deleted")]
    TokenDeleted,
    #[serde(rename = "trust_policy.created")]
    TrustPolicyCreated,
    #[serde(rename = "trust_policy.deleted")]
    TrustPolicyDeleted,
}

impl AuditAction {
    pub const ALL: [Self; 17] = [
        Self::OrgCreated,
        Self::OrgUpdated,
        Self::OrgDeleted,
        Self::ServiceAccountCreated,
        Self::ServiceAccountUpdated,
        Self::ServiceAccountDisabled,
        Self::ServiceAccountEnabled,
        Self::ServiceAccountDeleted,
        Self::TokenCreated,
        Self::TokenRotated,
        Self::TokenExpiring,
        Self::TokenLeaked,
        Self::TokenRevoked,
        Self::TokenExpired,
        Self::TokenDeleted,
        Self::TrustPolicyCreated,
        Self::TrustPolicyDeleted,
    ];

    /// The action's name, as the API shows it (`token.revoked`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrgCreated => "org.created",
            Self::OrgUpdated => "org.updated",
            Self::OrgDeleted => "org.deleted",
            Self::ServiceAccountCreated => "service_account.created",
            Self::ServiceAccountUpdated => "service_account.updated",
            Self::ServiceAccountDisabled => "service_account.disabled",
            Self::ServiceAccountEnabled => "service_account.enabled",
            Self::ServiceAccountDeleted => "service_account.deleted",
            Self::TokenCreated => "token.created",
            Self::TokenRotated => "token.rotated",
            Self::TokenExpiring => "token.expiring",
            Self::TokenLeaked => "token.leaked",
            Self::TokenRevoked => "token.revoked",
            Self::TokenExpired => "token.expired",
            Self::TokenDeleted => "token.deleted",
            Self::TrustPolicyCreated => "trust_policy.created",
            Self::TrustPolicyDeleted => "trust_policy.deleted",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|action| action.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditTargetKind {
    Org,
    ServiceAccount,
    Token,
    TrustPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditTarget {
    pub kind: AuditTargetKind,
    pub id: String,
    /// The service account the target is or belongs to (none for an org or an org-wide
    /// token), so an account's trail includes its tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<ServiceAccountId>,
}

/// One immutable entry of the audit trail. It names what changed (field names with their old
/// and new values) but never holds a token, a secret or a hash: the audit writer builds
/// `changes` from an allowlist of fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: String,
    pub org: OrgId,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub actor: Actor,
    pub action: AuditAction,
    pub target: AuditTarget,
    #[serde(default)]
    pub changes: serde_json::Map<String, serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_actions_use_their_dotted_names() {
        let json = serde_json::to_string(&AuditAction::ServiceAccountCreated).unwrap();
        assert_eq!(json, "\"service_account.created\"");
        let back: AuditAction = serde_json::from_str("\"token.expired\"").unwrap();
        assert_eq!(back, AuditAction::TokenExpired);
        for action in AuditAction::ALL {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("token.exploded"), None);
    }
}
