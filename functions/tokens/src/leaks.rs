//! Leak response on the wire: GitHub's secret-scanning partner endpoint and the public
//! revocation endpoint, both open at the gateway. The rules are [`usecases::leaks`]'s.
//!
//! * `POST /v1/secret-scanning/github`: at most [`MAX_REPORT_BYTES`] (413), JSON (415), a
//!   valid signature by one of GitHub's published keys over the raw body (401, or 503 when the
//!   keys cannot be had), then a JSON array of at most [`MAX_REPORTS`] reports
//!   `{token, type, url, source}` (400 / 422). The answer is GitHub's feedback format, one
//!   entry per report: `{token_hash, token_type, label}` with `label` `true_positive` for a
//!   token of this deployment (revoked now, or already) and `false_positive` otherwise. The
//!   token is named by its SHA-256 (`token_hash`), never echoed back.
//! * `POST /v1/tokens/revoke`: `{"tokens": [...]}`, 1 to [`MAX_PUBLIC_TOKENS`] of at most
//!   [`MAX_PUBLIC_TOKEN_CHARS`] characters, under the admin API's body rules but for a limit
//!   of [`MAX_PUBLIC_BYTES`] (a hundred of the longest tokens fit); counted against the sender's rate limit (429 with `Retry-After`);
//!   every token of this deployment among them is revoked, and the answer, `202`, is the same
//!   whatever they were.
//!
//! Nothing is read or written for a refused request.

use admin_api::AdminState;
use admin_api::extract::{json_body, media_type};
use admin_api::meta::RequestMeta;
use admin_api::problem::ApiError;
use admin_api::response::json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use oidc::secret_scanning::SignatureError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::model::Actor;
use shared::token::TokenSecret;
use usecases::leaks::{Sighting, Verdict};

/// The largest report body read.
pub const MAX_REPORT_BYTES: usize = 512 * 1024;
/// The most reports one request may carry.
pub const MAX_REPORTS: usize = 1000;
/// The most tokens one public revocation request may carry.
pub const MAX_PUBLIC_TOKENS: usize = 100;
/// The longest text the public endpoint takes as a token (the longest token is 187).
pub const MAX_PUBLIC_TOKEN_CHARS: usize = 256;
/// The largest public revocation body.
pub const MAX_PUBLIC_BYTES: usize = 32 * 1024;

/// One token GitHub found, as it reports it. Fields GitHub may add later are ignored. Not
/// `Debug`: it holds a token.
#[derive(Deserialize)]
struct GithubReport {
    token: String,
    #[serde(rename = "type")]
    token_type: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

/// GitHub's feedback on one report.
#[derive(Debug, Serialize)]
struct GithubLabel {
    token_hash: String,
    token_type: String,
    label: &'static str,
}

/// A public revocation request. Its `Debug` shows how many tokens, never one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicRevocation {
    tokens: Vec<String>,
}

impl std::fmt::Debug for PublicRevocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicRevocation")
            .field("tokens", &format_args!("[{} tokens]", self.tokens.len()))
            .finish()
    }
}

#[derive(Debug, Serialize)]
struct Received {
    message: &'static str,
}

type Reply = Result<Response, ApiError>;

/// `POST /v1/secret-scanning/github`.
pub async fn github(State(state): State<AdminState>, meta: RequestMeta, request: Request) -> Reply {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let body = axum::body::to_bytes(body, MAX_REPORT_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(MAX_REPORT_BYTES))?;
    if media_type(&headers).as_deref() != Some("application/json") {
        return Err(ApiError::UnsupportedMediaType);
    }
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    match state
        .report_keys
        .verify(
            header("github-public-key-identifier"),
            header("github-public-key-signature"),
            &body,
        )
        .await
    {
        Ok(()) => {}
        Err(SignatureError::Unavailable(error)) => {
            tracing::warn!(%error, "a secret-scanning report could not be checked");
            return Err(ApiError::SignerUnavailable);
        }
        Err(error) => {
            tracing::info!(%error, "refused a secret-scanning report");
            return Err(ApiError::InvalidSignature);
        }
    }
    // The parser's message can quote the body (a token): it is not passed on.
    let reports: Vec<GithubReport> = serde_json::from_slice(&body).map_err(|_| {
        ApiError::bad_request(
            "malformed-body",
            "the body must be a JSON array of {token, type, url, source} reports",
        )
    })?;
    if reports.len() > MAX_REPORTS {
        return Err(ApiError::invalid(
            "reports",
            format!("at most {MAX_REPORTS} reports per request"),
        ));
    }
    let reporter = reporter("github", &meta);
    let mut labels = Vec::with_capacity(reports.len());
    let mut wanted = Vec::with_capacity(reports.len());
    for report in reports {
        labels.push(GithubLabel {
            token_hash: hex::encode(Sha256::digest(report.token.as_bytes())),
            token_type: report.token_type,
            label: "false_positive",
        });
        wanted.push((
            TokenSecret::new(report.token),
            Sighting {
                source: report.source,
                url: report.url,
            },
        ));
    }
    let verdicts = state.use_cases.report_leaks(&reporter, wanted).await?;
    for (label, verdict) in labels.iter_mut().zip(verdicts) {
        if verdict == Verdict::Ours {
            label.label = "true_positive";
        }
    }
    json(StatusCode::OK, &labels)
}

/// `POST /v1/tokens/revoke`.
pub async fn public(State(state): State<AdminState>, meta: RequestMeta, request: Request) -> Reply {
    let body: PublicRevocation = json_body(request, MAX_PUBLIC_BYTES).await?;
    if body.tokens.is_empty() || body.tokens.len() > MAX_PUBLIC_TOKENS {
        return Err(ApiError::invalid(
            "tokens",
            format!("1 to {MAX_PUBLIC_TOKENS} tokens"),
        ));
    }
    if let Some(index) = body
        .tokens
        .iter()
        .position(|token| token.chars().count() > MAX_PUBLIC_TOKEN_CHARS)
    {
        return Err(ApiError::invalid(
            format!("tokens[{index}]"),
            format!("at most {MAX_PUBLIC_TOKEN_CHARS} characters"),
        ));
    }
    let reporter = reporter("public", &meta);
    let texts = body.tokens.into_iter().map(TokenSecret::new).collect();
    state
        .use_cases
        .revoke_reported_publicly(&reporter, meta.source_ip, texts)
        .await?;
    json(
        StatusCode::ACCEPTED,
        &Received {
            message: "every valid token among those submitted is revoked",
        },
    )
}

/// The reporter, with the request's envelope.
fn reporter(id: &str, meta: &RequestMeta) -> Actor {
    Actor::secret_scanning(id).with_request(
        meta.source_ip,
        meta.user_agent.as_deref(),
        meta.request_id.as_deref(),
    )
}
