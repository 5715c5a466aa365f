//! Tokens: an owner's table (revoke, rotate), the mint form, the page that shows a new secret
//! once (never cached, with a copy button), revoke all, the org-wide tokens and every token
//! of the organization.

use admin_api::problem::{ApiError, FieldError};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use shared::ids::{ServiceAccountId, TokenId};
use shared::model::{Token, TokenStatus};
use shared::policy::LifetimePreset;
use shared::token::TokenOwner;
use store::{PageLimit, TokenListScope};
use time::OffsetDateTime;
use usecases::tokens::Minted;

use super::{api_body, badge, fail, field_errors_of, form_errors, org_page};
use crate::ConsoleState;
use crate::signin::{Form, Signed};
use crate::views::{csrf_field, described_by, field_errors, name_of, see_other, when};

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

fn mint_json(form: &Form) -> serde_json::Value {
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

/// The page that shows a new token's secret, once: not cached, not kept anywhere.
fn secret_page(signed: &Signed, minted: &Minted, back: &str, title: &str) -> Response {
    let secret = minted.secret.secret().expose_secret().to_owned();
    let content = html! {
        p class="warning" role="alert" { strong { "Copy this token now. It will not be shown again." } " Store it where its user reads secrets (a secrets manager, your CI's secret store)." }
        div class="field" {
            label for="secret" { "Token " code { (minted.token.display_prefix) } }
            input id="secret" class="secret" readonly value=(secret) autocomplete="off" spellcheck="false";
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
pub struct AccountPath {
    #[allow(dead_code)]
    org: String,
    id: String,
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
                super::accounts::render_detail(
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
