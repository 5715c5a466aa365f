//! The answer to CloudFormation: one PUT of the response body to the request's pre-signed
//! `ResponseURL`, with an empty content type (the URL is signed for one), within a timeout,
//! tried again with backoff when S3 asks for it (a `500` or `503`) or the connection fails.
//!
//! The URL is checked before anything is sent: `https` to an Amazon S3 host (CloudFormation's
//! response buckets), or plain `http` to this machine (the local listener). So a forged request
//! cannot make the provider send its answers elsewhere. The URL's query is a signature: logs
//! and errors name the host only.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Why the answer could not be delivered. Names the host, never the signed URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespondError {
    #[error("the ResponseURL is not an https URL of Amazon S3 (or http to this machine): {0}")]
    Refused(String),
    #[error("{host} did not take the response: {reason}")]
    Failed { host: String, reason: String },
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Sends responses to CloudFormation.
#[derive(Debug, Clone)]
pub struct Responder {
    client: Result<HttpsClient, String>,
    timeout: Duration,
    /// Whether plain http to this machine is allowed (the local listener; never in Lambda,
    /// where it would reach the Runtime API).
    allow_local: bool,
}

impl Responder {
    /// How many times one answer is PUT at most.
    pub const ATTEMPTS: u32 = 5;
    /// The wait before the second attempt; each later one waits twice as long.
    const FIRST_BACKOFF: Duration = Duration::from_millis(200);

    /// A responder to CloudFormation's response buckets only.
    pub fn new(timeout: Duration) -> Self {
        Self::with_local(timeout, false)
    }

    /// With `allow_local`, also to a listener on this machine (`local`, the tests).
    pub fn with_local(timeout: Duration, allow_local: bool) -> Self {
        let client = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map(|builder| {
                let connector = builder.https_or_http().enable_http1().build();
                Client::builder(TokioExecutor::new()).build(connector)
            })
            .map_err(|error| format!("no TLS root certificates: {error}"));
        Self {
            client,
            timeout,
            allow_local,
        }
    }

    /// PUTs `body` to `url`; a 2xx answer is success. S3 asks clients to retry a `500` or
    /// `503` (`InternalError`, `Slow Down`), and a connection can fail: those are tried again
    /// with backoff, at most [`Self::ATTEMPTS`] times and within the responder's timeout in
    /// all. Any other answer (a `403` for an expired signature, say) is final. The first
    /// 2xx ends it, so CloudFormation accepts exactly one answer.
    pub async fn put(&self, url: &str, body: String) -> Result<(), RespondError> {
        let uri = checked(url, self.allow_local)?;
        let host = uri.host().unwrap_or_default().to_owned();
        let failed = |reason: String| RespondError::Failed {
            host: host.clone(),
            reason,
        };
        let client = self
            .client
            .as_ref()
            .map_err(|reason| failed(reason.clone()))?;
        let body = Bytes::from(body);
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut backoff = Self::FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let request = hyper::Request::put(uri.clone())
                .header("content-type", "")
                .header("content-length", body.len())
                .body(Full::new(body.clone()))
                .map_err(|error| failed(error.to_string()))?;
            let outcome = tokio::time::timeout_at(deadline, async {
                let response = client
                    .request(request)
                    .await
                    .map_err(|error| Attempt::Retry(failed(error.to_string())))?;
                let status = response.status();
                // Read (and drop) the answer, so the connection can be reused.
                let _ = response.into_body().collect().await;
                match status.as_u16() {
                    200..=299 => Ok(()),
                    500 | 502 | 503 | 504 => {
                        Err(Attempt::Retry(failed(format!("HTTP {}", status.as_u16()))))
                    }
                    other => Err(Attempt::Final(failed(format!("HTTP {other}")))),
                }
            })
            .await;
            let error = match outcome {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(Attempt::Final(error))) => return Err(error),
                Ok(Err(Attempt::Retry(error))) => error,
                Err(_) => return Err(failed(format!("no answer within {:?}", self.timeout))),
            };
            if attempt >= Self::ATTEMPTS || tokio::time::Instant::now() + backoff >= deadline {
                return Err(error);
            }
            tracing::warn!(%error, attempt, "the response was not taken; trying again");
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }
}

/// How one PUT ended, when not with a 2xx.
enum Attempt {
    /// A connection failure or a 5xx S3 asks to retry.
    Retry(RespondError),
    /// An answer no retry changes.
    Final(RespondError),
}

/// The buckets CloudFormation's response URLs name: `cloudformation-custom-resource-response-
/// <region without dashes>` on an S3 endpoint.
const RESPONSE_BUCKET: &str = "cloudformation-custom-resource-response-";

/// Whether `host` is CloudFormation's response bucket on an S3 endpoint (virtual-hosted:
/// `<bucket>.s3.amazonaws.com`, `<bucket>.s3.<region>.amazonaws.com`,
/// `<bucket>.s3-<region>.amazonaws.com`, and `.com.cn`).
fn is_response_bucket(host: &str) -> bool {
    let Some((bucket, endpoint)) = host.split_once('.') else {
        return false;
    };
    let region_ok = bucket.strip_prefix(RESPONSE_BUCKET).is_some_and(|region| {
        !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    let Some(region) = endpoint
        .strip_suffix(".amazonaws.com")
        .or_else(|| endpoint.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let s3_ok = region == "s3"
        || region
            .strip_prefix("s3.")
            .or_else(|| region.strip_prefix("s3-"))
            .is_some_and(|name| {
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
    region_ok && s3_ok
}

/// `url` if it is https to CloudFormation's response bucket, or (with `allow_local`) http to
/// this machine.
fn checked(url: &str, allow_local: bool) -> Result<Uri, RespondError> {
    let refused = |why: &str| RespondError::Refused(why.to_owned());
    let uri: Uri = url.parse().map_err(|_| refused("not a URL"))?;
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let local = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]" | "::1");
    match uri.scheme_str() {
        Some("https") if is_response_bucket(&host) => Ok(uri),
        Some("http" | "https") if local && allow_local => Ok(uri),
        _ => Err(refused(&host)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cloudformations_response_buckets_or_with_leave_this_machine() {
        for ok in [
            "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/x?Signature=y",
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "https://cloudformation-custom-resource-response-useast1.s3-us-east-1.amazonaws.com/x",
            "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x",
        ] {
            assert!(checked(ok, false).is_ok(), "{ok}");
        }
        for local in [
            "http://127.0.0.1:4000/responses/1",
            "http://localhost:4000/",
        ] {
            assert!(checked(local, true).is_ok(), "{local}");
            assert!(checked(local, false).is_err(), "{local}");
        }
        for bad in [
            "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "https://s3.amazonaws.com/x",
            "https://my-bucket.s3.eu-west-1.amazonaws.com/x",
            "https://abc.execute-api.eu-west-1.amazonaws.com/x",
            "https://cloudformation-custom-resource-response-useast1.evil.example/x",
            "https://cloudformation-custom-resource-response-use-ast1.s3.amazonaws.com/x",
            "https://example.com/x",
            "http://169.254.169.254/latest/meta-data",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(checked(bad, true).is_err(), "{bad}");
        }
    }
}
