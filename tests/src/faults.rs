//! A fault proxy between the SDK and DynamoDB Local: an HTTP/1.1 server that forwards each
//! DynamoDB call (named by its `X-Amz-Target`) to the real endpoint, or injects a fault into
//! the calls a [`Rule`] selects:
//!
//! * [`Fault::Latency`]: the call is forwarded after a delay;
//! * [`Fault::Stall`]: the call is never forwarded nor answered (until the rule changes, when
//!   its connection is closed), as when DynamoDB Local is paused with `kill -STOP`;
//! * [`Fault::Reset`]: the connection is closed without an answer (nothing forwarded);
//! * [`Fault::LoseAnswer`]: the call is forwarded (DynamoDB does it) and then the connection
//!   is closed without its answer, as when a connection breaks on the way back;
//! * [`Fault::ServerError`]: HTTP 500 with DynamoDB's `InternalServerError` body;
//! * [`Fault::Throttle`]: HTTP 400 with DynamoDB's `ProvisionedThroughputExceededException`.
//!
//! [`refused_endpoint`] is an endpoint where nothing listens (connections refused).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::watch;

/// What happens to a selected call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Latency(Duration),
    Stall,
    Reset,
    LoseAnswer,
    ServerError,
    Throttle,
}

/// Which calls get a fault: those of `operations` (every operation when empty), after the
/// first `skip` of them went through, `percent` of them: spread evenly (every other call for
/// 50), or, when `seed` is set, chosen by a pseudo-random sequence from that seed (the same
/// on every run, but with no period a retry could fall into).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub fault: Fault,
    pub operations: Vec<&'static str>,
    pub skip: usize,
    pub percent: u32,
    pub seed: Option<u64>,
    /// At most this many faults.
    pub limit: Option<usize>,
}

impl Rule {
    /// `fault` on every call.
    pub fn all(fault: Fault) -> Self {
        Self {
            fault,
            operations: Vec::new(),
            skip: 0,
            percent: 100,
            seed: None,
            limit: None,
        }
    }

    /// `fault` on every call of `operations`.
    pub fn on(fault: Fault, operations: &[&'static str]) -> Self {
        Self {
            operations: operations.to_vec(),
            ..Self::all(fault)
        }
    }

    /// Lets the first `calls` selected calls through.
    pub fn after(mut self, calls: usize) -> Self {
        self.skip = calls;
        self
    }

    /// At most `faults` faults, then every call goes through.
    pub fn times(mut self, faults: usize) -> Self {
        self.limit = Some(faults);
        self
    }

    /// Faults `percent` of the selected calls, evenly spread.
    pub fn share(mut self, percent: u32) -> Self {
        self.percent = percent.min(100);
        self
    }

    /// Faults `percent` of the selected calls, chosen pseudo-randomly from `seed`.
    pub fn share_at_random(mut self, percent: u32, seed: u64) -> Self {
        self.percent = percent.min(100);
        self.seed = Some(seed);
        self
    }

    fn selects(&self, operation: &str) -> bool {
        self.operations.is_empty() || self.operations.contains(&operation)
    }
}

/// What the proxy saw.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Calls forwarded to DynamoDB, by operation.
    pub forwarded: BTreeMap<String, usize>,
    /// Calls given a fault, by operation.
    pub faulted: BTreeMap<String, usize>,
}

impl Seen {
    /// Forwarded calls of `operations`.
    pub fn forwarded_of(&self, operations: &[&str]) -> usize {
        operations
            .iter()
            .map(|op| self.forwarded.get(*op).copied().unwrap_or(0))
            .sum()
    }

    pub fn faulted_total(&self) -> usize {
        self.faulted.values().sum()
    }
}

/// The DynamoDB operations that write.
pub const WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
];

#[derive(Debug, Default)]
struct State {
    rule: Option<Rule>,
    /// Selected calls since the rule was set, and faults made.
    selected: usize,
    faults: usize,
    seen: Seen,
}

/// A running proxy; dropping it stops it.
#[derive(Debug)]
pub struct FaultProxy {
    endpoint: String,
    state: Arc<Mutex<State>>,
    generation: watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        // Releases stalled calls.
        self.generation.send_modify(|generation| *generation += 1);
    }
}

impl FaultProxy {
    /// A proxy to `upstream` (`http://host:port`), forwarding everything until told otherwise.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State::default()));
        let (generation, _) = watch::channel(0_u64);
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            state: state.clone(),
            generation: generation.clone(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let shared = shared.clone();
                        async move { shared.handle(request).await }
                    });
                    // A reset ends the connection with an error: nothing to report.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            endpoint,
            state,
            generation,
            task,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Applies `rule` from the next call on (stalled calls of an earlier rule are released,
    /// with their connections closed).
    pub fn set(&self, rule: Rule) {
        self.replace(Some(rule));
    }

    /// Forwards everything again.
    pub fn clear(&self) {
        self.replace(None);
    }

    fn replace(&self, rule: Option<Rule>) {
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.rule = rule;
            state.selected = 0;
            state.faults = 0;
        }
        self.generation.send_modify(|generation| *generation += 1);
    }

    /// What the proxy saw so far.
    pub fn seen(&self) -> Seen {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seen
            .clone()
    }

    /// Forgets what it saw.
    pub fn reset_seen(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).seen = Seen::default();
    }
}

/// An endpoint where nothing listens: every connection is refused.
pub fn refused_endpoint() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{address}"))
}

#[derive(Clone)]
struct Shared {
    upstream: String,
    state: Arc<Mutex<State>>,
    generation: watch::Sender<u64>,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// Closes the connection without an answer.
#[derive(Debug)]
struct ConnectionReset;

impl std::fmt::Display for ConnectionReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by the fault proxy")
    }
}

impl std::error::Error for ConnectionReset {}

type Answer = Result<Response<Full<Bytes>>, ConnectionReset>;

impl Shared {
    /// The fault for a call of `operation`, counting it.
    fn decide(&self, operation: &str) -> Option<Fault> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let fault = match &state.rule {
            Some(rule) if rule.selects(operation) => {
                let rule = rule.clone();
                let n = state.selected;
                state.selected += 1;
                let chosen =
                    n >= rule.skip && rule.limit.is_none_or(|limit| state.faults < limit) && {
                        let k = n - rule.skip;
                        let p = rule.percent as usize;
                        match rule.seed {
                            None => (k + 1) * p / 100 > k * p / 100,
                            Some(seed) => pseudo_random(seed, k) % 100 < p,
                        }
                    };
                state.faults += usize::from(chosen);
                chosen.then_some(rule.fault)
            }
            _ => None,
        };
        let (forwarded, faulted) = match fault {
            Some(Fault::Latency(_)) | None => (true, false),
            Some(Fault::LoseAnswer) => (true, true),
            Some(_) => (false, true),
        };
        if forwarded {
            *state
                .seen
                .forwarded
                .entry(operation.to_owned())
                .or_default() += 1;
        }
        if faulted {
            *state.seen.faulted.entry(operation.to_owned()).or_default() += 1;
        }
        fault
    }

    async fn handle(&self, request: Request<Incoming>) -> Answer {
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|_| ConnectionReset)?
            .to_bytes();
        let fault = self.decide(&operation);
        match fault {
            None | Some(Fault::LoseAnswer) => {}
            Some(Fault::Latency(delay)) => tokio::time::sleep(delay).await,
            Some(Fault::Stall) => {
                let mut changed = self.generation.subscribe();
                let _ = changed.changed().await;
                return Err(ConnectionReset);
            }
            Some(Fault::Reset) => return Err(ConnectionReset),
            Some(Fault::ServerError) => {
                return Ok(dynamodb_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "com.amazonaws.dynamodb.v20120810#InternalServerError",
                    "Internal server error",
                ));
            }
            Some(Fault::Throttle) => {
                return Ok(dynamodb_error(
                    StatusCode::BAD_REQUEST,
                    "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                    "The level of configured provisioned throughput for the table was exceeded.",
                ));
            }
        }
        let mut forward = Request::builder().method(parts.method).uri(format!(
            "{}{}",
            self.upstream,
            parts.uri.path()
        ));
        for (name, value) in &parts.headers {
            forward = forward.header(name, value);
        }
        let forward = forward.body(Full::new(body)).map_err(|_| ConnectionReset)?;
        let answer = self
            .client
            .request(forward)
            .await
            .map_err(|_| ConnectionReset)?;
        let (parts, body) = answer.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|_| ConnectionReset)?
            .to_bytes();
        if fault == Some(Fault::LoseAnswer) {
            return Err(ConnectionReset);
        }
        Ok(Response::from_parts(parts, Full::new(body)))
    }
}

/// The `k`-th number of the sequence from `seed` (SplitMix64).
fn pseudo_random(seed: u64, k: usize) -> usize {
    let mut z = seed.wrapping_add((k as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    usize::try_from((z ^ (z >> 31)) % 1_000_003).unwrap_or(0)
}

fn dynamodb_error(status: StatusCode, kind: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"__type": kind, "message": message}).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    response
}
