//! The bulk revoke of selected tokens (from any token list): confirmed first, then each
//! token revoked by its own use-case call, so each is its own `token.revoked` event; the
//! ones that fail are listed, the others stay revoked.

use admin_api::problem::ApiError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use shared::ids::{ServiceAccountId, TokenId};
use shared::token::TokenOwner;

use crate::ConsoleState;
use crate::parts::confirm::{Ask, ask, confirmed};
use crate::parts::tokens::token_label;
use crate::parts::{fail, org_page};
use crate::signin::{Form, Signed};
use crate::views::{done, see_other};

/// At most this many tokens revoked in one bulk action.
pub const BULK_BOUND: usize = 100;

/// A selected token: `<account id>:<token id>` or `org:<token id>`.
fn parse_selected(value: &str) -> Option<(TokenOwner, TokenId)> {
    let (owner, id) = value.split_once(':')?;
    let owner = match owner {
        "org" => TokenOwner::Org,
        account => TokenOwner::Account(ServiceAccountId::parse(account).ok()?),
    };
    Some((owner, TokenId::parse(id).ok()?))
}

/// Where a bulk action's list was: `all`, `org` or `account:<id>`.
fn list_url(signed: &Signed, from: Option<&str>) -> String {
    let frame = signed.frame();
    match from.and_then(|from| from.strip_prefix("account:")) {
        Some(id) if ServiceAccountId::parse(id).is_ok() => {
            frame.org_url(&format!("/service-accounts/{id}"))
        }
        _ if from == Some("org") => frame.org_url("/service-tokens"),
        _ => frame.org_url("/tokens"),
    }
}

/// `POST .../tokens/revoke-selected`: the selected tokens revoked, once confirmed; each
/// revocation is its own use case call and audit event.
pub async fn revoke_selected(
    State(state): State<ConsoleState>,
    signed: Signed,
    form: Form,
) -> Response {
    if let Err(error) = signed.may_change(&form) {
        return fail(&signed, error);
    }
    let back = list_url(&signed, form.get("from"));
    let values = form.all("token");
    if values.is_empty() {
        return see_other(&done(&back, "nothing-selected"), &[]);
    }
    if values.len() > BULK_BOUND {
        return fail(
            &signed,
            ApiError::invalid(
                "token",
                format!("Select at most {BULK_BOUND} tokens at a time."),
            ),
        );
    }
    let Some(selected) = values
        .iter()
        .map(|value| parse_selected(value))
        .collect::<Option<Vec<_>>>()
    else {
        return fail(&signed, ApiError::NotFound("token"));
    };
    let use_cases = &state.accounts.admin.use_cases;
    let mut found = Vec::with_capacity(selected.len());
    for (owner, id) in &selected {
        match use_cases.token(&signed.org.id, owner, id).await {
            Ok(token) => found.push((owner, token)),
            Err(error) => return fail(&signed, error),
        }
    }
    if !confirmed(&form) {
        let names: Vec<String> = found.iter().map(|(_, token)| token_label(token)).collect();
        let action = signed.frame().org_url("/tokens/revoke-selected");
        let question = Ask {
            title: format!("Revoke {} selected tokens?", found.len()),
            consequence: format!(
                "These tokens stop working on their next request: {}. A revocation cannot be \
                 undone.",
                names.join(", ")
            ),
            button: "Revoke the selected tokens",
            action: &action,
            back: &back,
        };
        return ask(&signed, &question, &form);
    }
    let mut failed = Vec::new();
    for (owner, token) in &found {
        if let Err(error) = use_cases
            .revoke_token(&signed.caller, &signed.org.id, owner, &token.id)
            .await
        {
            failed.push((token_label(token), ApiError::from(error).detail()));
        }
    }
    if failed.is_empty() {
        return see_other(&done(&back, "tokens-revoked"), &[]);
    }
    let content = html! {
        p role="alert" { "These tokens were not revoked (the others were):" }
        ul { @for (label, why) in &failed { li { (label) ": " (why) } } }
        p { a href=(back) { "Back to the list" } }
    };
    org_page(
        &signed,
        StatusCode::CONFLICT,
        "Some tokens were not revoked",
        content,
    )
}
