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
pub use crate::sources::{IamAdmins, IdentitySources};

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
