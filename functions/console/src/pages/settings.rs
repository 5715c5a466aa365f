//! The organization's settings: its token policy (lifetimes, non-expiring tokens,
//! self-rotation, IP allowlist), its identity providers with their role mappings, and the AWS
//! accounts whose CloudFormation stacks may manage it as code.

use admin_api::problem::{ApiError, FieldError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde_json::{Value, json};
use shared::people::{DisplayClaim, IdentityProvider};
use shared::policy::LifetimePreset;

use crate::ConsoleState;
use crate::parts::{api_body, fail, field_errors_of, form_errors, org_page};
use crate::signin::{Form, Signed};
use crate::views::{csrf_field, field_errors, see_other};

/// `GET /console/orgs/{org}/settings`
pub async fn show(signed: Signed) -> Response {
    render(&signed, &[], StatusCode::OK, &Form::default())
}

/// The page; after a refused change of the providers, with the values sent (`sent`).
fn render(signed: &Signed, errors: &[FieldError], status: StatusCode, sent: &Form) -> Response {
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
    let content = html! {
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
                        input id="org-name" name="name" required maxlength="100" value=(org.name.as_str());
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
                        select id="defaultLifetime" name="defaultLifetime" {
                            @for preset in LifetimePreset::ALL { option value=(preset.as_str()) selected[preset == policy.default_lifetime()] { (preset.as_str()) } }
                        }
                        (field_errors(errors, "tokenPolicy.defaultLifetime"))
                    }
                    div class="field" {
                        label for="maxLifetime" { "Maximum lifetime" }
                        select id="maxLifetime" name="maxLifetime" {
                            @for preset in LifetimePreset::ALL { option value=(preset.as_str()) selected[preset == policy.max_lifetime()] { (preset.as_str()) } }
                        }
                        (field_errors(errors, "tokenPolicy.maxLifetime"))
                    }
                    label class="check" { input type="checkbox" name="allowNonExpiring" value="true" checked[policy.allow_non_expiring()]; "Allow tokens that never expire" }
                    label class="check" { input type="checkbox" name="allowSelfRotation" value="true" checked[policy.allow_self_rotation()]; "Let tokens rotate themselves" }
                    div class="field" {
                        label for="maxLineageAgeDays" { "Let a token's own rotations renew it up to this many days after its first token (empty: a rotated token keeps its expiry)" }
                        input id="maxLineageAgeDays" name="maxLineageAgeDays" type="number" min="1" max="3650" value=(lineage_days);
                        (field_errors(errors, "tokenPolicy.maxLineageAgeDays"))
                    }
                    div class="field" {
                        label for="expiryWarningDays" { "Warn before a token expires, days before, comma-separated (for example 14, 3, 1; empty: no warnings)" }
                        input id="expiryWarningDays" name="expiryWarningDays" inputmode="numeric" value=(warning_days);
                        (field_errors(errors, "tokenPolicy.expiryWarningDays"))
                    }
                    div class="field" {
                        label for="revokeUnusedAfterDays" { "Revoke tokens unused for this many days (empty: never)" }
                        input id="revokeUnusedAfterDays" name="revokeUnusedAfterDays" type="number" min="1" max="3650" value=(unused_days);
                        (field_errors(errors, "tokenPolicy.revokeUnusedAfterDays"))
                    }
                    div class="field" {
                        label for="ipAllowlist" { "IP allowlist for every token and person, one address or CIDR per line (empty: any)" }
                        textarea id="ipAllowlist" name="ipAllowlist" rows="3" { (allowlist) }
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
                            input id=(id("issuer")) name=(format!("p{i}.issuer")) value=(shown(i, "issuer", provider.map(|p| p.issuer.as_str().to_owned()).unwrap_or_default()));
                            (field_errors(errors, &format!("identityProviders[{i}].issuer")))
                        }
                        div class="field" {
                            label for=(id("audiences")) { "Audiences (client ids), comma-separated" }
                            input id=(id("audiences")) name=(format!("p{i}.audiences")) value=(shown(i, "audiences", provider.map(|p| p.audiences.join(", ")).unwrap_or_default()));
                            (field_errors(errors, &format!("identityProviders[{i}].audiences")))
                        }
                        div class="field" {
                            label for=(id("console")) { "Console client id (one of the audiences; empty: no console sign-in)" }
                            input id=(id("console")) name=(format!("p{i}.consoleClientId")) value=(shown(i, "consoleClientId", provider.and_then(|p| p.console_client_id.clone()).unwrap_or_default()));
                            (field_errors(errors, &format!("identityProviders[{i}].consoleClientId")))
                        }
                        div class="field" {
                            label for=(id("display")) { "Claim that names a person" }
                            select id=(id("display")) name=(format!("p{i}.displayClaim")) {
                                @for claim in [DisplayClaim::Email, DisplayClaim::Name, DisplayClaim::PreferredUsername] {
                                    option value=(claim.as_str()) selected[provider.is_some_and(|p| p.display_claim == claim)] { (claim.as_str()) }
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
                        textarea id="iacAccess" name="iacAccess" rows="3" { (iac_access) }
                        (field_errors(errors, "iacAccess"))
                    }
                    @if admin { button type="submit" { "Save the accounts" } }
                }
            }
        }
    };
    org_page(signed, status, "Settings", content)
}

fn version(form: &Form) -> Option<u64> {
    form.get("version").and_then(|v| v.parse().ok())
}

/// Sends `body` to the organization's use case; a refusal's field errors go through `place`
/// (which names the form's own row for a provider) and are shown with the values sent.
async fn save(
    state: &ConsoleState,
    signed: &Signed,
    form: &Form,
    body: Value,
    place: &(dyn Fn(FieldError) -> FieldError + Sync),
) -> Response {
    if let Err(error) = signed.may_change(form) {
        return fail(signed, error);
    }
    let outcome = async {
        let changes =
            api_body::<accounts::dto::PatchOrg>(body)?.validate(&signed.org.token_policy)?;
        state
            .accounts
            .admin
            .use_cases
            .update_org(&signed.caller, signed.org.clone(), version(form), changes)
            .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    match outcome {
        Ok(()) => see_other(&signed.frame().org_url("/settings"), &[]),
        Err(error) => match field_errors_of(&error) {
            Some(errors) => {
                let errors: Vec<FieldError> = errors.into_iter().map(place).collect();
                render(signed, &errors, StatusCode::UNPROCESSABLE_ENTITY, form)
            }
            None => fail(signed, error),
        },
    }
}

/// `POST .../settings/name`
pub async fn name(State(state): State<ConsoleState>, signed: Signed, form: Form) -> Response {
    let body = json!({"name": form.get("name").unwrap_or_default()});
    save(&state, &signed, &form, body, &|error| error).await
}

/// `POST .../settings/policy`
pub async fn policy(State(state): State<ConsoleState>, signed: Signed, form: Form) -> Response {
    let body = json!({"tokenPolicy": {
        "defaultLifetime": form.get("defaultLifetime").unwrap_or_default(),
        "maxLifetime": form.get("maxLifetime").unwrap_or_default(),
        "allowNonExpiring": form.get("allowNonExpiring") == Some("true"),
        "allowSelfRotation": form.get("allowSelfRotation") == Some("true"),
        "ipAllowlist": form.lines("ipAllowlist"),
        "expiryWarningDays": form
            .get("expiryWarningDays")
            .unwrap_or_default()
            .split([',', ' '])
            .filter(|day| !day.is_empty())
            .map(day_count)
            .collect::<Vec<_>>(),
        "revokeUnusedAfterDays": form.text("revokeUnusedAfterDays").as_deref().map(day_count),
        "maxLineageAgeDays": form.text("maxLineageAgeDays").as_deref().map(day_count),
    }});
    save(&state, &signed, &form, body, &|error| error).await
}

/// A number of days typed in a form; what is not one becomes -1, which the API refuses with
/// the field's rule.
fn day_count(text: &str) -> i64 {
    text.trim().parse().unwrap_or(-1)
}

/// `POST .../settings/iac`: one `<account> [<stack prefix>]` per line; a refusal is shown
/// under the field with its line.
pub async fn iac(State(state): State<ConsoleState>, signed: Signed, form: Form) -> Response {
    let list: Vec<Value> = form
        .get("iacAccess")
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut words = line.split_whitespace();
            let mut entry = json!({"account": words.next().unwrap_or_default()});
            let rest: Vec<&str> = words.collect();
            if !rest.is_empty() {
                entry["stackPrefix"] = json!(rest.join(" "));
            }
            entry
        })
        .collect();
    let place = |error: FieldError| {
        let line = error
            .field
            .strip_prefix("iacAccess[")
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(index, _)| index.parse::<usize>().ok());
        match line {
            Some(index) => {
                FieldError::new("iacAccess", format!("line {}: {}", index + 1, error.reason))
            }
            None => error,
        }
    };
    save(&state, &signed, &form, json!({"iacAccess": list}), &place).await
}

/// `POST .../settings/providers`: the whole list, as the form shows it.
pub async fn providers(State(state): State<ConsoleState>, signed: Signed, form: Form) -> Response {
    let mut list = Vec::new();
    // The form's row of each provider sent, so a refusal is shown on the right row.
    let mut rows = Vec::new();
    for i in 0..6 {
        let field = |name: &str| form.text(&format!("p{i}.{name}"));
        let Some(issuer) = field("issuer") else {
            continue;
        };
        if form.get(&format!("p{i}.remove")) == Some("true") {
            continue;
        }
        let values = |name: &str| form.lines(&format!("p{i}.{name}"));
        let mut provider = json!({
            "issuer": issuer,
            "audiences": values("audiences"),
            "displayClaim": field("displayClaim").unwrap_or_else(|| "email".into()),
            "roles": {
                "claim": field("claim").unwrap_or_else(|| "groups".into()),
                "admin": values("admin"),
                "auditor": values("auditor"),
            },
        });
        if let Some(client) = field("consoleClientId") {
            provider["consoleClientId"] = json!(client);
        }
        list.push(provider);
        rows.push(i);
    }
    let place = |error: FieldError| {
        let renamed = error
            .field
            .strip_prefix("identityProviders[")
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(index, rest)| {
                let row = rows.get(index.parse::<usize>().ok()?)?;
                Some(format!("identityProviders[{row}]{rest}"))
            });
        match renamed {
            Some(field) => FieldError::new(field, error.reason),
            None => error,
        }
    };
    save(
        &state,
        &signed,
        &form,
        json!({"identityProviders": list}),
        &place,
    )
    .await
}
