//! The platforms whose tokens a trust policy knows (GitHub Actions, GitLab): their issuers,
//! and the claims a policy on them must pin down (see the table of the `federation` module).

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// GitHub Actions' OIDC issuer.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// GitLab.com's OIDC issuer (a self-managed GitLab's is its own URL).
pub const GITLAB_ISSUER: &str = "https://gitlab.com";

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
    pub(super) fn required(self) -> (&'static str, [&'static str; 2]) {
        match self {
            Self::GithubActions => ("repository_owner_id", ["repository", "repository_id"]),
            Self::Gitlab => ("namespace_id", ["project_path", "project_id"]),
        }
    }
}
