//! What every admin router gets beside its routes: 404 and 405 as problem documents (405 with
//! the router's `Allow`), request ids, a tracing span per request, security headers, and a
//! deadline on every route.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::header::{
    ALLOW, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::problem::ApiError;

/// The longest an admin request runs: inside the functions' 28 s timeout and API Gateway's
/// 29 s, so that however slow the store is, the caller gets an answer of ours (a 503 with
/// `Retry-After`), never a bare 504. A single store call gives up sooner (see
/// the store client's admin bounds); this bounds use cases of many calls.
pub const ADMIN_DEADLINE: Duration = Duration::from_secs(20);

/// Answers `on_timeout()` for a request to one of `routes` that is still running after
/// `deadline`, and drops its work. Every use case is safe to drop between two writes: each
/// write is whole, and repeating the request finishes what was left (see ARCHITECTURE.md).
pub fn with_deadline(routes: Router, deadline: Duration, on_timeout: fn() -> Response) -> Router {
    routes.route_layer(middleware::from_fn(
        move |request: Request, next: Next| async move {
            match tokio::time::timeout(deadline, next.run(request)).await {
                Ok(response) => response,
                Err(_) => {
                    tracing::warn!(
                        deadline_ms = deadline.as_millis(),
                        "request ran past its deadline"
                    );
                    on_timeout()
                }
            }
        },
    ))
}

/// The admin routes' answer at [`ADMIN_DEADLINE`].
pub fn admin_timeout() -> Response {
    ApiError::Unavailable(usecases::Outage::TimedOut).into_response()
}

/// A function's routes made a router: an unknown path is a 404 problem, a known path with
/// another method a 405 problem (a route with a fallback of its own keeps it), and the
/// [`middleware`]. Call it after the last route.
pub fn finish(routes: Router) -> Router {
    middleware(
        method_not_allowed(routes)
            .fallback(|| async { ApiError::NotFound("route").into_response() }),
    )
}

/// Known paths with another method: a 405 problem, with the router's `Allow`.
pub fn method_not_allowed(routes: Router) -> Router {
    routes.method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed.into_response() })
}

/// The middleware of an admin router: undeclared methods refused, security headers, request
/// ids, a span per request.
pub fn middleware(router: Router) -> Router {
    // Around the whole router (not each route), so the middleware sees the request before
    // routing and the response after `axum` added `Allow`.
    Router::new()
        .fallback_service(router)
        .layer(middleware::from_fn(declared_methods_only))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        // A response with a policy of its own (the console's pages) keeps it.
        .layer(SetResponseHeaderLayer::if_not_present(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        // The span names the method and the path, never the query or a header.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request| {
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId))
}

/// A request id for a request that came without one (API Gateway gives its own).
#[derive(Debug, Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let id = shared::random::base62_string(22).ok()?;
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// The methods a route declares are the only ones it answers: `HEAD` (which `axum` would
/// answer with the `GET` handler) is refused like any other undeclared method, and `Allow`
/// lists the declared methods, comma-separated.
async fn declared_methods_only(mut request: Request, next: Next) -> Response {
    if request.method() == Method::HEAD
        && let Ok(undeclared) = Method::from_bytes(b"UNDECLARED-HEAD")
    {
        *request.method_mut() = undeclared;
    }
    let mut response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = response.headers().get(ALLOW).and_then(|v| v.to_str().ok())
    {
        let declared: Vec<&str> = allow
            .split(',')
            .map(str::trim)
            .filter(|method| !method.is_empty() && *method != "HEAD")
            .collect();
        if let Ok(value) = HeaderValue::from_str(&declared.join(", ")) {
            response.headers_mut().insert(ALLOW, value);
        }
    }
    response
}
