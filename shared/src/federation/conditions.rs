//! The conditions a trust policy sets on a workload token's claims, and how the claims meet
//! them: a claim's name, an exact value or a pattern anchored at both ends, and a claim's
//! value read as text (see the `federation` module for the rules).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ParseError;

/// Claims that a condition may not name: the issuer and audience are the policy's own
/// fields, and times are the verifier's.
const RESERVED_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

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
pub(super) fn claim_text(claims: &Map<String, Value>, claim: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::tests::{condition, github_claims, pattern};
    use serde_json::json;

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
}
