//! A service account's page, which the account's own changes show again when they are
//! refused, as do a refused mint of one of its tokens and a refused trust policy: the detail
//! (facts, tokens, the mint form, trust policies, the change, disable or enable, delete
//! forms), the account's fields, and the account a posted change is for.

use admin_api::problem::{ApiError, FieldError};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use shared::access::Role;
use shared::ids::ServiceAccountId;
use shared::model::{AccountStatus, ServiceAccount};
use shared::token::TokenOwner;
use usecases::{PageLimit, TokenListScope};

use super::tokens::{mint_form, token_table};
use super::trust::section;
use super::{badge, fail, form_errors, grants_json, grants_text, org_page, roles_text};
use crate::ConsoleState;
use crate::signin::{Form, Signed};
use crate::views::{actor, csrf_field, described_by, field_errors, name_of, when};

/// The path of an account's page and of what is posted to it: `.../service-accounts/{id}`.
#[derive(Debug, Deserialize)]
pub struct AccountPath {
    #[allow(dead_code)]
    org: String,
    pub id: String,
}

/// The account of a path's `{id}`: an id that is none is an account that is not found.
pub fn account_id(id: &str) -> Result<ServiceAccountId, ApiError> {
    ServiceAccountId::parse(id).map_err(|_| ApiError::NotFound("service account"))
}

/// The account a posted change is for, once the form may change it (CSRF, admin role).
pub fn account_to_change(
    signed: &Signed,
    path: &AccountPath,
    form: &Form,
) -> Result<ServiceAccountId, ApiError> {
    let id = account_id(&path.id)?;
    signed.may_change(form)?;
    Ok(id)
}

/// The fields of an account, filled from the form sent, else from `account`.
pub fn account_fields(
    form: &Form,
    account: Option<&ServiceAccount>,
    errors: &[FieldError],
) -> Markup {
    let name = form
        .get("name")
        .map(str::to_owned)
        .or_else(|| account.map(|a| a.name.to_string()))
        .unwrap_or_default();
    let description = form
        .get("description")
        .map(str::to_owned)
        .or_else(|| account.and_then(|a| a.description.as_ref().map(ToString::to_string)))
        .unwrap_or_default();
    let roles: Vec<String> = if form.0.is_empty() {
        account
            .map(|a| a.roles.iter().map(|r| r.as_str().to_owned()).collect())
            .unwrap_or_else(|| vec!["reader".to_owned()])
    } else {
        form.all("roles")
    };
    let grants = form
        .get("grants")
        .map(str::to_owned)
        .or_else(|| account.map(|a| grants_text(&a.grants)))
        .unwrap_or_default();
    let allowlist = form
        .get("ipAllowlist")
        .map(str::to_owned)
        .or_else(|| {
            account.map(|a| {
                a.ip_allowlist
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        })
        .unwrap_or_default();
    html! {
        div class="field" {
            label for="name" { "Name" }
            input id="name" name="name" required maxlength="100" value=(name) aria-describedby=[described_by(errors, "name")];
            (field_errors(errors, "name"))
        }
        div class="field" {
            label for="description" { "Description" }
            input id="description" name="description" maxlength="500" value=(description) aria-describedby=[described_by(errors, "description")];
            (field_errors(errors, "description"))
        }
        fieldset {
            legend { "Roles" }
            @for role in Role::ALL {
                label class="check" {
                    input type="checkbox" name="roles" value=(role.as_str()) checked[roles.iter().any(|r| r == role.as_str())];
                    (role.as_str())
                }
            }
            (field_errors(errors, "roles"))
        }
        div class="field" {
            label for="grants" { "Grants, one per line as resource:level (read, write, admin)" }
            textarea id="grants" name="grants" rows="3" aria-describedby=[described_by(errors, "grants")] { (grants) }
            (field_errors(errors, "grants"))
        }
        div class="field" {
            label for="ipAllowlist" { "IP allowlist, one address or CIDR per line (empty: any)" }
            textarea id="ipAllowlist" name="ipAllowlist" rows="3" aria-describedby=[described_by(errors, "ipAllowlist")] { (allowlist) }
            (field_errors(errors, "ipAllowlist"))
        }
    }
}

/// The admin API's body for the account's fields but the description, which a creation and a
/// change write differently.
pub fn account_json(form: &Form) -> serde_json::Value {
    json!({
        "name": form.get("name").unwrap_or_default(),
        "roles": form.all("roles"),
        "grants": grants_json(&form.lines("grants").iter().filter(|l| !l.is_empty()).cloned().collect::<Vec<_>>()),
        "ipAllowlist": form.lines("ipAllowlist"),
    })
}

/// The detail page, with the form sent and its errors when a change was refused.
pub async fn render_detail(
    state: &ConsoleState,
    signed: &Signed,
    id: &ServiceAccountId,
    form: &Form,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    let use_cases = &state.accounts.admin.use_cases;
    let account = match use_cases.account(&signed.org.id, id).await {
        Ok(account) => account,
        Err(error) => return fail(signed, error),
    };
    let owner = TokenOwner::Account(id.clone());
    let tokens = match use_cases
        .list_tokens(
            &signed.org.id,
            &TokenListScope::Owner(owner.clone()),
            PageLimit::FULL,
            None,
        )
        .await
    {
        Ok(page) => page.items,
        Err(error) => return fail(signed, error),
    };
    let policies = match use_cases
        .list_trust_policies(&signed.org.id, id, PageLimit::FULL, None)
        .await
    {
        Ok(page) => page.items,
        Err(error) => return fail(signed, error),
    };
    let frame = signed.frame();
    let here = frame.org_url(&format!("/service-accounts/{id}"));
    let csrf = &signed.session.csrf;
    let trust = section(
        signed,
        &here,
        &policies,
        &use_cases.workloads.audiences,
        form,
        errors,
    );
    let now = use_cases.now();
    let editing = form.get("action") == Some("edit");
    let blank = Form::default();
    let (edit_form, edit_errors) = if editing {
        (form, errors)
    } else {
        (&blank, &[][..])
    };
    let content = html! {
        @if !matches!(form.get("action"), Some("edit" | "mint" | "trust")) { (form_errors(errors)) }
        dl class="facts" {
            dt { "Id" } dd { code { (account.id.as_str()) } }
            dt { "Status" } dd { (badge(&name_of(&account.status))) }
            dt { "Description" } dd { (account.description.as_ref().map(ToString::to_string).unwrap_or_default()) }
            dt { "Roles" } dd { (roles_text(&account.roles)) }
            dt { "Grants" } dd { (grants_text(&account.grants)) }
            dt { "IP allowlist" } dd { @if account.ip_allowlist.is_empty() { "any address" } @else { (account.ip_allowlist.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) } }
            dt { "Last used" } dd { (when(account.last_used_at)) }
            dt { "Created" } dd { (when(Some(account.created_at))) " by " (actor(&account.created_by)) }
            dt { "Updated" } dd { (when(Some(account.updated_at))) " by " (actor(&account.updated_by)) }
        }
        p { a href=(format!("{}?account={id}", frame.org_url("/audit"))) { "This account's audit trail" } }
        h2 { "Tokens" }
        (token_table(signed, &tokens, &here, now))
        @if signed.is_admin() {
            @if !tokens.is_empty() {
                form method="post" action=(format!("{here}/tokens/revoke-all")) class="inline" {
                    (csrf_field(csrf))
                    button type="submit" class="danger" { "Revoke all tokens" }
                }
            }
            @if account.status == AccountStatus::Active {
                (mint_form(signed, &format!("{here}/tokens"), form, errors, false))
            } @else {
                p { "Enable the account to mint tokens." }
            }
            (trust)
            h2 { "Change" }
            form method="post" action=(here) {
                (csrf_field(csrf))
                input type="hidden" name="version" value=(account.version);
                (form_errors(edit_errors))
                input type="hidden" name="action" value="edit";
                (account_fields(edit_form, Some(&account), edit_errors))
                button type="submit" { "Save" }
            }
            @if account.status == AccountStatus::Active {
                form method="post" action=(format!("{here}/disable")) {
                    (csrf_field(csrf))
                    input type="hidden" name="version" value=(account.version);
                    label class="check" { input type="checkbox" name="revokeTokens" value="true"; "Also revoke its tokens (enabling it later will not bring them back)" }
                    button type="submit" class="danger" { "Disable" }
                }
            } @else {
                form method="post" action=(format!("{here}/enable")) {
                    (csrf_field(csrf))
                    input type="hidden" name="version" value=(account.version);
                    button type="submit" { "Enable" }
                }
            }
            h2 { "Delete" }
            form method="post" action=(format!("{here}/delete")) {
                (csrf_field(csrf))
                input type="hidden" name="version" value=(account.version);
                div class="field" {
                    label for="confirm" { "Type the account's name, " strong { (account.name.as_str()) } ", to delete it and every token it has" }
                    input id="confirm" name="confirm" autocomplete="off" required aria-describedby=[described_by(errors, "confirm")];
                    (field_errors(errors, "confirm"))
                }
                button type="submit" class="danger" { "Delete" }
            }
        } @else {
            (trust)
        }
    };
    org_page(signed, status, account.name.as_str(), content)
}
