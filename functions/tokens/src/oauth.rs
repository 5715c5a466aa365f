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

use admin_api::AdminState;
use admin_api::extract::{MAX_BODY_BYTES, media_type};
use admin_api::meta::RequestMeta;
use admin_api::problem::retry_after;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{
    ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use shared::access::{Scope, Scopes};
use shared::ids::{OrgId, ServiceAccountId};
use shared::token::TokenSecret;
use usecases::federation::{WorkloadError, WorkloadExchange};
use usecases::oauth::{AccessToken, ClientCredentials, ExchangeError};

/// RFC 8693's grant, and the token types it takes and gives.
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 7523's grant.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// An RFC 6749 §5.2 error.
#[derive(Debug)]
struct OAuthError {
    code: &'static str,
    description: &'static str,
    status: StatusCode,
    /// Too many requests: `Retry-After` (seconds).
    retry_after: Option<i64>,
}

impl OAuthError {
    fn new(code: &'static str, description: &'static str) -> Self {
        let status = match code {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            code,
            description,
            status,
            retry_after: None,
        }
    }

    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "error_description": self.description});
        let mut response = no_store(Response::new(Body::from(body.to_string())));
        *response.status_mut() = self.status;
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string())
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

impl From<ExchangeError> for OAuthError {
    fn from(error: ExchangeError) -> Self {
        match error {
            ExchangeError::InvalidClient => invalid_client(),
            ExchangeError::UnauthorizedClient => Self::new(
                "unauthorized_client",
                "the client may not request tokens from this address",
            ),
            ExchangeError::ScopeTooWide => {
                Self::new("invalid_scope", "the scope exceeds what the client holds")
            }
            ExchangeError::QuotaExceeded { retry_after } => Self {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after: Some(retry_after),
                ..Self::new(
                    "invalid_request",
                    "this client secret has issued as many access tokens as it may for now: reuse them until they expire",
                )
            },
            ExchangeError::Store(error) => match error.outage() {
                Some(outage) => {
                    tracing::warn!(%error, "the token endpoint's table is unavailable");
                    unavailable(
                        retry_after(outage),
                        "the service's storage is not answering; retry shortly",
                    )
                }
                None => {
                    tracing::error!(%error, "the token endpoint could not use its table");
                    server_error()
                }
            },
            // The client secret changed under three attempts in a row (a rotation or a
            // revocation is landing): nothing was issued; asking again decides again.
            ExchangeError::Contended => unavailable(1, "the client secret is being changed; retry"),
            ExchangeError::Internal(context) => {
                tracing::error!(context, "the token endpoint failed");
                server_error()
            }
        }
    }
}

impl From<WorkloadError> for OAuthError {
    fn from(error: WorkloadError) -> Self {
        match error {
            WorkloadError::InvalidGrant(reason) => {
                // The reason is for the operator: telling a forger which check failed helps them.
                tracing::info!(%reason, "refused a workload's token");
                Self::new(
                    "invalid_grant",
                    "the token is not valid, or no trust policy of this service account admits it",
                )
            }
            WorkloadError::UnauthorizedClient => Self::new(
                "unauthorized_client",
                "the workload may not request tokens from this address",
            ),
            WorkloadError::InvalidScope(description) => Self::new("invalid_scope", description),
            WorkloadError::QuotaExceeded { retry_after } => Self {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after: Some(retry_after),
                ..Self::new(
                    "invalid_request",
                    "this trust policy has issued as many access tokens as it may for now",
                )
            },
            WorkloadError::IssuerUnavailable => unavailable(
                2,
                "the workload's identity provider is not answering; retry shortly",
            ),
            WorkloadError::Store(error) => ExchangeError::Store(error).into(),
            WorkloadError::Contended => unavailable(1, "the trust policy is being changed; retry"),
            WorkloadError::Internal(context) => ExchangeError::Internal(context).into(),
        }
    }
}

fn invalid_request(description: &'static str) -> OAuthError {
    OAuthError::new("invalid_request", description)
}

fn invalid_client() -> OAuthError {
    OAuthError::new("invalid_client", "client authentication failed")
}

/// 503 `temporarily_unavailable` (the code RFC 6749 §4.1.2.1 gives for this at the
/// authorization endpoint), with `Retry-After`.
fn unavailable(retry_after: u32, description: &'static str) -> OAuthError {
    OAuthError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        retry_after: Some(i64::from(retry_after)),
        ..OAuthError::new("temporarily_unavailable", description)
    }
}

fn server_error() -> OAuthError {
    OAuthError::new("server_error", "the request could not be completed")
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

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

async fn client_credentials_grant(
    state: &AdminState,
    meta: &RequestMeta,
    headers: &HeaderMap,
    form: &Form,
    scope: Option<Scopes>,
) -> Result<AccessToken, OAuthError> {
    let (client_id, client_secret) = client_credentials(headers, form)?;
    let client_id = ServiceAccountId::parse(&client_id).map_err(|_| invalid_client())?;
    let request = ClientCredentials {
        client_id,
        client_secret: TokenSecret::new(client_secret),
        scope,
        source_ip: meta.source_ip,
        user_agent: meta.user_agent.clone(),
        request_id: meta.request_id.clone(),
    };
    Ok(state
        .use_cases
        .issue_access_token(&state.verifier, &request)
        .await?)
}

/// A workload's grant: its token, and the account it names.
fn workload_request(
    grant: Grant,
    meta: &RequestMeta,
    headers: &HeaderMap,
    form: &Form,
    scope: Option<Scopes>,
) -> Result<WorkloadExchange, OAuthError> {
    if form.get("client_secret").is_some() || headers.contains_key(AUTHORIZATION) {
        return Err(invalid_request(
            "a workload presents its token, not a client secret",
        ));
    }
    let token = match grant {
        Grant::TokenExchange => {
            match form.get("subject_token_type") {
                Some(JWT_TYPE | ID_TOKEN_TYPE) => {}
                None => return Err(invalid_request("`subject_token_type` is required")),
                Some(_) => {
                    return Err(invalid_request(
                        "`subject_token_type` is urn:ietf:params:oauth:token-type:jwt or :id_token",
                    ));
                }
            }
            if form.get("actor_token").is_some() || form.get("actor_token_type").is_some() {
                return Err(invalid_request(
                    "delegation (`actor_token`) is not supported",
                ));
            }
            if form
                .get("requested_token_type")
                .is_some_and(|requested| requested != ACCESS_TOKEN_TYPE)
            {
                return Err(invalid_request(
                    "the only token type issued is urn:ietf:params:oauth:token-type:access_token",
                ));
            }
            form.get("subject_token")
                .ok_or_else(|| invalid_request("`subject_token` is required"))?
        }
        _ => form
            .get("assertion")
            .ok_or_else(|| invalid_request("`assertion` is required"))?,
    };
    // RFC 8693 names the target with `audience` or `resource` too; RFC 7523 has `client_id`.
    let naming: &[&str] = if grant == Grant::TokenExchange {
        &["client_id", "audience", "resource"]
    } else {
        &["client_id"]
    };
    let named: Vec<&str> = naming.iter().filter_map(|name| form.get(name)).collect();
    let Some(first) = named.first() else {
        return Err(invalid_request(
            "name the service account: `client_id` (or `audience`) = <org>/<account id>",
        ));
    };
    if named.iter().any(|other| other != first) {
        return Err(invalid_request(
            "`client_id`, `audience` and `resource` name different service accounts",
        ));
    }
    let (org, account) = first
        .split_once('/')
        .and_then(|(org, account)| {
            Some((
                OrgId::parse(org).ok()?,
                ServiceAccountId::parse(account).ok()?,
            ))
        })
        .ok_or_else(|| {
            let code = if grant == Grant::TokenExchange && form.get("client_id").is_none() {
                "invalid_target"
            } else {
                "invalid_request"
            };
            OAuthError::new(code, "a service account is named as <org>/<account id>")
        })?;
    Ok(WorkloadExchange {
        org,
        account,
        token: token.to_owned(),
        scope,
        source_ip: meta.source_ip,
        user_agent: meta.user_agent.clone(),
        request_id: meta.request_id.clone(),
    })
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

/// The parameters each grant knows. RFC 6749 §3.2: these must not repeat; any other
/// parameter is ignored, repeated or not (RFC 8693's `audience` is nothing to a client
/// credentials request); a parameter without a value counts as absent.
const CLIENT_CREDENTIALS_PARAMETERS: &[&str] =
    &["grant_type", "scope", "client_id", "client_secret"];
const WORKLOAD_PARAMETERS: &[&str] = &[
    "grant_type",
    "scope",
    "client_id",
    "client_secret",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "assertion",
    "audience",
    "resource",
];

/// The form's parameters that any grant knows.
struct Form(Vec<(String, String)>);

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Refuses a repeated parameter among `names`.
    fn each_once(&self, names: &[&str]) -> Result<(), OAuthError> {
        for (i, (key, _)) in self.0.iter().enumerate() {
            if names.contains(&key.as_str())
                && self.0[..i].iter().any(|(earlier, _)| earlier == key)
            {
                return Err(invalid_request("a parameter was given more than once"));
            }
        }
        Ok(())
    }
}

async fn read_form(request: Request) -> Result<Form, OAuthError> {
    if media_type(request.headers()).as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(invalid_request(
            "send the parameters as application/x-www-form-urlencoded",
        ));
    }
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| invalid_request("the request body is too large"))?;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body)
        .filter(|(key, value)| WORKLOAD_PARAMETERS.contains(&key.as_ref()) && !value.is_empty())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    Ok(Form(pairs))
}

/// The client id and secret, from HTTP Basic or from the body (one method only).
fn client_credentials(headers: &HeaderMap, form: &Form) -> Result<(String, String), OAuthError> {
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
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
