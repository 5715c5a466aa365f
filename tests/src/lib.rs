//! The integration-test harness.
//!
//! * One DynamoDB Local per test process, started on a free port the first time a test asks
//!   for it, or the one `AWS_ENDPOINT_URL_DYNAMODB` names (the test command starts one for the
//!   whole run). It stops when the process exits.
//! * Every test gets its own tables, created from `infra/template.yaml` under fresh names, so
//!   tests run in parallel without seeing each other's items.

// Test-support code: a broken fixture or a failed set-up is a failed test.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

pub mod admin;
pub mod browser;
pub mod console;
pub mod counting;
pub mod events;
pub mod faults;
pub mod faulty;
pub mod iac;
pub mod iam;
pub mod issuer;
pub mod logs;
pub mod moto;
pub mod oidc_provider;
pub mod processes;
pub mod runtime_api;

use std::collections::HashMap;
use std::sync::OnceLock;

use anyhow::{Context, anyhow};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use infra::local::{DynamoDbLocal, client_for};
use shared::config::TableName;
use store::DynamoStore;
use store::audit::AuditStore;

pub type Item = HashMap<String, AttributeValue>;

/// The token keys of the test deployment (`TOKEN_KEYS`), for the binaries the tests start.
pub const TEST_TOKEN_KEYS: &str = "a:testkeytestkeytestkeytestkeytestkeytestkeytestkeytestkey01";

/// The test deployment's token format: the default prefix and [`TEST_TOKEN_KEYS`].
pub fn test_token_format() -> shared::token::TokenFormat {
    let keys = shared::token::TokenKeys::parse(TEST_TOKEN_KEYS, None).unwrap();
    shared::token::TokenFormat::new(shared::token::TokenPrefix::default(), keys)
}

/// The endpoint of the DynamoDB Local this process uses, starting one if needed.
pub fn dynamodb_endpoint() -> anyhow::Result<String> {
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
        return Ok(endpoint);
    }
    // Kept for the life of the process; its lifeline pipe stops Java when the process exits.
    static SERVER: OnceLock<Result<DynamoDbLocal, String>> = OnceLock::new();
    SERVER
        .get_or_init(|| DynamoDbLocal::start_on_free_port().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map(|server| server.endpoint().to_owned())
        .map_err(|error| anyhow!("{error}"))
}

/// A test's own pair of tables, created from the template, and clients for them.
#[derive(Debug, Clone)]
pub struct TestTables {
    pub endpoint: String,
    pub client: Client,
    pub table: TableName,
    pub audit_table: String,
    pub store: DynamoStore,
    pub audit: AuditStore,
}

impl TestTables {
    pub async fn create() -> anyhow::Result<Self> {
        let endpoint = dynamodb_endpoint()?;
        let client = client_for(&endpoint).await;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let table = format!("test-{suffix}");
        let audit_table = format!("test-audit-{suffix}");
        infra::template::create_tables(&client, &table, &audit_table).await?;
        let table = TableName::parse(&table).map_err(|e| anyhow!("{e}"))?;
        let store = DynamoStore::new(client.clone(), &table);
        let audit_name = TableName::parse(&audit_table).map_err(|e| anyhow!("{e}"))?;
        let audit = AuditStore::new(client.clone(), &audit_name);
        Ok(Self {
            endpoint,
            client,
            table,
            audit_table,
            store,
            audit,
        })
    }

    /// Every item of the main table, read with a consistent scan.
    pub async fn scan(&self) -> anyhow::Result<Vec<Item>> {
        self.scan_table(self.table.as_str()).await
    }

    /// Every item of the audit table, read with a consistent scan.
    pub async fn scan_audit(&self) -> anyhow::Result<Vec<Item>> {
        self.scan_table(&self.audit_table).await
    }

    async fn scan_table(&self, table: &str) -> anyhow::Result<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .context("scanning the table")?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key.filter(|key| !key.is_empty());
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Every item of the main table in a canonical form (sorted keys, items sorted), for
    /// before/after comparisons. A token's last use (`lastUsedAt`, and `activeAt`, its key in
    /// the lifecycle's index) is left out: an authenticated caller's token is used whatever
    /// its request comes to.
    pub async fn snapshot(&self) -> anyhow::Result<Vec<String>> {
        let mut items = Vec::new();
        for mut item in self.scan().await? {
            item.remove("lastUsedAt");
            item.remove("activeAt");
            let value: serde_json::Value = serde_dynamo::from_item(item)?;
            items.push(value.to_string());
        }
        items.sort();
        Ok(items)
    }

    /// The raw item under `pk` / `sk`.
    pub async fn raw_item(&self, pk: &str, sk: &str) -> anyhow::Result<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(self.table.as_str())
            .key("pk", AttributeValue::S(pk.to_owned()))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .context("reading a raw item")?;
        Ok(output.item)
    }
}

/// Every string anywhere in an attribute value (maps and lists included), for tests that
/// prove something is *not* stored.
pub fn strings_in(value: &AttributeValue, out: &mut Vec<String>) {
    match value {
        AttributeValue::S(text) => out.push(text.clone()),
        AttributeValue::N(number) => out.push(number.clone()),
        AttributeValue::Ss(texts) | AttributeValue::Ns(texts) => out.extend(texts.iter().cloned()),
        AttributeValue::L(values) => values.iter().for_each(|v| strings_in(v, out)),
        AttributeValue::M(map) => {
            for (name, v) in map {
                out.push(name.clone());
                strings_in(v, out);
            }
        }
        AttributeValue::B(bytes) => out.push(String::from_utf8_lossy(bytes.as_ref()).into_owned()),
        _ => {}
    }
}
