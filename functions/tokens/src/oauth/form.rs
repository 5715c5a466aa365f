//! The form of a token request: `application/x-www-form-urlencoded` only, the parameters each
//! grant knows, each at most once (RFC 6749 §3.2).

use admin_api::extract::{MAX_BODY_BYTES, media_type};
use axum::extract::Request;

use super::error::{OAuthError, invalid_request};

/// The parameters each grant knows. RFC 6749 §3.2: these must not repeat; any other
/// parameter is ignored, repeated or not (RFC 8693's `audience` is nothing to a client
/// credentials request); a parameter without a value counts as absent.
pub(super) const CLIENT_CREDENTIALS_PARAMETERS: &[&str] =
    &["grant_type", "scope", "client_id", "client_secret"];
pub(super) const WORKLOAD_PARAMETERS: &[&str] = &[
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
pub(super) struct Form(Vec<(String, String)>);

impl Form {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Refuses a repeated parameter among `names`.
    pub(super) fn each_once(&self, names: &[&str]) -> Result<(), OAuthError> {
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

/// The request's form, keeping only the parameters some grant knows, and only those with a
/// value.
pub(super) async fn read_form(request: Request) -> Result<Form, OAuthError> {
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
