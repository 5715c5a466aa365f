//! `local`: the whole system on one machine, at one base URL, until Ctrl-C.
//!
//! DynamoDB Local with the tables of `infra/template.yaml`, a demo organization bootstrapped
//! with an admin token, the audit writer following the table's stream, and the functions'
//! routers behind one HTTP listener (see the library for the routing).
//!
//! Here is the start-up order; the parts are beside it: the command line ([`cli`]), the
//! functions' wiring ([`functions`]), the local OpenID Provider ([`identity_provider`]), the
//! demo organization ([`demo`]), the printed banner ([`banner`]) and the serving ([`serve`]).

mod banner;
mod cli;
mod demo;
mod functions;
mod identity_provider;
mod serve;

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::Context;
use axum::middleware;
use clap::Parser;
use infra::local::LocalStack;
use shared::config::env;
use shared::ids::OrgId;

use banner::Banner;
use cli::Cli;
use functions::Functions;

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
    let Functions {
        admin,
        accounts,
        authorizer,
    } = functions::build(&stack, cli.data_dir.as_deref()).await?;

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, cli.port))
        .await
        .with_context(|| format!("listening on port {}", cli.port))?;
    let base = format!("http://{}", listener.local_addr()?);

    // A real OpenID Provider for people: the demo organization's identity provider, which
    // also signs people in to the console (sent back to its callback on this listener).
    let people = identity_provider::start(&format!("{base}/console/callback")).await?;
    // With kept data, the demo organization exists from an earlier run: its admin token is
    // the one that run printed.
    let created = demo::bootstrap(
        &admin.use_cases,
        &org,
        &people.issuer,
        cli.data_dir.is_some(),
    )
    .await?;
    // Service accounts as code: Secrets Manager from moto, the provider and the rotation
    // function, and the demo organization letting the local account's stacks manage it.
    let replay = match functions::start_replay(&admin.use_cases, &base).await {
        Ok(replay) => {
            demo::allow_local_stacks(&admin.use_cases, &org).await?;
            Some(replay)
        }
        Err(error) => {
            eprintln!("Service accounts as code are off: {error:#}");
            None
        }
    };
    let console = functions::console(&base)?;

    Banner {
        base: &base,
        org: &org,
        stack: &stack,
        data_dir: cli.data_dir.as_deref(),
        created: created.as_ref(),
        issuer: &people.issuer,
        replay: replay.as_ref(),
        lifecycle_interval: cli.lifecycle_interval,
    }
    .print();

    let lifecycle = functions::lifecycle(&admin.use_cases, cli.lifecycle_interval);
    let (replay, moto) = match replay {
        Some((replay, moto)) => (Some(replay), Some(moto)),
        None => (None, None),
    };
    let app = local::app_with_console(accounts, admin, authorizer, console, replay)
        .layer(middleware::from_fn(serve::log_line));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(serve::stopped())
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
