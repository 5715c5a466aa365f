//! The deployment's token keys: every token carries a tag, an HMAC-SHA256 of its text under
//! one of these keys, so a token this deployment did not mint is refused before any I/O, even
//! when its format and public CRC32 are right.
//!
//! A key has a one-character id, written in the token beside the tag: tokens are minted under
//! the minting key and verified under the key they name, so a new key can be added (and made
//! the minting one) while tokens minted under the old one keep working; removing a key ends
//! them. `TOKEN_KEYS` holds the keys, either as a JSON object (`{"a": "<key>", "b": "<key>"}`,
//! the form the stack's Secrets Manager secret has) or as `a:<key>,b:<key>`; `TOKEN_KEY_ID`
//! names the minting key when there are several. A key is 32 to 256 characters (its bytes
//! are the HMAC key).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use crate::ParseError;
use crate::random::{self, RandomnessUnavailable};
use crate::token::TokenPrefix;

/// How many bytes of the HMAC a token carries: 128 bits, as 22 base62 characters.
pub(crate) const TAG_BYTES: usize = 16;

/// The keys of a deployment's tokens. `Debug` names the ids, never a key.
#[derive(Clone)]
pub struct TokenKeys {
    keys: Vec<(u8, SecretSlice<u8>)>,
    minting: u8,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: String = self.keys.iter().map(|(id, _)| char::from(*id)).collect();
        f.debug_struct("TokenKeys")
            .field("ids", &ids)
            .field("minting", &char::from(self.minting))
            .finish()
    }
}

impl TokenKeys {
    const MIN_KEY: usize = 32;
    const MAX_KEY: usize = 256;

    /// Reads `TOKEN_KEYS` (and `TOKEN_KEY_ID`, the minting key's id, needed when there are
    /// several keys). The errors name the rule, never a key.
    pub fn parse(text: &str, minting: Option<&str>) -> Result<Self, ParseError> {
        let pairs: Vec<(String, String)> = if text.trim_start().starts_with('{') {
            serde_json::from_str::<std::collections::BTreeMap<String, String>>(text)
                .map_err(|_| ParseError::new("TOKEN_KEYS is a JSON object of key ids and keys"))?
                .into_iter()
                .collect()
        } else {
            text.split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
                .map(|entry| {
                    entry
                        .split_once(':')
                        .map(|(id, key)| (id.to_owned(), key.to_owned()))
                        .ok_or_else(|| ParseError::new("each key is written `<id>:<key>`"))
                })
                .collect::<Result<_, _>>()?
        };
        let mut keys = Vec::with_capacity(pairs.len());
        for (id, key) in pairs {
            let id = match id.as_bytes() {
                [id] if id.is_ascii_alphanumeric() => *id,
                _ => return Err(ParseError::new("a key id is one letter or digit")),
            };
            if !(Self::MIN_KEY..=Self::MAX_KEY).contains(&key.len()) {
                return Err(ParseError::new("a key has 32 to 256 characters"));
            }
            if keys.iter().any(|(other, _)| *other == id) {
                return Err(ParseError::new("each key id appears once"));
            }
            keys.push((id, SecretSlice::from(key.into_bytes())));
        }
        let minting = match (minting, keys.as_slice()) {
            (_, []) => return Err(ParseError::new("TOKEN_KEYS names no key")),
            (None, [(id, _)]) => *id,
            (None, _) => {
                return Err(ParseError::new(
                    "with several keys, TOKEN_KEY_ID names the one that mints",
                ));
            }
            (Some(wanted), _) => keys
                .iter()
                .map(|(id, _)| *id)
                .find(|id| wanted.as_bytes() == [*id])
                .ok_or_else(|| ParseError::new("TOKEN_KEY_ID names none of TOKEN_KEYS"))?,
        };
        Ok(Self { keys, minting })
    }

    /// One fresh random key, `a`: for a local run or a test, where no deployment keeps one.
    pub fn generate() -> Result<Self, RandomnessUnavailable> {
        let key = random::base62_string(64)?;
        Ok(Self {
            keys: vec![(b'a', SecretSlice::from(key.into_bytes()))],
            minting: b'a',
        })
    }

    /// The minting key's id.
    pub(crate) fn minting_id(&self) -> u8 {
        self.minting
    }

    /// The tag of `text` under the key `id`, if this deployment has that key.
    pub(crate) fn tag(&self, id: u8, text: &str) -> Option<[u8; TAG_BYTES]> {
        let (_, key) = self.keys.iter().find(|(other, _)| *other == id)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose_secret()).ok()?;
        mac.update(text.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(digest.get(..TAG_BYTES)?);
        Some(tag)
    }
}

/// A deployment's token format: the prefix scanners recognise, and the keys that make its
/// tokens its own.
#[derive(Debug, Clone)]
pub struct TokenFormat {
    pub prefix: TokenPrefix,
    pub keys: TokenKeys,
}

impl TokenFormat {
    pub fn new(prefix: TokenPrefix, keys: TokenKeys) -> Self {
        Self { prefix, keys }
    }

    /// The default prefix and a fresh random key (a local run, a test).
    pub fn generate() -> Result<Self, RandomnessUnavailable> {
        Ok(Self::new(TokenPrefix::default(), TokenKeys::generate()?))
    }

    pub fn prefix(&self) -> &TokenPrefix {
        &self.prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn keys_are_read_in_both_forms_and_checked() {
        let json = TokenKeys::parse(&format!(r#"{{"a": "{KEY}"}}"#), None).unwrap();
        assert_eq!(json.minting_id(), b'a');
        let listed = TokenKeys::parse(&format!("a:{KEY}, b:{KEY}x"), Some("b")).unwrap();
        assert_eq!(listed.minting_id(), b'b');
        for bad in [
            ("", None),
            ("a:short", None),
            (&format!("ab:{KEY}") as &str, None),
            (&format!("a:{KEY},a:{KEY}"), None),
            (&format!("a:{KEY},b:{KEY}"), None),
            (&format!("a:{KEY}"), Some("c")),
            ("{not json", None),
        ] {
            assert!(TokenKeys::parse(bad.0, bad.1).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_debug_form_names_ids_only() {
        let keys = TokenKeys::parse(&format!("a:{KEY}"), None).unwrap();
        let printed = format!(
            "{keys:?} {:?}",
            TokenFormat::new(TokenPrefix::default(), keys.clone())
        );
        assert!(!printed.contains(KEY), "{printed}");
    }

    #[test]
    fn tags_are_hmac_sha256_truncated_to_128_bits() {
        // Reference: python3 -c "import hmac,hashlib;
        //   print(hmac.new(b'0123456789abcdef0123456789abcdef', b'svc_hello', hashlib.sha256).hexdigest()[:32])"
        let keys = TokenKeys::parse(&format!("a:{KEY}"), None).unwrap();
        let tag = keys.tag(b'a', "svc_hello").unwrap();
        assert_eq!(hex::encode(tag), REFERENCE_TAG);
        assert_eq!(keys.tag(b'b', "svc_hello"), None, "no such key");
    }

    const REFERENCE_TAG: &str = "bfaeb480f7eb5f105a8a423372e997da";
}
