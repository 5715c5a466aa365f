//! The local API Gateway: one base URL in front of the functions' own handlers.
//!
//! Each HTTP request becomes the REST API proxy event API Gateway would send (`lambda_http`
//! parses it exactly as in Lambda), and goes to:
//!
//! * the `accounts` function, for its routes (service accounts, the audit trail);
//! * the `tokens` function, for its routes (tokens, org-wide tokens, self-rotation,
//!   `POST /oauth2/token`);
//! * the example protected routes of the authorizer's route map (`/hello`, `/items`, …): the
//!   real authorizer gets the REST `REQUEST` authorizer event for the request, and its answer
//!   is enforced as API Gateway enforces it: the error `Unauthorized` is a 401, a policy that
//!   does not allow the method ARN (or denies it) is a 403, and an allowed request reaches the
//!   example integration, which echoes the authorizer's context.
//!
//! As in the deployed stack, the admin routes are not behind the authorizer: their functions
//! authenticate the bearer token themselves. Nothing here re-implements a function's behaviour.

use std::net::IpAddr;

use accounts::AccountsContext;
use authorizer::Authorizer;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::Body;
use serde_json::{Map, Value, json};
use shared::routes::RouteMap;
use tokens::TokensContext;

/// The account id and API id the local method ARNs carry.
const ACCOUNT_ID: &str = "000000000000";
const API_ID: &str = "local";
/// The local gateway has no stage in its paths, like an HTTP API's `$default` stage.
const STAGE: &str = "$default";

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub source_ip: IpAddr,
}

/// One answer.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl HttpResponse {
    fn json(status: StatusCode, body: &Value) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        Self {
            status,
            headers,
            body: body.to_string().into_bytes(),
        }
    }
}

/// The functions behind the one base URL.
#[derive(Debug)]
pub struct Gateway {
    pub accounts: AccountsContext,
    pub tokens: TokensContext,
    pub authorizer: Authorizer,
    /// The authorizer's route map: the routes that exist behind it.
    pub protected: RouteMap,
}

impl Gateway {
    pub async fn handle(&self, request: HttpRequest) -> HttpResponse {
        let request_id = uuid::Uuid::new_v4().to_string();
        let method = request.method.as_str();
        if admin_api::router::route(accounts::ROUTES, &request.method, &request.path).is_ok() {
            return self.invoke(Function::Accounts, &request, &request_id).await;
        }
        if admin_api::router::route(tokens::ROUTES, &request.method, &request.path).is_ok() {
            return self.invoke(Function::Tokens, &request, &request_id).await;
        }
        if request.path.starts_with("/v1/") || request.path.starts_with("/oauth2/") {
            // A wrong method or an unknown path under the admin API: the function's own 404
            // or 405 problem document.
            let function = if request.path.starts_with("/oauth2/")
                || request.path.starts_with("/v1/tokens/")
            {
                Function::Tokens
            } else {
                Function::Accounts
            };
            return self.invoke(function, &request, &request_id).await;
        }
        if self.protected.find(method, &request.path).is_some() {
            return self.protected_route(&request, &request_id).await;
        }
        HttpResponse::json(StatusCode::NOT_FOUND, &json!({"message": "Not Found"}))
    }

    async fn invoke(
        &self,
        function: Function,
        request: &HttpRequest,
        request_id: &str,
    ) -> HttpResponse {
        let Some(event) = lambda_request(request, request_id) else {
            return HttpResponse::json(
                StatusCode::BAD_REQUEST,
                &json!({"message": "the request cannot be passed to the function"}),
            );
        };
        from_lambda(match function {
            Function::Accounts => accounts::handle(&self.accounts, event).await,
            Function::Tokens => tokens::handle(&self.tokens, event).await,
        })
    }

    /// The authorizer decides; the policy is enforced; the integration echoes the context.
    async fn protected_route(&self, request: &HttpRequest, request_id: &str) -> HttpResponse {
        let method_arn = format!(
            "arn:aws:execute-api:{}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{}{}",
            infra::local::LOCAL_REGION,
            request.method,
            request.path
        );
        let event = authorizer_event(request, request_id, &method_arn);
        let answer = match self.authorizer.handle(event).await {
            Ok(answer) => answer,
            Err(error) if error.to_string() == "Unauthorized" => {
                return HttpResponse::json(
                    StatusCode::UNAUTHORIZED,
                    &json!({"message": "Unauthorized"}),
                );
            }
            Err(error) => {
                tracing::error!(%error, "the authorizer failed");
                return HttpResponse::json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"message": null}),
                );
            }
        };
        if !policy_allows(&answer["policyDocument"], &method_arn) {
            return HttpResponse::json(
                StatusCode::FORBIDDEN,
                &json!({
                    "message": "User is not authorized to access this resource with an explicit deny"
                }),
            );
        }
        let mut authorizer = match &answer["context"] {
            Value::Object(context) => context.clone(),
            _ => Map::new(),
        };
        authorizer.insert("principalId".into(), answer["principalId"].clone());
        HttpResponse::json(
            StatusCode::OK,
            &json!({
                "message": "Hello from a protected route",
                "method": request.method.as_str(),
                "path": request.path,
                "authorizer": authorizer,
            }),
        )
    }
}

/// The admin functions.
#[derive(Debug, Clone, Copy)]
enum Function {
    Accounts,
    Tokens,
}

/// API Gateway's single-value and multi-value maps of the same pairs (the last value wins in
/// the single-value one).
fn value_maps<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in pairs {
        single.insert(name.to_owned(), json!(value));
        if let Some(values) = multi
            .entry(name.to_owned())
            .or_insert_with(|| json!([]))
            .as_array_mut()
        {
            values.push(json!(value));
        }
    }
    (Value::Object(single), Value::Object(multi))
}

fn header_maps(headers: &HeaderMap) -> (Value, Value) {
    value_maps(
        headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
    )
}

/// Null for an empty query string, as API Gateway sends it.
fn query_maps(query: &[(String, String)]) -> (Value, Value) {
    if query.is_empty() {
        return (Value::Null, Value::Null);
    }
    value_maps(
        query
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    )
}

fn user_agent(request: &HttpRequest) -> Option<&str> {
    request
        .headers
        .get("user-agent")
        .and_then(|value| value.to_str().ok())
}

/// The REST API proxy event for `request`, parsed by `lambda_http` as in Lambda.
fn lambda_request(request: &HttpRequest, request_id: &str) -> Option<lambda_http::Request> {
    let (headers, multi_headers) = header_maps(&request.headers);
    let (query, multi_query) = query_maps(&request.query);
    let (body, base64) = match std::str::from_utf8(&request.body) {
        Ok("") => (Value::Null, false),
        Ok(text) => (json!(text), false),
        Err(_) => (json!(STANDARD.encode(&request.body)), true),
    };
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let event = json!({
        "resource": "/{proxy+}",
        "path": request.path,
        "httpMethod": request.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {"proxy": request.path.trim_start_matches('/')},
        "stageVariables": null,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "resourceId": "proxy",
            "resourcePath": "/{proxy+}",
            "stage": STAGE,
            "requestId": request_id,
            "httpMethod": request.method.as_str(),
            "path": request.path,
            "protocol": "HTTP/1.1",
            "requestTimeEpoch": i64::try_from(now_ms).unwrap_or_default(),
            "identity": {
                "sourceIp": request.source_ip.to_string(),
                "userAgent": user_agent(request),
            },
        },
        "body": body,
        "isBase64Encoded": base64,
    });
    lambda_http::request::from_str(&event.to_string())
        .inspect_err(|error| tracing::warn!(%error, "could not build the function's event"))
        .ok()
}

/// The REST API `REQUEST` authorizer event for `request`.
fn authorizer_event(request: &HttpRequest, request_id: &str, method_arn: &str) -> Value {
    let (headers, multi_headers) = header_maps(&request.headers);
    let (query, multi_query) = query_maps(&request.query);
    json!({
        "type": "REQUEST",
        "methodArn": method_arn,
        "resource": request.path,
        "path": request.path,
        "httpMethod": request.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "path": request.path,
            "accountId": ACCOUNT_ID,
            "resourceId": "local",
            "stage": STAGE,
            "requestId": request_id,
            "identity": {
                "sourceIp": request.source_ip.to_string(),
                "userAgent": user_agent(request),
            },
            "resourcePath": request.path,
            "httpMethod": request.method.as_str(),
            "apiId": API_ID,
        },
    })
}

fn from_lambda(response: Result<lambda_http::Response<Body>, lambda_http::Error>) -> HttpResponse {
    match response {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            HttpResponse {
                status: parts.status,
                headers: parts.headers,
                body: match body {
                    Body::Text(text) => text.into_bytes(),
                    Body::Binary(bytes) => bytes,
                    _ => Vec::new(),
                },
            }
        }
        // A function error is what API Gateway shows as a 502.
        Err(error) => {
            tracing::error!(%error, "the function failed");
            HttpResponse::json(
                StatusCode::BAD_GATEWAY,
                &json!({"message": "Internal server error"}),
            )
        }
    }
}

/// API Gateway's reading of an authorizer's policy for one method ARN: an explicit `Deny`
/// wins, then an `Allow`; no matching statement is a deny. `*` and `?` are wildcards.
pub fn policy_allows(policy: &Value, method_arn: &str) -> bool {
    let mut allowed = false;
    let statements = match &policy["Statement"] {
        Value::Array(statements) => statements.clone(),
        statement @ Value::Object(_) => vec![statement.clone()],
        _ => Vec::new(),
    };
    for statement in statements {
        let resources: Vec<&str> = match &statement["Resource"] {
            Value::String(resource) => vec![resource.as_str()],
            Value::Array(resources) => resources.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !resources.iter().any(|pattern| glob(pattern, method_arn)) {
            continue;
        }
        match statement["Effect"].as_str() {
            Some("Deny") => return false,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    allowed
}

/// `*` matches any run of characters (`/` included), `?` any one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    t = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// The query string's pairs, percent-decoded, in order.
pub fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|query| {
            form_urlencoded::parse(query.as_bytes())
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_iam_resources() {
        let arn = "arn:aws:execute-api:us-east-1:000000000000:local/$default/GET/items/42";
        assert!(glob(
            "arn:aws:execute-api:us-east-1:000000000000:local/$default/GET/items/*",
            arn
        ));
        assert!(glob("*", arn));
        assert!(glob("arn:*/GET/items/4?", arn));
        assert!(!glob("arn:*/POST/items/*", arn));
        assert!(!glob("arn:*/GET/items", arn));
    }

    #[test]
    fn deny_wins_and_nothing_matching_is_a_deny() {
        let arn = "arn:x/GET/items/1";
        let allow = json!({"Statement": [{"Effect": "Allow", "Resource": ["arn:x/GET/items/*"]}]});
        assert!(policy_allows(&allow, arn));
        let both = json!({"Statement": [
            {"Effect": "Allow", "Resource": ["arn:x/GET/*"]},
            {"Effect": "Deny", "Resource": "arn:x/GET/items/1"}
        ]});
        assert!(!policy_allows(&both, arn));
        let other = json!({"Statement": [{"Effect": "Allow", "Resource": ["arn:x/POST/*"]}]});
        assert!(!policy_allows(&other, arn));
        assert!(!policy_allows(&json!({}), arn));
    }

    #[test]
    fn query_strings_are_decoded() {
        let pairs = parse_query(Some(
            "action=token.revoked&since=2026-11-01T00%3A00%3A00Z&a+b=c",
        ));
        let map: std::collections::HashMap<_, _> = pairs.into_iter().collect();
        assert_eq!(map["action"], "token.revoked");
        assert_eq!(map["since"], "2026-11-01T00:00:00Z");
        assert_eq!(map["a b"], "c");
    }
}
