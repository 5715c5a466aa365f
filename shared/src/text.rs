//! User-supplied text: names and descriptions of organizations, service accounts and tokens.
//!
//! Names are single-line and free of control characters, so they are safe in logs, terminals
//! and CSV exports; descriptions may span lines. Both are bounded in characters, not bytes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ParseError;

/// A display name: 1–100 characters, no leading or trailing whitespace, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(value: &str) -> Result<Self, ParseError> {
        if value.trim().is_empty() {
            return Err(ParseError::new("a name must not be empty"));
        }
        if value.trim() != value {
            return Err(ParseError::new(
                "a name must not start or end with whitespace",
            ));
        }
        if value.chars().count() > Self::MAX_CHARS {
            return Err(ParseError::new(format!(
                "a name has at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if value.chars().any(is_forbidden_in_line) {
            return Err(ParseError::new(
                "a name must not contain control characters or line breaks",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A free-text description: up to 1,000 characters; line breaks and tabs are allowed, other
/// control characters are not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 1_000;

    pub fn parse(value: &str) -> Result<Self, ParseError> {
        if value.chars().count() > Self::MAX_CHARS {
            return Err(ParseError::new(format!(
                "a description has at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if value
            .chars()
            .any(|c| c != '\n' && c != '\t' && is_forbidden_in_line(c))
        {
            return Err(ParseError::new(
                "a description must not contain control characters other than line breaks and tabs",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Control characters (C0, DEL, C1) and the Unicode line and paragraph separators, which would
/// let a value forge extra lines in a log or terminal.
fn is_forbidden_in_line(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// Makes request metadata that the system records but does not validate (a user agent, a
/// request id) safe to store and print: control characters become `?`, and the value is cut
/// to `max_chars`.
pub fn sanitize_metadata(value: &str, max_chars: usize) -> String {
    value
        .chars()
        .take(max_chars)
        .map(|c| if is_forbidden_in_line(c) { '?' } else { c })
        .collect()
}

macro_rules! text_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = ParseError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

text_conversions!(DisplayName, Description);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_accept_ordinary_text() {
        for name in [
            "ci",
            "nightly-research-bot",
            "Déploiement de prod",
            "ビルド",
            &"x".repeat(100),
        ] {
            assert_eq!(DisplayName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn names_refuse_empty_padded_long_and_control_text() {
        for name in [
            "",
            "   ",
            " padded",
            "padded ",
            &"x".repeat(101),
            "line\nbreak",
            "tab\there",
            "bell\u{7}",
            "escape\u{1b}[31m",
            "del\u{7f}",
            "c1\u{85}",
            "separator\u{2028}",
        ] {
            assert!(DisplayName::parse(name).is_err(), "{name:?} was accepted");
        }
    }

    #[test]
    fn descriptions_allow_lines_but_not_other_controls() {
        assert!(Description::parse("").is_ok());
        assert!(Description::parse("first line\n\tsecond line").is_ok());
        assert!(Description::parse("nul\u{0}").is_err());
        assert!(Description::parse("escape\u{1b}").is_err());
        assert!(Description::parse(&"é".repeat(1_000)).is_ok());
        assert!(Description::parse(&"é".repeat(1_001)).is_err());
    }

    #[test]
    fn metadata_is_cut_and_neutralised() {
        assert_eq!(
            sanitize_metadata("curl/8\r\nX-Forged: 1", 100),
            "curl/8??X-Forged: 1"
        );
        assert_eq!(sanitize_metadata("abcdef", 3), "abc");
    }
}
