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

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::ParseError;
use crate::access::Scopes;
use crate::ids::{OrgId, ServiceAccountId, TrustPolicyId};
use crate::model::Actor;
use crate::people::Issuer;
use crate::text::DisplayName;

/// GitHub Actions' OIDC issuer.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// GitLab.com's OIDC issuer (a self-managed GitLab's is its own URL).
pub const GITLAB_ISSUER: &str = "https://gitlab.com";

/// Claims that a condition may not name: the issuer and audience are the policy's own
/// fields, and times are the verifier's.
const RESERVED_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

/// A platform whose token claims the policy knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    GithubActions,
    Gitlab,
}

impl Preset {
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        match value {
            "github_actions" => Ok(Self::GithubActions),
            "gitlab" => Ok(Self::Gitlab),
            _ => Err(ParseError::new(
                "the preset is `github_actions` or `gitlab`",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GithubActions => "github_actions",
            Self::Gitlab => "gitlab",
        }
    }

    /// The platform whose rules an issuer's tokens follow, whatever preset a policy names (a
    /// policy on GitHub's issuer without a preset must pin the owner all the same): GitHub's
    /// issuer and its enterprise paths under it, GitLab.com's.
    pub fn of_issuer(issuer: &str) -> Option<Self> {
        let under = |base: &str| {
            issuer == base
                || issuer
                    .strip_prefix(base)
                    .is_some_and(|rest| rest.starts_with('/'))
        };
        if under(GITHUB_ACTIONS_ISSUER) {
            Some(Self::GithubActions)
        } else if under(GITLAB_ISSUER) {
            Some(Self::Gitlab)
        } else {
            None
        }
    }

    /// The issuer used when the policy names none.
    pub fn default_issuer(self) -> &'static str {
        match self {
            Self::GithubActions => GITHUB_ACTIONS_ISSUER,
            Self::Gitlab => GITLAB_ISSUER,
        }
    }

    /// The claim that must be pinned to one exact owner, and the claims of which one must
    /// name the project.
    fn required(self) -> (&'static str, [&'static str; 2]) {
        match self {
            Self::GithubActions => ("repository_owner_id", ["repository", "repository_id"]),
            Self::Gitlab => ("namespace_id", ["project_path", "project_id"]),
        }
    }
}

/// A claim's name: 1 to 64 letters, digits, `_`, `-`, `.` or `:`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClaimName(String);

impl ClaimName {
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        if value.is_empty()
            || value.len() > 64
            || !value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
        {
            return Err(ParseError::new(
                "a claim is 1 to 64 letters, digits, `_`, `-`, `.` or `:`",
            ));
        }
        if RESERVED_CLAIMS.contains(&value) {
            return Err(ParseError::new(
                "`iss` and `aud` are the policy's issuer and audience, and times are always checked: name another claim",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClaimName {
    type Error = ParseError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ClaimName> for String {
    fn from(value: ClaimName) -> Self {
        value.0
    }
}

/// What a claim's value must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimTest {
    /// Exactly this text.
    Equals(String),
    /// A full match of this regular expression (anchored at both ends).
    Matches(String),
}

/// One condition on one claim. Stored and shown as `{"claim": …, "equals": …}` or
/// `{"claim": …, "matches": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawCondition", into = "RawCondition")]
pub struct ClaimCondition {
    pub claim: ClaimName,
    pub test: ClaimTest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    pub claim: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
}

impl ClaimCondition {
    pub const MAX_VALUE_LEN: usize = 256;
    /// The most memory a compiled pattern may take.
    const PATTERN_SIZE_LIMIT: usize = 64 * 1024;

    pub fn new(claim: &str, test: ClaimTest) -> Result<Self, ParseError> {
        let claim = ClaimName::parse(claim)?;
        match &test {
            ClaimTest::Equals(value) | ClaimTest::Matches(value)
                if value.is_empty()
                    || value.len() > Self::MAX_VALUE_LEN
                    || value.chars().any(char::is_control) =>
            {
                return Err(ParseError::new(
                    "a value or pattern is 1 to 256 characters with no control characters",
                ));
            }
            ClaimTest::Matches(pattern) => {
                compile(pattern).map_err(|_| {
                    ParseError::new("the pattern is not a valid regular expression (Rust `regex` syntax) or is too large")
                })?;
            }
            ClaimTest::Equals(_) => {}
        }
        Ok(Self { claim, test })
    }

    /// Whether `claims` meet this condition.
    pub fn is_met_by(&self, claims: &Map<String, Value>) -> bool {
        let Some(value) = claim_text(claims, self.claim.as_str()) else {
            return false;
        };
        match &self.test {
            ClaimTest::Equals(expected) => value == *expected,
            ClaimTest::Matches(pattern) => {
                compile(pattern).is_ok_and(|regex| regex.is_match(&value))
            }
        }
    }
}

/// The pattern, anchored at both ends. It must be a regular expression on its own first: a
/// pattern such as `main)|(?:.*` would otherwise close the anchoring group and match anything.
fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
    let build = |pattern: &str| {
        regex::RegexBuilder::new(pattern)
            .size_limit(ClaimCondition::PATTERN_SIZE_LIMIT)
            .build()
    };
    build(pattern)?;
    build(&format!("^(?:{pattern})$"))
}

/// A claim's value as text, when it is a string, a number or a boolean.
fn claim_text(claims: &Map<String, Value>, claim: &str) -> Option<String> {
    match claims.get(claim)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

impl TryFrom<RawCondition> for ClaimCondition {
    type Error = ParseError;

    fn try_from(raw: RawCondition) -> Result<Self, Self::Error> {
        let test = match (raw.equals, raw.matches) {
            (Some(value), None) => ClaimTest::Equals(value),
            (None, Some(pattern)) => ClaimTest::Matches(pattern),
            _ => {
                return Err(ParseError::new(
                    "a condition has exactly one of `equals` and `matches`",
                ));
            }
        };
        Self::new(&raw.claim, test)
    }
}

impl From<ClaimCondition> for RawCondition {
    fn from(condition: ClaimCondition) -> Self {
        let (equals, matches) = match condition.test {
            ClaimTest::Equals(value) => (Some(value), None),
            ClaimTest::Matches(pattern) => (None, Some(pattern)),
        };
        Self {
            claim: condition.claim.0,
            equals,
            matches,
        }
    }
}

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

    fn condition(claim: &str, equals: &str) -> ClaimCondition {
        ClaimCondition::new(claim, ClaimTest::Equals(equals.into())).unwrap()
    }

    fn pattern(claim: &str, matches: &str) -> ClaimCondition {
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

    fn github_claims() -> Map<String, Value> {
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
    fn patterns_are_anchored_and_values_exact() {
        let claims = github_claims();
        assert!(pattern("ref", "refs/heads/main").is_met_by(&claims));
        assert!(!pattern("ref", "refs/heads/mai").is_met_by(&claims));
        assert!(!pattern("ref", "heads/main").is_met_by(&claims));
        assert!(pattern("ref", "refs/heads/(main|release/.+)").is_met_by(&claims));
        assert!(condition("repository", "octo-org/deploy").is_met_by(&claims));
        assert!(!condition("repository", "octo-org/Deploy").is_met_by(&claims));
        // Numbers compare as their JSON text; absent claims meet nothing.
        assert!(condition("run_attempt", "1").is_met_by(&claims));
        assert!(!pattern("environment", ".*").is_met_by(&claims));
        assert!(ClaimCondition::new("ref", ClaimTest::Matches("(".into())).is_err());
        // A pattern cannot close the anchoring group to match anything.
        assert!(
            ClaimCondition::new("ref", ClaimTest::Matches("refs/heads/main)|(?:.*".into()))
                .is_err()
        );
        // An alternation stays anchored as a whole.
        let mut evil = claims.clone();
        evil.insert("ref".into(), json!("refs/heads/main-evil"));
        assert!(!pattern("ref", "x|refs/heads/main").is_met_by(&evil));
        assert!(pattern("ref", "x|refs/heads/main").is_met_by(&claims));
        assert!(ClaimCondition::new("iss", ClaimTest::Equals("x".into())).is_err());
        assert!(ClaimCondition::new("ref", ClaimTest::Equals(String::new())).is_err());
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
