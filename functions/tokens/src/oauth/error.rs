//! The token endpoint's errors, rendered exactly as RFC 6749 §5.2 has them: a JSON body of
//! `error` and `error_description`, `WWW-Authenticate` on `invalid_client`, `Retry-After` when
//! asking again later can succeed, and `Cache-Control: no-store` on every answer.

use admin_api::problem::retry_after;
use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;
use usecases::federation::WorkloadError;
use usecases::oauth::ExchangeError;

/// An RFC 6749 §5.2 error.
#[derive(Debug)]
pub(super) struct OAuthError {
    pub(super) code: &'static str,
    description: &'static str,
    status: StatusCode,
    /// Too many requests: `Retry-After` (seconds).
    retry_after: Option<i64>,
}

impl OAuthError {
    pub(super) fn new(code: &'static str, description: &'static str) -> Self {
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

    pub(super) fn into_response(self) -> Response {
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

pub(super) fn invalid_request(description: &'static str) -> OAuthError {
    OAuthError::new("invalid_request", description)
}

pub(super) fn invalid_client() -> OAuthError {
    OAuthError::new("invalid_client", "client authentication failed")
}

/// 503 `temporarily_unavailable` (the code RFC 6749 §4.1.2.1 gives for this at the
/// authorization endpoint), with `Retry-After`.
pub(super) fn unavailable(retry_after: u32, description: &'static str) -> OAuthError {
    OAuthError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        retry_after: Some(i64::from(retry_after)),
        ..OAuthError::new("temporarily_unavailable", description)
    }
}

fn server_error() -> OAuthError {
    OAuthError::new("server_error", "the request could not be completed")
}

pub(super) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
