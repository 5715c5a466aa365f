//! The account's page, in sections with their own headings, so that each form is read with
//! what it is about: the facts, Details (the edit form), Tokens (the table, revoke all, the
//! mint form), Trust policies, and the Danger zone (disable or enable, delete), apart from
//! the edit form.

use admin_api::problem::FieldError;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use shared::ids::ServiceAccountId;
use shared::model::{AccountStatus, ServiceAccount, TokenStatus};
use shared::token::TokenOwner;
use usecases::{PageLimit, TokenListScope};

use super::account_fields;
use crate::ConsoleState;
use crate::parts::copyable;
use crate::parts::tokens::{mint_form, token_table};
use crate::parts::trust::section;
use crate::parts::words::in_words;
use crate::parts::{badge, fail, form_errors, grants_text, org_page, roles_text};
use crate::signin::{Form, Signed};
use crate::views::{actor, csrf_field, described_by, field_errors, name_of, when};

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
            &TokenListScope::Owner(owner),
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
    let errors = in_words(errors.to_vec(), form);
    let frame = signed.frame();
    let here = frame.org_url(&format!("/service-accounts/{id}"));
    let now = use_cases.now();
    let trust = section(
        signed,
        &here,
        &policies,
        &use_cases.workloads.audiences,
        form,
        &errors,
    );
    let live = tokens
        .iter()
        .any(|token| token.status(now) == TokenStatus::Active);
    let content = html! {
        @if !matches!(form.get("action"), Some("edit" | "mint" | "trust")) { (form_errors(&errors)) }
        dl class="facts" {
            dt { "Id" } dd { (copyable(&format!("account-id-{id}"), id.as_str(), &format!("Id of {}", account.name.as_str()))) }
            dt { "Status" } dd { (badge(&name_of(&account.status))) }
            dt { "Last used" } dd { (when(account.last_used_at)) }
            dt { "Created" } dd { (when(Some(account.created_at))) " by " (actor(&account.created_by)) }
            dt { "Updated" } dd { (when(Some(account.updated_at))) " by " (actor(&account.updated_by)) }
        }
        p { a href=(format!("{}?account={id}", frame.org_url("/audit"))) { "This account's audit trail" } }
        (details(signed, &here, &account, form, &errors))
        section aria-labelledby="tokens-heading" {
            h2 id="tokens-heading" { "Tokens" }
            (token_table(signed, &tokens, &here, now))
            @if signed.is_admin() {
                @if live {
                    form method="post" action=(format!("{here}/tokens/revoke-all")) class="inline" {
                        (csrf_field(&signed.session.csrf))
                        button type="submit" class="danger" { "Revoke all tokens" }
                    }
                }
                @if account.status == AccountStatus::Active {
                    (mint_form(signed, &format!("{here}/tokens"), form, &errors, false))
                } @else {
                    p { "Enable the account (in the danger zone below) to mint tokens." }
                }
            }
        }
        (trust)
        @if signed.is_admin() { (danger_zone(signed, &here, &account, &errors)) }
    };
    org_page(signed, status, account.name.as_str(), content)
}

/// The account's fields: the edit form for an admin, the facts for an auditor.
fn details(
    signed: &Signed,
    here: &str,
    account: &ServiceAccount,
    form: &Form,
    errors: &[FieldError],
) -> Markup {
    let editing = form.get("action") == Some("edit");
    let blank = Form::default();
    let (edit_form, edit_errors) = if editing {
        (form, errors)
    } else {
        (&blank, &[][..])
    };
    html! {
        section aria-labelledby="details-heading" {
            h2 id="details-heading" { "Details" }
            @if signed.is_admin() {
                form method="post" action=(here) {
                    (csrf_field(&signed.session.csrf))
                    input type="hidden" name="version" value=(account.version);
                    input type="hidden" name="action" value="edit";
                    (form_errors(edit_errors))
                    (account_fields(edit_form, Some(account), edit_errors))
                    button type="submit" { "Save" }
                }
            } @else {
                dl class="facts" {
                    dt { "Description" } dd { (account.description.as_ref().map(ToString::to_string).unwrap_or_default()) }
                    dt { "Roles" } dd { (roles_text(&account.roles)) }
                    dt { "Grants" } dd { (grants_text(&account.grants)) }
                    dt { "IP allowlist" } dd { @if account.ip_allowlist.is_empty() { "any address" } @else { (account.ip_allowlist.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) } }
                }
            }
        }
    }
}

/// Disable or enable, and delete: apart from the edit form, each with what it does.
fn danger_zone(
    signed: &Signed,
    here: &str,
    account: &ServiceAccount,
    errors: &[FieldError],
) -> Markup {
    let csrf = &signed.session.csrf;
    html! {
        section aria-labelledby="danger-heading" class="danger-zone" {
            h2 id="danger-heading" { "Danger zone" }
            @if account.status == AccountStatus::Active {
                h3 { "Disable" }
                p { "Its tokens stop working until it is enabled again. You are asked to confirm." }
                form method="post" action=(format!("{here}/disable")) {
                    (csrf_field(csrf))
                    input type="hidden" name="version" value=(account.version);
                    label class="check" { input type="checkbox" name="revokeTokens" value="true"; "Also revoke its tokens (enabling it later will not bring them back)" }
                    button type="submit" class="danger" { "Disable" }
                }
            } @else {
                h3 { "Enable" }
                p { "Its tokens that are neither revoked nor expired work again." }
                form method="post" action=(format!("{here}/enable")) {
                    (csrf_field(csrf))
                    input type="hidden" name="version" value=(account.version);
                    button type="submit" { "Enable" }
                }
            }
            h3 { "Delete" }
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
        }
    }
}
