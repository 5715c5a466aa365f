//! Deployment settings every function reads from its environment, once per cold start.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `TABLE_NAME` | the DynamoDB table of orgs, accounts and tokens | required |
//! | `TOKEN_PREFIX` | the prefix of this deployment's tokens | `svc_` |
//! | `TOKEN_KEYS`, `TOKEN_KEY_ID` | the keys that tag this deployment's tokens, and the one that mints ([`TokenKeys`]) | required |
//! | `AUDIT_TABLE_NAME` | the audit trail's table (the `accounts` and `audit` functions only) | required there |
//!
//! The AWS endpoint and region come from the standard AWS variables (`AWS_REGION`,
//! `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`), read by `store::client`.

use crate::token::{TokenFormat, TokenKeys, TokenPrefix};

/// A setting that is missing or malformed. Names the variable and the rule, not the value.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

/// A DynamoDB table name: 3–255 letters, digits, `_`, `-` and `.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName(String);

impl TableName {
    pub fn parse(value: &str) -> Result<Self, crate::ParseError> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"_-.".contains(&b);
        if (3..=255).contains(&value.len()) && value.bytes().all(allowed) {
            Ok(Self(value.to_owned()))
        } else {
            Err(crate::ParseError::new(
                "a table name has 3 to 255 letters, digits, `_`, `-` or `.`",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub table_name: TableName,
    pub token_format: TokenFormat,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let table_name = table_setting(&lookup, "TABLE_NAME")?;
        Ok(Self {
            table_name,
            token_format: token_format(&lookup)?,
        })
    }
}

/// The deployment's token format: `TOKEN_PREFIX` (default `svc_`), and `TOKEN_KEYS` with
/// `TOKEN_KEY_ID` (required: a deployment without keys could not tell its tokens from
/// forgeries). The errors never repeat a key.
pub fn token_format(lookup: impl Fn(&str) -> Option<String>) -> Result<TokenFormat, ConfigError> {
    let prefix = match lookup("TOKEN_PREFIX") {
        None => TokenPrefix::default(),
        Some(value) => TokenPrefix::parse(&value).map_err(|error| ConfigError {
            variable: "TOKEN_PREFIX",
            reason: error.to_string(),
        })?,
    };
    let keys = lookup("TOKEN_KEYS").ok_or_else(|| ConfigError {
        variable: "TOKEN_KEYS",
        reason: "is not set (the keys that tag this deployment's tokens)".into(),
    })?;
    let keys = TokenKeys::parse(&keys, lookup("TOKEN_KEY_ID").as_deref()).map_err(|error| {
        ConfigError {
            variable: "TOKEN_KEYS",
            reason: error.to_string(),
        }
    })?;
    Ok(TokenFormat::new(prefix, keys))
}

/// The table named by `variable`, which must be set.
pub fn table_setting(
    lookup: impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<TableName, ConfigError> {
    let table = lookup(variable).ok_or_else(|| ConfigError {
        variable,
        reason: "is not set".into(),
    })?;
    TableName::parse(&table).map_err(|error| ConfigError {
        variable,
        reason: error.to_string(),
    })
}

/// A number read from `variable`: `default` when unset, else it must parse and lie in
/// `range`. The one way every function reads a bounded number from its environment.
pub fn bounded<T>(
    lookup: impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    match lookup(variable) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<T>()
            .ok()
            .filter(|value| range.contains(value))
            .ok_or_else(|| ConfigError {
                variable,
                reason: format!("a whole number from {} to {}", range.start(), range.end()),
            }),
    }
}

/// A duration in whole seconds read from `variable` (see [`bounded`]).
pub fn seconds(
    lookup: impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
) -> Result<time::Duration, ConfigError> {
    bounded(lookup, variable, default, range).map(time::Duration::seconds)
}

/// A duration in milliseconds read from `variable` (see [`bounded`]).
pub fn millis(
    lookup: impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<std::time::Duration, ConfigError> {
    bounded(lookup, variable, default, range).map(std::time::Duration::from_millis)
}

/// A duration in whole days read from `variable` (see [`bounded`]).
pub fn days(
    lookup: impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u16,
    range: std::ops::RangeInclusive<u16>,
) -> Result<time::Duration, ConfigError> {
    bounded(lookup, variable, default, range).map(|days| time::Duration::days(i64::from(days)))
}

/// The process environment, as the `lookup` the readers above take.
pub fn env(variable: &str) -> Option<String> {
    std::env::var(variable).ok()
}

/// The audit trail's table, from `AUDIT_TABLE_NAME`.
pub fn audit_table_from_env() -> Result<TableName, ConfigError> {
    table_setting(|name| std::env::var(name).ok(), "AUDIT_TABLE_NAME")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_need_a_table_and_keys_and_default_the_prefix() {
        let settings = Settings::from_lookup(|name| match name {
            "TABLE_NAME" => Some("t-1".into()),
            "TOKEN_KEYS" => Some("a:0123456789abcdef0123456789abcdef".into()),
            _ => None,
        });
        let settings = settings.unwrap();
        assert_eq!(settings.table_name.as_str(), "t-1");
        assert_eq!(settings.token_format.prefix().as_str(), "svc_");
        let missing = Settings::from_lookup(|_| None).unwrap_err();
        assert_eq!(missing.variable, "TABLE_NAME");
        let keyless = Settings::from_lookup(|name| (name == "TABLE_NAME").then(|| "t-1".into()));
        assert_eq!(keyless.unwrap_err().variable, "TOKEN_KEYS");
    }

    #[test]
    fn bounded_numbers_have_a_default_and_a_range() {
        let lookup = |value: &'static str| move |_: &str| Some(value.to_owned());
        assert_eq!(bounded(|_| None, "N", 7u32, 1..=10).unwrap(), 7);
        assert_eq!(bounded(lookup("10"), "N", 7u32, 1..=10).unwrap(), 10);
        for bad in ["0", "11", "-1", "x", ""] {
            let error = bounded(lookup(bad), "N", 7u32, 1..=10).unwrap_err();
            assert_eq!(error.variable, "N");
            assert!(error.reason.contains("1 to 10"));
        }
        assert_eq!(
            seconds(lookup("90"), "S", 1, 0..=100).unwrap(),
            time::Duration::seconds(90)
        );
        assert_eq!(
            days(|_| None, "D", 30, 1..=3650).unwrap(),
            time::Duration::days(30)
        );
        assert_eq!(
            millis(lookup("250"), "M", 1, 1..=1000).unwrap().as_millis(),
            250
        );
    }

    #[test]
    fn a_bad_prefix_is_named_in_the_error() {
        let error = Settings::from_lookup(|name| match name {
            "TABLE_NAME" => Some("table".into()),
            "TOKEN_PREFIX" => Some("bad prefix".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(error.variable, "TOKEN_PREFIX");
    }
}
