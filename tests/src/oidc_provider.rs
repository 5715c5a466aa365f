//! A real OpenID Provider for the tests: `tools/oidc-provider/provider.mjs` (the certified
//! `oidc-provider` package, installed by `scripts/setup`) on a free port, signing with a fixture
//! key. Dropping it stops the process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use anyhow::{Context, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[derive(Debug)]
pub struct LocalProvider {
    pub issuer: String,
    child: Child,
}

impl Drop for LocalProvider {
    fn drop(&mut self) {
        // Closing the lifeline stops the provider (infra::process); it also closes when this
        // process dies without dropping anything.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

impl LocalProvider {
    /// Starts the provider, signing with the fixture key `rsa-1`.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with_console(None)
    }

    /// Starts the provider with the console's client, which it sends back to
    /// `console_callback` (its login page takes `ada`, `grace` or `eve`, any password).
    pub fn start_with_console(console_callback: Option<&str>) -> anyhow::Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut child = infra::process::guarded("node")
            .arg(root.join("tools/oidc-provider/provider.mjs"))
            .arg(port.to_string())
            .arg(root.join("tests/fixtures/oidc/rsa-1.pem"))
            .env(
                "CONSOLE_REDIRECT_URIS",
                console_callback.unwrap_or_default(),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting node (scripts/setup installs it and the provider)")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut line)?;
        // Whatever it prints later is read and dropped: a closed pipe would end it (EPIPE).
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let issuer = line
            .trim()
            .strip_prefix("ready ")
            .ok_or_else(|| anyhow!("the provider did not start: {line:?}"))?
            .to_owned();
        Ok(Self { issuer, child })
    }

    /// A JWT access token for the demo person `name` (`ada`: admin group, `grace`: auditor
    /// group), from the provider's token endpoint.
    pub async fn token_for(&self, name: &str) -> anyhow::Result<String> {
        let form = format!(
            "grant_type=client_credentials&client_id={name}&client_secret={name}-secret&resource=urn:service-accounts"
        );
        let request = hyper::Request::post(format!("{}/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(form)))?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        let response = client.request(request).await?;
        let body = response.into_body().collect().await?.to_bytes();
        let answer: serde_json::Value = serde_json::from_slice(&body)?;
        answer["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no access token: {answer}"))
    }
}
