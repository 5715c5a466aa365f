//! OpenID Connect: the verification of a JWT an organization's identity provider issued.
//!
//! The rules, in the order they are applied (the first that fails is the answer):
//!
//! 1. at most [`MAX_TOKEN_BYTES`], three base64url parts, a JSON header;
//! 2. an asymmetric algorithm only ([`ALGORITHMS`]): `none` and every HMAC algorithm are
//!    refused before any key is looked at, so a public key can never serve as an HMAC secret;
//! 3. a key id (`kid`), and an `iss` that is exactly one of the configured issuers (read from
//!    the unverified payload only to choose whose keys to use: it is verified below);
//! 4. the issuer's key with that id ([`keys::KeyCache`]), whose own `alg`, when it declares
//!    one, is the header's;
//! 5. the signature, by `jsonwebtoken` (never a hand-written JOSE implementation), then `iss`
//!    exactly that issuer and `aud` one of its configured audiences;
//! 6. `exp`, `nbf` and `iat` against the injected clock, with [`LEEWAY`], and at most
//!    [`MAX_AGE`] since `iat`; a subject (`sub`).
//!
//! Rules 1 to 3 need neither a key nor a record: [`OidcVerifier::screen`] applies them alone
//! (with an issuer that can be fetched from here), for an unauthenticated endpoint to refuse
//! garbage before it reads anything. What a `Bearer` credential must be beyond a verified
//! token (an access token, never the console's ID token) is [`access_token`]'s.

pub mod access_token;
pub mod fetch;
pub mod gateway;
pub mod keys;
pub mod secret_scanning;
pub mod signin;
mod slots;

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde_json::{Map, Value};
use time::OffsetDateTime;

pub use crate::access_token::TokenType;
pub use crate::gateway::verify_gateway_claims;
use crate::keys::{KeyCache, KeyError};

/// The longest JWT read.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// The clock skew allowed on `exp`, `nbf` and `iat`.
pub const LEEWAY: Duration = Duration::from_secs(60);
/// The oldest token accepted, by its `iat`, whatever its `exp` says.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// The signature algorithms accepted: asymmetric ones only.
pub const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// An identity provider as an organization configured it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// The issuer, exactly as its tokens' `iss` says.
    pub issuer: String,
    /// The accepted audiences (client ids): a token's `aud` must name one.
    pub audiences: Vec<String>,
}

/// A verified token: who issued it, whom it names, all its claims, and what its header says
/// it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub issuer: String,
    pub subject: String,
    pub claims: Map<String, Value>,
    pub token_type: TokenType,
}

/// What a token shows before any key or record is looked at ([`OidcVerifier::screen`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screened {
    /// The unverified `iss`: an issuer whose documents can be fetched from here.
    pub issuer: String,
}

/// Why a token was refused. The texts name rules, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the token is larger than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token's algorithm is not an accepted asymmetric one")]
    Algorithm,
    #[error("the token's header names no key id")]
    MissingKeyId,
    #[error("the token's issuer is not a configured provider")]
    UnknownIssuer,
    #[error("the issuer has no such key")]
    UnknownKey,
    #[error("the token's signature is not valid")]
    Signature,
    #[error("the token's audience is not a configured one")]
    Audience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued too long ago")]
    TooOld,
    #[error("the token lacks the claim `{0}`")]
    MissingClaim(&'static str),
    /// A bearer credential that is no access token: the console's ID token, or a token for
    /// the console's client not typed `at+jwt` ([`access_token`]).
    #[error("the token is not an access token (an ID token serves the console's sign-in alone)")]
    NotAnAccessToken,
    /// Claims an API Gateway JWT authorizer passed on that cannot be read back for sure (a
    /// bracketed list with spaces): the token itself must be verified instead.
    #[error("the gateway's claims cannot be read back unambiguously")]
    Ambiguous,
    /// The provider's documents could not be had: the caller fails closed (503).
    #[error("the identity provider is unavailable: {0}")]
    ProviderUnavailable(KeyError),
}

/// Verifies tokens against configured providers, with the keys of a [`KeyCache`].
#[derive(Debug)]
pub struct OidcVerifier {
    pub(crate) keys: KeyCache,
}

impl OidcVerifier {
    pub fn new(keys: KeyCache) -> Self {
        Self { keys }
    }

    /// The issuers' documents and keys, as cached.
    pub fn keys(&self) -> &KeyCache {
        &self.keys
    }

    /// Rules 1 to 3 alone, and an `iss` whose documents this verifier could fetch (`https`, or
    /// plain `http` to loopback for a local issuer on a local run): what an unauthenticated
    /// caller can be refused for before anything is read. An issuer that cannot be fetched
    /// from here is no one's trusted issuer: [`Rejection::UnknownIssuer`].
    pub fn screen(&self, token: &str) -> Result<Screened, Rejection> {
        let (_, issuer) = header_and_issuer(token)?;
        self.keys
            .fetcher()
            .check(&issuer, &issuer)
            .map_err(|_| Rejection::UnknownIssuer)?;
        Ok(Screened { issuer })
    }

    /// `token`, verified as issued by one of `providers` (see the module's rules), at `now`.
    pub async fn verify(
        &self,
        token: &str,
        providers: &[Provider],
        now: OffsetDateTime,
    ) -> Result<Verified, Rejection> {
        self.verify_with_max_age(token, providers, now, MAX_AGE)
            .await
    }

    /// [`Self::verify`], with another maximum age than [`MAX_AGE`] (a workload's tokens are
    /// fresh from its platform, and should be used as such).
    pub async fn verify_with_max_age(
        &self,
        token: &str,
        providers: &[Provider],
        now: OffsetDateTime,
        max_age: Duration,
    ) -> Result<Verified, Rejection> {
        let (header, claimed_issuer) = header_and_issuer(token)?;
        let kid = header.kid.as_deref().ok_or(Rejection::MissingKeyId)?;
        let provider = providers
            .iter()
            .find(|provider| provider.issuer == claimed_issuer)
            .ok_or(Rejection::UnknownIssuer)?;
        let jwk = match self.keys.key(&provider.issuer, kid).await {
            Ok(jwk) => jwk,
            Err(KeyError::UnknownKey(_)) => return Err(Rejection::UnknownKey),
            Err(error) => return Err(Rejection::ProviderUnavailable(error)),
        };
        if let Some(declared) = jwk.common.key_algorithm
            && declared.to_string() != format!("{:?}", header.alg)
        {
            return Err(Rejection::Algorithm);
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| Rejection::Algorithm)?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&provider.issuer]);
        validation.set_audience(&provider.audiences);
        // Times are checked below, against the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["iss", "aud"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(
            |error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidAudience => Rejection::Audience,
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => Rejection::UnknownIssuer,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat => Rejection::Algorithm,
                jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => {
                    Rejection::MissingClaim("aud")
                }
                jsonwebtoken::errors::ErrorKind::InvalidToken
                | jsonwebtoken::errors::ErrorKind::Base64(_)
                | jsonwebtoken::errors::ErrorKind::Json(_)
                | jsonwebtoken::errors::ErrorKind::Utf8(_) => Rejection::Malformed,
                _ => Rejection::Signature,
            },
        )?;
        let claims = data.claims;
        check_times(&claims, now, max_age)?;
        let subject = subject(&claims)?;
        Ok(Verified {
            issuer: provider.issuer.clone(),
            subject,
            claims,
            token_type: TokenType::of(header.typ.as_deref()),
        })
    }
}

/// Rules 1 to 3: a JWT of at most [`MAX_TOKEN_BYTES`], an accepted algorithm, a key id, and
/// the unverified `iss`.
fn header_and_issuer(token: &str) -> Result<(Header, String), Rejection> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Rejection::TooLarge);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| {
        // A header that names an algorithm `jsonwebtoken` does not even know (`none`).
        if declared_algorithm(token).is_some() {
            Rejection::Algorithm
        } else {
            Rejection::Malformed
        }
    })?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(Rejection::Algorithm);
    }
    if header.kid.is_none() {
        return Err(Rejection::MissingKeyId);
    }
    let issuer = unverified_issuer(token)?;
    Ok((header, issuer))
}

/// The `alg` a token's header declares, whatever it is.
fn declared_algorithm(token: &str) -> Option<String> {
    use base64::Engine;
    let (header, _) = token.split_once('.')?;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let header: Value = serde_json::from_slice(&header).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

/// The `iss` of the payload, unverified: only to choose whose keys verify it.
fn unverified_issuer(token: &str) -> Result<String, Rejection> {
    let data = jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(token)
        .map_err(|_| Rejection::Malformed)?;
    match data.claims.get("iss") {
        Some(Value::String(issuer)) => Ok(issuer.clone()),
        _ => Err(Rejection::MissingClaim("iss")),
    }
}

/// The non-empty `sub` of verified claims.
pub(crate) fn subject(claims: &Map<String, Value>) -> Result<String, Rejection> {
    match claims.get("sub") {
        Some(Value::String(subject)) if !subject.is_empty() => Ok(subject.clone()),
        _ => Err(Rejection::MissingClaim("sub")),
    }
}

/// `exp` (required), `nbf` (if present) and `iat` (required, and at most `max_age` ago).
pub(crate) fn check_times(
    claims: &Map<String, Value>,
    now: OffsetDateTime,
    max_age: Duration,
) -> Result<(), Rejection> {
    let seconds = |name: &'static str| -> Result<Option<i64>, Rejection> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                .or_else(|| number.as_f64().map(|f| f as i64))
                .map(Some)
                .ok_or(Rejection::MissingClaim(name)),
            Some(_) => Err(Rejection::MissingClaim(name)),
        }
    };
    let now = now.unix_timestamp();
    let leeway = i64::try_from(LEEWAY.as_secs()).unwrap_or(60);
    let max_age = i64::try_from(max_age.as_secs()).unwrap_or(86_400);
    let exp = seconds("exp")?.ok_or(Rejection::MissingClaim("exp"))?;
    if exp.saturating_add(leeway) <= now {
        return Err(Rejection::Expired);
    }
    if let Some(nbf) = seconds("nbf")?
        && nbf.saturating_sub(leeway) > now
    {
        return Err(Rejection::NotYetValid);
    }
    let iat = seconds("iat")?.ok_or(Rejection::MissingClaim("iat"))?;
    if iat.saturating_sub(leeway) > now {
        return Err(Rejection::NotYetValid);
    }
    if now.saturating_sub(iat) > max_age {
        return Err(Rejection::TooOld);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, i64)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), Value::from(*value)))
            .collect()
    }

    #[test]
    fn times_are_checked_with_the_leeway_and_the_maximum_age() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let t = now.unix_timestamp();
        assert_eq!(
            check_times(&claims(&[("exp", t + 600), ("iat", t - 60)]), now, MAX_AGE),
            Ok(())
        );
        // Within the leeway both ways.
        assert_eq!(
            check_times(&claims(&[("exp", t - 30), ("iat", t + 30)]), now, MAX_AGE),
            Ok(())
        );
        assert_eq!(
            check_times(&claims(&[("exp", t - 61), ("iat", t - 600)]), now, MAX_AGE),
            Err(Rejection::Expired)
        );
        assert_eq!(
            check_times(
                &claims(&[("exp", t + 600), ("nbf", t + 120), ("iat", t)]),
                now,
                MAX_AGE
            ),
            Err(Rejection::NotYetValid)
        );
        assert_eq!(
            check_times(&claims(&[("exp", t + 600), ("iat", t + 120)]), now, MAX_AGE),
            Err(Rejection::NotYetValid)
        );
        assert_eq!(
            check_times(
                &claims(&[("exp", t + 600), ("iat", t - 90_000)]),
                now,
                MAX_AGE
            ),
            Err(Rejection::TooOld)
        );
        assert_eq!(
            check_times(&claims(&[("iat", t)]), now, MAX_AGE),
            Err(Rejection::MissingClaim("exp"))
        );
        assert_eq!(
            check_times(&claims(&[("exp", t + 600)]), now, MAX_AGE),
            Err(Rejection::MissingClaim("iat"))
        );
    }
}
