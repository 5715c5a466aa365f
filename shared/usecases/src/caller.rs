//! Who is acting: an authenticated identity, the actor its changes are recorded as, and
//! whether it may administer an organization.

use std::net::IpAddr;

use shared::access::Role;
use shared::authn::Principal;
use shared::ids::OrgId;
use shared::model::{Actor, ActorKind};

use crate::UseCaseError;

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A token of a service account, or an org-wide token.
    Token(Principal),
    /// An IAM principal the deployment lets administer every organization.
    Iam(String),
}

/// An authenticated caller, and the actor recorded for the changes it makes in this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub identity: Identity,
    pub actor: Actor,
}

impl Caller {
    /// The caller `identity`, with the request's metadata on its actor.
    pub fn new(
        identity: Identity,
        source_ip: Option<IpAddr>,
        user_agent: Option<&str>,
        request_id: Option<&str>,
    ) -> Self {
        let actor = match &identity {
            Identity::Token(principal) => principal.actor(),
            Identity::Iam(arn) => Actor::new(ActorKind::IamPrincipal, arn),
        };
        Self {
            actor: actor.with_request(source_ip, user_agent, request_id),
            identity,
        }
    }

    /// Whether the caller may administer `org`: an admin of it, or an allowed IAM principal.
    /// A principal of another organization gets "not found", so it cannot even learn which
    /// organizations exist.
    pub fn require_admin(&self, org: &OrgId) -> Result<(), UseCaseError> {
        match &self.identity {
            Identity::Iam(_) => Ok(()),
            Identity::Token(principal) if principal.org != *org => {
                Err(UseCaseError::NotFound("organization"))
            }
            Identity::Token(principal) if principal.has_role_in(org, Role::Admin) => Ok(()),
            Identity::Token(_) => Err(UseCaseError::Forbidden(
                "only an admin of the organization may do this",
            )),
        }
    }
}
