//! An account's trust policies (keyless CI): the table with a delete button, and the form that
//! adds one, on the account's page. The form is read into the admin API's own body
//! (`CreateTrustPolicy`) and validated by it; conditions are written one per line, `claim =
//! value` (exact) or `claim ~ pattern` (an anchored regular expression).

use admin_api::problem::FieldError;
use maud::{Markup, html};
use serde_json::{Value, json};
use shared::federation::{ClaimTest, TrustPolicy};

use crate::signin::{Form, Signed};
use crate::views::{csrf_field, described_by, field_errors};

/// The account's policies and, for an admin, the form that adds one. `here`: the account's
/// page; `form` and `errors`: a refused add, shown again.
pub fn section(
    signed: &Signed,
    here: &str,
    policies: &[TrustPolicy],
    audiences: &[String],
    form: &Form,
    errors: &[FieldError],
) -> Markup {
    let adding = form.get("action") == Some("trust");
    let errors = if adding { errors } else { &[] };
    let value = |name: &str| {
        if adding {
            form.get(name).unwrap_or_default().to_owned()
        } else {
            String::new()
        }
    };
    let preset = if adding {
        form.get("preset").unwrap_or("github_actions").to_owned()
    } else {
        "github_actions".to_owned()
    };
    html! {
        section aria-labelledby="trust-heading" {
            h2 id="trust-heading" { "Trust policies (keyless CI)" }
            p class="muted" {
                "Jobs whose OpenID Connect token matches a policy exchange it at /oauth2/token for an access token of this account. Their token's audience: "
                code { (audiences.first().map(String::as_str).unwrap_or_default()) }
            }
            @if policies.is_empty() {
                p { "No trust policies." }
            } @else {
                table {
                    caption { "Trust policies" }
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "Issuer" } th scope="col" { "Conditions" }
                        th scope="col" { "Scopes" } th scope="col" { "Lifetime" }
                        @if signed.is_admin() { th scope="col" { "Actions" } }
                    } }
                    tbody {
                        @for policy in policies {
                            tr {
                                td { (policy.name.as_str()) }
                                td { code { (policy.issuer.as_str()) } }
                                td { ul class="plain" {
                                    @for condition in &policy.conditions {
                                        li { code { (condition_text(condition)) } }
                                    }
                                } }
                                td { (policy.scopes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) }
                                td { (policy.lifetime_seconds / 60) " min" }
                                @if signed.is_admin() {
                                    td {
                                        form method="post" action=(format!("{here}/trust-policies/{}/delete", policy.id)) class="inline" {
                                            (csrf_field(&signed.session.csrf))
                                            button type="submit" class="danger" aria-label=(format!("Delete trust policy {}", policy.name.as_str())) { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if signed.is_admin() {
                h3 { "Add a trust policy" }
                form method="post" action=(format!("{here}/trust-policies")) {
                    (csrf_field(&signed.session.csrf))
                    input type="hidden" name="action" value="trust";
                    (crate::views::field_errors(errors, "form"))
                    div class="field" {
                        label for="trust-name" { "Name" }
                        input id="trust-name" name="name" required maxlength="100" value=(value("name")) aria-describedby=[described_by(errors, "name")];
                        (field_errors(errors, "name"))
                    }
                    div class="field" {
                        label for="trust-preset" { "Platform" }
                        select id="trust-preset" name="preset" aria-describedby=[described_by(errors, "preset")] {
                            option value="github_actions" selected[preset == "github_actions"] { "GitHub Actions" }
                            option value="gitlab" selected[preset == "gitlab"] { "GitLab CI" }
                            option value="" selected[preset.is_empty()] { "another OpenID Connect issuer" }
                        }
                        (field_errors(errors, "preset"))
                    }
                    div class="field" {
                        label for="trust-issuer" { "Issuer (empty: the platform's; a GitHub Enterprise Server or self-managed GitLab URL otherwise)" }
                        input id="trust-issuer" name="issuer" type="url" maxlength="512" value=(value("issuer")) aria-describedby=[described_by(errors, "issuer")];
                        (field_errors(errors, "issuer"))
                    }
                    div class="field" {
                        label for="trust-conditions" { "Conditions, one per line: claim = value, or claim ~ pattern (GitHub: repository_owner_id = 65, repository = octo-org/deploy)" }
                        textarea id="trust-conditions" name="conditions" rows="4" required aria-describedby=[described_by(errors, "conditions")] { (value("conditions")) }
                        (field_errors(errors, "conditions"))
                    }
                    div class="field" {
                        label for="trust-scopes" { "Scopes, one per line (at most what the account holds)" }
                        textarea id="trust-scopes" name="scopes" rows="2" required aria-describedby=[described_by(errors, "scopes")] { (value("scopes")) }
                        (field_errors(errors, "scopes"))
                    }
                    div class="field" {
                        label for="trust-lifetime" { "Access token lifetime in seconds (60 to 43200; empty: 900)" }
                        input id="trust-lifetime" name="lifetimeSeconds" type="number" min="60" max="43200" value=(value("lifetimeSeconds")) aria-describedby=[described_by(errors, "lifetimeSeconds")];
                        (field_errors(errors, "lifetimeSeconds"))
                    }
                    button type="submit" { "Add the trust policy" }
                }
            }
        }
    }
}

/// A condition as the form writes it.
fn condition_text(condition: &shared::federation::ClaimCondition) -> String {
    match &condition.test {
        ClaimTest::Equals(value) => format!("{} = {value}", condition.claim.as_str()),
        ClaimTest::Matches(pattern) => format!("{} ~ {pattern}", condition.claim.as_str()),
    }
}

/// The admin API's body for the form.
pub fn policy_json(form: &Form) -> Value {
    let conditions: Vec<Value> = form
        .get("conditions")
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let equals = line.find('=');
            let matches = line.find('~');
            match (equals, matches) {
                (Some(at), other) if other.is_none_or(|m| at < m) => {
                    json!({"claim": line[..at].trim(), "equals": line[at + 1..].trim()})
                }
                (_, Some(at)) => {
                    json!({"claim": line[..at].trim(), "matches": line[at + 1..].trim()})
                }
                _ => json!({"claim": line}),
            }
        })
        .collect();
    let mut body = json!({
        "name": form.get("name").unwrap_or_default(),
        "conditions": conditions,
        "scopes": form.lines("scopes"),
    });
    if let Some(preset) = form.text("preset") {
        body["preset"] = json!(preset);
    }
    if let Some(issuer) = form.text("issuer") {
        body["issuer"] = json!(issuer);
    }
    if let Some(lifetime) = form.text("lifetimeSeconds") {
        body["lifetimeSeconds"] = lifetime
            .parse::<i64>()
            .map_or(json!(lifetime), |n| json!(n));
    }
    body
}
