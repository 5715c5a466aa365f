//! The answer to CloudFormation: one PUT of the response body to the request's pre-signed
//! `ResponseURL`, with an empty content type (the URL is signed for one), within a timeout.
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
}

impl Responder {
    pub fn new(timeout: Duration) -> Self {
        let client = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map(|builder| {
                let connector = builder.https_or_http().enable_http1().build();
                Client::builder(TokioExecutor::new()).build(connector)
            })
            .map_err(|error| format!("no TLS root certificates: {error}"));
        Self { client, timeout }
    }

    /// PUTs `body` to `url`; a 2xx answer is success.
    pub async fn put(&self, url: &str, body: String) -> Result<(), RespondError> {
        let uri = checked(url)?;
        let host = uri.host().unwrap_or_default().to_owned();
        let failed = |reason: String| RespondError::Failed {
            host: host.clone(),
            reason,
        };
        let client = self
            .client
            .as_ref()
            .map_err(|reason| failed(reason.clone()))?;
        let request = hyper::Request::put(uri.clone())
            .header("content-type", "")
            .header("content-length", body.len())
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| failed(error.to_string()))?;
        let answer = tokio::time::timeout(self.timeout, async {
            let response = client
                .request(request)
                .await
                .map_err(|error| failed(error.to_string()))?;
            let status = response.status();
            // Read (and drop) the answer, so the connection can be reused.
            let _ = response.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(failed(format!("HTTP {}", status.as_u16())))
            }
        })
        .await;
        answer.unwrap_or_else(|_| Err(failed(format!("no answer within {:?}", self.timeout))))
    }
}

/// `url` if it is https to an Amazon S3 host, or http to this machine.
fn checked(url: &str) -> Result<Uri, RespondError> {
    let refused = |why: &str| RespondError::Refused(why.to_owned());
    let uri: Uri = url.parse().map_err(|_| refused("not a URL"))?;
    let host = uri.host().unwrap_or_default().to_ascii_lowercase();
    let local = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]" | "::1");
    match uri.scheme_str() {
        Some("https")
            if host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn") =>
        {
            Ok(uri)
        }
        Some("http" | "https") if local => Ok(uri),
        _ => Err(refused(&host)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_s3_over_https_or_this_machine() {
        for ok in [
            "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/x?Signature=y",
            "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/x",
            "http://127.0.0.1:4000/responses/1",
            "http://localhost:4000/",
        ] {
            assert!(checked(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://s3.amazonaws.com/x",
            "https://example.com/x",
            "https://amazonaws.com.evil.example/x",
            "http://169.254.169.254/latest/meta-data",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(checked(bad).is_err(), "{bad}");
        }
    }
}
