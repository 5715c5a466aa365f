//! The context our authorizer attaches to an allowed request ([`Principal::to_context`]), for
//! the backend, and that a function behind the authorizer reads back
//! ([`Principal::from_context`]) instead of verifying the token a second time.

use std::collections::BTreeMap;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, Serializer};

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
        self.context()
            .entries()
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value.to_string()))
            .collect()
    }

    /// The same context as [`Self::to_context`], as a view that writes itself (as a JSON
    /// object, or entry by entry) without building a map: the authorizer's hot path.
    pub fn context(&self) -> Context<'_> {
        Context(self)
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

/// A principal's authorizer context, written without intermediate strings
/// ([`Principal::context`]).
#[derive(Debug, Clone, Copy)]
pub struct Context<'a>(&'a Principal);

/// One value of the context: written as a string.
#[derive(Debug, Clone, Copy)]
pub enum ContextValue<'a> {
    Text(&'a str),
    Org(&'a OrgId),
    Account(Option<&'a ServiceAccountId>),
    Token(&'a TokenId),
    Roles(&'a Roles),
    Grants(&'a Grants),
    Scopes(&'a Scopes),
}

impl Context<'_> {
    /// The entries, in the keys' order (that of a `BTreeMap`, as `to_context` has them).
    pub fn entries(&self) -> [(&'static str, ContextValue<'_>); 7] {
        let p = self.0;
        [
            (
                context_keys::ACCOUNT,
                ContextValue::Account(p.account.as_ref()),
            ),
            (
                context_keys::GRANTS,
                ContextValue::Grants(&p.permissions.grants),
            ),
            (context_keys::ORG, ContextValue::Org(&p.org)),
            (
                context_keys::ROLES,
                ContextValue::Roles(&p.permissions.roles),
            ),
            (context_keys::SCOPES, ContextValue::Scopes(&p.scopes)),
            (context_keys::TOKEN_ID, ContextValue::Token(&p.token_id)),
            (
                context_keys::TOKEN_KIND,
                ContextValue::Text(token_kind_name(p.token_kind)),
            ),
        ]
    }
}

impl Serialize for Context<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let entries = self.entries();
        let mut map = serializer.serialize_map(Some(entries.len()))?;
        for (key, value) in &entries {
            map.serialize_entry(key, &format_args!("{value}"))?;
        }
        map.end()
    }
}

impl fmt::Display for ContextValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Items separated by commas.
        fn list<T>(
            f: &mut fmt::Formatter<'_>,
            items: impl Iterator<Item = T>,
            write: impl Fn(&mut fmt::Formatter<'_>, T) -> fmt::Result,
        ) -> fmt::Result {
            for (i, item) in items.enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                write(f, item)?;
            }
            Ok(())
        }
        match self {
            Self::Text(text) => f.write_str(text),
            Self::Org(org) => write!(f, "{org}"),
            Self::Account(account) => account.map_or(Ok(()), |account| write!(f, "{account}")),
            Self::Token(token) => write!(f, "{token}"),
            Self::Roles(roles) => list(f, roles.iter(), |f, role| f.write_str(role.as_str())),
            Self::Grants(grants) => list(f, grants.iter(), |f, grant| {
                write!(f, "{}:{}", grant.resource.as_str(), grant.level.as_str())
            }),
            Self::Scopes(scopes) => list(f, scopes.iter(), |f, scope| write!(f, "{scope}")),
        }
    }
}
