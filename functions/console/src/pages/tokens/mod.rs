//! Tokens: minting one, the page that shows a new secret once (never cached, with a copy
//! button), revoke, rotate and revoke all, the org-wide tokens and every token of the
//! organization. An owner's table and the mint form are [`crate::parts::tokens`].

use admin_api::problem::{ApiError, FieldError};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use shared::ids::{ServiceAccountId, TokenId};
use shared::token::TokenOwner;
use usecases::tokens::Minted;
use usecases::{PageLimit, TokenListScope};

use crate::ConsoleState;
use crate::parts::account::{AccountPath, render_detail};
use crate::parts::tokens::{mint_form, mint_json, token_table};
use crate::parts::{api_body, badge, fail, field_errors_of, org_page};
use crate::signin::{Form, Signed};
use crate::views::{name_of, see_other, when};

/// The page that shows a new token's secret, once: not cached, not kept anywhere.
fn secret_page(signed: &Signed, minted: &Minted, back: &str, title: &str) -> Response {
    let secret = minted.secret.secret().expose_secret().to_owned();
    let content = html! {
        p class="warning" role="alert" { strong { "Copy this token now. It will not be shown again." } " Store it where its user reads secrets (a secrets manager, your CI's secret store)." }
        div class="field" {
            label for="secret" { "Token " code { (minted.token.display_prefix) } }
            // A text area, wrapped anywhere: the whole token is seen at any width (it is 123
            // characters long), a phone's included.
            textarea id="secret" class="secret" readonly rows="4" autocomplete="off" spellcheck="false" { (secret) }
            button type="button" class="copy" data-copy="secret" { "Copy" }
            span class="copied" aria-live="polite" {}
        }
        dl class="facts" {
            dt { "Name" } dd { (minted.token.name.as_str()) }
            dt { "Expires" } dd { @if minted.token.expires_at.is_some() { (when(minted.token.expires_at)) } @else { "never" } }
            dt { "Scopes" } dd { (minted.token.scopes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) }
        }
        p { a href=(back) { "Done" } }
    };
    org_page(signed, StatusCode::CREATED, title, content)
}

#[derive(Debug, Deserialize)]
pub struct AccountTokenPath {
    #[allow(dead_code)]
    org: String,
    id: String,
    tid: String,
}

#[derive(Debug, Deserialize)]
pub struct OrgTokenPath {
    #[allow(dead_code)]
    org: String,
    tid: String,
}

fn owner_of(signed: &Signed, id: &str) -> Result<(TokenOwner, String), ApiError> {
    let id = ServiceAccountId::parse(id).map_err(|_| ApiError::NotFound("service account"))?;
    let back = signed.frame().org_url(&format!("/service-accounts/{id}"));
    Ok((TokenOwner::Account(id), back))
}

/// The token a posted change is for, once the form may change it (CSRF, admin role).
fn token_to_change(signed: &Signed, tid: &str, form: &Form) -> Result<TokenId, ApiError> {
    signed.may_change(form)?;
    TokenId::parse(tid).map_err(|_| ApiError::NotFound("token"))
}

async fn mint(
    state: &ConsoleState,
    signed: &Signed,
    owner: TokenOwner,
    back: &str,
    form: Form,
) -> Response {
    if let Err(error) = signed.may_change(&form) {
        return fail(signed, error);
    }
    let minted = async {
        let request = api_body::<tokens::dto::MintToken>(mint_json(&form))?.validate()?;
        Ok::<_, ApiError>(
            state
                .accounts
                .admin
                .use_cases
                .mint_token(&signed.caller, &signed.org, &owner, request)
                .await?,
        )
    }
    .await;
    match minted {
        Ok(minted) => secret_page(signed, &minted, back, "Your new token"),
        Err(error) => match (field_errors_of(&error), &owner) {
            (Some(errors), TokenOwner::Account(id)) => {
                render_detail(
                    state,
                    signed,
                    id,
                    &form,
                    &errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            (Some(errors), TokenOwner::Org) => {
                render_org_tokens(
                    state,
                    signed,
                    &form,
                    &errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            (None, _) => fail(signed, error),
        },
    }
}

/// `POST .../service-accounts/{id}/tokens`
pub async fn mint_for_account(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<AccountPath>,
    form: Form,
) -> Response {
    match owner_of(&signed, &path.id) {
        Ok((owner, back)) => mint(&state, &signed, owner, &back, form).await,
        Err(error) => fail(&signed, error),
    }
}

/// `POST .../service-tokens`
pub async fn mint_org_token(
    State(state): State<ConsoleState>,
    signed: Signed,
    form: Form,
) -> Response {
    let back = signed.frame().org_url("/service-tokens");
    mint(&state, &signed, TokenOwner::Org, &back, form).await
}

async fn revoke(
    state: &ConsoleState,
    signed: &Signed,
    owner: &TokenOwner,
    tid: &str,
    back: &str,
    form: &Form,
) -> Response {
    let id = match token_to_change(signed, tid, form) {
        Ok(id) => id,
        Err(error) => return fail(signed, error),
    };
    match state
        .accounts
        .admin
        .use_cases
        .revoke_token(&signed.caller, &signed.org.id, owner, &id)
        .await
    {
        Ok(()) => see_other(back, &[]),
        Err(error) => fail(signed, error),
    }
}

async fn rotate(
    state: &ConsoleState,
    signed: &Signed,
    owner: &TokenOwner,
    tid: &str,
    back: &str,
    form: &Form,
) -> Response {
    let id = match token_to_change(signed, tid, form) {
        Ok(id) => id,
        Err(error) => return fail(signed, error),
    };
    let grace = form
        .get("gracePeriodSeconds")
        .and_then(|seconds| seconds.parse::<i64>().ok())
        .map(time::Duration::seconds);
    let Some(grace) = grace else {
        return fail(
            signed,
            ApiError::invalid("gracePeriodSeconds", "a number of seconds"),
        );
    };
    match state
        .accounts
        .admin
        .use_cases
        .rotate_token(&signed.caller, &signed.org, owner, &id, grace)
        .await
    {
        Ok(minted) => secret_page(signed, &minted, back, "The rotated token"),
        Err(error) => fail(signed, error),
    }
}

/// `POST .../service-accounts/{id}/tokens/{tid}/revoke`
pub async fn revoke_account_token(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<AccountTokenPath>,
    form: Form,
) -> Response {
    match owner_of(&signed, &path.id) {
        Ok((owner, back)) => revoke(&state, &signed, &owner, &path.tid, &back, &form).await,
        Err(error) => fail(&signed, error),
    }
}

/// `POST .../service-accounts/{id}/tokens/{tid}/rotate`
pub async fn rotate_account_token(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<AccountTokenPath>,
    form: Form,
) -> Response {
    match owner_of(&signed, &path.id) {
        Ok((owner, back)) => rotate(&state, &signed, &owner, &path.tid, &back, &form).await,
        Err(error) => fail(&signed, error),
    }
}

/// `POST .../service-tokens/{tid}/revoke`
pub async fn revoke_org_token(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<OrgTokenPath>,
    form: Form,
) -> Response {
    let back = signed.frame().org_url("/service-tokens");
    revoke(&state, &signed, &TokenOwner::Org, &path.tid, &back, &form).await
}

/// `POST .../service-tokens/{tid}/rotate`
pub async fn rotate_org_token(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<OrgTokenPath>,
    form: Form,
) -> Response {
    let back = signed.frame().org_url("/service-tokens");
    rotate(&state, &signed, &TokenOwner::Org, &path.tid, &back, &form).await
}

/// `POST .../service-accounts/{id}/tokens/revoke-all`
pub async fn revoke_all(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<AccountPath>,
    form: Form,
) -> Response {
    if let Err(error) = signed.may_change(&form) {
        return fail(&signed, error);
    }
    let (owner, back) = match owner_of(&signed, &path.id) {
        Ok(found) => found,
        Err(error) => return fail(&signed, error),
    };
    match state
        .accounts
        .admin
        .use_cases
        .revoke_all_tokens(&signed.caller, &signed.org.id, &owner)
        .await
    {
        Ok(_) => see_other(&back, &[]),
        Err(error) => fail(&signed, error),
    }
}

/// `GET .../service-tokens`
pub async fn org_tokens(State(state): State<ConsoleState>, signed: Signed) -> Response {
    render_org_tokens(&state, &signed, &Form::default(), &[], StatusCode::OK).await
}

async fn render_org_tokens(
    state: &ConsoleState,
    signed: &Signed,
    form: &Form,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    let use_cases = &state.accounts.admin.use_cases;
    let tokens = match use_cases
        .list_tokens(
            &signed.org.id,
            &TokenListScope::Owner(TokenOwner::Org),
            PageLimit::FULL,
            None,
        )
        .await
    {
        Ok(page) => page.items,
        Err(error) => return fail(signed, error),
    };
    let here = signed.frame().org_url("/service-tokens");
    let content = html! {
        p { "Org-wide tokens belong to the organization, not to an account: each holds exactly its scopes." }
        (token_table(signed, &tokens, &here, use_cases.now()))
        @if signed.is_admin() { (mint_form(signed, &here, form, errors, true)) }
    };
    org_page(signed, status, "Org-wide tokens", content)
}

#[derive(Debug, Default, Deserialize)]
pub struct CursorQuery {
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET .../tokens`: every token of the organization.
pub async fn all_tokens(
    State(state): State<ConsoleState>,
    signed: Signed,
    Query(query): Query<CursorQuery>,
) -> Response {
    let use_cases = &state.accounts.admin.use_cases;
    let page = match use_cases
        .list_tokens(
            &signed.org.id,
            &TokenListScope::All,
            PageLimit::default(),
            query.cursor.as_deref(),
        )
        .await
    {
        Ok(page) => page,
        Err(error) => return fail(&signed, error),
    };
    let frame = signed.frame();
    let now = use_cases.now();
    let content = html! {
        @if page.items.is_empty() { p { "No tokens." } } @else {
            table {
                caption { "Every token of the organization" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Owner" } th scope="col" { "Prefix" }
                    th scope="col" { "Status" } th scope="col" { "Expires" } th scope="col" { "Last used" }
                } }
                tbody {
                    @for token in &page.items {
                        tr {
                            td { (token.name.as_str()) }
                            td {
                                @match &token.account {
                                    Some(account) => a href=(frame.org_url(&format!("/service-accounts/{account}"))) { code { (account.as_str()) } },
                                    None => a href=(frame.org_url("/service-tokens")) { "the organization" },
                                }
                            }
                            td { code { (token.display_prefix) } }
                            td { (badge(&name_of(&token.status(now)))) }
                            td { @if token.expires_at.is_some() { (when(token.expires_at)) } @else { "never" } }
                            td { (when(token.last_used_at)) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &page.next_cursor {
            p { a rel="next" href=(format!("{}?{}", frame.org_url("/tokens"), form_urlencoded::Serializer::new(String::new()).append_pair("cursor", next).finish())) { "Next page" } }
        }
    };
    org_page(&signed, StatusCode::OK, "All tokens", content)
}
