//! Who is acting: an authenticated identity, the actor its changes are recorded as, and
//! whether it may administer an organization.

use std::net::IpAddr;

use shared::access::{IpAllowlist, Role};
use shared::authn::Principal;
use shared::iac::StackRef;
use shared::ids::{OrgId, ServiceAccountId, TokenId};
use shared::model::{Actor, ActorKind};
use shared::people::PersonRole;
use shared::token::TokenOwner;

use crate::UseCaseError;

/// Why a change that would lock its caller out is refused.
pub(crate) const SELF_LOCKOUT: &str =
    "this would lock out the credential making the request; another admin can do it";

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    /// A token of a service account, or an org-wide token.
    Token(Principal),
    /// An IAM principal the deployment lets administer every organization.
    Iam(String),
    /// A person signed in with an identity provider of the organization `org`.
    Person(Person),
    /// A CloudFormation stack that `org`'s `iacAccess` lets manage it as code, through the
    /// custom resource provider (see [`UseCases::stack_caller`](crate::UseCases::stack_caller)).
    Stack(StackIdentity),
}

/// A stack's resource, admitted by an organization's `iacAccess`.
#[derive(Debug, Clone, PartialEq)]
pub struct StackIdentity {
    pub org: OrgId,
    pub stack: StackRef,
    pub logical_resource_id: String,
}

/// A person, as one of `org`'s identity providers vouches for them, with the role its
/// mapping gives them there.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub org: OrgId,
    pub issuer: String,
    pub subject: String,
    pub display: String,
    pub role: PersonRole,
    /// The verified token's claims, to tell whether a change of the role mapping would
    /// demote the person making it.
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// An authenticated caller, and the actor recorded for the changes it makes in this request.
#[derive(Debug, Clone, PartialEq)]
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
            Identity::Person(person) => {
                Actor::person(&person.issuer, &person.subject, &person.display)
            }
            Identity::Stack(stack) => Actor::stack(&stack.stack, &stack.logical_resource_id),
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
            Identity::Person(person) if person.org != *org => {
                Err(UseCaseError::NotFound("organization"))
            }
            Identity::Person(person) if person.role == PersonRole::Admin => Ok(()),
            Identity::Person(_) => Err(UseCaseError::Forbidden(
                "an auditor may read, and change nothing",
            )),
            Identity::Stack(stack) if stack.org == *org => Ok(()),
            Identity::Stack(_) => Err(UseCaseError::NotFound("organization")),
        }
    }

    /// Whether the caller may read `org`'s accounts, token metadata and audit trail: whoever
    /// may administer it, and its auditors.
    pub fn require_reader(&self, org: &OrgId) -> Result<(), UseCaseError> {
        match &self.identity {
            Identity::Person(person) if person.org == *org => Ok(()),
            _ => self.require_admin(org),
        }
    }

    /// Refuses a change to `account` that would lock this caller out: disabling or deleting
    /// the account it authenticates with, revoking all its tokens, or a change that takes
    /// away its admin role or its address from the account's allowlist (`keeps_access`
    /// false). Another admin or an IAM principal can; a token of its own is renewed safely
    /// with self-rotation. As GitLab, where users cannot block themselves.
    pub fn refuse_self_lockout(
        &self,
        org: &OrgId,
        account: &ServiceAccountId,
        keeps_access: bool,
    ) -> Result<(), UseCaseError> {
        match &self.identity {
            Identity::Token(principal)
                if principal.org == *org
                    && principal.account.as_ref() == Some(account)
                    && !keeps_access =>
            {
                Err(UseCaseError::Conflict(SELF_LOCKOUT.into()))
            }
            _ => Ok(()),
        }
    }

    /// Refuses revoking every token of `owner` when the caller's own token is among them: its
    /// account's, or, for an org-wide token, the organization's.
    pub fn refuse_revoking_all(&self, org: &OrgId, owner: &TokenOwner) -> Result<(), UseCaseError> {
        match (owner, &self.identity) {
            (TokenOwner::Account(account), _) => self.refuse_self_lockout(org, account, false),
            (TokenOwner::Org, Identity::Token(principal))
                if principal.org == *org && principal.account.is_none() =>
            {
                self.refuse_own_token(&principal.token_id)
            }
            (TokenOwner::Org, _) => Ok(()),
        }
    }

    /// Whether `allowlist` lets in the address this request came from (an empty one lets in
    /// everyone; an unknown address is let in by none other).
    pub fn is_let_in_by(&self, allowlist: &IpAllowlist) -> bool {
        allowlist.is_empty()
            || self
                .actor
                .source_ip
                .is_some_and(|address| allowlist.allows(address))
    }

    /// Whether the caller is a token of `org` (not an IAM principal).
    pub fn is_token_of(&self, org: &OrgId) -> bool {
        matches!(&self.identity, Identity::Token(principal) if principal.org == *org)
    }

    /// Refuses revoking the token this request authenticates with (see
    /// [`Caller::refuse_self_lockout`]).
    pub fn refuse_own_token(&self, token: &TokenId) -> Result<(), UseCaseError> {
        match &self.identity {
            Identity::Token(principal) if principal.token_id == *token => {
                Err(UseCaseError::Conflict(format!(
                    "{SELF_LOCKOUT}; to replace this token, rotate it (POST /v1/tokens/self/rotate)"
                )))
            }
            _ => Ok(()),
        }
    }
}
