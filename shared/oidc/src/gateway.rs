//! Claims an API Gateway HTTP API JWT authorizer already verified.
//!
//! Behind such an authorizer, API Gateway has checked the token's signature against its
//! issuer's JWKS, its `iss`, its `aud` (or `client_id`) and `exp`/`nbf`/`iat`, and passes the
//! claims in `requestContext.authorizer.jwt.claims`, every value as a string: numbers as their
//! decimal text, arrays as their values inside brackets separated by spaces (`[sa-admins ops]`).
//! That text is ambiguous (is `[not admins]` one group or two?), so a bracketed value with a
//! space in it is refused as [`Rejection::Ambiguous`]: the caller then verifies the JWT itself
//! (API Gateway passes the `Authorization` header on), never guesses a role from a split.
//!
//! The gateway's authorizer knows one issuer and its audiences; the organizations do not
//! enter into it. So the same organization rules as for a token verified here apply on top:
//! `iss` exactly one of the organization's providers, `aud` one of that provider's audiences,
//! `exp`, `nbf`, `iat` with [`LEEWAY`](crate::LEEWAY) and at most
//! [`MAX_AGE`](crate::MAX_AGE) old, and a subject. The values
//! are turned back into JSON (numbers for the time claims, arrays for bracketed lists) so the
//! role mapping reads them as it reads a token's.
//!
//! Only the caller decides whether an event's claims are to be believed at all: a Lambda
//! function can be invoked with any event by whoever may invoke it.

use std::collections::HashMap;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::{MAX_TOKEN_BYTES, Provider, Rejection, TokenType, Verified, check_times, subject};

/// The claims in `requestContext.authorizer.jwt.claims`, verified against `providers` (the
/// organization's) at `now`.
pub fn verify_gateway_claims(
    claims: &HashMap<String, String>,
    providers: &[Provider],
    now: OffsetDateTime,
) -> Result<Verified, Rejection> {
    let size: usize = claims
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    if size > MAX_TOKEN_BYTES {
        return Err(Rejection::TooLarge);
    }
    let issuer = claims.get("iss").ok_or(Rejection::MissingClaim("iss"))?;
    let provider = providers
        .iter()
        .find(|provider| &provider.issuer == issuer)
        .ok_or(Rejection::UnknownIssuer)?;
    if claims.values().any(|value| {
        is_list(value)
            && serde_json::from_str::<Vec<String>>(value).is_err()
            && value.contains(char::is_whitespace)
    }) {
        return Err(Rejection::Ambiguous);
    }
    let audiences = list(claims.get("aud").ok_or(Rejection::MissingClaim("aud"))?);
    if !audiences
        .iter()
        .any(|audience| provider.audiences.contains(audience))
    {
        return Err(Rejection::Audience);
    }
    let claims: Map<String, Value> = claims
        .iter()
        .map(|(name, value)| (name.clone(), json_value(name, value)))
        .collect();
    check_times(&claims, now, crate::MAX_AGE)?;
    let subject = subject(&claims)?;
    Ok(Verified {
        issuer: provider.issuer.clone(),
        subject,
        claims,
        // The gateway passes the claims, not the header.
        token_type: TokenType::Unseen,
    })
}

/// A claim's value as the token carried it, as well as the gateway's text tells.
fn json_value(name: &str, value: &str) -> Value {
    if matches!(name, "exp" | "nbf" | "iat" | "auth_time")
        && let Ok(seconds) = value.parse::<i64>()
    {
        return Value::from(seconds);
    }
    if is_list(value) {
        return Value::Array(list(value).into_iter().map(Value::String).collect());
    }
    Value::String(value.to_owned())
}

fn is_list(value: &str) -> bool {
    value.starts_with('[') && value.ends_with(']')
}

/// The values of a claim the gateway wrote as `[a]` (a one-element array: a bracketed value
/// with a space is refused before this), or as a JSON array of strings, which some
/// integrations produce, or the one value of a plain string.
fn list(value: &str) -> Vec<String> {
    if !is_list(value) {
        return vec![value.to_owned()];
    }
    if let Ok(values) = serde_json::from_str::<Vec<String>>(value) {
        return values;
    }
    value[1..value.len() - 1]
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISSUER: &str = "https://idp.example.com";

    fn providers() -> Vec<Provider> {
        vec![Provider {
            issuer: ISSUER.into(),
            audiences: vec!["admin-api".into()],
        }]
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn claims(changes: &[(&str, Option<&str>)]) -> HashMap<String, String> {
        let t = now().unix_timestamp();
        let mut claims: HashMap<String, String> = [
            ("iss", ISSUER.to_owned()),
            ("aud", "admin-api".to_owned()),
            ("sub", "ada".to_owned()),
            ("exp", (t + 600).to_string()),
            ("iat", (t - 60).to_string()),
            ("groups", "[sa-admins]".to_owned()),
            ("email", "ada@example.com".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        for (name, value) in changes {
            match value {
                Some(value) => claims.insert((*name).to_owned(), (*value).to_owned()),
                None => claims.remove(*name),
            };
        }
        claims
    }

    #[test]
    fn the_gateways_text_is_read_back_as_the_tokens_claims() {
        let verified = verify_gateway_claims(&claims(&[]), &providers(), now()).unwrap();
        assert_eq!(verified.issuer, ISSUER);
        assert_eq!(verified.subject, "ada");
        assert_eq!(verified.claims["groups"], json!(["sa-admins"]));
        assert_eq!(verified.claims["exp"], json!(now().unix_timestamp() + 600));
        assert_eq!(verified.claims["email"], json!("ada@example.com"));
        // A JSON-written list is unambiguous.
        let listed = claims(&[
            ("aud", Some(r#"["other","admin-api"]"#)),
            ("groups", Some(r#"["sa admins","ops"]"#)),
        ]);
        let verified = verify_gateway_claims(&listed, &providers(), now()).unwrap();
        assert_eq!(verified.claims["groups"], json!(["sa admins", "ops"]));
        // `[not admins]`: one group or two? Never guessed.
        for (name, value) in [("groups", "[not admins]"), ("aud", "[other admin-api]")] {
            assert_eq!(
                verify_gateway_claims(&claims(&[(name, Some(value))]), &providers(), now()),
                Err(Rejection::Ambiguous)
            );
        }
    }

    #[test]
    fn the_organizations_rules_apply_on_top_of_the_gateways() {
        let refused = |changes: &[(&str, Option<&str>)]| {
            verify_gateway_claims(&claims(changes), &providers(), now()).unwrap_err()
        };
        let t = now().unix_timestamp();
        assert_eq!(
            refused(&[("iss", Some("https://idp.example.com/"))]),
            Rejection::UnknownIssuer
        );
        assert_eq!(refused(&[("iss", None)]), Rejection::MissingClaim("iss"));
        assert_eq!(refused(&[("aud", Some("other"))]), Rejection::Audience);
        assert_eq!(refused(&[("aud", Some("[a]"))]), Rejection::Audience);
        assert_eq!(refused(&[("aud", None)]), Rejection::MissingClaim("aud"));
        let expired = (t - 120).to_string();
        assert_eq!(refused(&[("exp", Some(&expired))]), Rejection::Expired);
        assert_eq!(refused(&[("exp", None)]), Rejection::MissingClaim("exp"));
        assert_eq!(
            refused(&[("exp", Some("soon"))]),
            Rejection::MissingClaim("exp")
        );
        let future = (t + 600).to_string();
        assert_eq!(refused(&[("nbf", Some(&future))]), Rejection::NotYetValid);
        let old = (t - 2 * 86_400).to_string();
        assert_eq!(refused(&[("iat", Some(&old))]), Rejection::TooOld);
        assert_eq!(
            refused(&[("sub", Some(""))]),
            Rejection::MissingClaim("sub")
        );
        let huge = "x".repeat(MAX_TOKEN_BYTES);
        assert_eq!(refused(&[("junk", Some(&huge))]), Rejection::TooLarge);
        // No provider at all: nothing is trusted.
        assert_eq!(
            verify_gateway_claims(&claims(&[]), &[], now()).unwrap_err(),
            Rejection::UnknownIssuer
        );
    }
}
