//! Extractors with the admin API's bad-input rules, each refusing with a problem document:
//!
//! * [`JsonBody`] / [`OptionalJsonBody`]: at most 16 KiB (413), `application/json` or
//!   `application/merge-patch+json` (415), well-formed (400), a JSON object, no unknown
//!   fields, every field of the right type (422). Messages name the field and the rule, never
//!   the value: a secret pasted into the wrong field stays out of responses and logs.
//! * [`IfMatch`]: absent, `*`, or one strong ETag this API returned (400 otherwise).
//! * [`path_param`]: a path parameter, percent-decoded (400 when it is not valid text).
//! * [`ListQuery`]: `limit` (1–100), `cursor`, and the filters a route names; any other
//!   parameter, or one given twice, is refused (400), so a typo (`limt`) is not ignored.

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use usecases::PageLimit;

use crate::problem::ApiError;

/// The largest body the admin API accepts.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A JSON object body, deserialized as `T`; an empty body is refused.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// A JSON object body, deserialized as `T`, or `T::default()` when there is no body at all.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        json_body(request, MAX_BODY_BYTES).await.map(Self)
    }
}

/// [`JsonBody`]'s rules with a body limit of its own, for a route whose bodies are larger by
/// design (a batch of tokens).
pub async fn json_body<T: DeserializeOwned>(request: Request, limit: usize) -> Result<T, ApiError> {
    let (content_type, body) = read_body(request, limit).await?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "malformed-body",
            "this request needs a JSON body",
        ));
    }
    parse(content_type.as_deref(), &body)
}

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (content_type, body) = read_body(request, MAX_BODY_BYTES).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        parse(content_type.as_deref(), &body).map(Self)
    }
}

/// The media type (lower case, without parameters) and the body, refused beyond the limit.
async fn read_body(request: Request, limit: usize) -> Result<(Option<String>, Vec<u8>), ApiError> {
    let media_type = media_type(request.headers());
    let body = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(limit))?;
    Ok((media_type, body.to_vec()))
}

/// The `Content-Type` without its parameters, in lower case.
pub fn media_type(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
}

fn parse<T: DeserializeOwned>(media_type: Option<&str>, body: &[u8]) -> Result<T, ApiError> {
    match media_type {
        Some("application/json" | "application/merge-patch+json") => {}
        _ => return Err(ApiError::UnsupportedMediaType),
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request(
            "malformed-body",
            format!(
                "the body is not valid JSON (line {}, column {})",
                error.line(),
                error.column()
            ),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "malformed-body",
            "the body must be a JSON object",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        if message.starts_with("unknown field") {
            // The path already ends at the unknown field: a caller-chosen key, echoed only
            // when it looks like a field name (a token pasted as a key is not).
            let field = if path == "." {
                backticked(&message).unwrap_or_default()
            } else {
                path
            };
            ApiError::invalid(safe_path(&field), "is not a known field")
        } else if let Some(field) =
            backticked(&message).filter(|_| message.starts_with("missing field"))
        {
            ApiError::invalid(join(&path, &field), "is required")
        } else {
            ApiError::invalid(path, "has a value of the wrong type")
        }
    })
}

/// The first `` `name` `` in a serde message (field names only: values are never quoted so).
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    let name = &message[start..end];
    let safe = name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    Some(if safe {
        name.to_owned()
    } else {
        "?".to_owned()
    })
}

/// `path` if it is short and made of field-name characters, else `?`.
fn safe_path(path: &str) -> String {
    let safe = path.len() <= 64
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b));
    if safe {
        path.to_owned()
    } else {
        "?".to_owned()
    }
}

fn join(path: &str, field: &str) -> String {
    if path == "." || path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// The version an `If-Match` header demands: `None` when absent or `*` (any version).
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("if-match") else {
            return Ok(Self(None));
        };
        let invalid = || {
            ApiError::bad_request(
                "invalid-header",
                "`If-Match` must be `*` or one strong ETag this API returned, such as \"3\"",
            )
        };
        let value = value.to_str().map_err(|_| invalid())?.trim();
        // An empty field value is an empty list of entity tags (RFC 9110 §5.6.1): no condition.
        if value == "*" || value.is_empty() {
            return Ok(Self(None));
        }
        value
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            // Digits only (`parse` would also take a sign), as the description's pattern says.
            .filter(|version| {
                (1..=19).contains(&version.len()) && version.bytes().all(|b| b.is_ascii_digit())
            })
            .and_then(|version| version.parse::<u64>().ok())
            .map(|version| Self(Some(version)))
            .ok_or_else(invalid)
    }
}

/// The path parameter `name`, percent-decoded.
pub async fn path_param(parts: &mut Parts, name: &str) -> Result<String, ApiError> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, &())
        .await
        .map_err(|_| ApiError::bad_request("invalid-parameter", "the path is not valid text"))?;
    params.get(name).cloned().ok_or(ApiError::NotFound("route"))
}

/// The query of a list request: its page and the filters it names.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub limit: PageLimit,
    pub cursor: Option<String>,
    filters: Vec<(&'static str, String)>,
}

impl ListQuery {
    /// `limit`, `cursor` and the named `filters` of the request's query string (as sent,
    /// percent-encoded). Any other parameter, or one given twice, is refused.
    pub fn parse(query: Option<&str>, filters: &[&'static str]) -> Result<Self, ApiError> {
        let mut list = Self {
            limit: PageLimit::default(),
            cursor: None,
            filters: Vec::new(),
        };
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if seen.iter().any(|earlier| *earlier == name) {
                return Err(ApiError::bad_request(
                    "invalid-parameter",
                    format!("`{}` is given more than once", safe_path(&name)),
                ));
            }
            seen.push(name.to_string());
            match name.as_ref() {
                "limit" => {
                    list.limit = value
                        .parse::<u64>()
                        .ok()
                        .and_then(|n| PageLimit::parse(n).ok())
                        .ok_or_else(|| {
                            ApiError::bad_request(
                                "invalid-parameter",
                                "`limit` is a whole number from 1 to 100",
                            )
                        })?;
                }
                "cursor" => list.cursor = Some(value.into_owned()),
                other => match filters.iter().find(|filter| **filter == other) {
                    Some(filter) => list.filters.push((filter, value.into_owned())),
                    None => {
                        let mut allowed = vec!["`limit`".to_owned(), "`cursor`".to_owned()];
                        allowed.extend(filters.iter().map(|filter| format!("`{filter}`")));
                        return Err(ApiError::bad_request(
                            "invalid-parameter",
                            format!("the only query parameters are {}", allowed.join(", ")),
                        ));
                    }
                },
            }
        }
        Ok(list)
    }

    /// The value of a filter, if it was given.
    pub fn filter(&self, name: &str) -> Option<&str> {
        self.filters
            .iter()
            .find(|(filter, _)| *filter == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }
}

/// The page of a list without filters.
#[derive(Debug, Clone)]
pub struct Paging(pub ListQuery);

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        ListQuery::parse(parts.uri.query(), &[]).map(Self)
    }
}

/// The service account of the path (`{id}`).
#[derive(Debug, Clone)]
pub struct AccountPath(pub shared::ids::ServiceAccountId);

impl<S: Send + Sync> FromRequestParts<S> for AccountPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let id = path_param(parts, "id").await?;
        shared::ids::ServiceAccountId::parse(&id)
            .map(Self)
            .map_err(|error| ApiError::bad_request("invalid-parameter", format!("`id`: {error}")))
    }
}

/// The token of the path (`{tid}`).
#[derive(Debug, Clone)]
pub struct TokenPath(pub shared::ids::TokenId);

impl<S: Send + Sync> FromRequestParts<S> for TokenPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let id = path_param(parts, "tid").await?;
        shared::ids::TokenId::parse(&id)
            .map(Self)
            .map_err(|error| ApiError::bad_request("invalid-parameter", format!("`tid`: {error}")))
    }
}

/// The trust policy of the path (`{pid}`).
#[derive(Debug, Clone)]
pub struct TrustPolicyPath(pub shared::ids::TrustPolicyId);

impl<S: Send + Sync> FromRequestParts<S> for TrustPolicyPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let id = path_param(parts, "pid").await?;
        shared::ids::TrustPolicyId::parse(&id)
            .map(Self)
            .map_err(|error| ApiError::bad_request("invalid-parameter", format!("`pid`: {error}")))
    }
}

/// A JSON integer, also when written with a zero fraction (`338.0` is the integer 338 in
/// JSON Schema, which the OpenAPI description follows); `null` and fractions are refused.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    use serde::de::Error as _;
    let number = <serde_json::Number as serde::Deserialize>::deserialize(deserializer)?;
    if let Some(whole) = number.as_i64() {
        return Ok(Some(whole));
    }
    match number.as_f64() {
        // Exactly representable, so the conversion loses nothing.
        Some(value) if value.fract() == 0.0 && value.abs() < 9.0e15 => Ok(Some(value as i64)),
        _ => Err(D::Error::custom("not a whole number of seconds")),
    }
}
