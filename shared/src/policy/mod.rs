//! Token lifetimes and the organization's token policy.
//!
//! A token's lifetime is a preset (`1h` … `5y`), an explicit expiry, or none at all; the
//! organization's policy supplies the default, caps the maximum, and decides whether tokens
//! that never expire are allowed. [`TokenPolicy::resolve_expiry`] turns a request into the
//! expiry that is stored (and that becomes the item's TTL).
//!
//! The lifetimes a token may be asked for are in `lifetime`; the counts of days the policy's
//! lifecycle rules are set in, in `days`. This module holds the policy and its resolution.

mod days;
mod lifetime;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::ParseError;
use crate::access::IpAllowlist;

pub use days::{DayCount, ExpiryWarningDays, LineageDays, UnusedDays};
pub use lifetime::{LifetimePreset, TokenLifetime};

/// A requested lifetime that the organization's policy does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("the lifetime exceeds the organization's maximum of {max}")]
    BeyondMaximum { max: LifetimePreset },
    #[error("the organization does not allow tokens that never expire")]
    NonExpiringNotAllowed,
    #[error("the expiry must be in the future")]
    ExpiryInPast,
}

/// An organization's rules for its tokens, and the networks its callers may come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawTokenPolicy")]
pub struct TokenPolicy {
    default_lifetime: LifetimePreset,
    max_lifetime: LifetimePreset,
    allow_non_expiring: bool,
    ip_allowlist: IpAllowlist,
    /// Whether a token may rotate itself (`POST /v1/tokens/self/rotate`). On by default; an
    /// organization that wants every new credential to come from an admin turns it off.
    allow_self_rotation: bool,
    /// How many days before its expiry a token is warned about (`token.expiring`), once per
    /// window. None by default.
    #[serde(default, skip_serializing_if = "ExpiryWarningDays::is_empty")]
    expiry_warning_days: ExpiryWarningDays,
    /// Tokens (access tokens aside) unused for this many days are revoked. Off by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoke_unused_after_days: Option<UnusedDays>,
    /// How far a self-rotation may renew a lineage: a self-rotated token may live until this
    /// many days after its lineage's first token was made. None by default: a self-rotated
    /// token keeps the expiry of the token it replaces, so a stolen token cannot renew itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_lineage_age_days: Option<LineageDays>,
}

/// The unchecked shape of a policy, so that deserializing one re-checks its invariant.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawTokenPolicy {
    default_lifetime: LifetimePreset,
    max_lifetime: LifetimePreset,
    allow_non_expiring: bool,
    #[serde(default)]
    ip_allowlist: IpAllowlist,
    #[serde(default = "yes")]
    allow_self_rotation: bool,
    #[serde(default)]
    expiry_warning_days: ExpiryWarningDays,
    #[serde(default)]
    revoke_unused_after_days: Option<UnusedDays>,
    #[serde(default)]
    max_lineage_age_days: Option<LineageDays>,
}

fn yes() -> bool {
    true
}

impl TryFrom<RawTokenPolicy> for TokenPolicy {
    type Error = ParseError;

    fn try_from(raw: RawTokenPolicy) -> Result<Self, Self::Error> {
        Ok(Self::new(
            raw.default_lifetime,
            raw.max_lifetime,
            raw.allow_non_expiring,
            raw.ip_allowlist,
        )?
        .with_self_rotation(raw.allow_self_rotation)
        .with_lifecycle(raw.expiry_warning_days, raw.revoke_unused_after_days)
        .with_max_lineage_age(raw.max_lineage_age_days))
    }
}

impl Default for TokenPolicy {
    /// Default one year, maximum one year, every token expires, any network.
    fn default() -> Self {
        Self {
            default_lifetime: LifetimePreset::OneYear,
            max_lifetime: LifetimePreset::OneYear,
            allow_non_expiring: false,
            ip_allowlist: IpAllowlist::default(),
            allow_self_rotation: true,
            expiry_warning_days: ExpiryWarningDays::default(),
            revoke_unused_after_days: None,
            max_lineage_age_days: None,
        }
    }
}

impl TokenPolicy {
    pub fn new(
        default_lifetime: LifetimePreset,
        max_lifetime: LifetimePreset,
        allow_non_expiring: bool,
        ip_allowlist: IpAllowlist,
    ) -> Result<Self, ParseError> {
        if default_lifetime > max_lifetime {
            return Err(ParseError::new(
                "the default lifetime must not exceed the maximum lifetime",
            ));
        }
        Ok(Self {
            default_lifetime,
            max_lifetime,
            allow_non_expiring,
            ip_allowlist,
            allow_self_rotation: true,
            expiry_warning_days: ExpiryWarningDays::default(),
            revoke_unused_after_days: None,
            max_lineage_age_days: None,
        })
    }

    /// The same policy, with self-rotations renewing a lineage up to `days` from its first
    /// token (`None`: never beyond the replaced token's expiry).
    pub fn with_max_lineage_age(mut self, days: Option<LineageDays>) -> Self {
        self.max_lineage_age_days = days;
        self
    }

    pub fn max_lineage_age_days(&self) -> Option<LineageDays> {
        self.max_lineage_age_days
    }

    /// The same policy, with these expiry warnings and this retirement of unused tokens.
    pub fn with_lifecycle(
        mut self,
        expiry_warning_days: ExpiryWarningDays,
        revoke_unused_after_days: Option<UnusedDays>,
    ) -> Self {
        self.expiry_warning_days = expiry_warning_days;
        self.revoke_unused_after_days = revoke_unused_after_days;
        self
    }

    pub fn expiry_warning_days(&self) -> &ExpiryWarningDays {
        &self.expiry_warning_days
    }

    pub fn revoke_unused_after_days(&self) -> Option<UnusedDays> {
        self.revoke_unused_after_days
    }

    /// Whether the scheduled lifecycle run has anything to do for this organization.
    pub fn has_lifecycle(&self) -> bool {
        !self.expiry_warning_days.is_empty() || self.revoke_unused_after_days.is_some()
    }

    /// The same policy, with self-rotation allowed or not.
    pub fn with_self_rotation(mut self, allowed: bool) -> Self {
        self.allow_self_rotation = allowed;
        self
    }

    pub fn allow_self_rotation(&self) -> bool {
        self.allow_self_rotation
    }

    pub fn default_lifetime(&self) -> LifetimePreset {
        self.default_lifetime
    }

    pub fn max_lifetime(&self) -> LifetimePreset {
        self.max_lifetime
    }

    pub fn allow_non_expiring(&self) -> bool {
        self.allow_non_expiring
    }

    pub fn ip_allowlist(&self) -> &IpAllowlist {
        &self.ip_allowlist
    }

    /// The expiry of a token minted at `now` with the `requested` lifetime (`None`: the
    /// default), or `Ok(None)` for a token that never expires. Expiries are whole seconds,
    /// because the TTL attribute is.
    pub fn resolve_expiry(
        &self,
        requested: Option<TokenLifetime>,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, PolicyViolation> {
        let now = truncate_to_seconds(now);
        let latest = now + self.max_lifetime.duration();
        match requested.unwrap_or(TokenLifetime::Preset(self.default_lifetime)) {
            TokenLifetime::NonExpiring if self.allow_non_expiring => Ok(None),
            TokenLifetime::NonExpiring => Err(PolicyViolation::NonExpiringNotAllowed),
            TokenLifetime::Preset(preset) if preset <= self.max_lifetime => {
                Ok(Some(now + preset.duration()))
            }
            TokenLifetime::Preset(_) => Err(PolicyViolation::BeyondMaximum {
                max: self.max_lifetime,
            }),
            TokenLifetime::ExpiresAt(at) => {
                let at = truncate_to_seconds(at);
                if at <= now {
                    Err(PolicyViolation::ExpiryInPast)
                } else if at > latest {
                    Err(PolicyViolation::BeyondMaximum {
                        max: self.max_lifetime,
                    })
                } else {
                    // In range (between now and the maximum), so UTC is representable.
                    Ok(Some(
                        at.checked_to_offset(time::UtcOffset::UTC).unwrap_or(at),
                    ))
                }
            }
        }
    }
}

impl TokenPolicy {
    /// The expiry of the token a token rotates itself into at `now`, the old one expiring at
    /// `expiry` (`None`: never), its lineage begun at `lineage_started` with its first token
    /// made to live `lifetime`. Without `maxLineageAgeDays`, the old expiry: a self-rotation
    /// never extends a lineage, so a stolen token cannot renew itself. With it, as long again
    /// as the lineage's first token was made to live (at most the maximum lifetime), but never
    /// past the lineage's age, and never shorter than the old expiry. A non-expiring token
    /// stays so only while the policy allows it and sets no lineage age.
    pub fn self_rotation_expiry(
        &self,
        expiry: Option<OffsetDateTime>,
        lifetime: Option<Duration>,
        lineage_started: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        let now = truncate_to_seconds(now);
        let cap = self
            .max_lineage_age_days
            .map(|days| truncate_to_seconds(lineage_started + days.duration()));
        let longest = now + self.max_lifetime.duration();
        match (expiry, cap) {
            (None, None) if self.allow_non_expiring => None,
            (None, cap) => Some(cap.map_or(longest, |cap| cap.min(longest)).max(now)),
            (Some(expiry), None) => Some(expiry),
            (Some(expiry), Some(cap)) => {
                let renewed = lifetime
                    .map_or(longest, |lifetime| now + lifetime)
                    .min(longest)
                    .min(cap);
                Some(renewed.max(expiry))
            }
        }
    }
}

/// Drops sub-second precision (DynamoDB's TTL, and most clients, count whole seconds).
pub fn truncate_to_seconds(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00.75 UTC);
    const NOW_SECONDS: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);

    fn policy(default: LifetimePreset, max: LifetimePreset, never: bool) -> TokenPolicy {
        TokenPolicy::new(default, max, never, IpAllowlist::default()).unwrap()
    }

    #[test]
    fn a_self_rotation_keeps_the_expiry_unless_the_policy_lets_a_lineage_age() {
        let started = NOW_SECONDS - Duration::days(10);
        let expiry = Some(NOW_SECONDS + Duration::days(20));
        let thirty = Some(Duration::days(30));
        let strict = policy(LifetimePreset::ThirtyDays, LifetimePreset::OneYear, false);
        // By default a self-rotation never extends its lineage, whenever it happens.
        assert_eq!(
            strict.self_rotation_expiry(expiry, thirty, started, NOW),
            expiry
        );
        assert_eq!(
            strict.self_rotation_expiry(expiry, thirty, started, NOW + Duration::days(19)),
            expiry
        );
        // A lineage age renews by the first token's lifetime, up to the lineage's age.
        let aging = strict
            .clone()
            .with_max_lineage_age(Some(LineageDays::parse(90).unwrap()));
        assert_eq!(
            aging.self_rotation_expiry(expiry, thirty, started, NOW),
            Some(NOW_SECONDS + Duration::days(30))
        );
        let late = NOW_SECONDS + Duration::days(75);
        assert_eq!(
            aging.self_rotation_expiry(Some(late + Duration::days(2)), thirty, started, late),
            Some(started + Duration::days(90))
        );
        // Past the lineage's age, nothing shortens or extends: the old expiry stays.
        let long_ago = started - Duration::days(200);
        assert_eq!(
            aging.self_rotation_expiry(expiry, thirty, long_ago, NOW),
            expiry
        );
        // Never beyond the maximum lifetime from now.
        let short_max = policy(LifetimePreset::OneDay, LifetimePreset::OneDay, false)
            .with_max_lineage_age(Some(LineageDays::parse(90).unwrap()));
        assert_eq!(
            short_max.self_rotation_expiry(Some(NOW_SECONDS), thirty, started, NOW),
            Some(NOW_SECONDS + Duration::days(1))
        );
        // Non-expiring tokens stay so only while allowed and no lineage age is set.
        let lax = policy(LifetimePreset::OneYear, LifetimePreset::OneYear, true);
        assert_eq!(lax.self_rotation_expiry(None, None, started, NOW), None);
        assert_eq!(
            strict.self_rotation_expiry(None, None, started, NOW),
            Some(NOW_SECONDS + Duration::days(365))
        );
        assert_eq!(
            lax.with_max_lineage_age(Some(LineageDays::parse(90).unwrap()))
                .self_rotation_expiry(None, None, started, NOW),
            Some(started + Duration::days(90))
        );
    }

    #[test]
    fn the_default_lifetime_is_one_year() {
        let expiry = TokenPolicy::default().resolve_expiry(None, NOW).unwrap();
        assert_eq!(expiry, Some(NOW_SECONDS + Duration::days(365)));
    }

    #[test]
    fn presets_up_to_the_maximum_are_allowed_and_beyond_it_refused() {
        let policy = policy(
            LifetimePreset::ThirtyDays,
            LifetimePreset::NinetyDays,
            false,
        );
        let ninety = Some(TokenLifetime::Preset(LifetimePreset::NinetyDays));
        assert_eq!(
            policy.resolve_expiry(ninety, NOW).unwrap(),
            Some(NOW_SECONDS + Duration::days(90))
        );
        let year = Some(TokenLifetime::Preset(LifetimePreset::OneYear));
        assert_eq!(
            policy.resolve_expiry(year, NOW),
            Err(PolicyViolation::BeyondMaximum {
                max: LifetimePreset::NinetyDays
            })
        );
    }

    #[test]
    fn explicit_expiries_must_be_future_and_within_the_maximum() {
        let policy = TokenPolicy::default();
        let at = |when| Some(TokenLifetime::ExpiresAt(when));
        assert_eq!(
            policy
                .resolve_expiry(at(NOW + Duration::days(10)), NOW)
                .unwrap(),
            Some(NOW_SECONDS + Duration::days(10))
        );
        assert_eq!(
            policy.resolve_expiry(at(NOW - Duration::seconds(1)), NOW),
            Err(PolicyViolation::ExpiryInPast)
        );
        assert!(
            policy
                .resolve_expiry(at(NOW_SECONDS + Duration::days(365)), NOW)
                .is_ok()
        );
        assert!(matches!(
            policy.resolve_expiry(
                at(NOW_SECONDS + Duration::days(365) + Duration::seconds(1)),
                NOW
            ),
            Err(PolicyViolation::BeyondMaximum { .. })
        ));
    }

    #[test]
    fn non_expiring_tokens_need_the_policy_to_allow_them() {
        let never = Some(TokenLifetime::NonExpiring);
        assert_eq!(
            TokenPolicy::default().resolve_expiry(never, NOW),
            Err(PolicyViolation::NonExpiringNotAllowed)
        );
        let lenient = policy(LifetimePreset::OneYear, LifetimePreset::FiveYears, true);
        assert_eq!(lenient.resolve_expiry(never, NOW), Ok(None));
    }

    #[test]
    fn a_default_beyond_the_maximum_is_not_a_policy() {
        assert!(
            TokenPolicy::new(
                LifetimePreset::TwoYears,
                LifetimePreset::OneYear,
                false,
                IpAllowlist::default()
            )
            .is_err()
        );
        let json = r#"{"defaultLifetime":"2y","maxLifetime":"1y","allowNonExpiring":false}"#;
        assert!(serde_json::from_str::<TokenPolicy>(json).is_err());
    }

    #[test]
    fn self_rotation_is_allowed_unless_the_policy_turns_it_off() {
        let stored = r#"{"defaultLifetime":"1y","maxLifetime":"1y","allowNonExpiring":false}"#;
        let policy: TokenPolicy = serde_json::from_str(stored).unwrap();
        assert!(policy.allow_self_rotation());
        let off = policy.with_self_rotation(false);
        let json = serde_json::to_string(&off).unwrap();
        assert!(
            !serde_json::from_str::<TokenPolicy>(&json)
                .unwrap()
                .allow_self_rotation()
        );
    }

    #[test]
    fn explicit_expiries_at_the_ends_of_time_are_refused_not_overflowed() {
        use time::format_description::well_known::Rfc3339;
        let policy = TokenPolicy::default();
        for text in ["9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00+00:01"] {
            let at = OffsetDateTime::parse(text, &Rfc3339).unwrap();
            assert!(
                policy
                    .resolve_expiry(Some(TokenLifetime::ExpiresAt(at)), NOW)
                    .is_err()
            );
        }
        let local = OffsetDateTime::parse("2026-03-02T12:00:00+02:00", &Rfc3339).unwrap();
        let resolved = policy.resolve_expiry(Some(TokenLifetime::ExpiresAt(local)), NOW);
        assert_eq!(resolved.unwrap().unwrap().offset(), time::UtcOffset::UTC);
    }
}
