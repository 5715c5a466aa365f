//! The API Gateway Lambda authorizer: the hot path of every request to the organization's APIs.
//!
//! It answers REST API `TOKEN` and `REQUEST` authorizer events and HTTP API payload 2.0 events
//! (with a simple response or an IAM policy, by configuration). A request is decided in this
//! order, and only a well-formed token costs a database read:
//!
//! 1. no token, a malformed one, another prefix, a bad checksum: `Unauthorized` (401), no I/O;
//! 2. a token this container already saw revoked, expired or unknown: 401, no I/O;
//! 3. one strongly consistent `BatchGetItem` (token, account, organization), or the records
//!    cached for this token if a positive cache TTL is configured (default: none);
//! 4. [`shared::decision::decide`]: 401, 403 (a Deny policy / `isAuthorized: false`) or allow;
//! 5. on allow, the token's and account's last-used time, at most once per interval.
//!
//! A policy lists every route the token may call (and, on a 403, denies the requested one), so
//! API Gateway's authorizer cache, keyed on the token, can neither widen nor narrow access.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use aws_lambda_events::event::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayV2CustomAuthorizerIamPolicyResponse, ApiGatewayV2CustomAuthorizerSimpleResponse,
    ApiGatewayV2CustomAuthorizerV2Request,
};
use aws_lambda_events::event::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_runtime::Error;
use serde_json::Value;
use shared::authn::AuthorizationRecords;
use shared::clock::{Clock, SystemClock};
use shared::config::ConfigError;
use shared::decision::{Decision, RequestFacts, decide};
use shared::routes::RouteMap;
use shared::token::{ParsedToken, TokenPrefix, TokenSecret};
use store::DynamoStore;
use time::{Duration, OffsetDateTime};

/// The route map shipped with the function, used when neither `ROUTE_MAP` nor
/// `ROUTE_MAP_FILE` is set.
pub const DEFAULT_ROUTE_MAP: &str = include_str!("../routes.json");

/// How HTTP API (payload 2.0) requests are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpApiResponse {
    /// `{"isAuthorized": ..., "context": ...}` (the authorizer's "simple responses").
    Simple,
    /// An IAM policy, as for REST APIs.
    Iam,
}

/// The authorizer's settings, read once per cold start.
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `ROUTE_MAP` / `ROUTE_MAP_FILE` | the route map (JSON, or a file holding it) | `routes.json` shipped with the function |
/// | `HTTP_API_RESPONSE` | `simple` or `iam`, for HTTP API events | `simple` |
/// | `IDENTITY_HEADER` | the header holding `Bearer <token>` in `REQUEST` and HTTP API events | `authorization` |
/// | `LAST_USED_INTERVAL_SECONDS` | how often last-used times are written, at most | `300` |
/// | `POSITIVE_CACHE_TTL_SECONDS` | how long a container reuses a valid token's records (each second is up to a second of revocation delay) | `0` |
/// | `NEGATIVE_CACHE_ENTRIES` | how many revoked, expired or unknown tokens a container remembers | `10000` |
/// | `GATEWAY_CACHE_TTL_SECONDS` | API Gateway's authorizer cache TTL in front of this function: a token whose life ends sooner is refused, so no cached Allow outlives it | `0` |
#[derive(Debug, Clone)]
pub struct AuthorizerConfig {
    pub token_prefix: TokenPrefix,
    pub routes: RouteMap,
    pub http_api_response: HttpApiResponse,
    pub identity_header: String,
    pub last_used_interval: Duration,
    pub positive_cache_ttl: Duration,
    pub negative_cache_entries: usize,
    /// API Gateway reuses an Allow for this long, whatever the token's expiry.
    pub gateway_cache_ttl: Duration,
}

impl AuthorizerConfig {
    pub fn from_lookup(
        token_prefix: TokenPrefix,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let error = |variable: &'static str, reason: String| ConfigError { variable, reason };
        let map = match (lookup("ROUTE_MAP"), lookup("ROUTE_MAP_FILE")) {
            (Some(json), _) => json,
            (None, Some(path)) => std::fs::read_to_string(&path)
                .map_err(|e| error("ROUTE_MAP_FILE", format!("cannot read {path}: {e}")))?,
            (None, None) => DEFAULT_ROUTE_MAP.to_owned(),
        };
        let routes = RouteMap::parse(&map).map_err(|e| error("ROUTE_MAP", e.to_string()))?;
        let http_api_response = match lookup("HTTP_API_RESPONSE").as_deref() {
            None | Some("simple") => HttpApiResponse::Simple,
            Some("iam") => HttpApiResponse::Iam,
            Some(_) => return Err(error("HTTP_API_RESPONSE", "`simple` or `iam`".into())),
        };
        let seconds = |variable: &'static str,
                       default: i64,
                       max: i64|
         -> Result<Duration, ConfigError> {
            match lookup(variable) {
                None => Ok(Duration::seconds(default)),
                Some(value) => value
                    .parse::<i64>()
                    .ok()
                    .filter(|s| (0..=max).contains(s))
                    .map(Duration::seconds)
                    .ok_or_else(|| error(variable, format!("a number of seconds from 0 to {max}"))),
            }
        };
        let negative_cache_entries = match lookup("NEGATIVE_CACHE_ENTRIES") {
            None => 10_000,
            Some(value) => value
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= 1_000_000)
                .ok_or_else(|| {
                    error(
                        "NEGATIVE_CACHE_ENTRIES",
                        "a number from 0 to 1000000".into(),
                    )
                })?,
        };
        Ok(Self {
            token_prefix,
            routes,
            http_api_response,
            identity_header: lookup("IDENTITY_HEADER")
                .unwrap_or_else(|| "authorization".into())
                .to_ascii_lowercase(),
            last_used_interval: seconds("LAST_USED_INTERVAL_SECONDS", 300, 86_400)?,
            positive_cache_ttl: seconds("POSITIVE_CACHE_TTL_SECONDS", 0, 3_600)?,
            negative_cache_entries,
            gateway_cache_ttl: seconds("GATEWAY_CACHE_TTL_SECONDS", 0, 3_600)?,
        })
    }
}

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
    token: Option<TokenSecret>,
    method: String,
    path: String,
    source_ip: Option<IpAddr>,
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}`, the base of every resource.
    arn_base: String,
    /// The ARN of this request (`methodArn` / `routeArn`).
    request_arn: String,
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

/// `Bearer <token>` (scheme in any case), or a bare token.
fn bearer(value: &str) -> Option<TokenSecret> {
    let value = value.trim();
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        Some(_) => return None,
        // A scheme alone is not a token.
        None if value.eq_ignore_ascii_case("bearer") => return None,
        None => value,
    };
    (!token.is_empty()).then(|| TokenSecret::new(token.to_owned()))
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

/// What a container remembers between invocations. Only token hashes are keys: never tokens.
#[derive(Debug, Default)]
struct Cache {
    /// Tokens that can never become valid again: unknown, revoked, expired.
    refused: HashMap<[u8; 32], ()>,
    /// Records of valid tokens, reused for the positive TTL.
    records: HashMap<[u8; 32], (OffsetDateTime, AuthorizationRecords)>,
}

/// What one authorization cost, for the load harness and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Work {
    pub batch_reads: u32,
    pub last_used_writes: u32,
}

/// The authorizer, built once per container.
#[derive(Debug)]
pub struct Authorizer {
    store: DynamoStore,
    config: AuthorizerConfig,
    clock: Arc<dyn Clock>,
    cache: Mutex<Cache>,
}

impl Authorizer {
    pub fn new(store: DynamoStore, config: AuthorizerConfig) -> Self {
        Self::with_clock(store, config, Arc::new(SystemClock))
    }

    pub fn with_clock(store: DynamoStore, config: AuthorizerConfig, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            config,
            clock,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// One throwaway read, during init, so the first request does not pay for DNS, TLS and
    /// credential loading. Failures are only logged: the first request will retry for real.
    pub async fn warm_up(&self) {
        if let Ok(org) = shared::ids::OrgId::parse("warm-up")
            && let Err(error) = self.store.get_org(&org).await
        {
            tracing::warn!(%error, "warm-up read failed");
        }
    }

    /// Lambda's entry point: an authorizer event in, a policy or simple response out, or the
    /// error `Unauthorized` (API Gateway's 401).
    pub async fn handle(&self, event: Value) -> Result<Value, Error> {
        self.handle_measured(event)
            .await
            .map(|(response, _)| response)
    }

    /// [`Self::handle`], also saying what the authorization cost.
    pub async fn handle_measured(&self, event: Value) -> Result<(Value, Work), Error> {
        let incoming =
            // The parse error is not logged: serde quotes the value it refused, which can be
            // a header holding a token.
            Incoming::from_event(event, &self.config.identity_header).map_err(|_| {
                tracing::warn!("refused an event that is not an API Gateway authorizer event");
                Error::from("Unauthorized")
            })?;
        let (decision, work) = self.authorize(&incoming).await?;
        let response = respond(&incoming, &decision, &self.config)?;
        Ok((response, work))
    }

    async fn authorize(&self, incoming: &Incoming) -> Result<(Decision, Work), Error> {
        let mut work = Work::default();
        let Some(secret) = incoming.token.clone() else {
            return Ok((Decision::Unauthorized("no token"), work));
        };
        let presented = match ParsedToken::parse(&self.config.token_prefix, secret) {
            Ok(presented) => presented,
            Err(error) => {
                tracing::info!(%error, "refused without a read");
                return Ok((Decision::Unauthorized("malformed token"), work));
            }
        };
        let key: [u8; 32] = *presented.hash().as_bytes();
        let now = self.clock.now();
        let cached = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.refused.contains_key(&key) {
                return Ok((Decision::Unauthorized("known refused token"), work));
            }
            // A cached entry lasts the positive TTL from its read, and never beyond the
            // token's own end (its expiry, or a rotation's scheduled revocation).
            cache
                .records
                .get(&key)
                .filter(|(at, records)| {
                    now - *at < self.config.positive_cache_ttl
                        && records
                            .token
                            .as_ref()
                            .is_some_and(|token| token_end(token).is_none_or(|end| now < end))
                })
                .map(|(_, records)| records.clone())
        };
        let from_cache = cached.is_some();
        let records = match cached {
            Some(records) => records,
            None => {
                work.batch_reads += 1;
                self.store
                    .fetch_for_authorization(&presented)
                    .await
                    .map_err(|error| {
                        // Not a 401: a valid caller must not be told its token is bad.
                        tracing::error!(%error, "reading the token's records failed");
                        Error::from("the authorizer could not read its table")
                    })?
            }
        };
        let facts = RequestFacts {
            method: &incoming.method,
            path: &incoming.path,
            source_ip: incoming.source_ip,
        };
        let mut decision = decide(&presented, &records, &facts, &self.config.routes, now);
        // API Gateway's cache reuses an Allow for its whole TTL: a token whose life ends
        // within it is refused now rather than allowed past its end.
        if matches!(decision, Decision::Allow { .. })
            && self.config.gateway_cache_ttl > Duration::ZERO
            && records
                .token
                .as_ref()
                .and_then(token_end)
                .is_some_and(|end| end <= now + self.config.gateway_cache_ttl)
        {
            decision = Decision::Unauthorized("the token ends within the gateway's cache TTL");
        }
        self.remember(key, &decision, &records, now, from_cache);
        match &decision {
            Decision::Allow { .. } => {
                if let Some(token) = &records.token {
                    let stale = token
                        .last_used_at
                        .is_none_or(|at| now - at >= self.config.last_used_interval);
                    if stale {
                        work.last_used_writes += 1;
                        self.touch(token, now).await;
                    }
                }
                tracing::info!(token = presented.display_prefix(), "allowed");
            }
            Decision::Forbidden { reason, .. } | Decision::Unauthorized(reason) => {
                tracing::info!(token = presented.display_prefix(), reason, "refused");
            }
        }
        Ok((decision, work))
    }

    /// Updates the cache after a decision. Records are cached only when they were just read:
    /// the positive TTL counts from the read, so a token in constant use still sees a
    /// revocation within the TTL.
    fn remember(
        &self,
        key: [u8; 32],
        decision: &Decision,
        records: &AuthorizationRecords,
        now: OffsetDateTime,
        from_cache: bool,
    ) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match decision {
            Decision::Unauthorized("unknown token" | "revoked token" | "expired token") => {
                cache.records.remove(&key);
                if self.config.negative_cache_entries == 0 {
                    return;
                }
                if cache.refused.len() >= self.config.negative_cache_entries {
                    cache.refused.clear();
                }
                cache.refused.insert(key, ());
            }
            Decision::Allow { .. } if from_cache => {}
            Decision::Allow { .. } if self.config.positive_cache_ttl > Duration::ZERO => {
                if cache.records.len() >= 10_000 {
                    cache.records.clear();
                }
                cache.records.insert(key, (now, records.clone()));
            }
            _ => {
                cache.records.remove(&key);
            }
        }
    }

    /// Writes the last-used time, bounded so it never slows an authorization noticeably, and
    /// never fails one.
    async fn touch(&self, token: &shared::model::Token, now: OffsetDateTime) {
        let write = self
            .store
            .touch_last_used(token, now, self.config.last_used_interval);
        match tokio::time::timeout(std::time::Duration::from_millis(250), write).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "last-used write failed"),
            Err(_) => tracing::warn!("last-used write timed out"),
        }
    }
}

/// When a token stops working by itself: its expiry, or a scheduled revocation (the end of a
/// rotation's grace period), whichever comes first.
fn token_end(token: &shared::model::Token) -> Option<OffsetDateTime> {
    [token.expires_at, token.revoked_at]
        .into_iter()
        .flatten()
        .min()
}

/// Everything the handler does in-process for one event, given the records a read returned:
/// read the event, parse and hash the token, decide, render. (For benchmarks: the handler
/// runs these same steps around its one `BatchGetItem`.)
pub fn authorize_with_records(
    event: Value,
    records: &AuthorizationRecords,
    config: &AuthorizerConfig,
    now: OffsetDateTime,
) -> Result<Value, Error> {
    let incoming = Incoming::from_event(event, &config.identity_header)?;
    let secret = incoming
        .token
        .clone()
        .ok_or_else(|| Error::from("Unauthorized"))?;
    let presented = ParsedToken::parse(&config.token_prefix, secret)
        .map_err(|_| Error::from("Unauthorized"))?;
    let facts = RequestFacts {
        method: &incoming.method,
        path: &incoming.path,
        source_ip: incoming.source_ip,
    };
    let decision = decide(&presented, records, &facts, &config.routes, now);
    respond(&incoming, &decision, config)
}

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

    #[test]
    fn bearer_schemes_are_read_in_any_case() {
        assert_eq!(bearer("Bearer abc").unwrap().expose_secret(), "abc");
        assert_eq!(bearer("bEaReR   abc ").unwrap().expose_secret(), "abc");
        assert_eq!(bearer("abc").unwrap().expose_secret(), "abc");
        assert!(bearer("Basic abc").is_none());
        assert!(bearer("Bearer ").is_none());
        assert!(bearer("").is_none());
    }

    #[test]
    fn the_shipped_route_map_is_valid() {
        assert!(RouteMap::parse(DEFAULT_ROUTE_MAP).is_ok());
    }
}
