//! The HTTP edge shared by the admin functions (`accounts`, `tokens`): what each of their
//! `axum` routers needs beside its handlers.
//!
//! * [`lambda`]: the Lambda entry, turning every API Gateway and function URL event shape into
//!   a plain request (stage prefix, request context);
//! * [`meta`]: the request's envelope (source address, API id, authorizer context, IAM), from
//!   Lambda or from a local listener;
//! * [`identity`]: the caller, through the one verification path, and the extractor for "an
//!   admin of the organization in the path"; [`people`]: a person's access token or the
//!   gateway's claims of it;
//! * [`extract`]: JSON bodies, `If-Match`, path parameters and list queries with the
//!   bad-input rules;
//! * [`problem`]: every refusal as an RFC 9457 problem document;
//! * [`response`]: JSON answers with `ETag`, `Location` and `Cache-Control: no-store`;
//! * [`layers`]: 404 and 405 as problem documents, request ids, tracing, security headers.
//!
//! Handlers stay parse → use case → render.

pub mod extract;
pub mod identity;
pub mod lambda;
pub mod layers;
pub mod meta;
pub mod people;
pub mod problem;
pub mod response;
pub mod sources;

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use oidc::OidcVerifier;
use oidc::fetch::Fetcher;
use oidc::keys::KeyCache;
use oidc::secret_scanning::{REFRESH_INTERVAL, ReportKeys};

use shared::config::ConfigError;
use usecases::UseCases;
use usecases::verify::{CacheSettings, Verifier};

use crate::sources::IdentitySources;

/// The longest a fetch of a remote document (an identity provider's keys, GitHub's) takes.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// Everything an admin handler needs, built once per cold start and shared by every request.
#[derive(Debug, Clone)]
pub struct AdminState(Arc<AdminParts>);

#[derive(Debug)]
pub struct AdminParts {
    pub use_cases: UseCases,
    /// The one verification path. The admin functions keep no positive cache: a revocation
    /// applies to the very next admin request.
    pub verifier: Verifier,
    /// Which identity claims of an event (authorizer context, IAM) are trusted, from where.
    pub identity: IdentitySources,
    /// OpenID Connect tokens: people's, verified against the identity providers of the
    /// organization in the path, and workloads', against their account's trust policies.
    /// One key cache for both.
    pub oidc: OidcVerifier,
    /// The keys GitHub signs its secret-scanning reports with.
    pub report_keys: ReportKeys,
}

impl Deref for AdminState {
    type Target = AdminParts;

    fn deref(&self) -> &AdminParts {
        &self.0
    }
}

impl AdminState {
    /// The state as deployed: identity providers' and GitHub's documents over `https` only.
    pub fn new(use_cases: UseCases, identity: IdentitySources) -> Self {
        let fetcher = Fetcher::new(FETCH_TIMEOUT);
        let report_keys = ReportKeys::github(fetcher.clone());
        Self::build(use_cases, identity, fetcher, report_keys)
    }

    /// The state of a run on this machine (`local`, the tests): an identity provider or
    /// workload issuer that is itself plain `http` on loopback is fetched there
    /// ([`Fetcher::allowing_local`]). Never in the stack.
    pub fn for_local_run(use_cases: UseCases, identity: IdentitySources) -> Self {
        let fetcher = Fetcher::new(FETCH_TIMEOUT).allowing_local();
        let report_keys = ReportKeys::github(fetcher.clone());
        Self::build(use_cases, identity, fetcher, report_keys)
    }

    /// As [`Self::new`], with secret-scanning reports checked against `report_keys`.
    pub fn with_report_keys(
        use_cases: UseCases,
        identity: IdentitySources,
        report_keys: ReportKeys,
    ) -> Self {
        Self::build(
            use_cases,
            identity,
            Fetcher::new(FETCH_TIMEOUT),
            report_keys,
        )
    }

    /// The state, with `fetcher` (one HTTP client per cold start) for the providers' keys.
    fn build(
        use_cases: UseCases,
        identity: IdentitySources,
        fetcher: Fetcher,
        report_keys: ReportKeys,
    ) -> Self {
        let verifier = use_cases.verifier(CacheSettings::ADMIN);
        let oidc = OidcVerifier::new(KeyCache::new(fetcher, Duration::from_secs(30)));
        Self(Arc::new(AdminParts {
            use_cases,
            verifier,
            identity,
            oidc,
            report_keys,
        }))
    }

    /// The admin functions' state around `use_cases` (built by the function's start-up, see
    /// [`UseCases::from_lookup`]), with settings read through `lookup`: the identity sources'
    /// ([`IdentitySources::from_lookup`]), `GITHUB_SECRET_SCANNING_KEYS_URL`, where GitHub's
    /// secret-scanning keys are published (default
    /// [`oidc::secret_scanning::GITHUB_KEYS_URL`]), and `ALLOW_LOCAL_ISSUERS` (`true`: a run
    /// on this machine, see [`Self::for_local_run`]; anything else: `https` only).
    pub fn from_lookup(
        use_cases: UseCases,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let identity = IdentitySources::from_lookup(&lookup)?;
        let fetcher = match lookup("ALLOW_LOCAL_ISSUERS").as_deref() {
            None | Some("false") => Fetcher::new(FETCH_TIMEOUT),
            Some("true") => Fetcher::new(FETCH_TIMEOUT).allowing_local(),
            Some(_) => {
                return Err(ConfigError {
                    variable: "ALLOW_LOCAL_ISSUERS",
                    reason: "`true` (a run on this machine) or `false`".into(),
                });
            }
        };
        let report_keys = match lookup("GITHUB_SECRET_SCANNING_KEYS_URL") {
            None => ReportKeys::github(fetcher.clone()),
            Some(url) => {
                ReportKeys::new(fetcher.clone(), &url, REFRESH_INTERVAL).map_err(|error| {
                    ConfigError {
                        variable: "GITHUB_SECRET_SCANNING_KEYS_URL",
                        reason: error.to_string(),
                    }
                })?
            }
        };
        Ok(Self::build(use_cases, identity, fetcher, report_keys))
    }
}
