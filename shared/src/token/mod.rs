//! The token format: generate, parse, hash.
//!
//! ```text
//! svc_3kTMd9aQ1xZ0bW7e_61636d65_N2Hh8sPq0LmXc4Rt_<43 secret><1 key id><22 tag><6 CRC32>
//! └──┘└──────────────┘ └──────┘ └──────────────┘ (all base62)
//! prefix  token id     org (hex)  owner: account id, or `org` for org-wide tokens
//! ```
//!
//! * The **prefix** is configurable per deployment (`alk_svc_`, `ghp_`, ...), so secret
//!   scanners can recognise the deployment's tokens.
//! * The **ids** (token, org, owner) give every key the authorizer must read, so verifying a
//!   well-formed token is one read (a `GetItem`, or a `BatchGetItem` with its owners). The org slug is written as lowercase hex of its
//!   bytes because a slug may contain `-`, which is not in the token alphabet.
//! * The **secret** is 43 base62 characters from the OS CSPRNG: 43 × log2(62) ≈ 256.03 bits.
//! * The **tag** is an HMAC-SHA256 (128 bits, as 22 base62 characters) of everything before it
//!   under the deployment's key that the **key id** names ([`TokenKeys`]): a token this
//!   deployment did not mint is refused without any database read, however well formed.
//! * The **checksum** is the CRC32 of everything before it, as 6 base62 characters (as GitHub
//!   does): public, so secret scanners recognise a token offline, and a mistyped or truncated
//!   token is refused first.
//! * Only `[A-Za-z0-9_]`, so a double-click selects the whole token.
//!
//! The token is stored only as the SHA-256 of its whole text ([`TokenHash`]); after it is
//! minted, only its display prefix (`prefix` + token id) is ever shown again.

mod keys;
pub mod patterns;
mod secret;

use subtle::ConstantTimeEq;

use crate::ParseError;
use crate::ids::{OrgId, ServiceAccountId, TokenId};
use crate::random::{self, BASE62, RandomnessUnavailable};

pub use keys::{TokenFormat, TokenKeys};
pub use secret::{TokenHash, TokenSecret, bearer};

const SECRET_LEN: usize = 43;
/// The key id and the tag, after the secret.
const KEY_ID_LEN: usize = 1;
const TAG_LEN: usize = 22;
const CHECKSUM_LEN: usize = 6;
/// The last field: secret, key id, tag (the checksum follows it).
const LAST_FIELD_LEN: usize = SECRET_LEN + KEY_ID_LEN + TAG_LEN;
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

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
    #[error("the minting key cannot sign")]
    Key,
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
    /// Well formed, but not minted by this deployment: an unknown key id, or a wrong tag.
    #[error("the token was not minted by this deployment")]
    NotMinted,
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
    /// Generates a new token for `owner` in `org`, tagged under the minting key.
    pub fn generate(
        format: &TokenFormat,
        org: &OrgId,
        owner: TokenOwner,
    ) -> Result<Self, MintError> {
        let prefix = format.prefix();
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
        let key_id = format.keys.minting_id();
        text.push(char::from(key_id));
        let tag = format.keys.tag(key_id, &text).ok_or(MintError::Key)?;
        text.push_str(&encode_tag(tag));
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

    /// Checks the format, the checksum and the tag of `secret` under this deployment's prefix
    /// and keys. Pure: no I/O, so garbage and forgeries cost no database call.
    pub fn parse(format: &TokenFormat, secret: TokenSecret) -> Result<Self, TokenFormatError> {
        let prefix = format.prefix();
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
        let (Some(id), Some(org_hex), Some(owner), Some(last), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(TokenFormatError::Malformed);
        };
        if last.len() != LAST_FIELD_LEN {
            return Err(TokenFormatError::Malformed);
        }
        let id = TokenId::parse(id).map_err(|_| TokenFormatError::Malformed)?;
        let org = decode_org(org_hex).ok_or(TokenFormatError::Malformed)?;
        let owner = if owner == ORG_OWNER {
            TokenOwner::Org
        } else {
            TokenOwner::Account(
                ServiceAccountId::parse(owner).map_err(|_| TokenFormatError::Malformed)?,
            )
        };
        // The tag covers everything before it, the key id included.
        let (tagged, tag) = checked.split_at(checked.len() - TAG_LEN);
        let key_id = tagged.as_bytes()[tagged.len() - 1];
        let expected = format
            .keys
            .tag(key_id, tagged)
            .ok_or(TokenFormatError::NotMinted)?;
        let presented = decode_tag(tag).ok_or(TokenFormatError::NotMinted)?;
        if !bool::from(presented.ct_eq(&expected)) {
            return Err(TokenFormatError::NotMinted);
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

    /// [`Self::display_prefix`], keeping nothing else (the secret is dropped, and zeroed).
    pub fn into_display_prefix(self) -> String {
        self.display_prefix
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
    [prefix.as_str(), id.as_str()].concat()
}

fn min_len(prefix: &TokenPrefix) -> usize {
    prefix.as_str().len()
        + TokenId::LEN
        + 1
        + 2 * OrgId::MIN_LEN
        + 1
        + ORG_OWNER.len()
        + 1
        + LAST_FIELD_LEN
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
        + LAST_FIELD_LEN
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

/// A 128-bit tag as exactly 22 base62 characters, most significant first (62^22 > 2^128).
fn encode_tag(tag: [u8; keys::TAG_BYTES]) -> String {
    let mut value = u128::from_be_bytes(tag);
    let mut digits = [b'0'; TAG_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

fn decode_tag(text: &str) -> Option<[u8; keys::TAG_BYTES]> {
    let mut value: u128 = 0;
    for byte in text.bytes() {
        let digit = base62_digit(byte)?;
        value = value.checked_mul(62)?.checked_add(u128::from(digit))?;
    }
    Some(value.to_be_bytes())
}

/// Each byte's value as a base62 digit ([`BASE62`]'s index), or `NOT_BASE62`.
const BASE62_DIGITS: [u8; 256] = {
    let mut digits = [NOT_BASE62; 256];
    let mut i = 0;
    while i < BASE62.len() {
        digits[BASE62[i] as usize] = i as u8;
        i += 1;
    }
    digits
};
const NOT_BASE62: u8 = u8::MAX;

/// The value of a base62 digit: one table lookup (the hot path decodes 28 per token).
fn base62_digit(byte: u8) -> Option<u8> {
    Some(BASE62_DIGITS[usize::from(byte)]).filter(|&digit| digit != NOT_BASE62)
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
        value = value * 62 + u64::from(base62_digit(byte)?);
    }
    u32::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn prefix() -> TokenPrefix {
        TokenPrefix::parse("alk_svc_").unwrap()
    }

    fn format() -> TokenFormat {
        TokenFormat::new(
            prefix(),
            TokenKeys::parse(&format!("a:{KEY}"), None).unwrap(),
        )
    }

    fn org() -> OrgId {
        OrgId::parse("acme-research").unwrap()
    }

    fn account_token() -> ParsedToken {
        let account = ServiceAccountId::generate().unwrap();
        ParsedToken::generate(&format(), &org(), TokenOwner::Account(account)).unwrap()
    }

    fn reparse(text: &str) -> Result<ParsedToken, TokenFormatError> {
        ParsedToken::parse(&format(), TokenSecret::new(text.to_owned()))
    }

    #[test]
    fn base62_digits_are_the_alphabets_positions_and_nothing_else_is_a_digit() {
        for byte in 0..=u8::MAX {
            let position = BASE62.iter().position(|&symbol| symbol == byte);
            assert_eq!(base62_digit(byte).map(usize::from), position, "{byte}");
        }
    }

    #[test]
    fn a_generated_token_parses_back_to_the_same_ids() {
        for owner in [
            TokenOwner::Account(ServiceAccountId::generate().unwrap()),
            TokenOwner::Org,
        ] {
            let token = ParsedToken::generate(&format(), &org(), owner.clone()).unwrap();
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
            let token = ParsedToken::generate(&format(), &org, TokenOwner::Org).unwrap();
            assert_eq!(reparse(token.secret().expose_secret()).unwrap().org(), &org);
        }
    }

    #[test]
    fn every_single_character_substitution_is_rejected_before_any_io() {
        for token in [
            account_token(),
            ParsedToken::generate(&format(), &org(), TokenOwner::Org).unwrap(),
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
        let other_prefix = TokenFormat::new(TokenPrefix::parse("ghp_").unwrap(), format().keys);
        let foreign = ParsedToken::parse(&other_prefix, token.secret().clone());
        assert_eq!(foreign.unwrap_err(), TokenFormatError::WrongPrefix);
    }

    /// `text` with its checksum recomputed, as anyone can (CRC32 is public).
    fn rechecksummed(body: &str) -> String {
        format!(
            "{body}{}",
            encode_checksum(crc32fast::hash(body.as_bytes()))
        )
    }

    #[test]
    fn a_forgery_with_a_valid_checksum_is_refused_by_its_tag() {
        // CRC32 proves integrity of form, for scanners; the tag proves this deployment made
        // the token. A forgery that recomputes the checksum still fails, before any I/O.
        let token = account_token();
        let text = token.secret().expose_secret();
        let body = &text[..text.len() - CHECKSUM_LEN];
        let secret_end = body.len() - TAG_LEN - KEY_ID_LEN;
        for position in prefix().as_str().len()..body.len() {
            if body.as_bytes()[position] == b'_' {
                continue;
            }
            let replacement = if body.as_bytes()[position] == b'A' {
                "B"
            } else {
                "A"
            };
            let mut forged = body.to_owned();
            forged.replace_range(position..=position, replacement);
            let error = reparse(&rechecksummed(&forged)).unwrap_err();
            let ids = position < secret_end - SECRET_LEN;
            assert!(
                error == TokenFormatError::NotMinted
                    || (ids && error == TokenFormatError::Malformed),
                "change at {position}: {error:?}"
            );
        }
    }

    #[test]
    fn a_token_of_another_deployment_is_not_minted_here() {
        let token = account_token();
        let elsewhere = TokenFormat::new(
            prefix(),
            TokenKeys::parse(&format!("a:{KEY}x"), None).unwrap(),
        );
        let refused = ParsedToken::parse(&elsewhere, token.secret().clone());
        assert_eq!(refused.unwrap_err(), TokenFormatError::NotMinted);
    }

    #[test]
    fn a_new_minting_key_keeps_the_tokens_of_the_old_one() {
        let old = account_token();
        let rotated = TokenFormat::new(
            prefix(),
            TokenKeys::parse(&format!(r#"{{"a": "{KEY}", "b": "{KEY}-new"}}"#), Some("b")).unwrap(),
        );
        assert!(ParsedToken::parse(&rotated, old.secret().clone()).is_ok());
        let new = ParsedToken::generate(&rotated, &org(), TokenOwner::Org).unwrap();
        assert!(ParsedToken::parse(&rotated, new.secret().clone()).is_ok());
        // The old key alone does not know the new token's key.
        assert_eq!(
            reparse(new.secret().expose_secret()).unwrap_err(),
            TokenFormatError::NotMinted
        );
    }

    #[test]
    fn two_million_tokens_have_no_collision_and_only_the_token_alphabet() {
        let format = format();
        let org = org();
        let account = ServiceAccountId::generate().unwrap();
        let mut secrets = HashSet::with_capacity(2_000_000);
        let mut ids = HashSet::with_capacity(2_000_000);
        for _ in 0..2_000_000 {
            let token =
                ParsedToken::generate(&format, &org, TokenOwner::Account(account.clone())).unwrap();
            let text = token.secret().expose_secret();
            assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
            let start = text.len() - CHECKSUM_LEN - LAST_FIELD_LEN;
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
        let start = text.len() - CHECKSUM_LEN - LAST_FIELD_LEN;
        let secret_part = &text[start..start + SECRET_LEN];
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
    fn the_tag_checksum_and_hash_match_an_independent_computation() {
        // Reference values from Python's hmac, zlib.crc32 and hashlib.sha256 for this fixed
        // token body under the key `KEY` (see the module's layout).
        let text = "svc_0123456789abcdef_616263_org_0000000000000000000000000000000000000000000a6TDPNOCz7M85In8gAwqR914SErkF";
        let format = TokenFormat::new(
            TokenPrefix::default(),
            TokenKeys::parse(&format!("a:{KEY}"), None).unwrap(),
        );
        let parsed = ParsedToken::parse(&format, TokenSecret::new(text.to_owned())).unwrap();
        assert_eq!(
            parsed.hash().to_hex(),
            "09a12390ed286ca1da6c34d5cc97af07a68a7b198de729b50a92a68b42ce6acb"
        );
        let (body, checksum) = text.split_at(text.len() - CHECKSUM_LEN);
        assert_eq!(checksum, "4SErkF");
        assert_eq!(encode_checksum(crc32fast::hash(body.as_bytes())), checksum);
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
