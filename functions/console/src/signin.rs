//! Signing in and out, and who is signed in ([`Signed`]).
//!
//! A person picks their organization, then one of its providers that has a console client
//! (`consoleClientId`); the console sends them there with an authorization code request
//! (PKCE `S256`, `state`, `nonce`: [`oidc::signin`]) and keeps the pending values in a sealed
//! cookie; the provider sends them back to `/console/callback`, where the code is exchanged,
//! the ID token verified against the organization's providers (the rules of the admin API),
//! and the session starts. No token is kept: the session holds who the person is.

use std::sync::Arc;

use admin_api::identity::admit_person;
use admin_api::meta::RequestMeta;
use admin_api::problem::ApiError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use maud::html;
use oidc::Rejection;
use oidc::signin::{Pending, SignInError};
use serde::Deserialize;
use serde_json::{Map, Value};
use shared::ids::OrgId;
use shared::model::Organization;
use shared::people::PersonRole;
use usecases::{Caller, Identity, UseCaseError};

use crate::ConsoleState;
use crate::session::{
    PENDING_LIFETIME, PendingSignIn, SESSION_LIFETIME, Session, Who, csrf_matches,
};
use crate::views::{Frame, error_page, page, respond, see_other};

fn frame(meta: &RequestMeta) -> Frame<'_> {
    Frame {
        base: &meta.base_path,
        org: None,
        who: None,
        csrf: None,
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
        page(
            &frame,
            "Sign in",
            html! {
                form method="get" action=(frame.url("/sign-in")) {
                    label for="org" { "Organization id" }
                    input id="org" name="org" required autocomplete="organization" pattern="[a-z0-9-]{3,32}";
                    button type="submit" { "Continue" }
                }
            },
        ),
    )
}

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
    let Some(org) = query.org.as_deref().and_then(|org| OrgId::parse(org).ok()) else {
        return error_page(&frame, &ApiError::invalid("org", "an organization id"));
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

/// The admin token form of the sign-in page.
fn token_form(frame: &Frame<'_>, org: &OrgId, csrf: &str) -> maud::Markup {
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
async fn token_caller(
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
        TokenOwner::Account(account) => use_cases.store.get_account(&org.id, account).await?,
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

/// A signed-in person of the organization in the path, as a caller of the use cases, with
/// that organization as stored. No session: off to sign in. A session of another
/// organization: `404`. The role comes from the organization's providers now.
#[derive(Debug, Clone)]
pub struct Signed {
    pub caller: Caller,
    pub org: Organization,
    pub session: Session,
    pub role: PersonRole,
    pub display: String,
    pub meta: RequestMeta,
}

impl Signed {
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            base: &self.meta.base_path,
            org: Some(self.org.id.as_str()),
            who: Some((
                &self.display,
                match self.role {
                    PersonRole::Admin => "admin",
                    PersonRole::Auditor => "auditor",
                },
            )),
            csrf: Some(&self.session.csrf),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == PersonRole::Admin
    }

    /// The refusal of a change: a stale or forged form, or an auditor.
    pub fn may_change(&self, form: &Form) -> Result<(), ApiError> {
        if !csrf_matches(&self.session, form.get("csrf")) {
            return Err(ApiError::Forbidden(
                "the form is stale or was not sent from the console: reload the page",
            ));
        }
        self.caller.require_admin(&self.org.id)?;
        Ok(())
    }
}

impl FromRequestParts<ConsoleState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ConsoleState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(meta) = RequestMeta::from_request_parts(parts, &()).await;
        let frame = frame(&meta);
        let org = admin_api::extract::path_param(parts, "org")
            .await
            .ok()
            .and_then(|org| OrgId::parse(&org).ok())
            .ok_or_else(|| error_page(&frame, &ApiError::NotFound("organization")))?;
        let admin = &state.accounts.admin;
        let now = admin.use_cases.now();
        let Some(session) = state.config.sessions.session(&parts.headers, now) else {
            let to = format!("{}?org={org}", frame.url("/sign-in"));
            return Err(see_other(&to, &[]));
        };
        if session.org != org.as_str() {
            return Err(error_page(&frame, &ApiError::NotFound("organization")));
        }
        let stored = admin
            .use_cases
            .org(&org)
            .await
            .map_err(|error| error_page(&frame, &error.into()))?;
        let (caller, role, display) = match &session.who {
            Who::Person {
                issuer,
                subject,
                claims,
            } => {
                let verified = oidc::Verified {
                    issuer: issuer.clone(),
                    subject: subject.clone(),
                    claims: claims.clone(),
                    // A session, not a token: its header is long gone.
                    token_type: oidc::TokenType::Unseen,
                };
                let caller = match admit_person(&stored, verified, &meta) {
                    Ok(caller) => caller,
                    // The provider was removed: sign in again.
                    Err(ApiError::Unauthenticated) => {
                        let to = format!("{}?org={org}", frame.url("/sign-in"));
                        return Err(see_other(&to, &[state.config.sessions.end()]));
                    }
                    Err(error) => return Err(error_page(&frame, &error)),
                };
                let Identity::Person(person) = &caller.identity else {
                    return Err(error_page(&frame, &ApiError::Unauthenticated));
                };
                let (role, display) = (person.role, person.display.clone());
                (caller, role, display)
            }
            Who::Token { token, account } => {
                match token_caller(state, &stored, token, account.as_deref(), &meta).await {
                    Ok(found) => found,
                    // Revoked, expired, disabled, no longer admin: sign in again.
                    Err(ApiError::Unauthenticated | ApiError::Forbidden(_)) => {
                        let to = format!("{}?org={org}", frame.url("/sign-in"));
                        return Err(see_other(&to, &[state.config.sessions.end()]));
                    }
                    Err(error) => return Err(error_page(&frame, &error)),
                }
            }
        };
        Ok(Self {
            caller,
            org: stored,
            session,
            role,
            display,
            meta,
        })
    }
}

/// A form body (`application/x-www-form-urlencoded`, at most 64 KiB): its fields in order.
#[derive(Debug, Default, Clone)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub const LIMIT: usize = 64 * 1024;

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The trimmed, non-empty value of `name`.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    }

    /// Every value of `name` (checkboxes, repeated fields).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// A text area's lines, or a comma list, trimmed, without empty ones.
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or_default()
            .split(['\n', ','])
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let Ok(meta) = RequestMeta::from_request_parts(&mut parts, &()).await;
        let frame = frame(&meta);
        let form_type = parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
        if !form_type {
            return Err(error_page(&frame, &ApiError::UnsupportedMediaType));
        }
        let bytes = axum::body::to_bytes(body, Self::LIMIT)
            .await
            .map_err(|_| error_page(&frame, &ApiError::PayloadTooLarge(Self::LIMIT)))?;
        Ok(Self(form_urlencoded::parse(&bytes).into_owned().collect()))
    }
}
