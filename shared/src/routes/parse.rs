//! Reading a route map's JSON: each rule's method, path pattern, role, grant and
//! organization, checked one by one.

use serde::Deserialize;

use crate::access::{AccessLevel, ResourceName, Role};
use crate::ids::OrgId;
use crate::routes::{GrantRequirement, GrantResource, OrgBinding, RouteRule, Segment};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawMap {
    pub(super) routes: Vec<RawRule>,
    /// Grant resources form one namespace for every organization (the backend checks `org`).
    #[serde(default)]
    pub(super) shared_resources: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    method: String,
    path: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    grant: Option<RawGrant>,
    #[serde(default)]
    org: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrant {
    resource: String,
    level: String,
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*",
];

impl RouteRule {
    /// The parameter named by `{name}` in `text`, if `text` is written so and the path has it.
    fn parameter_of(segments: &[Segment], text: &str) -> Option<Result<String, String>> {
        let name = text.strip_prefix('{')?.strip_suffix('}')?;
        Some(if segments.contains(&Segment::Parameter(name.to_owned())) {
            Ok(name.to_owned())
        } else {
            Err(format!("`{{{name}}}` is not a parameter of the path"))
        })
    }
}

pub(super) fn parse_rule(raw: RawRule) -> Result<RouteRule, String> {
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
    let org = match raw.org {
        None => None,
        Some(text) => Some(match RouteRule::parameter_of(&segments, &text) {
            Some(parameter) => {
                let parameter = parameter.map_err(|e| format!("`org`: {e}"))?;
                let same_as_resource = matches!(
                    &grant,
                    Some(GrantRequirement { resource: GrantResource::Parameter(p), .. }) if *p == parameter
                );
                if same_as_resource {
                    return Err(
                        "the organization and the grant's resource are one parameter".into(),
                    );
                }
                OrgBinding::Parameter(parameter)
            }
            None => OrgBinding::Fixed(OrgId::parse(&text).map_err(|e| format!("`org`: {e}"))?),
        }),
    };
    let wildcard = RouteRule::glob_of(&segments, &[]);
    Ok(RouteRule {
        method,
        segments,
        role,
        grant,
        org,
        path: raw.path,
        wildcard,
    })
}
