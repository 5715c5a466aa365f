//! The form bodies the console's pages post (`application/x-www-form-urlencoded`), read
//! into [`Form`].

use admin_api::meta::RequestMeta;
use admin_api::problem::ApiError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::Response;

use super::frame;
use crate::views::error_page;

/// A form body (`application/x-www-form-urlencoded`, at most 64 KiB): its fields in order.
#[derive(Debug, Default, Clone)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub const LIMIT: usize = 64 * 1024;

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The trimmed, non-empty value of `name`.
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    }

    /// Every value of `name` (checkboxes, repeated fields).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .collect()
    }

    /// A text area's lines, or a comma list, trimmed, without empty ones.
    pub fn lines(&self, name: &str) -> Vec<String> {
        self.get(name)
            .unwrap_or_default()
            .split(['\n', ','])
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let Ok(meta) = RequestMeta::from_request_parts(&mut parts, &()).await;
        let frame = frame(&meta);
        let form_type = parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
        if !form_type {
            return Err(error_page(&frame, &ApiError::UnsupportedMediaType));
        }
        let bytes = axum::body::to_bytes(body, Self::LIMIT)
            .await
            .map_err(|_| error_page(&frame, &ApiError::PayloadTooLarge(Self::LIMIT)))?;
        Ok(Self(form_urlencoded::parse(&bytes).into_owned().collect()))
    }
}
