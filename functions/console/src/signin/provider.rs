//! Signing in through the organization's identity provider: the authorization code flow
//! from the console's side. [`start`] sends the person to their provider (choosing among
//! several when the organization has more than one with a console client), [`callback`]
//! takes them back, verifies who they are and starts the session.

use admin_api::identity::admit_person;
use admin_api::meta::RequestMeta;
use admin_api::problem::ApiError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use oidc::Rejection;
use oidc::signin::{Pending, SignInError};
use serde::Deserialize;
use serde_json::{Map, Value};
use shared::ids::OrgId;
use shared::model::Organization;
use usecases::{Identity, UseCaseError};

use super::{Form, frame};
use crate::ConsoleState;
use crate::session::{PENDING_LIFETIME, PendingSignIn, SESSION_LIFETIME, Session, Who};
use crate::views::{Frame, error_page, page, respond, see_other};

/// The organization's providers with a console client, as (issuer, host).
fn console_providers(org: &Organization) -> Vec<(String, String)> {
    org.identity_providers
        .iter()
        .filter(|provider| provider.console_client_id.is_some())
        .map(|provider| {
            let issuer = provider.issuer.as_str().to_owned();
            let host = issuer
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .unwrap_or(&issuer)
                .to_owned();
            (issuer, host)
        })
        .collect()
}

/// The page that lets a person choose among several providers of their organization (after
/// they asked to sign in to it), with the providers' origins allowed as form actions.
fn choose_provider(
    frame: &Frame<'_>,
    org: &OrgId,
    csrf: &str,
    providers: &[(String, String)],
) -> Response {
    let mut response = respond(
        StatusCode::OK,
        page(
            frame,
            &format!("Sign in to {org}"),
            html! {
                ul class="providers" {
                    @for (issuer, host) in providers {
                        li {
                            form method="post" action=(frame.url("/sign-in/start")) {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="org" value=(org.as_str());
                                input type="hidden" name="issuer" value=(issuer);
                                button type="submit" { "Sign in with " (host) }
                            }
                        }
                    }
                }
            },
        ),
    );
    // A form may lead to the providers' sign-in pages (`form-action` covers the redirect).
    let origins: Vec<String> = providers
        .iter()
        .filter_map(|(issuer, host)| {
            let scheme = issuer.split_once("://")?.0;
            Some(format!("{scheme}://{host}"))
        })
        .collect();
    if let Ok(policy) = crate::views::CSP
        .replace(
            "form-action 'self'",
            &format!("form-action 'self' {}", origins.join(" ")),
        )
        .parse()
    {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// `POST /console/sign-in/start`: off to the provider.
pub async fn start(
    State(state): State<ConsoleState>,
    meta: RequestMeta,
    headers: HeaderMap,
    form: Form,
) -> Response {
    let frame = frame(&meta);
    let admin = &state.accounts.admin;
    // Only from the sign-in page this browser was given: no other site starts a sign-in
    // (which could sign the person in to an organization of someone else's choosing).
    if !state
        .config
        .sessions
        .form_matches(&headers, form.get("csrf"), admin.use_cases.now())
    {
        return error_page(
            &frame,
            &ApiError::Forbidden("the sign-in form is stale: reload the page"),
        );
    }
    // The same answer for an organization that does not exist and for one without a
    // provider the console can use.
    let not_offered = || error_page(&frame, &ApiError::NotFound("identity provider"));
    let Some(org) = form.get("org").and_then(|org| OrgId::parse(org).ok()) else {
        return not_offered();
    };
    let stored = match admin.use_cases.org(&org).await {
        Ok(stored) => stored,
        Err(UseCaseError::NotFound(_)) => return not_offered(),
        Err(error) => return error_page(&frame, &error.into()),
    };
    let issuer = match form.get("issuer") {
        Some(issuer) => issuer.to_owned(),
        None => match console_providers(&stored).as_slice() {
            [] => return not_offered(),
            [(issuer, _)] => issuer.clone(),
            several => {
                return choose_provider(
                    &frame,
                    &org,
                    form.get("csrf").unwrap_or_default(),
                    several,
                );
            }
        },
    };
    let Some((provider, client_id)) = stored.identity_providers.iter().find_map(|provider| {
        (provider.issuer.as_str() == issuer)
            .then_some(())
            .and(provider.console_client_id.as_ref().map(|c| (provider, c)))
    }) else {
        return not_offered();
    };
    let endpoints = match admin.oidc.keys().endpoints(provider.issuer.as_str()).await {
        Ok(endpoints) => endpoints,
        Err(error) => {
            tracing::warn!(%error, "the provider's sign-in endpoints could not be had");
            return error_page(&frame, &ApiError::IdentityProviderUnavailable);
        }
    };
    let Some(public_url) = state.config.public_url_for(&meta, &headers) else {
        return error_page(
            &frame,
            &ApiError::bad_request("host", "the request names no valid host"),
        );
    };
    let redirect_uri = format!("{public_url}/console/callback");
    let started = oidc::signin::start(
        &endpoints,
        provider.issuer.as_str(),
        client_id,
        &redirect_uri,
    );
    let pending = PendingSignIn {
        org: org.to_string(),
        flow: started.pending,
        expires: (admin.use_cases.now() + PENDING_LIFETIME).unix_timestamp(),
    };
    see_other(
        &started.url,
        &[state.config.sessions.start_pending(&pending)],
    )
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// `GET /console/callback`: back from the provider.
pub async fn callback(
    State(state): State<ConsoleState>,
    meta: RequestMeta,
    headers: HeaderMap,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let frame = frame(&meta);
    let admin = &state.accounts.admin;
    let now = admin.use_cases.now();
    let sessions = &state.config.sessions;
    let refused = |detail: &'static str| {
        let mut response = error_page(&frame, &ApiError::Forbidden(detail));
        if let Ok(value) = sessions.end_pending().parse() {
            response
                .headers_mut()
                .append(axum::http::header::SET_COOKIE, value);
        }
        response
    };
    let Some(pending) = sessions.pending(&headers, now) else {
        return refused("this sign-in was not started here, or took too long: start again");
    };
    let Ok(Query(query)) = query else {
        return refused("the identity provider's answer is not one the console understands");
    };
    if query.error.is_some() {
        return refused("the identity provider did not sign you in");
    }
    let (Some(code), Some(returned_state)) = (query.code.as_deref(), query.state.as_deref()) else {
        return refused("the identity provider's answer has no code");
    };
    let Ok(org_id) = OrgId::parse(&pending.org) else {
        return refused("start again");
    };
    let stored = match admin.use_cases.org(&org_id).await {
        Ok(stored) => stored,
        Err(error) => return error_page(&frame, &error.into()),
    };
    let providers: Vec<oidc::Provider> = stored
        .identity_providers
        .iter()
        .map(|provider| oidc::Provider {
            issuer: provider.issuer.as_str().to_owned(),
            audiences: provider.audiences.clone(),
        })
        .collect();
    let flow: &Pending = &pending.flow;
    let verified = match oidc::signin::finish(
        &admin.oidc,
        flow,
        code,
        returned_state,
        &providers,
        now,
    )
    .await
    {
        Ok(verified) => verified,
        Err(SignInError::Unavailable(error)) => {
            tracing::warn!(%error, "sign-in: the provider is unavailable");
            return error_page(&frame, &ApiError::IdentityProviderUnavailable);
        }
        Err(SignInError::Token(Rejection::ProviderUnavailable(error))) => {
            tracing::warn!(%error, "sign-in: the provider's keys are unavailable");
            return error_page(&frame, &ApiError::IdentityProviderUnavailable);
        }
        Err(error) => {
            tracing::info!(%error, org = %org_id, "sign-in refused");
            return refused("the sign-in could not be verified: start again");
        }
    };
    // The role is checked now (a person without one gets no session) and again on every
    // request.
    let caller = match admit_person(&stored, verified.clone(), &meta) {
        Ok(caller) => caller,
        Err(error) => return error_page(&frame, &error),
    };
    let kept = kept_claims(&stored, &verified.issuer, &verified.claims);
    let session = Session {
        org: org_id.to_string(),
        who: Who::Person {
            issuer: verified.issuer,
            subject: verified.subject,
            claims: kept,
        },
        csrf: match shared::random::base62_string(32) {
            Ok(csrf) => csrf,
            Err(error) => return error_page(&frame, &ApiError::internal("csrf", &error)),
        },
        expires: (now + SESSION_LIFETIME).unix_timestamp(),
    };
    if let Identity::Person(person) = &caller.identity {
        tracing::info!(org = %org_id, subject = %person.subject, "signed in to the console");
    }
    let Some(cookie) = sessions.start(&session) else {
        return refused("your identity provider's answer is too large for a session");
    };
    see_other(
        &frame.url(&format!("/orgs/{org_id}/service-accounts")),
        &[cookie, sessions.end_pending()],
    )
}

/// The claims a session keeps: the display claim, and of the role claim only the values the
/// provider's mapping names (a person in hundreds of groups would not fit a cookie), so the
/// role is worked out again on every request from the mapping as it is then. A value the
/// mapping names only later counts from the next sign-in.
fn kept_claims(
    org: &Organization,
    issuer: &str,
    claims: &Map<String, Value>,
) -> Map<String, Value> {
    let Some(provider) = org
        .identity_providers
        .iter()
        .find(|provider| provider.issuer.as_str() == issuer)
    else {
        return Map::new();
    };
    let mut kept = Map::new();
    let display = provider.display_claim.as_str();
    if let Some(value) = claims.get(display) {
        kept.insert(display.to_owned(), value.clone());
    }
    let mapped = |value: &str| {
        provider.roles.admin.iter().any(|v| v == value)
            || provider.roles.auditor.iter().any(|v| v == value)
    };
    let values: Vec<Value> = match claims.get(&provider.roles.claim) {
        Some(Value::String(value)) if mapped(value) => vec![Value::String(value.clone())],
        Some(Value::Array(values)) => values
            .iter()
            .filter(|value| value.as_str().is_some_and(mapped))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    kept.insert(provider.roles.claim.clone(), Value::Array(values));
    kept
}
