//! Signing in and out, and who is signed in ([`Signed`]).
//!
//! A person picks their organization, then one of its providers that has a console client
//! (`consoleClientId`); the console sends them there with an authorization code request
//! (PKCE `S256`, `state`, `nonce`: [`oidc::signin`]) and keeps the pending values in a sealed
//! cookie; the provider sends them back to `/console/callback`, where the code is exchanged,
//! the ID token verified against the organization's providers (the rules of the admin API),
//! and the session starts. No token is kept: the session holds who the person is.
//!
//! This module holds the pages every sign-in starts from (the organization, its sign-in page)
//! and signing out; `provider` the sign-in through the identity provider, `token` the
//! sign-in with an admin token, `signed` who a request's session is, `form` the form bodies
//! every page posts.

mod form;
mod provider;
mod signed;
mod token;

pub use form::Form;
pub use provider::{CallbackQuery, callback, start};
pub use signed::Signed;
pub use token::token_sign_in;

use admin_api::meta::RequestMeta;
use admin_api::problem::ApiError;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use shared::ids::OrgId;

use self::token::token_form;
use crate::ConsoleState;
use crate::session::csrf_matches;
use crate::views::{Frame, error_page, page, respond, see_other};

fn frame(meta: &RequestMeta) -> Frame<'_> {
    Frame {
        base: &meta.base_path,
        org: None,
        who: None,
        csrf: None,
        notice: None,
    }
}

#[derive(Debug, Deserialize)]
pub struct OrgQuery {
    #[serde(default)]
    org: Option<String>,
}

/// `GET /console`: the organization to sign in to (or the signed-in one).
pub async fn landing(
    State(state): State<ConsoleState>,
    meta: RequestMeta,
    headers: HeaderMap,
) -> Response {
    let frame = frame(&meta);
    let now = state.accounts.admin.use_cases.now();
    if let Some(session) = state.config.sessions.session(&headers, now) {
        return see_other(
            &frame.url(&format!("/orgs/{}/service-accounts", session.org)),
            &[],
        );
    }
    respond(
        StatusCode::OK,
        page(&frame, "Sign in", org_form(&frame, "", None)),
    )
}

/// The organization id form of `GET /console`, with what was typed and, when the server
/// refused it, why, next to the field. The pattern is the id's rule, valid under the `v` flag
/// browsers apply to `pattern` (no bare `-` in a class), so a browser refuses a bad id before
/// it is sent.
fn org_form(frame: &Frame<'_>, typed: &str, error: Option<&str>) -> Markup {
    html! {
        form method="get" action=(frame.url("/sign-in")) {
            div class="field" {
                label for="org" { "Organization id" }
                @if let Some(error) = error {
                    p id="org-error" class="field-error" { (error) }
                    input id="org" name="org" value=(typed) required autocomplete="organization"
                        minlength=(OrgId::MIN_LEN) maxlength=(OrgId::MAX_LEN) pattern=(ORG_PATTERN)
                        aria-invalid="true" aria-describedby="org-error";
                } @else {
                    input id="org" name="org" value=(typed) required autocomplete="organization"
                        minlength=(OrgId::MIN_LEN) maxlength=(OrgId::MAX_LEN) pattern=(ORG_PATTERN)
                        aria-describedby="org-rule";
                }
                p id="org-rule" class="muted" { "Lowercase letters, digits and single hyphens, 3 to 32 characters." }
            }
            button type="submit" { "Continue" }
        }
    }
}

/// [`OrgId`]'s rule as an HTML `pattern` (the length is `minlength` and `maxlength`).
const ORG_PATTERN: &str = "[a-z0-9]+(-[a-z0-9]+)*";

/// `GET /console/sign-in?org=`: a button to sign in with the organization's identity provider,
/// and the admin token form. The page is the same for every organization id, whether it
/// exists, has providers or not: like the admin API, it tells no one which organizations
/// exist, nor which provider an organization uses (the provider is chosen once the person
/// asks to sign in).
pub async fn providers(
    State(state): State<ConsoleState>,
    meta: RequestMeta,
    Query(query): Query<OrgQuery>,
) -> Response {
    let frame = frame(&meta);
    let form_csrf = match shared::random::base62_string(32) {
        Ok(csrf) => csrf,
        Err(error) => return error_page(&frame, &ApiError::internal("csrf", &error)),
    };
    let typed = query.org.as_deref().unwrap_or_default();
    let org = match OrgId::parse(typed) {
        Ok(org) => org,
        // Refused in the form, with what was typed (a browser that checked the pattern never
        // sends one).
        Err(error) => {
            let reason = format!("{}.", capitalized(&error.to_string()));
            return respond(
                StatusCode::BAD_REQUEST,
                page(&frame, "Sign in", org_form(&frame, typed, Some(&reason))),
            );
        }
    };
    let now = state.accounts.admin.use_cases.now();
    let mut response = respond(
        StatusCode::OK,
        page(
            &frame,
            &format!("Sign in to {org}"),
            html! {
                form id="provider-sign-in" method="post" action=(frame.url("/sign-in/start")) {
                    input type="hidden" name="csrf" value=(form_csrf);
                    input type="hidden" name="org" value=(org.as_str());
                    button type="submit" { "Sign in with your organization's identity provider" }
                }
                (token_form(&frame, &org, &form_csrf))
            },
        ),
    );
    if let Ok(value) = state.config.sessions.start_form(&form_csrf, now).parse() {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
    if let Ok(policy) = crate::views::CSP
        .replace("form-action 'self'", state.config.sign_in_form_action())
        .parse()
    {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// `POST /console/sign-out`.
pub async fn sign_out(
    State(state): State<ConsoleState>,
    meta: RequestMeta,
    request: Request,
) -> Response {
    let frame = frame(&meta);
    let now = state.accounts.admin.use_cases.now();
    let (parts, body) = request.into_parts();
    let session = state.config.sessions.session(&parts.headers, now);
    let form = match Form::from_request(Request::from_parts(parts, body), &()).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    if let Some(session) = &session
        && !csrf_matches(session, form.get("csrf"))
    {
        return error_page(
            &frame,
            &ApiError::Forbidden("the form is stale: reload the page"),
        );
    }
    see_other(&frame.url("/"), &[state.config.sessions.end()])
}

/// `text` with its first letter in upper case: a rule of the domain as a sentence.
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
