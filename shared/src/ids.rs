//! Identifiers: the organization slug, and the random ids of service accounts and tokens.
//!
//! Every id is a validated newtype: it can only be built by `parse` (input) or `generate`
//! (new entities), so a value of one of these types is always well formed, and the store can
//! build keys from it without escaping.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ParseError;
use crate::random::{self, RandomnessUnavailable};

/// The organization (tenant) id: a slug such as `acme` or `acme-research`.
///
/// 3–32 characters of lowercase letters, digits and single hyphens, starting and ending with a
/// letter or digit. The upper bound keeps tokens, which embed the slug, reasonably short.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

impl OrgId {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 32;

    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let len = value.len();
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&len) {
            return Err(ParseError::new(format!(
                "an organization id has {} to {} characters",
                Self::MIN_LEN,
                Self::MAX_LEN
            )));
        }
        let allowed = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
        let well_formed = value
            .split('-')
            .all(|part| !part.is_empty() && part.bytes().all(allowed));
        if !well_formed {
            return Err(ParseError::new(
                "an organization id is lowercase letters, digits and single hyphens, \
                 starting and ending with a letter or digit",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Length in base62 characters: about 95 random bits, so ids never collide in
            /// practice; creates are conditional writes all the same.
            pub const LEN: usize = 16;

            pub fn generate() -> Result<Self, RandomnessUnavailable> {
                random::base62_string(Self::LEN).map(Self)
            }

            pub fn parse(value: &str) -> Result<Self, ParseError> {
                if value.len() == Self::LEN && random::is_base62(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(ParseError::new(concat!(
                        "a ",
                        $what,
                        " id is 16 letters and digits"
                    )))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

random_id!(
    /// A service account's id, unique within its organization.
    ServiceAccountId,
    "service account"
);

random_id!(
    /// A token's id. It is part of the token itself and of its display prefix, so it is public.
    TokenId,
    "token"
);

macro_rules! string_conversions {
    ($($name:ident),*) => {$(
        impl TryFrom<String> for $name {
            type Error = ParseError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    )*};
}

random_id!(
    /// A trust policy's id, unique within its service account.
    TrustPolicyId,
    "trust policy"
);

string_conversions!(OrgId, ServiceAccountId, TokenId, TrustPolicyId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_ids_accept_slugs() {
        for slug in [
            "acme",
            "acme-research",
            "a1b",
            "x-y-z",
            "0rg",
            &"a".repeat(32),
        ] {
            assert_eq!(OrgId::parse(slug).unwrap().as_str(), slug);
        }
    }

    #[test]
    fn org_ids_refuse_anything_else() {
        for slug in [
            "",
            "ab",
            &"a".repeat(33),
            "-acme",
            "acme-",
            "ac--me",
            "Acme",
            "acme_corp",
            "acme corp",
            "acme\n",
            "ácme",
            "acme/x",
        ] {
            assert!(OrgId::parse(slug).is_err(), "{slug:?} was accepted");
        }
    }

    #[test]
    fn generated_ids_parse_back() {
        let id = ServiceAccountId::generate().unwrap();
        assert_eq!(ServiceAccountId::parse(id.as_str()).unwrap(), id);
        let id = TokenId::generate().unwrap();
        assert_eq!(TokenId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn random_ids_refuse_wrong_shapes() {
        for value in [
            "",
            "abc",
            "0123456789abcdeF0",
            "0123456789abcde-",
            "0123456789abcdé",
        ] {
            assert!(TokenId::parse(value).is_err(), "{value:?} was accepted");
            assert!(
                ServiceAccountId::parse(value).is_err(),
                "{value:?} was accepted"
            );
        }
    }

    #[test]
    fn ids_deserialize_only_when_valid() {
        let ok: OrgId = serde_json::from_str("\"acme\"").unwrap();
        assert_eq!(ok.as_str(), "acme");
        assert!(serde_json::from_str::<OrgId>("\"ACME\"").is_err());
    }
}
