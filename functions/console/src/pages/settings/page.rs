//! The settings page's forms: the organization's name, its token policy, its identity
//! providers, the AWS accounts that may manage it as code. A refused form shows what was sent,
//! with each error next to its field (and named as the field's description).

use admin_api::problem::FieldError;
use maud::{Markup, html};
use shared::people::{DisplayClaim, IdentityProvider};
use shared::policy::LifetimePreset;

use crate::parts::form_errors;
use crate::signin::{Form, Signed};
use crate::views::{csrf_field, described_by, field_errors};

/// The page's forms; after a refused change, with the values sent (`sent`) and the errors
/// next to their fields.
pub fn forms(signed: &Signed, errors: &[FieldError], sent: &Form) -> Markup {
    let org = &signed.org;
    let policy = &org.token_policy;
    let frame = signed.frame();
    let admin = signed.is_admin();
    let csrf = &signed.session.csrf;
    let allowlist = policy
        .ip_allowlist()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let warning_days = policy
        .expiry_warning_days()
        .days()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let unused_days = policy
        .revoke_unused_after_days()
        .map(|days| days.days().to_string())
        .unwrap_or_default();
    let lineage_days = policy
        .max_lineage_age_days()
        .map(|days| days.days().to_string())
        .unwrap_or_default();
    let iac_access = sent.get("iacAccess").map_or_else(
        || {
            org.iac_access
                .principals()
                .iter()
                .map(|principal| match &principal.stack_prefix {
                    Some(prefix) => format!("{} {prefix}", principal.account),
                    None => principal.account.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        },
        str::to_owned,
    );
    let mut providers: Vec<Option<&IdentityProvider>> =
        org.identity_providers.iter().map(Some).collect();
    if admin && providers.len() < 5 {
        providers.push(None);
    }
    // What a field shows: the value sent, when a change was refused, else the stored one.
    let shown = |i: usize, name: &str, stored: String| -> String {
        sent.get(&format!("p{i}.{name}"))
            .map_or(stored, str::to_owned)
    };
    // The policy form's fields: as sent when it was refused, else as stored.
    let policy_sent = sent.get("defaultLifetime").is_some();
    let typed = |name: &str, stored: String| -> String {
        if policy_sent {
            sent.get(name).unwrap_or_default().to_owned()
        } else {
            stored
        }
    };
    let checked = |name: &str, stored: bool| -> bool {
        if policy_sent {
            sent.get(name) == Some("true")
        } else {
            stored
        }
    };
    let lifetime =
        |name: &str, stored: LifetimePreset| -> String { typed(name, stored.as_str().to_owned()) };
    let default_lifetime = lifetime("defaultLifetime", policy.default_lifetime());
    let max_lifetime = lifetime("maxLifetime", policy.max_lifetime());
    let org_name = sent
        .get("name")
        .map_or_else(|| org.name.to_string(), str::to_owned);
    let described = |field: &str| described_by(errors, field);
    html! {
        (form_errors(errors))
        section aria-labelledby="name-heading" {
            h2 id="name-heading" { "Organization" }
            form method="post" action=(frame.org_url("/settings/name")) {
                (csrf_field(csrf))
                input type="hidden" name="version" value=(org.version);
                fieldset disabled[!admin] {
                    legend { "Id " code { (org.id.as_str()) } }
                    div class="field" {
                        label for="org-name" { "Name" }
                        input id="org-name" name="name" required maxlength="100" value=(org_name) aria-describedby=[described("name")];
                        (field_errors(errors, "name"))
                    }
                    @if admin { button type="submit" { "Save the name" } }
                }
            }
        }
        section aria-labelledby="policy-heading" {
            h2 id="policy-heading" { "Token policy" }
            form method="post" action=(frame.org_url("/settings/policy")) {
                (csrf_field(csrf))
                input type="hidden" name="version" value=(org.version);
                fieldset disabled[!admin] {
                    legend { "Lifetimes and rules for every token minted from now on" }
                    div class="field" {
                        label for="defaultLifetime" { "Default lifetime" }
                        select id="defaultLifetime" name="defaultLifetime" aria-describedby=[described("tokenPolicy.defaultLifetime")] {
                            @for preset in LifetimePreset::ALL { option value=(preset.as_str()) selected[preset.as_str() == default_lifetime] { (preset.as_str()) } }
                        }
                        (field_errors(errors, "tokenPolicy.defaultLifetime"))
                    }
                    div class="field" {
                        label for="maxLifetime" { "Maximum lifetime" }
                        select id="maxLifetime" name="maxLifetime" aria-describedby=[described("tokenPolicy.maxLifetime")] {
                            @for preset in LifetimePreset::ALL { option value=(preset.as_str()) selected[preset.as_str() == max_lifetime] { (preset.as_str()) } }
                        }
                        (field_errors(errors, "tokenPolicy.maxLifetime"))
                    }
                    label class="check" { input type="checkbox" name="allowNonExpiring" value="true" checked[checked("allowNonExpiring", policy.allow_non_expiring())]; "Allow tokens that never expire" }
                    label class="check" { input type="checkbox" name="allowSelfRotation" value="true" checked[checked("allowSelfRotation", policy.allow_self_rotation())]; "Let tokens rotate themselves" }
                    div class="field" {
                        label for="maxLineageAgeDays" { "Let a token's own rotations renew it up to this many days after its first token (empty: a rotated token keeps its expiry)" }
                        input id="maxLineageAgeDays" name="maxLineageAgeDays" type="number" min="1" max="3650" value=(typed("maxLineageAgeDays", lineage_days)) aria-describedby=[described("tokenPolicy.maxLineageAgeDays")];
                        (field_errors(errors, "tokenPolicy.maxLineageAgeDays"))
                    }
                    div class="field" {
                        label for="expiryWarningDays" { "Warn before a token expires, days before, comma-separated (for example 14, 3, 1; empty: no warnings)" }
                        input id="expiryWarningDays" name="expiryWarningDays" inputmode="numeric" value=(typed("expiryWarningDays", warning_days)) aria-describedby=[described("tokenPolicy.expiryWarningDays")];
                        (field_errors(errors, "tokenPolicy.expiryWarningDays"))
                    }
                    div class="field" {
                        label for="revokeUnusedAfterDays" { "Revoke tokens unused for this many days (empty: never)" }
                        input id="revokeUnusedAfterDays" name="revokeUnusedAfterDays" type="number" min="1" max="3650" value=(typed("revokeUnusedAfterDays", unused_days)) aria-describedby=[described("tokenPolicy.revokeUnusedAfterDays")];
                        (field_errors(errors, "tokenPolicy.revokeUnusedAfterDays"))
                    }
                    div class="field" {
                        label for="ipAllowlist" { "IP allowlist for every token and person, one address or CIDR per line (empty: any)" }
                        textarea id="ipAllowlist" name="ipAllowlist" rows="3" aria-describedby=[described("tokenPolicy.ipAllowlist")] { (typed("ipAllowlist", allowlist)) }
                        (field_errors(errors, "tokenPolicy.ipAllowlist"))
                    }
                    @if admin { button type="submit" { "Save the policy" } }
                }
            }
        }
        section aria-labelledby="providers-heading" {
            h2 id="providers-heading" { "Identity providers" }
            p { "People of these providers sign in as themselves; the role mapping makes them admins or auditors. You cannot remove the provider or mapping that makes you an admin." }
            form method="post" action=(frame.org_url("/settings/providers")) {
                (csrf_field(csrf))
                input type="hidden" name="version" value=(org.version);
                @for (i, provider) in providers.iter().enumerate() {
                    fieldset disabled[!admin] {
                        legend { @if provider.is_some() { "Provider " (i + 1) } @else { "Add a provider" } }
                        @let id = |name: &str| format!("p{i}-{name}");
                        div class="field" {
                            label for=(id("issuer")) { "Issuer URL" }
                            input id=(id("issuer")) name=(format!("p{i}.issuer")) value=(shown(i, "issuer", provider.map(|p| p.issuer.as_str().to_owned()).unwrap_or_default())) aria-describedby=[described(&format!("identityProviders[{i}].issuer"))];
                            (field_errors(errors, &format!("identityProviders[{i}].issuer")))
                        }
                        div class="field" {
                            label for=(id("audiences")) { "Audiences (client ids), comma-separated" }
                            input id=(id("audiences")) name=(format!("p{i}.audiences")) value=(shown(i, "audiences", provider.map(|p| p.audiences.join(", ")).unwrap_or_default())) aria-describedby=[described(&format!("identityProviders[{i}].audiences"))];
                            (field_errors(errors, &format!("identityProviders[{i}].audiences")))
                        }
                        div class="field" {
                            label for=(id("console")) { "Console client id (one of the audiences; empty: no console sign-in)" }
                            input id=(id("console")) name=(format!("p{i}.consoleClientId")) value=(shown(i, "consoleClientId", provider.and_then(|p| p.console_client_id.clone()).unwrap_or_default())) aria-describedby=[described(&format!("identityProviders[{i}].consoleClientId"))];
                            (field_errors(errors, &format!("identityProviders[{i}].consoleClientId")))
                        }
                        div class="field" {
                            label for=(id("display")) { "Claim that names a person" }
                            select id=(id("display")) name=(format!("p{i}.displayClaim")) {
                                @for claim in [DisplayClaim::Email, DisplayClaim::Name, DisplayClaim::PreferredUsername] {
                                    option value=(claim.as_str()) selected[shown(i, "displayClaim", provider.map(|p| p.display_claim.as_str().to_owned()).unwrap_or_default()) == claim.as_str()] { (claim.as_str()) }
                                }
                            }
                        }
                        div class="field" {
                            label for=(id("claim")) { "Role claim" }
                            input id=(id("claim")) name=(format!("p{i}.claim")) value=(shown(i, "claim", provider.map_or("groups".to_owned(), |p| p.roles.claim.clone())));
                        }
                        div class="field" {
                            label for=(id("admin")) { "Values that make an admin, comma-separated" }
                            input id=(id("admin")) name=(format!("p{i}.admin")) value=(shown(i, "admin", provider.map(|p| p.roles.admin.join(", ")).unwrap_or_default()));
                        }
                        div class="field" {
                            label for=(id("auditor")) { "Values that make an auditor, comma-separated" }
                            input id=(id("auditor")) name=(format!("p{i}.auditor")) value=(shown(i, "auditor", provider.map(|p| p.roles.auditor.join(", ")).unwrap_or_default()));
                            (field_errors(errors, &format!("identityProviders[{i}].roles")))
                        }
                        @if provider.is_some() {
                            label class="check" { input type="checkbox" name=(format!("p{i}.remove")) value="true"; "Remove this provider" }
                        }
                    }
                }
                (field_errors(errors, "identityProviders"))
                @if admin { button type="submit" { "Save the providers" } }
            }
        }
        section aria-labelledby="iac-heading" {
            h2 id="iac-heading" { "Stacks that manage this organization as code" }
            p { "CloudFormation stacks of these AWS accounts may declare the organization's service accounts and tokens (Custom::ServiceAccount, Custom::ServiceToken). A stack-name prefix admits only stacks named by it, whole segments: payments admits payments and payments-prod, not paymentsx." }
            form method="post" action=(frame.org_url("/settings/iac")) {
                (csrf_field(csrf))
                input type="hidden" name="version" value=(org.version);
                fieldset disabled[!admin] {
                    legend { "AWS accounts" }
                    div class="field" {
                        label for="iacAccess" { "One AWS account id per line, optionally followed by a stack-name prefix (empty: none)" }
                        textarea id="iacAccess" name="iacAccess" rows="3" aria-describedby=[described("iacAccess")] { (iac_access) }
                        (field_errors(errors, "iacAccess"))
                    }
                    @if admin { button type="submit" { "Save the accounts" } }
                }
            }
        }
    }
}
