//! The context our authorizer attaches to an allowed request ([`Principal::to_context`]), for
//! the backend, and that a function behind the authorizer reads back
//! ([`Principal::from_context`]) instead of verifying the token a second time.

use std::collections::BTreeMap;

use crate::ParseError;
use crate::access::{Grants, Role, Roles, Scope, Scopes};
use crate::authn::{Permissions, Principal};
use crate::ids::{OrgId, ServiceAccountId, TokenId};
use crate::model::TokenKind;

/// Context keys, as API Gateway passes them on to the backend (values are strings).
mod context_keys {
    pub const ORG: &str = "org";
    pub const ACCOUNT: &str = "account";
    pub const TOKEN_ID: &str = "tokenId";
    pub const TOKEN_KIND: &str = "tokenKind";
    pub const ROLES: &str = "roles";
    pub const GRANTS: &str = "grants";
    pub const SCOPES: &str = "scopes";
}

impl Principal {
    /// The context our authorizer attaches to an allowed request: org, account (empty for
    /// org-wide tokens), token id and kind, the effective roles and grants, and the token's
    /// own scopes, each a comma-separated string.
    pub fn to_context(&self) -> BTreeMap<String, String> {
        let roles: Vec<&str> = self.permissions.roles.iter().map(|r| r.as_str()).collect();
        let scopes: Vec<String> = self.scopes.iter().map(ToString::to_string).collect();
        let grants: Vec<String> = self
            .permissions
            .grants
            .iter()
            .map(|g| format!("{}:{}", g.resource.as_str(), g.level.as_str()))
            .collect();
        BTreeMap::from([
            (context_keys::ORG.into(), self.org.to_string()),
            (
                context_keys::ACCOUNT.into(),
                self.account
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            (context_keys::TOKEN_ID.into(), self.token_id.to_string()),
            (
                context_keys::TOKEN_KIND.into(),
                token_kind_name(self.token_kind).into(),
            ),
            (context_keys::ROLES.into(), roles.join(",")),
            (context_keys::GRANTS.into(), grants.join(",")),
            (context_keys::SCOPES.into(), scopes.join(",")),
        ])
    }

    /// Reads back the context our authorizer attached. `Ok(None)` when the request carries
    /// no such context (no authorizer, or another one); an error when it looks like ours but
    /// is malformed.
    pub fn from_context(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ParseError> {
        let (Some(org), Some(token_id)) =
            (lookup(context_keys::ORG), lookup(context_keys::TOKEN_ID))
        else {
            return Ok(None);
        };
        let account = match lookup(context_keys::ACCOUNT).unwrap_or_default().as_str() {
            "" => None,
            id => Some(ServiceAccountId::parse(id)?),
        };
        let token_kind = match lookup(context_keys::TOKEN_KIND).as_deref() {
            Some("service_account") => TokenKind::ServiceAccount,
            Some("org") => TokenKind::Org,
            Some("access") => TokenKind::Access,
            _ => {
                return Err(ParseError::new(
                    "the authorizer context has no valid token kind",
                ));
            }
        };
        let roles = split_list(lookup(context_keys::ROLES))
            .map(|role| Role::parse(&role))
            .collect::<Result<Vec<_>, _>>()?;
        let grants = split_list(lookup(context_keys::GRANTS))
            .map(|grant| match Scope::parse(&grant)? {
                Scope::Grant(grant) => Ok(grant),
                Scope::Role(_) => Err(ParseError::new("a grant is `<resource>:<level>`")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let scopes = split_list(lookup(context_keys::SCOPES))
            .map(|scope| Scope::parse(&scope))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Self {
            org: OrgId::parse(&org)?,
            account,
            token_id: TokenId::parse(&token_id)?,
            token_kind,
            scopes: Scopes::parse(scopes)?,
            permissions: Permissions {
                roles: Roles::new(roles),
                grants: Grants::parse(grants)?,
            },
        }))
    }
}

fn split_list(value: Option<String>) -> impl Iterator<Item = String> {
    value
        .unwrap_or_default()
        .split(',')
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into_iter()
}

fn token_kind_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::ServiceAccount => "service_account",
        TokenKind::Org => "org",
        TokenKind::Access => "access",
    }
}
