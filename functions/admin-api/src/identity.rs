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
//! No identity is `401`. A token of another organization is `404` (another organization's ids
//! do not exist for it); a token of the organization without the `admin` role is `403`.

use shared::access::Role;
use shared::authn::{Denial, Principal, authenticate};
use shared::ids::OrgId;
use shared::model::{Actor, ActorKind};
use shared::token::ParsedToken;

use shared::config::ConfigError;

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

/// Which identity claims in an event the deployment trusts, and from which APIs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentitySources {
    /// The API Gateway API ids whose requests reach this function through our authorizer
    /// (`AUTHORIZER_API_IDS`); empty: an authorizer context is never read.
    pub authorizer_api_ids: Vec<String>,
    /// Who may administer through IAM (`ADMIN_IAM_PRINCIPALS`).
    pub iam_admins: IamAdmins,
    /// The API or function URL ids whose IAM identity is read (`IAM_API_IDS`).
    pub iam_api_ids: Vec<String>,
}

impl IdentitySources {
    /// Reads the three variables; IAM administration needs both of its variables.
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

    fn trusts_authorizer_of(&self, api_id: Option<&str>) -> bool {
        api_id.is_some_and(|id| self.authorizer_api_ids.iter().any(|trusted| trusted == id))
    }

    fn trusts_iam_of(&self, api_id: Option<&str>) -> bool {
        self.iam_admins.is_enabled()
            && api_id.is_some_and(|id| self.iam_api_ids.iter().any(|trusted| trusted == id))
    }
}

/// Finds the caller of `request`, or refuses it.
pub async fn resolve_caller(
    context: &AdminContext,
    request: &ApiRequest,
) -> Result<Caller, ApiError> {
    let sources = &context.identity;
    let api_id = request.api_id.as_deref();
    if sources.trusts_authorizer_of(api_id) {
        match Principal::from_context(|key| request.authorizer.get(key).cloned()) {
            Ok(Some(principal)) => return Ok(Caller::Token(principal)),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "malformed authorizer context");
                return Err(ApiError::Unauthenticated);
            }
        }
    } else if !request.authorizer.is_empty() {
        tracing::warn!(
            api_id,
            "ignored an authorizer context from an API this deployment does not put behind its authorizer"
        );
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

    match &request.iam_arn {
        Some(arn) if sources.trusts_iam_of(api_id) => {
            if sources.iam_admins.allows(arn) {
                return Ok(Caller::Iam(arn.clone()));
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
    }
}
