//! An owner's tokens as a table (with revoke and rotate for an admin) and the mint form, on
//! an account's page and on the org-wide tokens' page, and the form read into the admin API's
//! body.

use admin_api::problem::FieldError;
use maud::{Markup, html};
use serde_json::json;
use shared::model::{Token, TokenStatus};
use shared::policy::LifetimePreset;
use time::OffsetDateTime;

use super::{badge, form_errors};
use crate::signin::{Form, Signed};
use crate::views::{csrf_field, described_by, field_errors, name_of, when};

/// The grace periods offered on a rotation, in seconds.
const GRACE_PERIODS: [(u32, &str); 4] = [
    (0, "none: the old token stops now"),
    (3600, "1 hour"),
    (86_400, "1 day"),
    (604_800, "7 days"),
];

/// An owner's (or the organization's) tokens, with revoke and rotate for an admin. `base`:
/// the URL the token paths hang from (`.../service-accounts/{id}` or `.../service-tokens`
/// forms post to `<base>/tokens/{tid}/...` or `<base>/{tid}/...`).
pub fn token_table(signed: &Signed, tokens: &[Token], base: &str, now: OffsetDateTime) -> Markup {
    let token_base = if base.ends_with("/service-tokens") {
        base.to_owned()
    } else {
        format!("{base}/tokens")
    };
    html! {
        @if tokens.is_empty() {
            p { "No tokens." }
        } @else {
            table {
                caption { "Tokens" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Prefix" } th scope="col" { "Status" }
                    th scope="col" { "Scopes" } th scope="col" { "Created" } th scope="col" { "Expires" }
                    th scope="col" { "Last used" }
                    @if signed.is_admin() { th scope="col" { "Actions" } }
                } }
                tbody {
                    @for token in tokens {
                        @let status = token.status(now);
                        tr {
                            td { (token.name.as_str()) br; a class="muted" href=(format!("{}?token={}", signed.frame().org_url("/audit"), token.id)) { "audit trail" } }
                            td { code { (token.display_prefix) } }
                            td { (badge(&name_of(&status))) }
                            td { (token.scopes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) }
                            td { (when(Some(token.created_at))) }
                            td { @if token.expires_at.is_some() { (when(token.expires_at)) } @else { "never" } }
                            td { (when(token.last_used_at)) }
                            @if signed.is_admin() {
                                td {
                                    @if status == TokenStatus::Active {
                                        form method="post" action=(format!("{token_base}/{}/revoke", token.id)) class="inline" {
                                            (csrf_field(&signed.session.csrf))
                                            button type="submit" class="danger" aria-label=(format!("Revoke {}", token.name.as_str())) { "Revoke" }
                                        }
                                        form method="post" action=(format!("{token_base}/{}/rotate", token.id)) class="inline" {
                                            (csrf_field(&signed.session.csrf))
                                            label for=(format!("grace-{}", token.id)) { "Grace" }
                                            select id=(format!("grace-{}", token.id)) name="gracePeriodSeconds" {
                                                @for (seconds, label) in GRACE_PERIODS {
                                                    option value=(seconds) selected[seconds == 3600] { (label) }
                                                }
                                            }
                                            button type="submit" aria-label=(format!("Rotate {}", token.name.as_str())) { "Rotate" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The mint form; `org_wide`: scopes are required.
pub fn mint_form(
    signed: &Signed,
    action: &str,
    form: &Form,
    errors: &[FieldError],
    org_wide: bool,
) -> Markup {
    let minting = form.get("action") == Some("mint");
    let errors = if minting { errors } else { &[] };
    let value = |name: &str| {
        if minting {
            form.get(name).unwrap_or_default().to_owned()
        } else {
            String::new()
        }
    };
    let lifetime = if minting {
        form.get("lifetime").unwrap_or("default").to_owned()
    } else {
        "default".to_owned()
    };
    html! {
        section aria-labelledby="mint-heading" {
            h2 id="mint-heading" { "Mint a token" }
            form method="post" action=(action) {
                (csrf_field(&signed.session.csrf))
                input type="hidden" name="action" value="mint";
                (form_errors(errors))
                div class="field" {
                    label for="token-name" { "Name" }
                    input id="token-name" name="name" required maxlength="100" value=(value("name")) aria-describedby=[described_by(errors, "name")];
                    (field_errors(errors, "name"))
                }
                div class="field" {
                    label for="token-description" { "Description" }
                    input id="token-description" name="description" maxlength="500" value=(value("description"));
                    (field_errors(errors, "description"))
                }
                div class="field" {
                    label for="lifetime" { "Lifetime" }
                    select id="lifetime" name="lifetime" aria-describedby=[described_by(errors, "lifetime")] {
                        option value="default" selected[lifetime == "default"] { "the organization's default" }
                        @for preset in LifetimePreset::ALL {
                            option value=(preset.as_str()) selected[lifetime == preset.as_str()] { (preset.as_str()) }
                        }
                        option value="never" selected[lifetime == "never"] { "never expires (if the policy allows)" }
                        option value="date" selected[lifetime == "date"] { "until the date below" }
                    }
                    (field_errors(errors, "lifetime"))
                }
                div class="field" {
                    label for="expiresOn" { "Expires on (UTC midnight; with \"until the date below\")" }
                    input id="expiresOn" name="expiresOn" type="date" value=(value("expiresOn")) aria-describedby=[described_by(errors, "expiresAt")];
                    (field_errors(errors, "expiresAt"))
                }
                div class="field" {
                    label for="scopes" {
                        "Scopes, one per line (a role such as reader, or resource:level)"
                        @if org_wide { ", at least one" } @else { "; empty: all of the account's access" }
                    }
                    textarea id="scopes" name="scopes" rows="2" aria-describedby=[described_by(errors, "scopes")] { (value("scopes")) }
                    (field_errors(errors, "scopes"))
                }
                button type="submit" { "Mint" }
            }
        }
    }
}

/// The admin API's body for the mint form.
pub fn mint_json(form: &Form) -> serde_json::Value {
    let mut body = json!({
        "name": form.get("name").unwrap_or_default(),
        "scopes": form.lines("scopes"),
    });
    if let Some(description) = form.text("description") {
        body["description"] = json!(description);
    }
    match form.get("lifetime").unwrap_or("default") {
        "default" => {}
        "date" => {
            body["expiresAt"] = json!(format!(
                "{}T00:00:00Z",
                form.get("expiresOn").unwrap_or_default()
            ));
        }
        preset => body["lifetime"] = json!(preset),
    }
    body
}
