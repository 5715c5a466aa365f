//! The page that shows a new token's secret once. The mint (or rotation) is a `POST` that
//! seals the secret into a short-lived cookie for this session and redirects here
//! (post/redirect/get); this page reads it and forgets it, so a reload says "already shown"
//! and never mints another token.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use maud::html;
use shared::ids::{ServiceAccountId, TokenId};
use shared::model::{Token, TokenStatus};
use shared::token::TokenOwner;
use usecases::tokens::Minted;

use crate::ConsoleState;
use crate::parts::{fail, org_page};
use crate::session::{REVEAL_LIFETIME, Reveal};
use crate::signin::Signed;
use crate::views::{see_other, when};

/// The answer to a mint or a rotation: the secret sealed for this session, and a redirect to
/// the page that shows it.
pub fn reveal(state: &ConsoleState, signed: &Signed, minted: &Minted, rotated: bool) -> Response {
    let now = state.accounts.admin.use_cases.now();
    let sealed = Reveal {
        org: signed.org.id.to_string(),
        csrf: signed.session.csrf.clone(),
        token: minted.token.id.to_string(),
        account: minted.token.account.as_ref().map(ToString::to_string),
        secret: minted.secret.secret().expose_secret().to_owned(),
        rotated,
        expires: (now + REVEAL_LIFETIME).unix_timestamp(),
    };
    let cookie = state.config.sessions.start_reveal(&sealed);
    see_other(&signed.frame().org_url("/tokens/new"), &[cookie])
}

fn back_to(signed: &Signed, token: &Token) -> String {
    match &token.account {
        Some(account) => signed
            .frame()
            .org_url(&format!("/service-accounts/{account}")),
        None => signed.frame().org_url("/service-tokens"),
    }
}

/// `GET .../tokens/new`
pub async fn new_token(
    State(state): State<ConsoleState>,
    signed: Signed,
    headers: HeaderMap,
) -> Response {
    let use_cases = &state.accounts.admin.use_cases;
    let now = use_cases.now();
    let Some(sealed) = state.config.sessions.reveal(&headers, &signed.session, now) else {
        let content = html! {
            p { "A token's secret is shown once, on the page right after it is made, and is not kept anywhere: reloading that page cannot show it again." }
            p { "If it was not copied, revoke that token and mint a new one." }
            p { a href=(signed.frame().org_url("/tokens")) { "All tokens" } }
        };
        return org_page(&signed, StatusCode::OK, "Token already shown", content);
    };
    let owner = match sealed.account.as_deref().map(ServiceAccountId::parse) {
        None => TokenOwner::Org,
        Some(Ok(account)) => TokenOwner::Account(account),
        Some(Err(_)) => return fail(&signed, admin_api::problem::ApiError::NotFound("token")),
    };
    let token = match TokenId::parse(&sealed.token) {
        Ok(id) => use_cases.token(&signed.org.id, &owner, &id).await,
        Err(_) => return fail(&signed, admin_api::problem::ApiError::NotFound("token")),
    };
    let token = match token {
        Ok(token) => token,
        Err(error) => return fail(&signed, error),
    };
    let replaced = match (&token.rotated_from, sealed.rotated) {
        (Some(previous), true) => use_cases.token(&signed.org.id, &owner, previous).await.ok(),
        _ => None,
    };
    let back = back_to(&signed, &token);
    let title = if sealed.rotated {
        "The rotated token"
    } else {
        "Your new token"
    };
    let content = html! {
        p class="warning" role="alert" { strong { "Copy this token now. It will not be shown again." } " Store it where its user reads secrets (a secrets manager, your CI's secret store)." }
        div class="field" {
            label for="secret" { "Token " code { (token.display_prefix) } }
            // A text area, wrapped anywhere: the whole token is seen at any width (it is 123
            // characters long), a phone's included.
            textarea id="secret" class="secret" readonly rows="4" autocomplete="off" spellcheck="false" { (sealed.secret) }
            button type="button" class="copy" data-copy="secret" { "Copy" }
            span class="copied" aria-live="polite" {}
        }
        @if let Some(old) = &replaced {
            p id="old-token" {
                "The token it replaces, " code { (old.display_prefix) } ", "
                @if old.status(now) == TokenStatus::Active {
                    "keeps working until " (when(old.revoked_at)) ", then stops: put the new token in place before then."
                } @else {
                    "stopped working at once (no grace period)."
                }
            }
        }
        dl class="facts" {
            dt { "Name" } dd { (token.name.as_str()) }
            dt { "Expires" } dd { @if token.expires_at.is_some() { (when(token.expires_at)) } @else { "never" } }
            dt { "Scopes" } dd { (token.scopes.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) }
        }
        p { a href=(format!("{back}#token-{}", token.id)) { "Done" } }
    };
    let mut response = org_page(&signed, StatusCode::OK, title, content);
    if let Ok(value) = HeaderValue::from_str(&state.config.sessions.end_reveal()) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}
