//! Counts the DynamoDB operations a client makes, with an interceptor on the real SDK client
//! (no fake: the calls still go to DynamoDB Local).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use store::DynamoStore;

use crate::TestTables;

/// Operations made so far, by name (`BatchGetItem`, `UpdateItem`, ...). One per operation,
/// whatever its retries. Also the items those reads asked for (a `GetItem` one, a
/// `BatchGetItem` one per key): each, under 4 KB and strongly consistent, is one read unit.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, u32>>>, Arc<Mutex<u32>>);

impl CallCounter {
    /// The counts since the last call, and a fresh start.
    pub fn take(&self) -> BTreeMap<String, u32> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The items read since the last call, and a fresh start.
    pub fn take_items(&self) -> u32 {
        std::mem::take(&mut *self.1.lock().unwrap())
    }
}

/// How many items a `GetItem` or `BatchGetItem` request asks for.
fn items_asked(operation: &str, body: Option<&[u8]>) -> u32 {
    match operation {
        "GetItem" => 1,
        "BatchGetItem" => body
            .and_then(|body| serde_json::from_slice::<serde_json::Value>(body).ok())
            .and_then(|request| {
                request["RequestItems"].as_object().map(|tables| {
                    tables
                        .values()
                        .filter_map(|table| table["Keys"].as_array())
                        .map(|keys| u32::try_from(keys.len()).unwrap_or(u32::MAX))
                        .sum()
                })
            })
            .unwrap_or(0),
        _ => 0,
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    /// Called once per operation, after its request is serialized (retries are attempts of
    /// the same operation and are not counted again).
    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // DynamoDB names the operation in `X-Amz-Target: DynamoDB_20120810.<Operation>`.
        let operation = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        *self.1.lock().unwrap() += items_asked(&operation, context.request().body().bytes());
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}

/// A store on the test's table whose every DynamoDB operation is counted.
pub async fn counted_store(tables: &TestTables) -> (DynamoStore, CallCounter) {
    let counter = CallCounter::default();
    let settings = store::client::ClientSettings::AUTHORIZER;
    let sdk = infra::local::sdk_config_for(&tables.endpoint, &settings).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .interceptor(counter.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    (DynamoStore::new(client, &tables.table), counter)
}
