//! Risk at a glance: what a token's metadata says needs a person's attention (revoked,
//! expired, expiring within the organization's warning window, leaked, never used, replaced
//! by a rotation), as badges, and the same summed over an owner's tokens for the lists.

use maud::{Markup, html};
use shared::model::{Organization, Token, TokenKind, TokenStatus};
use time::{Duration, OffsetDateTime};

/// The warning window when the organization has none (`expiryWarningDays` empty): a week.
pub const DEFAULT_WINDOW_DAYS: u16 = 7;

/// What needs attention about one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Risk {
    Revoked,
    Expired,
    /// Active, and expires within the warning window.
    Expiring,
    /// Reported leaked (the `leak` the API records); a leaked token is revoked too.
    Leaked,
    /// Active, never used since it was minted.
    NeverUsed,
    /// Replaced by a rotation, still working until its grace ends.
    Rotated,
}

impl Risk {
    /// The badge's words and class.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Self::Revoked => ("revoked", "revoked"),
            Self::Expired => ("expired", "expired"),
            Self::Expiring => ("expires soon", "expiring"),
            Self::Leaked => ("leaked", "leaked"),
            Self::NeverUsed => ("never used", "unused"),
            Self::Rotated => ("rotated", "rotated"),
        }
    }
}

/// The organization's warning window: the widest of its `expiryWarningDays`, or a week.
pub fn warning_window(org: &Organization) -> Duration {
    let days = org
        .token_policy
        .expiry_warning_days()
        .days()
        .iter()
        .copied()
        .max()
        .unwrap_or(DEFAULT_WINDOW_DAYS);
    Duration::days(i64::from(days))
}

/// What needs attention about `token` at `now`, most serious first.
pub fn risks(token: &Token, window: Duration, now: OffsetDateTime) -> Vec<Risk> {
    let mut found = Vec::new();
    if token.leak.is_some() {
        found.push(Risk::Leaked);
    }
    match token.status(now) {
        TokenStatus::Revoked => found.push(Risk::Revoked),
        TokenStatus::Expired => found.push(Risk::Expired),
        TokenStatus::Active => {
            if token.rotated_to.is_some() {
                found.push(Risk::Rotated);
            }
            if token.expires_at.is_some_and(|at| at - now <= window) {
                found.push(Risk::Expiring);
            }
            if token.last_used_at.is_none() && token.kind != TokenKind::Access {
                found.push(Risk::NeverUsed);
            }
        }
    }
    found
}

/// The badges of `token`: its status when nothing else is to be said ("active"), else what
/// needs attention.
pub fn badges(token: &Token, window: Duration, now: OffsetDateTime) -> Markup {
    let found = risks(token, window, now);
    html! {
        @if found.is_empty() {
            span class="badge active" { "active" }
        }
        @for risk in &found {
            @let (words, class) = risk.label();
            span class=(format!("badge {class}")) { (words) }
            " "
        }
    }
}

/// An owner's tokens, summed up for a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Tokens that work now (access tokens aside).
    pub live: usize,
    /// The soonest expiry among them.
    pub soonest_expiry: Option<OffsetDateTime>,
    pub expiring: usize,
    pub leaked: usize,
    pub never_used: usize,
}

impl Summary {
    pub fn of<'a>(
        tokens: impl IntoIterator<Item = &'a Token>,
        window: Duration,
        now: OffsetDateTime,
    ) -> Self {
        let mut summary = Self::default();
        for token in tokens {
            if token.kind == TokenKind::Access {
                continue;
            }
            let found = risks(token, window, now);
            if found.contains(&Risk::Leaked) {
                summary.leaked += 1;
            }
            if token.status(now) != TokenStatus::Active {
                continue;
            }
            summary.live += 1;
            if let Some(at) = token.expires_at {
                summary.soonest_expiry = Some(summary.soonest_expiry.map_or(at, |s| s.min(at)));
            }
            summary.expiring += usize::from(found.contains(&Risk::Expiring));
            summary.never_used += usize::from(found.contains(&Risk::NeverUsed));
        }
        summary
    }

    /// Badges for what needs attention, nothing when nothing does.
    pub fn badges(&self) -> Markup {
        html! {
            @if self.leaked > 0 { span class="badge leaked" { (self.leaked) " leaked" } " " }
            @if self.expiring > 0 { span class="badge expiring" { (self.expiring) " expiring soon" } " " }
            @if self.never_used > 0 { span class="badge unused" { (self.never_used) " never used" } }
        }
    }
}
