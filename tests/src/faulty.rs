//! A world whose functions reach DynamoDB through the fault proxy (or through nothing at
//! all), with the four callers a fault can hurt: the authorizer, an admin read, an admin
//! write and the token endpoint. The fault tests and the `fault-table` harness use it.

use std::sync::Arc;

use accounts::AccountsState;
use admin_api::AdminState;
use authorizer::{Authorizer, AuthorizerConfig};
use infra::local::sdk_config_for;
use serde_json::json;
use shared::access::{IpAllowlist, Role, Roles, Scopes};
use shared::ids::ServiceAccountId;
use store::audit::AuditStore;
use store::client::ClientSettings;
use store::{DynamoStore, keys};
use usecases::UseCases;

use crate::admin::{AdminWorld, Reply};
use crate::events::{ApiCall, AuthorizerShape, Shape, authorizer_event};
use crate::faults::{FaultProxy, refused_endpoint};
use crate::iam::Function;

/// The collection of the world's organization's accounts.
pub const ACCOUNTS: &str = "/v1/orgs/acme/service-accounts";

/// A world whose functions reach DynamoDB through `endpoint` (the fault proxy, or nothing),
/// while the test itself reads and writes the tables directly.
#[derive(Debug)]
pub struct Faulty {
    pub world: AdminWorld,
    pub proxy: Option<FaultProxy>,
    /// The use cases on the faulty client, as the test's own (see [`Self::use_cases_as`]).
    pub use_cases: UseCases,
    pub audit: AuditStore,
    pub authorizer: Arc<Authorizer>,
    /// A client secret of an account with the writer role.
    pub client_id: ServiceAccountId,
    pub client_secret: String,
}

impl Faulty {
    pub async fn new() -> Self {
        let world = AdminWorld::new().await;
        let proxy = FaultProxy::start(&world.tables.endpoint).await.unwrap();
        let endpoint = proxy.endpoint().to_owned();
        Self::through(world, Some(proxy), &endpoint).await
    }

    /// With every connection refused.
    pub async fn refused() -> Self {
        let world = AdminWorld::new().await;
        Self::through(world, None, &refused_endpoint().unwrap()).await
    }

    pub async fn through(world: AdminWorld, proxy: Option<FaultProxy>, endpoint: &str) -> Self {
        // A retry partition of its own, so other tests' faults do not spend its retries.
        let partition = uuid::Uuid::new_v4().to_string();
        let client = |settings: ClientSettings| {
            let partition = format!("{}-{partition}", settings.partition);
            async move {
                store::client::dynamodb_in(&sdk_config_for(endpoint, &settings).await, partition)
            }
        };
        let admin_client = client(ClientSettings::ADMIN).await;
        let use_cases = UseCases {
            store: DynamoStore::new(admin_client.clone(), &world.tables.table),
            ..world.context.clone()
        };
        let audit_table = shared::config::TableName::parse(&world.tables.audit_table).unwrap();
        let config = AuthorizerConfig::from_lookup(crate::test_token_format(), |_| None).unwrap();
        let authorizer_client = world.iam.dynamodb(
            &client(ClientSettings::AUTHORIZER).await,
            Function::Authorizer,
        );
        let authorizer = Arc::new(Authorizer::with_clock(
            DynamoStore::new(authorizer_client, &world.tables.table),
            config,
            world.clock.clone(),
        ));
        let (client_id, client_secret) = world
            .account_with_token(
                &world.acme.org,
                Roles::new([Role::Writer]),
                Scopes::default(),
                IpAllowlist::default(),
            )
            .await;
        Self {
            audit: AuditStore::new(
                world.iam.dynamodb(&admin_client, Function::Accounts),
                &audit_table,
            ),
            world,
            proxy,
            use_cases,
            authorizer,
            client_id,
            client_secret,
        }
    }

    pub fn proxy(&self) -> &FaultProxy {
        self.proxy.as_ref().unwrap()
    }

    /// The use cases on the faulty client as `function` runs them.
    pub fn use_cases_as(&self, function: Function) -> UseCases {
        self.world.iam.use_cases(&self.use_cases, function)
    }

    /// The tokens function's state.
    pub fn admin_state(&self) -> AdminState {
        self.admin_state_as(Function::Tokens)
    }

    pub fn admin_state_as(&self, function: Function) -> AdminState {
        AdminState::for_local_run(self.use_cases_as(function), self.world.identity.clone())
    }

    /// The accounts function's state (its audit reads on the faulty client).
    pub fn accounts_state(&self) -> AccountsState {
        AccountsState {
            admin: self.admin_state_as(Function::Accounts),
            audit: self.audit.clone().into(),
        }
    }

    pub async fn accounts(&self, call: ApiCall) -> Reply {
        self.world
            .call(accounts::router(self.accounts_state()), call)
            .await
    }

    pub async fn tokens(&self, call: ApiCall) -> Reply {
        self.world
            .call(tokens::router(self.admin_state()), call)
            .await
    }

    /// The authorizer's answer for the writer's token: `Ok(effect)` or `Err(error)`.
    pub async fn authorize(&self, token: &str) -> Result<String, String> {
        let event = authorizer_event(
            AuthorizerShape::RestRequest,
            Some(&format!("Bearer {token}")),
            "GET",
            "/items",
            "10.1.2.3",
        );
        match self.authorizer.handle(event).await {
            Ok(answer) => Ok(answer["policyDocument"]["Statement"][0]["Effect"]
                .as_str()
                .unwrap_or_default()
                .to_owned()),
            Err(error) => Err(error.to_string()),
        }
    }

    pub async fn admin_read(&self) -> Reply {
        self.accounts(ApiCall::new(Shape::HttpV2, "GET", ACCOUNTS).bearer(&self.world.acme.token))
            .await
    }

    pub async fn admin_write(&self, name: &str) -> Reply {
        self.accounts(
            ApiCall::new(Shape::HttpV2, "POST", ACCOUNTS)
                .bearer(&self.world.acme.token)
                .json(json!({"name": name, "roles": ["reader"]})),
        )
        .await
    }

    pub async fn token_endpoint(&self) -> Reply {
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            self.client_id, self.client_secret
        );
        self.tokens(
            ApiCall::new(Shape::HttpV2, "POST", "/oauth2/token")
                .raw_body(&form, Some("application/x-www-form-urlencoded")),
        )
        .await
    }
}

/// The names of every service account in the world's table (deleted ones included).
pub async fn account_names(world: &AdminWorld) -> Vec<String> {
    world
        .tables
        .scan()
        .await
        .unwrap()
        .into_iter()
        .filter(|item| {
            item.get(keys::ENTITY)
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                == Some("service_account")
        })
        .filter_map(|item| item.get("name").and_then(|v| v.as_s().ok()).cloned())
        .collect()
}

/// Every audit event of `world`, as JSON, after the real audit writer took the table's whole
/// stream (again: writing is idempotent by each record's event id).
pub async fn audit_events(world: &AdminWorld) -> anyhow::Result<Vec<serde_json::Value>> {
    let config = sdk_config_for(&world.tables.endpoint, &ClientSettings::BACKGROUND).await;
    let mut reader =
        infra::stream::StreamReader::open(&config, world.tables.table.as_str()).await?;
    let mut event = aws_lambda_events::event::dynamodb::Event::default();
    event.records = reader.read().await?;
    let writer = audit::AuditWriter::new(
        world.iam.audit_store(&world.tables, Function::Audit),
        time::Duration::days(400),
    );
    let response = writer.handle(event).await;
    anyhow::ensure!(
        response.batch_item_failures.is_empty(),
        "the audit writer failed"
    );
    let mut events = Vec::new();
    for item in world.tables.scan_audit().await? {
        events.push(serde_dynamo::from_item(item)?);
    }
    Ok(events)
}
