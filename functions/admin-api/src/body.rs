//! JSON request bodies within the bad-input rules: at most 16 KiB, `application/json`,
//! well-formed, no unknown fields, every field of the right type. Error messages name the
//! field and the rule, never the value (a secret pasted into the wrong field stays out of
//! responses and logs).

use serde::de::DeserializeOwned;

use crate::problem::ApiError;
use crate::request::ApiRequest;

/// The largest body the admin API accepts.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Deserializes the body as `T`; an empty body is an error.
pub fn json_body<T: DeserializeOwned>(request: &ApiRequest) -> Result<T, ApiError> {
    if request.body.is_empty() {
        return Err(ApiError::bad_request(
            "malformed-body",
            "this request needs a JSON body",
        ));
    }
    parse(request)
}

/// Deserializes the body as `T`, or gives `T::default()` when there is no body at all.
pub fn optional_json_body<T: DeserializeOwned + Default>(
    request: &ApiRequest,
) -> Result<T, ApiError> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse(request)
}

fn parse<T: DeserializeOwned>(request: &ApiRequest) -> Result<T, ApiError> {
    if request.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let media_type = request
        .header("content-type")
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    match media_type.as_deref() {
        Some("application/json" | "application/merge-patch+json") => {}
        _ => return Err(ApiError::UnsupportedMediaType),
    }
    let value: serde_json::Value = serde_json::from_slice(&request.body).map_err(|error| {
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
