//! The functions, built as in Lambda: the same settings from the environment and the same
//! client construction, over DynamoDB Local's tables; the provisioner's over Secrets Manager
//! from moto; the lifecycle on a timer instead of a schedule; and the keys of this run (the
//! token keys, the console's session key).

use std::path::Path;
use std::sync::Arc;

use accounts::AccountsState;
use admin_api::AdminState;
use anyhow::Context;
use authorizer::{Authorizer, AuthorizerConfig};
use console::ConsoleConfig;
use infra::local::{LocalStack, sdk_config_for};
use shared::config::{Settings, env};
use store::DynamoStore;
use store::client::ClientSettings;
use usecases::UseCases;
use usecases::audit::AuditTrail;

/// The states the functions' routers serve from.
pub(crate) struct Functions {
    pub(crate) admin: AdminState,
    pub(crate) accounts: AccountsState,
    pub(crate) authorizer: Arc<Authorizer>,
}

/// The admin API's and the authorizer's states, each with its own client as in Lambda, over
/// the stack's tables and the token keys of [`token_keys`].
pub(crate) async fn build(
    stack: &LocalStack,
    data_dir: Option<&Path>,
) -> anyhow::Result<Functions> {
    let token_keys = token_keys(data_dir)?;
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
    let use_cases = UseCases::from_lookup(store.clone(), settings.token_format.clone(), lookup)?;
    let admin = AdminState::from_lookup(use_cases, lookup)?;
    let accounts = AccountsState {
        admin: admin.clone(),
        audit: AuditTrail::new(admin_client, &stack.audit_table),
    };
    let authorizer_store = DynamoStore::new(
        client(ClientSettings::AUTHORIZER).await?,
        &settings.table_name,
    );
    let authorizer = Arc::new(Authorizer::new(
        authorizer_store,
        AuthorizerConfig::from_lookup(settings.token_format.clone(), lookup)?,
    ));
    Ok(Functions {
        admin,
        accounts,
        authorizer,
    })
}

/// The console's configuration for the base URL. Its sessions are sealed with a key of this
/// run: they end when it stops.
pub(crate) fn console(base: &str) -> anyhow::Result<Arc<ConsoleConfig>> {
    Ok(Arc::new(ConsoleConfig::from_lookup(|name| match name {
        "CONSOLE_SESSION_KEY" => session_key().ok(),
        "CONSOLE_PUBLIC_URL" => Some(base.to_owned()),
        other => env(other),
    })?))
}

/// Secrets Manager from moto, and the provider and rotation function over it and the demo's
/// table (their responses come back to this listener).
pub(crate) async fn start_replay(
    use_cases: &UseCases,
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

/// The lifecycle (expiry warnings, retirement of unused tokens), every `interval` seconds as
/// a background task; none when `interval` is 0 (the banner says which).
pub(crate) fn lifecycle(
    use_cases: &UseCases,
    interval: u64,
) -> Option<tokio::task::JoinHandle<()>> {
    (interval > 0).then(|| {
        let use_cases = use_cases.clone();
        let every = std::time::Duration::from_secs(interval);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                if let Err(error) = use_cases.run_lifecycle().await {
                    tracing::warn!(%error, "the lifecycle run failed; the next one retries");
                }
            }
        })
    })
}

/// 86 random base62 characters (511 bits): the console's session key for this run.
fn session_key() -> anyhow::Result<String> {
    shared::random::base62_string(86).map_err(|e| anyhow::anyhow!("{e}"))
}

/// The token keys: `TOKEN_KEYS` when set; else the ones kept with the data (made on the first
/// run), so the tokens of an earlier run keep working; else a fresh key for this run.
fn token_keys(data_dir: Option<&Path>) -> anyhow::Result<String> {
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
