//! `local`: the whole system on one machine, at one base URL, until Ctrl-C.
//!
//! DynamoDB Local with the tables of `infra/template.yaml`, a demo organization bootstrapped
//! with an admin token, the audit writer following the table's stream, and the functions'
//! routers behind one HTTP listener (see the library for the routing).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use accounts::AccountsState;
use admin_api::AdminState;
use anyhow::Context;
use authorizer::{Authorizer, AuthorizerConfig};
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use clap::Parser;
use console::ConsoleConfig;
use infra::local::{LocalStack, sdk_config_for};
use shared::config::{Settings, env};
use shared::ids::OrgId;
use shared::people::{DisplayClaim, IdentityProvider, Issuer, RoleMapping};
use shared::policy::TokenPolicy;
use shared::text::DisplayName;
use store::DynamoStore;
use store::audit::AuditStore;
use store::client::ClientSettings;
use usecases::bootstrap::{BootstrapError, BootstrapRequest};

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
    /// Keep DynamoDB Local's data in this folder across restarts (default: in memory, gone
    /// when `local` stops).
    #[arg(long, env = "LOCAL_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// How often the lifecycle runs (expiry warnings, retirement of unused tokens), in
    /// seconds; the deployed stack runs it hourly. 0: never.
    #[arg(long, env = "LIFECYCLE_INTERVAL_SECONDS", default_value_t = 60)]
    lifecycle_interval: u64,
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

async fn run(cli: Cli) -> anyhow::Result<()> {
    let level = env("RUST_LOG")
        .and_then(|level| level.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::WARN);
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .try_init();
    let org = OrgId::parse(&cli.org).map_err(|e| anyhow::anyhow!("--org: {e}"))?;

    // DynamoDB Local with the tables and the audit writer, and the functions built as in
    // Lambda: the same settings from the environment, the same client construction.
    let stack = LocalStack::start(cli.dynamodb_port, cli.data_dir.as_deref(), env).await?;
    let token_keys = token_keys(cli.data_dir.as_deref())?;
    let lookup = |name: &str| match name {
        "TABLE_NAME" => Some(stack.table.to_string()),
        "AUDIT_TABLE_NAME" => Some(stack.audit_table.to_string()),
        "TOKEN_KEYS" => Some(token_keys.clone()),
        // A run on this machine: its identity provider is plain http on loopback.
        "ALLOW_LOCAL_ISSUERS" => env(name).or_else(|| Some("true".into())),
        other => env(other),
    };
    let settings = Settings::from_lookup(lookup)?;
    let client = |defaults: ClientSettings| {
        let endpoint = stack.endpoint().to_owned();
        async move {
            let settings = ClientSettings::from_lookup(defaults, env)?;
            anyhow::Ok(store::client::dynamodb_in(
                &sdk_config_for(&endpoint, &settings).await,
                settings.partition,
            ))
        }
    };
    let admin_client = client(ClientSettings::ADMIN).await?;
    let store = DynamoStore::new(admin_client.clone(), &settings.table_name);
    let admin = AdminState::from_lookup(store.clone(), settings.token_format.clone(), lookup)?;
    let accounts_state = AccountsState {
        admin: admin.clone(),
        audit: AuditStore::new(admin_client, &stack.audit_table),
    };
    let authorizer_store = DynamoStore::new(
        client(ClientSettings::AUTHORIZER).await?,
        &settings.table_name,
    );
    let authorizer = Arc::new(Authorizer::new(
        authorizer_store,
        AuthorizerConfig::from_lookup(settings.token_format.clone(), lookup)?,
    ));

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, cli.port))
        .await
        .with_context(|| format!("listening on port {}", cli.port))?;
    let base = format!("http://{}", listener.local_addr()?);

    // A real OpenID Provider for people: the demo organization's identity provider, which
    // also signs people in to the console (sent back to its callback on this listener).
    let people = start_identity_provider(&format!("{base}/console/callback")).await?;
    let identity_providers = vec![demo_identity_provider(&people.issuer)?];
    let created = admin
        .use_cases
        .bootstrap(BootstrapRequest {
            org: org.clone(),
            org_name: DisplayName::parse(&format!("{org} (local demo)"))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            policy: TokenPolicy::default(),
            admin_name: DisplayName::parse("bootstrap-admin")
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            token_lifetime: None,
            operator: env("USER").unwrap_or_else(|| "local".into()),
            identity_providers: identity_providers.clone(),
        })
        .await;
    // With kept data, the demo organization exists from an earlier run: its admin token is
    // the one that run printed.
    let created = match created {
        Ok(created) => Some(created),
        Err(BootstrapError::OrgExists(_)) if cli.data_dir.is_some() => {
            // The provider listens on a new port each run: point the kept organization at it.
            let mut kept = admin.use_cases.org(&org).await?;
            kept.identity_providers = identity_providers;
            kept.updated_at = admin.use_cases.now();
            kept.updated_by = shared::model::Actor::new(
                shared::model::ActorKind::Operator,
                &env("USER").unwrap_or_else(|| "local".into()),
            );
            admin.use_cases.store.update_org(&kept).await?;
            None
        }
        Err(error) => return Err(error).context("bootstrapping the demo organization"),
    };
    // Service accounts as code: Secrets Manager from moto, the provider and the rotation
    // function, and the demo organization letting the local account's stacks manage it.
    let replay = match start_replay(&admin.use_cases, &base).await {
        Ok(replay) => {
            let mut kept = admin.use_cases.org(&org).await?;
            if kept.iac_access.is_empty() {
                let local = shared::iac::AwsAccountId::parse("000000000000")
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                kept.iac_access = shared::iac::IacAccess::new(vec![
                    shared::iac::IacPrincipal::new(local, None)
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                ])
                .map_err(|e| anyhow::anyhow!("{e}"))?;
                kept.updated_at = admin.use_cases.now();
                kept.updated_by = shared::model::Actor::new(
                    shared::model::ActorKind::Operator,
                    &env("USER").unwrap_or_else(|| "local".into()),
                );
                admin.use_cases.store.update_org(&kept).await?;
            }
            Some(replay)
        }
        Err(error) => {
            eprintln!("Service accounts as code are off: {error:#}");
            None
        }
    };
    let (table, audit_table) = (&stack.table, &stack.audit_table);
    // The console's sessions are sealed with a key of this run: they end when it stops.
    let console = Arc::new(ConsoleConfig::from_lookup(|name| match name {
        "CONSOLE_SESSION_KEY" => session_key().ok(),
        "CONSOLE_PUBLIC_URL" => Some(base.clone()),
        other => env(other),
    })?);

    println!("Service accounts for AWS is running at {base}");
    println!("  admin API     {base}/v1/orgs/{org}/...      (the accounts and tokens functions)");
    println!("  OAuth2        {base}/oauth2/token");
    println!(
        "  console       {base}/console/orgs/{org}   (sign in as ada, grace or eve, any password)"
    );
    println!(
        "  protected     {base}/hello, /items, /orgs/{org}/brains/{{brain}}  (behind the authorizer)"
    );
    println!(
        "  DynamoDB      {}  (tables {table}, {audit_table}; the audit writer follows the stream)",
        stack.endpoint()
    );
    if let Some(data_dir) = &cli.data_dir {
        println!(
            "  data          {} (kept across restarts)",
            data_dir.display()
        );
    }
    println!();
    match &created {
        Some(created) => {
            println!(
                "Organization {org}, admin service account {}. Its admin token, shown once:",
                created.service_account_id
            );
            println!("  export API={base}");
            println!("  export ADMIN_TOKEN={}", created.token.expose_secret());
        }
        None => {
            println!(
                "Organization {org} is kept from an earlier run; use the admin token it printed:"
            );
            println!("  export API={base}");
        }
    }
    println!();
    println!("Try:");
    println!(
        "  curl -s $API/v1/orgs/{org}/service-accounts -H \"Authorization: Bearer $ADMIN_TOKEN\""
    );
    println!("  curl -s $API/hello -H \"Authorization: Bearer $ADMIN_TOKEN\"");
    println!("  curl -s $API/hello");
    println!("  curl -s $API/v1/orgs/{org}/audit-events -H \"Authorization: Bearer $ADMIN_TOKEN\"");
    println!();
    println!(
        "People sign in with the local OpenID Provider at {} (ada: admin, grace: auditor, eve: no role):",
        people.issuer
    );
    println!(
        "  export ADA_JWT=$(curl -s -d grant_type=client_credentials -d client_id=ada -d client_secret=ada-secret -d resource=urn:service-accounts {}/token | jq -r .access_token)",
        people.issuer
    );
    println!(
        "  curl -s -X POST $API/v1/orgs/{org}/service-accounts -H \"Authorization: Bearer $ADA_JWT\" -H 'content-type: application/json' -d '{{\"name\": \"made-by-ada\"}}'"
    );
    if let Some((replay, moto)) = &replay {
        println!(
            "Service accounts as code (the account 000000000000 may manage {org}; Secrets Manager at {}):",
            moto.endpoint
        );
        println!(
            "  curl -s -X POST $API/local/cloudformation -d '{{\"RequestType\": \"Create\", \"ResourceType\": \"Custom::ServiceAccount\", \"LogicalResourceId\": \"Deployer\", \"ResourceProperties\": {{\"Organization\": \"{org}\", \"Name\": \"deployer\", \"Role\": \"writer\"}}}}'"
        );
        println!(
            "  curl -s -X POST $API/local/secretsmanager/rotate -d '{{\"SecretId\": \"{}local-demo/ci\"}}'",
            replay.provider.secret_prefix
        );
    }
    println!("The README's walkthrough goes further. Ctrl-C stops everything.");
    println!("ready");

    let lifecycle = (cli.lifecycle_interval > 0).then(|| {
        let use_cases = admin.use_cases.clone();
        let every = std::time::Duration::from_secs(cli.lifecycle_interval);
        println!(
            "The lifecycle (expiry warnings, retirement of unused tokens) runs every {}s.",
            cli.lifecycle_interval
        );
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                if let Err(error) = use_cases.run_lifecycle().await {
                    tracing::warn!(%error, "the lifecycle run failed; the next one retries");
                }
            }
        })
    });
    let (replay, moto) = match replay {
        Some((replay, moto)) => (Some(replay), Some(moto)),
        None => (None, None),
    };
    let app = local::app_with_console(accounts_state, admin, authorizer, console, replay)
        .layer(middleware::from_fn(log_line));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stopped())
    .await
    .context("serving")?;
    println!("stopping");
    if let Some(lifecycle) = lifecycle {
        lifecycle.abort();
    }
    drop(people);
    drop(moto);
    drop(stack);
    Ok(())
}

/// Secrets Manager from moto, and the provider and rotation function over it and the demo's
/// table (their responses come back to this listener).
async fn start_replay(
    use_cases: &usecases::UseCases,
    base: &str,
) -> anyhow::Result<(local::iac::Replay, infra::local::Moto)> {
    let moto = infra::local::Moto::start().await?;
    let config =
        ClientSettings::BACKGROUND.local_sdk_config(&moto.endpoint, infra::local::LOCAL_REGION);
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let secrets = provisioner::secrets::Secrets::new(client.clone());
    let provider = provisioner::Provisioner::new(
        use_cases.clone(),
        secrets.clone(),
        provisioner::secret_prefix(env)?,
    )
    .answering_locally();
    let rotation = provisioner::rotation::Rotation::new(
        use_cases.clone(),
        secrets,
        provisioner::rotation_grace(env)?,
    );
    let replay = local::iac::Replay::new(provider, rotation, client, base.to_owned());
    Ok((replay, moto))
}

/// The local OpenID Provider (`tools/oidc-provider`), stopped when dropped.
struct LocalIdentityProvider {
    issuer: String,
    _child: tokio::process::Child,
    /// Dropping it (or `local` ending, however) stops the provider ([`infra::process`]).
    _lifeline: Option<tokio::process::ChildStdin>,
}

/// Starts `tools/oidc-provider/provider.mjs` (installed by `scripts/setup`) on a free port.
async fn start_identity_provider(console_callback: &str) -> anyhow::Result<LocalIdentityProvider> {
    use tokio::io::AsyncBufReadExt;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tools/oidc-provider/provider.mjs");
    let port = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port();
    let mut child = tokio::process::Command::from(infra::process::guarded("node"))
        .arg(&script)
        .arg(port.to_string())
        .env("CONSOLE_REDIRECT_URIS", console_callback)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting the local OpenID Provider with node (scripts/setup installs both)")?;
    let lifeline = child.stdin.take();
    let stdout = child
        .stdout
        .take()
        .context("the OpenID Provider's output")?;
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(stdout);
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        reader.read_line(&mut line),
    )
    .await
    .context("the local OpenID Provider did not start within 30 s")??;
    // Whatever it prints later is read and dropped: a closed pipe would end it (EPIPE).
    tokio::spawn(async move { tokio::io::copy(&mut reader, &mut tokio::io::sink()).await });
    let issuer = line
        .trim()
        .strip_prefix("ready ")
        .with_context(|| format!("the local OpenID Provider did not start: {line:?}"))?
        .to_owned();
    Ok(LocalIdentityProvider {
        issuer,
        _child: child,
        _lifeline: lifeline,
    })
}

/// The demo organization's provider: its `sa-admins` are admins, its `sa-auditors` auditors.
fn demo_identity_provider(issuer: &str) -> anyhow::Result<IdentityProvider> {
    Ok(IdentityProvider {
        issuer: Issuer::parse(issuer).map_err(|e| anyhow::anyhow!("{e}"))?,
        audiences: vec![
            "service-accounts-admin".into(),
            "service-accounts-console".into(),
        ],
        display_claim: DisplayClaim::Email,
        roles: RoleMapping::new(
            "groups",
            vec!["sa-admins".into()],
            vec!["sa-auditors".into()],
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?,
        console_client_id: Some("service-accounts-console".into()),
    })
}

/// 86 random base62 characters (511 bits): the console's session key for this run.
fn session_key() -> anyhow::Result<String> {
    shared::random::base62_string(86).map_err(|e| anyhow::anyhow!("{e}"))
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

/// The token keys: `TOKEN_KEYS` when set; else the ones kept with the data (made on the first
/// run), so the tokens of an earlier run keep working; else a fresh key for this run.
fn token_keys(data_dir: Option<&std::path::Path>) -> anyhow::Result<String> {
    if let Some(keys) = env("TOKEN_KEYS") {
        return Ok(keys);
    }
    let fresh = || -> anyhow::Result<String> {
        let key = shared::random::base62_string(64).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(format!("a:{key}"))
    };
    let Some(data_dir) = data_dir else {
        return fresh();
    };
    let path = data_dir.join("token-keys");
    match std::fs::read_to_string(&path) {
        Ok(keys) => Ok(keys.trim().to_owned()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let keys = fresh()?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            std::io::Write::write_all(&mut options.open(&path)?, keys.as_bytes())
                .with_context(|| format!("keeping the token keys in {}", path.display()))?;
            Ok(keys)
        }
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

/// One line per request: `POST /v1/orgs/acme/service-accounts -> 201 (5 ms)`.
async fn log_line(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = next.run(request).await;
    println!(
        "{method} {path} -> {} ({} ms)",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}
