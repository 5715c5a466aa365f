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
//! **Resources belong to an organization.** A route may say which organization it acts on
//! (`"org": "{org}"`, a path parameter, or `"org": "acme"`, a fixed one); the token's
//! organization must then be that one, whatever its roles and grants. Grant names are chosen
//! by each organization's admins, so two organizations can both grant `brain-42`: a route
//! with a `grant` must therefore name its organization, unless the map says
//! `"sharedResources": true` (one deployment serving one resource namespace, where the
//! backend checks the `org` context itself).
//!
//! [`RouteMap::allowed`] lists every route a principal may call, as IAM resource paths, so a
//! policy built from it is the same whatever route the request was for: API Gateway's
//! authorizer cache (keyed on the token) can neither widen nor narrow access. A path
//! parameter becomes `*` in a policy, and IAM's `*` also matches `/`; so that no allowed
//! pattern can cover another route, [`RouteMap::parse`] refuses maps where one route's
//! pattern matches another route with different requirements.

use std::borrow::Cow;
use std::fmt;

use crate::ParseError;
use crate::access::{AccessLevel, ResourceName, Role};
use crate::authn::Permissions;
use crate::ids::OrgId;

mod overlap;
mod parse;

use overlap::globs_intersect;
use parse::{RawMap, parse_rule};

/// One route's requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// An HTTP method in upper case, or `*` for any.
    pub method: String,
    /// Segments of the path; `{name}` segments are parameters.
    segments: Vec<Segment>,
    pub role: Option<Role>,
    pub grant: Option<GrantRequirement>,
    /// The organization the route acts on, when the map says.
    pub org: Option<OrgBinding>,
    path: String,
    /// The resource path with every parameter `*`: what most allowed routes are, computed
    /// once so that listing them copies nothing.
    wildcard: String,
}

/// Which organization a route acts on: the value of a path parameter, or a fixed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgBinding {
    Parameter(String),
    Fixed(OrgId),
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
/// (`GET`, `items/*`), borrowed from the map unless a parameter is bound to a value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AllowedRoute<'m> {
    pub method: &'m str,
    pub path: Cow<'m, str>,
}

impl fmt::Display for AllowedRoute<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.method, self.path)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMap {
    rules: Vec<RouteRule>,
    shared_resources: bool,
}

impl RouteMap {
    pub fn parse(json: &str) -> Result<Self, ParseError> {
        let raw: RawMap = serde_json::from_str(json)
            .map_err(|error| ParseError::new(format!("the route map is not valid: {error}")))?;
        let mut rules = Vec::with_capacity(raw.routes.len());
        for (i, rule) in raw.routes.into_iter().enumerate() {
            let rule = parse_rule(rule).map_err(|e| ParseError::new(format!("route {i}: {e}")))?;
            if rule.grant.is_some() && rule.org.is_none() && !raw.shared_resources {
                return Err(ParseError::new(format!(
                    "route {i} (`{} {}`) grants access to a resource but does not say which \
                     organization the resource belongs to: add `\"org\": \"{{org}}\"` (a path \
                     parameter) or a fixed organization, or set `\"sharedResources\": true`",
                    rule.method, rule.path
                )));
            }
            rules.push(rule);
        }
        for (i, a) in rules.iter().enumerate() {
            for b in &rules[i + 1..] {
                let methods_meet = a.method == b.method || a.method == "*" || b.method == "*";
                // Compared by position: `{b}` as the first segment of one route and the
                // second of another are different requirements, whatever their names.
                let same_requirements = a.requirement() == b.requirement();
                if methods_meet && !same_requirements && globs_intersect(&a.pattern(), &b.pattern())
                {
                    return Err(ParseError::new(format!(
                        "routes `{} {}` and `{} {}` overlap in a policy (a parameter matches \
                         across `/`) but need different roles or grants",
                        a.method, a.path, b.method, b.path
                    )));
                }
            }
        }
        Ok(Self {
            rules,
            shared_resources: raw.shared_resources,
        })
    }

    /// Whether grant resources form one namespace for every organization.
    pub fn shared_resources(&self) -> bool {
        self.shared_resources
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

    /// Every route a principal of `org` with `permissions` may call, sorted, as `execute-api`
    /// method and resource paths. A route bound to an organization by a path parameter is
    /// listed with the principal's organization in that segment, so the policy covers no
    /// other organization's paths.
    pub fn allowed(&self, org: &OrgId, permissions: &Permissions) -> Vec<AllowedRoute<'_>> {
        let mut allowed = Vec::new();
        for rule in &self.rules {
            let org_parameter = match &rule.org {
                Some(OrgBinding::Fixed(fixed)) if fixed != org => continue,
                Some(OrgBinding::Parameter(name)) => Some((name.as_str(), org.as_str())),
                _ => None,
            };
            let bound = org_parameter.as_slice();
            let route = |bound: &[(&str, &str)]| AllowedRoute {
                method: &rule.method,
                path: if bound.is_empty() {
                    Cow::Borrowed(rule.wildcard.as_str())
                } else {
                    Cow::Owned(RouteRule::glob_of(&rule.segments, bound))
                },
            };
            let by_role = rule
                .role
                .is_some_and(|role| permissions.roles.at_least(role));
            if by_role {
                allowed.push(route(bound));
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
                        allowed.push(route(bound));
                    }
                }
                GrantResource::Parameter(name) => {
                    for held in permissions.grants.iter() {
                        // A path parameter is one segment: resources with `/` cannot be it.
                        if held.level >= grant.level && !held.resource.as_str().contains('/') {
                            let mut bound = bound.to_vec();
                            bound.push((name, held.resource.as_str()));
                            allowed.push(route(&bound));
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
    /// Whether a principal of `org` with `permissions` may call this route with these path
    /// parameters. A route bound to another organization permits nothing.
    pub fn permits(
        &self,
        org: &OrgId,
        permissions: &Permissions,
        params: &[(&str, String)],
    ) -> bool {
        let org_matches = match &self.org {
            None => true,
            Some(OrgBinding::Fixed(fixed)) => fixed == org,
            Some(OrgBinding::Parameter(name)) => params
                .iter()
                .any(|(key, value)| key == name && value == org.as_str()),
        };
        if !org_matches {
            return false;
        }
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

    /// The resource path in an ARN: parameters become `*`, or their value in `bound`.
    fn glob_of(segments: &[Segment], bound: &[(&str, &str)]) -> String {
        let mut glob = String::new();
        for (i, segment) in segments.iter().enumerate() {
            if i > 0 {
                glob.push('/');
            }
            glob.push_str(match segment {
                Segment::Literal(literal) => literal,
                Segment::Parameter(name) => bound
                    .iter()
                    .find(|(wanted, _)| wanted == name)
                    .map_or("*", |(_, value)| value),
            });
        }
        glob
    }
}

/// Whether `path` is spelled the one way every reader agrees on: it starts with `/`, and has
/// no percent-escape, backslash, empty segment (`//`, a trailing `/`) or dot segment (`.`,
/// `..`). Any other spelling is refused rather than interpreted, because API Gateway, IAM and
/// the backend could each read it differently (an encoded `/`, a `..` resolved by one of them).
pub fn canonical_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    !path.contains(['%', '\\'])
        && rest
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Grant, Grants, Roles};

    /// A map in the shared-resource mode: one resource namespace for every organization.
    const MAP: &str = r#"{"sharedResources": true, "routes": [
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

    fn acme() -> OrgId {
        OrgId::parse("acme").unwrap()
    }

    fn allowed(p: &Permissions) -> Vec<String> {
        RouteMap::parse(MAP)
            .unwrap()
            .allowed(&acme(), p)
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
                .is_some_and(|(rule, params)| rule.permits(&acme(), &p, &params))
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

    const SCOPED: &str = r#"{"routes": [
        {"method": "GET", "path": "/orgs/{org}/brains/{brain}", "org": "{org}", "grant": {"resource": "{brain}", "level": "read"}},
        {"method": "GET", "path": "/orgs/{org}/items", "org": "{org}", "role": "reader"},
        {"method": "GET", "path": "/acme-reports", "org": "acme", "role": "reader"},
        {"method": "GET", "path": "/health", "role": "reader"}
    ]}"#;

    #[test]
    fn grants_are_scoped_to_the_organization_of_the_route() {
        let map = RouteMap::parse(SCOPED).unwrap();
        let p = permissions(&[Role::Reader], &[("brain-42", AccessLevel::Read)]);
        let other = OrgId::parse("other").unwrap();
        let decide = |org: &OrgId, method: &str, path: &str| {
            map.find(method, path)
                .is_some_and(|(rule, params)| rule.permits(org, &p, &params))
        };
        assert!(decide(&acme(), "GET", "/orgs/acme/brains/brain-42"));
        // Org B's admin may grant its account `brain-42` too: it opens only org B's paths.
        assert!(!decide(&other, "GET", "/orgs/acme/brains/brain-42"));
        assert!(decide(&other, "GET", "/orgs/other/brains/brain-42"));
        assert!(!decide(&other, "GET", "/orgs/acme/items"));
        assert!(decide(&acme(), "GET", "/acme-reports"));
        assert!(!decide(&other, "GET", "/acme-reports"));
        assert!(decide(&other, "GET", "/health"));
        let listed: Vec<String> = map
            .allowed(&other, &p)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            listed,
            [
                "GET/health",
                "GET/orgs/other/brains/brain-42",
                "GET/orgs/other/items"
            ]
        );
    }

    #[test]
    fn a_grant_route_must_name_its_organization_unless_resources_are_shared() {
        let unscoped = r#"{"routes": [
            {"method": "GET", "path": "/brains/{brain}", "grant": {"resource": "{brain}", "level": "read"}}]}"#;
        let error = RouteMap::parse(unscoped).unwrap_err();
        assert!(error.reason().contains("sharedResources"), "{error}");
        let shared = r#"{"sharedResources": true, "routes": [
            {"method": "GET", "path": "/brains/{brain}", "grant": {"resource": "{brain}", "level": "read"}}]}"#;
        assert!(RouteMap::parse(shared).unwrap().shared_resources());
        for bad in [
            r#"{"routes": [{"method": "GET", "path": "/x/{a}", "org": "{b}", "role": "reader"}]}"#,
            r#"{"routes": [{"method": "GET", "path": "/x/{a}", "org": "Not An Org", "role": "reader"}]}"#,
            r#"{"routes": [{"method": "GET", "path": "/x/{a}", "org": "{a}", "grant": {"resource": "{a}", "level": "read"}}]}"#,
        ] {
            assert!(RouteMap::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requirements_are_compared_by_the_position_of_their_parameters() {
        // `{b}` is the first segment of one route and the second of the other: `/files/x`
        // needs a grant on `files` by the first and on `x` by the second.
        let crossing = r#"{"sharedResources": true, "routes": [
            {"method": "GET", "path": "/{b}/{x}", "grant": {"resource": "{b}", "level": "read"}},
            {"method": "GET", "path": "/files/{b}", "grant": {"resource": "{b}", "level": "read"}}]}"#;
        assert!(
            RouteMap::parse(crossing)
                .unwrap_err()
                .reason()
                .contains("overlap")
        );
        let same_place = r#"{"sharedResources": true, "routes": [
            {"method": "GET", "path": "/files/{b}", "grant": {"resource": "{b}", "level": "read"}},
            {"method": "GET", "path": "/files/{c}/x", "grant": {"resource": "{c}", "level": "read"}}]}"#;
        assert!(RouteMap::parse(same_place).is_ok());
    }

    #[test]
    fn only_canonical_paths_are_routed() {
        for good in ["/", "/items", "/items/42", "/a-b/c.d/e_f~"] {
            assert!(canonical_path(good), "{good}");
        }
        for bad in [
            "",
            "items",
            "/items/",
            "//items",
            "/items//42",
            "/items/./42",
            "/items/../admin",
            "/items/..",
            "/items/a%2Fb",
            "/items/a%2fb",
            "/items/%2E%2E/admin",
            "/items\\42",
        ] {
            assert!(!canonical_path(bad), "{bad}");
        }
    }
}
