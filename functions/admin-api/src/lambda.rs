//! The Lambda entry: API Gateway REST (payload 1.0), HTTP API (payload 2.0) and function URL
//! events, as `lambda_http` reads them, become plain HTTP requests for the function's router.
//!
//! Two things differ from a request that reached a listener directly, and are settled here,
//! once: the path a REST API stage prefixes (`/prod/v1/...` is routed as `/v1/...`, and
//! `/prod` kept for links), and the request context (source address, API id, authorizer
//! context, IAM identity, request id), which becomes a [`RequestMeta`] extension.

use std::collections::HashMap;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Uri};
use axum::response::Response;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;
use serde_json::Value;
use tower::ServiceExt as _;
use tower::util::MapRequest;

use crate::meta::RequestMeta;

/// The router, taking Lambda's requests.
pub type LambdaService = MapRequest<Router, fn(lambda_http::Request) -> Request>;

/// Wraps a function's router for `lambda_http`: every event shape becomes a plain request.
pub fn service(router: Router) -> LambdaService {
    MapRequest::new(router, from_lambda as fn(lambda_http::Request) -> Request)
}

/// Runs `router` as the function's handler until the runtime stops it.
pub async fn run(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(service(router)).await
}

/// Calls `router` with one Lambda request (the tests drive real event shapes through it).
pub async fn call(router: Router, request: lambda_http::Request) -> Response {
    match service(router).oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// The plain request for a Lambda one.
pub fn from_lambda(request: lambda_http::Request) -> Request {
    let raw_path = request.raw_http_path().to_owned();
    let mut meta = RequestMeta::default();
    // The stage in front of the path: REST APIs leave it out of the event's path (and
    // `lambda_http` adds it back), HTTP APIs include it in `rawPath` for a named stage.
    let mut stage = None;
    let mut in_raw_path = false;
    // What the client called, when the event says (REST: `requestContext.path`).
    let mut called_path = None;
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => {
            meta.source_ip = parse_ip(context.identity.source_ip.as_deref());
            meta.user_agent = context.identity.user_agent.clone();
            meta.request_id = context.request_id.clone();
            meta.api_id = context.apiid.clone();
            meta.authorizer = strings(&context.authorizer.fields);
            meta.iam_arn = context.identity.user_arn.clone();
            stage = context.stage.clone();
            in_raw_path = false;
            called_path = context.path.clone();
        }
        Some(RequestContext::ApiGatewayV2(context)) => {
            meta.source_ip = parse_ip(context.http.source_ip.as_deref());
            meta.user_agent = context.http.user_agent.clone();
            meta.request_id = context.request_id.clone();
            meta.api_id = context.apiid.clone();
            if let Some(authorizer) = &context.authorizer {
                meta.authorizer = strings(&authorizer.fields);
                meta.iam_arn = authorizer.iam.as_ref().and_then(|iam| iam.user_arn.clone());
                meta.jwt_claims = authorizer.jwt.as_ref().map(|jwt| jwt.claims.clone());
            }
            stage = context.stage.clone();
            in_raw_path = true;
        }
        _ => {}
    }
    let (mut parts, body) = request.into_parts();
    // The routes do not have the stage: it is routed without, and kept for links.
    let path = parts.uri.path().to_owned();
    let prefix = stage
        .filter(|stage| stage != "$default")
        .map(|stage| format!("/{stage}"))
        .filter(|prefix| {
            let staged = format!("{prefix}/");
            path.starts_with(&staged) && (in_raw_path || !raw_path.starts_with(&staged))
        });
    if let Some(prefix) = prefix {
        let routed = &path[prefix.len()..];
        let uri = match parts.uri.query() {
            Some(query) => format!("{routed}?{query}"),
            None => routed.to_owned(),
        };
        if let Ok(uri) = uri.parse::<Uri>() {
            parts.uri = uri;
            meta.base_path = prefix;
        }
    }
    // A REST stage named like the routes' first segment (`v1`) is not added by `lambda_http`:
    // what the client called says what precedes the routed path.
    if let Some(base) = called_path
        .as_deref()
        .and_then(|called| called.strip_suffix(raw_path.as_str()))
        .filter(|base| base.starts_with('/') && !base.contains(['?', '#']))
    {
        meta.base_path = base.to_owned();
    }
    if let Some(id) = meta.request_id.as_deref()
        && !parts.headers.contains_key("x-request-id")
        && let Ok(value) = HeaderValue::from_str(id)
    {
        parts.headers.insert("x-request-id", value);
    }
    parts.extensions.insert(meta);
    Request::from_parts(parts, axum::body::Body::new(body))
}

fn parse_ip(value: Option<&str>) -> Option<std::net::IpAddr> {
    value.and_then(|ip| ip.parse().ok())
}

/// API Gateway passes authorizer context values as strings, numbers or booleans.
fn strings(fields: &HashMap<String, Value>) -> HashMap<String, String> {
    fields
        .iter()
        .filter_map(|(name, value)| {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => return None,
            };
            Some((name.clone(), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_read_and_its_debug_prints_no_header_or_body() {
        let event = serde_json::json!({
            "version": "2.0", "rawPath": "/oauth2/token", "rawQueryString": "",
            "headers": {"authorization": "Bearer svc_TOPSECRETTOKENTEXT", "content-type": "application/x-www-form-urlencoded"},
            "requestContext": {"accountId": "1", "apiId": "a1", "domainName": "x", "domainPrefix": "x",
                "http": {"method": "POST", "path": "/oauth2/token", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "t"},
                "requestId": "r-1", "routeKey": "$default", "stage": "$default", "time": "t", "timeEpoch": 0},
            "body": "grant_type=client_credentials&client_secret=svc_ANOTHERSECRET", "isBase64Encoded": false
        });
        let request = from_lambda(lambda_http::request::from_str(&event.to_string()).unwrap());
        let meta = request.extensions().get::<RequestMeta>().unwrap();
        assert_eq!(meta.api_id.as_deref(), Some("a1"));
        assert_eq!(meta.request_id.as_deref(), Some("r-1"));
        assert_eq!(request.headers()["x-request-id"], "r-1");
        assert_eq!(request.uri().path(), "/oauth2/token");
        let printed = format!("{meta:?} {meta:#?}");
        for secret in ["TOPSECRETTOKENTEXT", "ANOTHERSECRET", "client_secret"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
