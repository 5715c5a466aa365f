//! Request bodies and response views. Bodies arrive as plain strings and lists, and are
//! converted to domain types here, once, collecting every invalid field so a client can fix
//! them all in one go.

use admin_api::problem::{ApiError, FieldError};
use admin_api::response::ActorView;
use serde::{Deserialize, Deserializer, Serialize};
use shared::access::{AccessLevel, Grant, Grants, IpAllowlist, ResourceName, Role, Roles};
use shared::model::{AccountStatus, NewServiceAccount, ServiceAccount};
use shared::text::{Description, DisplayName};
use time::OffsetDateTime;
use usecases::Page;
use usecases::accounts::AccountChanges;

mod org;

pub use org::{OrgView, PatchOrg};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    resource: String,
    level: String,
}

/// `POST /v1/orgs/{org}/service-accounts`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateAccount {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    grants: Vec<GrantBody>,
    #[serde(default)]
    ip_allowlist: Vec<String>,
}

impl CreateAccount {
    pub fn validate(self) -> Result<NewServiceAccount, ApiError> {
        let mut errors = Vec::new();
        let name = check(&mut errors, "name", DisplayName::parse(&self.name));
        let description = match self.description.as_deref() {
            None => Some(None),
            Some(text) => check(&mut errors, "description", Description::parse(text)).map(Some),
        };
        let roles = parse_roles(&mut errors, &self.roles);
        let grants = parse_grants(&mut errors, &self.grants);
        let ip_allowlist = check(
            &mut errors,
            "ipAllowlist",
            IpAllowlist::parse(&self.ip_allowlist),
        );
        match (name, description, roles, grants, ip_allowlist) {
            (Some(name), Some(description), Some(roles), Some(grants), Some(ip_allowlist))
                if errors.is_empty() =>
            {
                Ok(NewServiceAccount {
                    name,
                    description,
                    roles,
                    grants,
                    ip_allowlist,
                })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// `PATCH /v1/orgs/{org}/service-accounts/{id}`: fields present are replaced; `description:
/// null` removes the description.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchAccount {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    #[serde(default, deserialize_with = "not_null")]
    roles: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    grants: Option<Vec<GrantBody>>,
    #[serde(default, deserialize_with = "not_null")]
    ip_allowlist: Option<Vec<String>>,
}

impl PatchAccount {
    pub fn validate(self) -> Result<AccountChanges, ApiError> {
        let mut errors = Vec::new();
        let mut changes = AccountChanges::default();
        if let Some(name) = &self.name {
            changes.name = check(&mut errors, "name", DisplayName::parse(name));
        }
        match &self.description {
            None => {}
            Some(None) => changes.description = Some(None),
            Some(Some(text)) => {
                changes.description =
                    check(&mut errors, "description", Description::parse(text)).map(Some);
            }
        }
        if let Some(roles) = &self.roles {
            changes.roles = parse_roles(&mut errors, roles);
        }
        if let Some(grants) = &self.grants {
            changes.grants = parse_grants(&mut errors, grants);
        }
        if let Some(list) = &self.ip_allowlist {
            changes.ip_allowlist = check(&mut errors, "ipAllowlist", IpAllowlist::parse(list));
        }
        let names_a_field = self.name.is_some()
            || self.description.is_some()
            || self.roles.is_some()
            || self.grants.is_some()
            || self.ip_allowlist.is_some();
        if !names_a_field {
            errors.push(FieldError::new(
                "body",
                "names no field to change (name, description, roles, grants, ipAllowlist)",
            ));
        }
        if errors.is_empty() {
            Ok(changes)
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// `POST .../disable`: an optional body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DisableAccount {
    /// Also revoke every token of the account, so that enabling it later does not bring them
    /// back.
    #[serde(default)]
    pub revoke_tokens: bool,
}

/// A field that may be absent (`None`) but not `null`: only `description` can be removed.
pub(crate) fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Distinguishes a field set to `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

pub(crate) fn check<T>(
    errors: &mut Vec<FieldError>,
    field: &str,
    result: Result<T, shared::ParseError>,
) -> Option<T> {
    result
        .map_err(|error| errors.push(FieldError::new(field, error.reason())))
        .ok()
}

fn parse_roles(errors: &mut Vec<FieldError>, roles: &[String]) -> Option<Roles> {
    let before = errors.len();
    let parsed: Vec<Role> = roles
        .iter()
        .enumerate()
        .filter_map(|(i, role)| check(errors, &format!("roles[{i}]"), Role::parse(role)))
        .collect();
    (errors.len() == before).then(|| Roles::new(parsed))
}

fn parse_grants(errors: &mut Vec<FieldError>, grants: &[GrantBody]) -> Option<Grants> {
    let before = errors.len();
    let mut parsed = Vec::new();
    for (i, grant) in grants.iter().enumerate() {
        let resource = check(
            errors,
            &format!("grants[{i}].resource"),
            ResourceName::parse(&grant.resource),
        );
        let level = check(
            errors,
            &format!("grants[{i}].level"),
            AccessLevel::parse(&grant.level),
        );
        if let (Some(resource), Some(level)) = (resource, level) {
            parsed.push(Grant { resource, level });
        }
    }
    if errors.len() != before {
        return None;
    }
    check(errors, "grants", Grants::parse(parsed))
}

/// A service account, as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    id: String,
    org: String,
    name: String,
    description: Option<String>,
    status: AccountStatus,
    roles: Vec<Role>,
    grants: Vec<Grant>,
    ip_allowlist: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    created_by: ActorView,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    updated_by: ActorView,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used_at: Option<OffsetDateTime>,
    version: u64,
}

impl From<&ServiceAccount> for AccountView {
    fn from(account: &ServiceAccount) -> Self {
        Self {
            id: account.id.to_string(),
            org: account.org.to_string(),
            name: account.name.to_string(),
            description: account.description.as_ref().map(ToString::to_string),
            status: account.status,
            roles: account.roles.iter().copied().collect(),
            grants: account.grants.iter().cloned().collect(),
            ip_allowlist: account
                .ip_allowlist
                .iter()
                .map(ToString::to_string)
                .collect(),
            created_at: account.created_at,
            created_by: ActorView::from(&account.created_by),
            updated_at: account.updated_at,
            updated_by: ActorView::from(&account.updated_by),
            last_used_at: account.last_used_at,
            version: account.version,
        }
    }
}

/// A page of service accounts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountList {
    items: Vec<AccountView>,
    next_cursor: Option<String>,
}

impl From<Page<ServiceAccount>> for AccountList {
    fn from(page: Page<ServiceAccount>) -> Self {
        Self {
            items: page.items.iter().map(AccountView::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
}
