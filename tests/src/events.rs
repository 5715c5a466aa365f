//! Builds admin-API requests as the three event shapes `lambda_http` receives them: API
//! Gateway REST (payload 1.0), HTTP API (payload 2.0) and Lambda function URL, each starting
//! from a real event in `tests/fixtures/`.

use std::path::Path;

use infra::gateway::GatewayRequest;
use serde_json::{Map, Value, json};

/// The `requestContext.apiId` of the REST, HTTP API and function URL fixtures.
pub const FIXTURE_API_IDS: [&str; 3] = [
    "gy415nuibc",
    "aaaaaaaaaa",
    "abcdefghijklmnopqrstuvwxyz012345",
];

/// Which front door a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    RestV1,
    HttpV2,
    FunctionUrl,
}

impl Shape {
    pub const ALL: [Shape; 3] = [Shape::RestV1, Shape::HttpV2, Shape::FunctionUrl];
}

/// One request, before it is turned into an event.
#[derive(Debug, Clone)]
pub struct ApiCall {
    pub shape: Shape,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<String>,
    source_ip: String,
    authorizer: Option<Map<String, Value>>,
    jwt_claims: Option<Map<String, Value>>,
    iam_arn: Option<String>,
    api_id: Option<String>,
    stage: Option<String>,
    base64: bool,
}

impl ApiCall {
    pub fn new(shape: Shape, method: &str, path: &str) -> Self {
        Self {
            shape,
            method: method.to_owned(),
            path: path.to_owned(),
            query: Vec::new(),
            headers: vec![("user-agent".into(), "integration-tests/1.0".into())],
            body: None,
            source_ip: "198.51.100.7".into(),
            authorizer: None,
            jwt_claims: None,
            iam_arn: None,
            api_id: None,
            stage: None,
            base64: false,
        }
    }

    /// The request came through a named stage (REST: the fixture's `testStage` otherwise;
    /// HTTP API and function URL: `$default` otherwise, and a named stage prefixes `rawPath`).
    pub fn stage(mut self, stage: &str) -> Self {
        self.stage = Some(stage.to_owned());
        self
    }

    /// The body arrives base64-encoded (`isBase64Encoded: true`), as API Gateway sends
    /// binary media types.
    pub fn base64(mut self) -> Self {
        self.base64 = true;
        self
    }

    fn body_value(&self) -> Value {
        use base64::Engine;
        match &self.body {
            Some(body) if self.base64 => {
                json!(base64::engine::general_purpose::STANDARD.encode(body))
            }
            Some(body) => json!(body),
            None => Value::Null,
        }
    }

    /// The request came through another API (or function URL) than the fixture's.
    pub fn via_api(mut self, api_id: &str) -> Self {
        self.api_id = Some(api_id.to_owned());
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(self, body: Value) -> Self {
        self.raw_body(&body.to_string(), Some("application/json"))
    }

    pub fn raw_body(mut self, body: &str, content_type: Option<&str>) -> Self {
        if let Some(content_type) = content_type {
            self.headers
                .push(("content-type".into(), content_type.into()));
        }
        self.body = Some(body.to_owned());
        self
    }

    pub fn source_ip(mut self, ip: &str) -> Self {
        self.source_ip = ip.to_owned();
        self
    }

    /// The context a Lambda authorizer attached.
    pub fn authorizer_context(mut self, context: Map<String, Value>) -> Self {
        self.authorizer = Some(context);
        self
    }

    /// The claims an HTTP API JWT authorizer verified, each value a string as API Gateway
    /// writes it (payload 2.0 only).
    pub fn jwt_claims(mut self, claims: Map<String, Value>) -> Self {
        self.jwt_claims = Some(claims);
        self
    }

    /// The caller authenticated with IAM (SigV4) by API Gateway or the function URL.
    pub fn iam(mut self, arn: &str) -> Self {
        self.iam_arn = Some(arn.to_owned());
        self
    }

    /// The event JSON.
    pub fn event(&self) -> Value {
        let mut event = match self.shape {
            Shape::RestV1 => self.rest_event(),
            Shape::HttpV2 => self.http_event(fixture("apigw-http-request.json")),
            Shape::FunctionUrl => self.http_event(fixture("function-url-request.json")),
        };
        if let Some(api_id) = &self.api_id {
            event["requestContext"]["apiId"] = json!(api_id);
        }
        event
    }

    /// The request `lambda_http` hands the handler for this event.
    pub fn request(&self) -> lambda_http::Request {
        lambda_http::request::from_str(&self.event().to_string())
            .unwrap_or_else(|error| panic!("{:?} event does not parse: {error}", self.shape))
    }

    fn header_map(&self) -> Map<String, Value> {
        self.headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect()
    }

    fn rest_event(&self) -> Value {
        let mut event = fixture("apigw-rest-request.json");
        event["path"] = json!(self.path);
        event["httpMethod"] = json!(self.method);
        event["resource"] = json!("/{proxy+}");
        event["pathParameters"] = json!({"proxy": self.path.trim_start_matches('/')});
        event["headers"] = Value::Object(self.header_map());
        event["multiValueHeaders"] = Value::Object(
            self.headers
                .iter()
                .map(|(name, value)| (name.clone(), json!([value])))
                .collect(),
        );
        if self.query.is_empty() {
            event["queryStringParameters"] = Value::Null;
            event["multiValueQueryStringParameters"] = Value::Null;
        } else {
            event["queryStringParameters"] = Value::Object(
                self.query
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect(),
            );
            let mut multi = Map::new();
            for (name, value) in &self.query {
                if let Some(values) = multi
                    .entry(name.clone())
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                {
                    values.push(json!(value));
                }
            }
            event["multiValueQueryStringParameters"] = Value::Object(multi);
        }
        event["body"] = self.body_value();
        event["isBase64Encoded"] = json!(self.base64);
        let stage = self.stage.as_deref().unwrap_or("testStage");
        let context = &mut event["requestContext"];
        context["stage"] = json!(stage);
        context["path"] = json!(format!("/{stage}{}", self.path));
        context["httpMethod"] = json!(self.method);
        context["identity"] = json!({
            "sourceIp": self.source_ip,
            "userAgent": "integration-tests/1.0",
            "userArn": self.iam_arn,
            "caller": null, "user": null, "accessKey": null, "accountId": null,
            "apiKey": null, "apiKeyId": null, "cognitoIdentityPoolId": null,
            "cognitoIdentityId": null, "cognitoAuthenticationType": null,
            "cognitoAuthenticationProvider": null
        });
        match &self.authorizer {
            Some(fields) => {
                let mut authorizer = fields.clone();
                authorizer.insert("principalId".into(), json!("principal"));
                context["authorizer"] = Value::Object(authorizer);
            }
            None => {
                if let Some(context) = context.as_object_mut() {
                    context.remove("authorizer");
                }
            }
        }
        event
    }

    fn http_event(&self, mut event: Value) -> Value {
        let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        event["rawPath"] = match &self.stage {
            Some(stage) => json!(format!("/{stage}{}", self.path)),
            None => json!(self.path),
        };
        if let Some(stage) = &self.stage {
            event["requestContext"]["stage"] = json!(stage);
        }
        event["rawQueryString"] = json!(query.join("&"));
        event["headers"] = Value::Object(self.header_map());
        if !self.query.is_empty() {
            event["queryStringParameters"] = Value::Object(
                self.query
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect(),
            );
        }
        match &self.body {
            Some(_) => event["body"] = self.body_value(),
            None => {
                if let Some(event) = event.as_object_mut() {
                    event.remove("body");
                }
            }
        }
        event["isBase64Encoded"] = json!(self.base64);
        let context = &mut event["requestContext"];
        context["http"]["method"] = json!(self.method);
        context["http"]["path"] = json!(match &self.stage {
            Some(stage) => format!("/{stage}{}", self.path),
            None => self.path.clone(),
        });
        context["http"]["sourceIp"] = json!(self.source_ip);
        if let Some(context) = context.as_object_mut() {
            context.remove("authentication");
            context.remove("authorizer");
        }
        let mut authorizer = Map::new();
        if let Some(fields) = &self.authorizer {
            authorizer.insert("lambda".into(), Value::Object(fields.clone()));
        }
        if let Some(claims) = &self.jwt_claims {
            authorizer.insert("jwt".into(), json!({"claims": claims, "scopes": null}));
        }
        if let Some(arn) = &self.iam_arn {
            authorizer.insert(
                "iam".into(),
                json!({
                    "accessKey": "ASIAEXAMPLE",
                    "accountId": "111122223333",
                    "callerId": "AROAEXAMPLE:admin",
                    "principalOrgId": null,
                    "userArn": arn,
                    "userId": "AROAEXAMPLE:admin"
                }),
            );
        }
        if !authorizer.is_empty() {
            context["authorizer"] = Value::Object(authorizer);
        }
        event
    }
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("parsing {}: {error}", path.display()))
}

/// The shapes of authorizer events API Gateway sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizerShape {
    RestToken,
    RestRequest,
    HttpApi,
}

impl AuthorizerShape {
    pub const ALL: [AuthorizerShape; 3] = [Self::RestToken, Self::RestRequest, Self::HttpApi];
}

/// The API and stage every authorizer event is for.
pub const ARN_BASE: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod";

/// An authorizer event for `method path` from `source_ip`, carrying `authorization` (the
/// header's whole value, e.g. `Bearer svc_...`) when given: the events API Gateway sends,
/// built by the one gateway emulation `local` uses too ([`infra::gateway`]).
pub fn authorizer_event(
    shape: AuthorizerShape,
    authorization: Option<&str>,
    method: &str,
    path: &str,
    source_ip: &str,
) -> Value {
    let mut headers = Vec::new();
    // REST API headers keep the client's capitalization; HTTP API headers are lower case.
    let (auth_name, agent_name) = match shape {
        AuthorizerShape::HttpApi => ("authorization", "user-agent"),
        _ => ("Authorization", "User-Agent"),
    };
    if let Some(value) = authorization {
        headers.push((auth_name.to_owned(), value.to_owned()));
    }
    headers.push((agent_name.to_owned(), "tests".to_owned()));
    let request = GatewayRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
        query: Vec::new(),
        source_ip: source_ip.to_owned(),
        request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".to_owned(),
        arn_base: ARN_BASE.to_owned(),
    };
    match shape {
        AuthorizerShape::RestToken => request.rest_token_event(authorization),
        AuthorizerShape::RestRequest => request.rest_request_event(),
        AuthorizerShape::HttpApi => request.http_api_event(authorization),
    }
}
