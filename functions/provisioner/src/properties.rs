//! The custom resources' properties, parsed into domain types with the admin API's rules.
//!
//! CloudFormation hands every scalar property over as a string (`Enabled: true` arrives as
//! `"true"`), lists as lists. A property that is unknown, malformed or breaks a rule is a
//! [`Refusal`] naming it, which the provider answers as `FAILED` with that reason before it
//! changes anything.
//!
//! | `Custom::ServiceAccount` | |
//! | --- | --- |
//! | `Organization` | the organization's id (required; changing it replaces the account) |
//! | `Name`, `Description` | as in the admin API |
//! | `Role` | a role (`admin`, `writer`, `reader`) or a list of roles |
//! | `Grants` | a list of `<resource>:<level>` (`brain-42:read`) |
//! | `Scopes` | a list of scopes (roles or grants, as a token's), added to `Role` and `Grants` |
//! | `IpAllowlist` | a list of CIDRs |
//! | `Enabled` | `true` (default) or `false` |
//!
//! | `Custom::ServiceToken` | |
//! | --- | --- |
//! | `Organization`, `ServiceAccount` | whose token (the account's id: `!Ref` of its resource) |
//! | `Name`, `Description` | as in the admin API |
//! | `Lifetime` | `1h`, `1d`, `30d`, `90d`, `1y`, `2y`, `5y` or `never` (default: the policy's) |
//! | `Scopes` | a list of scopes, within what the account holds |
//! | `SecretName` or `SecretArn` | the secret to create (and delete with the resource), or an existing one to write to |
//! | `KmsKeyId` | the key a created secret is encrypted with (default: `aws/secretsmanager`) |

use serde_json::{Map, Value};
use shared::access::{Grant, Grants, IpAllowlist, Role, Roles, Scope, Scopes};
use shared::iac::CLOUDFORMATION_PROPERTIES;
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::NewServiceAccount;
use shared::policy::{LifetimePreset, TokenLifetime};
use shared::text::{Description, DisplayName};

/// Why a request is refused: the reason CloudFormation shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl Refusal {
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }

    fn property(name: &str, reason: impl std::fmt::Display) -> Self {
        Self(format!("property {name}: {reason}"))
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A resource's properties, as sent.
struct Props<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Props<'a> {
    /// Refuses a property not in `known` (`ServiceToken` and `ServiceTimeout` are
    /// CloudFormation's own, and ignored).
    fn new(map: &'a Map<String, Value>, known: &[&str]) -> Result<Self, Refusal> {
        if let Some(unknown) = map.keys().find(|key| {
            !CLOUDFORMATION_PROPERTIES.contains(&key.as_str()) && !known.contains(&key.as_str())
        }) {
            let unknown: String = unknown.chars().take(64).collect();
            return Err(Refusal::new(format!(
                "unknown property {unknown:?}; the properties are {}",
                known.join(", ")
            )));
        }
        Ok(Self { map })
    }

    fn text(&self, name: &str) -> Result<Option<&'a str>, Refusal> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(Refusal::property(name, "must be a string")),
        }
    }

    fn required(&self, name: &str) -> Result<&'a str, Refusal> {
        self.text(name)?
            .ok_or_else(|| Refusal::property(name, "is required"))
    }

    /// A list of strings (a lone string is a list of one).
    fn list(&self, name: &str) -> Result<Vec<&'a str>, Refusal> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(text)) => Ok(vec![text]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .ok_or_else(|| Refusal::property(name, "must be a list of strings"))
                })
                .collect(),
            Some(_) => Err(Refusal::property(name, "must be a list of strings")),
        }
    }

    fn boolean(&self, name: &str, default: bool) -> Result<bool, Refusal> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(value)) => Ok(*value),
            Some(Value::String(text)) if text == "true" => Ok(true),
            Some(Value::String(text)) if text == "false" => Ok(false),
            Some(_) => Err(Refusal::property(name, "must be true or false")),
        }
    }
}

fn parsed<T, E: std::fmt::Display>(name: &str, result: Result<T, E>) -> Result<T, Refusal> {
    result.map_err(|error| Refusal::property(name, error))
}

fn org(props: &Props<'_>) -> Result<OrgId, Refusal> {
    parsed(
        "Organization",
        OrgId::parse(props.required("Organization")?),
    )
}

fn description(props: &Props<'_>) -> Result<Option<Description>, Refusal> {
    props
        .text("Description")?
        .map(|text| parsed("Description", Description::parse(text)))
        .transpose()
}

fn scopes(props: &Props<'_>) -> Result<Vec<Scope>, Refusal> {
    props
        .list("Scopes")?
        .into_iter()
        .enumerate()
        .map(|(i, scope)| parsed(&format!("Scopes[{i}]"), Scope::parse(scope)))
        .collect()
}

/// `Custom::ServiceAccount`'s properties.
#[derive(Debug, Clone)]
pub struct AccountProperties {
    pub org: OrgId,
    pub fields: NewServiceAccount,
    pub enabled: bool,
}

impl AccountProperties {
    pub const KNOWN: [&'static str; 8] = [
        "Organization",
        "Name",
        "Description",
        "Role",
        "Grants",
        "Scopes",
        "IpAllowlist",
        "Enabled",
    ];

    pub fn parse(map: &Map<String, Value>) -> Result<Self, Refusal> {
        let props = Props::new(map, &Self::KNOWN)?;
        let org = org(&props)?;
        let name = parsed("Name", DisplayName::parse(props.required("Name")?))?;
        let description = description(&props)?;
        let mut roles: Vec<Role> = props
            .list("Role")?
            .into_iter()
            .map(|role| parsed("Role", Role::parse(role)))
            .collect::<Result<_, _>>()?;
        let mut grants: Vec<Grant> = props
            .list("Grants")?
            .into_iter()
            .enumerate()
            .map(|(i, grant)| {
                let name = format!("Grants[{i}]");
                match parsed(&name, Scope::parse(grant))? {
                    Scope::Grant(grant) => Ok(grant),
                    Scope::Role(_) => Err(Refusal::property(
                        &name,
                        "a grant is `<resource>:<level>` (a role goes in Role)",
                    )),
                }
            })
            .collect::<Result<_, _>>()?;
        for scope in scopes(&props)? {
            match scope {
                Scope::Role(role) => roles.push(role),
                Scope::Grant(grant) => grants.push(grant),
            }
        }
        let grants = parsed("Grants", Grants::parse(grants))?;
        let ip_allowlist = parsed(
            "IpAllowlist",
            IpAllowlist::parse(&props.list("IpAllowlist")?),
        )?;
        Ok(Self {
            org,
            fields: NewServiceAccount {
                name,
                description,
                roles: Roles::new(roles),
                grants,
                ip_allowlist,
            },
            enabled: props.boolean("Enabled", true)?,
        })
    }

    /// The organization alone, for a Delete (whose other properties need not be valid).
    pub fn org_of(map: &Map<String, Value>) -> Result<OrgId, Refusal> {
        org(&Props { map })
    }
}

/// Where a token is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretTarget {
    /// A secret the resource creates, and deletes with itself.
    Name(String),
    /// An existing secret the resource writes a version to, and leaves.
    Arn(String),
}

impl SecretTarget {
    /// The secret's id for Secrets Manager's calls.
    pub fn id(&self) -> &str {
        match self {
            Self::Name(id) | Self::Arn(id) => id,
        }
    }

    /// The secret's name (for an ARN, the name in it).
    pub fn name(&self) -> &str {
        match self {
            Self::Name(name) => name,
            Self::Arn(arn) => crate::secrets::name_in_arn(arn).unwrap_or_default(),
        }
    }
}

/// `Custom::ServiceToken`'s properties.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenProperties {
    pub org: OrgId,
    pub account: ServiceAccountId,
    pub name: DisplayName,
    pub description: Option<Description>,
    pub lifetime: Option<TokenLifetime>,
    pub scopes: Scopes,
    pub secret: SecretTarget,
    pub kms_key_id: Option<String>,
}

impl TokenProperties {
    pub const KNOWN: [&'static str; 9] = [
        "Organization",
        "ServiceAccount",
        "Name",
        "Description",
        "Lifetime",
        "Scopes",
        "SecretName",
        "SecretArn",
        "KmsKeyId",
    ];

    /// The properties; secrets must be named under `secret_prefix`.
    pub fn parse(map: &Map<String, Value>, secret_prefix: &str) -> Result<Self, Refusal> {
        let props = Props::new(map, &Self::KNOWN)?;
        let org = org(&props)?;
        let account = parsed(
            "ServiceAccount",
            ServiceAccountId::parse(props.required("ServiceAccount")?),
        )?;
        let name = parsed("Name", DisplayName::parse(props.required("Name")?))?;
        let description = description(&props)?;
        let lifetime = match props.text("Lifetime")? {
            None => None,
            Some("never") => Some(TokenLifetime::NonExpiring),
            Some(preset) => Some(TokenLifetime::Preset(parsed(
                "Lifetime",
                LifetimePreset::parse(preset),
            )?)),
        };
        let scopes = parsed("Scopes", Scopes::parse(scopes(&props)?))?;
        let secret = Self::secret(&props, secret_prefix)?;
        let kms_key_id = props
            .text("KmsKeyId")?
            .map(|key| {
                if key.is_empty() || key.len() > 2048 || key.chars().any(char::is_control) {
                    Err(Refusal::property("KmsKeyId", "a KMS key id, ARN or alias"))
                } else {
                    Ok(key.to_owned())
                }
            })
            .transpose()?;
        Ok(Self {
            org,
            account,
            name,
            description,
            lifetime,
            scopes,
            secret,
            kms_key_id,
        })
    }

    fn secret(props: &Props<'_>, prefix: &str) -> Result<SecretTarget, Refusal> {
        let target = match (props.text("SecretName")?, props.text("SecretArn")?) {
            (Some(name), None) => {
                let valid = !name.is_empty()
                    && name.len() <= 512
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
                if !valid {
                    return Err(Refusal::property(
                        "SecretName",
                        "1 to 512 letters, digits and /_+=.@-",
                    ));
                }
                SecretTarget::Name(name.to_owned())
            }
            (None, Some(arn)) => {
                if crate::secrets::name_in_arn(arn).is_none() {
                    return Err(Refusal::property(
                        "SecretArn",
                        "a Secrets Manager secret's ARN",
                    ));
                }
                SecretTarget::Arn(arn.to_owned())
            }
            _ => {
                return Err(Refusal::new(
                    "give exactly one of the properties SecretName and SecretArn",
                ));
            }
        };
        if !target.name().starts_with(prefix) {
            let which = match target {
                SecretTarget::Name(_) => "SecretName",
                SecretTarget::Arn(_) => "SecretArn",
            };
            return Err(Refusal::property(
                which,
                format!(
                    "the secret's name must start with {prefix:?} (this deployment's SecretNamePrefix)"
                ),
            ));
        }
        Ok(target)
    }

    /// What identifies the resource for a Delete: the organization, the account and the
    /// secret (the other properties need not be valid).
    pub fn parse_for_delete(
        map: &Map<String, Value>,
        secret_prefix: &str,
    ) -> Result<(OrgId, ServiceAccountId, SecretTarget), Refusal> {
        let props = Props { map };
        Ok((
            org(&props)?,
            parsed(
                "ServiceAccount",
                ServiceAccountId::parse(props.required("ServiceAccount")?),
            )?,
            Self::secret(&props, secret_prefix)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn account_properties_arrive_as_cloudformation_sends_them() {
        let parsed = AccountProperties::parse(&map(json!({
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:provider",
            "Organization": "acme",
            "Name": "deployer",
            "Role": "writer",
            "Grants": ["brain-1:read"],
            "Scopes": ["reader", "brain-2:owner"],
            "Enabled": "false"
        })))
        .unwrap();
        assert_eq!(parsed.org.as_str(), "acme");
        assert!(!parsed.enabled);
        assert_eq!(
            parsed.fields.roles,
            Roles::new([Role::Writer, Role::Reader])
        );
        assert_eq!(parsed.fields.grants.iter().count(), 2);
        for (bad, says) in [
            (
                json!({"Organization": "acme", "Name": "x", "Role": "root"}),
                "property Role: a role is one of",
            ),
            (
                json!({"Organization": "acme", "Name": "x", "Grants": ["brain-1:superuser"]}),
                "property Grants[0]: an access level is one of",
            ),
            (
                json!({"Organization": "acme", "Name": "x", "Grants": ["admin"]}),
                "property Grants[0]: a grant is",
            ),
            (
                json!({"Organization": "acme"}),
                "property Name: is required",
            ),
            (
                json!({"Organization": "acme", "Name": "x", "Enabled": "yes"}),
                "property Enabled",
            ),
            (
                json!({"Organization": "acme", "Name": "x", "Colour": "red"}),
                "unknown property \"Colour\"",
            ),
        ] {
            let refusal = AccountProperties::parse(&map(bad)).unwrap_err();
            assert!(refusal.0.starts_with(says), "{refusal}");
        }
    }

    #[test]
    fn token_properties_name_one_secret_under_the_prefix() {
        let base = json!({
            "Organization": "acme",
            "ServiceAccount": "0123456789abcdef",
            "Name": "ci",
            "Lifetime": "90d",
            "Scopes": ["reader"],
            "SecretName": "service-accounts/ci"
        });
        let parsed = TokenProperties::parse(&map(base.clone()), "service-accounts/").unwrap();
        assert_eq!(
            parsed.secret,
            SecretTarget::Name("service-accounts/ci".into())
        );
        assert_eq!(
            parsed.lifetime,
            Some(TokenLifetime::Preset(LifetimePreset::NinetyDays))
        );
        let with = |key: &str, value: Value| {
            let mut props = map(base.clone());
            props.insert(key.into(), value);
            TokenProperties::parse(&props, "service-accounts/")
                .unwrap_err()
                .0
        };
        assert!(with("SecretName", json!("other/ci")).contains("must start with"));
        assert!(
            with(
                "SecretArn",
                json!(
                    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:service-accounts/x-abcdef"
                )
            )
            .contains("exactly one")
        );
        assert!(with("Lifetime", json!("7d")).starts_with("property Lifetime"));
        assert!(with("Scopes", json!(["brain:fly"])).starts_with("property Scopes[0]"));
    }
}
