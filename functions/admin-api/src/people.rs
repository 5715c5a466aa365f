//! People as callers of the admin API: a `Bearer` JWT from one of the organization's identity
//! providers, or the claims an HTTP API JWT authorizer of this deployment verified, made into
//! a person with a role in the organization in the path.
//!
//! A bearer JWT must be an **access token**: it is verified against the provider's API
//! audiences (its audiences but the console's client), and one that also names the console's
//! client must say in its header that it is one (`typ: at+jwt`, RFC 9068). The console's ID
//! token serves the console's sign-in alone ([`oidc::access_token`]).

use std::collections::HashMap;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use oidc::Rejection;
use shared::ids::OrgId;
use shared::model::Organization;
use usecases::{Caller, Identity, Person, UseCaseError};

use crate::AdminState;
use crate::meta::RequestMeta;
use crate::problem::ApiError;
use crate::sources::IdentitySources;

/// A bearer credential that is a JWT (three parts, a base64url JSON header): a person's token
/// from an identity provider. This deployment's own tokens have no dots.
fn bearer_jwt(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credential) = value.trim().split_once(' ')?;
    let credential = credential.trim();
    (scheme.eq_ignore_ascii_case("bearer")
        && credential.starts_with("eyJ")
        && credential.split('.').count() == 3)
        .then_some(credential)
}

/// What shows who a person is: their JWT, verified here, or the claims an HTTP API JWT
/// authorizer of this deployment verified.
pub(crate) enum PersonProof {
    Jwt(String),
    /// The gateway's claims, and the JWT they came from (in the header API Gateway passes
    /// on), verified here when the claims cannot be read back unambiguously.
    GatewayClaims(HashMap<String, String>, Option<String>),
}

impl PersonProof {
    /// The proof a request carries, if any. The gateway's claims count only from the APIs the
    /// deployment put behind its JWT authorizer; from any other, the JWT in the header is
    /// verified here as if no gateway had seen it.
    pub(crate) fn of(
        sources: &IdentitySources,
        meta: &RequestMeta,
        headers: &HeaderMap,
    ) -> Option<Self> {
        if let Some(claims) = &meta.jwt_claims {
            if sources.trusts_jwt_authorizer_of(meta.api_id.as_deref()) {
                let jwt = bearer_jwt(headers).map(str::to_owned);
                return Some(Self::GatewayClaims(claims.clone(), jwt));
            }
            tracing::warn!(
                api_id = meta.api_id.as_deref(),
                "ignored JWT claims from an API this deployment does not put behind a JWT authorizer"
            );
        }
        bearer_jwt(headers).map(|jwt| Self::Jwt(jwt.to_owned()))
    }
}

/// The person `proof` names, if one of `org`'s identity providers vouches for them with an
/// access token and its role mapping gives them a role there (403 otherwise). A token of an
/// issuer the organization does not trust is `404`, as a token of another organization is
/// (whether the organization exists or not: nothing is learnt); a token of a trusted issuer
/// that fails verification, or is no access token, is `401`. The organization's IP allowlist
/// applies to people as to its tokens.
pub(crate) async fn resolve_person(
    state: &AdminState,
    meta: &RequestMeta,
    proof: &PersonProof,
    org: &OrgId,
) -> Result<Caller, ApiError> {
    let stored = match state.use_cases.org(org).await {
        Ok(stored) => stored,
        Err(UseCaseError::NotFound(what)) => return Err(ApiError::NotFound(what)),
        Err(error) => return Err(error.into()),
    };
    // The API's audiences only: a token for the console's client alone is no credential here.
    let providers: Vec<oidc::Provider> = stored
        .identity_providers
        .iter()
        .map(|provider| oidc::Provider {
            issuer: provider.issuer.as_str().to_owned(),
            audiences: provider.api_audiences(),
        })
        .collect();
    if providers.is_empty() {
        return Err(ApiError::NotFound("organization"));
    }
    let access_token = |verified: oidc::Verified| {
        let console = stored
            .identity_providers
            .iter()
            .find(|provider| provider.issuer.as_str() == verified.issuer)
            .and_then(|provider| provider.console_client_id.as_deref());
        oidc::access_token::require(&verified, console).map(|()| verified)
    };
    let now = state.use_cases.now();
    let verified = match proof {
        PersonProof::Jwt(jwt) => state
            .oidc
            .verify(jwt, &providers, now)
            .await
            .and_then(access_token),
        PersonProof::GatewayClaims(claims, jwt) => {
            match (
                oidc::verify_gateway_claims(claims, &providers, now).and_then(access_token),
                jwt,
            ) {
                (Err(Rejection::Ambiguous), Some(jwt)) => state
                    .oidc
                    .verify(jwt, &providers, now)
                    .await
                    .and_then(access_token),
                (outcome, _) => outcome,
            }
        }
    };
    let verified = match verified {
        Ok(verified) => verified,
        Err(Rejection::ProviderUnavailable(error)) => {
            tracing::warn!(%error, %org, "an identity provider is unavailable");
            return Err(ApiError::IdentityProviderUnavailable);
        }
        Err(Rejection::UnknownIssuer) => return Err(ApiError::NotFound("organization")),
        Err(rejection) => {
            tracing::info!(%rejection, %org, "a person's token was refused");
            return Err(ApiError::Unauthenticated);
        }
    };
    admit_person(&stored, verified, meta)
}

/// The caller a verified person is in `org` (whose providers verified them): their role by
/// the provider's current mapping (`403` without one), through the organization's IP
/// allowlist. The admin API and the console both admit people here.
pub fn admit_person(
    org: &Organization,
    verified: oidc::Verified,
    meta: &RequestMeta,
) -> Result<Caller, ApiError> {
    let stored = org;
    let org = &org.id;
    let Some(provider) = stored
        .identity_providers
        .iter()
        .find(|provider| provider.issuer.as_str() == verified.issuer)
    else {
        return Err(ApiError::Unauthenticated);
    };
    let Some(role) = provider.roles.role_of(&verified.claims) else {
        tracing::info!(issuer = %verified.issuer, subject = %verified.subject, %org, "a person with no role");
        return Err(ApiError::Forbidden(
            "your identity provider gives you no role in this organization",
        ));
    };
    let allowlist = stored.token_policy.ip_allowlist();
    if !allowlist.is_empty() && !meta.source_ip.is_some_and(|ip| allowlist.allows(ip)) {
        return Err(ApiError::Forbidden(
            "the organization's IP allowlist does not let this address in",
        ));
    }
    let person = Person {
        org: org.clone(),
        display: provider.display_name(&verified.subject, &verified.claims),
        issuer: verified.issuer,
        subject: verified.subject,
        role,
        claims: verified.claims,
    };
    Ok(Caller::new(
        Identity::Person(person),
        meta.source_ip,
        meta.user_agent.as_deref(),
        meta.request_id.as_deref(),
    ))
}
