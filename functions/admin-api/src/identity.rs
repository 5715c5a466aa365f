//! Who is calling the admin API, and whether they may administer the organization in the path.
//!
//! The caller is found in this order:
//!
//! 1. the context our authorizer attached, **only** when the deployment says its admin routes
//!    sit behind our authorizer (`AUTHORIZER_API_IDS`) and the request came through one of
//!    those APIs;
//! 2. an `Authorization: Bearer` token, verified here with the same domain code the
//!    authorizer uses, so a deployment behind a function URL, with no authorizer, is as safe;
//! 3. the API Gateway (or function URL) IAM identity, **only** when the deployment lets IAM
//!    principals administer (`ADMIN_IAM_PRINCIPALS`) and the request came through one of the
//!    APIs or function URLs it names for that (`IAM_API_IDS`).
//!
//! A Lambda function can be invoked directly by anyone allowed `lambda:InvokeFunction`, with
//! an event of their own making: an authorizer context or an IAM identity in an event is a
//! claim, not a proof. So neither is read unless the deployment uses it, and only from the
//! `requestContext.apiId` it expects; otherwise only a bearer token counts. (A direct invoker
//! who copies a trusted API id is still trusted: the template's IAM guidance limits
//! `lambda:InvokeFunction` on these functions to function-URL calls.)
//!
//! A bearer credential that is a JWT is a person's access token from an identity provider
//! ([`crate::people`]): it is verified against the providers of the organization in the path,
//! and only those (so a provider configured for one organization can never grant anything in
//! another), and the provider's role mapping makes the person an `admin` or an `auditor` of
//! that organization. Behind an HTTP API JWT authorizer (`JWT_AUTHORIZER_API_IDS`, and only
//! from those APIs), the claims the gateway verified stand for the token, and the same
//! organization rules and role mapping apply to them ([`oidc::gateway`]).
//!
//! No identity is `401`. A token of another organization is `404` (another organization's ids
//! do not exist for it); a token of the organization without the `admin` role is `403`; a
//! person whose provider maps them to no role is `403`, an auditor asking for a change `403`.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use shared::authn::{Denial, Principal, Unauthenticated};
use shared::config::ConfigError;
use shared::ids::OrgId;
use shared::model::Organization;
use usecases::verify::VerifyError;
use usecases::{Caller, Identity};

use crate::AdminState;
use crate::extract::path_param;
use crate::meta::RequestMeta;
pub use crate::people::admit_person;
use crate::people::{PersonProof, resolve_person};
use crate::problem::ApiError;

/// The IAM principals allowed to administer every organization: exact ARNs, or prefixes
/// written with a trailing `*`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IamAdmins(Vec<String>);

impl IamAdmins {
    pub fn parse(value: &str) -> Result<Self, String> {
        let entries: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::to_owned)
            .collect();
        for entry in &entries {
            if !entry.starts_with("arn:") || entry.trim_end_matches('*').contains('*') {
                return Err("each entry is an IAM ARN, optionally ending with `*`".into());
            }
        }
        Ok(Self(entries))
    }

    /// Whether `arn` is listed. A trailing `*` matches whole path segments only: `role/ops*`
    /// matches `role/ops` and `role/ops/deploy`, never `role/ops-intern`; `assumed-role/admin/*`
    /// matches every session of that role.
    pub fn allows(&self, arn: &str) -> bool {
        self.0.iter().any(|entry| match entry.strip_suffix('*') {
            Some(prefix) if prefix.ends_with('/') => arn.starts_with(prefix),
            Some(prefix) => {
                arn == prefix
                    || arn
                        .strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            None => arn == entry,
        })
    }

    pub fn is_enabled(&self) -> bool {
        !self.0.is_empty()
    }
}

/// Which identity claims in an event the deployment trusts, and from which APIs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentitySources {
    /// The API Gateway API ids whose requests reach this function through our authorizer
    /// (`AUTHORIZER_API_IDS`); empty: an authorizer context is never read.
    pub authorizer_api_ids: Vec<String>,
    /// The HTTP API ids whose admin routes sit behind an API Gateway JWT authorizer
    /// (`JWT_AUTHORIZER_API_IDS`); empty: the claims in an event are never read.
    pub jwt_authorizer_api_ids: Vec<String>,
    /// Who may administer through IAM (`ADMIN_IAM_PRINCIPALS`).
    pub iam_admins: IamAdmins,
    /// The API or function URL ids whose IAM identity is read (`IAM_API_IDS`).
    pub iam_api_ids: Vec<String>,
}

impl IdentitySources {
    /// Reads the four variables; IAM administration needs both of its variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let ids = |variable: &'static str| -> Result<Vec<String>, ConfigError> {
            let ids: Vec<String> = lookup(variable)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect();
            let well_formed =
                |id: &String| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
            if ids.iter().all(well_formed) {
                Ok(ids)
            } else {
                Err(ConfigError {
                    variable,
                    reason: "a comma-separated list of API or function URL ids".into(),
                })
            }
        };
        let iam_admins = IamAdmins::parse(lookup("ADMIN_IAM_PRINCIPALS").as_deref().unwrap_or(""))
            .map_err(|reason| ConfigError {
                variable: "ADMIN_IAM_PRINCIPALS",
                reason,
            })?;
        let sources = Self {
            authorizer_api_ids: ids("AUTHORIZER_API_IDS")?,
            jwt_authorizer_api_ids: ids("JWT_AUTHORIZER_API_IDS")?,
            iam_admins,
            iam_api_ids: ids("IAM_API_IDS")?,
        };
        if sources.iam_admins.is_enabled() == sources.iam_api_ids.is_empty() {
            return Err(ConfigError {
                variable: "IAM_API_IDS",
                reason: "IAM administration needs both ADMIN_IAM_PRINCIPALS and IAM_API_IDS \
                         (the ids of the APIs or function URLs that authenticate with IAM)"
                    .into(),
            });
        }
        Ok(sources)
    }

    pub fn trusts_authorizer_of(&self, api_id: Option<&str>) -> bool {
        api_id.is_some_and(|id| self.authorizer_api_ids.iter().any(|trusted| trusted == id))
    }

    pub fn trusts_jwt_authorizer_of(&self, api_id: Option<&str>) -> bool {
        api_id.is_some_and(|id| {
            self.jwt_authorizer_api_ids
                .iter()
                .any(|trusted| trusted == id)
        })
    }

    pub fn trusts_iam_of(&self, api_id: Option<&str>) -> bool {
        self.iam_admins.is_enabled()
            && api_id.is_some_and(|id| self.iam_api_ids.iter().any(|trusted| trusted == id))
    }
}

/// Finds the caller of a request, or refuses it (see the module's order).
pub async fn resolve_caller(
    state: &AdminState,
    meta: &RequestMeta,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let sources = &state.identity;
    let api_id = meta.api_id.as_deref();
    let caller = |identity| {
        Caller::new(
            identity,
            meta.source_ip,
            meta.user_agent.as_deref(),
            meta.request_id.as_deref(),
        )
    };
    if sources.trusts_authorizer_of(api_id) {
        match Principal::from_context(|key| meta.authorizer.get(key).cloned()) {
            Ok(Some(principal)) => return Ok(caller(Identity::Token(principal))),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "malformed authorizer context");
                return Err(ApiError::Unauthenticated);
            }
        }
    } else if !meta.authorizer.is_empty() {
        tracing::warn!(
            api_id,
            "ignored an authorizer context from an API this deployment does not put behind its authorizer"
        );
    }

    let authorization = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    match state
        .verifier
        .verify_header(authorization, meta.source_ip)
        .await
    {
        Ok(verified) => {
            state.verifier.note_use(&verified).await;
            return Ok(caller(Identity::Token(verified.principal)));
        }
        // No bearer token (none, or another scheme such as IAM's SigV4): IAM may still count.
        Err(VerifyError::Denied(Denial::Unauthenticated(Unauthenticated::NoCredential))) => {}
        Err(VerifyError::Denied(denial)) => return Err(denial.into()),
        Err(VerifyError::Unavailable(error)) => return Err(error.into()),
    }

    match &meta.iam_arn {
        Some(arn) if sources.trusts_iam_of(api_id) => {
            if sources.iam_admins.allows(arn) {
                return Ok(caller(Identity::Iam(arn.clone())));
            }
            tracing::info!(arn, "IAM principal not allowed to administer");
            Err(ApiError::Forbidden(
                "this IAM principal may not administer organizations",
            ))
        }
        Some(_) => {
            tracing::warn!(
                api_id,
                "ignored an IAM identity from an API not trusted for IAM administration"
            );
            Err(ApiError::Unauthenticated)
        }
        None => Err(ApiError::Unauthenticated),
    }
}

/// An authenticated caller, as an extractor.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl<S> FromRequestParts<S> for Authenticated
where
    AdminState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AdminState::from_ref(state);
        let Ok(meta) = RequestMeta::from_request_parts(parts, &()).await;
        resolve_caller(&state, &meta, &parts.headers)
            .await
            .map(Self)
    }
}

/// The caller of a request to the organization in the path, and that organization's id: a
/// person's JWT, verified against the organization's providers, or any other identity.
async fn org_caller<S>(parts: &mut Parts, state: &S) -> Result<(Caller, OrgId), ApiError>
where
    AdminState: FromRef<S>,
    S: Send + Sync,
{
    let admin_state = AdminState::from_ref(state);
    let Ok(meta) = RequestMeta::from_request_parts(parts, &()).await;
    if let Some(proof) = PersonProof::of(&admin_state.identity, &meta, &parts.headers) {
        let org = path_org(parts).await?;
        let caller = resolve_person(&admin_state, &meta, &proof, &org).await?;
        return Ok((caller, org));
    }
    let Authenticated(caller) = Authenticated::from_request_parts(parts, state).await?;
    Ok((caller, path_org(parts).await?))
}

async fn path_org(parts: &mut Parts) -> Result<OrgId, ApiError> {
    let org = path_param(parts, "org").await?;
    OrgId::parse(&org)
        .map_err(|error| ApiError::bad_request("invalid-parameter", format!("`org`: {error}")))
}

/// An admin of the organization in the path (`{org}`), with that organization as stored.
/// Checked in this order: a caller (401), the organization id's shape (400), the caller
/// administers it (404 for another organization's principal, 403 for a non-admin or an
/// auditor), and it exists (404).
#[derive(Debug, Clone)]
pub struct OrgAdmin {
    pub caller: Caller,
    pub org: Organization,
}

impl<S> FromRequestParts<S> for OrgAdmin
where
    AdminState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let (caller, org) = org_caller(parts, state).await?;
        caller.require_admin(&org)?;
        let org = AdminState::from_ref(state).use_cases.org(&org).await?;
        Ok(Self { caller, org })
    }
}

/// Someone who may read the organization in the path: its admins and its auditors (people an
/// identity provider maps to `auditor`), checked as [`OrgAdmin`].
#[derive(Debug, Clone)]
pub struct OrgReader {
    pub caller: Caller,
    pub org: Organization,
}

impl<S> FromRequestParts<S> for OrgReader
where
    AdminState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let (caller, org) = org_caller(parts, state).await?;
        caller.require_reader(&org)?;
        let org = AdminState::from_ref(state).use_cases.org(&org).await?;
        Ok(Self { caller, org })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_admins_match_exact_arns_and_prefixes() {
        let admins = IamAdmins::parse(
            "arn:aws:iam::111122223333:role/ops, arn:aws:sts::111122223333:assumed-role/admin/*",
        )
        .unwrap();
        assert!(admins.allows("arn:aws:iam::111122223333:role/ops"));
        assert!(!admins.allows("arn:aws:iam::111122223333:role/ops2"));
        assert!(admins.allows("arn:aws:sts::111122223333:assumed-role/admin/alice"));
        assert!(!admins.allows("arn:aws:sts::111122223333:assumed-role/reader/alice"));
        // A prefix matches whole path segments, never the start of a longer name.
        let ops = IamAdmins::parse("arn:aws:iam::111122223333:role/ops*").unwrap();
        assert!(ops.allows("arn:aws:iam::111122223333:role/ops"));
        assert!(ops.allows("arn:aws:iam::111122223333:role/ops/deploy"));
        assert!(!ops.allows("arn:aws:iam::111122223333:role/ops-intern"));
        assert!(!ops.allows("arn:aws:iam::111122223333:role/opsx"));
        assert!(!IamAdmins::parse("").unwrap().is_enabled());
        assert!(IamAdmins::parse("ops").is_err());
        assert!(IamAdmins::parse("arn:aws:iam::*:role/x").is_err());
    }

    #[test]
    fn iam_administration_needs_the_principals_and_the_apis() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            IdentitySources::from_lookup(|_| None).unwrap(),
            IdentitySources::default()
        );
        const PRINCIPALS: &[(&str, &str)] = &[("ADMIN_IAM_PRINCIPALS", "arn:aws:iam::1:role/a")];
        assert!(IdentitySources::from_lookup(lookup(PRINCIPALS)).is_err());
        assert!(IdentitySources::from_lookup(lookup(&[("IAM_API_IDS", "abc")])).is_err());
        const BOTH: &[(&str, &str)] = &[
            ("ADMIN_IAM_PRINCIPALS", "arn:aws:iam::1:role/a"),
            ("IAM_API_IDS", "abc, def"),
        ];
        let sources = IdentitySources::from_lookup(lookup(BOTH)).unwrap();
        assert!(sources.trusts_iam_of(Some("def")));
        assert!(!sources.trusts_iam_of(Some("xyz")));
        assert!(!sources.trusts_iam_of(None));
        assert!(IdentitySources::from_lookup(lookup(&[("AUTHORIZER_API_IDS", "a b")])).is_err());
        let jwt =
            IdentitySources::from_lookup(lookup(&[("JWT_AUTHORIZER_API_IDS", "h1")])).unwrap();
        assert!(jwt.trusts_jwt_authorizer_of(Some("h1")));
        assert!(!jwt.trusts_jwt_authorizer_of(Some("h2")));
        assert!(!jwt.trusts_jwt_authorizer_of(None));
        assert!(!jwt.trusts_authorizer_of(Some("h1")));
        assert!(
            IdentitySources::from_lookup(lookup(&[("JWT_AUTHORIZER_API_IDS", "h-1")])).is_err()
        );
    }
}
