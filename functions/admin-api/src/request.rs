//! What the handlers need from a request, lifted out of whichever event shape carried it.

use std::collections::HashMap;
use std::net::IpAddr;

use lambda_http::http::{HeaderMap, Method};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;
use shared::token::TokenSecret;
use store::PageLimit;

use crate::problem::ApiError;

/// A request to the admin API. Its `Debug` names the method, path and caller metadata but
/// never prints the headers or the body: they hold bearer tokens and OAuth2 client secrets.
pub struct ApiRequest {
    pub method: Method,
    /// The path without the API Gateway stage (`/v1/orgs/acme/service-accounts`).
    pub path: String,
    /// What precedes `path` in the URL the client called: the REST API stage (`/prod`), or
    /// nothing. Links (`Location`) are built with it so they resolve for the client.
    pub base_path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub source_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// The context a Lambda authorizer attached, values as strings.
    pub authorizer: HashMap<String, String>,
    /// The caller's IAM ARN when API Gateway (or the function URL) authenticated it with IAM.
    pub iam_arn: Option<String>,
    /// `requestContext.apiId`: the API (or function URL) the request came through.
    pub api_id: Option<String>,
}

impl std::fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("base_path", &self.base_path)
            .field("query", &format_args!("[{} parameters]", self.query.len()))
            .field("headers", &format_args!("[{} headers]", self.headers.len()))
            .field("body", &format_args!("[{} bytes]", self.body.len()))
            .field("source_ip", &self.source_ip)
            .field("request_id", &self.request_id)
            .field("api_id", &self.api_id)
            .finish_non_exhaustive()
    }
}

impl ApiRequest {
    pub fn from_lambda(request: Request) -> Self {
        let path = request.raw_http_path().to_owned();
        let base_path = request
            .uri()
            .path()
            .strip_suffix(path.as_str())
            .unwrap_or_default()
            .to_owned();
        let query = request
            .query_string_parameters_ref()
            .map(|query| {
                query
                    .iter()
                    .map(|(name, value)| (name.to_owned(), value.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let mut this = Self {
            method: request.method().clone(),
            path,
            base_path,
            query,
            headers: request.headers().clone(),
            body: Vec::new(),
            source_ip: None,
            user_agent: None,
            request_id: None,
            authorizer: HashMap::new(),
            iam_arn: None,
            api_id: None,
        };
        match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => {
                this.source_ip = parse_ip(context.identity.source_ip.as_deref());
                this.user_agent = context.identity.user_agent.clone();
                this.request_id = context.request_id.clone();
                this.authorizer = strings(&context.authorizer.fields);
                this.iam_arn = context.identity.user_arn.clone();
                this.api_id = context.apiid.clone();
            }
            Some(RequestContext::ApiGatewayV2(context)) => {
                this.source_ip = parse_ip(context.http.source_ip.as_deref());
                this.user_agent = context.http.user_agent.clone();
                this.request_id = context.request_id.clone();
                this.api_id = context.apiid.clone();
                if let Some(authorizer) = &context.authorizer {
                    this.authorizer = strings(&authorizer.fields);
                    this.iam_arn = authorizer.iam.as_ref().and_then(|iam| iam.user_arn.clone());
                }
            }
            _ => {}
        }
        if this.user_agent.is_none() {
            this.user_agent = this.header("user-agent").map(str::to_owned);
        }
        this.body = match request.into_body() {
            Body::Empty => Vec::new(),
            Body::Text(text) => text.into_bytes(),
            Body::Binary(bytes) => bytes,
            _ => Vec::new(),
        };
        this
    }

    /// `limit` and `cursor` of a list request; any other query parameter is refused, so a
    /// typo (`limt`) is not silently ignored.
    pub fn page(&self) -> Result<(PageLimit, Option<&str>), ApiError> {
        let query = self.list_query(&[])?;
        Ok((query.limit, query.cursor))
    }

    /// `limit`, `cursor` and the named `filters` of a list request. Any other parameter, or
    /// a filter given twice, is refused.
    pub fn list_query(&self, filters: &[&'static str]) -> Result<ListQuery<'_>, ApiError> {
        let mut query = ListQuery {
            limit: PageLimit::default(),
            cursor: None,
            filters: Vec::new(),
        };
        for (name, value) in &self.query {
            match name.as_str() {
                "limit" => {
                    query.limit = value
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
                "cursor" => query.cursor = Some(value.as_str()),
                other => match filters.iter().find(|filter| **filter == other) {
                    Some(filter) if query.filter(filter).is_some() => {
                        return Err(ApiError::bad_request(
                            "invalid-parameter",
                            format!("`{filter}` is given more than once"),
                        ));
                    }
                    Some(filter) => query.filters.push((filter, value.as_str())),
                    None => {
                        let mut allowed = vec!["`limit`", "`cursor`"];
                        let named: Vec<String> =
                            filters.iter().map(|filter| format!("`{filter}`")).collect();
                        allowed.extend(named.iter().map(String::as_str));
                        return Err(ApiError::bad_request(
                            "invalid-parameter",
                            format!("the only query parameters are {}", allowed.join(", ")),
                        ));
                    }
                },
            }
        }
        Ok(query)
    }

    /// The first value of a header, if it is valid text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The token of an `Authorization: Bearer <token>` header (the scheme is matched without
    /// regard to case). `None` when there is no such header or it uses another scheme (IAM's
    /// SigV4 signature, for one).
    pub fn bearer_token(&self) -> Option<TokenSecret> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| TokenSecret::new(token.trim().to_owned()))
    }
}

fn parse_ip(value: Option<&str>) -> Option<IpAddr> {
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

/// The query of a list request: its page and its filters.
#[derive(Debug, Clone)]
pub struct ListQuery<'a> {
    pub limit: PageLimit,
    pub cursor: Option<&'a str>,
    filters: Vec<(&'static str, &'a str)>,
}

impl ListQuery<'_> {
    /// The value of a filter, if it was given.
    pub fn filter(&self, name: &str) -> Option<&str> {
        self.filters
            .iter()
            .find(|(filter, _)| *filter == name)
            .map(|(_, value)| *value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_debug_prints_no_header_or_body() {
        let event = serde_json::json!({
            "version": "2.0", "rawPath": "/oauth2/token", "rawQueryString": "",
            "headers": {"authorization": "Bearer svc_TOPSECRETTOKENTEXT", "content-type": "application/x-www-form-urlencoded"},
            "requestContext": {"accountId": "1", "apiId": "a", "domainName": "x", "domainPrefix": "x",
                "http": {"method": "POST", "path": "/oauth2/token", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "t"},
                "requestId": "r", "routeKey": "$default", "stage": "$default", "time": "t", "timeEpoch": 0},
            "body": "grant_type=client_credentials&client_secret=svc_ANOTHERSECRET", "isBase64Encoded": false
        });
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let request = ApiRequest::from_lambda(request);
        assert!(request.bearer_token().is_some());
        let printed = format!("{request:?} {request:#?}");
        for secret in ["TOPSECRETTOKENTEXT", "ANOTHERSECRET", "client_secret"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("/oauth2/token"));
    }
}
