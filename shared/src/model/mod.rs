//! The entities: organizations, service accounts, tokens, and the actors who change them.
//!
//! Every entity records who created and last changed it ([`Actor`]) and carries a `version`
//! that the store uses for optimistic concurrency (and the API exposes as an `ETag`).
//!
//! Organizations and service accounts are here; a token's metadata is in `token`, the actor in
//! `actor`, and a rotation lineage in [`lineage`].

mod actor;
pub mod lineage;
mod token;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::access::{Grants, IpAllowlist, Roles};
use crate::ids::{OrgId, ServiceAccountId};
use crate::policy::TokenPolicy;
use crate::text::{Description, DisplayName};

pub use actor::{Actor, ActorKind};
pub use token::{ExpiryWarning, Leak, NewToken, Token, TokenKind, TokenStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrgStatus {
    Active,
    Disabled,
}

/// An organization: the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: OrgId,
    pub name: DisplayName,
    pub status: OrgStatus,
    pub token_policy: TokenPolicy,
    /// The identity providers whose people may administer (or audit) the organization.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_providers: Vec<crate::people::IdentityProvider>,
    /// The AWS accounts (and stacks) whose CloudFormation may manage the organization's
    /// accounts and tokens as code; none by default.
    #[serde(default, skip_serializing_if = "crate::iac::IacAccess::is_empty")]
    pub iac_access: crate::iac::IacAccess,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Actor,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub updated_by: Actor,
    pub version: u64,
}

impl Organization {
    pub fn new(
        id: OrgId,
        name: DisplayName,
        token_policy: TokenPolicy,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id,
            name,
            status: OrgStatus::Active,
            token_policy,
            identity_providers: Vec::new(),
            iac_access: crate::iac::IacAccess::default(),
            created_at: now,
            created_by: actor.clone(),
            updated_at: now,
            updated_by: actor,
            version: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AccountStatus {
    Active,
    Disabled,
}

/// A non-human identity. It never signs in anywhere: it only holds tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccount {
    pub org: OrgId,
    pub id: ServiceAccountId,
    pub name: DisplayName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    pub status: AccountStatus,
    pub roles: Roles,
    pub grants: Grants,
    pub ip_allowlist: IpAllowlist,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Actor,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub updated_by: Actor,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_used_at: Option<OffsetDateTime>,
    /// Set when the account is deleted: the item stays as a tombstone that names who deleted
    /// it (for the audit trail) until `purge_after`, when DynamoDB's TTL removes it. A deleted
    /// account is gone for every reader and never authorizes anything.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<Actor>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub purge_after: Option<OffsetDateTime>,
    pub version: u64,
}

/// What a new service account is made of; the rest is set by [`ServiceAccount::new`].
#[derive(Debug, Clone)]
pub struct NewServiceAccount {
    pub name: DisplayName,
    pub description: Option<Description>,
    pub roles: Roles,
    pub grants: Grants,
    pub ip_allowlist: IpAllowlist,
}

impl ServiceAccount {
    pub fn new(
        org: OrgId,
        id: ServiceAccountId,
        fields: NewServiceAccount,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            org,
            id,
            name: fields.name,
            description: fields.description,
            status: AccountStatus::Active,
            roles: fields.roles,
            grants: fields.grants,
            ip_allowlist: fields.ip_allowlist,
            created_at: now,
            created_by: actor.clone(),
            updated_at: now,
            updated_by: actor,
            last_used_at: None,
            deleted_at: None,
            deleted_by: None,
            purge_after: None,
            version: 1,
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// Turns the account into a tombstone attributed to `actor`, kept for `retention`.
    pub fn delete(&mut self, actor: Actor, now: OffsetDateTime, retention: Duration) {
        self.deleted_at = Some(now);
        self.deleted_by = Some(actor.clone());
        self.purge_after = Some(now + retention);
        self.updated_at = now;
        self.updated_by = actor;
    }
}
