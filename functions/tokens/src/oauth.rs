//! `POST /oauth2/token`: the OAuth2 client credentials grant (RFC 6749 §4.4).
//!
//! The client id is a service account's id; the client secret is one of that account's tokens.
//! Clients authenticate with HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1: id and secret
//! form-urlencoded, then base64) or in the body (`client_secret_post`), never both. The answer
//! is a short-lived access token, stored hashed with its TTL like every other token and
//! accepted by the same authorizer. Errors are exactly RFC 6749 §5.2's.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::http::header::{
    ALLOW, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use lambda_http::http::{HeaderValue, Method, StatusCode};
use lambda_http::{Body, Response};
use serde_json::json;
use shared::access::{Scope, Scopes};
use shared::authn::{Denial, authenticate};
use shared::ids::ServiceAccountId;
use shared::model::{NewToken, Token, TokenKind};
use shared::text::DisplayName;
use shared::token::{ParsedToken, TokenOwner, TokenSecret};
use store::StoreError;

use crate::TokensContext;
use admin_api::body::MAX_BODY_BYTES;
use admin_api::request::ApiRequest;

/// An RFC 6749 §5.2 error.
#[derive(Debug)]
struct OAuthError {
    code: &'static str,
    description: &'static str,
    /// Too many requests: a 429 with `Retry-After` (seconds).
    retry_after: Option<i64>,
}

impl OAuthError {
    fn new(code: &'static str, description: &'static str) -> Self {
        Self {
            code,
            description,
            retry_after: None,
        }
    }

    fn too_many(mut self, retry_after: i64) -> Self {
        self.retry_after = Some(retry_after.max(1));
        self
    }

    fn status(&self) -> StatusCode {
        match self.code {
            _ if self.retry_after.is_some() => StatusCode::TOO_MANY_REQUESTS,
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn into_response(self) -> Response<Body> {
        let body = json!({"error": self.code, "error_description": self.description});
        let mut response = no_store(Response::new(Body::from(body.to_string())));
        *response.status_mut() = self.status();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        if self.code == "invalid_client" {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"oauth2\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

fn invalid_request(description: &'static str) -> OAuthError {
    OAuthError::new("invalid_request", description)
}

fn invalid_client() -> OAuthError {
    OAuthError::new("invalid_client", "client authentication failed")
}

fn no_store(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub async fn handle(context: &TokensContext, request: &ApiRequest) -> Response<Body> {
    if request.method != Method::POST {
        let mut response = invalid_request("the token endpoint accepts only POST").into_response();
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    match issue(context, request).await {
        Ok(response) => response,
        Err(error) => {
            tracing::info!(error = error.code, "refused a token request");
            error.into_response()
        }
    }
}

async fn issue(
    context: &TokensContext,
    request: &ApiRequest,
) -> Result<Response<Body>, OAuthError> {
    let form = parse_form(request)?;
    match form.get("grant_type") {
        None => return Err(invalid_request("`grant_type` is required")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                "only `client_credentials` is supported",
            ));
        }
    }
    let (client_id, client_secret) = client_credentials(request, &form)?;

    let admin = &context.admin;
    let client_id = ServiceAccountId::parse(&client_id).map_err(|_| invalid_client())?;
    let presented = ParsedToken::parse(&admin.token_prefix, TokenSecret::new(client_secret))
        .map_err(|_| invalid_client())?;
    if presented.owner().account() != Some(&client_id) {
        return Err(invalid_client());
    }
    // The access token is written in one transaction conditioned on the client secret's
    // version: a revocation (or rotation) that lands between the check and the write wins,
    // and the exchange starts over from a fresh read (and is refused).
    for _attempt in 0..3 {
        match issue_once(context, request, &form, &client_id, &presented).await {
            Err(Attempt::Again) => continue,
            Err(Attempt::Refused(error)) => return Err(error),
            Ok(response) => return Ok(response),
        }
    }
    Err(OAuthError::new(
        "server_error",
        "the client secret kept changing; retry",
    ))
}

/// Why one attempt at an exchange did not issue a token.
enum Attempt {
    /// The client secret changed between the read and the write: decide again.
    Again,
    Refused(OAuthError),
}

impl From<OAuthError> for Attempt {
    fn from(error: OAuthError) -> Self {
        Self::Refused(error)
    }
}

fn server_error() -> OAuthError {
    OAuthError::new("server_error", "the request could not be completed")
}

async fn issue_once(
    context: &TokensContext,
    request: &ApiRequest,
    form: &Form,
    client_id: &ServiceAccountId,
    presented: &ParsedToken,
) -> Result<Response<Body>, Attempt> {
    let admin = &context.admin;
    let records = admin
        .store
        .fetch_for_authorization(presented)
        .await
        .map_err(|error| {
            tracing::error!(%error, "reading the client's records");
            server_error()
        })?;
    let now = admin.clock.now();
    let principal = match authenticate(presented, &records, request.source_ip, now) {
        Ok(principal) => principal,
        Err(Denial::Unauthenticated(reason)) => {
            tracing::info!(reason, client = %client_id, "client authentication failed");
            return Err(invalid_client().into());
        }
        Err(Denial::Forbidden(_)) => {
            return Err(OAuthError::new(
                "unauthorized_client",
                "the client may not request tokens from this address",
            )
            .into());
        }
    };
    let Some(client_token) = records
        .token
        .filter(|token| token.kind == TokenKind::ServiceAccount)
    else {
        // Access tokens and org-wide tokens are not client secrets.
        return Err(invalid_client().into());
    };

    // A blank `scope` is no request for scopes: the client secret's own scopes apply. (Left
    // empty, an access token would hold everything the account holds.)
    let requested = form.get("scope").filter(|scope| !scope.trim().is_empty());
    let scopes = match requested {
        None => client_token.scopes.clone(),
        Some(requested) => {
            let mut scopes = Vec::new();
            for scope in requested.split(' ').filter(|s| !s.is_empty()) {
                scopes.push(Scope::parse(scope).map_err(|_| {
                    OAuthError::new("invalid_scope", "a scope is a role or `<resource>:<level>`")
                })?);
            }
            let scopes = Scopes::parse(scopes)
                .map_err(|_| OAuthError::new("invalid_scope", "too many scopes"))?;
            scopes
                .ensure_within(&principal.permissions.roles, &principal.permissions.grants)
                .map_err(|_| {
                    OAuthError::new("invalid_scope", "the scope exceeds what the client holds")
                })?;
            scopes
        }
    };

    // Never beyond the configured lifetime, the organization's maximum, the client secret's
    // own expiry, or the end of its rotation's grace period (its scheduled revocation).
    let org_max = records
        .org
        .as_ref()
        .map_or(context.access_token_lifetime, |org| {
            org.token_policy.max_lifetime().duration()
        });
    let ends = [
        Some(now + context.access_token_lifetime.min(org_max)),
        client_token.expires_at,
        client_token.revoked_at,
    ];
    let expires_at =
        shared::policy::truncate_to_seconds(ends.into_iter().flatten().min().unwrap_or(now));
    let parsed = ParsedToken::generate(
        &admin.token_prefix,
        &principal.org,
        TokenOwner::Account(client_id.clone()),
    )
    .map_err(|_| server_error())?;
    let name = DisplayName::parse("OAuth2 access token").map_err(|_| server_error())?;
    let actor = principal.actor().with_request(
        request.source_ip,
        request.user_agent.as_deref(),
        request.request_id.as_deref(),
    );
    let fields = NewToken {
        name,
        description: None,
        scopes: scopes.clone(),
        expires_at: Some(expires_at),
    };
    let mut token = Token::new(TokenKind::Access, &parsed, fields, actor, now);
    token.issued_for = Some(client_token.id.clone());
    let lifetime = context.access_token_lifetime.whole_seconds().max(1);
    let window = now.unix_timestamp().div_euclid(lifetime);
    match admin
        .store
        .create_access_token(
            &token,
            &client_token,
            window,
            context.access_tokens_per_secret,
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::VersionConflict { .. }) => return Err(Attempt::Again),
        Err(StoreError::QuotaExceeded) => {
            let retry_after = (window + 1) * lifetime - now.unix_timestamp();
            tracing::info!(client_token = %client_token.id, "access-token quota reached");
            return Err(OAuthError::new(
                "invalid_request",
                "this client secret has issued as many access tokens as it may for now: reuse them until they expire",
            )
            .too_many(retry_after)
            .into());
        }
        Err(error) => {
            tracing::error!(%error, "storing an access token");
            return Err(server_error().into());
        }
    }
    tracing::info!(token = parsed.display_prefix(), client_token = %client_token.id, "issued an access token");

    let scope: Vec<String> = scopes.iter().map(ToString::to_string).collect();
    let mut body = json!({
        "access_token": parsed.secret().expose_secret(),
        "token_type": "Bearer",
        "expires_in": (expires_at - now).whole_seconds().max(0),
    });
    if !scope.is_empty() {
        body["scope"] = json!(scope.join(" "));
    }
    Ok(no_store(Response::new(Body::from(body.to_string()))))
}

/// The form parameters, each at most once (RFC 6749 §3.2).
struct Form(Vec<(String, String)>);

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn parse_form(request: &ApiRequest) -> Result<Form, OAuthError> {
    let media_type = request
        .header("content-type")
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(invalid_request(
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    if request.body.len() > MAX_BODY_BYTES {
        return Err(invalid_request("the request body is too large"));
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&request.body)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    for (i, (key, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(earlier, _)| earlier == key) {
            return Err(invalid_request("a parameter was given more than once"));
        }
    }
    Ok(Form(pairs))
}

/// The client id and secret, from HTTP Basic or from the body (one method only).
fn client_credentials(request: &ApiRequest, form: &Form) -> Result<(String, String), OAuthError> {
    let basic = request
        .header("authorization")
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, encoded)| encoded.trim().to_owned());
    let posted = (form.get("client_id"), form.get("client_secret"));
    match (basic, posted) {
        (Some(_), (_, Some(_))) => Err(invalid_request(
            "use one client authentication method: HTTP Basic or the request body",
        )),
        (Some(encoded), (posted_id, None)) => {
            let decoded = STANDARD.decode(encoded).map_err(|_| invalid_client())?;
            let decoded = String::from_utf8(decoded).map_err(|_| invalid_client())?;
            let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
            let id = form_decode(id);
            if posted_id.is_some_and(|posted| posted != id) {
                return Err(invalid_request(
                    "`client_id` differs from the authenticated client",
                ));
            }
            Ok((id, form_decode(secret)))
        }
        (None, (Some(id), Some(secret))) => Ok((id.to_owned(), secret.to_owned())),
        (None, _) => Err(invalid_client()),
    }
}

fn form_decode(value: &str) -> String {
    form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, decoded)| decoded.into_owned())
        .unwrap_or_default()
}
