//! Rendering a decision for the event's shape: the error `Unauthorized` (API Gateway's 401),
//! an IAM policy, or an HTTP API simple response.
//!
//! A policy lists every route the principal may call (and, on a 403 for a route, denies the
//! requested one; on a 403 for the address, everything), so API Gateway's cache, keyed on the
//! token, the address and the route, can neither widen nor narrow access.
//!
//! The answer is a plain structure that serializes itself straight to the JSON API Gateway
//! reads (no intermediate `Value`); its context is the principal's, written as it is
//! serialized.

use lambda_runtime::Error;
use serde::Serialize;
use shared::authn::{Context, Principal};
use shared::decision::Decision;
use shared::routes::AllowedRoute;

use crate::config::{AuthorizerConfig, HttpApiResponse};
use crate::event::{Incoming, Shape};

/// The authorizer's answer to API Gateway, as it serializes.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Answer<'a> {
    /// HTTP API simple response: `{"isAuthorized": ..., "context": {...}}`.
    Simple(SimpleResponse<'a>),
    /// An IAM policy (REST APIs; HTTP APIs configured for it).
    Policy(PolicyResponse<'a>),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimpleResponse<'a> {
    is_authorized: bool,
    #[serde(serialize_with = "context_or_empty")]
    context: Option<Context<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyResponse<'a> {
    principal_id: PrincipalId<'a>,
    policy_document: PolicyDocument<'a>,
    #[serde(serialize_with = "context_or_empty")]
    context: Option<Context<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct PolicyDocument<'a> {
    version: &'static str,
    statement: Vec<Statement<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Statement<'a> {
    action: [&'static str; 1],
    effect: &'static str,
    resource: Resources<'a>,
}

/// A statement's resources, written as they are serialized (no string per route).
#[derive(Debug)]
enum Resources<'a> {
    /// `{base}/{method}/{path}` of each allowed route.
    Routes {
        base: &'a str,
        routes: &'a [AllowedRoute<'a>],
    },
    One(String),
}

/// `{base}/{method}/{path}`, written as a string.
struct RouteResource<'a> {
    base: &'a str,
    route: &'a AllowedRoute<'a>,
}

impl Serialize for RouteResource<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Self { base, route } = self;
        serializer.collect_str(&format_args!("{base}/{}/{}", route.method, route.path))
    }
}

impl Serialize for Resources<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Routes { base, routes } => {
                serializer.collect_seq(routes.iter().map(|route| RouteResource { base, route }))
            }
            Self::One(resource) => serializer.collect_seq([resource]),
        }
    }
}

/// The policy's principal: the account, else the organization of an org-wide token, else
/// `anonymous`.
#[derive(Debug)]
struct PrincipalId<'a>(Option<&'a Principal>);

impl Serialize for PrincipalId<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => serializer.serialize_str("anonymous"),
            Some(principal) => match &principal.account {
                Some(account) => serializer.collect_str(account),
                None => serializer.collect_str(&principal.org),
            },
        }
    }
}

/// Writes `None` as an empty object: API Gateway's context is always an object.
fn context_or_empty<S: serde::Serializer>(
    context: &Option<Context<'_>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    match context {
        Some(context) => context.serialize(serializer),
        None => serializer.serialize_map(Some(0))?.end(),
    }
}

/// Renders a decision for the event's shape.
pub fn respond<'a>(
    incoming: &'a Incoming<'_>,
    decision: &'a Decision<'a>,
    config: &AuthorizerConfig,
) -> Result<Answer<'a>, Error> {
    let (principal, allowed, deny) = match decision {
        Decision::Unauthorized(_) => return Err(Error::from("Unauthorized")),
        Decision::Allow { principal, allowed } => (Some(*principal), allowed, None),
        Decision::Forbidden {
            principal, allowed, ..
        } => {
            // A refused address denies everything (the cache should then be keyed on the
            // address too); a refused route denies that route only.
            let denied = if principal.is_some() {
                incoming.request_arn.clone().into_owned()
            } else {
                format!("{}/*", incoming.arn_base)
            };
            (*principal, allowed, Some(denied))
        }
    };
    let context = principal.map(Principal::context);
    if incoming.shape == Shape::HttpApi && config.http_api_response == HttpApiResponse::Simple {
        let authorized = deny.is_none();
        return Ok(Answer::Simple(SimpleResponse {
            is_authorized: authorized,
            context: context.filter(|_| authorized),
        }));
    }
    let mut statements = Vec::with_capacity(2);
    if !allowed.is_empty() {
        statements.push(Statement {
            action: ["execute-api:Invoke"],
            effect: "Allow",
            resource: Resources::Routes {
                base: &incoming.arn_base,
                routes: allowed,
            },
        });
    }
    if let Some(denied) = deny {
        statements.push(Statement {
            action: ["execute-api:Invoke"],
            effect: "Deny",
            resource: Resources::One(denied),
        });
    }
    Ok(Answer::Policy(PolicyResponse {
        principal_id: PrincipalId(principal),
        policy_document: PolicyDocument {
            version: "2012-10-17",
            statement: statements,
        },
        context,
    }))
}
