//! The organization's identity providers, as `PATCH /v1/orgs/{org}` sends them: the issuers
//! whose people may use the admin API and the console, and how their claims map to roles.

use admin_api::problem::FieldError;
use serde::Deserialize;
use shared::people::{DisplayClaim, IdentityProvider, Issuer, RoleMapping};

use crate::dto::{check, not_null};

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

pub(super) fn providers(
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
