//! Why a request is refused, as types: a cache or a metric keys on the variant.

/// Why a request is refused: `Unauthenticated` is a 401, `Forbidden` a 403. The reasons are
/// typed, so a cache or a metric keys on the variant, never on a message; clients only see
/// the status (and, for a 403, the reason's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denial {
    #[error("unauthenticated: {}", .0.as_str())]
    Unauthenticated(Unauthenticated),
    #[error("forbidden: {}", .0.as_str())]
    Forbidden(Forbidden),
}

/// Why there is no valid credential (a 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unauthenticated {
    NoCredential,
    /// Not a token of this deployment's format, prefix or checksum: refused without a read.
    Malformed,
    /// Well formed, but its tag says this deployment did not mint it: refused without a read.
    NotMinted,
    UnknownToken,
    RevokedToken,
    ExpiredToken,
    NoOrganization,
    OrganizationDisabled,
    NoServiceAccount,
    WrongOwner,
    ServiceAccountDisabled,
    /// The token ends within the time a cache in front would reuse an answer for it.
    EndsWithinCache,
}

impl Unauthenticated {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoCredential => "no credential",
            Self::Malformed => "malformed token",
            Self::NotMinted => "a token this deployment did not mint",
            Self::UnknownToken => "unknown token",
            Self::RevokedToken => "revoked token",
            Self::ExpiredToken => "expired token",
            Self::NoOrganization => "no such organization",
            Self::OrganizationDisabled => "organization disabled",
            Self::NoServiceAccount => "no such service account",
            Self::WrongOwner => "the token does not belong to its owner",
            Self::ServiceAccountDisabled => "service account disabled",
            Self::EndsWithinCache => "the token ends within the cache's lifetime",
        }
    }

    /// Whether the token can never become valid again (so a refusal may be remembered):
    /// unknown (strongly consistent reads: it was never minted), revoked, expired.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::UnknownToken | Self::RevokedToken | Self::ExpiredToken
        )
    }
}

/// Why a valid credential may not do this (a 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Forbidden {
    AccountAllowlist,
    OrganizationAllowlist,
    /// The request's path is not in canonical form (the authorizer).
    PathNotCanonical,
    /// The route is not in the map, bound to another organization, or not allowed to the
    /// principal (the authorizer).
    Route,
}

impl Forbidden {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccountAllowlist => "source address not in the account's allowlist",
            Self::OrganizationAllowlist => "source address not in the organization's allowlist",
            Self::PathNotCanonical => "the path is not in canonical form",
            Self::Route => "the token may not call this route",
        }
    }
}
