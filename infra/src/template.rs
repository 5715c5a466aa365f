//! Reads the DynamoDB tables out of `infra/template.yaml` and creates them, so local
//! development and every test use exactly the keys, indexes, stream and TTL that a deployment
//! gets. There is no second definition of any table.
//!
//! Properties that DynamoDB Local does not model (point-in-time recovery, encryption, deletion
//! protection) are read and reported by [`TableDefinition`] but only take effect in AWS.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
    TimeToLiveSpecification,
};
use serde::Deserialize;

/// The logical id of the table of orgs, accounts and tokens.
pub const MAIN_TABLE: &str = "Table";
/// The logical id of the audit trail's table.
pub const AUDIT_TABLE: &str = "AuditTable";

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("table {logical_id}: {reason}")]
    Table { logical_id: String, reason: String },
    #[error("DynamoDB {operation} for table {table} failed: {message}")]
    Dynamo {
        operation: &'static str,
        table: String,
        message: String,
    },
}

/// The tables a template declares, by logical id.
#[derive(Debug, Clone)]
pub struct Template {
    tables: BTreeMap<String, TableDefinition>,
}

/// Creates both tables of the repository's template under the given names.
pub async fn create_tables(
    client: &Client,
    table: &str,
    audit_table: &str,
) -> Result<(), TemplateError> {
    let template = Template::load_default()?;
    template.table(MAIN_TABLE)?.create(client, table).await?;
    template
        .table(AUDIT_TABLE)?
        .create(client, audit_table)
        .await
}

/// Creates the tables of the repository's template that do not exist yet (a local run that
/// keeps its data finds them on its next start).
pub async fn create_missing_tables(
    client: &Client,
    table: &str,
    audit_table: &str,
) -> Result<(), TemplateError> {
    let template = Template::load_default()?;
    for (logical_id, name) in [(MAIN_TABLE, table), (AUDIT_TABLE, audit_table)] {
        let exists = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .is_ok();
        if !exists {
            template.table(logical_id)?.create(client, name).await?;
        }
    }
    Ok(())
}

/// `infra/template.yaml` in this repository.
pub fn default_template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml")
}

/// `sam build`'s makefile builder for the template's functions (`CodeUri: lambda`).
pub fn functions_makefile_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lambda/Makefile")
}

/// The workspace binary each function of the template is built from, by logical id: the
/// Makefile's `build-<LogicalId>: BINARY = <binary>` lines.
pub fn function_binaries() -> std::io::Result<std::collections::BTreeMap<String, String>> {
    let makefile = std::fs::read_to_string(functions_makefile_path())?;
    Ok(makefile
        .lines()
        .filter_map(|line| {
            let (target, binary) = line.strip_prefix("build-")?.split_once(": BINARY = ")?;
            Some((target.to_owned(), binary.trim().to_owned()))
        })
        .collect())
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    pub fn load_default() -> Result<Self, TemplateError> {
        Self::load(&default_template_path())
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let raw: RawTemplate = serde_yaml_ng::from_str(text)?;
        let mut tables = BTreeMap::new();
        for (logical_id, resource) in raw.resources {
            if resource.kind != "AWS::DynamoDB::Table" {
                continue;
            }
            let properties: TableDefinition = serde_yaml_ng::from_value(resource.properties)
                .map_err(|error| TemplateError::Table {
                    logical_id: logical_id.clone(),
                    reason: error.to_string(),
                })?;
            tables.insert(logical_id, properties);
        }
        Ok(Self { tables })
    }

    pub fn table(&self, logical_id: &str) -> Result<&TableDefinition, TemplateError> {
        self.tables
            .get(logical_id)
            .ok_or_else(|| TemplateError::Table {
                logical_id: logical_id.to_owned(),
                reason: "is not declared in the template".into(),
            })
    }

    pub fn tables(&self) -> impl Iterator<Item = (&str, &TableDefinition)> {
        self.tables.iter().map(|(id, table)| (id.as_str(), table))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawTemplate {
    #[serde(default)]
    resources: BTreeMap<String, RawResource>,
}

#[derive(Deserialize)]
struct RawResource {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Properties", default)]
    properties: serde_yaml_ng::Value,
}

/// The properties of an `AWS::DynamoDB::Table`, as the template spells them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    pub billing_mode: Option<String>,
    pub attribute_definitions: Vec<AttributeSpec>,
    pub key_schema: Vec<KeySpec>,
    #[serde(default)]
    pub global_secondary_indexes: Vec<IndexSpec>,
    pub time_to_live_specification: Option<TtlSpec>,
    pub stream_specification: Option<StreamSpec>,
    pub point_in_time_recovery_specification: Option<PitrSpec>,
    #[serde(rename = "SSESpecification")]
    pub sse_specification: Option<SseSpec>,
    pub deletion_protection_enabled: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeSpec {
    pub attribute_name: String,
    pub attribute_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySpec {
    pub attribute_name: String,
    pub key_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexSpec {
    pub index_name: String,
    pub key_schema: Vec<KeySpec>,
    pub projection: ProjectionSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectionSpec {
    pub projection_type: String,
    #[serde(default)]
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TtlSpec {
    pub attribute_name: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpec {
    pub stream_view_type: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PitrSpec {
    pub point_in_time_recovery_enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SseSpec {
    #[serde(rename = "SSEEnabled")]
    pub sse_enabled: bool,
}

impl TableDefinition {
    /// The attribute the key schema names with `key_type` (`HASH` or `RANGE`).
    pub fn key_attribute(&self, key_type: &str) -> Option<&str> {
        self.key_schema
            .iter()
            .find(|key| key.key_type == key_type)
            .map(|key| key.attribute_name.as_str())
    }

    /// Creates the table under `name`, waits until it is active, and turns on its TTL.
    pub async fn create(&self, client: &Client, name: &str) -> Result<(), TemplateError> {
        let dynamo = |operation: &'static str| {
            move |error: String| TemplateError::Dynamo {
                operation,
                table: name.to_owned(),
                message: error,
            }
        };
        let mut request = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::from(
                self.billing_mode.as_deref().unwrap_or("PAY_PER_REQUEST"),
            ))
            .set_attribute_definitions(Some(self.attribute_definitions()?))
            .set_key_schema(Some(key_schema(&self.key_schema)?));
        for index in &self.global_secondary_indexes {
            request = request.global_secondary_indexes(global_index(index)?);
        }
        if let Some(stream) = &self.stream_specification {
            request = request.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(stream.stream_view_type.as_str()))
                    .build()
                    .map_err(|e| dynamo("CreateTable")(e.to_string()))?,
            );
        }
        request.send().await.map_err(|e| {
            dynamo("CreateTable")(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
        })?;

        wait_until_active(client, name).await?;

        if let Some(ttl) = self
            .time_to_live_specification
            .as_ref()
            .filter(|ttl| ttl.enabled)
        {
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(&ttl.attribute_name)
                        .enabled(true)
                        .build()
                        .map_err(|e| dynamo("UpdateTimeToLive")(e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| {
                    dynamo("UpdateTimeToLive")(
                        aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
                    )
                })?;
        }
        Ok(())
    }

    fn attribute_definitions(&self) -> Result<Vec<AttributeDefinition>, TemplateError> {
        self.attribute_definitions
            .iter()
            .map(|attribute| {
                AttributeDefinition::builder()
                    .attribute_name(&attribute.attribute_name)
                    .attribute_type(ScalarAttributeType::from(attribute.attribute_type.as_str()))
                    .build()
                    .map_err(|e| invalid(&attribute.attribute_name, e))
            })
            .collect()
    }
}

fn key_schema(keys: &[KeySpec]) -> Result<Vec<KeySchemaElement>, TemplateError> {
    keys.iter()
        .map(|key| {
            KeySchemaElement::builder()
                .attribute_name(&key.attribute_name)
                .key_type(KeyType::from(key.key_type.as_str()))
                .build()
                .map_err(|e| invalid(&key.attribute_name, e))
        })
        .collect()
}

fn global_index(index: &IndexSpec) -> Result<GlobalSecondaryIndex, TemplateError> {
    let projection = Projection::builder()
        .projection_type(ProjectionType::from(
            index.projection.projection_type.as_str(),
        ))
        .set_non_key_attributes(
            (!index.projection.non_key_attributes.is_empty())
                .then(|| index.projection.non_key_attributes.clone()),
        )
        .build();
    GlobalSecondaryIndex::builder()
        .index_name(&index.index_name)
        .set_key_schema(Some(key_schema(&index.key_schema)?))
        .projection(projection)
        .build()
        .map_err(|e| invalid(&index.index_name, e))
}

fn invalid(what: &str, error: impl std::fmt::Display) -> TemplateError {
    TemplateError::Table {
        logical_id: what.to_owned(),
        reason: error.to_string(),
    }
}

async fn wait_until_active(client: &Client, name: &str) -> Result<(), TemplateError> {
    for _ in 0..200 {
        let description = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| TemplateError::Dynamo {
                operation: "DescribeTable",
                table: name.to_owned(),
                message: aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string(),
            })?;
        let status = description.table.and_then(|table| table.table_status);
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(TemplateError::Dynamo {
        operation: "DescribeTable",
        table: name.to_owned(),
        message: "the table did not become active in 10 seconds".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_template_declares_both_tables() {
        let template = Template::load_default().unwrap();
        let main = template.table(MAIN_TABLE).unwrap();
        assert_eq!(main.key_attribute("HASH"), Some("pk"));
        assert_eq!(main.key_attribute("RANGE"), Some("sk"));
        let audit = template.table(AUDIT_TABLE).unwrap();
        let indexes: Vec<&str> = audit
            .global_secondary_indexes
            .iter()
            .map(|index| index.index_name.as_str())
            .collect();
        assert_eq!(indexes, ["by-target", "by-account"]);
    }

    #[test]
    fn intrinsic_functions_elsewhere_in_a_template_do_not_get_in_the_way() {
        let text = "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      \
                    TableName: !Sub '${AWS::StackName}-t'\n      AttributeDefinitions: []\n      \
                    KeySchema: []\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      \
                    QueueName: !Ref Name\n";
        let template = Template::parse(text).unwrap();
        assert_eq!(template.tables().count(), 1);
    }

    #[test]
    fn a_malformed_table_is_reported_with_its_logical_id() {
        let text = "Resources:\n  Broken:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      \
                    KeySchema: 3\n";
        let error = Template::parse(text).unwrap_err().to_string();
        assert!(error.contains("Broken"), "{error}");
    }
}
