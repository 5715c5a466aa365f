//! The authorizer's settings, read once per cold start.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `ROUTE_MAP` / `ROUTE_MAP_FILE` | the route map (JSON, or a file holding it) | `routes.json` shipped with the function |
//! | `HTTP_API_RESPONSE` | `simple` or `iam`, for HTTP API events | `simple` |
//! | `IDENTITY_HEADER` | the header holding `Bearer <token>` in `REQUEST` and HTTP API events | `authorization` |
//! | `LAST_USED_INTERVAL_SECONDS` | how often last-used times are written, at most (0–3600: a token in use is never stamped more than an hour ago, well inside the shortest retirement of unused tokens, a day) | `300` |
//! | `OWNER_CACHE_TTL_MS`, `POSITIVE_CACHE_TTL_SECONDS`, `NEGATIVE_CACHE_ENTRIES` | the verifier's caches ([`usecases::verify::CacheSettings`]) | `1000`, `0`, `10000` |
//! | `WARM_UP` | `false` skips the warm-up read during init (only to measure what it saves) | `true` |
//! | `GATEWAY_CACHE_TTL_SECONDS` | API Gateway's authorizer cache TTL in front of this function: a token whose life ends sooner is refused, so no cached Allow outlives it (0–3600) | `0` |

use shared::config::{ConfigError, seconds};
use shared::routes::RouteMap;
use shared::token::TokenFormat;
use time::Duration;
use usecases::verify::CacheSettings;

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

#[derive(Debug, Clone)]
pub struct AuthorizerConfig {
    pub token_format: TokenFormat,
    pub routes: RouteMap,
    pub http_api_response: HttpApiResponse,
    pub identity_header: String,
    pub last_used_interval: Duration,
    pub caches: CacheSettings,
    /// API Gateway reuses an Allow for this long, whatever the token's expiry.
    pub gateway_cache_ttl: Duration,
    /// Whether `main` makes a throwaway read during init.
    pub warm_up: bool,
}

impl AuthorizerConfig {
    pub fn from_lookup(
        token_format: TokenFormat,
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
        Ok(Self {
            token_format,
            routes,
            http_api_response,
            identity_header: lookup("IDENTITY_HEADER")
                .unwrap_or_else(|| "authorization".into())
                .to_ascii_lowercase(),
            last_used_interval: seconds(&lookup, "LAST_USED_INTERVAL_SECONDS", 300, 0..=3_600)?,
            caches: CacheSettings::from_lookup(CacheSettings::AUTHORIZER, &lookup)?,
            gateway_cache_ttl: seconds(&lookup, "GATEWAY_CACHE_TTL_SECONDS", 0, 0..=3_600)?,
            warm_up: match lookup("WARM_UP").as_deref() {
                None | Some("true") => true,
                Some("false") => false,
                Some(_) => return Err(error("WARM_UP", "`true` or `false`".into())),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_route_map_is_valid() {
        assert!(RouteMap::parse(DEFAULT_ROUTE_MAP).is_ok());
    }
}
