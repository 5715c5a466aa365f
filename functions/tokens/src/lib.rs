//! The token half of the admin API, self-rotation, and OAuth2 client credentials.
//!
//! ```text
//! POST   /v1/orgs/{org}/service-accounts/{id}/tokens               mint (the only response with the secret)
//! GET    /v1/orgs/{org}/service-accounts/{id}/tokens               list (metadata only)
//! DELETE /v1/orgs/{org}/service-accounts/{id}/tokens               revoke all
//! GET    /v1/orgs/{org}/service-accounts/{id}/tokens/{tid}         read
//! DELETE /v1/orgs/{org}/service-accounts/{id}/tokens/{tid}         revoke one
//! POST   /v1/orgs/{org}/service-accounts/{id}/tokens/{tid}/rotate  rotate, optional grace period
//! POST   /v1/orgs/{org}/service-tokens                             mint an org-wide token
//! GET    /v1/orgs/{org}/service-tokens                             list org-wide tokens
//! GET    /v1/orgs/{org}/service-tokens/{tid}                       read
//! DELETE /v1/orgs/{org}/service-tokens/{tid}                       revoke
//! POST   /v1/orgs/{org}/service-tokens/{tid}/rotate                rotate
//! GET    /v1/orgs/{org}/tokens                                     every token of the org
//! POST   /v1/tokens/self/rotate                                    a token rotates itself
//! POST   /oauth2/token                                             OAuth2 client credentials
//! ```
//!
//! The admin routes need an admin of the organization ([`admin_api::identity`]); self-rotation
//! is authenticated by the token being rotated; the OAuth2 endpoint by client credentials.

mod dto;
mod oauth;

use admin_api::AdminContext;
use admin_api::body::{json_body, optional_json_body};
use admin_api::identity::{Caller, resolve_caller};
use admin_api::problem::ApiError;
use admin_api::request::ApiRequest;
use admin_api::response::{json, no_content, with_etag, with_location};
use admin_api::router::{Matched, Route, route};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use shared::authn::{Denial, Principal, authenticate};
use shared::ids::{OrgId, ServiceAccountId, TokenId};
use shared::model::{AccountStatus, Actor, Organization, Token, TokenKind, TokenStatus};
use shared::policy::TokenLifetime;
use shared::token::{ParsedToken, TokenOwner};
use store::TokenListScope;
use time::Duration;

use crate::dto::{MintToken, MintedToken, RevokedCount, RotateToken, TokenList, TokenView};

const ACCOUNT_TOKENS: &str = "/v1/orgs/{org}/service-accounts/{id}/tokens";
const ACCOUNT_TOKEN: &str = "/v1/orgs/{org}/service-accounts/{id}/tokens/{tid}";
const ACCOUNT_TOKEN_ROTATE: &str = "/v1/orgs/{org}/service-accounts/{id}/tokens/{tid}/rotate";
const ORG_TOKENS: &str = "/v1/orgs/{org}/service-tokens";
const ORG_TOKEN: &str = "/v1/orgs/{org}/service-tokens/{tid}";
const ORG_TOKEN_ROTATE: &str = "/v1/orgs/{org}/service-tokens/{tid}/rotate";
const ALL_TOKENS: &str = "/v1/orgs/{org}/tokens";
const SELF_ROTATE: &str = "/v1/tokens/self/rotate";
const OAUTH_TOKEN: &str = "/oauth2/token";

/// Every route this function serves (the OpenAPI description is checked against it).
pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        pattern: ACCOUNT_TOKENS,
    },
    Route {
        method: "GET",
        pattern: ACCOUNT_TOKENS,
    },
    Route {
        method: "DELETE",
        pattern: ACCOUNT_TOKENS,
    },
    Route {
        method: "GET",
        pattern: ACCOUNT_TOKEN,
    },
    Route {
        method: "DELETE",
        pattern: ACCOUNT_TOKEN,
    },
    Route {
        method: "POST",
        pattern: ACCOUNT_TOKEN_ROTATE,
    },
    Route {
        method: "POST",
        pattern: ORG_TOKENS,
    },
    Route {
        method: "GET",
        pattern: ORG_TOKENS,
    },
    Route {
        method: "GET",
        pattern: ORG_TOKEN,
    },
    Route {
        method: "DELETE",
        pattern: ORG_TOKEN,
    },
    Route {
        method: "POST",
        pattern: ORG_TOKEN_ROTATE,
    },
    Route {
        method: "GET",
        pattern: ALL_TOKENS,
    },
    Route {
        method: "POST",
        pattern: SELF_ROTATE,
    },
    Route {
        method: "POST",
        pattern: OAUTH_TOKEN,
    },
];

/// The most a rotation's grace period may be: 7 days.
pub const MAX_GRACE: Duration = Duration::days(7);

/// How many rotations one revocation follows forward at most.
const MAX_LINEAGE: usize = 100;

/// Revoking a client secret also revokes the OAuth2 access tokens issued for it, at `at`: a
/// revocation answers a leak, and a leaked secret's access tokens are just as leaked. (At the
/// end of a rotation's grace period, for the secret it rotated.) Access tokens that expire
/// by then are left alone.
async fn revoke_access_tokens_issued_for(
    admin: &AdminContext,
    secret: &Token,
    owner: &TokenOwner,
    actor: &Actor,
    at: time::OffsetDateTime,
) -> Result<(), ApiError> {
    if secret.kind != TokenKind::ServiceAccount {
        return Ok(());
    }
    let revoked = admin
        .store
        .revoke_tokens_where(&secret.org, owner, actor, at, admin.retention, |token| {
            token.kind == TokenKind::Access
                && token.issued_for.as_ref() == Some(&secret.id)
                && token.expires_at.is_none_or(|expiry| expiry > at)
        })
        .await?;
    if revoked > 0 {
        tracing::info!(client_secret = %secret.id, revoked, "revoked access tokens issued for it");
    }
    Ok(())
}

/// The admin context plus what only this function needs.
#[derive(Debug, Clone)]
pub struct TokensContext {
    pub admin: AdminContext,
    /// The lifetime of OAuth2 access tokens (`ACCESS_TOKEN_LIFETIME_SECONDS`, 60–43200,
    /// default 3600).
    pub access_token_lifetime: Duration,
    /// How many access tokens one client secret may be issued per access-token lifetime
    /// (`MAX_ACCESS_TOKENS_PER_SECRET`, 1–10000, default 100), so at most twice that many
    /// are alive at once and revoking the secret revokes a bounded number of them.
    pub access_tokens_per_secret: u32,
}

impl TokensContext {
    pub fn from_env(admin: AdminContext) -> Result<Self, shared::config::ConfigError> {
        Self::from_lookup(admin, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(
        admin: AdminContext,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, shared::config::ConfigError> {
        let seconds = match lookup("ACCESS_TOKEN_LIFETIME_SECONDS") {
            None => 3600,
            Some(value) => value
                .parse::<i64>()
                .ok()
                .filter(|s| (60..=43_200).contains(s))
                .ok_or_else(|| shared::config::ConfigError {
                    variable: "ACCESS_TOKEN_LIFETIME_SECONDS",
                    reason: "a number of seconds from 60 to 43200".into(),
                })?,
        };
        let access_tokens_per_secret = match lookup("MAX_ACCESS_TOKENS_PER_SECRET") {
            None => 100,
            Some(value) => value
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| shared::config::ConfigError {
                    variable: "MAX_ACCESS_TOKENS_PER_SECRET",
                    reason: "a number from 1 to 10000".into(),
                })?,
        };
        Ok(Self {
            admin,
            access_token_lifetime: Duration::seconds(seconds),
            access_tokens_per_secret,
        })
    }
}

/// Handles one request; every outcome is an HTTP response.
pub async fn handle(context: &TokensContext, request: Request) -> Result<Response<Body>, Error> {
    let request = ApiRequest::from_lambda(request);
    if request.path == OAUTH_TOKEN {
        return Ok(oauth::handle(context, &request).await);
    }
    Ok(match dispatch(context, &request).await {
        Ok(response) => response,
        Err(error) => {
            if error.status().is_client_error() {
                tracing::info!(status = error.status().as_u16(), kind = error.kind(), method = %request.method, "refused");
            }
            error.into_response()
        }
    })
}

async fn dispatch(
    context: &TokensContext,
    request: &ApiRequest,
) -> Result<Response<Body>, ApiError> {
    let matched = route(ROUTES, &request.method, &request.path)?;
    if matched.route.pattern == SELF_ROTATE {
        return self_rotate(context, request).await;
    }
    let admin = &context.admin;
    let caller = resolve_caller(admin, request).await?;
    let org_id = OrgId::parse(matched.param("org"))
        .map_err(|error| ApiError::bad_request("invalid-parameter", format!("`org`: {error}")))?;
    caller.require_admin(&org_id)?;
    let org = admin
        .store
        .get_org(&org_id)
        .await?
        .ok_or(ApiError::NotFound("organization"))?;
    let call = Call {
        context,
        request,
        caller: &caller,
        org,
    };
    let pattern = matched.route.pattern;
    match (matched.route.method, pattern) {
        ("GET", ALL_TOKENS) => call.list(TokenListScope::All).await,
        (_, ORG_TOKENS | ORG_TOKEN | ORG_TOKEN_ROTATE) => call.org_tokens(&matched).await,
        _ => call.account_tokens(&matched).await,
    }
}

fn token_id(matched: &Matched) -> Result<TokenId, ApiError> {
    TokenId::parse(matched.param("tid"))
        .map_err(|error| ApiError::bad_request("invalid-parameter", format!("`tid`: {error}")))
}

/// One authorized admin request against one organization.
struct Call<'a> {
    context: &'a TokensContext,
    request: &'a ApiRequest,
    caller: &'a Caller,
    org: Organization,
}

impl Call<'_> {
    fn admin(&self) -> &AdminContext {
        &self.context.admin
    }

    fn actor(&self) -> Actor {
        self.caller.actor(self.request)
    }

    async fn account_tokens(&self, matched: &Matched) -> Result<Response<Body>, ApiError> {
        let account_id = ServiceAccountId::parse(matched.param("id")).map_err(|error| {
            ApiError::bad_request("invalid-parameter", format!("`id`: {error}"))
        })?;
        let account = match self
            .admin()
            .store
            .get_account(&self.org.id, &account_id)
            .await?
        {
            Some(account) if !account.is_deleted() => account,
            _ => return Err(ApiError::NotFound("service account")),
        };
        let owner = TokenOwner::Account(account_id);
        match (matched.route.method, matched.route.pattern) {
            ("POST", ACCOUNT_TOKENS) => {
                let body: MintToken = json_body(self.request)?;
                let request = body.validate(&self.org.token_policy, self.admin().clock.now())?;
                if account.status != AccountStatus::Active {
                    return Err(ApiError::Conflict(
                        "the service account is disabled; enable it before minting tokens".into(),
                    ));
                }
                request
                    .fields
                    .scopes
                    .ensure_within(&account.roles, &account.grants)
                    .map_err(|error| ApiError::invalid("scopes", error.reason()))?;
                self.mint(owner, TokenKind::ServiceAccount, request.fields)
                    .await
            }
            ("GET", ACCOUNT_TOKENS) => self.list(TokenListScope::Owner(owner)).await,
            ("DELETE", ACCOUNT_TOKENS) => self.revoke_all(&owner).await,
            ("GET", ACCOUNT_TOKEN) => self.read(&owner, &token_id(matched)?).await,
            ("DELETE", ACCOUNT_TOKEN) => self.revoke(&owner, &token_id(matched)?).await,
            ("POST", ACCOUNT_TOKEN_ROTATE) => self.rotate(&owner, &token_id(matched)?).await,
            _ => Err(ApiError::NotFound("route")),
        }
    }

    async fn org_tokens(&self, matched: &Matched) -> Result<Response<Body>, ApiError> {
        let owner = TokenOwner::Org;
        match (matched.route.method, matched.route.pattern) {
            ("POST", ORG_TOKENS) => {
                let body: MintToken = json_body(self.request)?;
                let request = body.validate(&self.org.token_policy, self.admin().clock.now())?;
                if request.fields.scopes.is_empty() {
                    return Err(ApiError::invalid(
                        "scopes",
                        "an org-wide token holds exactly its scopes: name at least one",
                    ));
                }
                self.mint(owner, TokenKind::Org, request.fields).await
            }
            ("GET", ORG_TOKENS) => self.list(TokenListScope::Owner(owner)).await,
            ("GET", ORG_TOKEN) => self.read(&owner, &token_id(matched)?).await,
            ("DELETE", ORG_TOKEN) => self.revoke(&owner, &token_id(matched)?).await,
            ("POST", ORG_TOKEN_ROTATE) => self.rotate(&owner, &token_id(matched)?).await,
            _ => Err(ApiError::NotFound("route")),
        }
    }

    async fn mint(
        &self,
        owner: TokenOwner,
        kind: TokenKind,
        fields: shared::model::NewToken,
    ) -> Result<Response<Body>, ApiError> {
        let parsed = ParsedToken::generate(&self.admin().token_prefix, &self.org.id, owner)
            .map_err(|error| ApiError::internal("generating a token", &error))?;
        let now = self.admin().clock.now();
        let token = Token::new(kind, &parsed, fields, self.actor(), now);
        self.admin().store.create_token(&token).await?;
        tracing::info!(token = parsed.display_prefix(), org = %self.org.id, "minted a token");
        let location = format!("{}{}", self.request.base_path, token_path(&token));
        let body = MintedToken::new(&parsed, &token, now);
        Ok(with_location(
            with_etag(json(StatusCode::CREATED, &body)?, token.version),
            &location,
        ))
    }

    async fn list(&self, scope: TokenListScope) -> Result<Response<Body>, ApiError> {
        let (limit, cursor) = self.request.page()?;
        let page = self
            .admin()
            .store
            .list_tokens(&self.org.id, &scope, limit, cursor)
            .await?;
        json(
            StatusCode::OK,
            &TokenList::new(page, self.admin().clock.now()),
        )
    }

    async fn existing(&self, owner: &TokenOwner, id: &TokenId) -> Result<Token, ApiError> {
        self.admin()
            .store
            .get_token(&self.org.id, owner, id)
            .await?
            .ok_or(ApiError::NotFound("token"))
    }

    async fn read(&self, owner: &TokenOwner, id: &TokenId) -> Result<Response<Body>, ApiError> {
        let token = self.existing(owner, id).await?;
        let view = TokenView::new(&token, self.admin().clock.now());
        Ok(with_etag(json(StatusCode::OK, &view)?, token.version))
    }

    /// Revokes one token at once. It stays listed as revoked, with who and when, until its
    /// retention ends. The revocation follows the token's lineage: the tokens it was rotated
    /// into (a thief's self-rotation included) and the access tokens issued for any of them.
    /// Revoking a revoked token runs the cascade again (so a sweep cut short can be finished)
    /// and changes nothing else.
    async fn revoke(&self, owner: &TokenOwner, id: &TokenId) -> Result<Response<Body>, ApiError> {
        let now = self.admin().clock.now();
        let mut next = Some(id.clone());
        for hop in 0..MAX_LINEAGE {
            let Some(id) = next.take() else {
                return Ok(no_content());
            };
            let token = match self.revoke_now(owner, &id, now).await {
                Ok(token) => token,
                // A successor already removed by its TTL ends the lineage.
                Err(ApiError::NotFound(_)) if hop > 0 => return Ok(no_content()),
                Err(error) => return Err(error),
            };
            revoke_access_tokens_issued_for(self.admin(), &token, owner, &self.actor(), now)
                .await?;
            next = token.rotated_to.clone();
        }
        Err(ApiError::Conflict(
            "the token's rotations go on beyond what one request revokes; revoke again".into(),
        ))
    }

    /// Revokes `id` now unless its revocation is already in force; the token as stored.
    async fn revoke_now(
        &self,
        owner: &TokenOwner,
        id: &TokenId,
        now: time::OffsetDateTime,
    ) -> Result<Token, ApiError> {
        for _attempt in 0..3 {
            let mut token = self.existing(owner, id).await?;
            if token.status(now) == TokenStatus::Revoked {
                return Ok(token);
            }
            token.revoke(self.actor(), now, self.admin().retention);
            match self.admin().store.update_token(&token).await {
                Ok(stored) => return Ok(stored),
                // Changed concurrently (last used, say): read it again and revoke that.
                Err(store::StoreError::VersionConflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(ApiError::Conflict("the token keeps changing; retry".into()))
    }

    async fn revoke_all(&self, owner: &TokenOwner) -> Result<Response<Body>, ApiError> {
        let revoked = self
            .admin()
            .store
            .revoke_tokens(
                &self.org.id,
                owner,
                &self.actor(),
                self.admin().clock.now(),
                self.admin().retention,
            )
            .await?;
        json(StatusCode::OK, &RevokedCount { revoked })
    }

    async fn rotate(&self, owner: &TokenOwner, id: &TokenId) -> Result<Response<Body>, ApiError> {
        let body: RotateToken = optional_json_body(self.request)?;
        let grace = body.grace()?;
        let old = self.existing(owner, id).await?;
        rotate(
            self.context,
            &self.org,
            old,
            grace,
            self.actor(),
            self.request,
        )
        .await
    }
}

/// Replaces `old` with a new token of the same owner, kind, name, description and scopes;
/// `old` dies now or when `grace` ends. Both writes are one transaction.
async fn rotate(
    context: &TokensContext,
    org: &Organization,
    mut old: Token,
    grace: Duration,
    actor: Actor,
    request: &ApiRequest,
) -> Result<Response<Body>, ApiError> {
    let admin = &context.admin;
    let now = admin.clock.now();
    if old.kind == TokenKind::Access {
        return Err(ApiError::Conflict(
            "OAuth2 access tokens are not rotated: request a new one at /oauth2/token".into(),
        ));
    }
    if old.status(now) == TokenStatus::Revoked || old.rotated_to.is_some() {
        return Err(ApiError::Conflict(
            "the token is revoked or already rotated; mint a new one instead".into(),
        ));
    }
    let owner = owner_of(&old);
    // The new token lives as long as the old one was minted to live (capped by today's
    // policy), so a rotation never turns a short-lived token into a long-lived one.
    let policy = &org.token_policy;
    let lifetime = match old.expires_at {
        None if policy.allow_non_expiring() => Some(TokenLifetime::NonExpiring),
        None => None,
        Some(expiry) => {
            let length = (expiry - old.created_at).min(policy.max_lifetime().duration());
            Some(TokenLifetime::ExpiresAt(
                now + length.max(Duration::minutes(1)),
            ))
        }
    };
    let expires_at = policy
        .resolve_expiry(lifetime, now)
        .map_err(|violation| ApiError::Conflict(violation.to_string()))?;
    let parsed = ParsedToken::generate(&admin.token_prefix, &org.id, owner)
        .map_err(|error| ApiError::internal("generating a token", &error))?;
    let fields = shared::model::NewToken {
        name: old.name.clone(),
        description: old.description.clone(),
        scopes: old.scopes.clone(),
        expires_at,
    };
    let mut new = Token::new(old.kind, &parsed, fields, actor.clone(), now);
    new.rotated_from = Some(old.id.clone());
    old.rotated_to = Some(new.id.clone());
    old.revoke(actor.clone(), now + grace, admin.retention);
    admin.store.rotate_token(&old, &new).await?;
    // The access tokens issued for the old secret die with it (at the end of the grace
    // period); those issued during the grace period already expire by then.
    revoke_access_tokens_issued_for(admin, &old, &owner_of(&old), &actor, now + grace).await?;
    tracing::info!(old = %old.id, new = parsed.display_prefix(), grace_seconds = grace.whole_seconds(), "rotated a token");
    let location = format!("{}{}", request.base_path, token_path(&new));
    let body = MintedToken::new(&parsed, &new, now);
    Ok(with_location(
        with_etag(json(StatusCode::CREATED, &body)?, new.version),
        &location,
    ))
}

/// `POST /v1/tokens/self/rotate`: the token in `Authorization: Bearer` rotates itself, so a
/// pipeline can renew its credential before it expires without an admin. Recorded as done by
/// the token's own account (or the org, for an org-wide token).
async fn self_rotate(
    context: &TokensContext,
    request: &ApiRequest,
) -> Result<Response<Body>, ApiError> {
    let admin = &context.admin;
    let secret = request.bearer_token().ok_or(ApiError::Unauthenticated)?;
    let presented =
        ParsedToken::parse(&admin.token_prefix, secret).map_err(|_| ApiError::Unauthenticated)?;
    let records = admin.store.fetch_for_authorization(&presented).await?;
    let principal: Principal =
        match authenticate(&presented, &records, request.source_ip, admin.clock.now()) {
            Ok(principal) => principal,
            Err(Denial::Unauthenticated(_)) => return Err(ApiError::Unauthenticated),
            Err(Denial::Forbidden(reason)) => return Err(ApiError::Forbidden(reason)),
        };
    let (Some(org), Some(token)) = (records.org, records.token) else {
        return Err(ApiError::Unauthenticated);
    };
    if !org.token_policy.allow_self_rotation() {
        return Err(ApiError::Forbidden(
            "this organization does not allow tokens to rotate themselves; ask an admin",
        ));
    }
    let body: RotateToken = optional_json_body(request)?;
    let grace = body.grace()?;
    let actor = principal.actor().with_request(
        request.source_ip,
        request.user_agent.as_deref(),
        request.request_id.as_deref(),
    );
    rotate(context, &org, token, grace, actor, request).await
}

fn owner_of(token: &Token) -> TokenOwner {
    match &token.account {
        Some(account) => TokenOwner::Account(account.clone()),
        None => TokenOwner::Org,
    }
}

fn token_path(token: &Token) -> String {
    match &token.account {
        Some(account) => format!(
            "/v1/orgs/{}/service-accounts/{}/tokens/{}",
            token.org, account, token.id
        ),
        None => format!("/v1/orgs/{}/service-tokens/{}", token.org, token.id),
    }
}
