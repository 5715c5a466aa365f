//! A rotation lineage is one credential: a token, the tokens it was rotated from and into, and
//! theirs, linked by `rotatedFrom` and `rotatedTo`. Revoking, reporting as leaked or reusing
//! any member ends every member (and the OAuth2 access tokens issued for any), so a thief who
//! self-rotated a stolen token cannot outrun its owner, however long the chain.
//!
//! Members are found among an owner's tokens as read in one listing, by following the links
//! both ways, not by walking them one read at a time: the sweep costs one listing however
//! many rotations there were, and repeating it always finishes.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::{Token, TokenKind};
use crate::ids::TokenId;

/// The ids of `id`'s lineage among `tokens` (`id` included, even when it is not among them).
pub fn members(tokens: &[Token], id: &TokenId) -> BTreeSet<TokenId> {
    let mut links: BTreeMap<&TokenId, Vec<&TokenId>> = BTreeMap::new();
    for token in tokens {
        for other in [&token.rotated_from, &token.rotated_to]
            .into_iter()
            .flatten()
        {
            links.entry(&token.id).or_default().push(other);
            links.entry(other).or_default().push(&token.id);
        }
    }
    let mut found = BTreeSet::from([id.clone()]);
    let mut next = vec![id];
    while let Some(current) = next.pop() {
        for linked in links.get(current).into_iter().flatten() {
            if found.insert((*linked).clone()) {
                next.push(linked);
            }
        }
    }
    found
}

/// The tokens a revocation of `id`'s lineage at `at` must still revoke: its members, and the
/// access tokens issued for any of them, that are still usable at `at` (not revoked by then,
/// a rotation's grace period still running counts as usable, and not expired).
pub fn to_revoke<'a>(tokens: &'a [Token], id: &TokenId, at: OffsetDateTime) -> Vec<&'a Token> {
    let members = members(tokens, id);
    tokens
        .iter()
        .filter(|token| {
            members.contains(&token.id)
                || (token.kind == TokenKind::Access
                    && token
                        .issued_for
                        .as_ref()
                        .is_some_and(|secret| members.contains(secret)))
        })
        .filter(|token| {
            token.revoked_at.is_none_or(|revoked| revoked > at)
                && token.expires_at.is_none_or(|expiry| expiry > at)
        })
        .collect()
}

impl Token {
    /// Whether the token was rotated away and its grace period is over at `now`: presenting
    /// it then is a reuse, which ends its whole lineage.
    pub fn rotated_away(&self, now: OffsetDateTime) -> bool {
        self.rotated_to.is_some() && self.revoked_at.is_some_and(|at| at <= now)
    }

    /// When the token's lineage began: the first token's creation (kept by self-rotations;
    /// an admin's rotation starts a new count).
    pub fn lineage_started(&self) -> OffsetDateTime {
        self.lineage_started_at.unwrap_or(self.created_at)
    }

    /// How long the lineage's first token was made to live (`None`: never expires).
    pub fn lineage_lifetime(&self) -> Option<time::Duration> {
        // A first token's own (and a self-rotated one's from before lifetimes were carried).
        self.lineage_lifetime_seconds
            .map(time::Duration::seconds)
            .or_else(|| self.expires_at.map(|expiry| expiry - self.created_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Scopes;
    use crate::ids::{OrgId, ServiceAccountId};
    use crate::model::{Actor, NewToken};
    use crate::text::DisplayName;
    use crate::token::{ParsedToken, TokenFormat, TokenOwner};
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-05-01 00:00 UTC);

    fn token(format: &TokenFormat, owner: &TokenOwner, kind: TokenKind) -> Token {
        let org = OrgId::parse("acme").unwrap();
        let parsed = ParsedToken::generate(format, &org, owner.clone()).unwrap();
        let fields = NewToken {
            name: DisplayName::parse("ci").unwrap(),
            description: None,
            scopes: Scopes::default(),
            expires_at: Some(NOW + Duration::days(30)),
        };
        Token::new(kind, &parsed, fields, Actor::system("test"), NOW)
    }

    /// A chain of `n` rotations, each old one revoked at `NOW` (grace over), and one more
    /// token of the same owner outside it.
    fn chain(n: usize) -> Vec<Token> {
        let format = TokenFormat::generate().unwrap();
        let owner = TokenOwner::Account(ServiceAccountId::generate().unwrap());
        let mut tokens: Vec<Token> = (0..=n)
            .map(|_| token(&format, &owner, TokenKind::ServiceAccount))
            .collect();
        for i in 0..n {
            let next = tokens[i + 1].id.clone();
            let previous = tokens[i].id.clone();
            tokens[i].rotated_to = Some(next);
            tokens[i].revoked_at = Some(NOW);
            tokens[i + 1].rotated_from = Some(previous);
        }
        tokens.push(token(&format, &owner, TokenKind::ServiceAccount));
        tokens
    }

    #[test]
    fn a_lineage_is_found_from_any_member_both_ways_however_long() {
        let tokens = chain(250);
        let unrelated = tokens[251].id.clone();
        for start in [0, 100, 250] {
            let members = members(&tokens, &tokens[start].id);
            assert_eq!(members.len(), 251, "from {start}");
            assert!(!members.contains(&unrelated));
        }
        assert_eq!(members(&tokens, &unrelated).len(), 1);
    }

    #[test]
    fn only_live_members_and_their_access_tokens_are_left_to_revoke() {
        let mut tokens = chain(3);
        let format = TokenFormat::generate().unwrap();
        let owner = TokenOwner::Account(tokens[0].account.clone().unwrap());
        // A member in its grace period, an access token of the head, one of the unrelated.
        tokens[2].revoked_at = Some(NOW + Duration::hours(1));
        let mut access = token(&format, &owner, TokenKind::Access);
        access.issued_for = Some(tokens[3].id.clone());
        let mut other_access = token(&format, &owner, TokenKind::Access);
        other_access.issued_for = Some(tokens[4].id.clone());
        let mut expired = token(&format, &owner, TokenKind::Access);
        expired.issued_for = Some(tokens[3].id.clone());
        expired.expires_at = Some(NOW - Duration::minutes(1));
        tokens.extend([access.clone(), other_access, expired]);
        let left: Vec<&TokenId> = to_revoke(&tokens, &tokens[0].id, NOW)
            .into_iter()
            .map(|token| &token.id)
            .collect();
        assert_eq!(left, [&tokens[2].id, &tokens[3].id, &access.id]);
    }

    #[test]
    fn a_token_is_rotated_away_once_its_grace_is_over() {
        let tokens = chain(1);
        assert!(tokens[0].rotated_away(NOW));
        assert!(!tokens[0].rotated_away(NOW - Duration::seconds(1)));
        assert!(!tokens[1].rotated_away(NOW + Duration::days(1)));
    }
}
