//! A local AWS Lambda Runtime API, enough to run a function binary exactly as Lambda does:
//! the binary starts with `AWS_LAMBDA_RUNTIME_API` pointing here, long-polls
//! `/invocation/next`, and posts its response or error back.
//!
//! Tests use it to prove that each function binary starts, reads its configuration and
//! answers; later, to measure start-up and first-request latency.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc, oneshot};

/// What a function answered to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    Error(Value),
}

#[derive(Default)]
struct Shared {
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// When the function first asked for an invocation: its initialization was done.
    first_poll: std::sync::Mutex<Option<std::time::Instant>>,
}

/// The function ARN an invocation names when the test names none.
pub const LOCAL_FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:local";

/// One invocation: its request id, its event, and the function (or alias) ARN it names.
type Invocation = (String, Value, String);

struct ApiState {
    next: Mutex<mpsc::Receiver<Invocation>>,
    shared: Arc<Shared>,
}

/// A function binary running against a local Runtime API. The process is killed on drop.
#[derive(Debug)]
pub struct LocalFunction {
    /// When the process was spawned.
    pub started_at: std::time::Instant,
    child: Child,
    events: mpsc::Sender<Invocation>,
    shared: Arc<SharedHandle>,
    invocations: u64,
}

/// Keeps `Shared` out of `Debug` output.
struct SharedHandle(Arc<Shared>);

impl std::fmt::Debug for SharedHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared")
    }
}

impl LocalFunction {
    /// Starts the workspace binary `name` (built by `cargo build --workspace`) with `env`.
    pub async fn start(name: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        Self::start_binary(&workspace_binary(name)?, name, env).await
    }

    /// Starts the function binary at `binary` with `env`.
    pub async fn start_binary(
        binary: &std::path::Path,
        name: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let (events, next) = mpsc::channel(16);
        let shared = Arc::new(Shared::default());
        let state = Arc::new(ApiState {
            next: Mutex::new(next),
            shared: shared.clone(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(invocation_response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(invocation_error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });

        let started_at = std::time::Instant::now();
        // Killed on drop, and by the kernel should its parent (the test's thread) end first.
        let child = Command::from(infra::process::ended_with_parent(binary))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self {
            started_at,
            child,
            events,
            shared: Arc::new(SharedHandle(shared)),
            invocations: 0,
        })
    }

    /// The process's peak resident set so far (`VmHWM` in `/proc/<pid>/status`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.child.id().context("the function has ended")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in the process's status")
    }

    /// How long the function took from spawn to its first request for work (its init), once
    /// it has asked.
    pub async fn init_duration(&self) -> anyhow::Result<std::time::Duration> {
        for _ in 0..3000 {
            if let Some(first) = *self
                .shared
                .0
                .first_poll
                .lock()
                .map_err(|_| anyhow!("poisoned"))?
            {
                return Ok(first - self.started_at);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        bail!("the function did not finish initializing within 6 s")
    }

    /// Sends one event and waits for the function's answer.
    pub async fn invoke(&mut self, event: Value) -> anyhow::Result<Outcome> {
        self.invoke_as(event, LOCAL_FUNCTION_ARN).await
    }

    /// [`Self::invoke`] as an invocation of `function_arn` (an alias, say), which the Runtime
    /// API names in `Lambda-Runtime-Invoked-Function-Arn`.
    pub async fn invoke_as(&mut self, event: Value, function_arn: &str) -> anyhow::Result<Outcome> {
        self.invocations += 1;
        let id = format!("local-request-{}", self.invocations);
        let (answer, answered) = oneshot::channel();
        self.shared
            .0
            .pending
            .lock()
            .await
            .insert(id.clone(), answer);
        self.events
            .send((id, event, function_arn.to_owned()))
            .await
            .map_err(|_| anyhow!("the runtime API stopped"))?;
        tokio::select! {
            outcome = answered => outcome.context("the invocation was dropped"),
            status = self.child.wait() => bail!("the function exited before answering: {:?}", status?),
            () = tokio::time::sleep(Duration::from_secs(60)) => bail!("no answer within 60 s"),
        }
    }
}

async fn next_invocation(State(state): State<Arc<ApiState>>) -> (StatusCode, HeaderMap, String) {
    if let Ok(mut first) = state.shared.first_poll.lock() {
        first.get_or_insert_with(std::time::Instant::now);
    }
    let Some((id, event, function_arn)) = state.next.lock().await.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|now| now.as_millis() + 30_000)
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set("lambda-runtime-invoked-function-arn", function_arn);
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000".into(),
    );
    (StatusCode::OK, headers, event.to_string())
}

async fn invocation_response(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answer(&state, &id, Outcome::Response(parse(&body))).await
}

async fn invocation_error(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answer(&state, &id, Outcome::Error(parse(&body))).await
}

async fn init_error(body: Bytes) -> StatusCode {
    eprintln!("function init error: {}", String::from_utf8_lossy(&body));
    StatusCode::ACCEPTED
}

async fn answer(state: &ApiState, id: &str, outcome: Outcome) -> StatusCode {
    match state.shared.pending.lock().await.remove(id) {
        Some(waiting) => {
            let _ = waiting.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

fn parse(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into()))
}

/// The path of a workspace binary built in the same profile as the running test.
pub fn workspace_binary(name: &str) -> anyhow::Result<PathBuf> {
    // Test binaries live in `target/<profile>/deps/`; workspace binaries in `target/<profile>/`.
    let test_binary = std::env::current_exe()?;
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .context("locating the target directory")?;
    let binary = profile_dir.join(name);
    if binary.is_file() {
        Ok(binary)
    } else {
        bail!(
            "{} is not built: run `cargo build --workspace` before the tests (scripts/test does)",
            binary.display()
        )
    }
}
