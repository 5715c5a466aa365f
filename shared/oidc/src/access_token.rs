//! What a `Bearer` JWT must be: an OAuth 2.0 access token, never an ID token.
//!
//! An ID token proves a sign-in to the client it names in `aud`, and is for that client alone
//! (OpenID Connect Core §2). The console signs people in as its own client (a provider's
//! `consoleClientId`), which must therefore be one of the provider's audiences; if every
//! audience were good for the API, the console's ID token would be an API credential. So a
//! bearer JWT is accepted only as an access token:
//!
//! * its `aud` names one of the provider's **API audiences**: its audiences but the console's
//!   client (the caller verifies against those alone), so a token for the console's client
//!   only is refused, whatever its header says;
//! * and if it names the console's client as well, its header must say it is an access token:
//!   `typ: at+jwt` (RFC 9068 §2.1; `application/at+jwt` too, RFC 8725 §3.11), which no ID token
//!   carries;
//! * behind an API Gateway JWT authorizer the header is not seen, so such claims are
//!   [`Rejection::Ambiguous`] and the caller verifies the JWT itself.

use serde_json::Value;

use crate::{Rejection, Verified};

/// What a token's header says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// `typ: at+jwt` (or `application/at+jwt`, any case): an access token (RFC 9068).
    AccessToken,
    /// Another `typ` (`JWT`), or none.
    Other,
    /// The header was not seen (claims an API Gateway JWT authorizer passed on).
    Unseen,
}

impl TokenType {
    /// The type a header's `typ` declares.
    pub fn of(typ: Option<&str>) -> Self {
        let Some(typ) = typ else {
            return Self::Other;
        };
        let media = typ
            .get(..12)
            .filter(|prefix| prefix.eq_ignore_ascii_case("application/"))
            .map_or(typ, |_| &typ[12..]);
        if media.eq_ignore_ascii_case("at+jwt") {
            Self::AccessToken
        } else {
            Self::Other
        }
    }
}

/// Accepts `verified` (already checked against the provider's API audiences) as an access
/// token, given the console's client of its provider, if it has one.
pub fn require(verified: &Verified, console_client: Option<&str>) -> Result<(), Rejection> {
    let Some(console) = console_client else {
        return Ok(());
    };
    let names_console = match verified.claims.get("aud") {
        Some(Value::String(aud)) => aud == console,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(console)),
        _ => false,
    };
    match (names_console, verified.token_type) {
        (false, _) | (true, TokenType::AccessToken) => Ok(()),
        (true, TokenType::Other) => Err(Rejection::NotAnAccessToken),
        (true, TokenType::Unseen) => Err(Rejection::Ambiguous),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn token(aud: Value, token_type: TokenType) -> Verified {
        Verified {
            issuer: "https://idp.example.com".into(),
            subject: "ada".into(),
            claims: json!({"aud": aud}).as_object().cloned().unwrap_or_default(),
            token_type,
        }
    }

    #[test]
    fn the_header_says_whether_a_token_is_an_access_token() {
        for typ in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+JWT",
        ] {
            assert_eq!(TokenType::of(Some(typ)), TokenType::AccessToken, "{typ}");
        }
        for typ in [
            Some("JWT"),
            Some("application/jwt"),
            Some("at+jwt "),
            Some("application/"),
            Some("x/at+jwt"),
            Some("é"),
            None,
        ] {
            assert_eq!(TokenType::of(typ), TokenType::Other, "{typ:?}");
        }
    }

    #[test]
    fn a_token_naming_the_consoles_client_must_be_typed_as_an_access_token() {
        let console = Some("console");
        let both = json!(["api", "console"]);
        assert_eq!(
            require(&token(json!("api"), TokenType::Other), console),
            Ok(())
        );
        assert_eq!(
            require(&token(both.clone(), TokenType::Other), None),
            Ok(())
        );
        assert_eq!(
            require(&token(both.clone(), TokenType::AccessToken), console),
            Ok(())
        );
        assert_eq!(
            require(&token(both.clone(), TokenType::Other), console),
            Err(Rejection::NotAnAccessToken)
        );
        assert_eq!(
            require(&token(json!("console"), TokenType::Other), console),
            Err(Rejection::NotAnAccessToken)
        );
        // Without the header, the JWT itself must be looked at.
        assert_eq!(
            require(&token(both, TokenType::Unseen), console),
            Err(Rejection::Ambiguous)
        );
        assert_eq!(
            require(&token(json!("api"), TokenType::Unseen), console),
            Ok(())
        );
    }
}
