//! The token's text and its hash: the only forms in which a token exists outside its owner's
//! hands, and the one parser of a bearer credential.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ParseError;
use crate::token::ParsedToken;

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
        self.0.ct_eq(&presented.hash().0).into()
    }

    pub(crate) fn of(secret: &TokenSecret) -> Self {
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
}
