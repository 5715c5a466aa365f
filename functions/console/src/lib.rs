//! The console: web pages where the people of an organization administer it, signed in with
//! its identity provider.
//!
//! Rendered on the server (`maud`), one small script for progressive enhancement (the copy
//! button, local times), no single-page app. The handlers call the use-case layer directly,
//! as the admin API's do, with the person as the caller; request bodies go through the admin
//! API's own validation (its DTOs), so a field is refused here exactly as there, and the
//! error is shown next to it.
//!
//! ```text
//! GET  /console                          choose the organization
//! GET  /console/sign-in?org=             its providers
//! POST /console/sign-in/start            → the provider (code flow, PKCE, state, nonce)
//! GET  /console/callback                 ← the provider: the session starts
//! POST /console/sign-in/token            or an admin token of the organization
//! POST /console/sign-out
//! GET  /console/orgs/{org}/service-accounts[?q=&status=&sort=&page=&from=]  list, create form
//! POST /console/orgs/{org}/service-accounts                  create
//! POST /console/orgs/{org}/service-accounts/disable-selected bulk disable, confirmed
//! GET  /console/orgs/{org}/service-accounts/{id}             detail, tokens, mint form
//! POST .../{id}  .../{id}/disable (confirmed)  .../{id}/enable  .../{id}/delete
//! POST .../{id}/trust-policies  .../{id}/trust-policies/{pid}/delete (confirmed)
//! POST .../{id}/tokens  .../{id}/tokens/revoke-all  .../{id}/tokens/{tid}/revoke|rotate
//! GET  /console/orgs/{org}/service-tokens   POST mint, {tid}/revoke, {tid}/rotate
//! GET  /console/orgs/{org}/tokens[?q=&status=&risk=&role=&sort=&page=]  every token, found
//! GET  /console/orgs/{org}/tokens/new       a new token's secret, once (after a mint's redirect)
//! POST /console/orgs/{org}/tokens/revoke-selected                   bulk revoke, confirmed
//! GET  /console/orgs/{org}/audit            the audit trail, with filters
//! GET  /console/orgs/{org}/audit/export     ?format=csv|jsonl&<filters>: the trail as a download
//! GET  /console/orgs/{org}/settings         POST settings/name, settings/policy, settings/providers, settings/iac
//! ```
//!
//! Every page: `Content-Security-Policy` without inline script, `X-Frame-Options: DENY`,
//! `Referrer-Policy: no-referrer`, `Cache-Control: no-store`. Every form carries the
//! session's CSRF token; a change needs the `admin` role (an auditor sees no change buttons,
//! and a forged post is refused).

pub mod pages;
pub mod parts;
pub mod session;
pub mod signin;
pub mod views;

use std::sync::Arc;

use accounts::AccountsState;
use admin_api::AdminState;
use axum::Router;
use axum::extract::FromRef;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use shared::config::ConfigError;

use crate::session::Sessions;

/// The console's settings.
#[derive(Debug)]
pub struct ConsoleConfig {
    pub sessions: Sessions,
    /// The absolute URL the console is served under, up to and without `/console` (e.g.
    /// `https://admin.example.com`): the providers send people back to
    /// `<this>/console/callback`. `None`: `https://` + the request's `Host` + the API stage,
    /// which is what API Gateway serves (register that callback at the provider).
    pub public_url: Option<String>,
}

impl ConsoleConfig {
    /// The `form-action` of the sign-in page: its form leads, through the console's redirect,
    /// to whichever provider the organization uses, which the page does not name (it looks
    /// the same for every organization). So any `https` origin, and for a run on this machine
    /// (a plain `http` public URL) a provider on this machine too.
    pub fn sign_in_form_action(&self) -> &'static str {
        let local = self
            .public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("http://"));
        if local {
            "form-action 'self' https: http://127.0.0.1:* http://localhost:*"
        } else {
            "form-action 'self' https:"
        }
    }

    /// From `CONSOLE_SESSION_KEY` (at least 64 characters of random text, from the
    /// deployment's secret) and `CONSOLE_PUBLIC_URL` (optional). Cookies are `Secure` unless
    /// the public URL is plain `http` (a local run).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let key = lookup("CONSOLE_SESSION_KEY").unwrap_or_default();
        let public_url = match lookup("CONSOLE_PUBLIC_URL").filter(|url| !url.is_empty()) {
            None => None,
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(_) => {
                return Err(ConfigError {
                    variable: "CONSOLE_PUBLIC_URL",
                    reason: "the absolute URL the console is served under (without /console)"
                        .into(),
                });
            }
        };
        let secure = !public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("http://"));
        let sessions =
            Sessions::new(key.trim().as_bytes(), secure).map_err(|reason| ConfigError {
                variable: "CONSOLE_SESSION_KEY",
                reason,
            })?;
        Ok(Self {
            sessions,
            public_url,
        })
    }

    /// Where the console is served for this request (see [`Self::public_url`]).
    pub fn public_url_for(
        &self,
        meta: &admin_api::meta::RequestMeta,
        headers: &axum::http::HeaderMap,
    ) -> Option<String> {
        if let Some(url) = &self.public_url {
            return Some(url.clone());
        }
        let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
        let valid = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        valid.then(|| format!("https://{host}{}", meta.base_path))
    }
}

/// What the console's handlers need.
#[derive(Debug, Clone)]
pub struct ConsoleState {
    pub accounts: AccountsState,
    pub config: Arc<ConsoleConfig>,
}

impl FromRef<ConsoleState> for AdminState {
    fn from_ref(state: &ConsoleState) -> Self {
        state.accounts.admin.clone()
    }
}

/// The console's routes (`local` merges them with the admin API's).
pub fn routes(state: ConsoleState) -> Router {
    use pages::{accounts as acc, audit, settings, tokens as tok, trust};
    Router::new()
        .route("/console", get(signin::landing))
        .route("/console/", get(signin::landing))
        .route("/console/sign-in", get(signin::providers))
        .route("/console/sign-in/start", post(signin::start))
        .route("/console/sign-in/token", post(signin::token_sign_in))
        .route("/console/callback", get(signin::callback))
        .route("/console/sign-out", post(signin::sign_out))
        .route("/console/assets/console.css", get(stylesheet))
        .route("/console/assets/console.js", get(script))
        .route("/console/orgs/{org}", get(acc::home))
        .route(
            "/console/orgs/{org}/service-accounts",
            get(acc::list).post(acc::create),
        )
        .route(
            "/console/orgs/{org}/service-accounts/disable-selected",
            post(acc::disable_selected),
        )
        .route(
            "/console/orgs/{org}/service-accounts/{id}",
            get(acc::detail).post(acc::edit),
        )
        .route(
            "/console/orgs/{org}/service-accounts/{id}/disable",
            post(acc::disable),
        )
        .route(
            "/console/orgs/{org}/service-accounts/{id}/enable",
            post(acc::enable),
        )
        .route(
            "/console/orgs/{org}/service-accounts/{id}/delete",
            post(acc::delete),
        )
        .route(
            "/console/orgs/{org}/service-accounts/{id}/tokens",
            post(tok::mint_for_account),
        )
        .route(
            "/console/orgs/{org}/service-accounts/{id}/tokens/revoke-all",
            post(tok::revoke_all),
        )
        .route(
            "/console/orgs/{org}/service-accounts/{id}/tokens/{tid}/revoke",
            post(tok::revoke_account_token),
        )
        .route(
            "/console/orgs/{org}/service-accounts/{id}/tokens/{tid}/rotate",
            post(tok::rotate_account_token),
        )
        .route(
            "/console/orgs/{org}/service-accounts/{id}/trust-policies",
            post(trust::add),
        )
        .route(
            "/console/orgs/{org}/service-accounts/{id}/trust-policies/{pid}/delete",
            post(trust::delete),
        )
        .route(
            "/console/orgs/{org}/service-tokens",
            get(tok::org_tokens).post(tok::mint_org_token),
        )
        .route(
            "/console/orgs/{org}/service-tokens/{tid}/revoke",
            post(tok::revoke_org_token),
        )
        .route(
            "/console/orgs/{org}/service-tokens/{tid}/rotate",
            post(tok::rotate_org_token),
        )
        .route("/console/orgs/{org}/tokens", get(tok::all_tokens))
        .route("/console/orgs/{org}/tokens/new", get(tok::new_token))
        .route(
            "/console/orgs/{org}/tokens/revoke-selected",
            post(tok::revoke_selected),
        )
        .route("/console/orgs/{org}/audit", get(audit::trail))
        .route(
            "/console/orgs/{org}/audit/export",
            get(audit::export::export),
        )
        .route("/console/orgs/{org}/settings", get(settings::show))
        .route("/console/orgs/{org}/settings/name", post(settings::name))
        .route(
            "/console/orgs/{org}/settings/policy",
            post(settings::policy),
        )
        .route(
            "/console/orgs/{org}/settings/providers",
            post(settings::providers),
        )
        .route("/console/orgs/{org}/settings/iac", post(settings::iac))
        .with_state(state)
}

/// The function's router: [`routes`] with the admin API's fallbacks and middleware (security
/// headers, request ids, tracing).
pub fn router(state: ConsoleState) -> Router {
    admin_api::layers::finish(routes(state))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/console.css"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/console.js"),
    )
}
