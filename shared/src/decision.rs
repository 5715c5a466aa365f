//! The authorizer's decision: a pure function of who the token authenticated as (or why it
//! did not), the request (method, path) and the route map.
//!
//! | situation | decision |
//! | --- | --- |
//! | no token, malformed, wrong prefix, bad checksum | 401, decided before any read (see `ParsedToken::parse`) |
//! | unknown token, hash mismatch, revoked, expired | 401 |
//! | organization missing or disabled; account missing, deleted or disabled | 401 |
//! | source address outside the organization's or the account's allowlist | 403 |
//! | a path that is not canonical: a percent-escape, an empty or dot segment, a backslash | 403 |
//! | route not in the map, bound to another organization, or not allowed to the token's roles, scopes and grants | 403 |
//! | otherwise | allow |
//!
//! The first three rows are [`crate::authn::authenticate`]'s, reached through the one
//! verification path; this module adds the routes.

use std::net::IpAddr;

use crate::authn::{Denial, Forbidden, Principal, Unauthenticated};
use crate::routes::{AllowedRoute, RouteMap, canonical_path};

/// What the request is for.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    pub method: &'a str,
    /// The resource path, without the stage (`/items/42`).
    pub path: &'a str,
    pub source_ip: Option<IpAddr>,
}

/// A decision, borrowing the principal and the route map it was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'a> {
    /// 401: no valid token.
    Unauthorized(Unauthenticated),
    /// Refused with a 403. `allowed` lists what the principal may call (empty when the
    /// source address was refused), so the policy answered is right for every route.
    Forbidden {
        principal: Option<&'a Principal>,
        allowed: Vec<AllowedRoute<'a>>,
        reason: Forbidden,
    },
    Allow {
        principal: &'a Principal,
        allowed: Vec<AllowedRoute<'a>>,
    },
}

/// Decides on a request, given what verifying its credential came to.
pub fn decide<'a>(
    authenticated: Result<&'a Principal, Denial>,
    facts: &RequestFacts<'_>,
    routes: &'a RouteMap,
) -> Decision<'a> {
    let principal = match authenticated {
        Ok(principal) => principal,
        Err(Denial::Unauthenticated(reason)) => return Decision::Unauthorized(reason),
        Err(Denial::Forbidden(reason)) => {
            return Decision::Forbidden {
                principal: None,
                allowed: Vec::new(),
                reason,
            };
        }
    };
    let allowed = routes.allowed(&principal.org, &principal.permissions);
    // API Gateway and the backend may each read an escaped or dotted path their own way
    // (`/items/1%2F..%2Fadmin`): such a path matches no route, whatever its spelling.
    if !canonical_path(facts.path) {
        return Decision::Forbidden {
            principal: Some(principal),
            allowed,
            reason: Forbidden::PathNotCanonical,
        };
    }
    let permitted = routes
        .find(facts.method, facts.path)
        .is_some_and(|(rule, params)| {
            rule.permits(&principal.org, &principal.permissions, &params)
        });
    if permitted {
        Decision::Allow { principal, allowed }
    } else {
        Decision::Forbidden {
            principal: Some(principal),
            allowed,
            reason: Forbidden::Route,
        }
    }
}
