//! The organization's token policy: `tokenPolicy` as `PATCH /v1/orgs/{org}` sends it (each
//! field replaced on its own, the others kept from the current policy), and as the API shows it.

use admin_api::problem::FieldError;
use serde::{Deserialize, Serialize};
use shared::access::IpAllowlist;
use shared::policy::{ExpiryWarningDays, LifetimePreset, LineageDays, TokenPolicy, UnusedDays};

use crate::dto::{check, not_null, present};

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

/// The policy as patched: the current one with the fields sent replaced (`None`: a field error
/// was recorded).
pub(super) fn patched_policy(
    errors: &mut Vec<FieldError>,
    patch: &PatchPolicy,
    current: &TokenPolicy,
) -> Option<TokenPolicy> {
    let preset =
        |errors: &mut Vec<FieldError>, field: &str, value: &Option<String>, now: LifetimePreset| {
            match value {
                None => Some(now),
                Some(text) => check(errors, field, LifetimePreset::parse(text)),
            }
        };
    let default = preset(
        errors,
        "tokenPolicy.defaultLifetime",
        &patch.default_lifetime,
        current.default_lifetime(),
    );
    let max = preset(
        errors,
        "tokenPolicy.maxLifetime",
        &patch.max_lifetime,
        current.max_lifetime(),
    );
    let allowlist = match &patch.ip_allowlist {
        None => Some(current.ip_allowlist().clone()),
        Some(list) => check(errors, "tokenPolicy.ipAllowlist", IpAllowlist::parse(list)),
    };
    let lifecycle = lifecycle(errors, patch, current).zip(lineage_age(errors, patch, current));
    match (default, max, allowlist, lifecycle) {
        (Some(default), Some(max), Some(allowlist), Some(((windows, unused), age))) => check(
            errors,
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
        }),
        _ => None,
    }
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

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PolicyView {
    default_lifetime: LifetimePreset,
    max_lifetime: LifetimePreset,
    allow_non_expiring: bool,
    ip_allowlist: Vec<String>,
    allow_self_rotation: bool,
    expiry_warning_days: Vec<u16>,
    revoke_unused_after_days: Option<u16>,
    max_lineage_age_days: Option<u16>,
}

impl From<&TokenPolicy> for PolicyView {
    fn from(policy: &TokenPolicy) -> Self {
        Self {
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
        }
    }
}
