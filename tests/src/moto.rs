//! moto in server mode (installed by `scripts/setup` into `.local/moto-venv`): local AWS
//! services the tests need beside DynamoDB Local (EventBridge and SQS here), on a free port,
//! stopped when dropped. The venv's Python (with boto3, PyYAML and jsonschema) runs the
//! tests' probes in `tests/scripts/`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// The repository's root.
pub fn repository() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn venv_bin(name: &str) -> PathBuf {
    repository().join(".local/moto-venv/bin").join(name)
}

/// The Python of moto's venv.
pub fn python() -> PathBuf {
    venv_bin("python")
}

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    pub endpoint: String,
    _child: tokio::process::Child,
}

impl Moto {
    pub async fn start() -> anyhow::Result<Self> {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            listener.local_addr()?.port()
        };
        let server = venv_bin("moto_server");
        anyhow::ensure!(
            server.exists(),
            "{} is missing: run scripts/setup",
            server.display()
        );
        let child = tokio::process::Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let endpoint = format!("http://127.0.0.1:{port}");
        for _ in 0..300 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(Self {
                    endpoint,
                    _child: child,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("moto did not start on port {port}")
    }
}
