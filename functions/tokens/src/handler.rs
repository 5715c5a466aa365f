//! Routes requests to their handlers. No route is served yet: every request gets a `404`
//! problem document, so a caller is told plainly rather than handed a half-built answer.

use lambda_http::http::StatusCode;
use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::{Body, Error, Request, Response};
use shared::store::DynamoStore;

pub async fn handle(_store: &DynamoStore, request: Request) -> Result<Response<Body>, Error> {
    tracing::info!(method = %request.method(), "no route");
    let problem = serde_json::json!({
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "this function serves no route at this path",
    });
    Ok(Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header(CONTENT_TYPE, "application/problem+json")
        .body(Body::from(problem.to_string()))?)
}
