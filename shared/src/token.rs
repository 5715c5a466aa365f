//! The token format: generate, parse, hash.
//!
//! ```text
//! svc_3kTMd9aQ1xZ0bW7e_61636d65_N2Hh8sPq0LmXc4Rt_<43 base62 secret chars><6 base62 CRC32>
//! └──┘└──────────────┘ └──────┘ └──────────────┘
//! prefix  token id     org (hex)  owner: account id, or `org` for org-wide tokens
//! ```
//!
//! * The **prefix** is configurable per deployment (`alk_svc_`, `ghp_`, ...), so secret
//!   scanners can recognise the deployment's tokens.
//! * The **ids** (token, org, owner) give every key the authorizer must read, so verifying a
//!   well-formed token is one `BatchGetItem`. The org slug is written as lowercase hex of its
//!   bytes because a slug may contain `-`, which is not in the token alphabet.
//! * The **secret** is 43 base62 characters from the OS CSPRNG: 43 × log2(62) ≈ 256.03 bits.
//! * The **checksum** is the CRC32 of everything before it, as 6 base62 characters (as GitHub
//!   does), so a mistyped, truncated or forged token is refused without any database read.
//! * Only `[A-Za-z0-9_]`, so a double-click selects the whole token.
//!
//! The token is stored only as the SHA-256 of its whole text ([`TokenHash`]); after it is
//! minted, only its display prefix (`prefix` + token id) is ever shown again.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ParseError;
use crate::ids::{OrgId, ServiceAccountId, TokenId};
use crate::random::{self, BASE62, RandomnessUnavailable};

const SECRET_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;
const ORG_OWNER: &str = "org";

/// The deployment's token prefix, such as `svc_` or `alk_svc_`: 2–16 characters of letters,
/// digits and `_`, starting with a letter and ending with `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenPrefix(String);

impl TokenPrefix {
    pub const DEFAULT: &'static str = "svc_";

    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let well_formed = (2..=16).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_alphabetic())
            && value.ends_with('_')
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if well_formed {
            Ok(Self(value.to_owned()))
        } else {
            Err(ParseError::new(
                "a token prefix has 2 to 16 letters, digits and `_`, \
                 starts with a letter and ends with `_`",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TokenPrefix {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

/// The full text of a token. It is only ever exposed to build the response that mints it and
/// to hash it; `Debug` and `Display` print `[REDACTED]`.
pub struct TokenSecret(SecretString);

impl TokenSecret {
    /// Wraps text presented by a caller (from an `Authorization` header, say) before it is
    /// parsed, so that it is redacted from the start.
    pub fn new(text: String) -> Self {
        Self(SecretString::from(text))
    }

    /// The token's text. Call this only to hand a freshly minted token to its owner.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl Clone for TokenSecret {
    fn clone(&self) -> Self {
        Self::new(self.expose_secret().to_owned())
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSecret([REDACTED])")
    }
}

impl fmt::Display for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// The token in an `Authorization` header's value (or an authorizer's identity source):
/// `Bearer <token>`, the scheme in any case, or a bare token. Another scheme (`Basic`, AWS
/// SigV4's `AWS4-HMAC-SHA256 ...`) or a scheme alone is no token. The one bearer parser:
/// every caller of the verification path reads credentials with it.
pub fn bearer(value: &str) -> Option<TokenSecret> {
    let value = value.trim();
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        Some(_) => return None,
        None if value.eq_ignore_ascii_case("bearer") => return None,
        None => value,
    };
    (!token.is_empty()).then(|| TokenSecret::new(token.to_owned()))
}

/// Who a token belongs to: a service account, or the organization itself (an org-wide
/// service token, not tied to any account).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenOwner {
    Account(ServiceAccountId),
    Org,
}

impl TokenOwner {
    pub fn account(&self) -> Option<&ServiceAccountId> {
        match self {
            Self::Account(id) => Some(id),
            Self::Org => None,
        }
    }
}

/// Why text is not a token. The variants say which check failed and nothing about the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenFormatError {
    #[error("the token does not have this deployment's prefix")]
    WrongPrefix,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's checksum does not match")]
    Checksum,
}

/// A token whose format and checksum are valid. Whether it exists, is active and belongs to
/// an active account is for the store and the authorizer to say.
#[derive(Debug, Clone)]
pub struct ParsedToken {
    id: TokenId,
    org: OrgId,
    owner: TokenOwner,
    display_prefix: String,
    secret: TokenSecret,
    /// Computed once, when the token is made or parsed: the caches key on it and the stored
    /// hash is compared with it.
    hash: TokenHash,
}

impl ParsedToken {
    /// Generates a new token for `owner` in `org`.
    pub fn generate(
        prefix: &TokenPrefix,
        org: &OrgId,
        owner: TokenOwner,
    ) -> Result<Self, RandomnessUnavailable> {
        let id = TokenId::generate()?;
        let secret = random::base62_string(SECRET_LEN)?;
        let owner_text = match &owner {
            TokenOwner::Account(account) => account.as_str(),
            TokenOwner::Org => ORG_OWNER,
        };
        let mut text = String::with_capacity(max_len(prefix));
        text.push_str(prefix.as_str());
        text.push_str(id.as_str());
        text.push('_');
        text.push_str(&hex::encode(org.as_str()));
        text.push('_');
        text.push_str(owner_text);
        text.push('_');
        text.push_str(&secret);
        text.push_str(&encode_checksum(crc32fast::hash(text.as_bytes())));
        let secret = TokenSecret::new(text);
        Ok(Self {
            display_prefix: display_prefix(prefix, &id),
            id,
            org: org.clone(),
            owner,
            hash: TokenHash::of(&secret),
            secret,
        })
    }

    /// Checks the format and checksum of `secret` under this deployment's prefix. Pure: no
    /// I/O, so garbage costs no database call.
    pub fn parse(prefix: &TokenPrefix, secret: TokenSecret) -> Result<Self, TokenFormatError> {
        let text = secret.expose_secret();
        let bytes = text.as_bytes();
        if bytes.len() < min_len(prefix) || bytes.len() > max_len(prefix) {
            return Err(TokenFormatError::Malformed);
        }
        if !text.starts_with(prefix.as_str()) {
            return Err(TokenFormatError::WrongPrefix);
        }
        if !bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            return Err(TokenFormatError::Malformed);
        }
        // Checked before the structure, so any change after the prefix is caught here.
        let (checked, checksum) = text.split_at(text.len() - CHECKSUM_LEN);
        if decode_checksum(checksum) != Some(crc32fast::hash(checked.as_bytes())) {
            return Err(TokenFormatError::Checksum);
        }

        let body = &checked[prefix.as_str().len()..];
        let mut fields = body.split('_');
        let (Some(id), Some(org_hex), Some(owner), Some(secret_part), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(TokenFormatError::Malformed);
        };
        let id = TokenId::parse(id).map_err(|_| TokenFormatError::Malformed)?;
        let org = decode_org(org_hex).ok_or(TokenFormatError::Malformed)?;
        let owner = if owner == ORG_OWNER {
            TokenOwner::Org
        } else {
            TokenOwner::Account(
                ServiceAccountId::parse(owner).map_err(|_| TokenFormatError::Malformed)?,
            )
        };
        if secret_part.len() != SECRET_LEN {
            return Err(TokenFormatError::Malformed);
        }
        Ok(Self {
            display_prefix: display_prefix(prefix, &id),
            id,
            org,
            owner,
            hash: TokenHash::of(&secret),
            secret,
        })
    }

    pub fn id(&self) -> &TokenId {
        &self.id
    }

    pub fn org(&self) -> &OrgId {
        &self.org
    }

    pub fn owner(&self) -> &TokenOwner {
        &self.owner
    }

    /// What may be shown after creation: the prefix and the token id, no secret bits.
    pub fn display_prefix(&self) -> &str {
        &self.display_prefix
    }

    pub fn secret(&self) -> &TokenSecret {
        &self.secret
    }

    /// The SHA-256 of the whole token text: the only form in which a token is stored.
    pub fn hash(&self) -> &TokenHash {
        &self.hash
    }
}

fn display_prefix(prefix: &TokenPrefix, id: &TokenId) -> String {
    format!("{}{}", prefix.as_str(), id.as_str())
}

fn min_len(prefix: &TokenPrefix) -> usize {
    prefix.as_str().len()
        + TokenId::LEN
        + 1
        + 2 * OrgId::MIN_LEN
        + 1
        + ORG_OWNER.len()
        + 1
        + SECRET_LEN
        + CHECKSUM_LEN
}

fn max_len(prefix: &TokenPrefix) -> usize {
    prefix.as_str().len()
        + TokenId::LEN
        + 1
        + 2 * OrgId::MAX_LEN
        + 1
        + ServiceAccountId::LEN
        + 1
        + SECRET_LEN
        + CHECKSUM_LEN
}

fn decode_org(org_hex: &str) -> Option<OrgId> {
    // Only the canonical (lowercase) spelling, so each org has exactly one token form.
    if org_hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let bytes = hex::decode(org_hex).ok()?;
    OrgId::parse(std::str::from_utf8(&bytes).ok()?).ok()
}

/// A CRC32 as exactly six base62 characters, most significant first (62^6 > 2^32).
fn encode_checksum(mut value: u32) -> String {
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

fn decode_checksum(text: &str) -> Option<u32> {
    let mut value: u64 = 0;
    for byte in text.bytes() {
        let digit = BASE62.iter().position(|&symbol| symbol == byte)?;
        value = value * 62 + digit as u64;
    }
    u32::try_from(value).ok()
}

/// The SHA-256 of a token's whole text. Stored as 64 lowercase hex characters; compared in
/// constant time. Not a secret, but never shown or logged either: `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn from_hex(value: &str) -> Result<Self, ParseError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(value, &mut bytes)
            .map_err(|_| ParseError::new("a token hash is 64 hex characters"))?;
        Ok(Self(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `presented` is the token this hash was made from, in constant time.
    pub fn matches(&self, presented: &ParsedToken) -> bool {
        self.0.ct_eq(&presented.hash.0).into()
    }

    fn of(secret: &TokenSecret) -> Self {
        Self(Sha256::digest(secret.expose_secret().as_bytes()).into())
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl TryFrom<String> for TokenHash {
    type Error = ParseError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_hex(&value)
    }
}

impl From<TokenHash> for String {
    fn from(value: TokenHash) -> Self {
        value.to_hex()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bearer_schemes_are_read_in_any_case() {
        let text = |value: &str| super::bearer(value).map(|t| t.expose_secret().to_owned());
        assert_eq!(text("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(text("bEaReR   abc ").as_deref(), Some("abc"));
        assert_eq!(text("abc").as_deref(), Some("abc"));
        assert!(text("Basic abc").is_none());
        assert!(text("AWS4-HMAC-SHA256 Credential=x, Signature=y").is_none());
        assert!(text("Bearer ").is_none());
        assert!(text("Bearer").is_none());
        assert!(text("").is_none());
    }

    use std::collections::HashSet;

    use super::*;

    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";

    fn prefix() -> TokenPrefix {
        TokenPrefix::parse("alk_svc_").unwrap()
    }

    fn org() -> OrgId {
        OrgId::parse("acme-research").unwrap()
    }

    fn account_token() -> ParsedToken {
        let account = ServiceAccountId::generate().unwrap();
        ParsedToken::generate(&prefix(), &org(), TokenOwner::Account(account)).unwrap()
    }

    fn reparse(text: &str) -> Result<ParsedToken, TokenFormatError> {
        ParsedToken::parse(&prefix(), TokenSecret::new(text.to_owned()))
    }

    #[test]
    fn a_generated_token_parses_back_to_the_same_ids() {
        for owner in [
            TokenOwner::Account(ServiceAccountId::generate().unwrap()),
            TokenOwner::Org,
        ] {
            let token = ParsedToken::generate(&prefix(), &org(), owner.clone()).unwrap();
            let parsed = reparse(token.secret().expose_secret()).unwrap();
            assert_eq!(parsed.id(), token.id());
            assert_eq!(parsed.org(), &org());
            assert_eq!(parsed.owner(), &owner);
            assert_eq!(parsed.display_prefix(), format!("alk_svc_{}", token.id()));
            assert_eq!(parsed.hash(), token.hash());
        }
    }

    #[test]
    fn the_longest_and_shortest_orgs_round_trip() {
        for slug in ["abc", &"z".repeat(OrgId::MAX_LEN), "a-b-c-d"] {
            let org = OrgId::parse(slug).unwrap();
            let token = ParsedToken::generate(&prefix(), &org, TokenOwner::Org).unwrap();
            assert_eq!(reparse(token.secret().expose_secret()).unwrap().org(), &org);
        }
    }

    #[test]
    fn every_single_character_substitution_is_rejected_before_any_io() {
        for token in [
            account_token(),
            ParsedToken::generate(&prefix(), &org(), TokenOwner::Org).unwrap(),
        ] {
            let text = token.secret().expose_secret().as_bytes().to_vec();
            let prefix_len = prefix().as_str().len();
            for position in 0..text.len() {
                for &replacement in ALPHABET {
                    if replacement == text[position] {
                        continue;
                    }
                    let mut changed = text.clone();
                    changed[position] = replacement;
                    let changed = String::from_utf8(changed).unwrap();
                    let error = reparse(&changed).unwrap_err();
                    let expected = if position < prefix_len {
                        TokenFormatError::WrongPrefix
                    } else {
                        TokenFormatError::Checksum
                    };
                    assert_eq!(
                        error, expected,
                        "change at {position} to {}",
                        replacement as char
                    );
                }
            }
        }
    }

    #[test]
    fn truncated_extended_and_foreign_text_is_rejected() {
        let token = account_token();
        let text = token.secret().expose_secret();
        for position in 0..text.len() {
            let mut shorter = text.to_owned();
            shorter.remove(position);
            assert!(reparse(&shorter).is_err(), "deletion at {position}");
            let mut longer = text.to_owned();
            longer.insert(position, 'a');
            assert!(reparse(&longer).is_err(), "insertion at {position}");
        }
        for garbage in [
            "",
            "Bearer",
            "alk_svc_",
            &"a".repeat(120),
            &format!("{text} "),
            &text.replace('_', "-"),
        ] {
            assert!(reparse(garbage).is_err());
        }
        let other_prefix = TokenPrefix::parse("ghp_").unwrap();
        let foreign = ParsedToken::parse(&other_prefix, token.secret().clone());
        assert_eq!(foreign.unwrap_err(), TokenFormatError::WrongPrefix);
    }

    #[test]
    fn a_forged_token_with_a_recomputed_checksum_still_names_only_valid_ids() {
        // A valid checksum proves integrity of form, not authenticity: that is the store's
        // job (hash comparison). Here: a well-formed forgery parses, with the ids it claims.
        let token = account_token();
        let text = token.secret().expose_secret();
        let body = &text[..text.len() - CHECKSUM_LEN];
        // Change the secret's last character (to one it is not already).
        let replacement = if body.ends_with('A') { 'B' } else { 'A' };
        let forged_body = format!("{}{replacement}", &body[..body.len() - 1]);
        let forged = format!(
            "{forged_body}{}",
            encode_checksum(crc32fast::hash(forged_body.as_bytes()))
        );
        let parsed = reparse(&forged).unwrap();
        assert_eq!(parsed.id(), token.id());
        assert_ne!(parsed.hash(), token.hash());
    }

    #[test]
    fn two_million_tokens_have_no_collision_and_only_the_token_alphabet() {
        let prefix = TokenPrefix::default();
        let org = org();
        let account = ServiceAccountId::generate().unwrap();
        let mut secrets = HashSet::with_capacity(2_000_000);
        let mut ids = HashSet::with_capacity(2_000_000);
        for _ in 0..2_000_000 {
            let token =
                ParsedToken::generate(&prefix, &org, TokenOwner::Account(account.clone())).unwrap();
            let text = token.secret().expose_secret();
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            let start = text.len() - CHECKSUM_LEN - SECRET_LEN;
            let secret: [u8; SECRET_LEN] = text.as_bytes()[start..start + SECRET_LEN]
                .try_into()
                .unwrap();
            assert!(secrets.insert(secret), "secret collision");
            assert!(ids.insert(token.id().clone()), "token id collision");
        }
    }

    #[test]
    fn debug_and_display_never_print_the_secret() {
        let token = account_token();
        let text = token.secret().expose_secret().to_owned();
        let secret_part = &text[text.len() - CHECKSUM_LEN - SECRET_LEN..text.len() - CHECKSUM_LEN];
        let printed = [
            format!("{:?}", token.secret()),
            format!("{:#?}", token.secret()),
            format!("{}", token.secret()),
            format!("{token:?}"),
            format!("{token:#?}"),
            format!("{:?}", token.hash()),
        ];
        for output in printed {
            assert!(!output.contains(secret_part), "{output}");
            assert!(!output.contains(&text), "{output}");
            assert!(!output.contains(&token.hash().to_hex()), "{output}");
        }
        assert_eq!(format!("{}", token.secret()), "[REDACTED]");
    }

    #[test]
    fn the_hash_is_the_sha256_of_the_whole_token() {
        // Reference value: `printf %s "$TOKEN" | sha256sum` for this fixed, well-formed token.
        let text = "svc_0123456789abcdef_616263_org_0000000000000000000000000000000000000000000";
        let text = format!(
            "{text}{}",
            encode_checksum(crc32fast::hash(text.as_bytes()))
        );
        assert_eq!(text, format!("{}{}", &text[..text.len() - 6], "0xFV3B"));
        let parsed = ParsedToken::parse(&TokenPrefix::default(), TokenSecret::new(text)).unwrap();
        assert_eq!(
            parsed.hash().to_hex(),
            "b3c57a41cb2e473e4a76796636e81a0f4b481229014a129ea07aaf4f6ccc0ae8"
        );
    }

    #[test]
    fn hashes_match_only_their_own_token() {
        let token = account_token();
        let other = account_token();
        let stored = TokenHash::from_hex(&token.hash().to_hex()).unwrap();
        assert!(stored.matches(&token));
        assert!(!stored.matches(&other));
    }

    #[test]
    fn checksums_use_six_base62_digits() {
        assert_eq!(encode_checksum(0), "000000");
        assert_eq!(encode_checksum(u32::MAX), "4gfFC3");
        assert_eq!(decode_checksum("4gfFC3"), Some(u32::MAX));
        assert_eq!(
            decode_checksum("4gfFC4"),
            None,
            "values past 2^32 are not checksums"
        );
    }

    #[test]
    fn prefixes_are_validated() {
        for ok in ["svc_", "alk_svc_", "ghp_", "A1_"] {
            assert!(TokenPrefix::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "_",
            "svc",
            "1svc_",
            "svc-",
            "glpat-",
            "a_very_long_prefix_",
            "sv c_",
        ] {
            assert!(TokenPrefix::parse(bad).is_err(), "{bad}");
        }
    }
}
