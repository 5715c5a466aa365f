//! Matches a method and path against a function's route table.

use lambda_http::http::Method;

use crate::problem::ApiError;

/// One route: a method and a path pattern whose `{name}` segments capture parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
}

/// The route a request matched and the parameters it captured, in pattern order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub route: Route,
    pub params: Vec<(&'static str, String)>,
}

impl Matched {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(key, _)| *key == name)
            .map_or("", |(_, value)| value.as_str())
    }
}

/// Finds the route for `method` and `path`: `NotFound` when no pattern matches the path,
/// `MethodNotAllowed` (with the allowed methods) when only the method is wrong.
pub fn route(routes: &[Route], method: &Method, path: &str) -> Result<Matched, ApiError> {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    let mut allowed = Vec::new();
    for route in routes {
        let Some(params) = capture(route.pattern, &segments) else {
            continue;
        };
        if route.method == method.as_str() {
            return Ok(Matched {
                route: *route,
                params,
            });
        }
        if let Ok(method) = route.method.parse() {
            allowed.push(method);
        }
    }
    if allowed.is_empty() {
        Err(ApiError::NotFound("route"))
    } else {
        Err(ApiError::MethodNotAllowed(allowed))
    }
}

fn capture(pattern: &'static str, segments: &[&str]) -> Option<Vec<(&'static str, String)>> {
    let parts: Vec<&'static str> = pattern
        .strip_prefix('/')
        .unwrap_or(pattern)
        .split('/')
        .collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !segment.is_empty() => params.push((name, (*segment).to_owned())),
            Some(_) => return None,
            None if part == segment => {}
            None => return None,
        }
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &[Route] = &[
        Route {
            method: "GET",
            pattern: "/v1/orgs/{org}/things",
        },
        Route {
            method: "POST",
            pattern: "/v1/orgs/{org}/things",
        },
        Route {
            method: "GET",
            pattern: "/v1/orgs/{org}/things/{id}",
        },
    ];

    #[test]
    fn routes_capture_their_parameters() {
        let matched = route(ROUTES, &Method::GET, "/v1/orgs/acme/things/42").unwrap();
        assert_eq!(matched.route.pattern, "/v1/orgs/{org}/things/{id}");
        assert_eq!(matched.param("org"), "acme");
        assert_eq!(matched.param("id"), "42");
    }

    #[test]
    fn a_wrong_method_is_405_with_the_allowed_ones_and_a_wrong_path_404() {
        let error = route(ROUTES, &Method::DELETE, "/v1/orgs/acme/things").unwrap_err();
        assert!(
            matches!(error, ApiError::MethodNotAllowed(ref m) if m == &[Method::GET, Method::POST])
        );
        for path in [
            "/v1/orgs/acme",
            "/v1/orgs//things",
            "/v1/orgs/acme/things/",
            "/x",
        ] {
            assert!(
                matches!(
                    route(ROUTES, &Method::GET, path),
                    Err(ApiError::NotFound(_))
                ),
                "{path}"
            );
        }
    }
}
