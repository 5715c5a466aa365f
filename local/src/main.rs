//! `local`: the whole system on one machine, at one base URL, until Ctrl-C.
//!
//! DynamoDB Local with the tables of `infra/template.yaml`, a demo organization bootstrapped
//! with an admin token, the audit writer following the table's stream, and the functions'
//! handlers behind one HTTP listener (see the library for the routing).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use accounts::AccountsContext;
use admin_api::AdminContext;
use anyhow::Context;
use authorizer::{Authorizer, AuthorizerConfig};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clap::Parser;
use infra::bootstrap::{BootstrapRequest, bootstrap};
use infra::local::{DynamoDbLocal, client_for, sdk_config_for};
use infra::{DEFAULT_AUDIT_TABLE_NAME, DEFAULT_TABLE_NAME};
use local::{Gateway, HttpRequest, parse_query};
use shared::config::{TableName, table_setting};
use shared::ids::OrgId;
use shared::policy::TokenPolicy;
use shared::text::DisplayName;
use shared::token::TokenPrefix;
use store::DynamoStore;
use store::audit::AuditStore;
use tokens::TokensContext;

/// API Gateway's payload limit.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

#[derive(Parser)]
#[command(
    name = "local",
    about = "Service accounts for AWS, locally: DynamoDB Local, the admin API, OAuth2, the authorizer in front of example routes, and the audit trail, at one base URL"
)]
struct Cli {
    /// The port of the base URL (0: any free port).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    /// DynamoDB Local's port (0: any free port).
    #[arg(long, env = "DYNAMODB_PORT", default_value_t = 0)]
    dynamodb_port: u16,
    /// The demo organization to bootstrap.
    #[arg(long, default_value = "acme")]
    org: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let level = env("RUST_LOG")
        .and_then(|level| level.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::WARN);
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .try_init();
    let org = OrgId::parse(&cli.org).map_err(|e| anyhow::anyhow!("--org: {e}"))?;

    let dynamodb = if cli.dynamodb_port == 0 {
        DynamoDbLocal::start_on_free_port()?
    } else {
        DynamoDbLocal::start(cli.dynamodb_port)?
    };
    let client = client_for(dynamodb.endpoint()).await;
    let table = env("TABLE_NAME").unwrap_or_else(|| DEFAULT_TABLE_NAME.into());
    let audit_table = env("AUDIT_TABLE_NAME").unwrap_or_else(|| DEFAULT_AUDIT_TABLE_NAME.into());
    infra::template::create_tables(&client, &table, &audit_table).await?;
    let lookup = |name: &str| match name {
        "TABLE_NAME" => Some(table.clone()),
        "AUDIT_TABLE_NAME" => Some(audit_table.clone()),
        other => env(other),
    };
    let table_name: TableName = table_setting(lookup, "TABLE_NAME")?;
    let audit_name: TableName = table_setting(lookup, "AUDIT_TABLE_NAME")?;
    let prefix = match env("TOKEN_PREFIX") {
        Some(prefix) => {
            TokenPrefix::parse(&prefix).map_err(|e| anyhow::anyhow!("TOKEN_PREFIX: {e}"))?
        }
        None => TokenPrefix::default(),
    };

    // The functions' contexts, read from the environment as in Lambda.
    let store = DynamoStore::new(client.clone(), &table_name);
    let admin = AdminContext::from_lookup(store.clone(), prefix.clone(), lookup)?;
    let authorizer_config = AuthorizerConfig::from_lookup(prefix.clone(), lookup)?;
    let gateway = Gateway {
        accounts: AccountsContext {
            admin: admin.clone(),
            audit: AuditStore::new(client.clone(), &audit_name),
        },
        tokens: TokensContext::from_lookup(admin, lookup)?,
        protected: authorizer_config.routes.clone(),
        authorizer: Authorizer::new(store.clone(), authorizer_config),
    };

    let config = sdk_config_for(dynamodb.endpoint()).await;
    let poller = infra::stream::follow(&config, &table, &audit_table).await?;

    let created = bootstrap(
        &store,
        &prefix,
        BootstrapRequest {
            org: org.clone(),
            org_name: DisplayName::parse(&format!("{org} (local demo)"))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            policy: TokenPolicy::default(),
            admin_name: DisplayName::parse("bootstrap-admin")
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            token_lifetime: None,
            operator: env("USER").unwrap_or_else(|| "local".into()),
        },
        time::OffsetDateTime::now_utc(),
    )
    .await
    .context("bootstrapping the demo organization")?;

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, cli.port))
        .await
        .with_context(|| format!("listening on port {}", cli.port))?;
    let base = format!("http://{}", listener.local_addr()?);
    let token = created.token.expose_secret();
    println!("Service accounts for AWS is running at {base}");
    println!("  admin API     {base}/v1/orgs/{org}/...      (the accounts and tokens functions)");
    println!("  OAuth2        {base}/oauth2/token");
    println!(
        "  protected     {base}/hello, /items, /orgs/{org}/brains/{{brain}}  (behind the authorizer)"
    );
    println!(
        "  DynamoDB      {}  (tables {table}, {audit_table}; the audit writer follows the stream)",
        dynamodb.endpoint()
    );
    println!();
    println!(
        "Organization {org}, admin service account {}. Its admin token, shown once:",
        created.service_account_id
    );
    println!("  export API={base}");
    println!("  export ADMIN_TOKEN={token}");
    println!();
    println!("Try:");
    println!(
        "  curl -s $API/v1/orgs/{org}/service-accounts -H \"Authorization: Bearer $ADMIN_TOKEN\""
    );
    println!("  curl -s $API/hello -H \"Authorization: Bearer $ADMIN_TOKEN\"");
    println!("  curl -s $API/hello");
    println!("  curl -s $API/v1/orgs/{org}/audit-events -H \"Authorization: Bearer $ADMIN_TOKEN\"");
    println!("The README's walkthrough goes further. Ctrl-C stops everything.");
    println!("ready");

    let app = axum::Router::new()
        .fallback(serve)
        .with_state(Arc::new(gateway));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stopped())
    .await
    .context("serving")?;
    println!("stopping");
    poller.abort();
    drop(dynamodb);
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

async fn serve(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "Request Too Long").into_response();
    };
    let request = HttpRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parse_query(parts.uri.query()),
        headers: parts.headers,
        body: body.to_vec(),
        source_ip: peer.ip(),
    };
    let (method, path) = (request.method.clone(), request.path.clone());
    let answer = gateway.handle(request).await;
    println!(
        "{method} {path} -> {} ({} ms)",
        answer.status.as_u16(),
        started.elapsed().as_millis()
    );
    let mut response = Response::new(axum::body::Body::from(answer.body));
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers;
    response
}
