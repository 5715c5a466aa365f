//! Request bodies and response views of the token routes. The secret appears in exactly one
//! view, [`MintedToken`], the answer to a mint or a rotation; every other view carries only
//! the display prefix.

use admin_api::problem::{ApiError, FieldError};
use admin_api::response::ActorView;
use serde::{Deserialize, Serialize};
use shared::access::{Scope, Scopes};
use shared::model::{Token, TokenKind, TokenStatus};
use shared::policy::{LifetimePreset, TokenLifetime};
use shared::text::{Description, DisplayName};
use shared::token::{ParsedToken, TokenSecret};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use usecases::Page;
use usecases::tokens::{MintRequest, Minted};

/// `POST .../tokens` and `POST .../service-tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MintToken {
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// A preset (`1h` `1d` `30d` `90d` `1y` `2y` `5y`) or `never`.
    #[serde(default)]
    lifetime: Option<String>,
    /// An explicit expiry (RFC 3339), instead of `lifetime`.
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

impl MintToken {
    /// The request in domain types; the lifetime is resolved against the organization's
    /// policy by the use case.
    pub fn validate(self) -> Result<MintRequest, ApiError> {
        let mut errors = Vec::new();
        let name = DisplayName::parse(&self.name)
            .map_err(|e| errors.push(FieldError::new("name", e.reason())))
            .ok();
        let description = match self.description.as_deref().map(Description::parse) {
            None => Some(None),
            Some(Ok(description)) => Some(Some(description)),
            Some(Err(e)) => {
                errors.push(FieldError::new("description", e.reason()));
                None
            }
        };
        let mut scopes = Vec::new();
        for (i, scope) in self.scopes.iter().enumerate() {
            match Scope::parse(scope) {
                Ok(scope) => scopes.push(scope),
                Err(e) => errors.push(FieldError::new(format!("scopes[{i}]"), e.reason())),
            }
        }
        let scopes = Scopes::parse(scopes)
            .map_err(|e| errors.push(FieldError::new("scopes", e.reason())))
            .ok();
        let lifetime = match (&self.lifetime, &self.expires_at) {
            (Some(_), Some(_)) => {
                errors.push(FieldError::new(
                    "expiresAt",
                    "give either `lifetime` or `expiresAt`, not both",
                ));
                None
            }
            (Some(lifetime), None) if lifetime == "never" => Some(Some(TokenLifetime::NonExpiring)),
            (Some(lifetime), None) => match LifetimePreset::parse(lifetime) {
                Ok(preset) => Some(Some(TokenLifetime::Preset(preset))),
                Err(e) => {
                    errors.push(FieldError::new(
                        "lifetime",
                        format!("{} (or `never`)", e.reason()),
                    ));
                    None
                }
            },
            (None, Some(at)) => match OffsetDateTime::parse(at, &Rfc3339) {
                Ok(at) => Some(Some(TokenLifetime::ExpiresAt(at))),
                Err(_) => {
                    errors.push(FieldError::new(
                        "expiresAt",
                        "an RFC 3339 date-time such as 2027-01-31T00:00:00Z",
                    ));
                    None
                }
            },
            (None, None) => Some(None),
        };
        match (name, description, scopes, lifetime) {
            (Some(name), Some(description), Some(scopes), Some(lifetime)) if errors.is_empty() => {
                Ok(MintRequest {
                    name,
                    description,
                    scopes,
                    lifetime,
                })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// `POST .../rotate` and `POST /v1/tokens/self/rotate`: an optional body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RotateToken {
    /// How long the old token keeps working, in seconds (0–604800, i.e. up to 7 days).
    #[serde(default, deserialize_with = "admin_api::extract::whole_number")]
    grace_period_seconds: Option<i64>,
}

impl RotateToken {
    /// The grace period asked for (the use case checks its range).
    pub fn grace(&self) -> Duration {
        Duration::seconds(self.grace_period_seconds.unwrap_or(0))
    }
}

/// A token's metadata, as the API shows it: never the secret, never the hash.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    id: String,
    kind: TokenKind,
    org: String,
    account: Option<String>,
    name: String,
    description: Option<String>,
    display_prefix: String,
    scopes: Vec<String>,
    status: TokenStatus,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    created_by: ActorView,
    #[serde(with = "time::serde::rfc3339::option")]
    expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    revoked_at: Option<OffsetDateTime>,
    revoked_by: Option<ActorView>,
    rotated_from: Option<String>,
    rotated_to: Option<String>,
    /// When it was replaced by `rotatedTo` (it works until `revokedAt`, its grace's end).
    #[serde(with = "time::serde::rfc3339::option")]
    rotated_at: Option<OffsetDateTime>,
    /// Where the token was reported as seen in public, if it was.
    leak: Option<LeakView>,
    /// The last expiry warning recorded for it (`token.expiring`).
    expiry_warning: Option<ExpiryWarningView>,
    /// Why a rule revoked it (the retirement of unused tokens).
    revocation_reason: Option<String>,
    version: u64,
}

/// An expiry warning, as the admin API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryWarningView {
    days: u16,
    #[serde(with = "time::serde::rfc3339")]
    warned_at: OffsetDateTime,
    warned_by: ActorView,
}

/// A leak report, as the admin API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeakView {
    #[serde(with = "time::serde::rfc3339")]
    reported_at: OffsetDateTime,
    reported_by: ActorView,
    source: Option<String>,
    url: Option<String>,
}

impl TokenView {
    pub fn new(token: &Token, now: OffsetDateTime) -> Self {
        Self {
            id: token.id.to_string(),
            kind: token.kind,
            org: token.org.to_string(),
            account: token.account.as_ref().map(ToString::to_string),
            name: token.name.to_string(),
            description: token.description.as_ref().map(ToString::to_string),
            display_prefix: token.display_prefix.clone(),
            scopes: token.scopes.iter().map(ToString::to_string).collect(),
            status: token.status(now),
            created_at: token.created_at,
            created_by: ActorView::from(&token.created_by),
            expires_at: token.expires_at,
            last_used_at: token.last_used_at,
            revoked_at: token.revoked_at,
            revoked_by: token.revoked_by.as_ref().map(ActorView::from),
            rotated_from: token.rotated_from.as_ref().map(ToString::to_string),
            rotated_to: token.rotated_to.as_ref().map(ToString::to_string),
            rotated_at: token.rotated_at,
            leak: token.leak.as_ref().map(|leak| LeakView {
                reported_at: leak.reported_at,
                reported_by: ActorView::from(&leak.reported_by),
                source: leak.source.clone(),
                url: leak.url.clone(),
            }),
            expiry_warning: token
                .expiry_warning
                .as_ref()
                .map(|warning| ExpiryWarningView {
                    days: warning.days,
                    warned_at: warning.warned_at,
                    warned_by: ActorView::from(&warning.warned_by),
                }),
            revocation_reason: token.revocation_reason.clone(),
            version: token.version,
        }
    }
}

/// The answer to a mint or rotation: the token, shown this once, and its metadata. The
/// secret is serialized into the response and nowhere else: `Debug` prints `[REDACTED]`.
#[derive(Debug, Serialize)]
pub struct MintedToken {
    #[serde(serialize_with = "expose")]
    token: TokenSecret,
    #[serde(flatten)]
    metadata: TokenView,
}

fn expose<S: serde::Serializer>(secret: &TokenSecret, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

impl MintedToken {
    pub fn new(parsed: &ParsedToken, token: &Token, now: OffsetDateTime) -> Self {
        Self {
            token: parsed.secret().clone(),
            metadata: TokenView::new(token, now),
        }
    }

    pub fn of(minted: &Minted, now: OffsetDateTime) -> Self {
        Self::new(&minted.secret, &minted.token, now)
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenList {
    items: Vec<TokenView>,
    next_cursor: Option<String>,
}

impl TokenList {
    pub fn new(page: Page<Token>, now: OffsetDateTime) -> Self {
        Self {
            items: page
                .items
                .iter()
                .map(|token| TokenView::new(token, now))
                .collect(),
            next_cursor: page.next_cursor,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RevokedCount {
    pub revoked: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ids::OrgId;
    use shared::model::{Actor, NewToken, TokenKind};
    use shared::token::{TokenFormat, TokenOwner};

    #[test]
    fn a_minted_token_debug_prints_no_secret() {
        let org = OrgId::parse("acme").unwrap();
        let parsed =
            ParsedToken::generate(&TokenFormat::generate().unwrap(), &org, TokenOwner::Org)
                .unwrap();
        let fields = NewToken {
            name: DisplayName::parse("t").unwrap(),
            description: None,
            scopes: Scopes::default(),
            expires_at: None,
        };
        let now = OffsetDateTime::now_utc();
        let token = Token::new(TokenKind::Org, &parsed, fields, Actor::system("t"), now);
        let minted = MintedToken::new(&parsed, &token, now);
        let secret = parsed.secret().expose_secret();
        let printed = format!("{minted:?} {minted:#?}");
        assert!(!printed.contains(secret), "{printed}");
        assert!(!printed.contains(&secret[secret.len() - 20..]));
        assert!(printed.contains("REDACTED"));
        let json = serde_json::to_value(&minted).unwrap();
        assert_eq!(json["token"], secret, "the response still carries it");
    }
}
