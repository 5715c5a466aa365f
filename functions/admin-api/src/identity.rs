//! Who is calling the admin API, and whether they may administer the organization in the path.
//!
//! The caller is found in this order:
//!
//! 1. the context our authorizer attached (the request came through API Gateway with our
//!    authorizer, which already verified the token);
//! 2. an `Authorization: Bearer` token, verified here with the same domain code the
//!    authorizer uses, so a deployment behind a function URL, with no authorizer, is as safe;
//! 3. the API Gateway (or function URL) IAM identity, when the deployment lets IAM principals
//!    administer (`ADMIN_IAM_PRINCIPALS`).
//!
//! No identity is `401`. A token of another organization is `404` (another organization's ids
//! do not exist for it); a token of the organization without the `admin` role is `403`.

use shared::access::Role;
use shared::authn::{Denial, Principal, authenticate};
use shared::ids::OrgId;
use shared::model::{Actor, ActorKind};
use shared::token::ParsedToken;

use crate::AdminContext;
use crate::problem::ApiError;
use crate::request::ApiRequest;

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

    pub fn allows(&self, arn: &str) -> bool {
        self.0.iter().any(|entry| match entry.strip_suffix('*') {
            Some(prefix) => arn.starts_with(prefix),
            None => arn == entry,
        })
    }

    pub fn is_enabled(&self) -> bool {
        !self.0.is_empty()
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Token(Principal),
    Iam(String),
}

impl Caller {
    /// The actor to record for changes this caller makes in this request.
    pub fn actor(&self, request: &ApiRequest) -> Actor {
        let actor = match self {
            Self::Token(principal) => principal.actor(),
            Self::Iam(arn) => Actor::new(ActorKind::IamPrincipal, arn),
        };
        actor.with_request(
            request.source_ip,
            request.user_agent.as_deref(),
            request.request_id.as_deref(),
        )
    }

    /// Whether the caller may administer `org`: an admin of it, or an allowed IAM principal.
    pub fn require_admin(&self, org: &OrgId) -> Result<(), ApiError> {
        match self {
            Self::Iam(_) => Ok(()),
            Self::Token(principal) if principal.org != *org => {
                Err(ApiError::NotFound("organization"))
            }
            Self::Token(principal) if principal.has_role_in(org, Role::Admin) => Ok(()),
            Self::Token(_) => Err(ApiError::Forbidden(
                "only an admin of the organization may do this",
            )),
        }
    }
}

/// Finds the caller of `request`, or refuses it.
pub async fn resolve_caller(
    context: &AdminContext,
    request: &ApiRequest,
) -> Result<Caller, ApiError> {
    match Principal::from_context(|key| request.authorizer.get(key).cloned()) {
        Ok(Some(principal)) => return Ok(Caller::Token(principal)),
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(%error, "malformed authorizer context");
            return Err(ApiError::Unauthenticated);
        }
    }

    if let Some(secret) = request.bearer_token() {
        let presented = ParsedToken::parse(&context.token_prefix, secret).map_err(|error| {
            tracing::info!(%error, "refused a malformed bearer token");
            ApiError::Unauthenticated
        })?;
        let records = context.store.fetch_for_authorization(&presented).await?;
        let now = context.clock.now();
        return match authenticate(&presented, &records, request.source_ip, now) {
            Ok(principal) => Ok(Caller::Token(principal)),
            Err(denial @ Denial::Unauthenticated(_)) => {
                tracing::info!(%denial, token = presented.display_prefix(), "refused a bearer token");
                Err(ApiError::Unauthenticated)
            }
            Err(denial @ Denial::Forbidden(reason)) => {
                tracing::info!(%denial, token = presented.display_prefix(), "refused a bearer token");
                Err(ApiError::Forbidden(reason))
            }
        };
    }

    if let Some(arn) = &request.iam_arn {
        if context.iam_admins.allows(arn) {
            return Ok(Caller::Iam(arn.clone()));
        }
        tracing::info!(arn, "IAM principal not allowed to administer");
        return Err(if context.iam_admins.is_enabled() {
            ApiError::Forbidden("this IAM principal may not administer organizations")
        } else {
            ApiError::Unauthenticated
        });
    }
    Err(ApiError::Unauthenticated)
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
        assert!(!IamAdmins::parse("").unwrap().is_enabled());
        assert!(IamAdmins::parse("ops").is_err());
        assert!(IamAdmins::parse("arn:aws:iam::*:role/x").is_err());
    }
}
