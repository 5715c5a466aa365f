//! Workload identity federation: the trust policies that let a CI job (or any workload with
//! an OpenID Connect token from its platform) act as a service account without holding a
//! secret.
//!
//! A [`TrustPolicy`] on an account says: tokens from `issuer`, for `audience`, whose claims
//! meet every [`ClaimCondition`], may become an `access` token of this account holding at most
//! `scopes`, for at most `lifetime_seconds`. Verification of the token itself (signature,
//! keys, times) is the `oidc` crate's; this module is the policy and the match.
//!
//! A condition is an exact value (`equals`) or a pattern (`matches`: a regular expression of
//! the `regex` crate, anchored at both ends, so `refs/heads/main` never matches
//! `refs/heads/main-evil`, and linear in time whatever it is). A claim that is absent, an
//! array or an object meets no condition; numbers and booleans are compared as their JSON text.
//!
//! The presets name what identifies a job on their platform and refuse a policy that would
//! not pin it down, because a policy on a shared issuer such as GitHub's trusts every
//! repository in the world that its conditions do not exclude:
//!
//! | preset | issuer (default) | required |
//! | --- | --- | --- |
//! | `github_actions` | `https://token.actions.githubusercontent.com` | `repository_owner_id` equals, and `repository` or `repository_id` |
//! | `gitlab` | `https://gitlab.com` (or a self-managed URL) | `namespace_id` equals, and `project_path` or `project_id` |
//! | none | any `https` issuer | at least one `equals` condition |
//!
//! The owner id is what tells `octo-org/deploy` from a namesake repository created after
//! `octo-org` was renamed or deleted: names can be taken again, ids cannot.
//!
//! The conditions on a token's claims and how they are met are in `conditions`; the presets'
//! issuers and the claims they require, in `presets`. This module holds the policy itself.

mod conditions;
mod presets;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::ParseError;
use crate::access::Scopes;
use crate::ids::{OrgId, ServiceAccountId, TrustPolicyId};
use crate::model::Actor;
use crate::people::Issuer;
use crate::text::DisplayName;

use conditions::claim_text;
pub use conditions::{ClaimCondition, ClaimName, ClaimTest, RawCondition};
pub use presets::{GITHUB_ACTIONS_ISSUER, GITLAB_ISSUER, Preset};

/// The bounds of a policy's lifetime, and its default.
pub const MIN_LIFETIME_SECONDS: u32 = 60;
pub const MAX_LIFETIME_SECONDS: u32 = 12 * 3600;
pub const DEFAULT_LIFETIME_SECONDS: u32 = 15 * 60;
/// At most this many conditions per policy, and policies per account.
pub const MAX_CONDITIONS: usize = 20;
pub const MAX_POLICIES_PER_ACCOUNT: usize = 20;
/// At most this many live policies per organization, all its accounts together: each may
/// name another issuer, whose keys every container then fetches and caches.
pub const MAX_POLICIES_PER_ORG: usize = 100;

/// A trust policy as asked for, validated ([`TrustRules::new`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRules {
    pub preset: Option<Preset>,
    pub issuer: Issuer,
    pub audience: String,
    pub conditions: Vec<ClaimCondition>,
    pub scopes: Scopes,
    pub lifetime_seconds: u32,
}

impl TrustRules {
    /// The rules, if they pin a workload down (see the module's table). `issuer` defaults to
    /// the preset's; `audience` must already be one this deployment accepts.
    pub fn new(
        preset: Option<Preset>,
        issuer: Option<Issuer>,
        audience: String,
        mut conditions: Vec<ClaimCondition>,
        scopes: Scopes,
        lifetime_seconds: Option<u32>,
    ) -> Result<Self, (&'static str, ParseError)> {
        let issuer = match (issuer, preset) {
            (Some(issuer), _) => issuer,
            (None, Some(preset)) => {
                Issuer::parse(preset.default_issuer()).map_err(|error| ("issuer", error))?
            }
            (None, None) => {
                return Err((
                    "issuer",
                    ParseError::new("name the issuer, or a preset that has one"),
                ));
            }
        };
        if conditions.is_empty() || conditions.len() > MAX_CONDITIONS {
            return Err((
                "conditions",
                ParseError::new("a policy has 1 to 20 conditions"),
            ));
        }
        conditions.sort_by(|a, b| a.claim.cmp(&b.claim));
        if conditions
            .windows(2)
            .any(|pair| pair[0].claim == pair[1].claim)
        {
            return Err((
                "conditions",
                ParseError::new("each claim has at most one condition"),
            ));
        }
        let exact = |claim: &str| {
            conditions.iter().any(|condition| {
                condition.claim.as_str() == claim && matches!(condition.test, ClaimTest::Equals(_))
            })
        };
        let named = |claim: &str| conditions.iter().any(|c| c.claim.as_str() == claim);
        // The issuer's platform decides the rules, named or not.
        let preset = preset.or_else(|| Preset::of_issuer(issuer.as_str()));
        match preset {
            Some(preset) => {
                let (owner, projects) = preset.required();
                if !exact(owner) || !projects.iter().any(|claim| named(claim)) {
                    return Err((
                        "conditions",
                        ParseError::new(format!(
                            "a `{}` policy needs `{owner}` to equal the owner's id, and a condition on `{}` or `{}`",
                            preset.as_str(),
                            projects[0],
                            projects[1]
                        )),
                    ));
                }
            }
            None if !conditions
                .iter()
                .any(|condition| matches!(condition.test, ClaimTest::Equals(_))) =>
            {
                return Err((
                    "conditions",
                    ParseError::new("a policy needs at least one `equals` condition"),
                ));
            }
            None => {}
        }
        if scopes.is_empty() {
            return Err((
                "scopes",
                ParseError::new("a policy names the scopes its tokens may hold"),
            ));
        }
        let lifetime_seconds = lifetime_seconds.unwrap_or(DEFAULT_LIFETIME_SECONDS);
        if !(MIN_LIFETIME_SECONDS..=MAX_LIFETIME_SECONDS).contains(&lifetime_seconds) {
            return Err((
                "lifetimeSeconds",
                ParseError::new("a lifetime is 60 to 43200 seconds"),
            ));
        }
        Ok(Self {
            preset,
            issuer,
            audience,
            conditions,
            scopes,
            lifetime_seconds,
        })
    }
}

/// A trust policy on a service account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustPolicy {
    pub org: OrgId,
    pub account: ServiceAccountId,
    pub id: TrustPolicyId,
    pub name: DisplayName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<Preset>,
    pub issuer: Issuer,
    pub audience: String,
    pub conditions: Vec<ClaimCondition>,
    pub scopes: Scopes,
    pub lifetime_seconds: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: Actor,
    /// Set when the policy is deleted: the item stays as a tombstone naming who deleted it
    /// (for the audit trail) until `purge_after`.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub deleted_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<Actor>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub purge_after: Option<OffsetDateTime>,
    /// How many access tokens the policy issued in `access_window`, so the live ones stay
    /// bounded (written without a new version, like a client secret's count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_window: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_issued: Option<u32>,
    pub version: u64,
}

impl TrustPolicy {
    pub fn new(
        org: OrgId,
        account: ServiceAccountId,
        id: TrustPolicyId,
        name: DisplayName,
        rules: TrustRules,
        actor: Actor,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            org,
            account,
            id,
            name,
            preset: rules.preset,
            issuer: rules.issuer,
            audience: rules.audience,
            conditions: rules.conditions,
            scopes: rules.scopes,
            lifetime_seconds: rules.lifetime_seconds,
            created_at: now,
            created_by: actor,
            deleted_at: None,
            deleted_by: None,
            purge_after: None,
            access_window: None,
            access_issued: None,
            version: 1,
        }
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// Whether a token verified as issued by `issuer` for `audiences` with `claims` meets
    /// this policy.
    pub fn admits(&self, issuer: &str, audiences: &[String], claims: &Map<String, Value>) -> bool {
        !self.is_deleted()
            && self.issuer.as_str() == issuer
            && audiences.contains(&self.audience)
            && self
                .conditions
                .iter()
                .all(|condition| condition.is_met_by(claims))
    }

    /// The claims this policy's conditions named, with their values in `claims`: what the
    /// audit trail records of the workload.
    pub fn matched_claims(&self, claims: &Map<String, Value>) -> Vec<(String, String)> {
        self.conditions
            .iter()
            .filter_map(|condition| {
                claim_text(claims, condition.claim.as_str())
                    .map(|value| (condition.claim.as_str().to_owned(), value))
            })
            .collect()
    }
}

/// The `aud` claim as a list (a string or an array of strings).
pub fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(values)) => values
            .iter()
            .filter_map(|value| value.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Scope;
    use serde_json::json;

    pub(super) fn condition(claim: &str, equals: &str) -> ClaimCondition {
        ClaimCondition::new(claim, ClaimTest::Equals(equals.into())).unwrap()
    }

    pub(super) fn pattern(claim: &str, matches: &str) -> ClaimCondition {
        ClaimCondition::new(claim, ClaimTest::Matches(matches.into())).unwrap()
    }

    fn scopes() -> Scopes {
        Scopes::parse(vec![Scope::parse("reader").unwrap()]).unwrap()
    }

    fn github_rules(
        conditions: Vec<ClaimCondition>,
    ) -> Result<TrustRules, (&'static str, ParseError)> {
        TrustRules::new(
            Some(Preset::GithubActions),
            None,
            "aud".into(),
            conditions,
            scopes(),
            None,
        )
    }

    pub(super) fn github_claims() -> Map<String, Value> {
        json!({
            "sub": "repo:octo-org/deploy:ref:refs/heads/main",
            "repository": "octo-org/deploy",
            "repository_owner": "octo-org",
            "repository_owner_id": "65",
            "repository_id": "1296269",
            "ref": "refs/heads/main",
            "run_attempt": 1,
            "aud": "aud",
        })
        .as_object()
        .unwrap()
        .clone()
    }

    #[test]
    fn presets_refuse_policies_that_do_not_pin_the_repository_and_its_owner() {
        assert!(github_rules(vec![condition("repository", "octo-org/deploy")]).is_err());
        assert!(
            github_rules(vec![
                pattern("repository_owner_id", "6.*"),
                condition("repository", "octo-org/deploy")
            ])
            .is_err()
        );
        let rules = github_rules(vec![
            condition("repository_owner_id", "65"),
            condition("repository", "octo-org/deploy"),
        ])
        .unwrap();
        assert_eq!(rules.issuer.as_str(), GITHUB_ACTIONS_ISSUER);
        assert_eq!(rules.lifetime_seconds, DEFAULT_LIFETIME_SECONDS);
        // No preset: an issuer and one exact condition at least.
        let generic = |conditions| {
            TrustRules::new(
                None,
                Some(Issuer::parse("https://ci.example.com").unwrap()),
                "aud".into(),
                conditions,
                scopes(),
                Some(60),
            )
        };
        assert!(generic(vec![pattern("sub", ".*")]).is_err());
        assert!(generic(vec![condition("sub", "job-1")]).is_ok());
        // GitHub's issuer (or an enterprise path under it) without the preset: its rules.
        for issuer in [
            GITHUB_ACTIONS_ISSUER,
            "https://token.actions.githubusercontent.com/octo-enterprise",
        ] {
            let rules = TrustRules::new(
                None,
                Some(Issuer::parse(issuer).unwrap()),
                "aud".into(),
                vec![condition("repository", "octo-org/deploy")],
                scopes(),
                None,
            );
            assert!(rules.is_err(), "{issuer}");
        }
        let gitlab = TrustRules::new(
            None,
            Some(Issuer::parse(GITLAB_ISSUER).unwrap()),
            "aud".into(),
            vec![condition("project_path", "g/p")],
            scopes(),
            None,
        );
        assert!(gitlab.is_err());
        assert_eq!(
            Preset::of_issuer("https://token.actions.githubusercontent.com.evil.com"),
            None
        );
        assert!(
            generic(vec![condition("sub", "a"), pattern("sub", "b")]).is_err(),
            "one condition per claim"
        );
    }

    #[test]
    fn a_policy_admits_only_its_issuer_audience_and_claims() {
        let rules = github_rules(vec![
            condition("repository_owner_id", "65"),
            condition("repository", "octo-org/deploy"),
            pattern("ref", "refs/heads/main"),
        ])
        .unwrap();
        let policy = TrustPolicy::new(
            OrgId::parse("acme").unwrap(),
            ServiceAccountId::generate().unwrap(),
            TrustPolicyId::generate().unwrap(),
            DisplayName::parse("deploy").unwrap(),
            rules,
            Actor::system("test"),
            OffsetDateTime::UNIX_EPOCH,
        );
        let claims = github_claims();
        let aud = audiences(&claims);
        assert!(policy.admits(GITHUB_ACTIONS_ISSUER, &aud, &claims));
        assert!(!policy.admits("https://gitlab.com", &aud, &claims));
        assert!(!policy.admits(GITHUB_ACTIONS_ISSUER, &["other".into()], &claims));
        let mut namesake = claims.clone();
        namesake.insert("repository_owner_id".into(), json!("66"));
        assert!(!policy.admits(GITHUB_ACTIONS_ISSUER, &aud, &namesake));
        assert_eq!(
            policy.matched_claims(&claims),
            vec![
                ("ref".to_owned(), "refs/heads/main".to_owned()),
                ("repository".to_owned(), "octo-org/deploy".to_owned()),
                ("repository_owner_id".to_owned(), "65".to_owned()),
            ]
        );
    }
}
