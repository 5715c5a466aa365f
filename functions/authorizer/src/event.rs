//! Reading an authorizer event of any shape: REST API `TOKEN` and `REQUEST` events, and
//! HTTP API payload 2.0 events. The method and path decided on are the ones IAM evaluates: a
//! REST API's `methodArn` (the event's `path` can carry a custom domain's base path), and an
//! HTTP API's `rawPath` without a named stage's prefix.

use std::net::IpAddr;

use aws_lambda_events::event::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayV2CustomAuthorizerV2Request,
};
use lambda_runtime::Error;
use serde_json::Value;
use shared::token::{TokenSecret, bearer};

/// Which event shape a request came as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    RestToken,
    RestRequest,
    HttpApi,
}

/// What the authorizer needs from an event, whatever its shape.
#[derive(Debug)]
pub struct Incoming {
    pub shape: Shape,
    pub(crate) token: Option<TokenSecret>,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) source_ip: Option<IpAddr>,
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}`, the base of every resource.
    pub(crate) arn_base: String,
    /// The ARN of this request (`methodArn` / `routeArn`).
    pub(crate) request_arn: String,
}

impl Incoming {
    /// Reads any of the three event shapes. An event that is none of them is refused.
    pub fn from_event(event: Value, identity_header: &str) -> Result<Self, Error> {
        let version = event.get("version").and_then(Value::as_str);
        let kind = event.get("type").and_then(Value::as_str);
        match (version, kind) {
            (Some("2.0"), _) => {
                let event: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_value(event)?;
                let header = event
                    .headers
                    .get(identity_header)
                    .and_then(|v| v.to_str().ok());
                let identity = event
                    .identity_source
                    .as_ref()
                    .and_then(|sources| sources.first());
                let token = header.or(identity.map(String::as_str)).and_then(bearer);
                let request_arn = event.route_arn.unwrap_or_default();
                let (arn_base, _, _) = split_arn(&request_arn)?;
                // On a named stage, HTTP APIs put the stage in front of the path.
                let stage = event.request_context.stage.as_deref().unwrap_or("$default");
                let raw_path = event
                    .raw_path
                    .or(event.request_context.http.path)
                    .unwrap_or_default();
                let path = match raw_path.strip_prefix(&format!("/{stage}")) {
                    Some("") if stage != "$default" => "/".to_owned(),
                    Some(rest) if stage != "$default" && rest.starts_with('/') => rest.to_owned(),
                    _ => raw_path,
                };
                Ok(Self {
                    shape: Shape::HttpApi,
                    token,
                    method: event.request_context.http.method.as_str().to_owned(),
                    path,
                    source_ip: event
                        .request_context
                        .http
                        .source_ip
                        .and_then(|ip| ip.parse().ok()),
                    arn_base,
                    request_arn,
                })
            }
            (_, Some("TOKEN")) => {
                let event: ApiGatewayCustomAuthorizerRequest = serde_json::from_value(event)?;
                let request_arn = event.method_arn.unwrap_or_default();
                let (arn_base, method, path) = split_arn(&request_arn)?;
                Ok(Self {
                    shape: Shape::RestToken,
                    token: event.authorization_token.as_deref().and_then(bearer),
                    method,
                    path,
                    // TOKEN events carry no source address: allowlists then fail closed.
                    source_ip: None,
                    arn_base,
                    request_arn,
                })
            }
            (_, Some("REQUEST")) => {
                let event: ApiGatewayCustomAuthorizerRequestTypeRequest =
                    serde_json::from_value(event)?;
                let request_arn = event.method_arn.unwrap_or_default();
                let (arn_base, arn_method, arn_path) = split_arn(&request_arn)?;
                let token = event
                    .headers
                    .get(identity_header)
                    .and_then(|v| v.to_str().ok())
                    .and_then(bearer);
                let source_ip = event
                    .request_context
                    .identity
                    .and_then(|identity| identity.source_ip)
                    .and_then(|ip| ip.parse().ok());
                Ok(Self {
                    shape: Shape::RestRequest,
                    token,
                    // The method ARN is what IAM evaluates the policy against (the
                    // event's `path` can carry a custom domain's base path).
                    method: arn_method,
                    path: arn_path,
                    source_ip,
                    arn_base,
                    request_arn,
                })
            }
            _ => Err(Error::from("not an API Gateway authorizer event")),
        }
    }
}

/// Splits `arn:aws:execute-api:r:a:api/stage/METHOD/path...` into the base
/// (`arn:aws:execute-api:r:a:api/stage`), the method and the path (`/path...`).
fn split_arn(arn: &str) -> Result<(String, String, String), Error> {
    let malformed = || Error::from("the event has no valid execute-api ARN");
    let resource_start = arn
        .match_indices(':')
        .nth(4)
        .map(|(i, _)| i + 1)
        .ok_or_else(malformed)?;
    if !arn.starts_with("arn:") {
        return Err(malformed());
    }
    let mut parts = arn[resource_start..].splitn(4, '/');
    let (Some(api), Some(stage), Some(method)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let path = format!("/{}", parts.next().unwrap_or_default());
    Ok((
        format!("{}{api}/{stage}", &arn[..resource_start]),
        method.to_owned(),
        path,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split_into_base_method_and_path() {
        let (base, method, path) =
            split_arn("arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/items/42")
                .unwrap();
        assert_eq!(
            base,
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test"
        );
        assert_eq!((method.as_str(), path.as_str()), ("GET", "/items/42"));
        assert!(split_arn("not-an-arn").is_err());
        assert!(split_arn("arn:aws:execute-api:us-east-1:1:api").is_err());
    }
}
