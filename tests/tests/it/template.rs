//! The tables created from `infra/template.yaml` are the tables the template declares, and the
//! code's key design names the same attributes.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_sdk_dynamodb::types::{KeyType, StreamViewType, TimeToLiveStatus};
use infra::template::{AUDIT_TABLE, MAIN_TABLE, TableDefinition, Template};
use store::keys;
use tests::TestTables;

fn key_names(schema: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> Vec<(String, KeyType)> {
    schema
        .iter()
        .map(|key| (key.attribute_name().to_owned(), key.key_type().clone()))
        .collect()
}

fn declared_keys(table: &TableDefinition) -> Vec<(String, KeyType)> {
    table
        .key_schema
        .iter()
        .map(|key| {
            (
                key.attribute_name.clone(),
                KeyType::from(key.key_type.as_str()),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_main_table_has_the_keys_stream_and_ttl_the_template_declares() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let template = Template::load_default()?;
    let declared = template.table(MAIN_TABLE)?;

    let description = tables
        .client
        .describe_table()
        .table_name(tables.table.as_str())
        .send()
        .await?
        .table
        .unwrap();
    assert_eq!(key_names(description.key_schema()), declared_keys(declared));
    assert_eq!(
        key_names(description.key_schema()),
        [("pk".into(), KeyType::Hash), ("sk".into(), KeyType::Range)]
    );

    let stream = description.stream_specification().unwrap();
    assert!(stream.stream_enabled());
    let declared_view = &declared
        .stream_specification
        .as_ref()
        .unwrap()
        .stream_view_type;
    assert_eq!(
        stream.stream_view_type(),
        Some(&StreamViewType::from(declared_view.as_str()))
    );
    assert_eq!(
        stream.stream_view_type(),
        Some(&StreamViewType::NewAndOldImages)
    );
    assert!(description.latest_stream_arn().is_some());

    let ttl = tables
        .client
        .describe_time_to_live()
        .table_name(tables.table.as_str())
        .send()
        .await?
        .time_to_live_description
        .unwrap();
    let declared_ttl = declared.time_to_live_specification.as_ref().unwrap();
    assert!(declared_ttl.enabled);
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(
        ttl.attribute_name(),
        Some(declared_ttl.attribute_name.as_str())
    );
    assert_eq!(ttl.attribute_name(), Some("ttl"));

    // What only a deployment enforces is declared all the same.
    assert!(
        declared
            .point_in_time_recovery_specification
            .as_ref()
            .unwrap()
            .point_in_time_recovery_enabled
    );
    assert!(declared.sse_specification.as_ref().unwrap().sse_enabled);
    assert_eq!(declared.deletion_protection_enabled, Some(true));
    Ok(())
}

#[tokio::test]
async fn the_audit_table_has_its_declared_indexes_and_ttl() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let template = Template::load_default()?;
    let declared = template.table(AUDIT_TABLE)?;
    let description = tables
        .client
        .describe_table()
        .table_name(&tables.audit_table)
        .send()
        .await?
        .table
        .unwrap();
    assert_eq!(key_names(description.key_schema()), declared_keys(declared));
    let indexes = description.global_secondary_indexes();
    assert_eq!(indexes.len(), declared.global_secondary_indexes.len());
    // The index names the audit store queries.
    for name in [
        store::audit::BY_TARGET_INDEX,
        store::audit::BY_ACCOUNT_INDEX,
    ] {
        let index = indexes
            .iter()
            .find(|i| i.index_name() == Some(name))
            .unwrap();
        assert_eq!(
            key_names(index.key_schema()),
            declared_keys_of_index(declared, name)
        );
    }
    let ttl = tables
        .client
        .describe_time_to_live()
        .table_name(&tables.audit_table)
        .send()
        .await?
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    Ok(())
}

fn declared_keys_of_index(table: &TableDefinition, name: &str) -> Vec<(String, KeyType)> {
    let index = table
        .global_secondary_indexes
        .iter()
        .find(|index| index.index_name == name)
        .unwrap();
    index
        .key_schema
        .iter()
        .map(|key| {
            (
                key.attribute_name.clone(),
                KeyType::from(key.key_type.as_str()),
            )
        })
        .collect()
}

#[test]
fn the_store_key_design_names_the_template_attributes() {
    let template = Template::load_default().unwrap();
    let main = template.table(MAIN_TABLE).unwrap();
    assert_eq!(main.key_attribute("HASH"), Some(keys::PK));
    assert_eq!(main.key_attribute("RANGE"), Some(keys::SK));
    assert_eq!(
        main.time_to_live_specification
            .as_ref()
            .map(|ttl| ttl.attribute_name.as_str()),
        Some(keys::TTL)
    );
}

/// The deployed stack: every function is an arm64 `provided.al2023` build of its own binary,
/// and the REST API sends each admin route to the function that serves it, no more, no less.
#[test]
fn the_stack_routes_every_admin_route_to_the_function_that_serves_it() {
    let path = infra::template::default_template_path();
    let template: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let resources = template["Resources"].as_mapping().unwrap();
    let function = |logical_id: &str| &resources[logical_id];
    for (logical_id, binary) in [
        ("AccountsFunction", "accounts"),
        ("TokensFunction", "tokens"),
        ("AuthorizerFunction", "authorizer"),
        ("AuditFunction", "audit"),
        ("ConsoleFunction", "console"),
    ] {
        let resource = function(logical_id);
        assert_eq!(resource["Type"], "AWS::Serverless::Function");
        assert_eq!(resource["Metadata"]["BuildMethod"], "makefile");
        assert_eq!(resource["Properties"]["CodeUri"], "lambda");
        assert!(built_by_the_makefile(logical_id, binary), "{logical_id}");
        let properties = &resource["Properties"];
        let runtime = properties
            .get("Runtime")
            .or_else(|| template["Globals"]["Function"].get("Runtime"))
            .unwrap();
        assert_eq!(runtime, "provided.al2023", "{logical_id}");
        let architectures = properties
            .get("Architectures")
            .or_else(|| template["Globals"]["Function"].get("Architectures"))
            .unwrap();
        assert_eq!(architectures[0], "arm64", "{logical_id}");
    }
    let routes_of = |logical_id: &str| -> std::collections::BTreeSet<String> {
        function(logical_id)["Properties"]["Events"]
            .as_mapping()
            .unwrap()
            .values()
            .filter(|event| event["Type"] == "Api")
            .map(|event| {
                let properties = &event["Properties"];
                format!(
                    "{} {}",
                    properties["Method"].as_str().unwrap().to_uppercase(),
                    properties["Path"].as_str().unwrap()
                )
            })
            .collect()
    };
    let served = |routes: &[(&str, &str)]| -> std::collections::BTreeSet<String> {
        routes
            .iter()
            .map(|(method, path)| format!("{method} {path}"))
            .collect()
    };
    assert_eq!(routes_of("AccountsFunction"), served(accounts::ROUTES));
    assert_eq!(routes_of("TokensFunction"), served(tokens::ROUTES));
    // The console takes everything under /console (its router has no other path).
    assert_eq!(
        routes_of("ConsoleFunction"),
        served(&[("ANY", "/console"), ("ANY", "/console/{proxy+}")])
    );
}

/// The people's API (with `PeopleJwtIssuer`) sends every organization route to the function
/// that serves it, behind the JWT authorizer, and nothing else: as API Gateway chooses, an
/// exact route over a greedy one, the longer greedy prefix first.
#[test]
fn the_peoples_api_routes_each_organization_route_to_its_function_behind_the_jwt_authorizer() {
    let path = infra::template::default_template_path();
    let template: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let resources = template["Resources"].as_mapping().unwrap();
    let text = |value: &serde_yaml_ng::Value| serde_yaml_ng::to_string(value).unwrap();
    // Route key → the function its integration invokes.
    let mut routes: Vec<(Vec<String>, String)> = Vec::new();
    for (logical_id, resource) in resources {
        if resource["Type"] != "AWS::ApiGatewayV2::Route" {
            continue;
        }
        let properties = &resource["Properties"];
        assert_eq!(
            resource["Condition"], "PeopleJwtAuthorizer",
            "{logical_id:?}"
        );
        assert_eq!(properties["AuthorizationType"], "JWT", "{logical_id:?}");
        assert!(text(&properties["AuthorizerId"]).contains("PeopleApiAuthorizer"));
        let key = properties["RouteKey"].as_str().unwrap();
        let path = key.strip_prefix("ANY ").unwrap();
        let target = text(&properties["Target"]);
        let integration_id = target
            .split_once("integrations/${")
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(id, _)| id)
            .unwrap();
        let integration = &resources[integration_id];
        assert_eq!(integration["Type"], "AWS::ApiGatewayV2::Integration");
        assert_eq!(integration["Properties"]["PayloadFormatVersion"], "2.0");
        let function = text(&integration["Properties"]["IntegrationUri"]);
        let segments = path.split('/').skip(1).map(str::to_owned).collect();
        routes.push((segments, function));
    }
    assert!(!routes.is_empty());
    let matches = |route: &[String], path: &[&str]| match route.last() {
        Some(last) if last.ends_with("+}") => {
            path.len() >= route.len()
                && route[..route.len() - 1]
                    .iter()
                    .zip(path)
                    .all(|(r, p)| r.starts_with('{') || r == p)
        }
        _ => {
            route.len() == path.len()
                && route
                    .iter()
                    .zip(path)
                    .all(|(r, p)| r.starts_with('{') || r == p)
        }
    };
    let function_of = |path: &str| -> Option<&str> {
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        routes
            .iter()
            .filter(|(route, _)| matches(route, &segments))
            .max_by_key(|(route, _)| {
                let greedy = route.last().is_some_and(|last| last.ends_with("+}"));
                (!greedy, route.len())
            })
            .map(|(_, function)| function.as_str())
    };
    for (routes, function) in [
        (accounts::ROUTES, "AccountsFunction"),
        (tokens::ROUTES, "TokensFunction"),
    ] {
        for (_, path) in routes {
            let landed = function_of(path);
            if path.starts_with("/v1/orgs/{org}") {
                assert!(
                    landed.is_some_and(|landed| landed.contains(function)),
                    "{path} lands on {landed:?}"
                );
            } else {
                assert_eq!(landed, None, "{path} is not a people's route");
            }
        }
    }
}

/// The examples import the authorizer by the name the stack exports it under.
#[test]
fn the_examples_attach_the_authorizer_the_stack_exports() {
    let infra_dir = infra::template::default_template_path()
        .parent()
        .unwrap()
        .to_owned();
    let template = std::fs::read_to_string(infra_dir.join("template.yaml")).unwrap();
    assert!(template.contains("Name: !Sub ${AWS::StackName}-AuthorizerFunctionArn"));
    for example in ["rest-api.yaml", "http-api.yaml"] {
        let text = std::fs::read_to_string(infra_dir.join("examples").join(example)).unwrap();
        assert!(
            text.contains(
                r#"{"Fn::ImportValue": !Sub "${ServiceAccountsStack}-AuthorizerFunctionArn"}"#
            ),
            "{example}"
        );
        assert!(text.contains("AWS::Lambda::Permission"), "{example}");
    }
}

/// The `infra/` folder, and its template.
fn infra_template() -> (std::path::PathBuf, serde_yaml_ng::Value) {
    let infra_dir = infra::template::default_template_path()
        .parent()
        .unwrap()
        .to_owned();
    let template =
        serde_yaml_ng::from_str(&std::fs::read_to_string(infra_dir.join("template.yaml")).unwrap())
            .unwrap();
    (infra_dir, template)
}

/// API Gateway's authorizer cache covers one route per entry, in the stack and in both
/// examples; the authorizer knows the TTL; only this account's alarms may use the key.
#[test]
fn cached_authorizer_answers_cover_one_route_and_the_alarm_key_one_account() {
    let (infra_dir, template) = infra_template();
    let resources = &template["Resources"];
    let identity = &resources["Api"]["Properties"]["Auth"]["Authorizers"]["ServiceAccountsAuthorizer"]
        ["Identity"];
    let context: Vec<&str> = identity["Context"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(context, ["identity.sourceIp", "httpMethod", "resourcePath"]);
    assert!(
        resources["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
            .get("GATEWAY_CACHE_TTL_SECONDS")
            .is_some()
    );
    let rest = std::fs::read_to_string(infra_dir.join("examples/rest-api.yaml")).unwrap();
    assert!(rest.contains(
        "IdentitySource: method.request.header.Authorization, context.identity.sourceIp, context.httpMethod, context.resourcePath"
    ));
    let http = std::fs::read_to_string(infra_dir.join("examples/http-api.yaml")).unwrap();
    assert!(http.contains("$context.routeKey]"));
    for example in [&rest, &http] {
        assert!(
            example.to_lowercase().contains("x-org"),
            "the backend is told the org"
        );
    }
    let statements = resources["MonitoringKey"]["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .unwrap();
    let alarms = statements
        .iter()
        .find(|s| s["Sid"] == "CloudWatchAlarmsPublishToTheEncryptedTopic")
        .unwrap();
    assert!(
        alarms["Condition"]["StringEquals"]
            .get("aws:SourceAccount")
            .is_some()
    );
    assert!(
        alarms["Condition"]["ArnLike"]
            .get("aws:SourceArn")
            .is_some()
    );
}

/// Workload identity federation: the functions that check a trust policy's audience read the
/// same `WORKLOAD_AUDIENCES` (the `WorkloadAudiences` parameter, or the code's default when it
/// is empty), and the `WorkloadAudience` output names that default exactly as the code makes it.
#[test]
fn the_workload_audience_is_one_setting_and_the_output_is_the_codes_default() {
    let path = infra::template::default_template_path();
    let template: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for function in ["AccountsFunction", "TokensFunction", "ConsoleFunction"] {
        let value = &template["Resources"][function]["Properties"]["Environment"]["Variables"]["WORKLOAD_AUDIENCES"];
        let text = serde_yaml_ng::to_string(value).unwrap();
        assert!(
            text.contains("HasWorkloadAudiences") && text.contains("WorkloadAudiences"),
            "{function}: {text}"
        );
    }
    let output =
        serde_yaml_ng::to_string(&template["Outputs"]["WorkloadAudience"]["Value"]).unwrap();
    let default = usecases::WorkloadSettings::default_audience("${Table}");
    assert!(output.contains(&default), "{output} names {default}");
    assert_eq!(template["Parameters"]["WorkloadAudiences"]["Default"], "");
}

/// The lifecycle: the table's three sparse indexes are created as declared, under the names the
/// store queries, keys only; the lifecycle function runs on its schedule with a role that may
/// query those indexes; every role that stamps a last use may move `activeAt`; the audit
/// writer publishes on the stack's bus with the source the code and the example rules name.
#[tokio::test]
async fn the_lifecycle_indexes_schedule_roles_and_bus_are_declared() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let declared_template = Template::load_default()?;
    let declared = declared_template.table(MAIN_TABLE)?;
    let description = tables
        .client
        .describe_table()
        .table_name(tables.table.as_str())
        .send()
        .await?
        .table
        .unwrap();
    let indexes = description.global_secondary_indexes();
    assert_eq!(indexes.len(), 3);
    for name in [
        keys::EXPIRING_INDEX,
        keys::UNUSED_INDEX,
        keys::LIFECYCLE_INDEX,
    ] {
        let index = indexes
            .iter()
            .find(|i| i.index_name() == Some(name))
            .unwrap();
        assert_eq!(
            key_names(index.key_schema()),
            declared_keys_of_index(declared, name)
        );
        assert_eq!(
            index.projection().and_then(|p| p.projection_type()),
            Some(&aws_sdk_dynamodb::types::ProjectionType::KeysOnly)
        );
    }
    assert_eq!(
        declared_keys_of_index(declared, keys::EXPIRING_INDEX)[1].0,
        keys::EXPIRING
    );
    assert_eq!(
        declared_keys_of_index(declared, keys::UNUSED_INDEX)[1].0,
        keys::ACTIVE_AT
    );
    assert_eq!(
        declared_keys_of_index(declared, keys::LIFECYCLE_INDEX)[0].0,
        keys::LIFECYCLE
    );

    let path = infra::template::default_template_path();
    let template: serde_yaml_ng::Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path)?)?;
    let resources = &template["Resources"];
    let text = |value: &serde_yaml_ng::Value| serde_yaml_ng::to_string(value).unwrap();
    let lifecycle = &resources["LifecycleFunction"];
    assert!(built_by_the_makefile("LifecycleFunction", "lifecycle"));
    let schedule = &lifecycle["Properties"]["Events"]["Schedule"];
    assert_eq!(schedule["Type"], "ScheduleV2");
    assert!(text(&schedule["Properties"]["ScheduleExpression"]).contains("LifecycleSchedule"));
    assert_eq!(
        template["Parameters"]["LifecycleSchedule"]["Default"],
        "rate(1 hour)"
    );
    let statements = |role: &str| {
        resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_sequence()
            .unwrap()
            .clone()
    };
    let sid = |role: &str, sid: &str| {
        statements(role)
            .into_iter()
            .find(|statement| statement["Sid"] == sid)
            .unwrap_or_else(|| panic!("{role} has no {sid}"))
    };
    let indexes = text(&sid("LifecycleRole", "Indexes")["Resource"]);
    for name in ["index/expiring", "index/unused", "index/lifecycle"] {
        assert!(indexes.contains(name), "{indexes}");
    }
    for role in ["AuthorizerRole", "AccountsRole", "ConsoleRole"] {
        let attributes =
            &sid(role, "LastUsed")["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"];
        let attributes: Vec<&str> = attributes
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            attributes,
            [keys::PK, keys::SK, "lastUsedAt", keys::ACTIVE_AT],
            "{role}"
        );
    }
    let bus = text(
        &resources["AuditFunction"]["Properties"]["Environment"]["Variables"]["EVENT_BUS_NAME"],
    );
    assert!(
        bus.contains("AuditEventBus") && bus.contains("EventBusName"),
        "{bus}"
    );
    assert_eq!(
        sid("AuditRole", "PublishEvents")["Action"],
        "events:PutEvents"
    );
    assert_eq!(resources["AuditEventBus"]["Condition"], "CreateEventBus");
    assert_eq!(
        template["Outputs"]["EventSource"]["Value"],
        audit::events::EVENT_SOURCE
    );
    let examples = infra::template::default_template_path()
        .parent()
        .unwrap()
        .join("examples/audit-event-rules.yaml");
    let examples: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(examples)?)?;
    for rule in ["ExpiringAndLeakedRule", "EverythingRule"] {
        let pattern = &examples["Resources"][rule]["Properties"]["EventPattern"];
        assert_eq!(pattern["source"][0], audit::events::EVENT_SOURCE, "{rule}");
    }
    Ok(())
}

/// Service accounts as code: the provider and the rotation function are arm64 builds of their
/// own binaries with the token settings of the tokens function; their roles reach Secrets
/// Manager only under `SecretNamePrefix` (and KMS only through Secrets Manager), the provider
/// has nothing on the audit trail; Secrets Manager (of this account) may invoke the rotation
/// function; the three outputs are exported; and the consumer example uses all three.
#[test]
fn the_provisioner_and_rotation_are_declared_least_privilege() {
    let (infra_dir, template) = infra_template();
    let resources = &template["Resources"];
    let text = |value: &serde_yaml_ng::Value| serde_yaml_ng::to_string(value).unwrap();
    let tokens_variables = &resources["TokensFunction"]["Properties"]["Environment"]["Variables"];
    for (function, binary, role, log_group) in [
        (
            "ProvisionerFunction",
            "provisioner",
            "ProvisionerRole",
            "ProvisionerLogGroup",
        ),
        (
            "RotationFunction",
            "rotation",
            "RotationRole",
            "RotationLogGroup",
        ),
    ] {
        let resource = &resources[function];
        assert_eq!(resource["Type"], "AWS::Serverless::Function");
        assert_eq!(resource["Metadata"]["BuildMethod"], "makefile");
        assert_eq!(resource["Properties"]["CodeUri"], "lambda");
        assert!(built_by_the_makefile(function, binary), "{function}");
        let properties = &resource["Properties"];
        assert!(text(&properties["Role"]).contains(role), "{function}");
        assert!(
            text(&properties["LoggingConfig"]["LogGroup"]).contains(log_group),
            "{function}"
        );
        assert_eq!(resources[log_group]["Type"], "AWS::Logs::LogGroup");
        assert!(text(&resources[log_group]["Properties"]["KmsKeyId"]).contains("MonitoringKey"));
        let variables = &properties["Environment"]["Variables"];
        for variable in ["TABLE_NAME", "TOKEN_KEYS", "TOKEN_KEY_ID", "TOKEN_PREFIX"] {
            assert_eq!(
                variables[variable], tokens_variables[variable],
                "{function} {variable}"
            );
        }
        assert!(text(&variables["TOKEN_KEYS"]).contains("resolve:secretsmanager:${TokenKeys}"));
        assert!(text(&variables["RETENTION_DAYS"]).contains("RetentionDays"));
        assert!(text(&variables["SECRET_NAME_PREFIX"]).contains("SecretNamePrefix"));

        let statements =
            resources[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
                .as_sequence()
                .unwrap();
        let actions = |statement: &serde_yaml_ng::Value| -> Vec<String> {
            match &statement["Action"] {
                serde_yaml_ng::Value::String(action) => vec![action.clone()],
                list => list
                    .as_sequence()
                    .unwrap()
                    .iter()
                    .map(|action| action.as_str().unwrap().to_owned())
                    .collect(),
            }
        };
        let mut secret_actions = Vec::new();
        let mut kms_statements = 0;
        for statement in statements {
            let actions = actions(statement);
            let resource = text(&statement["Resource"]);
            assert!(
                !actions.iter().any(|action| action.ends_with('*')),
                "{role}: {actions:?}"
            );
            if actions.iter().any(|a| a.starts_with("secretsmanager:")) {
                assert!(
                    resource.contains(
                        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretNamePrefix}*"
                    ),
                    "{role}: {resource}"
                );
                assert!(statement["Resource"] != "*", "{role}");
                secret_actions.extend(actions.iter().cloned());
            }
            if actions.iter().any(|a| a.starts_with("kms:")) {
                kms_statements += 1;
                assert_eq!(
                    actions,
                    ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                    "{role}"
                );
                let via = text(&statement["Condition"]["StringEquals"]["kms:ViaService"]);
                assert!(
                    via.contains("secretsmanager.${AWS::Region}.amazonaws.com"),
                    "{role}: {via}"
                );
            }
            if actions.iter().any(|a| a.starts_with("dynamodb:")) {
                assert!(!resource.contains("AuditTable"), "{role}: {resource}");
            }
        }
        assert_eq!(kms_statements, 1, "{role}");
        for action in [
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecretVersionStage",
        ] {
            assert!(
                secret_actions.iter().any(|a| a == action),
                "{role} {action}"
            );
        }
        let provider_only = [
            "secretsmanager:CreateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:TagResource",
        ];
        for action in provider_only {
            assert_eq!(
                secret_actions.iter().any(|a| a == action),
                role == "ProvisionerRole",
                "{role} {action}"
            );
        }
        // Nothing on the audit trail, whatever the action.
        assert!(!text(&resources[role]).contains("AuditTable"), "{role}");
        // The monitoring key lets CloudWatch Logs create the function's log group.
        let key = text(&resources["MonitoringKey"]["Properties"]["KeyPolicy"]);
        let name = text(&resources[log_group]["Properties"]["LogGroupName"]);
        let suffix = name
            .trim()
            .rsplit_once("${AWS::StackName}")
            .map(|(_, suffix)| suffix)
            .unwrap();
        assert!(
            key.contains(&format!("/aws/lambda/${{AWS::StackName}}{suffix}")),
            "{log_group}"
        );
    }
    assert_eq!(
        resources["ProvisionerFunction"]["Properties"]["EventInvokeConfig"]["MaximumRetryAttempts"],
        2
    );
    assert!(
        text(&resources["RotationFunction"]["Properties"]["Environment"]["Variables"]["ROTATION_GRACE_SECONDS"])
            .contains("RotationGraceSeconds")
    );

    // Secrets Manager of this account invokes the rotation function; other accounts' stacks
    // the provider only as IacAccountIds lists them, each under a condition.
    let rotation = &resources["RotationInvokePermission"];
    assert_eq!(rotation["Type"], "AWS::Lambda::Permission");
    assert_eq!(
        rotation["Properties"]["Principal"],
        "secretsmanager.amazonaws.com"
    );
    assert!(text(&rotation["Properties"]["FunctionName"]).contains("RotationFunction"));
    assert!(text(&rotation["Properties"]["SourceAccount"]).contains("AWS::AccountId"));
    // Each other account invokes its own alias (account-<id>), which only it may invoke; no
    // permission lets another account invoke the function itself.
    let provider_permissions: Vec<_> = resources
        .as_mapping()
        .unwrap()
        .values()
        .filter(|resource| {
            resource["Type"] == "AWS::Lambda::Permission"
                && text(&resource["Properties"]["FunctionName"]).contains("Provisioner")
        })
        .collect();
    assert_eq!(provider_permissions.len(), 3);
    for permission in provider_permissions {
        let condition = permission["Condition"].as_str().unwrap();
        let principal = text(&permission["Properties"]["Principal"]);
        assert!(principal.contains("IacAccountIds"));
        let target = text(&permission["Properties"]["FunctionName"]);
        assert!(
            !target.contains("ProvisionerFunction"),
            "the function itself: {target}"
        );
        let alias_name = target
            .trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .trim_start_matches("Ref")
            .trim_matches(|c: char| !c.is_ascii_alphanumeric());
        let alias = &resources[alias_name];
        assert_eq!(alias["Type"], "AWS::Lambda::Alias", "{alias_name}");
        assert_eq!(alias["Condition"].as_str(), Some(condition));
        assert_eq!(alias["Properties"]["FunctionVersion"], "$LATEST");
        // The alias is named account-<the very account its permission names>.
        let untagged = |value: &serde_yaml_ng::Value| match value {
            serde_yaml_ng::Value::Tagged(tagged) => tagged.value.clone(),
            other => other.clone(),
        };
        let join = untagged(&alias["Properties"]["Name"]);
        assert_eq!(join[1][0], "account-", "{join:?}");
        assert_eq!(join[1][1], permission["Properties"]["Principal"]);
    }
    assert!(
        text(&resources["ProvisionerFunction"]["Properties"]["Environment"]["Variables"]["IAC_ACCOUNT_IDS"])
            .contains("IacAccountIds")
    );
    assert_eq!(
        template["Parameters"]["IacAccountIds"]["Type"],
        "CommaDelimitedList"
    );
    assert_eq!(template["Parameters"]["IacAccountIds"]["Default"], "");
    assert_eq!(
        template["Parameters"]["SecretNamePrefix"]["Default"],
        provisioner::DEFAULT_SECRET_PREFIX
    );
    assert_eq!(
        template["Parameters"]["RotationGraceSeconds"]["Default"],
        86_400
    );

    // Exported for the teams' stacks.
    for (output, export) in [
        ("ProvisionerServiceToken", "${AWS::StackName}-ServiceToken"),
        (
            "RotationFunctionArn",
            "${AWS::StackName}-RotationFunctionArn",
        ),
        ("SecretNamePrefix", "${AWS::StackName}-SecretNamePrefix"),
    ] {
        let declared = &template["Outputs"][output];
        assert!(
            text(&declared["Export"]["Name"]).contains(export),
            "{output}"
        );
    }
    assert!(
        text(&template["Outputs"]["ProvisionerServiceToken"]["Value"])
            .contains("ProvisionerFunction")
    );
    assert!(
        text(&template["Outputs"]["RotationFunctionArn"]["Value"]).contains("RotationFunction")
    );

    // The consumer example: an account, a token in a secret named under the prefix, and the
    // secret's rotation by the exported function.
    let example_text =
        std::fs::read_to_string(infra_dir.join("examples/consumer-stack.yaml")).unwrap();
    let example: serde_yaml_ng::Value = serde_yaml_ng::from_str(&example_text).unwrap();
    let types: std::collections::BTreeSet<&str> = example["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter_map(|resource| resource["Type"].as_str())
        .collect();
    for declared in [
        "Custom::ServiceAccount",
        "Custom::ServiceToken",
        "AWS::SecretsManager::RotationSchedule",
    ] {
        assert!(types.contains(declared), "{declared}");
    }
    for export in ["-ServiceToken", "-RotationFunctionArn", "-SecretNamePrefix"] {
        assert!(
            example_text.contains(&format!("${{ServiceAccountsStack}}{export}")),
            "{export}"
        );
    }
}

/// Whether infra/lambda/Makefile (sam build's makefile builder) builds `logical_id` from the
/// workspace binary `binary`.
fn built_by_the_makefile(logical_id: &str, binary: &str) -> bool {
    infra::template::function_binaries()
        .unwrap()
        .get(logical_id)
        == Some(&binary.to_owned())
}

fn makefile_dir() -> std::path::PathBuf {
    infra::template::functions_makefile_path()
        .parent()
        .unwrap()
        .to_owned()
}

/// sam build runs `make build-<LogicalId>` with ARTIFACTS_DIR: every function of the template
/// gets its own binary's bootstrap from the one build, and an unknown function is an error.
#[test]
fn the_makefile_copies_each_functions_bootstrap_from_the_one_build() {
    let (_, template) = infra_template();
    let scratch = std::env::temp_dir().join(format!("sam-makefile-{}", std::process::id()));
    let built = scratch.join("built");
    let binaries = infra::template::function_binaries().unwrap();
    let functions: Vec<(String, String)> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
        .map(|(id, _)| {
            let id = id.as_str().unwrap().to_owned();
            let binary = binaries
                .get(&id)
                .unwrap_or_else(|| panic!("the Makefile does not build {id}"))
                .clone();
            (id, binary)
        })
        .collect();
    assert_eq!(functions.len(), 8);
    for (_, binary) in &functions {
        std::fs::create_dir_all(built.join(binary)).unwrap();
        std::fs::write(built.join(binary).join("bootstrap"), binary).unwrap();
    }
    let make = |target: &str, artifacts: &std::path::Path| {
        std::process::Command::new("make")
            .arg("--no-print-directory")
            .arg(target)
            .current_dir(makefile_dir())
            .env("LAMBDA_BUILT", &built)
            .env("ARTIFACTS_DIR", artifacts)
            .output()
            .unwrap()
    };
    for (id, binary) in &functions {
        let artifacts = scratch.join(id);
        std::fs::create_dir_all(&artifacts).unwrap();
        let output = make(&format!("build-{id}"), &artifacts);
        assert!(output.status.success(), "{id}: {output:?}");
        assert_eq!(
            std::fs::read_to_string(artifacts.join("bootstrap")).unwrap(),
            *binary
        );
    }
    let output = make("build-NoSuchFunction", &scratch);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no function NoSuchFunction"));
    std::fs::remove_dir_all(&scratch).unwrap();
}
