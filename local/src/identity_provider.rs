//! The local OpenID Provider for people (`tools/oidc-provider`, a node script): started on a
//! free port for this run, stopped when `local` stops.

use std::net::Ipv4Addr;

use anyhow::Context;

/// The local OpenID Provider (`tools/oidc-provider`), stopped when dropped.
pub(crate) struct LocalIdentityProvider {
    pub(crate) issuer: String,
    _child: tokio::process::Child,
    /// Dropping it (or `local` ending, however) stops the provider ([`infra::process`]).
    _lifeline: Option<tokio::process::ChildStdin>,
}

/// Starts `tools/oidc-provider/provider.mjs` (installed by `scripts/setup`) on a free port.
pub(crate) async fn start(console_callback: &str) -> anyhow::Result<LocalIdentityProvider> {
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
