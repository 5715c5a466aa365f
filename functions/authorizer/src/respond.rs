//! Rendering a decision for the event's shape: the error `Unauthorized` (API Gateway's 401),
//! an IAM policy, or an HTTP API simple response.
//!
//! A policy lists every route the principal may call (and, on a 403 for a route, denies the
//! requested one; on a 403 for the address, everything), so API Gateway's cache, keyed on the
//! token, the address and the route, can neither widen nor narrow access.

use aws_lambda_events::event::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayV2CustomAuthorizerIamPolicyResponse, ApiGatewayV2CustomAuthorizerSimpleResponse,
};
use aws_lambda_events::event::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_runtime::Error;
use serde_json::Value;
use shared::decision::Decision;

use crate::config::{AuthorizerConfig, HttpApiResponse};
use crate::event::{Incoming, Shape};

/// Renders a decision for the event's shape.
pub fn respond(
    incoming: &Incoming,
    decision: &Decision,
    config: &AuthorizerConfig,
) -> Result<Value, Error> {
    let (principal, allowed, deny) = match decision {
        Decision::Unauthorized(_) => return Err(Error::from("Unauthorized")),
        Decision::Allow { principal, allowed } => (Some(principal), allowed, None),
        Decision::Forbidden {
            principal, allowed, ..
        } => {
            // A refused address denies everything (the cache should then be keyed on the
            // address too); a refused route denies that route only.
            let denied = if principal.is_some() {
                incoming.request_arn.clone()
            } else {
                format!("{}/*", incoming.arn_base)
            };
            (principal.as_ref(), allowed, Some(denied))
        }
    };
    let context: serde_json::Map<String, Value> = principal
        .map(|p| {
            p.to_context()
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        })
        .unwrap_or_default();
    if incoming.shape == Shape::HttpApi && config.http_api_response == HttpApiResponse::Simple {
        let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::<Value>::default();
        response.is_authorized = deny.is_none();
        response.context = if deny.is_none() {
            Value::Object(context)
        } else {
            Value::Object(Default::default())
        };
        return Ok(serde_json::to_value(response)?);
    }

    let mut statements = Vec::new();
    if !allowed.is_empty() {
        let mut allow = IamPolicyStatement::default();
        allow.action = vec!["execute-api:Invoke".into()];
        allow.effect = IamPolicyEffect::Allow;
        allow.resource = allowed
            .iter()
            .map(|route| format!("{}/{}/{}", incoming.arn_base, route.method, route.path))
            .collect();
        statements.push(allow);
    }
    if let Some(denied) = deny {
        let mut statement = IamPolicyStatement::default();
        statement.action = vec!["execute-api:Invoke".into()];
        statement.effect = IamPolicyEffect::Deny;
        statement.resource = vec![denied];
        statements.push(statement);
    }
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = statements;
    let principal_id = principal.map_or_else(
        || "anonymous".to_owned(),
        |p| {
            p.account
                .as_ref()
                .map_or_else(|| p.org.to_string(), ToString::to_string)
        },
    );
    if incoming.shape == Shape::HttpApi {
        let mut response = ApiGatewayV2CustomAuthorizerIamPolicyResponse::<Value>::default();
        response.principal_id = Some(principal_id);
        response.policy_document = policy;
        response.context = Value::Object(context);
        Ok(serde_json::to_value(response)?)
    } else {
        let mut response = ApiGatewayCustomAuthorizerResponse::<Value>::default();
        response.principal_id = Some(principal_id);
        response.policy_document = policy;
        response.context = Value::Object(context);
        Ok(serde_json::to_value(response)?)
    }
}
