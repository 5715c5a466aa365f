//! A person signing in through their provider's authorization code flow, as a public client
//! with PKCE (RFC 7636, `S256`), `state` and `nonce` (OpenID Connect Core §3.1).
//!
//! [`start`] makes the authorization URL and the [`Pending`] values the caller keeps (sealed,
//! in a short-lived cookie) until the provider sends the person back; [`finish`] checks
//! `state`, exchanges the code (with the PKCE verifier) at the token endpoint, verifies the
//! ID token by the crate's rules ([`crate::OidcVerifier::verify`]: signature, exact issuer,
//! audience, times) and then its `nonce`. The random values and the challenge come from the
//! `oauth2` crate.

use oauth2::{CsrfToken, PkceCodeChallenge};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::keys::{Endpoints, KeyError};
use crate::{OidcVerifier, Provider, Rejection, Verified};

/// The largest token endpoint answer read.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// What is kept between sending the person to the provider and their return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub issuer: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: String,
    pub nonce: String,
    pub code_verifier: String,
}

/// Where to send the person, and what to keep until they come back.
#[derive(Debug)]
pub struct Started {
    pub url: String,
    pub pending: Pending,
}

/// Why a sign-in did not succeed. The texts name no code, token or verifier.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("the sign-in's state does not match: start again")]
    State,
    #[error("the identity provider refused the sign-in: {0}")]
    Refused(String),
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    #[error("the ID token was refused: {0}")]
    Token(Rejection),
    #[error("the ID token's nonce is not this sign-in's")]
    Nonce,
}

/// Starts a sign-in with `issuer` (whose discovery gave `endpoints`) as `client_id`.
pub fn start(endpoints: &Endpoints, issuer: &str, client_id: &str, redirect_uri: &str) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = CsrfToken::new_random().secret().clone();
    let nonce = CsrfToken::new_random().secret().clone();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid email profile groups")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", challenge.method().as_str())
        .finish();
    let separator = if endpoints.authorization.contains('?') {
        '&'
    } else {
        '?'
    };
    Started {
        url: format!("{}{separator}{query}", endpoints.authorization),
        pending: Pending {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            state,
            nonce,
            code_verifier: verifier.secret().clone(),
        },
    }
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    error: Option<String>,
}

/// Finishes the sign-in `pending` with the provider's answer (`code` and `state`), against
/// the organization's `providers`, at `now`.
pub async fn finish(
    verifier: &OidcVerifier,
    pending: &Pending,
    code: &str,
    state: &str,
    providers: &[Provider],
    now: OffsetDateTime,
) -> Result<Verified, SignInError> {
    use subtle::ConstantTimeEq;
    if !bool::from(state.as_bytes().ct_eq(pending.state.as_bytes())) {
        return Err(SignInError::State);
    }
    let endpoints = verifier
        .keys
        .endpoints(&pending.issuer)
        .await
        .map_err(|error: KeyError| SignInError::Unavailable(error.to_string()))?;
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &pending.redirect_uri)
        .append_pair("client_id", &pending.client_id)
        .append_pair("code_verifier", &pending.code_verifier)
        .finish();
    let answer: TokenAnswer = verifier
        .keys
        .fetcher()
        .post_form(
            &endpoints.token,
            &pending.issuer,
            form,
            MAX_TOKEN_RESPONSE_BYTES,
        )
        .await
        .map_err(|error| match error {
            crate::fetch::FetchError::Status { status, .. } if status < 500 => {
                SignInError::Refused(format!("the token endpoint answered HTTP {status}"))
            }
            error => SignInError::Unavailable(error.to_string()),
        })?;
    let id_token = match (answer.id_token, answer.error) {
        (Some(id_token), None) => id_token,
        (_, Some(error)) => return Err(SignInError::Refused(error)),
        (None, None) => return Err(SignInError::Refused("no ID token".into())),
    };
    let verified = verifier
        .verify(&id_token, providers, now)
        .await
        .map_err(SignInError::Token)?;
    if verified.issuer != pending.issuer {
        return Err(SignInError::Token(Rejection::UnknownIssuer));
    }
    // For this client (OpenID Connect Core §3.1.3.7): `aud` names it, and `azp`, when there
    // is one, is it.
    let audiences: Vec<&str> = match verified.claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let azp = verified.claims.get("azp").and_then(Value::as_str);
    if !audiences.contains(&pending.client_id.as_str())
        || azp.is_some_and(|azp| azp != pending.client_id)
    {
        return Err(SignInError::Token(Rejection::Audience));
    }
    match verified.claims.get("nonce") {
        Some(Value::String(nonce)) if nonce.as_bytes().ct_eq(pending.nonce.as_bytes()).into() => {
            Ok(verified)
        }
        _ => Err(SignInError::Nonce),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_url_carries_a_fresh_state_nonce_and_s256_challenge() {
        let endpoints = Endpoints {
            authorization: "https://idp.example.com/auth".into(),
            token: "https://idp.example.com/token".into(),
        };
        let one = start(
            &endpoints,
            "https://idp.example.com",
            "console",
            "https://x/cb",
        );
        let two = start(
            &endpoints,
            "https://idp.example.com",
            "console",
            "https://x/cb",
        );
        assert_ne!(one.pending.state, two.pending.state);
        assert_ne!(one.pending.nonce, two.pending.nonce);
        assert_ne!(one.pending.code_verifier, two.pending.code_verifier);
        let query: std::collections::HashMap<String, String> = form_urlencoded::parse(
            one.url
                .strip_prefix("https://idp.example.com/auth?")
                .unwrap()
                .as_bytes(),
        )
        .into_owned()
        .collect();
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["client_id"], "console");
        assert_eq!(query["redirect_uri"], "https://x/cb");
        assert_eq!(query["state"], one.pending.state);
        assert_eq!(query["nonce"], one.pending.nonce);
        assert_eq!(query["code_challenge_method"], "S256");
        // The challenge is the verifier's SHA-256, base64url without padding (RFC 7636 §4.2).
        use base64::Engine;
        use sha2::Digest;
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(one.pending.code_verifier.as_bytes()));
        assert_eq!(query["code_challenge"], expected);
        assert!(!one.url.contains(&one.pending.code_verifier));
    }
}
