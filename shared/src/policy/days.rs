//! The numbers of days an organization's lifecycle rules are set in: the windows of expiry
//! warnings, after how long unused tokens are revoked, and how long a lineage may live.

use serde::{Deserialize, Serialize};
use time::Duration;

use crate::ParseError;

/// The windows of expiry warnings: at most [`Self::MAX`] distinct numbers of days, each from 1
/// to 365, kept largest first (`[14, 3, 1]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<u16>", into = "Vec<u16>")]
pub struct ExpiryWarningDays(Vec<u16>);

impl ExpiryWarningDays {
    pub const MAX: usize = 5;
    pub const LONGEST: u16 = 365;

    pub fn parse(days: &[i64]) -> Result<Self, ParseError> {
        let invalid =
            || ParseError::new("at most 5 distinct whole numbers of days, each from 1 to 365");
        if days.len() > Self::MAX {
            return Err(invalid());
        }
        let mut windows = days
            .iter()
            .map(|&day| {
                u16::try_from(day)
                    .ok()
                    .filter(|day| (1..=Self::LONGEST).contains(day))
                    .ok_or_else(invalid)
            })
            .collect::<Result<Vec<_>, _>>()?;
        windows.sort_unstable_by(|a, b| b.cmp(a));
        if windows.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(invalid());
        }
        Ok(Self(windows))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The windows, largest first.
    pub fn days(&self) -> &[u16] {
        &self.0
    }
}

impl TryFrom<Vec<u16>> for ExpiryWarningDays {
    type Error = ParseError;

    fn try_from(days: Vec<u16>) -> Result<Self, Self::Error> {
        Self::parse(&days.into_iter().map(i64::from).collect::<Vec<_>>())
    }
}

impl From<ExpiryWarningDays> for Vec<u16> {
    fn from(value: ExpiryWarningDays) -> Self {
        value.0
    }
}

/// A number of days from 1 to 3650, as a policy's rules count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct DayCount(u16);

/// After how many days unused a token is revoked.
pub type UnusedDays = DayCount;

/// How long a lineage of self-rotated tokens may live, from its first token's creation.
pub type LineageDays = DayCount;

impl DayCount {
    pub fn parse(days: i64) -> Result<Self, ParseError> {
        u16::try_from(days)
            .ok()
            .filter(|days| (1..=3650).contains(days))
            .map(Self)
            .ok_or_else(|| ParseError::new("a whole number of days from 1 to 3650"))
    }

    pub fn days(self) -> u16 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::days(i64::from(self.0))
    }
}

impl TryFrom<u16> for DayCount {
    type Error = ParseError;

    fn try_from(days: u16) -> Result<Self, Self::Error> {
        Self::parse(i64::from(days))
    }
}

impl From<DayCount> for u16 {
    fn from(value: DayCount) -> Self {
        value.0
    }
}
