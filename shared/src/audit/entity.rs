//! The items of the table as the audit mapping reads them ([`Entity`]), and what of them an
//! event may show: the allowlist of fields per item type and the difference of those fields
//! between a record's two images.

use serde_json::{Map, Value};

use super::{AuditTarget, AuditTargetKind};
use crate::federation::TrustPolicy;
use crate::ids::OrgId;
use crate::model::{Organization, ServiceAccount, Token};

/// The fields an audit event may show, per item type (JSON names).
const ORG_FIELDS: &[&str] = &["name", "status", "tokenPolicy", "iacAccess"];
const ACCOUNT_FIELDS: &[&str] = &[
    "name",
    "description",
    "status",
    "roles",
    "grants",
    "ipAllowlist",
    "deletedAt",
];
const TOKEN_FIELDS: &[&str] = &[
    "kind",
    "account",
    "name",
    "description",
    "scopes",
    "expiresAt",
    "revokedAt",
    "rotatedFrom",
    "rotatedTo",
    "rotatedAt",
    "issuedFor",
    "trustPolicy",
    "leak",
    "expiryWarning",
    "revocationReason",
];
const TRUST_POLICY_FIELDS: &[&str] = &[
    "name",
    "preset",
    "issuer",
    "audience",
    "conditions",
    "scopes",
    "lifetimeSeconds",
    "deletedAt",
];

/// Every field name an event's `changes` may hold, whatever the item type (the allowlists
/// above), sorted: what the published event schema allows.
pub fn change_fields() -> Vec<&'static str> {
    let mut fields: Vec<&'static str> = [
        ORG_FIELDS,
        ACCOUNT_FIELDS,
        TOKEN_FIELDS,
        TRUST_POLICY_FIELDS,
    ]
    .concat();
    fields.sort_unstable();
    fields.dedup();
    fields
}

/// An item of the table, as a stream image holds it (decoded by the store).
#[derive(Debug, Clone, PartialEq)]
pub enum Entity {
    Org(Organization),
    Account(ServiceAccount),
    Token(Token),
    TrustPolicy(TrustPolicy),
}

impl Entity {
    pub(super) fn target(&self) -> AuditTarget {
        match self {
            Self::Org(org) => AuditTarget {
                kind: AuditTargetKind::Org,
                id: org.id.to_string(),
                account: None,
            },
            Self::Account(account) => AuditTarget {
                kind: AuditTargetKind::ServiceAccount,
                id: account.id.to_string(),
                account: Some(account.id.clone()),
            },
            Self::Token(token) => AuditTarget {
                kind: AuditTargetKind::Token,
                id: token.id.to_string(),
                account: token.account.clone(),
            },
            Self::TrustPolicy(policy) => AuditTarget {
                kind: AuditTargetKind::TrustPolicy,
                id: policy.id.to_string(),
                account: Some(policy.account.clone()),
            },
        }
    }

    pub(super) fn org(&self) -> &OrgId {
        match self {
            Self::Org(org) => &org.id,
            Self::Account(account) => &account.org,
            Self::Token(token) => &token.org,
            Self::TrustPolicy(policy) => &policy.org,
        }
    }

    pub(super) fn fields(&self) -> &'static [&'static str] {
        match self {
            Self::Org(_) => ORG_FIELDS,
            Self::Account(_) => ACCOUNT_FIELDS,
            Self::Token(_) => TOKEN_FIELDS,
            Self::TrustPolicy(_) => TRUST_POLICY_FIELDS,
        }
    }

    pub(super) fn version(&self) -> u64 {
        match self {
            Self::Org(org) => org.version,
            Self::Account(account) => account.version,
            Self::Token(token) => token.version,
            Self::TrustPolicy(policy) => policy.version,
        }
    }

    fn to_json(&self) -> Map<String, Value> {
        let value = match self {
            Self::Org(org) => serde_json::to_value(org),
            Self::Account(account) => serde_json::to_value(account),
            Self::Token(token) => serde_json::to_value(token),
            Self::TrustPolicy(policy) => serde_json::to_value(policy),
        };
        match value {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

/// `{field: {"old": …, "new": …}}` for every allowlisted field that differs; a side that has
/// no value is left out.
pub(super) fn changes(
    fields: &[&str],
    old: Option<&Entity>,
    new: Option<&Entity>,
) -> Map<String, Value> {
    let old = old.map(Entity::to_json).unwrap_or_default();
    let new = new.map(Entity::to_json).unwrap_or_default();
    let mut changes = Map::new();
    for field in fields {
        let (before, after) = (old.get(*field), new.get(*field));
        if before == after {
            continue;
        }
        let mut change = Map::new();
        if let Some(before) = before {
            change.insert("old".into(), before.clone());
        }
        if let Some(after) = after {
            change.insert("new".into(), after.clone());
        }
        changes.insert((*field).to_owned(), Value::Object(change));
    }
    changes
}
