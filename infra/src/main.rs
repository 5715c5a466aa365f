//! `infra`: the operator's command-line tool.
//!
//! * `infra serve [--port N]`: DynamoDB Local with the template's tables, and the audit writer
//!   following the table's stream, until Ctrl-C.
//! * `infra create-tables`: the template's tables, at the endpoint the AWS variables name.
//! * `infra bootstrap --org SLUG ...`: the first organization, admin account and token.
//!
//! Table names come from `TABLE_NAME` and `AUDIT_TABLE_NAME` (defaults `service-accounts`
//! and `service-accounts-audit`); AWS endpoint, region and credentials from the standard AWS
//! variables.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use infra::local::LocalStack;
use infra::{DEFAULT_AUDIT_TABLE_NAME, DEFAULT_TABLE_NAME, PARTNER_ENDPOINT_PLACEHOLDER};
use shared::access::IpAllowlist;
use shared::config::{Settings, env};
use shared::ids::OrgId;
use shared::people::{DisplayClaim, IdentityProvider, Issuer, RoleMapping};
use shared::policy::{LifetimePreset, TokenPolicy};
use shared::text::DisplayName;
use store::DynamoStore;
use store::client::ClientSettings;
use tokio::signal::unix::{SignalKind, signal};
use usecases::UseCases;
use usecases::bootstrap::{BootstrapError, BootstrapRequest};

#[derive(Parser)]
#[command(
    name = "infra",
    about = "Service accounts for AWS: local infrastructure and bootstrap"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start DynamoDB Local with the tables of infra/template.yaml and run until Ctrl-C.
    Serve {
        /// The port (0: any free port).
        #[arg(long, default_value_t = 8000)]
        port: u16,
    },
    /// Create the template's tables at the endpoint the standard AWS variables name.
    CreateTables,
    /// Print the detection patterns of this deployment's tokens for secret scanners: a
    /// gitleaks rule, a TruffleHog custom detector and a GitHub custom pattern; or the
    /// message that enrolls the deployment in GitHub's secret scanning partner program.
    SecretPatterns {
        /// The deployment's token prefix (default: TOKEN_PREFIX, else `svc_`).
        #[arg(long)]
        prefix: Option<String>,
        /// Which: gitleaks, trufflehog, github (default: those three), or github-partner.
        #[arg(long)]
        tool: Option<String>,
        /// For github-partner: the stack's SecretScanningEndpoint output.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Create an organization with its token policy, its first admin service account and
    /// that account's first token, and print the token once. Refuses if the organization
    /// exists. Needs TABLE_NAME (and TOKEN_PREFIX if the deployment sets one).
    Bootstrap {
        /// The organization id (slug), e.g. `acme`.
        #[arg(long)]
        org: String,
        /// The organization's display name (default: the id).
        #[arg(long)]
        name: Option<String>,
        /// The admin service account's name.
        #[arg(long, default_value = "bootstrap-admin")]
        admin_name: String,
        /// The admin token's lifetime (1h, 1d, 30d, 90d, 1y, 2y, 5y; default: the policy's).
        #[arg(long)]
        token_lifetime: Option<String>,
        /// The policy's default token lifetime.
        #[arg(long, default_value = "1y")]
        default_lifetime: String,
        /// The policy's maximum token lifetime.
        #[arg(long, default_value = "1y")]
        max_lifetime: String,
        /// Allow tokens that never expire in this organization.
        #[arg(long)]
        allow_non_expiring: bool,
        /// A CIDR range every caller of this organization must come from (repeatable).
        #[arg(long = "ip-allowlist")]
        ip_allowlist: Vec<String>,
        /// Who is recorded as the actor (default: $USER).
        #[arg(long)]
        operator: Option<String>,
        /// Print one JSON object: {"org", "serviceAccountId", "token"}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        oidc: Box<OidcArgs>,
    },
}

/// The organization's identity provider, so its people administer it from the start.
#[derive(clap::Args)]
struct OidcArgs {
    /// The identity provider's issuer URL, exactly as its tokens' `iss` (https).
    #[arg(long, requires = "oidc_audience")]
    oidc_issuer: Option<String>,
    /// An accepted audience (client id) of its tokens (repeatable).
    #[arg(long = "oidc-audience")]
    oidc_audience: Vec<String>,
    /// A value of the group claim that makes a person an admin (repeatable).
    #[arg(long = "oidc-admin-group")]
    oidc_admin_group: Vec<String>,
    /// A value of the group claim that makes a person an auditor (repeatable).
    #[arg(long = "oidc-auditor-group")]
    oidc_auditor_group: Vec<String>,
    /// The claim holding the person's groups.
    #[arg(long, default_value = "groups")]
    oidc_group_claim: String,
    /// The claim that names the person: email, name or preferred_username.
    #[arg(long, default_value = "email")]
    oidc_display_claim: String,
    /// The client id the console signs people in as (one of the audiences); none: no
    /// console sign-in with this provider.
    #[arg(long, requires = "oidc_issuer")]
    oidc_console_client: Option<String>,
    /// Create no admin service account and no admin token: the provider's admins are the
    /// organization's only administrators.
    #[arg(long, requires = "oidc_issuer")]
    no_admin_token: bool,
}

impl OidcArgs {
    fn providers(&self) -> anyhow::Result<Vec<IdentityProvider>> {
        let Some(issuer) = &self.oidc_issuer else {
            return Ok(Vec::new());
        };
        let display_claim = match self.oidc_display_claim.as_str() {
            "email" => DisplayClaim::Email,
            "name" => DisplayClaim::Name,
            "preferred_username" => DisplayClaim::PreferredUsername,
            _ => anyhow::bail!("--oidc-display-claim: email, name or preferred_username"),
        };
        if self
            .oidc_audience
            .iter()
            .any(|a| a.is_empty() || a.len() > 256)
        {
            anyhow::bail!("--oidc-audience: 1 to 256 characters");
        }
        if let Some(client) = &self.oidc_console_client
            && !self.oidc_audience.contains(client)
        {
            anyhow::bail!("--oidc-console-client: one of the --oidc-audience values");
        }
        Ok(vec![IdentityProvider {
            issuer: Issuer::parse(issuer).map_err(|e| anyhow::anyhow!("--oidc-issuer: {e}"))?,
            audiences: self.oidc_audience.clone(),
            display_claim,
            roles: RoleMapping::new(
                &self.oidc_group_claim,
                self.oidc_admin_group.clone(),
                self.oidc_auditor_group.clone(),
            )
            .map_err(|e| anyhow::anyhow!("--oidc-admin-group/--oidc-auditor-group: {e}"))?,
            console_client_id: self.oidc_console_client.clone(),
        }])
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { port } => serve(port).await,
        Command::SecretPatterns {
            prefix,
            tool,
            endpoint,
        } => {
            let prefix = prefix
                .or_else(|| env("TOKEN_PREFIX"))
                .unwrap_or_else(|| shared::token::TokenPrefix::DEFAULT.to_owned());
            let prefix = shared::token::TokenPrefix::parse(&prefix)
                .map_err(|error| anyhow::anyhow!("--prefix: {error}"))?;
            let patterns = shared::token::patterns::DetectionPatterns::new(&prefix);
            match tool.as_deref() {
                None => print!(
                    "{}\n{}\n{}",
                    patterns.gitleaks(),
                    patterns.trufflehog(),
                    patterns.github()
                ),
                Some("gitleaks") => print!("{}", patterns.gitleaks()),
                Some("trufflehog") => print!("{}", patterns.trufflehog()),
                Some("github") => print!("{}", patterns.github()),
                Some("github-partner") => print!(
                    "{}",
                    patterns.github_partner_program(
                        endpoint.as_deref().unwrap_or(PARTNER_ENDPOINT_PLACEHOLDER)
                    )
                ),
                Some(_) => {
                    anyhow::bail!("--tool is gitleaks, trufflehog, github or github-partner")
                }
            }
            Ok(())
        }
        Command::CreateTables => {
            let client = infra::operator_dynamodb(&ClientSettings::BACKGROUND).await;
            let table = env("TABLE_NAME").unwrap_or_else(|| DEFAULT_TABLE_NAME.into());
            let audit_table =
                env("AUDIT_TABLE_NAME").unwrap_or_else(|| DEFAULT_AUDIT_TABLE_NAME.into());
            Ok(infra::template::create_tables(&client, &table, &audit_table).await?)
        }
        Command::Bootstrap {
            org,
            name,
            admin_name,
            token_lifetime,
            default_lifetime,
            max_lifetime,
            allow_non_expiring,
            ip_allowlist,
            operator,
            json,
            oidc,
        } => {
            let invalid =
                |flag: &str, error: shared::ParseError| anyhow::anyhow!("{flag}: {error}");
            let org = OrgId::parse(&org).map_err(|e| invalid("--org", e))?;
            let org_name = DisplayName::parse(name.as_deref().unwrap_or(org.as_str()))
                .map_err(|e| invalid("--name", e))?;
            let policy = TokenPolicy::new(
                LifetimePreset::parse(&default_lifetime)
                    .map_err(|e| invalid("--default-lifetime", e))?,
                LifetimePreset::parse(&max_lifetime).map_err(|e| invalid("--max-lifetime", e))?,
                allow_non_expiring,
                IpAllowlist::parse(&ip_allowlist).map_err(|e| invalid("--ip-allowlist", e))?,
            )
            .map_err(|e| invalid("--default-lifetime", e))?;
            let request = BootstrapRequest {
                org,
                org_name,
                policy,
                admin_name: DisplayName::parse(&admin_name)
                    .map_err(|e| invalid("--admin-name", e))?,
                token_lifetime: token_lifetime
                    .map(|preset| {
                        LifetimePreset::parse(&preset).map_err(|e| invalid("--token-lifetime", e))
                    })
                    .transpose()?,
                operator: operator
                    .or_else(|| env("USER"))
                    .unwrap_or_else(|| "operator".into()),
                identity_providers: oidc.providers()?,
            };
            let settings = Settings::from_env()?;
            let client = infra::operator_dynamodb(&ClientSettings::BACKGROUND).await;
            let use_cases = UseCases::new(
                DynamoStore::new(client, &settings.table_name),
                settings.token_format,
            );
            if oidc.no_admin_token {
                let org = match use_cases.bootstrap_without_admin(request).await {
                    Ok(org) => org,
                    Err(BootstrapError::OrgExists(org)) => {
                        anyhow::bail!("organization {org} already exists; nothing was changed")
                    }
                    Err(error) => return Err(error.into()),
                };
                if json {
                    println!("{}", serde_json::json!({"org": org.as_str()}));
                } else {
                    println!(
                        "Created organization {org}, with no admin token: its people sign in with {}.",
                        oidc.oidc_issuer.as_deref().unwrap_or_default()
                    );
                }
                return Ok(());
            }
            let created = match use_cases.bootstrap(request).await {
                Ok(created) => created,
                Err(BootstrapError::OrgExists(org)) => {
                    anyhow::bail!("organization {org} already exists; nothing was changed")
                }
                Err(error) => return Err(error.into()),
            };
            if json {
                let out = serde_json::json!({
                    "org": created.org.as_str(),
                    "serviceAccountId": created.service_account_id.as_str(),
                    "token": created.token.expose_secret(),
                });
                println!("{out}");
            } else {
                println!(
                    "Created organization {} and its admin service account {}.",
                    created.org, created.service_account_id
                );
                match created.expires_at {
                    Some(at) => println!(
                        "Admin token (expires {}); it is shown only this once:",
                        at.format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_else(|_| at.to_string())
                    ),
                    None => println!("Admin token (never expires); it is shown only this once:"),
                }
                println!("{}", created.token.expose_secret());
            }
            Ok(())
        }
    }
}

async fn serve(port: u16) -> anyhow::Result<()> {
    // The audit writer's warnings and errors (a record it gave up on), on stderr.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .try_init();
    let stack = LocalStack::start(port, None, env).await?;
    let (table, audit_table) = (&stack.table, &stack.audit_table);
    println!(
        "DynamoDB Local is running at {} with the tables of infra/template.yaml.",
        stack.endpoint()
    );
    println!("  export AWS_ENDPOINT_URL_DYNAMODB={}", stack.endpoint());
    println!(
        "  export AWS_REGION={} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local",
        infra::local::LOCAL_REGION
    );
    println!("  export TABLE_NAME={table} AUDIT_TABLE_NAME={audit_table}");
    println!("The audit writer follows the stream of {table} into {audit_table}.");
    println!("ready");
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.context("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    println!("stopping DynamoDB Local");
    drop(stack);
    Ok(())
}
