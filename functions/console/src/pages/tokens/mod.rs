//! Tokens: minting one (the secret then shown once on [`reveal`]'s page), revoke, rotate and
//! revoke all (each confirmed first when it stops something working), the org-wide tokens,
//! every token of the organization with its filters ([`all`]), and the bulk revoke
//! ([`bulk`]). An
//! owner's table and the mint form are [`crate::parts::tokens`].

pub mod all;
pub mod bulk;
pub mod reveal;

pub use all::all_tokens;
pub use bulk::revoke_selected;
pub use reveal::new_token;

use admin_api::problem::{ApiError, FieldError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use shared::ids::{ServiceAccountId, TokenId};
use shared::model::Token;
use shared::token::TokenOwner;
use usecases::{PageLimit, TokenListScope};

use crate::ConsoleState;
use crate::parts::account::{AccountPath, render_detail};
use crate::parts::confirm::{Ask, ask, confirmed};
use crate::parts::tokens::{mint_form, mint_json, token_label, token_table};
use crate::parts::words::in_words;
use crate::parts::{api_body, fail, field_errors_of, org_page};
use crate::signin::{Form, Signed};
use crate::views::{done, see_other};

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

/// A token's owner, where its list is, and the path its tokens hang from.
struct Owner {
    owner: TokenOwner,
    back: String,
    tokens: String,
}

fn account_owner(signed: &Signed, id: &str) -> Result<Owner, ApiError> {
    let id = ServiceAccountId::parse(id).map_err(|_| ApiError::NotFound("service account"))?;
    let back = signed.frame().org_url(&format!("/service-accounts/{id}"));
    Ok(Owner {
        owner: TokenOwner::Account(id),
        tokens: format!("{back}/tokens"),
        back,
    })
}

fn org_owner(signed: &Signed) -> Owner {
    let back = signed.frame().org_url("/service-tokens");
    Owner {
        owner: TokenOwner::Org,
        tokens: back.clone(),
        back,
    }
}

/// The token a posted change is for, once the form may change it (CSRF, admin role).
fn token_to_change(signed: &Signed, tid: &str, form: &Form) -> Result<TokenId, ApiError> {
    signed.may_change(form)?;
    TokenId::parse(tid).map_err(|_| ApiError::NotFound("token"))
}

/// The confirmation page of `change` (`revoke`, `rotate`) to the token `id`, which names it
/// as stored: the only read a change adds (the confirmed post goes straight to the use case).
async fn ask_about(
    state: &ConsoleState,
    signed: &Signed,
    owner: &Owner,
    (change, id): (&str, &TokenId),
    form: &Form,
    question: impl FnOnce(&Token) -> (String, &'static str, &'static str),
) -> Response {
    let token = match state
        .accounts
        .admin
        .use_cases
        .token(&signed.org.id, &owner.owner, id)
        .await
    {
        Ok(token) => token,
        Err(error) => return fail(signed, error),
    };
    let (title, consequence, button) = question(&token);
    let action = format!("{}/{id}/{change}", owner.tokens);
    let question = Ask {
        title,
        consequence: consequence.into(),
        button,
        action: &action,
        back: &owner.back,
    };
    ask(signed, &question, form)
}

async fn mint(state: &ConsoleState, signed: &Signed, owner: TokenOwner, form: Form) -> Response {
    if let Err(error) = signed.may_change(&form) {
        return fail(signed, error);
    }
    let minted = async {
        let request = api_body::<tokens::dto::MintToken>(mint_json(&form)?)?.validate()?;
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
        Ok(minted) => reveal::reveal(state, signed, &minted, false),
        // The refusal in people's words, next to the field, what was typed kept.
        Err(error) => match (
            field_errors_of(&error).map(|errors| in_words(errors, &form)),
            &owner,
        ) {
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
    match account_owner(&signed, &path.id) {
        Ok(owner) => mint(&state, &signed, owner.owner, form).await,
        Err(error) => fail(&signed, error),
    }
}

/// `POST .../service-tokens`
pub async fn mint_org_token(
    State(state): State<ConsoleState>,
    signed: Signed,
    form: Form,
) -> Response {
    mint(&state, &signed, TokenOwner::Org, form).await
}

async fn revoke(
    state: &ConsoleState,
    signed: &Signed,
    owner: &Owner,
    tid: &str,
    form: &Form,
) -> Response {
    let id = match token_to_change(signed, tid, form) {
        Ok(id) => id,
        Err(error) => return fail(signed, error),
    };
    if !confirmed(form) {
        return ask_about(state, signed, owner, ("revoke", &id), form, |token| {
            (
                format!("Revoke {}?", token_label(token)),
                "The token stops working on its next request, wherever it is used. A \
                 revocation cannot be undone: its user needs a new token.",
                "Revoke the token",
            )
        })
        .await;
    }
    match state
        .accounts
        .admin
        .use_cases
        .revoke_token(&signed.caller, &signed.org.id, &owner.owner, &id)
        .await
    {
        Ok(()) => see_other(&done(&owner.back, "token-revoked"), &[]),
        Err(error) => fail(signed, error),
    }
}

async fn rotate(
    state: &ConsoleState,
    signed: &Signed,
    owner: &Owner,
    tid: &str,
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
            ApiError::invalid("gracePeriodSeconds", "Choose a grace period."),
        );
    };
    if grace.is_zero() && !confirmed(form) {
        return ask_about(state, signed, owner, ("rotate", &id), form, |token| {
            (
                format!("Rotate {} with no grace period?", token_label(token)),
                "The old token stops working now: whatever uses it fails until it has the \
                 new token. Choose a grace period instead to switch over without a break.",
                "Rotate now",
            )
        })
        .await;
    }
    match state
        .accounts
        .admin
        .use_cases
        .rotate_token(&signed.caller, &signed.org, &owner.owner, &id, grace)
        .await
    {
        Ok(minted) => reveal::reveal(state, signed, &minted, true),
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
    match account_owner(&signed, &path.id) {
        Ok(owner) => revoke(&state, &signed, &owner, &path.tid, &form).await,
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
    match account_owner(&signed, &path.id) {
        Ok(owner) => rotate(&state, &signed, &owner, &path.tid, &form).await,
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
    revoke(&state, &signed, &org_owner(&signed), &path.tid, &form).await
}

/// `POST .../service-tokens/{tid}/rotate`
pub async fn rotate_org_token(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<OrgTokenPath>,
    form: Form,
) -> Response {
    rotate(&state, &signed, &org_owner(&signed), &path.tid, &form).await
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
    let owner = match account_owner(&signed, &path.id) {
        Ok(owner) => owner,
        Err(error) => return fail(&signed, error),
    };
    let use_cases = &state.accounts.admin.use_cases;
    if !confirmed(&form) {
        let TokenOwner::Account(id) = &owner.owner else {
            return fail(&signed, ApiError::NotFound("service account"));
        };
        let account = match use_cases.account(&signed.org.id, id).await {
            Ok(account) => account,
            Err(error) => return fail(&signed, error),
        };
        let action = format!("{}/revoke-all", owner.tokens);
        let question = Ask {
            title: format!("Revoke every token of {}?", account.name.as_str()),
            consequence: "Every token of the account stops working on its next request. The \
                          account stays: mint new tokens when its users are ready for them."
                .into(),
            button: "Revoke every token",
            action: &action,
            back: &owner.back,
        };
        return ask(&signed, &question, &form);
    }
    match use_cases
        .revoke_all_tokens(&signed.caller, &signed.org.id, &owner.owner)
        .await
    {
        Ok(_) => see_other(&done(&owner.back, "all-revoked"), &[]),
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
