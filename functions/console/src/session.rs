//! Who is signed in: a sealed cookie (`cookie`'s private jar: AES-256-GCM with the
//! deployment's key), so its holder can neither read nor change it.
//!
//! * The **session** cookie holds the organization, who signed in (a person: issuer, subject
//!   and the claims the role mapping and the display name read; or an admin token: its id and
//!   owner, never its secret), a CSRF token and an expiry. It is `HttpOnly`, `SameSite=Lax` (the provider sends the person back
//!   with a top-level redirect), `Path=/`, `Secure` with the `__Host-` prefix when served over
//!   HTTPS, and lives [`SESSION_LIFETIME`]. The role is worked out again on every request from
//!   the organization's current providers, so a changed mapping applies at once.
//! * The **sign-in** cookie holds a pending authorization code flow (state, nonce, PKCE
//!   verifier) for [`PENDING_LIFETIME`].

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use cookie::{Cookie, CookieJar, Key, SameSite};
use oidc::signin::Pending;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

/// How long a session lasts, whatever is done with it.
pub const SESSION_LIFETIME: Duration = Duration::hours(1);
/// How long a person has to come back from their provider.
pub const PENDING_LIFETIME: Duration = Duration::minutes(10);
/// How long a new token's secret waits for the page that shows it (the redirect after the
/// mint is followed at once).
pub const REVEAL_LIFETIME: Duration = Duration::minutes(2);

/// Who signed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Who {
    /// A person of one of the organization's providers.
    Person {
        issuer: String,
        subject: String,
        /// The claims the role mapping and the display name read, as verified at sign-in.
        claims: Map<String, Value>,
    },
    /// Whoever held one of the organization's admin tokens: its id and owner (an account id,
    /// or none for an org-wide token). It is checked again on every request, but for the
    /// secret, by the rules of the one verification path.
    Token {
        token: String,
        account: Option<String>,
    },
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub org: String,
    pub who: Who,
    pub csrf: String,
    /// Unix seconds.
    pub expires: i64,
}

/// The CSRF token of the sign-in form, before there is a session.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SignInForm {
    csrf: String,
    expires: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub org: String,
    pub flow: Pending,
    pub expires: i64,
}

/// A new token's secret on its way from the mint (a `POST`) to the page that shows it once
/// (a `GET` reached by a redirect): sealed, for [`REVEAL_LIFETIME`], bound to the session
/// (its CSRF token) and forgotten by the page that shows it, so a reload shows "already
/// shown" and never mints again.
#[derive(Clone, Serialize, Deserialize)]
pub struct Reveal {
    pub org: String,
    /// The CSRF token of the session that minted it.
    pub csrf: String,
    pub token: String,
    /// The token's account, none for an org-wide token.
    pub account: Option<String>,
    pub secret: String,
    /// Whether a rotation made it (the page then says what happens to the old token).
    pub rotated: bool,
    pub expires: i64,
}

impl std::fmt::Debug for Reveal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reveal")
            .field("org", &self.org)
            .field("token", &self.token)
            .field("account", &self.account)
            .field("rotated", &self.rotated)
            .finish_non_exhaustive()
    }
}

/// The cookies' key and attributes.
#[derive(Clone)]
pub struct Sessions {
    key: Key,
    secure: bool,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// `key`: at least 64 bytes from the deployment; `secure`: served over HTTPS.
    pub fn new(key: &[u8], secure: bool) -> Result<Self, String> {
        if key.len() < 64 {
            return Err("at least 64 characters of random text".into());
        }
        // HKDF over the whole secret: every character counts.
        let key = Key::derive_from(key);
        Ok(Self { key, secure })
    }

    fn name(&self, base: &'static str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    fn jar(headers: &HeaderMap) -> CookieJar {
        let mut jar = CookieJar::new();
        for header in headers.get_all(COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            for cookie in Cookie::split_parse_encoded(text.to_owned()).flatten() {
                jar.add_original(cookie);
            }
        }
        jar
    }

    fn read<T: for<'de> Deserialize<'de>>(
        &self,
        headers: &HeaderMap,
        base: &'static str,
    ) -> Option<T> {
        let jar = Self::jar(headers);
        let cookie = jar.private(&self.key).get(&self.name(base))?;
        serde_json::from_str(cookie.value()).ok()
    }

    fn seal(&self, base: &'static str, value: &impl Serialize, max_age: Duration) -> String {
        let mut jar = CookieJar::new();
        let text = serde_json::to_string(value).unwrap_or_default();
        jar.private_mut(&self.key)
            .add(self.attributes(Cookie::new(self.name(base), text), max_age));
        jar.delta()
            .next()
            .map(|cookie| cookie.encoded().to_string())
            .unwrap_or_default()
    }

    fn attributes(&self, mut cookie: Cookie<'static>, max_age: Duration) -> Cookie<'static> {
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_path("/");
        cookie.set_secure(self.secure);
        cookie.set_max_age(max_age);
        cookie
    }

    fn removal(&self, base: &'static str) -> String {
        self.attributes(Cookie::new(self.name(base), ""), Duration::ZERO)
            .encoded()
            .to_string()
    }

    /// The session of the request, unless it has none, or one that is over.
    pub fn session(&self, headers: &HeaderMap, now: OffsetDateTime) -> Option<Session> {
        self.read::<Session>(headers, "session")
            .filter(|session| now.unix_timestamp() < session.expires)
    }

    /// A `Set-Cookie` value that starts `session`, unless it would be larger than browsers
    /// keep (4 KiB).
    pub fn start(&self, session: &Session) -> Option<String> {
        Some(self.seal("session", session, SESSION_LIFETIME)).filter(|cookie| cookie.len() <= 4000)
    }

    /// A `Set-Cookie` value that ends the session.
    pub fn end(&self) -> String {
        self.removal("session")
    }

    pub fn pending(&self, headers: &HeaderMap, now: OffsetDateTime) -> Option<PendingSignIn> {
        self.read::<PendingSignIn>(headers, "signin")
            .filter(|pending| now.unix_timestamp() < pending.expires)
    }

    pub fn start_pending(&self, pending: &PendingSignIn) -> String {
        self.seal("signin", pending, PENDING_LIFETIME)
    }

    pub fn end_pending(&self) -> String {
        self.removal("signin")
    }

    /// A new token's secret for the page that shows it, for the session `session`, unless it
    /// is over or was sealed for another session.
    pub fn reveal(
        &self,
        headers: &HeaderMap,
        session: &Session,
        now: OffsetDateTime,
    ) -> Option<Reveal> {
        self.read::<Reveal>(headers, "reveal").filter(|reveal| {
            now.unix_timestamp() < reveal.expires
                && reveal.org == session.org
                && csrf_matches(session, Some(&reveal.csrf))
        })
    }

    pub fn start_reveal(&self, reveal: &Reveal) -> String {
        self.seal("reveal", reveal, REVEAL_LIFETIME)
    }

    pub fn end_reveal(&self) -> String {
        self.removal("reveal")
    }

    /// A `Set-Cookie` value that binds the sign-in form's `csrf` to this browser.
    pub fn start_form(&self, csrf: &str, now: OffsetDateTime) -> String {
        let form = SignInForm {
            csrf: csrf.to_owned(),
            expires: (now + PENDING_LIFETIME).unix_timestamp(),
        };
        self.seal("form", &form, PENDING_LIFETIME)
    }

    /// Whether `presented` is the CSRF token of the sign-in form this browser was given.
    pub fn form_matches(
        &self,
        headers: &HeaderMap,
        presented: Option<&str>,
        now: OffsetDateTime,
    ) -> bool {
        use subtle::ConstantTimeEq;
        let Some(form) = self
            .read::<SignInForm>(headers, "form")
            .filter(|form| now.unix_timestamp() < form.expires)
        else {
            return false;
        };
        presented.is_some_and(|presented| {
            !form.csrf.is_empty() && bool::from(presented.as_bytes().ct_eq(form.csrf.as_bytes()))
        })
    }
}

/// Whether `presented` is the session's CSRF token (compared in constant time).
pub fn csrf_matches(session: &Session, presented: Option<&str>) -> bool {
    use subtle::ConstantTimeEq;
    presented.is_some_and(|presented| {
        !session.csrf.is_empty() && bool::from(presented.as_bytes().ct_eq(session.csrf.as_bytes()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn sessions(secure: bool) -> Sessions {
        Sessions::new(&[7u8; 64], secure).unwrap()
    }

    fn session(expires: i64) -> Session {
        Session {
            org: "acme".into(),
            who: Who::Person {
                issuer: "https://idp.example.com".into(),
                subject: "ada".into(),
                claims: Map::new(),
            },
            csrf: "csrf-token".into(),
            expires,
        }
    }

    fn request_with(set_cookie: &str) -> HeaderMap {
        let pair = set_cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(pair).unwrap());
        headers
    }

    #[test]
    fn a_session_is_sealed_read_back_and_refused_when_tampered_forged_or_over() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let sessions = sessions(true);
        let cookie = sessions.start(&session(now.unix_timestamp() + 60)).unwrap();
        assert!(cookie.starts_with("__Host-session="));
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=3600",
        ] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        // Sealed: the subject is not readable in the cookie.
        assert!(!cookie.contains("ada"));
        let read = sessions.session(&request_with(&cookie), now).unwrap();
        assert_eq!(read, session(now.unix_timestamp() + 60));
        // Over.
        assert!(
            sessions
                .session(&request_with(&cookie), now + Duration::minutes(2))
                .is_none()
        );
        // Tampered: one character of the sealed value changed.
        let mut tampered: Vec<char> = cookie.chars().collect();
        let at = "__Host-session=".len() + 10;
        tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
        let tampered: String = tampered.into_iter().collect();
        assert!(sessions.session(&request_with(&tampered), now).is_none());
        // Sealed with another key, or written in clear.
        let other = Sessions::new(&[8u8; 64], true).unwrap();
        assert!(other.session(&request_with(&cookie), now).is_none());
        let clear = format!(
            "__Host-session={}",
            serde_json::to_string(&session(now.unix_timestamp() + 60)).unwrap()
        );
        assert!(sessions.session(&request_with(&clear), now).is_none());
        // Over plain HTTP (locally): no prefix, no Secure.
        let local = sessions_local_cookie();
        assert!(local.starts_with("session=") && !local.contains("Secure"));
        assert!(Sessions::new(&[1u8; 32], true).is_err());
    }

    fn sessions_local_cookie() -> String {
        sessions(false).start(&session(0)).unwrap()
    }

    #[test]
    fn a_new_tokens_secret_is_sealed_for_its_session_and_only_for_a_moment() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let sessions = sessions(true);
        let reveal = Reveal {
            org: "acme".into(),
            csrf: "csrf-token".into(),
            token: "t1".into(),
            account: None,
            secret: "svc_secret_text".into(),
            rotated: false,
            expires: (now + REVEAL_LIFETIME).unix_timestamp(),
        };
        let cookie = sessions.start_reveal(&reveal);
        assert!(cookie.starts_with("__Host-reveal=") && cookie.contains("Max-Age=120"));
        assert!(!cookie.contains("svc_secret_text"));
        assert!(!format!("{reveal:?}").contains("svc_secret_text"));
        let mine = session(0);
        let read = sessions.reveal(&request_with(&cookie), &mine, now).unwrap();
        assert_eq!(read.secret, "svc_secret_text");
        // Another session of the browser, another organization, or too late: nothing.
        let other = Session {
            csrf: "another".into(),
            ..session(0)
        };
        assert!(
            sessions
                .reveal(&request_with(&cookie), &other, now)
                .is_none()
        );
        let elsewhere = Session {
            org: "globex".into(),
            ..session(0)
        };
        assert!(
            sessions
                .reveal(&request_with(&cookie), &elsewhere, now)
                .is_none()
        );
        let late = now + REVEAL_LIFETIME;
        assert!(
            sessions
                .reveal(&request_with(&cookie), &mine, late)
                .is_none()
        );
        assert!(sessions.end_reveal().contains("Max-Age=0"));
    }

    #[test]
    fn the_csrf_token_must_be_the_sessions() {
        let session = session(0);
        assert!(csrf_matches(&session, Some("csrf-token")));
        assert!(!csrf_matches(&session, Some("csrf-tokem")));
        assert!(!csrf_matches(&session, None));
        let empty = Session {
            csrf: String::new(),
            ..session
        };
        assert!(!csrf_matches(&empty, Some("")));
    }
}
