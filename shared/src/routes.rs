//! The route map: which roles or grants each route of the organization's API needs.
//!
//! ```json
//! {"routes": [
//!   {"method": "GET",  "path": "/items",           "role": "reader"},
//!   {"method": "POST", "path": "/items",           "role": "writer"},
//!   {"method": "GET",  "path": "/brains/{brain}",  "grant": {"resource": "{brain}", "level": "read"}},
//!   {"method": "GET",  "path": "/reports",         "role": "admin", "grant": {"resource": "reports", "level": "read"}}
//! ]}
//! ```
//!
//! A token may call a route when it holds the route's `role` (or a stronger one) **or** its
//! `grant` (that level or more on that resource); a route names at least one of the two. A
//! grant's resource is a fixed name or exactly one path parameter of the route (`{brain}`),
//! in which case the token may call the route for each resource it holds a grant on.
//!
//! [`RouteMap::allowed`] lists every route a principal may call, as IAM resource paths, so a
//! policy built from it is the same whatever route the request was for: API Gateway's
//! authorizer cache (keyed on the token) can neither widen nor narrow access. A path
//! parameter becomes `*` in a policy, and IAM's `*` also matches `/`; so that no allowed
//! pattern can cover another route, [`RouteMap::parse`] refuses maps where one route's
//! pattern matches another route with different requirements.

use std::fmt;

use serde::Deserialize;

use crate::ParseError;
use crate::access::{AccessLevel, ResourceName, Role};
use crate::authn::Permissions;

/// One route's requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// An HTTP method in upper case, or `*` for any.
    pub method: String,
    /// Segments of the path; `{name}` segments are parameters.
    segments: Vec<Segment>,
    pub role: Option<Role>,
    pub grant: Option<GrantRequirement>,
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter(String),
}

/// The grant a route accepts: a fixed resource, or the value of one path parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRequirement {
    pub resource: GrantResource,
    pub level: AccessLevel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantResource {
    Fixed(ResourceName),
    Parameter(String),
}

/// A route a principal may call, as the method and resource path of an `execute-api` ARN
/// (`GET`, `items/*`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AllowedRoute {
    pub method: String,
    pub path: String,
}

impl fmt::Display for AllowedRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.method, self.path)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMap {
    rules: Vec<RouteRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMap {
    routes: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    method: String,
    path: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    grant: Option<RawGrant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGrant {
    resource: String,
    level: String,
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*",
];

impl RouteMap {
    pub fn parse(json: &str) -> Result<Self, ParseError> {
        let raw: RawMap = serde_json::from_str(json)
            .map_err(|error| ParseError::new(format!("the route map is not valid: {error}")))?;
        let mut rules = Vec::with_capacity(raw.routes.len());
        for (i, rule) in raw.routes.into_iter().enumerate() {
            rules.push(parse_rule(rule).map_err(|e| ParseError::new(format!("route {i}: {e}")))?);
        }
        for (i, a) in rules.iter().enumerate() {
            for b in &rules[i + 1..] {
                let methods_meet = a.method == b.method || a.method == "*" || b.method == "*";
                let same_requirements = a.role == b.role && a.grant == b.grant;
                if methods_meet
                    && !same_requirements
                    && globs_intersect(&a.glob(None), &b.glob(None))
                {
                    return Err(ParseError::new(format!(
                        "routes `{} {}` and `{} {}` overlap in a policy (a parameter matches \
                         across `/`) but need different roles or grants",
                        a.method, a.path, b.method, b.path
                    )));
                }
            }
        }
        Ok(Self { rules })
    }

    /// The rule for `method` and `path` (`/items/42`), with the path's parameter values.
    pub fn find<'a>(
        &'a self,
        method: &str,
        path: &str,
    ) -> Option<(&'a RouteRule, Vec<(&'a str, String)>)> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.rules.iter().find_map(|rule| {
            if rule.method != "*" && !rule.method.eq_ignore_ascii_case(method) {
                return None;
            }
            rule.capture(&parts).map(|params| (rule, params))
        })
    }

    /// Every route `permissions` may call, sorted, as `execute-api` method and resource paths.
    pub fn allowed(&self, permissions: &Permissions) -> Vec<AllowedRoute> {
        let mut allowed = Vec::new();
        for rule in &self.rules {
            let by_role = rule
                .role
                .is_some_and(|role| permissions.roles.at_least(role));
            if by_role {
                allowed.push(AllowedRoute {
                    method: rule.method.clone(),
                    path: rule.glob(None),
                });
                continue;
            }
            let Some(grant) = &rule.grant else { continue };
            match &grant.resource {
                GrantResource::Fixed(resource) => {
                    if permissions
                        .grants
                        .level_on(resource)
                        .is_some_and(|l| l >= grant.level)
                    {
                        allowed.push(AllowedRoute {
                            method: rule.method.clone(),
                            path: rule.glob(None),
                        });
                    }
                }
                GrantResource::Parameter(name) => {
                    for held in permissions.grants.iter() {
                        // A path parameter is one segment: resources with `/` cannot be it.
                        if held.level >= grant.level && !held.resource.as_str().contains('/') {
                            allowed.push(AllowedRoute {
                                method: rule.method.clone(),
                                path: rule.glob(Some((name, held.resource.as_str()))),
                            });
                        }
                    }
                }
            }
        }
        allowed.sort();
        allowed.dedup();
        allowed
    }

    pub fn rules(&self) -> &[RouteRule] {
        &self.rules
    }
}

impl RouteRule {
    /// Whether `permissions` may call this route with these path parameters.
    pub fn permits(&self, permissions: &Permissions, params: &[(&str, String)]) -> bool {
        if self
            .role
            .is_some_and(|role| permissions.roles.at_least(role))
        {
            return true;
        }
        let Some(grant) = &self.grant else {
            return false;
        };
        let resource = match &grant.resource {
            GrantResource::Fixed(resource) => Some(resource.clone()),
            GrantResource::Parameter(name) => params
                .iter()
                .find(|(key, _)| key == name)
                .and_then(|(_, value)| ResourceName::parse(value).ok()),
        };
        resource
            .and_then(|resource| permissions.grants.level_on(&resource))
            .is_some_and(|level| level >= grant.level)
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    fn capture<'a>(&'a self, parts: &[&str]) -> Option<Vec<(&'a str, String)>> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Parameter(name) if !part.is_empty() => {
                    params.push((name.as_str(), (*part).to_owned()))
                }
                _ => return None,
            }
        }
        Some(params)
    }

    /// The resource path in an ARN: parameters become `*`, or `value` for `parameter`.
    fn glob(&self, substitute: Option<(&str, &str)>) -> String {
        let parts: Vec<String> = self
            .segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(literal) => literal.clone(),
                Segment::Parameter(name) => match substitute {
                    Some((wanted, value)) if wanted == name => value.to_owned(),
                    _ => "*".to_owned(),
                },
            })
            .collect();
        parts.join("/")
    }
}

/// Whether some path matches both IAM-style patterns (`*` matches any run of characters, `/`
/// included): then a policy built for one route could let a request for the other through.
fn globs_intersect(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    // memo[i][j]: whether a[i..] and b[j..] match a common string.
    let mut memo = vec![vec![None; b.len() + 1]; a.len() + 1];
    intersect_from(a, b, 0, 0, &mut memo)
}

fn intersect_from(
    a: &[u8],
    b: &[u8],
    i: usize,
    j: usize,
    memo: &mut Vec<Vec<Option<bool>>>,
) -> bool {
    if let Some(known) = memo[i][j] {
        return known;
    }
    let result = match (a.get(i), b.get(j)) {
        (None, None) => true,
        // A star matches nothing, or one more character of what the other side produces.
        (Some(b'*'), _) => {
            intersect_from(a, b, i + 1, j, memo)
                || (j < b.len() && intersect_from(a, b, i, j + 1, memo))
        }
        (_, Some(b'*')) => {
            intersect_from(a, b, i, j + 1, memo)
                || (i < a.len() && intersect_from(a, b, i + 1, j, memo))
        }
        (Some(x), Some(y)) => x == y && intersect_from(a, b, i + 1, j + 1, memo),
        _ => false,
    };
    memo[i][j] = Some(result);
    result
}

fn parse_rule(raw: RawRule) -> Result<RouteRule, String> {
    let method = raw.method.to_ascii_uppercase();
    let method = if method == "ANY" {
        "*".to_owned()
    } else {
        method
    };
    if !METHODS.contains(&method.as_str()) {
        return Err(format!("unknown method `{}`", raw.method));
    }
    let Some(path) = raw.path.strip_prefix('/') else {
        return Err("a path starts with `/`".into());
    };
    let mut segments = Vec::new();
    for part in path.split('/') {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(format!("bad parameter `{part}`"));
            }
            segments.push(Segment::Parameter(name.to_owned()));
        } else if part.is_empty() && path.is_empty() {
            segments.push(Segment::Literal(String::new()));
        } else if part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Err(format!("bad path segment `{part}`"));
        } else {
            segments.push(Segment::Literal(part.to_owned()));
        }
    }
    let role = raw
        .role
        .as_deref()
        .map(Role::parse)
        .transpose()
        .map_err(|e| e.to_string())?;
    let grant = match raw.grant {
        None => None,
        Some(grant) => {
            let level = AccessLevel::parse(&grant.level).map_err(|e| e.to_string())?;
            let resource = match grant
                .resource
                .strip_prefix('{')
                .and_then(|r| r.strip_suffix('}'))
            {
                Some(name) => {
                    if !segments.contains(&Segment::Parameter(name.to_owned())) {
                        return Err(format!(
                            "the grant names `{{{name}}}`, which is not a parameter of the path"
                        ));
                    }
                    GrantResource::Parameter(name.to_owned())
                }
                None => GrantResource::Fixed(
                    ResourceName::parse(&grant.resource).map_err(|e| e.to_string())?,
                ),
            };
            Some(GrantRequirement { resource, level })
        }
    };
    if role.is_none() && grant.is_none() {
        return Err("a route needs a `role`, a `grant`, or both".into());
    }
    Ok(RouteRule {
        method,
        segments,
        role,
        grant,
        path: raw.path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Grant, Grants, Roles};

    const MAP: &str = r#"{"routes": [
        {"method": "GET", "path": "/items", "role": "reader"},
        {"method": "POST", "path": "/items", "role": "writer"},
        {"method": "GET", "path": "/items/{id}", "role": "reader"},
        {"method": "GET", "path": "/brains/{brain}", "grant": {"resource": "{brain}", "level": "read"}},
        {"method": "PUT", "path": "/brains/{brain}", "grant": {"resource": "{brain}", "level": "write"}},
        {"method": "GET", "path": "/reports", "role": "admin", "grant": {"resource": "reports", "level": "read"}}
    ]}"#;

    fn permissions(roles: &[Role], grants: &[(&str, AccessLevel)]) -> Permissions {
        Permissions {
            roles: Roles::new(roles.iter().copied()),
            grants: Grants::parse(
                grants
                    .iter()
                    .map(|(r, l)| Grant {
                        resource: ResourceName::parse(r).unwrap(),
                        level: *l,
                    })
                    .collect(),
            )
            .unwrap(),
        }
    }

    fn allowed(p: &Permissions) -> Vec<String> {
        RouteMap::parse(MAP)
            .unwrap()
            .allowed(p)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_reader_may_call_exactly_the_reader_routes() {
        assert_eq!(
            allowed(&permissions(&[Role::Reader], &[])),
            ["GET/items", "GET/items/*"]
        );
    }

    #[test]
    fn roles_include_weaker_ones_and_grants_open_their_resources_only() {
        let p = permissions(
            &[Role::Writer],
            &[
                ("b1", AccessLevel::Write),
                ("b2", AccessLevel::Read),
                ("reports", AccessLevel::Owner),
            ],
        );
        // Resources share one namespace: the `reports` grant also opens `/brains/reports`.
        assert_eq!(
            allowed(&p),
            [
                "GET/brains/b1",
                "GET/brains/b2",
                "GET/brains/reports",
                "GET/items",
                "GET/items/*",
                "GET/reports",
                "POST/items",
                "PUT/brains/b1",
                "PUT/brains/reports"
            ]
        );
        assert!(allowed(&permissions(&[], &[])).is_empty());
    }

    #[test]
    fn find_and_permits_agree_with_allowed() {
        let map = RouteMap::parse(MAP).unwrap();
        let p = permissions(&[Role::Reader], &[("b1", AccessLevel::Read)]);
        let decide = |method: &str, path: &str| {
            map.find(method, path)
                .is_some_and(|(rule, params)| rule.permits(&p, &params))
        };
        assert!(decide("GET", "/items/42"));
        assert!(decide("get", "/items"));
        assert!(!decide("POST", "/items"));
        assert!(decide("GET", "/brains/b1"));
        assert!(!decide("GET", "/brains/b2"));
        assert!(!decide("PUT", "/brains/b1"));
        assert!(!decide("GET", "/unknown"));
        assert!(!decide("GET", "/items/42/extra"));
    }

    #[test]
    fn overlapping_routes_with_different_requirements_are_refused() {
        let nested = r#"{"routes": [
            {"method": "GET", "path": "/items/{id}", "role": "reader"},
            {"method": "GET", "path": "/items/{id}/secrets", "role": "admin"}]}"#;
        assert!(
            RouteMap::parse(nested)
                .unwrap_err()
                .reason()
                .contains("overlap")
        );
        let same = r#"{"routes": [
            {"method": "GET", "path": "/items/{id}", "role": "reader"},
            {"method": "GET", "path": "/items/{id}/notes", "role": "reader"}]}"#;
        assert!(RouteMap::parse(same).is_ok());
        // Patterns that cross: `a/*/c` and `a/b/*` both match `a/b/c`.
        let crossing = r#"{"routes": [
            {"method": "GET", "path": "/a/{x}/c", "role": "reader"},
            {"method": "GET", "path": "/a/b/{y}", "role": "admin"}]}"#;
        assert!(RouteMap::parse(crossing).is_err());
        let other_method = r#"{"routes": [
            {"method": "GET", "path": "/items/{id}", "role": "reader"},
            {"method": "DELETE", "path": "/items/{id}/x", "role": "admin"}]}"#;
        assert!(RouteMap::parse(other_method).is_ok());
    }

    #[test]
    fn malformed_maps_are_refused() {
        for map in [
            r#"{"routes": [{"method": "GET", "path": "/x"}]}"#,
            r#"{"routes": [{"method": "FETCH", "path": "/x", "role": "reader"}]}"#,
            r#"{"routes": [{"method": "GET", "path": "x", "role": "reader"}]}"#,
            r#"{"routes": [{"method": "GET", "path": "/x", "role": "root"}]}"#,
            r#"{"routes": [{"method": "GET", "path": "/x/{id}", "grant": {"resource": "{other}", "level": "read"}}]}"#,
            r#"{"routes": [{"method": "GET", "path": "/x", "role": "reader", "extra": 1}]}"#,
            r#"{"routes": [{"method": "GET", "path": "/x*", "role": "reader"}]}"#,
        ] {
            assert!(RouteMap::parse(map).is_err(), "{map}");
        }
    }

    #[test]
    fn glob_intersection_finds_a_common_path_when_there_is_one() {
        assert!(globs_intersect("a/*/c", "a/b/*"));
        assert!(globs_intersect("items/*", "items/*/secrets"));
        assert!(globs_intersect("x/*", "*"));
        assert!(!globs_intersect("items", "items/*"));
        assert!(!globs_intersect("a/*/c", "a/*/d"));
        assert!(!globs_intersect("brains/*", "items/*"));
    }
}
