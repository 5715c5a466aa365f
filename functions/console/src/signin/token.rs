//! Signing in with an admin token of the organization: its form on the sign-in page, the
//! sign-in itself (the token verified by the one verification path, the session keeping its
//! id and never its secret), and the caller such a session is on each later request.

use std::sync::Arc;

use admin_api::meta::RequestMeta;
use admin_api::problem::ApiError;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use maud::html;
use shared::ids::OrgId;
use shared::model::Organization;
use shared::people::PersonRole;
use usecases::{Caller, Identity, UseCaseError};

use super::{Form, frame};
use crate::ConsoleState;
use crate::session::{SESSION_LIFETIME, Session, Who};
use crate::views::{Frame, error_page, see_other};

/// The admin token form of the sign-in page.
pub(super) fn token_form(frame: &Frame<'_>, org: &OrgId, csrf: &str) -> maud::Markup {
    html! {
        section aria-labelledby="token-heading" {
            h2 id="token-heading" { "Or sign in with an admin token" }
            form method="post" action=(frame.url("/sign-in/token")) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="org" value=(org.as_str());
                div class="field" {
                    label for="token" { "Admin token of " (org.as_str()) }
                    input id="token" name="token" type="password" autocomplete="off" required;
                }
                button type="submit" { "Sign in" }
            }
            p class="muted" { "The token is checked and forgotten: the session remembers which token it was, never the token." }
        }
    }
}

/// `POST /console/sign-in/token`: an admin token of the organization, verified by the one
/// verification path; the session keeps its id, never its secret, and lasts at most as long
/// as the token.
pub async fn token_sign_in(
    State(state): State<ConsoleState>,
    meta: RequestMeta,
    headers: HeaderMap,
    form: Form,
) -> Response {
    let frame = frame(&meta);
    let admin = &state.accounts.admin;
    let now = admin.use_cases.now();
    if !state
        .config
        .sessions
        .form_matches(&headers, form.get("csrf"), now)
    {
        return error_page(
            &frame,
            &ApiError::Forbidden("the sign-in form is stale: reload the page"),
        );
    }
    let Some(org) = form.get("org").and_then(|org| OrgId::parse(org).ok()) else {
        return error_page(&frame, &ApiError::invalid("org", "an organization id"));
    };
    let secret =
        shared::token::TokenSecret::new(form.get("token").unwrap_or_default().trim().to_owned());
    let verified = match admin.verifier.verify(secret, meta.source_ip).await {
        Ok(verified) => verified,
        Err(usecases::verify::VerifyError::Unavailable(error)) => {
            return error_page(&frame, &error.into());
        }
        Err(usecases::verify::VerifyError::Denied(denial)) => {
            tracing::info!(%denial, "console: a token sign-in was refused");
            return error_page(&frame, &ApiError::Unauthenticated);
        }
    };
    admin.verifier.note_use(&verified).await;
    if verified.principal.org != org {
        return error_page(&frame, &ApiError::Unauthenticated);
    }
    let caller = Caller::new(
        Identity::Token(verified.principal.clone()),
        meta.source_ip,
        meta.user_agent.as_deref(),
        meta.request_id.as_deref(),
    );
    if let Err(error) = caller.require_admin(&org) {
        return error_page(&frame, &error.into());
    }
    let end = verified.token_end().map_or(now + SESSION_LIFETIME, |end| {
        end.min(now + SESSION_LIFETIME)
    });
    let csrf = match shared::random::base62_string(32) {
        Ok(csrf) => csrf,
        Err(error) => return error_page(&frame, &ApiError::internal("csrf", &error)),
    };
    let session = Session {
        org: org.to_string(),
        who: Who::Token {
            token: verified.principal.token_id.to_string(),
            account: verified.principal.account.as_ref().map(ToString::to_string),
        },
        csrf,
        expires: end.unix_timestamp(),
    };
    tracing::info!(%org, token = %verified.display_prefix, "signed in to the console with a token");
    let Some(cookie) = state.config.sessions.start(&session) else {
        return error_page(&frame, &ApiError::Internal);
    };
    see_other(
        &frame.url(&format!("/orgs/{org}/service-accounts")),
        &[cookie],
    )
}

/// The caller a token session is now: its token, account and organization read again and
/// checked by the rules of the one verification path ([`shared::authn::admit`]), but for the
/// secret, which was checked at sign-in; and still an admin.
pub(super) async fn token_caller(
    state: &ConsoleState,
    org: &Organization,
    token: &str,
    account: Option<&str>,
    meta: &RequestMeta,
) -> Result<(Caller, PersonRole, String), ApiError> {
    use shared::authn::{AuthorizationRecords, TokenClaim, admit};
    use shared::ids::{ServiceAccountId, TokenId};
    use shared::token::TokenOwner;
    let use_cases = &state.accounts.admin.use_cases;
    let id = TokenId::parse(token).map_err(|_| ApiError::Unauthenticated)?;
    let owner = match account {
        Some(account) => TokenOwner::Account(
            ServiceAccountId::parse(account).map_err(|_| ApiError::Unauthenticated)?,
        ),
        None => TokenOwner::Org,
    };
    let record = match use_cases.token(&org.id, &owner, &id).await {
        Ok(record) => record,
        Err(UseCaseError::NotFound(_)) => return Err(ApiError::Unauthenticated),
        Err(error) => return Err(error.into()),
    };
    let account_record = match &owner {
        TokenOwner::Account(account) => use_cases.stored_account(&org.id, account).await?,
        TokenOwner::Org => None,
    };
    let display = format!("admin token {}", record.display_prefix);
    let records = AuthorizationRecords {
        org: Some(Arc::new(org.clone())),
        account: account_record.map(Arc::new),
        token: Some(record),
    };
    let claim = TokenClaim {
        id: &id,
        org: &org.id,
        owner: &owner,
    };
    let principal = admit(&claim, &records, meta.source_ip, use_cases.now())?;
    let caller = Caller::new(
        Identity::Token(principal),
        meta.source_ip,
        meta.user_agent.as_deref(),
        meta.request_id.as_deref(),
    );
    caller.require_admin(&org.id)?;
    Ok((caller, PersonRole::Admin, display))
}
