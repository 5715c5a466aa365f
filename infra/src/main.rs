//! `infra`: local infrastructure from the template.
//!
//! ```text
//! infra serve [--port N]   start DynamoDB Local (default port 8000, 0: any free port) with the template's
//!                          tables, print how to reach it, and run until Ctrl-C
//! infra create-tables      create the template's tables at the endpoint that the standard
//!                          AWS variables name (AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, ...)
//! ```
//!
//! Table names come from `TABLE_NAME` and `AUDIT_TABLE_NAME` (defaults `service-accounts` and
//! `service-accounts-audit`).

use anyhow::{Context, bail};
use aws_sdk_dynamodb::Client;
use infra::local::{DynamoDbLocal, client_for};
use infra::template::{AUDIT_TABLE, MAIN_TABLE, Template};
use infra::{DEFAULT_AUDIT_TABLE_NAME, DEFAULT_TABLE_NAME};
use tokio::signal::unix::{SignalKind, signal};

const USAGE: &str = "usage: infra serve [--port N] | infra create-tables";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve"] => serve(8000).await,
        ["serve", "--port", port] => serve(port.parse().context("--port takes a number")?).await,
        ["create-tables"] => {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            create_tables(&Client::new(&config)).await.map(drop)
        }
        _ => bail!(USAGE),
    }
}

async fn serve(port: u16) -> anyhow::Result<()> {
    let server = if port == 0 {
        DynamoDbLocal::start_on_free_port()?
    } else {
        DynamoDbLocal::start(port)?
    };
    let client = client_for(server.endpoint()).await;
    let (table, audit_table) = create_tables(&client).await?;
    println!(
        "DynamoDB Local is running at {} with the tables of infra/template.yaml.",
        server.endpoint()
    );
    println!("  export AWS_ENDPOINT_URL_DYNAMODB={}", server.endpoint());
    println!(
        "  export AWS_REGION={} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local",
        infra::local::LOCAL_REGION
    );
    println!("  export TABLE_NAME={table} AUDIT_TABLE_NAME={audit_table}");
    println!("ready");
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.context("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    println!("stopping DynamoDB Local");
    drop(server);
    Ok(())
}

async fn create_tables(client: &Client) -> anyhow::Result<(String, String)> {
    let template = Template::load_default()?;
    let table = std::env::var("TABLE_NAME").unwrap_or_else(|_| DEFAULT_TABLE_NAME.into());
    let audit_table =
        std::env::var("AUDIT_TABLE_NAME").unwrap_or_else(|_| DEFAULT_AUDIT_TABLE_NAME.into());
    template.table(MAIN_TABLE)?.create(client, &table).await?;
    template
        .table(AUDIT_TABLE)?
        .create(client, &audit_table)
        .await?;
    Ok((table, audit_table))
}
