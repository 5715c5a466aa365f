//! People who administer an organization by signing in with its identity provider: how a
//! provider is configured (issuer, audiences, the claim that names the person, and the role
//! mapping), and what a verified token's claims make of its bearer in the organization.
//!
//! Verification itself (signatures, keys, times) is the `oidc` crate's; this is the policy.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ParseError;

/// What a person may do in an organization: an `admin` everything an admin token may, an
/// `auditor` read accounts, token metadata and the audit trail, and change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PersonRole {
    Auditor,
    Admin,
}

/// The claim that names the person in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisplayClaim {
    Email,
    Name,
    PreferredUsername,
}

impl DisplayClaim {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Name => "name",
            Self::PreferredUsername => "preferred_username",
        }
    }
}

/// An issuer URL, compared exactly as tokens' `iss` states it: `https` with a host and no
/// query or fragment, or `http` to this machine (a local provider).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Issuer(String);

impl Issuer {
    pub const MAX_LEN: usize = 512;

    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let refuse = |why: &str| Err(ParseError::new(why));
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return refuse("must be an URL of 1 to 512 characters");
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return refuse("must not contain spaces or control characters");
        }
        if value.contains('?') || value.contains('#') {
            return refuse("must not have a query or a fragment");
        }
        let (scheme, rest) = value
            .split_once("://")
            .map_or((None, value), |(scheme, rest)| (Some(scheme), rest));
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        let host = if rest.starts_with('[') {
            rest.split(']')
                .next()
                .unwrap_or_default()
                .trim_start_matches('[')
        } else {
            host
        };
        if host.is_empty() {
            return refuse("must name a host");
        }
        match scheme {
            Some("https") => Ok(Self(value.to_owned())),
            Some("http") if is_this_machine(host) => Ok(Self(value.to_owned())),
            _ => refuse("must be an https URL (http only for localhost)"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_this_machine(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl TryFrom<String> for Issuer {
    type Error = ParseError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Issuer> for String {
    fn from(issuer: Issuer) -> Self {
        issuer.0
    }
}

/// Which values of which claim make a person this organization's `admin` or `auditor`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleMapping {
    /// The claim read (typically `groups`): a string or an array of strings.
    pub claim: String,
    #[serde(default)]
    pub admin: Vec<String>,
    #[serde(default)]
    pub auditor: Vec<String>,
}

impl RoleMapping {
    pub const MAX_VALUES: usize = 50;
    pub const MAX_VALUE_LEN: usize = 256;

    /// The mapping, if it is one: a claim name of 1–64 visible characters, at least one value
    /// in all, at most [`Self::MAX_VALUES`] per role, each 1–256 characters.
    pub fn new(claim: &str, admin: Vec<String>, auditor: Vec<String>) -> Result<Self, ParseError> {
        if claim.is_empty() || claim.len() > 64 || !claim.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ParseError::new(
                "the claim must be 1 to 64 visible ASCII characters",
            ));
        }
        for values in [&admin, &auditor] {
            if values.len() > Self::MAX_VALUES {
                return Err(ParseError::new("at most 50 values per role"));
            }
            if values
                .iter()
                .any(|v| v.is_empty() || v.len() > Self::MAX_VALUE_LEN)
            {
                return Err(ParseError::new("each value must be 1 to 256 characters"));
            }
        }
        if admin.is_empty() && auditor.is_empty() {
            return Err(ParseError::new("map at least one value to a role"));
        }
        Ok(Self {
            claim: claim.to_owned(),
            admin,
            auditor,
        })
    }

    /// The role `claims` give their bearer: `admin` if any value of the claim is an admin
    /// value, else `auditor` if any is an auditor value, else none. Values are compared
    /// exactly; a claim of another type than a string or an array of strings gives none.
    pub fn role_of(&self, claims: &Map<String, Value>) -> Option<PersonRole> {
        let values: Vec<&str> = match claims.get(&self.claim) {
            Some(Value::String(value)) => vec![value.as_str()],
            Some(Value::Array(values)) => values.iter().filter_map(Value::as_str).collect(),
            _ => return None,
        };
        let has = |wanted: &[String]| values.iter().any(|v| wanted.iter().any(|w| w == v));
        if has(&self.admin) {
            Some(PersonRole::Admin)
        } else if has(&self.auditor) {
            Some(PersonRole::Auditor)
        } else {
            None
        }
    }
}

/// One identity provider of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityProvider {
    pub issuer: Issuer,
    /// The accepted audiences (client ids): 1 to 10.
    pub audiences: Vec<String>,
    pub display_claim: DisplayClaim,
    pub roles: RoleMapping,
    /// The client id the console signs people in as (authorization code flow with PKCE, a
    /// public client): one of `audiences`. `None`: no console sign-in with this provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_client_id: Option<String>,
}

impl IdentityProvider {
    /// The audiences a `Bearer` credential of this provider may name: all but the console's
    /// client, whose tokens are ID tokens for the console's sign-in alone.
    pub fn api_audiences(&self) -> Vec<String> {
        self.audiences
            .iter()
            .filter(|audience| Some(audience.as_str()) != self.console_client_id.as_deref())
            .cloned()
            .collect()
    }

    /// How a verified token of this provider names its bearer: the display claim, else the
    /// subject.
    pub fn display_name(&self, subject: &str, claims: &Map<String, Value>) -> String {
        match claims.get(self.display_claim.as_str()) {
            Some(Value::String(display)) if !display.is_empty() => {
                display.chars().take(256).collect()
            }
            _ => subject.chars().take(256).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn issuers_are_https_urls_or_local_http() {
        for ok in [
            "https://login.microsoftonline.com/tenant/v2.0",
            "https://acme.okta.com",
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc",
            "http://localhost:4010",
            "http://127.0.0.1:4010",
            "http://[::1]:4010/realm",
        ] {
            assert!(Issuer::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "acme.okta.com",
            "http://acme.okta.com",
            "https://",
            "https://acme.okta.com?x=1",
            "https://acme.okta.com#f",
            "https://acme okta.com",
            "ftp://localhost",
            "javascript://localhost",
        ] {
            assert!(Issuer::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Issuer::parse(&format!("https://a.com/{}", "x".repeat(600))).is_err());
    }

    #[test]
    fn the_mapping_makes_admins_auditors_or_nobody() {
        let mapping = RoleMapping::new(
            "groups",
            vec!["sa-admins".into()],
            vec!["sa-auditors".into(), "security".into()],
        )
        .unwrap();
        let role = |value: Value| mapping.role_of(&claims(value));
        assert_eq!(
            role(json!({"groups": ["x", "sa-admins"]})),
            Some(PersonRole::Admin)
        );
        assert_eq!(
            role(json!({"groups": ["security", "sa-admins"]})),
            Some(PersonRole::Admin)
        );
        assert_eq!(
            role(json!({"groups": ["security"]})),
            Some(PersonRole::Auditor)
        );
        assert_eq!(
            role(json!({"groups": "sa-auditors"})),
            Some(PersonRole::Auditor)
        );
        assert_eq!(role(json!({"groups": ["SA-ADMINS", "sa-admins "]})), None);
        assert_eq!(role(json!({"groups": []})), None);
        assert_eq!(role(json!({"groups": {"sa-admins": true}})), None);
        assert_eq!(role(json!({"roles": ["sa-admins"]})), None);
        assert_eq!(role(json!({})), None);
    }

    #[test]
    fn a_mapping_must_map_something_within_bounds() {
        assert!(RoleMapping::new("groups", vec![], vec![]).is_err());
        assert!(RoleMapping::new("", vec!["a".into()], vec![]).is_err());
        assert!(RoleMapping::new("gro ups", vec!["a".into()], vec![]).is_err());
        assert!(RoleMapping::new("groups", vec![String::new()], vec![]).is_err());
        assert!(RoleMapping::new("groups", vec!["a".into(); 51], vec![]).is_err());
        assert!(RoleMapping::new("groups", vec![], vec!["b".into()]).is_ok());
    }

    #[test]
    fn the_consoles_client_is_no_api_audience() {
        let provider = |console: Option<&str>| IdentityProvider {
            console_client_id: console.map(str::to_owned),
            issuer: Issuer::parse("https://acme.okta.com").unwrap(),
            audiences: vec!["api".into(), "console".into()],
            display_claim: DisplayClaim::Email,
            roles: RoleMapping::new("groups", vec!["a".into()], vec![]).unwrap(),
        };
        assert_eq!(provider(None).api_audiences(), ["api", "console"]);
        assert_eq!(provider(Some("console")).api_audiences(), ["api"]);
        let console_only = IdentityProvider {
            audiences: vec!["console".into()],
            ..provider(Some("console"))
        };
        assert!(console_only.api_audiences().is_empty());
    }

    #[test]
    fn the_person_is_named_by_the_display_claim_or_the_subject() {
        let provider = IdentityProvider {
            console_client_id: None,
            issuer: Issuer::parse("https://acme.okta.com").unwrap(),
            audiences: vec!["client".into()],
            display_claim: DisplayClaim::Email,
            roles: RoleMapping::new("groups", vec!["a".into()], vec![]).unwrap(),
        };
        assert_eq!(
            provider.display_name("00u1", &claims(json!({"email": "ada@acme.com"}))),
            "ada@acme.com"
        );
        assert_eq!(
            provider.display_name("00u1", &claims(json!({"email": ""}))),
            "00u1"
        );
        assert_eq!(
            provider.display_name("00u1", &claims(json!({"name": "Ada"}))),
            "00u1"
        );
    }
}
