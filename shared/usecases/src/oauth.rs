//! OAuth2 client credentials (RFC 6749 §4.4): a service account's id and one of its tokens
//! (the client secret) become a short-lived access token.
//!
//! * The client is authenticated through the one verification path; only a `service_account`
//!   token of that very account is a client secret.
//! * `scope` may only narrow what the secret holds; without one, the secret's own scopes.
//! * The access token never outlives its client secret: its expiry is the earliest of the
//!   configured lifetime, the organization's maximum, the secret's expiry and the secret's
//!   scheduled revocation (a rotation's grace period).
//! * It is written in one transaction conditioned on the secret's version, so a revocation
//!   (or rotation, or revoke-all) that lands between the check and the write wins: the
//!   exchange starts over from a fresh read and is refused. The same transaction counts the
//!   secret's issues, so the live access tokens of one secret stay bounded.

use std::net::IpAddr;

use shared::access::Scopes;
use shared::authn::Denial;
use shared::ids::ServiceAccountId;
use shared::model::{Actor, NewToken, Token, TokenKind};
use shared::text::DisplayName;
use shared::token::{ParsedToken, TokenOwner, TokenSecret};
use store::StoreError;
use time::OffsetDateTime;

use crate::UseCases;
use crate::verify::{RecordSource, Verifier, VerifyError};

/// An access token just issued. `secret` holds its text, shown this once.
#[derive(Debug)]
pub struct AccessToken {
    pub secret: ParsedToken,
    pub token: Token,
    pub expires_at: OffsetDateTime,
    pub scopes: Scopes,
}

/// Why no access token was issued, in RFC 6749's terms.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// `invalid_client`: unknown id, wrong, revoked or expired secret, disabled account, or a
    /// token that is no client secret.
    #[error("client authentication failed")]
    InvalidClient,
    /// `unauthorized_client`: the client calls from outside an allowlist.
    #[error("the client may not request tokens from this address")]
    UnauthorizedClient,
    /// `invalid_scope`: the scope exceeds what the client secret holds.
    #[error("the scope exceeds what the client holds")]
    ScopeTooWide,
    /// The secret was issued its quota for this window: retry after this many seconds.
    #[error("the client secret was issued as many access tokens as it may for now")]
    QuotaExceeded { retry_after: i64 },
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The secret kept changing between reads and writes.
    #[error("the client secret kept changing")]
    Contended,
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// The request, as parsed from the wire.
#[derive(Debug)]
pub struct ClientCredentials {
    pub client_id: ServiceAccountId,
    pub client_secret: TokenSecret,
    /// The scopes asked for; `None` (or empty): the client secret's own.
    pub scope: Option<Scopes>,
    pub source_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl UseCases {
    /// Issues an access token for `request` (see the module's rules).
    pub async fn issue_access_token<S: RecordSource>(
        &self,
        verifier: &Verifier<S>,
        request: &ClientCredentials,
    ) -> Result<AccessToken, ExchangeError> {
        for _attempt in 0..3 {
            match self.try_issue(verifier, request).await {
                Err(ExchangeError::Contended) => continue,
                outcome => return outcome,
            }
        }
        Err(ExchangeError::Contended)
    }

    async fn try_issue<S: RecordSource>(
        &self,
        verifier: &Verifier<S>,
        request: &ClientCredentials,
    ) -> Result<AccessToken, ExchangeError> {
        let verified = match verifier
            .verify(request.client_secret.clone(), request.source_ip)
            .await
        {
            Ok(verified) => verified,
            Err(VerifyError::Denied(Denial::Unauthenticated(_))) => {
                return Err(ExchangeError::InvalidClient);
            }
            Err(VerifyError::Denied(Denial::Forbidden(_))) => {
                return Err(ExchangeError::UnauthorizedClient);
            }
            Err(VerifyError::Unavailable(error)) => return Err(error.into()),
        };
        verifier.note_use(&verified).await;
        let principal = &verified.principal;
        // Only a token of this very account is its client secret: not an org-wide token, not
        // an access token, not another account's token.
        let client_token = match &verified.records.token {
            Some(token)
                if token.kind == TokenKind::ServiceAccount
                    && principal.account.as_ref() == Some(&request.client_id) =>
            {
                token.clone()
            }
            _ => return Err(ExchangeError::InvalidClient),
        };
        let scopes = match &request.scope {
            Some(scopes) if !scopes.is_empty() => {
                scopes
                    .ensure_within(&principal.permissions.roles, &principal.permissions.grants)
                    .map_err(|_| ExchangeError::ScopeTooWide)?;
                scopes.clone()
            }
            // Left empty, an access token would hold everything the account holds.
            _ => client_token.scopes.clone(),
        };

        let now = self.now();
        let settings = self.access_tokens;
        let org_max = verified
            .records
            .org
            .as_ref()
            .map_or(settings.lifetime, |org| {
                org.token_policy.max_lifetime().duration()
            });
        let ends = [
            Some(now + settings.lifetime.min(org_max)),
            client_token.expires_at,
            client_token.revoked_at,
        ];
        let expires_at =
            shared::policy::truncate_to_seconds(ends.into_iter().flatten().min().unwrap_or(now));
        let parsed = ParsedToken::generate(
            &self.token_format,
            &principal.org,
            TokenOwner::Account(request.client_id.clone()),
        )
        .map_err(|_| ExchangeError::Internal("generating a token"))?;
        let name = DisplayName::parse("OAuth2 access token")
            .map_err(|_| ExchangeError::Internal("naming a token"))?;
        let actor: Actor = principal.actor().with_request(
            request.source_ip,
            request.user_agent.as_deref(),
            request.request_id.as_deref(),
        );
        let fields = NewToken {
            name,
            description: None,
            scopes: scopes.clone(),
            expires_at: Some(expires_at),
        };
        let mut token = Token::new(TokenKind::Access, &parsed, fields, actor, now);
        token.issued_for = Some(client_token.id.clone());
        let lifetime = settings.lifetime.whole_seconds().max(1);
        let window = now.unix_timestamp().div_euclid(lifetime);
        match self
            .store
            .create_access_token(&token, &client_token, window, settings.per_secret, None)
            .await
        {
            Ok(()) => {}
            Err(StoreError::VersionConflict { .. } | StoreError::Contended { .. }) => {
                return Err(ExchangeError::Contended);
            }
            Err(StoreError::QuotaExceeded) => {
                tracing::info!(client_token = %client_token.id, "access-token quota reached");
                return Err(ExchangeError::QuotaExceeded {
                    retry_after: (window + 1) * lifetime - now.unix_timestamp(),
                });
            }
            Err(error) => return Err(error.into()),
        }
        tracing::info!(token = parsed.display_prefix(), client_token = %client_token.id, "issued an access token");
        Ok(AccessToken {
            secret: parsed,
            token,
            expires_at,
            scopes,
        })
    }
}
