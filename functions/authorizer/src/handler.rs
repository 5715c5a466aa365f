//! Decides on a request. Until token verification lands, it fails closed: every request is
//! answered with API Gateway's `Unauthorized` (401).

use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use shared::store::DynamoStore;

pub async fn handle(_store: &DynamoStore, event: LambdaEvent<Value>) -> Result<Value, Error> {
    tracing::info!(request_id = %event.context.request_id, "denied: verification not enabled");
    Err(Error::from("Unauthorized"))
}
