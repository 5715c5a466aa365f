//! API Gateway's side of a Lambda authorizer call, as `local` and the tests play it: the
//! authorizer event for a request, in each shape API Gateway sends (built from the real
//! events in `tests/fixtures/`), and IAM's reading of the policy that comes back.

use serde_json::{Map, Value, json};

/// A request as API Gateway hands it to an authorizer.
#[derive(Debug, Clone)]
pub struct GatewayRequest {
    pub method: String,
    /// The path, without the stage (`/items/42`).
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub source_ip: String,
    pub request_id: String,
    /// `arn:aws:execute-api:{region}:{account}:{api}/{stage}`: the base of every resource.
    pub arn_base: String,
}

impl GatewayRequest {
    /// The ARN IAM evaluates the policy against: `{arn_base}/{METHOD}{path}`.
    pub fn method_arn(&self) -> String {
        format!("{}/{}{}", self.arn_base, self.method, self.path)
    }

    fn stage(&self) -> &str {
        self.arn_base.rsplit('/').next().unwrap_or("$default")
    }

    /// A REST API `TOKEN` authorizer event: the token source's value (the whole
    /// `Authorization` header) and the method ARN, nothing else.
    pub fn rest_token_event(&self, authorization: Option<&str>) -> Value {
        let mut event = fixture(include_str!(
            "../../tests/fixtures/authorizer-rest-token.json"
        ));
        event["methodArn"] = json!(self.method_arn());
        match authorization {
            Some(value) => event["authorizationToken"] = json!(value),
            None => {
                if let Some(event) = event.as_object_mut() {
                    event.remove("authorizationToken");
                }
            }
        }
        event
    }

    /// A REST API `REQUEST` authorizer event.
    pub fn rest_request_event(&self) -> Value {
        let mut event = fixture(include_str!(
            "../../tests/fixtures/authorizer-rest-request.json"
        ));
        let (headers, multi_headers) = value_maps(self.headers.iter());
        let (query, multi_query) = if self.query.is_empty() {
            (Value::Null, Value::Null)
        } else {
            value_maps(self.query.iter())
        };
        event["methodArn"] = json!(self.method_arn());
        event["resource"] = json!(self.path);
        event["path"] = json!(self.path);
        event["httpMethod"] = json!(self.method);
        event["headers"] = headers;
        event["multiValueHeaders"] = multi_headers;
        event["queryStringParameters"] = query;
        event["multiValueQueryStringParameters"] = multi_query;
        event["pathParameters"] = json!({});
        event["stageVariables"] = json!({});
        let context = &mut event["requestContext"];
        context["path"] = json!(format!("/{}{}", self.stage(), self.path));
        context["stage"] = json!(self.stage());
        context["httpMethod"] = json!(self.method);
        context["resourcePath"] = json!(self.path);
        context["requestId"] = json!(self.request_id);
        context["identity"]["sourceIp"] = json!(self.source_ip);
        event
    }

    /// An HTTP API payload 2.0 authorizer event; `identity_source` is the value of its first
    /// identity source (the `Authorization` header, by default).
    pub fn http_api_event(&self, identity_source: Option<&str>) -> Value {
        let mut event = fixture(include_str!(
            "../../tests/fixtures/authorizer-http-api.json"
        ));
        let (headers, _) = value_maps(self.headers.iter());
        event["routeArn"] = json!(self.method_arn());
        event["routeKey"] = json!(format!("{} {}", self.method, self.path));
        event["rawPath"] = json!(self.path);
        event["rawQueryString"] = json!(
            self.query
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        );
        event["identitySource"] = match identity_source {
            Some(value) => json!([value]),
            None => Value::Null,
        };
        event["headers"] = headers;
        let context = &mut event["requestContext"];
        context["http"]["method"] = json!(self.method);
        context["http"]["path"] = json!(self.path);
        context["http"]["sourceIp"] = json!(self.source_ip);
        context["requestId"] = json!(self.request_id);
        if let Some(context) = context.as_object_mut() {
            context.remove("authentication");
        }
        event
    }
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| json!({}))
}

/// API Gateway's single-value and multi-value maps of the same pairs (the last value wins in
/// the single-value one).
fn value_maps<'a>(pairs: impl Iterator<Item = &'a (String, String)>) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in pairs {
        single.insert(name.clone(), json!(value));
        if let Some(values) = multi
            .entry(name.clone())
            .or_insert_with(|| json!([]))
            .as_array_mut()
        {
            values.push(json!(value));
        }
    }
    (Value::Object(single), Value::Object(multi))
}

/// IAM's reading of an authorizer's policy for one ARN: an explicit `Deny` wins, then an
/// `Allow`; no matching statement is a deny. `*` matches any run of characters (`/` included),
/// `?` any one character.
pub fn policy_allows(policy: &Value, arn: &str) -> bool {
    let mut allowed = false;
    let statements = match &policy["Statement"] {
        Value::Array(statements) => statements.clone(),
        statement @ Value::Object(_) => vec![statement.clone()],
        _ => Vec::new(),
    };
    for statement in statements {
        let resources: Vec<&str> = match &statement["Resource"] {
            Value::String(resource) => vec![resource.as_str()],
            Value::Array(resources) => resources.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !resources.iter().any(|pattern| glob(pattern, arn)) {
            continue;
        }
        match statement["Effect"].as_str() {
            Some("Deny") => return false,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    allowed
}

/// `*` matches any run of characters (`/` included), `?` any one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    t = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_iam_resources() {
        let arn = "arn:aws:execute-api:us-east-1:000000000000:local/$default/GET/items/42";
        assert!(glob(
            "arn:aws:execute-api:us-east-1:000000000000:local/$default/GET/items/*",
            arn
        ));
        assert!(glob("*", arn));
        assert!(glob("arn:*/GET/items/4?", arn));
        assert!(!glob("arn:*/POST/items/*", arn));
        assert!(!glob("arn:*/GET/items", arn));
    }

    #[test]
    fn deny_wins_and_nothing_matching_is_a_deny() {
        let arn = "arn:x/GET/items/1";
        let allow = json!({"Statement": [{"Effect": "Allow", "Resource": ["arn:x/GET/items/*"]}]});
        assert!(policy_allows(&allow, arn));
        let both = json!({"Statement": [
            {"Effect": "Allow", "Resource": ["arn:x/GET/*"]},
            {"Effect": "Deny", "Resource": "arn:x/GET/items/1"}
        ]});
        assert!(!policy_allows(&both, arn));
        let other = json!({"Statement": [{"Effect": "Allow", "Resource": ["arn:x/POST/*"]}]});
        assert!(!policy_allows(&other, arn));
        assert!(!policy_allows(&json!({}), arn));
    }

    #[test]
    fn events_carry_the_request() {
        let request = GatewayRequest {
            method: "GET".into(),
            path: "/items/7".into(),
            headers: vec![("Authorization".into(), "Bearer x".into())],
            query: vec![("a".into(), "1".into())],
            source_ip: "203.0.113.9".into(),
            request_id: "r-1".into(),
            arn_base: "arn:aws:execute-api:us-east-1:1:api/prod".into(),
        };
        let rest = request.rest_request_event();
        assert_eq!(
            rest["methodArn"],
            "arn:aws:execute-api:us-east-1:1:api/prod/GET/items/7"
        );
        assert_eq!(rest["requestContext"]["path"], "/prod/items/7");
        assert_eq!(rest["headers"]["Authorization"], "Bearer x");
        assert_eq!(rest["queryStringParameters"]["a"], "1");
        let http = request.http_api_event(Some("Bearer x"));
        assert_eq!(http["rawPath"], "/items/7");
        assert_eq!(http["identitySource"][0], "Bearer x");
        assert_eq!(
            request.rest_token_event(None).get("authorizationToken"),
            None
        );
    }
}
