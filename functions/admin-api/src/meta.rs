//! What a request's envelope says about it, beside its method, path, headers and body: who
//! sent it from where, through which API, and what an authorizer or IAM attached. In Lambda it
//! comes from API Gateway's (or the function URL's) request context ([`crate::lambda`]);
//! locally, from the listener's connection ([`RequestMeta::local`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The request's envelope. Its `Debug` prints no header and no body: they hold bearer tokens
/// and client secrets, and this type holds neither.
#[derive(Clone, Default)]
pub struct RequestMeta {
    pub source_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// `requestContext.apiId`: the API (or function URL) the request came through.
    pub api_id: Option<String>,
    /// The context a Lambda authorizer attached, values as strings.
    pub authorizer: HashMap<String, String>,
    /// The claims an HTTP API JWT authorizer verified (`requestContext.authorizer.jwt.claims`),
    /// values as the gateway writes them.
    pub jwt_claims: Option<HashMap<String, String>>,
    /// The caller's IAM ARN when API Gateway (or the function URL) authenticated it with IAM.
    pub iam_arn: Option<String>,
    /// What precedes the routed path in the URL the client called: the REST API stage
    /// (`/prod`), or nothing. Links (`Location`) are built with it.
    pub base_path: String,
}

impl fmt::Debug for RequestMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestMeta")
            .field("source_ip", &self.source_ip)
            .field("request_id", &self.request_id)
            .field("api_id", &self.api_id)
            .field(
                "authorizer",
                &format_args!("[{} keys]", self.authorizer.len()),
            )
            .field(
                "jwt_claims",
                &format_args!(
                    "[{} claims]",
                    self.jwt_claims.as_ref().map_or(0, HashMap::len)
                ),
            )
            .field("iam_arn", &self.iam_arn)
            .field("base_path", &self.base_path)
            .finish_non_exhaustive()
    }
}

impl RequestMeta {
    /// A request that reached a local listener directly from `peer`: no API, no authorizer.
    pub fn local(peer: IpAddr, request_id: String) -> Self {
        Self {
            source_ip: Some(peer),
            request_id: Some(request_id),
            ..Self::default()
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut meta = parts.extensions.get::<Self>().cloned().unwrap_or_default();
        if meta.user_agent.is_none() {
            meta.user_agent = parts
                .headers
                .get("user-agent")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
        }
        Ok(meta)
    }
}
