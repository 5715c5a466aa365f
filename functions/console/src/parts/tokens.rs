//! An owner's tokens as a table (with revoke and rotate for an admin) and the mint form, on
//! an account's page and on the org-wide tokens' page, and the form read into the admin API's
//! body.

use admin_api::problem::{ApiError, FieldError};
use maud::{Markup, html};
use serde_json::json;
use shared::model::{Token, TokenStatus};
use shared::policy::LifetimePreset;
use time::OffsetDateTime;

use super::risk::{badges, warning_window};
use super::{copyable, form_errors};
use crate::signin::{Form, Signed};
use crate::views::{actor, csrf_field, described_by, field_errors, when};

/// The grace periods offered on a rotation, in seconds.
const GRACE_PERIODS: [(u32, &str); 4] = [
    (0, "none: the old token stops now"),
    (3600, "1 hour"),
    (86_400, "1 day"),
    (604_800, "7 days"),
];

/// What identifies a token of any owner in a form: `<account id>:<token id>`, or
/// `org:<token id>` for an org-wide token.
pub fn owner_key(token: &Token) -> String {
    match &token.account {
        Some(account) => format!("{account}:{}", token.id),
        None => format!("org:{}", token.id),
    }
}

/// A token as people tell it apart: its name and prefix (two tokens may share a name).
pub fn token_label(token: &Token) -> String {
    format!("{} ({})", token.name.as_str(), token.display_prefix)
}

/// What a rotation did to `token`: replaced (by which token, working until when), or the
/// replacement of an earlier one. Links to the other token's row.
pub fn rotation_note(token: &Token, now: OffsetDateTime) -> Markup {
    html! {
        @if let Some(next) = &token.rotated_to {
            span class="rotation" {
                "Replaced by " a href=(format!("#token-{next}")) { "its successor" } ". "
                @if token.status(now) == TokenStatus::Active {
                    "Works until " (when(token.revoked_at)) "."
                } @else {
                    "Stopped " (when(token.revoked_at)) "."
                }
            }
        }
        @if let Some(previous) = &token.rotated_from {
            span class="rotation" { "Replaces " a href=(format!("#token-{previous}")) { "an earlier token" } "." }
        }
    }
}

/// The checkbox that selects a token for a bulk action (the form `bulk-tokens`).
pub fn select_box(token: &Token) -> Markup {
    html! {
        input type="checkbox" name="token" value=(owner_key(token)) form="bulk-tokens"
            id=(format!("select-{}", token.id)) aria-label=(format!("Select {}", token_label(token)));
    }
}

/// The form the selected tokens are revoked with (after a confirmation). `from`: the list
/// it is on (`all`, `org`, or `account:<id>`), where the person comes back to.
pub fn bulk_form(signed: &Signed, from: &str) -> Markup {
    html! {
        form id="bulk-tokens" method="post" action=(signed.frame().org_url("/tokens/revoke-selected")) class="bulk" {
            (csrf_field(&signed.session.csrf))
            input type="hidden" name="from" value=(from);
            button type="submit" class="danger" { "Revoke selected tokens" }
        }
    }
}

/// An owner's (or the organization's) tokens, with revoke and rotate for an admin, risk
/// badges, rotations told, and a bulk revoke of selected tokens. `base`: the URL the token
/// paths hang from (`.../service-accounts/{id}` or `.../service-tokens`: forms post to
/// `<base>/tokens/{tid}/...` or `<base>/{tid}/...`).
pub fn token_table(signed: &Signed, tokens: &[Token], base: &str, now: OffsetDateTime) -> Markup {
    let org_wide = base.ends_with("/service-tokens");
    let token_base = if org_wide {
        base.to_owned()
    } else {
        format!("{base}/tokens")
    };
    let from = if org_wide {
        "org".to_owned()
    } else {
        format!("account:{}", base.rsplit('/').next().unwrap_or_default())
    };
    let window = warning_window(&signed.org);
    let admin = signed.is_admin();
    html! {
        @if tokens.is_empty() {
            p class="empty" {
                "No tokens yet."
                @if admin { " Mint one with the form below: its secret is shown once." }
            }
        } @else {
            div class="table" {
            table {
                caption { "Tokens" }
                thead { tr {
                    @if admin { th scope="col" { span class="visually-hidden" { "Select" } } }
                    th scope="col" { "Name" } th scope="col" { "Prefix" } th scope="col" { "Status" }
                    th scope="col" { "Scopes" } th scope="col" { "Created" } th scope="col" { "Expires" }
                    th scope="col" { "Last used" }
                    @if admin { th scope="col" { "Actions" } }
                } }
                tbody {
                    @for token in tokens {
                        @let status = token.status(now);
                        @let label = token_label(token);
                        tr id=(format!("token-{}", token.id)) {
                            @if admin { td { @if status == TokenStatus::Active { (select_box(token)) } } }
                            td {
                                (token.name.as_str()) br;
                                (copyable(&format!("id-{}", token.id), token.id.as_str(), &format!("Id of {label}")))
                                br;
                                a class="muted" href=(format!("{}?token={}", signed.frame().org_url("/audit"), token.id)) aria-label=(format!("Audit trail of {label}")) { "audit trail" }
                            }
                            td { (copyable(&format!("prefix-{}", token.id), &token.display_prefix, &format!("Prefix of {label}"))) }
                            td { (badges(token, window, now)) (rotation_note(token, now)) }
                            td { (token.scopes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) }
                            td { (when(Some(token.created_at))) br; span class="muted" { "by " } (actor(&token.created_by)) }
                            td { @if token.expires_at.is_some() { (when(token.expires_at)) } @else { "never" } }
                            td { (when(token.last_used_at)) }
                            @if admin {
                                td {
                                    @if status == TokenStatus::Active {
                                        form method="post" action=(format!("{token_base}/{}/revoke", token.id)) class="inline" {
                                            (csrf_field(&signed.session.csrf))
                                            button type="submit" class="danger" aria-label=(format!("Revoke {label}")) { "Revoke" }
                                        }
                                        @if token.rotated_to.is_none() {
                                            form method="post" action=(format!("{token_base}/{}/rotate", token.id)) class="inline" {
                                                (csrf_field(&signed.session.csrf))
                                                label for=(format!("grace-{}", token.id)) { "Grace" }
                                                select id=(format!("grace-{}", token.id)) name="gracePeriodSeconds" {
                                                    @for (seconds, words) in GRACE_PERIODS {
                                                        option value=(seconds) selected[seconds == 3600] { (words) }
                                                    }
                                                }
                                                button type="submit" aria-label=(format!("Rotate {label}")) { "Rotate" }
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
            @if admin && tokens.iter().any(|token| token.status(now) == TokenStatus::Active) {
                (bulk_form(signed, &from))
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
                    label for="expiresOn" { "Expires on (at midnight UTC; picking a date chooses \"until the date below\")" }
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

/// The admin API's body for the mint form. A picked expiry date counts with "the
/// organization's default" or "until the date below"; with another lifetime the form is
/// refused (two answers to one question), the error next to the date.
pub fn mint_json(form: &Form) -> Result<serde_json::Value, ApiError> {
    let mut body = json!({
        "name": form.get("name").unwrap_or_default(),
        "scopes": form.lines("scopes"),
    });
    if let Some(description) = form.text("description") {
        body["description"] = json!(description);
    }
    let date = form.text("expiresOn");
    match (form.get("lifetime").unwrap_or("default"), date) {
        ("default" | "date", Some(date)) => {
            body["expiresAt"] = json!(format!("{date}T00:00:00Z"));
        }
        ("date", None) => {
            return Err(ApiError::invalid(
                "expiresAt",
                "Pick the date the token expires on, or another lifetime.",
            ));
        }
        ("default", None) => {}
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "expiresAt",
                "Pick either a lifetime or an expiry date, not both: clear the date, or choose \"until the date below\".",
            ));
        }
        (preset, None) => body["lifetime"] = json!(preset),
    }
    Ok(body)
}
