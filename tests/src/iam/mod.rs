//! The IAM conformance check: every AWS call a function makes in the integration tests is
//! judged, as it is made, against that function's role in `infra/template.yaml` (DynamoDB
//! Local and moto enforce no IAM, so without this a missing permission shows only in AWS).
//!
//! Where the harness builds a function's state, it gives the function clients of its own,
//! tagged with the function ([`Deployment::dynamodb`], [`Deployment::use_cases`], ...): each
//! client carries a [`recorder::Recorder`] interceptor that turns the call into the requests
//! IAM authorizes ([`requests`]), resolves the function's role for the test's deployment (its
//! table names, region, account and parameters: [`template`]) and decides ([`policy`]). A
//! denial fails the test that made the call. The grants calls used are written to the file
//! `IAM_CALL_LOG` names, from which `iam-report` lists the grants no test used.

pub mod policy;
pub mod recorder;
pub mod requests;
mod resolve;
pub mod template;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use store::DynamoStore;
use store::audit::AuditStore;
use usecases::UseCases;

use self::policy::Policy;
use self::recorder::Recorder;
use self::requests::SecretFacts;
use self::template::{Binding, template};
use crate::TestTables;

/// The AWS account of the test deployment (moto's default, and the test stacks').
pub const ACCOUNT: &str = "123456789012";
/// The test deployment's stack name.
pub const STACK: &str = "service-accounts";

/// A function of the stack, by the binary it is built from (`infra/lambda/Makefile` names
/// it; the template leads from the function to its role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    Accounts,
    Tokens,
    Console,
    Authorizer,
    Audit,
    Lifecycle,
    Provisioner,
    Rotation,
}

impl Function {
    pub const ALL: [Self; 8] = [
        Self::Accounts,
        Self::Tokens,
        Self::Console,
        Self::Authorizer,
        Self::Audit,
        Self::Lifecycle,
        Self::Provisioner,
        Self::Rotation,
    ];

    pub fn binary(self) -> &'static str {
        match self {
            Self::Accounts => "accounts",
            Self::Tokens => "tokens",
            Self::Console => "console",
            Self::Authorizer => "authorizer",
            Self::Audit => "audit",
            Self::Lifecycle => "lifecycle",
            Self::Provisioner => "provisioner",
            Self::Rotation => "rotation",
        }
    }
}

type Policies = HashMap<(Function, String), Result<(String, Arc<Policy>), String>>;

/// One test's deployment: what the template's names resolve to, and what the recorder learnt
/// of its secrets. Cheap to clone; clones share what was learnt.
#[derive(Debug, Clone)]
pub struct Deployment {
    parameters: BTreeMap<String, String>,
    names: BTreeMap<String, String>,
    policies: Arc<Mutex<Policies>>,
    secrets: Arc<Mutex<HashMap<String, SecretFacts>>>,
}

impl Deployment {
    /// The deployment whose `Table` and `AuditTable` are the test's, with the template's
    /// defaults for every parameter but the secret name prefix (the provider's default).
    pub fn for_tables(tables: &TestTables) -> Self {
        Self::named(tables.table.as_str(), &tables.audit_table)
    }

    /// The deployment whose tables have these names.
    pub fn named(table: &str, audit_table: &str) -> Self {
        let names = BTreeMap::from([
            ("Table".to_owned(), table.to_owned()),
            ("AuditTable".to_owned(), audit_table.to_owned()),
        ]);
        let parameters = BTreeMap::from([(
            "SecretNamePrefix".to_owned(),
            provisioner::DEFAULT_SECRET_PREFIX.to_owned(),
        )]);
        Self {
            parameters,
            names,
            policies: Arc::default(),
            secrets: Arc::default(),
        }
    }

    /// The same deployment with the template parameter `name` set to `value` (an audit writer
    /// configured with another bus: `EventBusName`).
    pub fn with_parameter(&self, name: &str, value: &str) -> Self {
        let mut parameters = self.parameters.clone();
        parameters.insert(name.to_owned(), value.to_owned());
        Self {
            parameters,
            policies: Arc::default(),
            ..self.clone()
        }
    }

    /// The function's role (its logical id) and policy, resolved for this deployment in
    /// `region`.
    pub fn policy(
        &self,
        function: Function,
        region: &str,
    ) -> Result<(String, Arc<Policy>), String> {
        let mut policies = self.policies.lock().unwrap();
        policies
            .entry((function, region.to_owned()))
            .or_insert_with(|| {
                let binding = Binding {
                    region: region.to_owned(),
                    account: ACCOUNT.to_owned(),
                    stack: STACK.to_owned(),
                    parameters: self.parameters.clone(),
                    names: self.names.clone(),
                };
                let role = template().role_of(function.binary())?;
                let policy = template().policy(&role, &binding)?;
                Ok((role, Arc::new(policy)))
            })
            .clone()
    }

    fn secret(&self, name: &str) -> Option<SecretFacts> {
        self.secrets.lock().unwrap().get(name).cloned()
    }

    fn learn(&self, name: &str, change: impl FnOnce(&mut SecretFacts)) {
        change(
            self.secrets
                .lock()
                .unwrap()
                .entry(name.to_owned())
                .or_default(),
        );
    }

    fn recorder(
        &self,
        caller: Option<Function>,
        region: Option<&aws_sdk_dynamodb::config::Region>,
    ) -> Recorder {
        Recorder {
            caller,
            deployment: self.clone(),
            region: region.map_or_else(
                || infra::local::LOCAL_REGION.to_owned(),
                ToString::to_string,
            ),
        }
    }

    /// `client`, its calls judged as `function`'s.
    pub fn dynamodb(
        &self,
        client: &aws_sdk_dynamodb::Client,
        function: Function,
    ) -> aws_sdk_dynamodb::Client {
        let config = client.config();
        let recorder = self.recorder(Some(function), config.region());
        aws_sdk_dynamodb::Client::from_conf(config.to_builder().interceptor(recorder).build())
    }

    /// `store` on a client whose calls are judged as `function`'s.
    pub fn store(&self, store: &DynamoStore, function: Function) -> DynamoStore {
        let table = shared::config::TableName::parse(store.table()).unwrap();
        DynamoStore::new(self.dynamodb(store.client(), function), &table)
    }

    /// The audit table of `tables`, read and written as `function`.
    pub fn audit_store(&self, tables: &TestTables, function: Function) -> AuditStore {
        let name = shared::config::TableName::parse(&tables.audit_table).unwrap();
        AuditStore::new(self.dynamodb(&tables.client, function), &name)
    }

    /// `use_cases` with their store's calls judged as `function`'s.
    pub fn use_cases(&self, use_cases: &UseCases, function: Function) -> UseCases {
        UseCases {
            store: self.store(&use_cases.store, function),
            ..use_cases.clone()
        }
    }

    /// `client`, its calls judged as `function`'s, or (`None`) the harness's, observed only
    /// for what they tell of secrets.
    pub fn secretsmanager(
        &self,
        client: &aws_sdk_secretsmanager::Client,
        function: Option<Function>,
    ) -> aws_sdk_secretsmanager::Client {
        let config = client.config();
        let recorder = self.recorder(function, config.region());
        aws_sdk_secretsmanager::Client::from_conf(config.to_builder().interceptor(recorder).build())
    }

    /// `client`, its calls judged as `function`'s.
    pub fn eventbridge(
        &self,
        client: &aws_sdk_eventbridge::Client,
        function: Function,
    ) -> aws_sdk_eventbridge::Client {
        let config = client.config();
        let recorder = self.recorder(Some(function), config.region());
        aws_sdk_eventbridge::Client::from_conf(config.to_builder().interceptor(recorder).build())
    }
}
