//! The whole system as `local` serves it (the admin API, the console under `/console`, the
//! protected routes behind the real authorizer) on a real port, over DynamoDB Local, with the
//! real OpenID Provider as the organization's provider: for the console's browser tests.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use authorizer::{Authorizer, AuthorizerConfig};
use bytes::Bytes;
use console::ConsoleConfig;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::admin::AdminWorld;
use crate::events::{ApiCall, Shape};
use crate::oidc_provider::LocalProvider;

/// The system, served.
#[derive(Debug)]
pub struct ConsoleWorld {
    pub world: AdminWorld,
    pub provider: LocalProvider,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ConsoleWorld {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl ConsoleWorld {
    pub async fn start() -> anyhow::Result<Self> {
        let world = AdminWorld::new().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let provider =
            LocalProvider::start_with_console(Some(&format!("{base}/console/callback")))?;
        let configured = world
            .accounts(
                ApiCall::new(Shape::HttpV2, "PATCH", "/v1/orgs/acme")
                    .bearer(&world.acme.token)
                    .json(json!({"identityProviders": [{
                        "issuer": provider.issuer,
                        "audiences": ["service-accounts-admin", "service-accounts-console"],
                        "consoleClientId": "service-accounts-console",
                        "displayClaim": "email",
                        "roles": {"claim": "groups", "admin": ["sa-admins"], "auditor": ["sa-auditors"]},
                    }]})),
            )
            .await;
        anyhow::ensure!(
            configured.status == 200,
            "configuring: {:?}",
            configured.body
        );
        let authorizer = Arc::new(Authorizer::with_clock(
            world
                .iam
                .store(&world.context.store, crate::iam::Function::Authorizer),
            AuthorizerConfig::from_lookup(crate::test_token_format(), |_| None)?,
            world.clock.clone(),
        ));
        let key = shared::random::base62_string(86)?;
        let config = Arc::new(ConsoleConfig::from_lookup(|name| match name {
            "CONSOLE_SESSION_KEY" => Some(key.clone()),
            "CONSOLE_PUBLIC_URL" => Some(base.clone()),
            _ => None,
        })?);
        // The listener serves the console's pages (the test reaches the admin API through
        // `world`), so its calls are judged as the console's.
        let app = local::app_with_console(
            world.accounts_state_as(crate::iam::Function::Console),
            world.admin_state(),
            authorizer,
            config,
            None,
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Ok(Self {
            world,
            provider,
            base,
            server,
        })
    }

    /// The system's clock set to now: before a sign-in, as the provider's tokens carry the
    /// real time.
    pub fn sync_clock(&self) {
        self.world.clock.set(time::OffsetDateTime::now_utc());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to the system, as a client other than the browser.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> anyhow::Result<Answer> {
        let mut request = hyper::Request::builder().method(method).uri(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        let response = client
            .request(request)
            .await
            .context("calling the system")?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}
