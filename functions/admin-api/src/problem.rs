//! Errors as RFC 9457 problem documents (`application/problem+json`).
//!
//! Every kind of error has a stable `type` (`/problems/<kind>`, a URI reference relative to
//! the API) and one status. Validation errors list each field that failed and why. Internal
//! errors are logged with their cause and answered with a generic 500 that says nothing more.

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shared::authn::Denial;
use usecases::UseCaseError;
use usecases::{Outage, StoreError};

/// One invalid field: its JSON path (`roles[1]`, `grants[0].level`) and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no valid credentials")]
    Unauthenticated,
    #[error("the caller may not do this")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The `Allow` header is the router's.
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("the body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("bad request: {detail}")]
    BadRequest { kind: &'static str, detail: String },
    #[error("invalid request")]
    Validation(Vec<FieldError>),
    /// Too many requests from this sender: retry after this many seconds.
    #[error("rate limited")]
    RateLimited(i64),
    /// The store could not be used in time: try again after [`retry_after`] seconds.
    #[error("the store is unavailable ({0})")]
    Unavailable(Outage),
    /// A signed request (GitHub's secret-scanning report) whose signature is missing, not
    /// well-formed, by an unknown key, or not over this body.
    #[error("the request's signature is not valid")]
    InvalidSignature,
    /// The signer's published keys could not be had to check a signature.
    #[error("the signer's keys are unavailable")]
    SignerUnavailable,
    /// An organization's identity provider could not be reached to verify a person's token.
    #[error("the identity provider is unavailable")]
    IdentityProviderUnavailable,
    /// The cause is logged where the error is made; the client sees none of it.
    #[error("internal error")]
    Internal,
}

/// How long a caller should wait before it retries after `outage`: a second under throttling
/// (the SDK's own backoff has already spread the load), a little longer when the store did not
/// answer at all.
pub fn retry_after(outage: Outage) -> u32 {
    match outage {
        Outage::Throttled => 1,
        Outage::TimedOut | Outage::Unreachable | Outage::ServerError => 2,
    }
}

impl ApiError {
    pub fn bad_request(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            kind,
            detail: detail.into(),
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, reason)])
    }

    /// Logs `cause` with context and returns the generic 500.
    pub fn internal(context: &str, cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, context, "internal error");
        Self::Internal
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::InvalidSignature => StatusCode::UNAUTHORIZED,
            Self::Unavailable(_) | Self::IdentityProviderUnavailable | Self::SignerUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable last segment of the problem `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::BadRequest { kind, .. } => kind,
            Self::Validation(_) => "validation",
            Self::RateLimited(_) => "rate-limited",
            Self::Unavailable(_) => "unavailable",
            Self::InvalidSignature => "invalid-signature",
            Self::SignerUnavailable => "signer-unavailable",
            Self::IdentityProviderUnavailable => "identity-provider-unavailable",
            Self::Internal => "internal",
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "Authentication required",
            Self::Forbidden(_) => "Forbidden",
            Self::NotFound(_) => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict(_) => "Conflict",
            Self::PayloadTooLarge(_) => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::BadRequest { .. } => "Bad request",
            Self::Validation(_) => "Invalid request",
            Self::RateLimited(_) => "Too many requests",
            Self::Unavailable(_) => "Temporarily unavailable",
            Self::InvalidSignature => "Invalid signature",
            Self::SignerUnavailable => "Signer's keys unavailable",
            Self::IdentityProviderUnavailable => "Identity provider unavailable",
            Self::Internal => "Internal error",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Self::Unauthenticated => {
                "send `Authorization: Bearer <token>` with a valid token of an admin".into()
            }
            Self::Forbidden(why) => (*why).into(),
            Self::NotFound(what) => format!("no such {what}"),
            Self::MethodNotAllowed => "this path does not accept this method".into(),
            Self::Conflict(detail) | Self::BadRequest { detail, .. } => detail.clone(),
            Self::PayloadTooLarge(limit) => format!("the body is larger than {limit} bytes"),
            Self::UnsupportedMediaType => "send the body as `application/json`".into(),
            Self::Validation(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("invalid field(s): {}", fields.join(", "))
            }
            Self::Unavailable(outage) => format!(
                "the service's storage is {}; retry after {} s. A change this request asked for may or may not have been made: read before repeating a create (repeating a revocation, disable or delete finishes it)",
                match outage {
                    Outage::Throttled => "over its request rate",
                    Outage::TimedOut | Outage::Unreachable | Outage::ServerError => "not answering",
                },
                retry_after(*outage)
            ),
            Self::InvalidSignature => "the request must be signed (`Github-Public-Key-Identifier`, `Github-Public-Key-Signature`) by a key GitHub publishes for secret scanning, over exactly this body".into(),
            Self::SignerUnavailable => {
                "the signer's published keys could not be had, so the signature could not be checked; retry after 30 s".into()
            }
            Self::IdentityProviderUnavailable => {
                "the organization's identity provider did not give its keys in time, so the token could not be verified; retry after 5 s".into()
            }
            Self::RateLimited(seconds) => {
                format!("too many requests from this address; retry after {seconds} s")
            }
            Self::Internal => "the request could not be completed".into(),
        }
    }

    fn render(self) -> Response {
        let mut problem = serde_json::json!({
            "type": format!("/problems/{}", self.kind()),
            "title": self.title(),
            "status": self.status().as_u16(),
            "detail": self.detail(),
        });
        if let Self::Validation(errors) = &self {
            problem["errors"] = serde_json::json!(errors);
        }
        let mut response = Response::new(Body::from(problem.to_string()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Self::Unavailable(outage) = &self {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_after(*outage)));
        }
        if let Self::RateLimited(seconds) = &self {
            headers.insert(RETRY_AFTER, HeaderValue::from((*seconds).max(1)));
        }
        if let Self::InvalidSignature = &self {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("GitHub-Signature realm=\"secret-scanning\""),
            );
        }
        if let Self::SignerUnavailable = &self {
            headers.insert(RETRY_AFTER, HeaderValue::from(30_u32));
        }
        if let Self::IdentityProviderUnavailable = &self {
            headers.insert(RETRY_AFTER, HeaderValue::from(5_u32));
        }
        if let Self::Unauthenticated = &self {
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"admin\""),
            );
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_client_error() {
            tracing::info!(
                status = self.status().as_u16(),
                kind = self.kind(),
                "refused"
            );
        }
        self.render()
    }
}

impl From<Denial> for ApiError {
    fn from(denial: Denial) -> Self {
        match denial {
            Denial::Unauthenticated(_) => Self::Unauthenticated,
            Denial::Forbidden(reason) => Self::Forbidden(reason.as_str()),
        }
    }
}

impl From<UseCaseError> for ApiError {
    fn from(error: UseCaseError) -> Self {
        match error {
            UseCaseError::Denied(denial) => denial.into(),
            UseCaseError::Forbidden(why) => Self::Forbidden(why),
            UseCaseError::NotFound(what) => Self::NotFound(what),
            UseCaseError::Conflict(detail) => Self::Conflict(detail),
            UseCaseError::Invalid { field, reason } => Self::invalid(field, reason),
            UseCaseError::RateLimited { retry_after } => Self::RateLimited(retry_after),
            UseCaseError::Store(error) => error.into(),
            UseCaseError::Internal(_) => Self::Internal,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyExists { entity } => {
                Self::Conflict(format!("the {} already exists", entity.replace('_', " ")))
            }
            StoreError::NotFound { entity } => Self::NotFound(entity_name(entity)),
            StoreError::VersionConflict { entity, .. } => Self::Conflict(format!(
                "the {} was changed by another request; read it again and retry",
                entity.replace('_', " ")
            )),
            StoreError::InvalidCursor => Self::bad_request(
                "invalid-cursor",
                "`cursor` is not a cursor this list handed out",
            ),
            StoreError::Contended { .. } => Self::Conflict(
                "another request changed the same items at the same moment; read them again and retry"
                    .into(),
            ),
            StoreError::Unavailable {
                operation,
                outage,
                source,
            } => {
                tracing::warn!(operation, %outage, error = %source, "the store is unavailable");
                Self::Unavailable(outage)
            }
            other => Self::internal("store", &other),
        }
    }
}

fn entity_name(entity: &'static str) -> &'static str {
    match entity {
        "service_account" => "service account",
        "org" => "organization",
        other => other,
    }
}
