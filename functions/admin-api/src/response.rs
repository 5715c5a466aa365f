//! Successful responses: JSON bodies, `ETag`, `Location`, and `Cache-Control: no-store` on
//! everything (admin responses describe credentials).

use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, LOCATION};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use shared::model::{Actor, ActorKind};

use crate::problem::ApiError;
use crate::request::ApiRequest;

/// A JSON response.
pub fn json(status: StatusCode, body: &impl Serialize) -> Result<Response<Body>, ApiError> {
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
pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Adds a strong `ETag` for `version`.
pub fn with_etag(mut response: Response<Body>, version: u64) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// Adds a `Location` header.
pub fn with_location(mut response: Response<Body>, location: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` header demands: `None` when absent or `*` (any version).
pub fn if_match(request: &ApiRequest) -> Result<Option<u64>, ApiError> {
    let Some(value) = request.header("if-match") else {
        return Ok(None);
    };
    let value = value.trim();
    if value == "*" {
        return Ok(None);
    }
    value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .and_then(|version| version.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid-header",
                "`If-Match` must be `*` or one strong ETag this API returned, such as \"3\"",
            )
        })
}

/// Refuses a change when `If-Match` names another version than the stored one. A stale
/// `If-Match` and a lost race are the same event for a client (someone else changed it), so
/// both are `409 Conflict`.
pub fn check_if_match(expected: Option<u64>, current: u64, what: &str) -> Result<(), ApiError> {
    match expected {
        Some(expected) if expected != current => Err(ApiError::Conflict(format!(
            "the {what} has changed (it is at ETag {}, not {}); read it again and retry",
            etag(current),
            etag(expected)
        ))),
        _ => Ok(()),
    }
}

/// Who did something, as the admin API shows it: the kind and id, not the request metadata.
#[derive(Debug, Serialize)]
pub struct ActorView {
    kind: ActorKind,
    id: String,
}

impl From<&Actor> for ActorView {
    fn from(actor: &Actor) -> Self {
        Self {
            kind: actor.kind,
            id: actor.id.clone(),
        }
    }
}
