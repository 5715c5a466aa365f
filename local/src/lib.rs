//! The local API Gateway: one base URL in front of the functions' own routers.
//!
//! * the `accounts` and `tokens` routers, merged as they are deployed (the admin API,
//!   self-rotation and `POST /oauth2/token`), served as they are, with the listener's
//!   connection as the request's envelope ([`admin_api::meta::RequestMeta::local`]);
//! * the console's pages under `/console` ([`app_with_console`]);
//! * the example protected routes of the authorizer's route map (`/hello`, `/items`, …): the
//!   real authorizer gets the REST `REQUEST` authorizer event for the request
//!   ([`infra::gateway`]), and its answer is enforced as API Gateway enforces it: the error
//!   `Unauthorized` is a 401, a policy that does not allow the method ARN (or denies it) is a
//!   403, and an allowed request reaches the example integration, which echoes the authorizer's
//!   context.
//!
//! * with Secrets Manager from moto, the replay of custom resource requests and rotation
//!   steps under `/local/` ([`iac`]).
//!
//! As in the deployed stack, the admin routes are not behind the authorizer: their functions
//! authenticate the bearer token themselves. Nothing here re-implements a function's behaviour.

pub mod iac;

use std::net::SocketAddr;
use std::sync::Arc;

use accounts::AccountsState;
use admin_api::AdminState;
use admin_api::meta::RequestMeta;
use admin_api::problem::ApiError;
use authorizer::Authorizer;
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use console::{ConsoleConfig, ConsoleState};
use infra::gateway::{GatewayRequest, policy_allows};
use serde_json::{Map, Value, json};

/// The account id and API id the local method ARNs carry.
const ACCOUNT_ID: &str = "000000000000";
const API_ID: &str = "local";
/// The local gateway has no stage in its paths, like an HTTP API's `$default` stage.
const STAGE: &str = "$default";

/// The whole system's router: the admin functions' routes, and the protected routes behind
/// the authorizer.
pub fn app(accounts: AccountsState, tokens: AdminState, authorizer: Arc<Authorizer>) -> Router {
    serve(
        accounts::routes(accounts).merge(tokens::routes(tokens)),
        authorizer,
    )
}

/// [`app`] with the console's pages under `/console`, as the deployed stack serves them, and
/// the replay of custom resource requests and rotation steps when given.
pub fn app_with_console(
    accounts: AccountsState,
    tokens: AdminState,
    authorizer: Arc<Authorizer>,
    console: Arc<ConsoleConfig>,
    replay: Option<iac::Replay>,
) -> Router {
    let pages = console::routes(ConsoleState {
        accounts: accounts.clone(),
        config: console,
    });
    let mut routes = accounts::routes(accounts)
        .merge(tokens::routes(tokens))
        .merge(pages);
    if let Some(replay) = replay {
        routes = routes.merge(replay.routes());
    }
    serve(routes, authorizer)
}

fn serve(admin: Router, authorizer: Arc<Authorizer>) -> Router {
    let routes = admin_api::layers::method_not_allowed(admin).fallback(
        move |meta: RequestMeta, request: Request| protected(authorizer.clone(), meta, request),
    );
    admin_api::layers::middleware(routes).layer(middleware::from_fn(local_envelope))
}

/// What API Gateway would put in the request context, from the listener's connection: the
/// caller's address and a request id.
async fn local_envelope(mut request: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    if let Some(ConnectInfo(peer)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    {
        request
            .extensions_mut()
            .insert(RequestMeta::local(peer.ip(), request_id.clone()));
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        request.headers_mut().insert("x-request-id", value);
    }
    next.run(request).await
}

/// A path no admin route has: the admin API's 404 under its prefixes, else a protected route
/// through the authorizer, else API Gateway's 404.
async fn protected(authorizer: Arc<Authorizer>, meta: RequestMeta, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/v1/") || path.starts_with("/oauth2/") {
        return ApiError::NotFound("route").into_response();
    }
    let method = request.method().as_str().to_owned();
    if authorizer.config().routes.find(&method, &path).is_none() {
        return message(StatusCode::NOT_FOUND, json!({"message": "Not Found"}));
    }
    let gateway = GatewayRequest {
        method: method.clone(),
        path: path.clone(),
        headers: request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect(),
        query: form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect(),
        source_ip: meta.source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
        request_id: meta.request_id.clone().unwrap_or_default(),
        arn_base: format!(
            "arn:aws:execute-api:{}:{ACCOUNT_ID}:{API_ID}/{STAGE}",
            infra::local::LOCAL_REGION
        ),
    };
    let answer = match authorizer.handle(gateway.rest_request_event()).await {
        Ok(answer) => answer,
        Err(error) if error.to_string() == "Unauthorized" => {
            return message(StatusCode::UNAUTHORIZED, json!({"message": "Unauthorized"}));
        }
        Err(error) => {
            tracing::error!(%error, "the authorizer failed");
            return message(StatusCode::INTERNAL_SERVER_ERROR, json!({"message": null}));
        }
    };
    if !policy_allows(&answer["policyDocument"], &gateway.method_arn()) {
        return message(
            StatusCode::FORBIDDEN,
            json!({"message": "User is not authorized to access this resource with an explicit deny"}),
        );
    }
    let mut context = match &answer["context"] {
        Value::Object(context) => context.clone(),
        _ => Map::new(),
    };
    context.insert("principalId".into(), answer["principalId"].clone());
    message(
        StatusCode::OK,
        json!({
            "message": "Hello from a protected route",
            "method": method,
            "path": path,
            "authorizer": context,
        }),
    )
}

fn message(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}
