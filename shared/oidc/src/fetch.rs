//! Bounded HTTP GETs of an identity provider's JSON documents: `https` only, one overall
//! timeout for connecting, answering and reading, a size limit on the body, and `200` with JSON
//! or an error that says which.
//!
//! Plain `http` goes to this machine's loopback addresses only, and only when two things hold:
//! the fetcher was made for a run on this machine ([`Fetcher::allowing_local`]: `local` and
//! the tests, never the stack), and the *configured* origin the document serves (an issuer, or
//! the key document's URL the deployment names) is itself plain `http` on loopback. A URL a
//! remote document names (a `jwks_uri`, a token endpoint) never earns plain `http` by pointing
//! at `127.0.0.1`: in Lambda, that address is the Runtime API.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Uri;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

/// Why a document could not be had. Names the URL's host and the cause, never a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("`{0}` is not an https URL (plain http only to a local issuer, on a local run)")]
    NotHttps(String),
    #[error("{url} did not answer within {timeout:?}")]
    TimedOut { url: String, timeout: Duration },
    #[error("{url} could not be reached: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} answered more than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("{url} answered a document that is not the JSON expected: {reason}")]
    Malformed { url: String, reason: String },
}

/// Sent with every request: some publishers (GitHub's API) refuse a request without one.
pub const USER_AGENT: &str = concat!("service-accounts-aws/", env!("CARGO_PKG_VERSION"));

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Where plain `http` may go for one configured origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainHttp {
    /// Nowhere: `https` only.
    Refused,
    /// To this machine's loopback addresses (a local issuer, on a local run).
    Loopback,
}

/// A JSON document as fetched: its value, its size, and how long its publisher says it may be
/// kept (`Cache-Control`).
#[derive(Debug, Clone)]
pub struct Document<T> {
    pub value: T,
    pub bytes: usize,
    /// `max-age`, or zero for `no-cache` / `no-store`; `None` when the answer says nothing.
    pub max_age: Option<Duration>,
}

/// Gets JSON documents with bounds.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// The client, or why there is none (no TLS root certificates on this machine: every
    /// fetch then fails with that reason, and JWTs are refused).
    client: Result<HttpsClient, String>,
    timeout: Duration,
    /// A run on this machine: plain `http` to a loopback origin is allowed.
    local: bool,
}

impl Fetcher {
    /// A fetcher whose every GET, connection included, ends within `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let client = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map(|builder| {
                let connector = builder.https_or_http().enable_http1().build();
                Client::builder(TokioExecutor::new()).build(connector)
            })
            .map_err(|error| format!("no TLS root certificates: {error}"));
        if let Err(reason) = &client {
            tracing::error!(reason, "identity providers cannot be reached");
        }
        Self {
            client,
            timeout,
            local: false,
        }
    }

    /// This fetcher, for a run on this machine (`local`, the tests; `ALLOW_LOCAL_ISSUERS`):
    /// plain `http` to loopback for the documents of an origin configured there. Never in
    /// the stack.
    #[must_use]
    pub fn allowing_local(mut self) -> Self {
        self.local = true;
        self
    }

    /// Whether plain `http` to a loopback origin is allowed at all.
    pub fn allows_local(&self) -> bool {
        self.local
    }

    /// Where plain `http` may go for the documents of `origin`, the configured issuer or key
    /// document URL they serve: to loopback only on a local run and when `origin` itself is
    /// plain `http` on loopback.
    pub fn plain_http_for(&self, origin: &str) -> PlainHttp {
        let loopback = origin
            .parse::<Uri>()
            .ok()
            .filter(|uri| uri.scheme_str() == Some("http"))
            .and_then(|uri| uri.host().map(is_this_machine))
            .unwrap_or(false);
        if self.local && loopback {
            PlainHttp::Loopback
        } else {
            PlainHttp::Refused
        }
    }

    /// `url` as a URI this fetcher may request for a document of `origin` (see
    /// [`Self::plain_http_for`]).
    pub fn check(&self, url: &str, origin: &str) -> Result<Uri, FetchError> {
        checked_uri(url, self.plain_http_for(origin))
    }

    /// `url`'s JSON document, of at most `limit` bytes, for `origin` (the configured issuer
    /// or key document URL it serves).
    pub async fn json<T: DeserializeOwned>(
        &self,
        url: &str,
        origin: &str,
        limit: usize,
    ) -> Result<T, FetchError> {
        self.document(url, origin, limit)
            .await
            .map(|document| document.value)
    }

    /// [`Self::json`], with the document's size and the age its publisher allows.
    pub async fn document<T: DeserializeOwned>(
        &self,
        url: &str,
        origin: &str,
        limit: usize,
    ) -> Result<Document<T>, FetchError> {
        let uri = self.check(url, origin)?;
        match tokio::time::timeout(self.timeout, self.get(uri, url, limit)).await {
            Ok(answer) => {
                let (body, max_age) = answer?;
                let value =
                    serde_json::from_slice(&body).map_err(|error| FetchError::Malformed {
                        url: url.to_owned(),
                        reason: error.to_string(),
                    })?;
                Ok(Document {
                    value,
                    bytes: body.len(),
                    max_age,
                })
            }
            Err(_) => Err(FetchError::TimedOut {
                url: url.to_owned(),
                timeout: self.timeout,
            }),
        }
    }

    /// The JSON answer of at most `limit` bytes to a form POST to `url` (an OAuth 2.0 token
    /// endpoint of `origin`, the configured issuer), within the same timeout.
    pub async fn post_form<T: DeserializeOwned>(
        &self,
        url: &str,
        origin: &str,
        form: String,
        limit: usize,
    ) -> Result<T, FetchError> {
        let uri = self.check(url, origin)?;
        let request = hyper::Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .header("user-agent", USER_AGENT)
            .body(Full::new(Bytes::from(form)))
            .map_err(|error| FetchError::Unreachable {
                url: url.to_owned(),
                reason: error.to_string(),
            })?;
        match tokio::time::timeout(self.timeout, self.send(request, url, limit)).await {
            Ok(answer) => {
                serde_json::from_slice(&answer?.0).map_err(|error| FetchError::Malformed {
                    url: url.to_owned(),
                    reason: error.to_string(),
                })
            }
            Err(_) => Err(FetchError::TimedOut {
                url: url.to_owned(),
                timeout: self.timeout,
            }),
        }
    }

    async fn get(
        &self,
        uri: Uri,
        url: &str,
        limit: usize,
    ) -> Result<(Bytes, Option<Duration>), FetchError> {
        let request = hyper::Request::get(uri)
            .header("user-agent", USER_AGENT)
            .header("accept", "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|error| FetchError::Unreachable {
                url: url.to_owned(),
                reason: error.to_string(),
            })?;
        self.send(request, url, limit).await
    }

    async fn send(
        &self,
        request: hyper::Request<Full<Bytes>>,
        url: &str,
        limit: usize,
    ) -> Result<(Bytes, Option<Duration>), FetchError> {
        let client = self
            .client
            .as_ref()
            .map_err(|reason| FetchError::Unreachable {
                url: url.to_owned(),
                reason: reason.clone(),
            })?;
        let response = client
            .request(request)
            .await
            .map_err(|error| FetchError::Unreachable {
                url: url.to_owned(),
                reason: error.to_string(),
            })?;
        if response.status() != hyper::StatusCode::OK {
            return Err(FetchError::Status {
                url: url.to_owned(),
                status: response.status().as_u16(),
            });
        }
        let max_age = cache_max_age(
            response
                .headers()
                .get_all(hyper::header::CACHE_CONTROL)
                .iter()
                .filter_map(|value| value.to_str().ok()),
        );
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|error| {
                if error.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge {
                        url: url.to_owned(),
                        limit,
                    }
                } else {
                    FetchError::Unreachable {
                        url: url.to_owned(),
                        reason: error.to_string(),
                    }
                }
            })?;
        Ok((body.to_bytes(), max_age))
    }
}

/// How long a response may be kept by its `Cache-Control` values (RFC 9111 §5.2.2):
/// `max-age`, or zero for `no-cache` and `no-store` (the shortest wins when several are
/// given); `None` when they say neither.
pub fn cache_max_age<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Duration> {
    let mut shortest: Option<Duration> = None;
    for directive in values.into_iter().flat_map(|value| value.split(',')) {
        let directive = directive.trim();
        let (name, argument) = match directive.split_once('=') {
            Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
            None => (directive, None),
        };
        let age = if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store")
        {
            Some(Duration::ZERO)
        } else if name.eq_ignore_ascii_case("max-age") {
            argument
                .filter(|seconds| {
                    !seconds.is_empty() && seconds.bytes().all(|b| b.is_ascii_digit())
                })
                // A number too large for `u64` is as good as forever; the caller bounds it.
                .map(|seconds| Duration::from_secs(seconds.parse().unwrap_or(u64::MAX)))
        } else {
            None
        };
        if let Some(age) = age {
            shortest = Some(shortest.map_or(age, |shortest| shortest.min(age)));
        }
    }
    shortest
}

/// `url` as a URI, if it is `https`, or, where `plain_http` allows it, `http` to a loopback
/// address or `localhost`.
pub fn checked_uri(url: &str, plain_http: PlainHttp) -> Result<Uri, FetchError> {
    let not_https = || FetchError::NotHttps(url.to_owned());
    let uri: Uri = url.parse().map_err(|_| not_https())?;
    let host = uri.host().ok_or_else(not_https)?;
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if plain_http == PlainHttp::Loopback && is_this_machine(host) => Ok(uri),
        _ => Err(not_https()),
    }
}

fn is_this_machine(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_http_to_this_machine_is_fetched() {
        for url in [
            "https://login.example.com/.well-known/openid-configuration",
            "http://127.0.0.1:4000/jwks",
            "http://localhost:4000/jwks",
            "http://[::1]:4000/jwks",
        ] {
            assert!(checked_uri(url, PlainHttp::Loopback).is_ok(), "{url}");
        }
        for url in [
            "http://login.example.com/jwks",
            "http://10.0.0.1/jwks",
            "ftp://127.0.0.1/jwks",
            "file:///etc/passwd",
            "not a url",
            "/relative",
        ] {
            assert!(checked_uri(url, PlainHttp::Loopback).is_err(), "{url}");
        }
    }

    #[test]
    fn plain_http_to_loopback_needs_a_local_run_and_a_loopback_origin() {
        let deployed = Fetcher::new(Duration::from_secs(1));
        let local = Fetcher::new(Duration::from_secs(1)).allowing_local();
        let runtime_api = "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next";
        // In the stack: never, whatever the origin.
        for origin in ["http://127.0.0.1:4000", "https://login.example.com"] {
            assert_eq!(deployed.plain_http_for(origin), PlainHttp::Refused);
            assert!(deployed.check(runtime_api, origin).is_err(), "{origin}");
        }
        // On a local run: for a loopback issuer's documents only, never because a remote
        // issuer's document names a loopback URL.
        assert_eq!(
            local.plain_http_for("http://127.0.0.1:4000"),
            PlainHttp::Loopback
        );
        assert_eq!(
            local.plain_http_for("http://[::1]:4000"),
            PlainHttp::Loopback
        );
        assert!(local.check(runtime_api, "http://localhost:4000").is_ok());
        for origin in [
            "https://login.example.com",
            "https://127.0.0.1:4000",
            "http://login.example.com",
            "not a url",
        ] {
            assert_eq!(local.plain_http_for(origin), PlainHttp::Refused, "{origin}");
            assert!(local.check(runtime_api, origin).is_err(), "{origin}");
        }
        assert!(
            local
                .check(
                    "https://login.example.com/jwks",
                    "https://login.example.com"
                )
                .is_ok()
        );
    }

    #[test]
    fn cache_control_gives_the_shortest_age_it_states() {
        let age = |values: &[&str]| cache_max_age(values.iter().copied());
        assert_eq!(age(&[]), None);
        assert_eq!(age(&["public"]), None);
        assert_eq!(
            age(&["public, max-age=300"]),
            Some(Duration::from_secs(300))
        );
        assert_eq!(age(&["Max-Age=\"60\""]), Some(Duration::from_secs(60)));
        assert_eq!(
            age(&["max-age=600, must-revalidate", "max-age=120"]),
            Some(Duration::from_secs(120))
        );
        assert_eq!(age(&["max-age=600, no-cache"]), Some(Duration::ZERO));
        assert_eq!(age(&["no-store"]), Some(Duration::ZERO));
        assert_eq!(age(&["max-age=-5", "max-age=", "max-age=1e3"]), None);
        assert_eq!(
            age(&["max-age=99999999999999999999999"]),
            Some(Duration::from_secs(u64::MAX))
        );
        // A shared cache's directive is not ours.
        assert_eq!(age(&["s-maxage=10"]), None);
    }
}
