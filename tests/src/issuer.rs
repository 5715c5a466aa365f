//! A test identity provider: a real discovery document and JWKS served over HTTP on a free
//! port, with switchable misbehaviour, whose tokens the test signs with the fixture keys of
//! `tests/fixtures/oidc/` (RSA and P-256) through `jsonwebtoken`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oidc::Provider;
use serde_json::{Value, json};
use time::OffsetDateTime;

pub const AUDIENCE: &str = "service-accounts-admin";

pub fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/oidc")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn public_jwk(kid: &str) -> Value {
    let set: Value = serde_json::from_slice(&fixture("jwks.json")).unwrap();
    set[kid].clone()
}

/// How the provider answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Serve,
    Slow,
    Oversized,
    Malformed,
    Failing,
    /// The discovery document names another issuer.
    OtherIssuer,
}

#[derive(Debug)]
pub struct Idp {
    pub issuer: String,
    keys: Mutex<Vec<Value>>,
    mode: Mutex<Mode>,
    /// The `Cache-Control` of the JWKS answer, if any.
    cache_control: Mutex<Option<String>>,
    pub discovery_fetches: AtomicUsize,
    pub jwks_fetches: AtomicUsize,
}

impl Idp {
    pub async fn start(kids: &[&str]) -> Arc<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let idp = Arc::new(Self {
            issuer: format!("http://{}", listener.local_addr().unwrap()),
            keys: Mutex::new(kids.iter().map(|kid| public_jwk(kid)).collect()),
            mode: Mutex::new(Mode::Serve),
            cache_control: Mutex::new(None),
            discovery_fetches: AtomicUsize::new(0),
            jwks_fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(idp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        idp
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// The JWKS answer's `Cache-Control` from now on (`None`: no such header).
    pub fn set_cache_control(&self, value: Option<&str>) {
        *self.cache_control.lock().unwrap() = value.map(str::to_owned);
    }

    pub fn publish(&self, kids: &[&str]) {
        *self.keys.lock().unwrap() = kids.iter().map(|kid| public_jwk(kid)).collect();
    }

    pub fn provider(&self) -> Provider {
        Provider {
            issuer: self.issuer.clone(),
            audiences: vec![AUDIENCE.to_owned()],
        }
    }

    /// Claims of a fresh token of this provider for `sub`.
    pub fn claims(&self, sub: &str) -> Value {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        json!({"iss": self.issuer, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600,
               "email": format!("{sub}@example.com"), "groups": ["sa-admins"]})
    }

    async fn misbehave(&self) -> Option<Response> {
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Serve | Mode::OtherIssuer => None,
            Mode::Slow => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                None
            }
            Mode::Oversized => {
                Some(format!("{{\"pad\": \"{}\"}}", "x".repeat(200_000)).into_response())
            }
            Mode::Malformed => Some("<html>not json</html>".into_response()),
            Mode::Failing => Some(axum::http::StatusCode::BAD_GATEWAY.into_response()),
        }
    }
}

async fn discovery(State(idp): State<Arc<Idp>>) -> Response {
    idp.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = idp.misbehave().await {
        return response;
    }
    let issuer = if *idp.mode.lock().unwrap() == Mode::OtherIssuer {
        "https://evil.example.com".to_owned()
    } else {
        idp.issuer.clone()
    };
    axum::Json(json!({"issuer": issuer, "jwks_uri": format!("{}/jwks", idp.issuer)}))
        .into_response()
}

async fn jwks(State(idp): State<Arc<Idp>>) -> Response {
    idp.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if let Some(response) = idp.misbehave().await {
        return response;
    }
    let keys = idp.keys.lock().unwrap().clone();
    let mut response = axum::Json(json!({ "keys": keys })).into_response();
    if let Some(value) = idp.cache_control.lock().unwrap().as_deref() {
        response.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_str(value).unwrap(),
        );
    }
    response
}

pub fn sign(kid: &str, alg: Algorithm, claims: &Value) -> String {
    sign_typed(kid, alg, "JWT", claims)
}

/// [`sign`], with `typ` in the header (`at+jwt` for an RFC 9068 access token).
pub fn sign_typed(kid: &str, alg: Algorithm, typ: &str, claims: &Value) -> String {
    let pem = fixture(&format!("{kid}.pem"));
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem).unwrap(),
        _ => EncodingKey::from_rsa_pem(&pem).unwrap(),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header.typ = Some(typ.to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

pub fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}
