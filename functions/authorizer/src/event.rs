//! Reading an authorizer event of any shape: REST API `TOKEN` and `REQUEST` events, and
//! HTTP API payload 2.0 events. The method and path decided on are the ones IAM evaluates: a
//! REST API's `methodArn` (the event's `path` can carry a custom domain's base path), and an
//! HTTP API's `rawPath` without a named stage's prefix.
//!
//! The event is read once, straight from its JSON text, into the few fields the decision
//! needs, borrowed from the text (an escaped string is the only copy): no `Value`, no header
//! map, and everything else API Gateway sends (multi-value headers, query strings, the rest of
//! the request context, fields added later) is skipped without being kept.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;

use lambda_runtime::Error;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use shared::token::{TokenSecret, bearer};

/// Which event shape a request came as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    RestToken,
    RestRequest,
    HttpApi,
}

/// What the authorizer needs from an event, whatever its shape, borrowed from its text.
#[derive(Debug)]
pub struct Incoming<'a> {
    pub shape: Shape,
    pub(crate) token: Option<TokenSecret>,
    pub(crate) method: Cow<'a, str>,
    pub(crate) path: Cow<'a, str>,
    pub(crate) source_ip: Option<IpAddr>,
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}`, the base of every resource.
    pub(crate) arn_base: Cow<'a, str>,
    /// The ARN of this request (`methodArn` / `routeArn`).
    pub(crate) request_arn: Cow<'a, str>,
}

/// Every field of the three shapes that the decision reads; the rest is skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
    /// `TOKEN`.
    #[serde(borrow)]
    authorization_token: Option<Cow<'a, str>>,
    /// REST API events.
    #[serde(borrow)]
    method_arn: Option<Cow<'a, str>>,
    /// HTTP API events.
    #[serde(borrow)]
    route_arn: Option<Cow<'a, str>>,
    #[serde(borrow)]
    identity_source: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow)]
    raw_path: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    headers: Headers<'a>,
    #[serde(borrow)]
    request_context: Option<RequestContext<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    #[serde(borrow)]
    stage: Option<Cow<'a, str>>,
    /// HTTP API events.
    #[serde(borrow)]
    http: Option<Http<'a>>,
    /// REST API `REQUEST` events.
    #[serde(borrow)]
    identity: Option<Identity<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Http<'a> {
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow)]
    path: Option<Cow<'a, str>>,
    #[serde(borrow)]
    source_ip: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    #[serde(borrow)]
    source_ip: Option<Cow<'a, str>>,
}

/// A `headers` object (or `null`), in order, as borrowed pairs: API Gateway sends few.
#[derive(Default)]
struct Headers<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl Headers<'_> {
    /// The first value of the header `name` (lower case), whatever the case it was sent in
    /// (REST APIs keep the client's; HTTP APIs lower-case them).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Headers<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = Headers<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of header names and values, or null")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Headers::default())
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Headers::default())
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_map(self)
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut headers = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((name, value)) =
                    map.next_entry::<Cow<'de, str>, Option<Cow<'de, str>>>()?
                {
                    if let Some(value) = value {
                        headers.push((name, value));
                    }
                }
                Ok(Headers(headers))
            }
        }
        deserializer.deserialize_option(HeadersVisitor)
    }
}

impl<'a> Incoming<'a> {
    /// Reads any of the three event shapes from the event's JSON text. An event that is none
    /// of them, or lacks what its shape must carry, is refused.
    pub fn from_json(text: &'a str, identity_header: &str) -> Result<Self, Error> {
        let event: Event<'a> = serde_json::from_str(text)?;
        match (event.version.as_deref(), event.kind.as_deref()) {
            (Some("2.0"), _) => {
                let context = event
                    .request_context
                    .ok_or_else(|| Error::from("an HTTP API event without a request context"))?;
                let http = context
                    .http
                    .ok_or_else(|| Error::from("an HTTP API event without its request"))?;
                let identity = event
                    .identity_source
                    .and_then(|sources| sources.into_iter().next());
                let token = event
                    .headers
                    .get(identity_header)
                    .or(identity.as_deref())
                    .and_then(bearer);
                let request_arn = event.route_arn.unwrap_or_default();
                let (arn_base, _, _) = split_arn(&request_arn)?.of(&request_arn);
                // On a named stage, HTTP APIs put the stage in front of the path.
                let stage = context.stage.as_deref().unwrap_or("$default");
                let raw_path = event.raw_path.or(http.path).unwrap_or_default();
                let path = match raw_path
                    .strip_prefix('/')
                    .and_then(|rest| rest.strip_prefix(stage))
                {
                    Some("") if stage != "$default" => Cow::Borrowed("/"),
                    Some(rest) if stage != "$default" && rest.starts_with('/') => {
                        let start = raw_path.len() - rest.len();
                        slice(&raw_path, start..raw_path.len())
                    }
                    _ => raw_path,
                };
                Ok(Self {
                    shape: Shape::HttpApi,
                    token,
                    method: http.method,
                    path,
                    source_ip: http.source_ip.and_then(|ip| ip.parse().ok()),
                    arn_base,
                    request_arn,
                })
            }
            (_, Some("TOKEN")) => {
                let request_arn = event.method_arn.unwrap_or_default();
                let (arn_base, method, path) = split_arn(&request_arn)?.of(&request_arn);
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
                let context = event
                    .request_context
                    .ok_or_else(|| Error::from("a REQUEST event without a request context"))?;
                let request_arn = event.method_arn.unwrap_or_default();
                let (arn_base, method, path) = split_arn(&request_arn)?.of(&request_arn);
                let token = event.headers.get(identity_header).and_then(bearer);
                let source_ip = context
                    .identity
                    .and_then(|identity| identity.source_ip)
                    .and_then(|ip| ip.parse().ok());
                Ok(Self {
                    shape: Shape::RestRequest,
                    token,
                    // The method ARN is what IAM evaluates the policy against (the
                    // event's `path` can carry a custom domain's base path).
                    method,
                    path,
                    source_ip,
                    arn_base,
                    request_arn,
                })
            }
            _ => Err(Error::from("not an API Gateway authorizer event")),
        }
    }
}

/// Where an execute-api ARN's parts are: `arn:aws:execute-api:r:a:api/stage/METHOD/path...`.
#[derive(Debug, PartialEq, Eq)]
struct ArnParts {
    /// `arn:aws:execute-api:r:a:api/stage`.
    base: Range<usize>,
    method: Range<usize>,
    /// `/path...`, from its slash; `None` when the ARN has no path (then `/`).
    path: Option<Range<usize>>,
}

impl ArnParts {
    /// The base, the method and the path of `arn`, borrowed from the event's text when `arn`
    /// is (a string without escapes, as API Gateway's ARNs always are), else copied.
    fn of<'a>(&self, arn: &Cow<'a, str>) -> (Cow<'a, str>, Cow<'a, str>, Cow<'a, str>) {
        let path = match &self.path {
            Some(range) => slice(arn, range.clone()),
            None => Cow::Borrowed("/"),
        };
        (
            slice(arn, self.base.clone()),
            slice(arn, self.method.clone()),
            path,
        )
    }
}

/// `text[range]`, with `text`'s lifetime when it is borrowed.
fn slice<'a>(text: &Cow<'a, str>, range: Range<usize>) -> Cow<'a, str> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(&text[range]),
        Cow::Owned(text) => Cow::Owned(text[range].to_owned()),
    }
}

/// Finds the parts of `arn:aws:execute-api:r:a:api/stage/METHOD/path...`.
fn split_arn(arn: &str) -> Result<ArnParts, Error> {
    let malformed = || Error::from("the event has no valid execute-api ARN");
    if !arn.starts_with("arn:") {
        return Err(malformed());
    }
    let resource_start = arn
        .match_indices(':')
        .nth(4)
        .map(|(i, _)| i + 1)
        .ok_or_else(malformed)?;
    // The slashes after the api id, the stage and the method.
    let mut slashes = arn[resource_start..]
        .match_indices('/')
        .map(|(i, _)| resource_start + i);
    let (Some(_), Some(stage_end)) = (slashes.next(), slashes.next()) else {
        return Err(malformed());
    };
    let method_start = stage_end + 1;
    let method_end = slashes.next();
    Ok(ArnParts {
        base: 0..stage_end,
        method: method_start..method_end.unwrap_or(arn.len()),
        path: method_end.map(|end| end..arn.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_split_into_base_method_and_path() {
        let parts = |arn: &'static str| {
            split_arn(arn).map(|parts| {
                let (base, method, path) = parts.of(&Cow::Borrowed(arn));
                (base.into_owned(), method.into_owned(), path.into_owned())
            })
        };
        let (base, method, path) =
            parts("arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/GET/items/42")
                .unwrap();
        assert_eq!(
            base,
            "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test"
        );
        assert_eq!((method.as_str(), path.as_str()), ("GET", "/items/42"));
        let (_, method, path) = parts("arn:aws:execute-api:us-east-1:1:api/test/POST").unwrap();
        assert_eq!((method.as_str(), path.as_str()), ("POST", "/"));
        let (_, method, path) = parts("arn:aws:execute-api:us-east-1:1:api/test/POST/").unwrap();
        assert_eq!((method.as_str(), path.as_str()), ("POST", "/"));
        assert!(parts("not-an-arn").is_err());
        assert!(parts("arn:aws:execute-api:us-east-1:1:api").is_err());
        assert!(parts("arn:aws:execute-api:us-east-1:1:api/test").is_err());
    }

    #[test]
    fn headers_are_found_whatever_their_case_and_escapes_are_read() {
        let text = r#"{"type": "REQUEST", "methodArn": "arn:aws:execute-api:r:1:api/s/GET/a",
            "headers": {"X-Other": "1", "AUTHORIZATION": "Bearer a\u0062c", "authorization": "second"},
            "requestContext": {"identity": {"sourceIp": "10.0.0.1"}}}"#;
        let event: Event<'_> = serde_json::from_str(text).unwrap();
        assert_eq!(event.headers.get("authorization"), Some("Bearer abc"));
        assert_eq!(event.headers.get("x-missing"), None);
        let event: Event<'_> = serde_json::from_str(r#"{"headers": null}"#).unwrap();
        assert!(event.headers.0.is_empty());
    }

    #[test]
    fn an_event_without_what_its_shape_must_carry_is_refused() {
        let arn = "arn:aws:execute-api:r:1:api/s/GET/a";
        for event in [
            format!(r#"{{"type": "REQUEST", "methodArn": "{arn}"}}"#),
            format!(r#"{{"version": "2.0", "type": "REQUEST", "routeArn": "{arn}"}}"#),
            format!(
                r#"{{"version": "2.0", "routeArn": "{arn}", "requestContext": {{"stage": "s"}}}}"#
            ),
            format!(r#"{{"type": "SOMETHING", "methodArn": "{arn}"}}"#),
            r#"{"type": "TOKEN", "methodArn": "arn:nothing"}"#.to_owned(),
            "[]".to_owned(),
        ] {
            assert!(
                Incoming::from_json(&event, "authorization").is_err(),
                "{event}"
            );
        }
    }
}
