//! Leak response: a token reported as seen in public (by GitHub's secret scanning, or by
//! whoever found it, through the public revocation endpoint) is revoked at once, and its
//! organization is told where it leaked.
//!
//! For each reported text:
//!
//! 1. it is parsed as one of this deployment's tokens (prefix, checksum, the deployment's
//!    tag) with no I/O: anything else is not ours, and costs no read;
//! 2. its record is read and its hash compared (constant time): no record, or another hash,
//!    is not ours either;
//! 3. a token of ours gets its [`Leak`] recorded (one write, the audit trail's
//!    `token.leaked`, the first report's only), whether it is live, expired or already
//!    revoked: a token rotated away is the lineage's credential as much as its successor,
//!    which a thief who self-rotated it may hold;
//! 4. its whole lineage is then revoked, as an admin's revocation is (`token.revoked`, by the
//!    same reporter, for each member still usable): the successors it was rotated into, the
//!    tokens it was rotated from still in their grace, and their access tokens.
//!
//! Every step is idempotent, so a report that failed half-way is finished by sending it
//! again. The texts a reporter sends (where it found the token) are stored cut to length,
//! stripped of control characters, and with the token's own text cut out.

use std::net::IpAddr;

use futures_util::StreamExt;
use shared::model::{Actor, Leak};
use shared::text::sanitize_metadata;
use shared::token::{ParsedToken, TokenSecret};
use store::StoreError;
use store::counters::Admission;
use time::{Duration, OffsetDateTime};

use crate::{UseCaseError, UseCases};

/// How many reported tokens are looked at, at once.
const CONCURRENCY: usize = 8;
const MAX_SOURCE_CHARS: usize = 64;
const MAX_URL_CHARS: usize = 2048;
/// What stands in, in a reporter's text, for the token it reports.
const REDACTED: &str = "[token]";
/// The counters' scope for the public revocation endpoint.
const PUBLIC_SCOPE: &str = "public-revocation";

/// Where a reported token was found, as its reporter says.
#[derive(Debug, Clone, Default)]
pub struct Sighting {
    /// What kind of place (GitHub's `source`: `content`, `commit`, `npm`, ...).
    pub source: Option<String>,
    pub url: Option<String>,
}

/// What a reported text turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// One of this deployment's tokens: it is revoked now (or was already, or expired).
    Ours,
    /// Not a token this deployment minted: malformed, foreign, forged, or unknown.
    NotOurs,
}

/// The senders this container saw refused by the public revocation endpoint's limit, until
/// when: their next requests in the window are refused with no write at all (counting a
/// refused request is a conditional write that fails, and still costs a write unit). Bounded:
/// past [`Self::MAX`] senders it starts over (the shared counter still refuses them).
#[derive(Debug, Default)]
pub struct RefusedSenders(std::sync::Mutex<std::collections::HashMap<String, OffsetDateTime>>);

impl RefusedSenders {
    const MAX: usize = 10_000;

    /// How many more seconds `subject` is refused at `now`, if it is.
    fn refused(&self, subject: &str, now: OffsetDateTime) -> Option<i64> {
        let senders = self.0.lock().unwrap_or_else(|e| e.into_inner());
        senders
            .get(subject)
            .map(|until| (*until - now).whole_seconds())
            .filter(|left| *left > 0)
    }

    fn refuse(&self, subject: String, until: OffsetDateTime) {
        let mut senders = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if senders.len() >= Self::MAX {
            senders.clear();
        }
        senders.insert(subject, until);
    }
}

/// The public revocation endpoint's rate limit: at most `limit` requests per source address
/// (an IPv6 address's /64) per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicRevocationLimit {
    pub limit: u32,
    pub window: Duration,
}

impl Default for PublicRevocationLimit {
    fn default() -> Self {
        Self {
            limit: 60,
            window: Duration::hours(1),
        }
    }
}

impl UseCases {
    /// Handles the reports of one request as `reporter` (an actor of kind
    /// `secret_scanning`): a verdict for each, in order. A store failure fails the whole
    /// request (the reporter sends it again; what was done is not done twice).
    pub async fn report_leaks(
        &self,
        reporter: &Actor,
        reports: Vec<(TokenSecret, Sighting)>,
    ) -> Result<Vec<Verdict>, UseCaseError> {
        futures_util::stream::iter(reports)
            .map(|(secret, sighting)| self.report_leak(reporter, secret, sighting))
            .buffered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// One reported token (see the module's steps).
    pub async fn report_leak(
        &self,
        reporter: &Actor,
        secret: TokenSecret,
        sighting: Sighting,
    ) -> Result<Verdict, UseCaseError> {
        let text = secret.expose_secret().to_owned();
        let Ok(parsed) = ParsedToken::parse(&self.token_format, secret) else {
            return Ok(Verdict::NotOurs);
        };
        let (org, owner, id) = (parsed.org(), parsed.owner(), parsed.id());
        for _attempt in 0..3 {
            let Some(mut token) = self.store.get_token(org, owner, id).await? else {
                return Ok(Verdict::NotOurs);
            };
            if !token.hash.matches(&parsed) {
                return Ok(Verdict::NotOurs);
            }
            let now = self.now();
            if token.leak.is_none() {
                token.leak = Some(Box::new(Leak {
                    reported_at: now,
                    reported_by: reporter.clone(),
                    source: clean(sighting.source.as_deref(), &text, MAX_SOURCE_CHARS),
                    url: clean(sighting.url.as_deref(), &text, MAX_URL_CHARS),
                }));
                match self.store.update_token(&token).await {
                    Ok(_) => {}
                    // Used or changed meanwhile: read it again.
                    Err(StoreError::VersionConflict { .. }) => continue,
                    Err(error) => return Err(error.into()),
                }
            }
            // Revoking what is already revoked writes nothing; what is still usable in the
            // lineage (successors, predecessors in their grace, access tokens) is revoked now.
            self.finish_revocation(reporter, &parsed).await?;
            tracing::warn!(
                token = parsed.display_prefix(),
                org = %org,
                reporter = %reporter.id,
                was = ?token.status(now),
                "revoked a token reported as leaked, with its lineage"
            );
            return Ok(Verdict::Ours);
        }
        Err(UseCaseError::Conflict(
            "the token keeps changing; report it again".into(),
        ))
    }

    /// Revokes the reported token's lineage; a token removed meanwhile (its TTL) is gone
    /// anyway.
    async fn finish_revocation(
        &self,
        reporter: &Actor,
        parsed: &ParsedToken,
    ) -> Result<(), UseCaseError> {
        match self
            .revoke_lineage(reporter, parsed.org(), parsed.owner(), parsed.id())
            .await
        {
            Err(UseCaseError::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    /// The public revocation endpoint's request from `source`: tokens of this deployment's
    /// format among `texts` are revoked as reported by `reporter` (see
    /// [`Self::report_leaks`]), once the request is counted against the sender's rate limit.
    /// A request that holds none (garbage, another vendor's tokens, a forgery) is answered
    /// at once: nothing is read, counted or written for it.
    pub async fn revoke_reported_publicly(
        &self,
        reporter: &Actor,
        source: Option<IpAddr>,
        texts: Vec<TokenSecret>,
    ) -> Result<(), UseCaseError> {
        let ours: Vec<(TokenSecret, Sighting)> = texts
            .into_iter()
            .filter_map(|text| ParsedToken::parse(&self.token_format, text).ok())
            .map(|parsed| {
                let text = TokenSecret::new(parsed.secret().expose_secret().to_owned());
                (text, Sighting::default())
            })
            .collect();
        if ours.is_empty() {
            return Ok(());
        }
        self.admit_public_revocation(source).await?;
        self.report_leaks(reporter, ours).await.map(|_| ())
    }

    /// Counts a request to the public revocation endpoint from `source` against its rate
    /// limit, before its tokens are looked at. A sender this container already saw refused
    /// in the window is refused again without a write.
    pub async fn admit_public_revocation(
        &self,
        source: Option<IpAddr>,
    ) -> Result<(), UseCaseError> {
        let PublicRevocationLimit { limit, window } = self.public_revocation;
        let subject = rate_subject(source);
        let now = self.now();
        if let Some(retry_after) = self.refused_senders.refused(&subject, now) {
            return Err(UseCaseError::RateLimited { retry_after });
        }
        match self
            .store
            .count_request(PUBLIC_SCOPE, &subject, window, limit, now)
            .await?
        {
            Admission::Admitted => Ok(()),
            Admission::Refused { retry_after } => {
                self.refused_senders
                    .refuse(subject, now + Duration::seconds(retry_after));
                Err(UseCaseError::RateLimited { retry_after })
            }
        }
    }
}

/// A reporter's text, made safe to store: `None` when empty, the token cut out, control
/// characters replaced, at most `max_chars`.
fn clean(value: Option<&str>, token: &str, max_chars: usize) -> Option<String> {
    let value = value?.trim();
    if value.is_empty() {
        return None;
    }
    let redacted = if token.is_empty() {
        value.to_owned()
    } else {
        value.replace(token, REDACTED)
    };
    Some(sanitize_metadata(&redacted, max_chars))
}

/// Whose budget a request counts against: its IPv4 address, or its IPv6 address's /64 (one
/// subscriber's usual allocation, so rotating through it buys nothing).
fn rate_subject(source: Option<IpAddr>) -> String {
    match source {
        Some(IpAddr::V4(address)) => address.to_string(),
        Some(IpAddr::V6(address)) => match address.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let segments = address.segments();
                format!(
                    "{:x}:{:x}:{:x}:{:x}::/64",
                    segments[0], segments[1], segments[2], segments[3]
                )
            }
        },
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporters_texts_lose_the_token_and_control_characters() {
        let token = "sat_secret";
        assert_eq!(
            clean(Some(" https://x.test/a?t=sat_secret\n "), token, 100),
            Some("https://x.test/a?t=[token]".into())
        );
        assert_eq!(clean(Some("a\u{7}b"), token, 100), Some("a?b".into()));
        assert_eq!(clean(Some("   "), token, 100), None);
        assert_eq!(clean(None, token, 100), None);
        assert_eq!(clean(Some("abcdef"), token, 3), Some("abc".into()));
    }

    #[test]
    fn ipv6_senders_share_their_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(rate_subject(Some(a)), rate_subject(Some(b)));
        assert_ne!(rate_subject(Some(a)), rate_subject(Some(c)));
        assert_eq!(rate_subject(Some(a)), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(rate_subject(Some(mapped)), "192.0.2.7");
        assert_eq!(rate_subject(None), "unknown");
    }
}
