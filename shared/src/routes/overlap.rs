//! The route map's overlap check: a parameter becomes `*` in a policy and IAM's `*` also
//! matches `/`, so a policy built for one route could let a request for another through. Two
//! routes whose requirements differ may not have patterns that match a common path; the
//! check is a true intersection of the two patterns, not a sample.

use crate::access::{AccessLevel, Role};
use crate::routes::{GrantResource, OrgBinding, RouteRule, Segment};

impl RouteRule {
    /// The route's policy pattern for the overlap check: parameters are `*`, but for the
    /// organization's, which a policy always writes out as one segment.
    pub(super) fn pattern(&self) -> Vec<Glob> {
        let mut pattern = Vec::new();
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                pattern.push(Glob::Literal(b'/'));
            }
            match segment {
                Segment::Literal(literal) => pattern.extend(literal.bytes().map(Glob::Literal)),
                Segment::Parameter(name)
                    if self.org == Some(OrgBinding::Parameter(name.clone())) =>
                {
                    pattern.extend([Glob::OneInSegment, Glob::RestOfSegment]);
                }
                Segment::Parameter(_) => pattern.push(Glob::Any),
            }
        }
        pattern
    }

    /// What the route requires, with parameters named by their position in the path (so
    /// two routes are compared by where their parameters sit, not by what they are called).
    pub(super) fn requirement(
        &self,
    ) -> (Option<Role>, Option<(Bound, AccessLevel)>, Option<Bound>) {
        let position = |name: &str| {
            self.segments
                .iter()
                .position(|segment| matches!(segment, Segment::Parameter(p) if p == name))
        };
        let grant = self.grant.as_ref().map(|grant| {
            let resource = match &grant.resource {
                GrantResource::Fixed(resource) => Bound::Fixed(resource.as_str().to_owned()),
                GrantResource::Parameter(name) => Bound::Position(position(name)),
            };
            (resource, grant.level)
        });
        let org = self.org.as_ref().map(|org| match org {
            OrgBinding::Fixed(org) => Bound::Fixed(org.as_str().to_owned()),
            OrgBinding::Parameter(name) => Bound::Position(position(name)),
        });
        (self.role, grant, org)
    }
}

/// A value a requirement names: fixed, or the path segment at a position.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Bound {
    Fixed(String),
    Position(Option<usize>),
}

/// One element of a policy pattern, for the overlap check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Glob {
    Literal(u8),
    /// IAM's `*`: any run of characters, `/` included.
    Any,
    /// One character that is not `/`.
    OneInSegment,
    /// Any run of characters without `/`.
    RestOfSegment,
}

/// Whether some path matches both patterns. A parameter's `*` (`Any`) matches across `/`, as
/// IAM's does; an organization parameter is always written out in a policy, as one segment
/// (`OneInSegment` then `RestOfSegment`).
pub(super) fn globs_intersect(a: &[Glob], b: &[Glob]) -> bool {
    // memo[i][j]: whether a[i..] and b[j..] match a common string.
    let mut memo = vec![vec![None; b.len() + 1]; a.len() + 1];
    intersect_from(a, b, 0, 0, &mut memo)
}

fn intersect_from(
    a: &[Glob],
    b: &[Glob],
    i: usize,
    j: usize,
    memo: &mut Vec<Vec<Option<bool>>>,
) -> bool {
    if let Some(known) = memo[i][j] {
        return known;
    }
    let is_run = |g: &Glob| matches!(g, Glob::Any | Glob::RestOfSegment);
    // Whether a run `run` may absorb the next character that `other` produces.
    let absorbs = |run: Glob, other: Glob| match other {
        Glob::Literal(b'/') => run == Glob::Any,
        Glob::Literal(_) | Glob::OneInSegment => true,
        Glob::Any | Glob::RestOfSegment => false,
    };
    let result = match (a.get(i).copied(), b.get(j).copied()) {
        (None, None) => true,
        // A run matches nothing, or one more character of what the other side produces
        // (when both sides are runs, skipping either one covers every common string).
        (Some(x), Some(y)) if is_run(&x) && is_run(&y) => {
            intersect_from(a, b, i + 1, j, memo) || intersect_from(a, b, i, j + 1, memo)
        }
        (Some(x), other) if is_run(&x) => {
            intersect_from(a, b, i + 1, j, memo)
                || other.is_some_and(|y| absorbs(x, y) && intersect_from(a, b, i, j + 1, memo))
        }
        (other, Some(y)) if is_run(&y) => {
            intersect_from(a, b, i, j + 1, memo)
                || other.is_some_and(|x| absorbs(y, x) && intersect_from(a, b, i + 1, j, memo))
        }
        (Some(x), Some(y)) => {
            let meet = match (x, y) {
                (Glob::Literal(p), Glob::Literal(q)) => p == q,
                (Glob::Literal(c), Glob::OneInSegment) | (Glob::OneInSegment, Glob::Literal(c)) => {
                    c != b'/'
                }
                _ => true,
            };
            meet && intersect_from(a, b, i + 1, j + 1, memo)
        }
        _ => false,
    };
    memo[i][j] = Some(result);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_intersection_finds_a_common_path_when_there_is_one() {
        // `*` is IAM's star; `+` stands for an organization's one segment.
        let glob = |text: &str| -> Vec<Glob> {
            let mut out = Vec::new();
            for b in text.bytes() {
                match b {
                    b'*' => out.push(Glob::Any),
                    b'+' => out.extend([Glob::OneInSegment, Glob::RestOfSegment]),
                    other => out.push(Glob::Literal(other)),
                }
            }
            out
        };
        let meet = |a: &str, b: &str| globs_intersect(&glob(a), &glob(b));
        assert!(meet("a/*/c", "a/b/*"));
        assert!(meet("items/*", "items/*/secrets"));
        assert!(meet("x/*", "*"));
        assert!(!meet("items", "items/*"));
        assert!(!meet("a/*/c", "a/*/d"));
        assert!(!meet("brains/*", "items/*"));
        // An organization segment never holds a `/`.
        assert!(!meet("orgs/+/items", "orgs/+/brains/*"));
        assert!(meet("orgs/+/items/*", "orgs/+/items/*/x"));
        assert!(meet("orgs/+/x", "orgs/acme/x"));
        assert!(!meet("orgs/+/x", "orgs/a/b/x"));
        assert!(!meet("orgs/+", "orgs/"));
        assert!(meet("orgs/+/x", "*/x"));
    }
}
