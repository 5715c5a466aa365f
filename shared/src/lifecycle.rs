//! The token lifecycle an organization's policy asks for: expiry warnings once per window, and
//! the retirement of tokens nobody uses. Pure decisions over a token's metadata and the clock;
//! the scheduled run (`usecases::lifecycle`) finds the candidates and writes.
//!
//! * A token is **tracked** while it can still be warned about or retired: a token of an
//!   account or an org-wide token (never an OAuth2 access token), not revoked and not rotated.
//!   The store indexes only tracked tokens, so the run reads only those.
//! * **Warnings.** A token is in window `d` when it expires within `d` days and not within the
//!   next smaller window. It is warned once per window: a token warned for window 3 is not
//!   warned again for 14 or 3, only for 1. A token born inside a window (minted for less than
//!   `d` days) is not warned for it: its holder chose that lifetime. A run that missed a window
//!   (a long outage) warns for the window the token is in now, not for each one it crossed.
//! * **Retirement.** A tracked token that is still active is revoked when its last use (its
//!   creation, if it was never used) is `revokeUnusedAfterDays` or more ago, to the second.

use time::{Duration, OffsetDateTime};

use crate::model::{Token, TokenKind, TokenStatus};
use crate::policy::{ExpiryWarningDays, UnusedDays};

/// The rules' names, as the actor of kind `policy` names them.
pub const EXPIRY_WARNING_RULE: &str = "expiryWarningDays";
pub const UNUSED_RULE: &str = "revokeUnusedAfterDays";

/// How far back a run reaches before the last one's end, so that a token the index showed
/// late (a global secondary index is eventually consistent) is still found.
pub const CHECKPOINT_OVERLAP: Duration = Duration::minutes(5);

fn day_count(days: u16) -> Duration {
    Duration::days(i64::from(days))
}

/// Whether the lifecycle can still act on `token` (see the module's notes).
pub fn is_tracked(token: &Token) -> bool {
    token.kind != TokenKind::Access && token.revoked_at.is_none() && token.rotated_to.is_none()
}

/// When `token` was last used, or created if never.
pub fn unused_since(token: &Token) -> OffsetDateTime {
    token.last_used_at.unwrap_or(token.created_at)
}

/// The window `token` is due a warning for at `now`, if any.
pub fn warning_due(token: &Token, windows: &ExpiryWarningDays, now: OffsetDateTime) -> Option<u16> {
    let expiry = token.expires_at?;
    if !is_tracked(token) || token.status(now) != TokenStatus::Active {
        return None;
    }
    let remaining = expiry - now;
    let window = windows
        .days()
        .iter()
        .rev()
        .copied()
        .find(|&days| remaining <= day_count(days))?;
    let born_inside = token.created_at >= expiry - day_count(window);
    let warned = token
        .expiry_warning
        .as_ref()
        .is_some_and(|warning| warning.days <= window);
    (!born_inside && !warned).then_some(window)
}

/// Whether `token` is due retirement at `now`, unused for `after` or more.
pub fn retirement_due(token: &Token, after: UnusedDays, now: OffsetDateTime) -> bool {
    is_tracked(token)
        && token.status(now) == TokenStatus::Active
        && unused_since(token) + after.duration() <= now
}

/// Why a retired token was revoked, as its event says.
pub fn retirement_reason(token: &Token, after: UnusedDays) -> String {
    let since = unused_since(token)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    match token.last_used_at {
        Some(_) => format!("unused for {} days: last used {since}", after.days()),
        None => format!("unused for {} days: never used since {since}", after.days()),
    }
}

/// Where a run resumes the warnings: the end of the last complete run, and the windows it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub through: OffsetDateTime,
    pub windows: ExpiryWarningDays,
}

/// The expiries (`(after, up to]`) whose tokens may have entered a window since `checkpoint`,
/// merged where they overlap. Without a checkpoint for these very windows (the first run, or
/// the policy changed), every token inside a window now.
pub fn expiry_ranges(
    windows: &ExpiryWarningDays,
    checkpoint: Option<&Checkpoint>,
    now: OffsetDateTime,
) -> Vec<(OffsetDateTime, OffsetDateTime)> {
    let resume = checkpoint
        .filter(|checkpoint| checkpoint.windows == *windows && checkpoint.through <= now)
        .map(|checkpoint| checkpoint.through - CHECKPOINT_OVERLAP);
    let mut ranges: Vec<(OffsetDateTime, OffsetDateTime)> = windows
        .days()
        .iter()
        .map(|&days| {
            let upto = now + day_count(days);
            let after = resume.map_or(now, |resume| (resume + day_count(days)).max(now));
            (after, upto)
        })
        .filter(|(after, upto)| after < upto)
        .collect();
    ranges.sort_by_key(|range| range.0);
    let mut merged: Vec<(OffsetDateTime, OffsetDateTime)> = Vec::with_capacity(ranges.len());
    for (after, upto) in ranges {
        match merged.last_mut() {
            Some(last) if after <= last.1 => last.1 = last.1.max(upto),
            _ => merged.push((after, upto)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Scopes;
    use crate::ids::{OrgId, ServiceAccountId};
    use crate::model::{Actor, ExpiryWarning, NewToken};
    use crate::text::DisplayName;
    use crate::token::{ParsedToken, TokenFormat, TokenOwner};
    use time::macros::datetime;

    const MINTED: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
    const DAY: Duration = Duration::days(1);

    fn windows(days: &[i64]) -> ExpiryWarningDays {
        ExpiryWarningDays::parse(days).unwrap()
    }

    fn token(lifetime: Duration) -> Token {
        let org = OrgId::parse("acme").unwrap();
        let owner = TokenOwner::Account(ServiceAccountId::generate().unwrap());
        let parsed = ParsedToken::generate(&TokenFormat::generate().unwrap(), &org, owner).unwrap();
        let fields = NewToken {
            name: DisplayName::parse("deploy").unwrap(),
            description: None,
            scopes: Scopes::default(),
            expires_at: Some(MINTED + lifetime),
        };
        Token::new(
            TokenKind::ServiceAccount,
            &parsed,
            fields,
            Actor::system("test"),
            MINTED,
        )
    }

    fn warned(mut token: Token, days: u16) -> Token {
        token.expiry_warning = Some(Box::new(ExpiryWarning {
            days,
            warned_at: MINTED,
            warned_by: Actor::policy(EXPIRY_WARNING_RULE),
        }));
        token
    }

    #[test]
    fn a_token_is_due_the_window_it_is_in_once() {
        let w = windows(&[1, 14, 3]);
        assert_eq!(w.days(), [14, 3, 1]);
        let t = token(DAY * 30);
        let expiry = MINTED + DAY * 30;
        assert_eq!(
            warning_due(&t, &w, expiry - DAY * 14 - Duration::SECOND),
            None
        );
        assert_eq!(warning_due(&t, &w, expiry - DAY * 14), Some(14));
        assert_eq!(warning_due(&t, &w, expiry - DAY * 4), Some(14));
        assert_eq!(
            warning_due(&warned(t.clone(), 14), &w, expiry - DAY * 4),
            None
        );
        assert_eq!(
            warning_due(&warned(t.clone(), 14), &w, expiry - DAY * 3),
            Some(3)
        );
        // A missed window: the one it is in now, once.
        assert_eq!(
            warning_due(&warned(t.clone(), 14), &w, expiry - DAY / 2),
            Some(1)
        );
        assert_eq!(
            warning_due(&warned(t.clone(), 1), &w, expiry - DAY / 2),
            None
        );
        assert_eq!(warning_due(&t, &w, expiry), None);
    }

    #[test]
    fn revoked_rotated_expired_access_and_born_inside_tokens_are_not_warned() {
        let w = windows(&[14, 3, 1]);
        let expiry = MINTED + DAY * 30;
        let at = expiry - DAY * 2;
        let mut revoked = token(DAY * 30);
        revoked.revoke(Actor::system("test"), MINTED, DAY);
        assert_eq!(warning_due(&revoked, &w, at), None);
        let mut rotated = token(DAY * 30);
        rotated.rotated_to = Some(crate::ids::TokenId::generate().unwrap());
        assert_eq!(warning_due(&rotated, &w, at), None);
        let mut access = token(DAY * 30);
        access.kind = TokenKind::Access;
        assert_eq!(warning_due(&access, &w, at), None);
        // Minted for two days: born inside 14 and 3, warned for 1 only.
        let short = token(DAY * 2);
        assert_eq!(warning_due(&short, &w, MINTED + DAY / 2), None);
        assert_eq!(warning_due(&short, &w, MINTED + DAY), Some(1));
        assert_eq!(
            warning_due(&token(DAY * 30), &ExpiryWarningDays::default(), at),
            None
        );
    }

    #[test]
    fn retirement_is_due_at_the_threshold_and_not_a_second_earlier() {
        let after = UnusedDays::parse(90).unwrap();
        let mut t = token(DAY * 365);
        assert!(!retirement_due(
            &t,
            after,
            MINTED + DAY * 90 - Duration::SECOND
        ));
        assert!(retirement_due(&t, after, MINTED + DAY * 90));
        assert!(retirement_reason(&t, after).contains("never used since 2026-01-01"));
        t.last_used_at = Some(MINTED + DAY * 10);
        assert!(!retirement_due(&t, after, MINTED + DAY * 90));
        assert!(retirement_due(&t, after, MINTED + DAY * 100));
        assert!(retirement_reason(&t, after).contains("last used 2026-01-11"));
        t.kind = TokenKind::Access;
        assert!(!retirement_due(&t, after, MINTED + DAY * 200));
    }

    #[test]
    fn ranges_cover_the_crossings_since_the_checkpoint_or_every_window() {
        let w = windows(&[14, 3, 1]);
        let now = MINTED + DAY * 100;
        assert_eq!(expiry_ranges(&w, None, now), [(now, now + DAY * 14)]);
        let checkpoint = Checkpoint {
            through: now - Duration::hours(1),
            windows: w.clone(),
        };
        let resume = checkpoint.through - CHECKPOINT_OVERLAP;
        assert_eq!(
            expiry_ranges(&w, Some(&checkpoint), now),
            [
                (resume + DAY, now + DAY),
                (resume + DAY * 3, now + DAY * 3),
                (resume + DAY * 14, now + DAY * 14),
            ]
        );
        let changed = Checkpoint {
            windows: windows(&[14]),
            ..checkpoint
        };
        assert_eq!(
            expiry_ranges(&w, Some(&changed), now),
            [(now, now + DAY * 14)]
        );
        assert!(expiry_ranges(&ExpiryWarningDays::default(), None, now).is_empty());
    }

    #[test]
    fn policies_bound_their_windows_and_thresholds() {
        for bad in [&[0][..], &[366], &[3, 3], &[1, 2, 3, 4, 5, 6], &[-1]] {
            assert!(ExpiryWarningDays::parse(bad).is_err(), "{bad:?}");
        }
        assert!(UnusedDays::parse(0).is_err());
        assert!(UnusedDays::parse(3651).is_err());
        assert_eq!(UnusedDays::parse(90).unwrap().days(), 90);
    }
}
