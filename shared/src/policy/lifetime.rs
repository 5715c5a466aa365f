//! The lifetimes a token may be asked for: a preset (`1h` … `5y`), an explicit expiry, or
//! none at all.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::ParseError;

/// The lifetimes offered to admins, as the reference products offer them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LifetimePreset {
    OneHour,
    OneDay,
    ThirtyDays,
    NinetyDays,
    OneYear,
    TwoYears,
    FiveYears,
}

impl LifetimePreset {
    pub const ALL: [LifetimePreset; 7] = [
        Self::OneHour,
        Self::OneDay,
        Self::ThirtyDays,
        Self::NinetyDays,
        Self::OneYear,
        Self::TwoYears,
        Self::FiveYears,
    ];

    pub fn parse(value: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|preset| preset.as_str() == value)
            .ok_or_else(|| {
                ParseError::new("a lifetime is one of `1h`, `1d`, `30d`, `90d`, `1y`, `2y`, `5y`")
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneHour => "1h",
            Self::OneDay => "1d",
            Self::ThirtyDays => "30d",
            Self::NinetyDays => "90d",
            Self::OneYear => "1y",
            Self::TwoYears => "2y",
            Self::FiveYears => "5y",
        }
    }

    /// The duration; a year is 365 days.
    pub fn duration(self) -> Duration {
        match self {
            Self::OneHour => Duration::hours(1),
            Self::OneDay => Duration::days(1),
            Self::ThirtyDays => Duration::days(30),
            Self::NinetyDays => Duration::days(90),
            Self::OneYear => Duration::days(365),
            Self::TwoYears => Duration::days(730),
            Self::FiveYears => Duration::days(1_825),
        }
    }
}

impl fmt::Display for LifetimePreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for LifetimePreset {
    type Error = ParseError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<LifetimePreset> for String {
    fn from(value: LifetimePreset) -> Self {
        value.as_str().to_owned()
    }
}

/// The lifetime asked for when a token is minted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLifetime {
    Preset(LifetimePreset),
    ExpiresAt(OffsetDateTime),
    NonExpiring,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_and_have_their_durations() {
        let days: Vec<i64> = LifetimePreset::ALL
            .iter()
            .map(|p| {
                LifetimePreset::parse(p.as_str())
                    .unwrap()
                    .duration()
                    .whole_hours()
            })
            .collect();
        assert_eq!(days, [1, 24, 720, 2_160, 8_760, 17_520, 43_800]);
        assert!(LifetimePreset::parse("1w").is_err());
    }
}
