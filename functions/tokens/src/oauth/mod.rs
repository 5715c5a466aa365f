//! `POST /oauth2/token`: the OAuth2 client credentials grant (RFC 6749 §4.4), and a
//! workload's OpenID Connect token exchanged under a trust policy, by RFC 8693's token
//! exchange or RFC 7523's JWT bearer grant, on the wire.
//!
//! A workload names the account it would act as, `<org>/<account id>`, in `client_id` or
//! (token exchange) `audience` or `resource`; when several are given they must agree. It
//! presents no client secret: its token is the proof. The rules of the exchange are
//! [`usecases::federation`]'s.
//!
//! The client id is a service account's id; the client secret is one of that account's tokens.
//! Clients authenticate with HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1: id and secret
//! form-urlencoded, then base64) or in the body (`client_secret_post`), never both. The rules
//! of issuing are the use case's ([`usecases::oauth`]); here are RFC 6749's: form encoding
//! only, each parameter at most once, errors exactly §5.2's, `Cache-Control: no-store`.
//!
//! Here: the endpoint, which reads the form, picks the grant and renders the token. The
//! grants are in [`client_credentials`] and [`workload`], the form in [`form`], the errors
//! in [`error`].

mod client_credentials;
mod error;
mod form;
mod workload;

use admin_api::AdminState;
use admin_api::meta::RequestMeta;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::ALLOW;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;
use shared::access::{Scope, Scopes};
use usecases::oauth::AccessToken;

use client_credentials::client_credentials_grant;
use error::{OAuthError, invalid_request, no_store, unavailable};
use form::{CLIENT_CREDENTIALS_PARAMETERS, Form, WORKLOAD_PARAMETERS, read_form};
use workload::{ACCESS_TOKEN_TYPE, JWT_BEARER, TOKEN_EXCHANGE, workload_request};

/// The longest an exchange runs: a client waiting for a token is a starting job or
/// service, better told to retry than kept waiting (a store call gives up after 5 s).
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// The answer at [`DEADLINE`].
pub fn timeout() -> Response {
    unavailable(2, "the service's storage is not answering; retry shortly").into_response()
}

/// Any method but `POST`.
pub async fn method_not_allowed() -> Response {
    let mut response = invalid_request("the token endpoint accepts only POST").into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("POST"));
    response
}

/// `POST /oauth2/token`.
pub async fn token(
    State(state): State<AdminState>,
    meta: RequestMeta,
    request: Request,
) -> Response {
    match exchange(&state, &meta, request).await {
        Ok((issued, grant)) => issued_response(&issued, grant, state.use_cases.now()),
        Err(error) => {
            tracing::info!(error = error.code, "refused a token request");
            error.into_response()
        }
    }
}

/// The grants this endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    ClientCredentials,
    TokenExchange,
    JwtBearer,
}

async fn exchange(
    state: &AdminState,
    meta: &RequestMeta,
    request: Request,
) -> Result<(AccessToken, Grant), OAuthError> {
    let headers = request.headers().clone();
    let form = read_form(request).await?;
    form.each_once(&["grant_type"])?;
    let grant = match form.get("grant_type") {
        None => return Err(invalid_request("`grant_type` is required")),
        Some("client_credentials") => Grant::ClientCredentials,
        Some(TOKEN_EXCHANGE) => Grant::TokenExchange,
        Some(JWT_BEARER) => Grant::JwtBearer,
        Some(_) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "the grants are `client_credentials`, token exchange (RFC 8693) and JWT bearer (RFC 7523)",
            ));
        }
    };
    form.each_once(if grant == Grant::ClientCredentials {
        CLIENT_CREDENTIALS_PARAMETERS
    } else {
        WORKLOAD_PARAMETERS
    })?;
    let scope = requested_scope(&form)?;
    let issued = if grant == Grant::ClientCredentials {
        client_credentials_grant(state, meta, &headers, &form, scope).await?
    } else {
        let request = workload_request(grant, meta, &headers, &form, scope)?;
        state
            .use_cases
            .exchange_workload_token(&state.oidc, &request)
            .await?
    };
    Ok((issued, grant))
}

/// The scopes asked for; a blank `scope` is no request for scopes.
fn requested_scope(form: &Form) -> Result<Option<Scopes>, OAuthError> {
    let Some(requested) = form.get("scope").filter(|scope| !scope.trim().is_empty()) else {
        return Ok(None);
    };
    let mut scopes = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        scopes.push(Scope::parse(scope).map_err(|_| {
            OAuthError::new("invalid_scope", "a scope is a role or `<resource>:<level>`")
        })?);
    }
    Scopes::parse(scopes)
        .map(Some)
        .map_err(|_| OAuthError::new("invalid_scope", "too many scopes"))
}

fn issued_response(issued: &AccessToken, grant: Grant, now: time::OffsetDateTime) -> Response {
    let scope: Vec<String> = issued.scopes.iter().map(ToString::to_string).collect();
    let mut body = json!({
        "access_token": issued.secret.secret().expose_secret(),
        "token_type": "Bearer",
        "expires_in": (issued.expires_at - now).whole_seconds().max(0),
    });
    if !scope.is_empty() {
        body["scope"] = json!(scope.join(" "));
    }
    if grant == Grant::TokenExchange {
        body["issued_token_type"] = json!(ACCESS_TOKEN_TYPE);
    }
    no_store(Response::new(Body::from(body.to_string())))
}
