//! Successful responses: JSON bodies, `ETag`, `Location`, and `Cache-Control: no-store` on
//! everything (admin responses describe credentials).

use axum::body::Body;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;
use shared::model::{Actor, ActorKind};

use crate::problem::ApiError;

/// A JSON response.
pub fn json(status: StatusCode, body: &impl Serialize) -> Result<Response, ApiError> {
    let text = serde_json::to_string(body)
        .map_err(|error| ApiError::internal("serializing a response", &error))?;
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `204 No Content`.
pub fn no_content() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Adds a strong `ETag` for `version`.
pub fn with_etag(mut response: Response, version: u64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// Adds a `Location` header.
pub fn with_location(mut response: Response, location: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// Who did something, as the admin API shows it: the kind and id, not the request metadata.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorView {
    kind: ActorKind,
    id: String,
    /// A person's identity provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    /// How a person is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<String>,
    /// A stack's AWS account, and its resource that acted.
    #[serde(skip_serializing_if = "Option::is_none")]
    aws_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    logical_resource_id: Option<String>,
}

impl From<&Actor> for ActorView {
    fn from(actor: &Actor) -> Self {
        Self {
            kind: actor.kind,
            id: actor.id.clone(),
            issuer: actor.issuer.clone(),
            display: actor.display.clone(),
            aws_account: actor.aws_account.clone(),
            logical_resource_id: actor.logical_resource_id.clone(),
        }
    }
}
