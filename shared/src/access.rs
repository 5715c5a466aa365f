//! What a service account may do: roles, per-resource grants, token scopes, IP allowlists.
//!
//! Roles are ordered (`admin` ⊇ `writer` ⊇ `reader`), and so are access levels on a resource
//! (`owner` ⊇ `write` ⊇ `read`). A token's scopes can only narrow what its account holds:
//! [`Scopes::ensure_within`] is the check made when a token is minted.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::ParseError;

/// An organization-level role. The derived order is the privilege order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Reader,
    Writer,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Reader, Role::Writer, Role::Admin];

    pub fn parse(value: &str) -> Result<Self, ParseError> {
        match value {
            "reader" => Ok(Self::Reader),
            "writer" => Ok(Self::Writer),
            "admin" => Ok(Self::Admin),
            _ => Err(ParseError::new(
                "a role is one of `admin`, `writer`, `reader`",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reader => "reader",
            Self::Writer => "writer",
            Self::Admin => "admin",
        }
    }
}

/// An access level on one resource. The derived order is the privilege order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessLevel {
    Read,
    Write,
    Owner,
}

impl AccessLevel {
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        match value {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            "owner" => Ok(Self::Owner),
            _ => Err(ParseError::new(
                "an access level is one of `read`, `write`, `owner`",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Owner => "owner",
        }
    }
}

/// The name of a resource a grant applies to, such as `brain-42` or `projects/alpha`:
/// 1–128 characters of letters, digits, `.`, `_`, `/` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceName(String);

impl ResourceName {
    pub const MAX_LEN: usize = 128;

    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let allowed = |byte: u8| byte.is_ascii_alphanumeric() || b"._/-".contains(&byte);
        if value.is_empty() || value.len() > Self::MAX_LEN || !value.bytes().all(allowed) {
            return Err(ParseError::new(
                "a resource name has 1 to 128 letters, digits, `.`, `_`, `/` or `-`",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ResourceName {
    type Error = ParseError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ResourceName> for String {
    fn from(value: ResourceName) -> Self {
        value.0
    }
}

/// Access to one resource at one level, as Aiqbee grants a service account access to a brain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub resource: ResourceName,
    pub level: AccessLevel,
}

/// The grants of one account: at most one per resource, at most [`Grants::MAX`], kept sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Grant>", into = "Vec<Grant>")]
pub struct Grants(Vec<Grant>);

impl Grants {
    pub const MAX: usize = 100;

    pub fn parse(mut grants: Vec<Grant>) -> Result<Self, ParseError> {
        if grants.len() > Self::MAX {
            return Err(ParseError::new(format!(
                "an account has at most {} grants",
                Self::MAX
            )));
        }
        grants.sort();
        if grants
            .windows(2)
            .any(|pair| pair[0].resource == pair[1].resource)
        {
            return Err(ParseError::new(
                "each resource may appear in only one grant",
            ));
        }
        Ok(Self(grants))
    }

    /// The level granted on `resource`, if any.
    pub fn level_on(&self, resource: &ResourceName) -> Option<AccessLevel> {
        self.0
            .iter()
            .find(|grant| &grant.resource == resource)
            .map(|grant| grant.level)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Grant> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<Grant>> for Grants {
    type Error = ParseError;

    fn try_from(value: Vec<Grant>) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<Grants> for Vec<Grant> {
    fn from(value: Grants) -> Self {
        value.0
    }
}

/// One scope of a token: a role (`reader`) or a grant written `<resource>:<level>`
/// (`brain-42:read`). A token with scopes can do only what its scopes allow *and* its account
/// allows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    Role(Role),
    Grant(Grant),
}

impl Scope {
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        match value.rsplit_once(':') {
            None => Role::parse(value).map(Self::Role).map_err(|_| {
                ParseError::new(
                    "a scope is a role (`admin`, `writer`, `reader`) or `<resource>:<level>`",
                )
            }),
            Some((resource, level)) => Ok(Self::Grant(Grant {
                resource: ResourceName::parse(resource)?,
                level: AccessLevel::parse(level)?,
            })),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Role(role) => f.write_str(role.as_str()),
            Self::Grant(grant) => write!(f, "{}:{}", grant.resource.as_str(), grant.level.as_str()),
        }
    }
}

impl TryFrom<String> for Scope {
    type Error = ParseError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Scope> for String {
    fn from(value: Scope) -> Self {
        value.to_string()
    }
}

/// The scopes of a token. Empty means "everything the owner may do".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Scope>", into = "Vec<Scope>")]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    pub const MAX: usize = 50;

    pub fn parse(scopes: Vec<Scope>) -> Result<Self, ParseError> {
        if scopes.len() > Self::MAX {
            return Err(ParseError::new(format!(
                "a token has at most {} scopes",
                Self::MAX
            )));
        }
        Ok(Self(scopes.into_iter().collect()))
    }

    /// Refuses scopes that would widen what the account holds: every role scope needs an
    /// account role at least as strong, every grant scope an account grant on that resource at
    /// least as strong.
    pub fn ensure_within(&self, roles: &Roles, grants: &Grants) -> Result<(), ParseError> {
        for scope in &self.0 {
            let held = match scope {
                Scope::Role(wanted) => roles.iter().any(|role| role >= wanted),
                Scope::Grant(wanted) => grants
                    .level_on(&wanted.resource)
                    .is_some_and(|level| level >= wanted.level),
            };
            if !held {
                return Err(ParseError::new(format!(
                    "scope `{scope}` is wider than what the service account holds"
                )));
            }
        }
        Ok(())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<Scope>> for Scopes {
    type Error = ParseError;

    fn try_from(value: Vec<Scope>) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<Scopes> for Vec<Scope> {
    fn from(value: Scopes) -> Self {
        value.0.into_iter().collect()
    }
}

/// The roles of a service account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Roles(BTreeSet<Role>);

impl Roles {
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        Self(roles.into_iter().collect())
    }

    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    /// Whether any role is at least `role` (an admin is also a writer and a reader).
    pub fn at_least(&self, role: Role) -> bool {
        self.0.iter().any(|held| *held >= role)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Role> {
        self.0.iter()
    }
}

/// The networks a caller may come from (CIDR ranges, IPv4 and IPv6). Empty allows any address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct IpAllowlist(Vec<IpNet>);

impl IpAllowlist {
    pub const MAX: usize = 50;

    /// Parses CIDR ranges; a bare address means that one address. A range with host bits set
    /// (`10.0.0.1/8`) is refused rather than silently widened or narrowed.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, ParseError> {
        if entries.len() > Self::MAX {
            return Err(ParseError::new(format!(
                "an IP allowlist has at most {} entries",
                Self::MAX
            )));
        }
        let mut networks = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let entry = entry.as_ref();
            // The entry is not echoed: whatever was pasted here (a token, say) stays out of
            // error messages and logs.
            let network = match IpNet::from_str(entry) {
                Ok(network) => network,
                // Counted from 1, as people count lines: the field's path stays the list's.
                Err(_) => IpAddr::from_str(entry).map(IpNet::from).map_err(|_| {
                    ParseError::new(format!(
                        "entry {} is not an IP address or CIDR range",
                        index + 1
                    ))
                })?,
            };
            if network.trunc() != network {
                return Err(ParseError::new(format!(
                    "`{network}` has host bits set; the range is `{}`",
                    network.trunc()
                )));
            }
            networks.push(network);
        }
        networks.sort();
        networks.dedup();
        Ok(Self(networks))
    }

    /// Whether `address` may call. An empty list allows everyone; an IPv4-mapped IPv6
    /// address is checked as the IPv4 address it carries.
    pub fn allows(&self, address: IpAddr) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|network| network.contains(&address))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &IpNet> {
        self.0.iter()
    }
}

impl TryFrom<Vec<String>> for IpAllowlist {
    type Error = ParseError;

    fn try_from(value: Vec<String>) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<IpAllowlist> for Vec<String> {
    fn from(value: IpAllowlist) -> Self {
        value.0.iter().map(ToString::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(resource: &str, level: AccessLevel) -> Grant {
        Grant {
            resource: ResourceName::parse(resource).unwrap(),
            level,
        }
    }

    #[test]
    fn roles_and_levels_are_ordered_by_privilege() {
        assert!(Role::Admin > Role::Writer && Role::Writer > Role::Reader);
        assert!(AccessLevel::Owner > AccessLevel::Write && AccessLevel::Write > AccessLevel::Read);
        assert!(Roles::new([Role::Admin]).at_least(Role::Reader));
        assert!(!Roles::new([Role::Reader]).at_least(Role::Writer));
    }

    #[test]
    fn scopes_parse_roles_and_grants_and_print_back() {
        for text in [
            "admin",
            "writer",
            "reader",
            "brain-42:read",
            "projects/alpha:owner",
        ] {
            assert_eq!(Scope::parse(text).unwrap().to_string(), text);
        }
        for text in [
            "",
            "superuser",
            "brain:",
            ":read",
            "brain:delete",
            "a b:read",
        ] {
            assert!(Scope::parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn scopes_may_narrow_but_never_widen() {
        let roles = Roles::new([Role::Writer]);
        let grants = Grants::parse(vec![grant("brain-1", AccessLevel::Write)]).unwrap();
        let ok = |texts: &[&str]| {
            let scopes = texts.iter().map(|t| Scope::parse(t).unwrap()).collect();
            Scopes::parse(scopes)
                .unwrap()
                .ensure_within(&roles, &grants)
        };
        assert!(ok(&[]).is_ok());
        assert!(ok(&["reader", "writer", "brain-1:read", "brain-1:write"]).is_ok());
        assert!(ok(&["admin"]).is_err());
        assert!(ok(&["brain-1:owner"]).is_err());
        assert!(ok(&["brain-2:read"]).is_err());
    }

    #[test]
    fn grants_are_unique_per_resource() {
        let duplicate = vec![
            grant("brain-1", AccessLevel::Read),
            grant("brain-1", AccessLevel::Owner),
        ];
        assert!(Grants::parse(duplicate).is_err());
        let too_many = (0..=Grants::MAX)
            .map(|i| grant(&format!("r{i}"), AccessLevel::Read))
            .collect();
        assert!(Grants::parse(too_many).is_err());
    }

    #[test]
    fn allowlists_match_ipv4_and_ipv6_ranges() {
        let list = IpAllowlist::parse(&["10.0.0.0/8", "203.0.113.7", "2001:db8::/32"]).unwrap();
        let allows = |ip: &str| list.allows(ip.parse().unwrap());
        assert!(allows("10.1.2.3"));
        assert!(allows("203.0.113.7"));
        assert!(!allows("203.0.113.8"));
        assert!(allows("2001:db8:1::1"));
        assert!(!allows("2001:db9::1"));
        assert!(
            allows("::ffff:10.9.9.9"),
            "IPv4-mapped IPv6 is checked as IPv4"
        );
        assert!(!allows("192.168.0.1"));
        assert!(IpAllowlist::default().allows("192.168.0.1".parse().unwrap()));
    }

    #[test]
    fn allowlists_refuse_malformed_and_ambiguous_entries() {
        assert!(IpAllowlist::parse(&["10.0.0.1/8"]).is_err());
        assert!(IpAllowlist::parse(&["10.0.0.0/33"]).is_err());
        assert!(IpAllowlist::parse(&["example.com"]).is_err());
        assert!(IpAllowlist::parse(&[""]).is_err());
        let pasted = "svc_not_an_address_0123456789";
        let error = IpAllowlist::parse(&["10.0.0.0/8", pasted]).unwrap_err();
        assert_eq!(
            error.reason(),
            "entry 2 is not an IP address or CIDR range",
            "the second entry, counted from 1"
        );
        let many: Vec<String> = (0..=IpAllowlist::MAX)
            .map(|i| format!("10.0.{i}.0/24"))
            .collect();
        assert!(IpAllowlist::parse(&many).is_err());
    }
}
