//! The organization's request body and view: `GET` and `PATCH /v1/orgs/{org}`.

use admin_api::problem::{ApiError, FieldError};
use admin_api::response::ActorView;
use serde::{Deserialize, Serialize};
use shared::access::IpAllowlist;
use shared::iac::{AwsAccountId, IacAccess, IacPrincipal};
use shared::model::{OrgStatus, Organization};
use shared::people::{DisplayClaim, IdentityProvider, Issuer, RoleMapping};
use shared::policy::{ExpiryWarningDays, LifetimePreset, LineageDays, TokenPolicy, UnusedDays};
use shared::text::DisplayName;
use time::OffsetDateTime;
use usecases::orgs::OrgChanges;

use super::{check, not_null, present};

/// `PATCH /v1/orgs/{org}`: fields present are replaced; the policy's fields one by one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchOrg {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    token_policy: Option<PatchPolicy>,
    /// The whole list of the organization's identity providers (an empty list removes them).
    #[serde(default, deserialize_with = "not_null")]
    identity_providers: Option<Vec<ProviderBody>>,
    /// The whole list of AWS accounts (and stack-name prefixes) whose CloudFormation may
    /// manage the organization as code (an empty list allows none).
    #[serde(default, deserialize_with = "not_null")]
    iac_access: Option<Vec<IacBody>>,
}

/// One AWS account allowed to manage the organization as code, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IacBody {
    account: String,
    #[serde(default, deserialize_with = "not_null")]
    stack_prefix: Option<String>,
}

fn iac_access(errors: &mut Vec<FieldError>, bodies: &[IacBody]) -> Option<IacAccess> {
    let mut principals = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        let account = check(
            errors,
            &format!("iacAccess[{i}].account"),
            AwsAccountId::parse(&body.account),
        );
        if let Some(account) = account
            && let Some(principal) = check(
                errors,
                &format!("iacAccess[{i}].stackPrefix"),
                IacPrincipal::new(account, body.stack_prefix.as_deref()),
            )
        {
            principals.push(principal);
        }
    }
    check(errors, "iacAccess", IacAccess::new(principals))
}

/// One identity provider, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProviderBody {
    issuer: String,
    audiences: Vec<String>,
    #[serde(default, deserialize_with = "not_null")]
    display_claim: Option<DisplayClaim>,
    roles: RolesBody,
    #[serde(default, deserialize_with = "not_null")]
    console_client_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RolesBody {
    #[serde(default, deserialize_with = "not_null")]
    claim: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    admin: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    auditor: Option<Vec<String>>,
}

/// At most this many identity providers per organization.
const MAX_PROVIDERS: usize = 5;
/// At most this many audiences per provider, each of 1 to 256 characters.
const MAX_AUDIENCES: usize = 10;

fn providers(
    errors: &mut Vec<FieldError>,
    bodies: &[ProviderBody],
) -> Option<Vec<IdentityProvider>> {
    if bodies.len() > MAX_PROVIDERS {
        errors.push(FieldError::new(
            "identityProviders",
            "at most 5 identity providers",
        ));
        return None;
    }
    let mut providers = Vec::with_capacity(bodies.len());
    for (i, body) in bodies.iter().enumerate() {
        let field = |name: &str| format!("identityProviders[{i}].{name}");
        let issuer = check(errors, &field("issuer"), Issuer::parse(&body.issuer));
        if issuer.as_ref().is_some_and(|issuer| {
            providers
                .iter()
                .any(|p: &IdentityProvider| p.issuer == *issuer)
        }) {
            errors.push(FieldError::new(field("issuer"), "each issuer at most once"));
        }
        let audiences_ok = !body.audiences.is_empty()
            && body.audiences.len() <= MAX_AUDIENCES
            && body
                .audiences
                .iter()
                .all(|a| !a.is_empty() && a.len() <= 256 && !a.chars().any(char::is_control));
        if !audiences_ok {
            errors.push(FieldError::new(
                field("audiences"),
                "1 to 10 audiences (client ids), each of 1 to 256 characters",
            ));
        }
        let roles = check(
            errors,
            &field("roles"),
            RoleMapping::new(
                body.roles.claim.as_deref().unwrap_or("groups"),
                body.roles.admin.clone().unwrap_or_default(),
                body.roles.auditor.clone().unwrap_or_default(),
            ),
        );
        let console_ok = body
            .console_client_id
            .as_ref()
            .is_none_or(|client| body.audiences.contains(client));
        if !console_ok {
            errors.push(FieldError::new(
                field("consoleClientId"),
                "one of the provider's audiences",
            ));
        }
        if let (Some(issuer), true, Some(roles), true) = (issuer, audiences_ok, roles, console_ok) {
            providers.push(IdentityProvider {
                issuer,
                audiences: body.audiences.clone(),
                display_claim: body.display_claim.unwrap_or(DisplayClaim::Email),
                roles,
                console_client_id: body.console_client_id.clone(),
            });
        }
    }
    Some(providers)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PatchPolicy {
    #[serde(default, deserialize_with = "not_null")]
    default_lifetime: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    max_lifetime: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    allow_non_expiring: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    ip_allowlist: Option<Vec<String>>,
    #[serde(default, deserialize_with = "not_null")]
    allow_self_rotation: Option<bool>,
    /// The whole list of warning windows (an empty list turns the warnings off).
    #[serde(default, deserialize_with = "not_null")]
    expiry_warning_days: Option<Vec<serde_json::Number>>,
    /// `null` turns the retirement of unused tokens off.
    #[serde(default, deserialize_with = "present")]
    revoke_unused_after_days: Option<Option<serde_json::Number>>,
    /// `null`: a self-rotated token keeps the expiry of the token it replaces.
    #[serde(default, deserialize_with = "present")]
    max_lineage_age_days: Option<Option<serde_json::Number>>,
}

/// `maxLineageAgeDays` as patched (`None`: a field error was recorded).
fn lineage_age(
    errors: &mut Vec<FieldError>,
    patch: &PatchPolicy,
    current: &TokenPolicy,
) -> Option<Option<LineageDays>> {
    match &patch.max_lineage_age_days {
        None => Some(current.max_lineage_age_days()),
        Some(None) => Some(None),
        Some(Some(days)) => check(
            errors,
            "tokenPolicy.maxLineageAgeDays",
            LineageDays::parse(whole(days).unwrap_or(0)),
        )
        .map(Some),
    }
}

/// A JSON number that is a whole number (`14.0` is 14, as in JSON Schema), else `None`.
fn whole(number: &serde_json::Number) -> Option<i64> {
    number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|value| value.fract() == 0.0 && value.abs() < 9.0e15)
            .map(|value| value as i64)
    })
}

fn lifecycle(
    errors: &mut Vec<FieldError>,
    patch: &PatchPolicy,
    current: &TokenPolicy,
) -> Option<(ExpiryWarningDays, Option<UnusedDays>)> {
    let windows = match &patch.expiry_warning_days {
        None => Some(current.expiry_warning_days().clone()),
        Some(days) => {
            let days: Option<Vec<i64>> = days.iter().map(whole).collect();
            let parsed = days.ok_or_else(|| {
                shared::ParseError::new("whole numbers of days, each from 1 to 365")
            });
            check(
                errors,
                "tokenPolicy.expiryWarningDays",
                parsed.and_then(|days| ExpiryWarningDays::parse(&days)),
            )
        }
    };
    let unused = match &patch.revoke_unused_after_days {
        None => Some(current.revoke_unused_after_days()),
        Some(None) => Some(None),
        Some(Some(days)) => check(
            errors,
            "tokenPolicy.revokeUnusedAfterDays",
            UnusedDays::parse(whole(days).unwrap_or(0)),
        )
        .map(Some),
    };
    windows.zip(unused)
}

impl PatchOrg {
    pub fn validate(self, current: &TokenPolicy) -> Result<OrgChanges, ApiError> {
        let mut errors = Vec::new();
        let name = self
            .name
            .as_deref()
            .and_then(|name| check(&mut errors, "name", DisplayName::parse(name)));
        let token_policy = match &self.token_policy {
            None => None,
            Some(patch) => {
                let preset = |errors: &mut Vec<FieldError>,
                              field: &str,
                              value: &Option<String>,
                              now: LifetimePreset| {
                    match value {
                        None => Some(now),
                        Some(text) => check(errors, field, LifetimePreset::parse(text)),
                    }
                };
                let default = preset(
                    &mut errors,
                    "tokenPolicy.defaultLifetime",
                    &patch.default_lifetime,
                    current.default_lifetime(),
                );
                let max = preset(
                    &mut errors,
                    "tokenPolicy.maxLifetime",
                    &patch.max_lifetime,
                    current.max_lifetime(),
                );
                let allowlist = match &patch.ip_allowlist {
                    None => Some(current.ip_allowlist().clone()),
                    Some(list) => check(
                        &mut errors,
                        "tokenPolicy.ipAllowlist",
                        IpAllowlist::parse(list),
                    ),
                };
                let lifecycle = lifecycle(&mut errors, patch, current).zip(lineage_age(
                    &mut errors,
                    patch,
                    current,
                ));
                match (default, max, allowlist, lifecycle) {
                    (Some(default), Some(max), Some(allowlist), Some(((windows, unused), age))) => {
                        check(
                            &mut errors,
                            "tokenPolicy.defaultLifetime",
                            TokenPolicy::new(
                                default,
                                max,
                                patch
                                    .allow_non_expiring
                                    .unwrap_or(current.allow_non_expiring()),
                                allowlist,
                            ),
                        )
                        .map(|policy| {
                            policy
                                .with_self_rotation(
                                    patch
                                        .allow_self_rotation
                                        .unwrap_or(current.allow_self_rotation()),
                                )
                                .with_lifecycle(windows, unused)
                                .with_max_lineage_age(age)
                        })
                    }
                    _ => None,
                }
            }
        };
        let identity_providers = self
            .identity_providers
            .as_deref()
            .and_then(|bodies| providers(&mut errors, bodies));
        let iac_access = self
            .iac_access
            .as_deref()
            .and_then(|bodies| iac_access(&mut errors, bodies));
        if self.name.is_none()
            && self.token_policy.is_none()
            && self.identity_providers.is_none()
            && self.iac_access.is_none()
        {
            errors.push(FieldError::new(
                "body",
                "names no field to change (name, tokenPolicy, identityProviders, iacAccess)",
            ));
        }
        if errors.is_empty() {
            Ok(OrgChanges {
                name,
                token_policy,
                identity_providers,
                iac_access,
            })
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// An organization, as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgView {
    id: String,
    name: String,
    status: OrgStatus,
    token_policy: PolicyView,
    identity_providers: Vec<IdentityProvider>,
    iac_access: Vec<IacPrincipal>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    created_by: ActorView,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    updated_by: ActorView,
    version: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyView {
    default_lifetime: LifetimePreset,
    max_lifetime: LifetimePreset,
    allow_non_expiring: bool,
    ip_allowlist: Vec<String>,
    allow_self_rotation: bool,
    expiry_warning_days: Vec<u16>,
    revoke_unused_after_days: Option<u16>,
    max_lineage_age_days: Option<u16>,
}

impl From<&Organization> for OrgView {
    fn from(org: &Organization) -> Self {
        let policy = &org.token_policy;
        Self {
            id: org.id.to_string(),
            name: org.name.to_string(),
            status: org.status,
            token_policy: PolicyView {
                default_lifetime: policy.default_lifetime(),
                max_lifetime: policy.max_lifetime(),
                allow_non_expiring: policy.allow_non_expiring(),
                ip_allowlist: policy
                    .ip_allowlist()
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                allow_self_rotation: policy.allow_self_rotation(),
                expiry_warning_days: policy.expiry_warning_days().days().to_vec(),
                revoke_unused_after_days: policy.revoke_unused_after_days().map(UnusedDays::days),
                max_lineage_age_days: policy.max_lineage_age_days().map(LineageDays::days),
            },
            identity_providers: org.identity_providers.clone(),
            iac_access: org.iac_access.principals().to_vec(),
            created_at: org.created_at,
            created_by: ActorView::from(&org.created_by),
            updated_at: org.updated_at,
            updated_by: ActorView::from(&org.updated_by),
            version: org.version,
        }
    }
}
