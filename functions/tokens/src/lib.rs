//! The token half of the admin API, self-rotation, and OAuth2 client credentials, as an
//! `axum` router.
//!
//! ```text
//! POST   /v1/orgs/{org}/service-accounts/{id}/tokens               mint (the only response with the secret)
//! GET    /v1/orgs/{org}/service-accounts/{id}/tokens               list (metadata only)
//! DELETE /v1/orgs/{org}/service-accounts/{id}/tokens               revoke all
//! GET    /v1/orgs/{org}/service-accounts/{id}/tokens/{tid}         read
//! DELETE /v1/orgs/{org}/service-accounts/{id}/tokens/{tid}         revoke one (and its lineage)
//! POST   /v1/orgs/{org}/service-accounts/{id}/tokens/{tid}/rotate  rotate, optional grace period
//! POST   /v1/orgs/{org}/service-tokens                             mint an org-wide token
//! GET    /v1/orgs/{org}/service-tokens                             list org-wide tokens
//! GET    /v1/orgs/{org}/service-tokens/{tid}                       read
//! DELETE /v1/orgs/{org}/service-tokens/{tid}                       revoke
//! POST   /v1/orgs/{org}/service-tokens/{tid}/rotate                rotate
//! GET    /v1/orgs/{org}/tokens                                     every token of the org
//! POST   /v1/tokens/self/rotate                                    a token rotates itself
//! POST   /oauth2/token                                             OAuth2 client credentials
//! POST   /v1/secret-scanning/github                                GitHub's leak reports (signed)
//! POST   /v1/tokens/revoke                                         anyone revokes a leaked token
//! ```
//!
//! The admin routes need an admin of the organization ([`admin_api::identity`]); self-rotation
//! is authenticated by the token being rotated; the OAuth2 endpoint by client credentials;
//! GitHub's reports by their signature; the public revocation endpoint by nothing but the
//! tokens it is given ([`leaks`]).
//! Each handler parses, calls one use case, and renders.

pub mod dto;
pub mod leaks;
mod oauth;

use admin_api::AdminState;
use admin_api::extract::{AccountPath, JsonBody, OptionalJsonBody, Paging, TokenPath};
use admin_api::identity::{OrgAdmin, OrgReader};
use admin_api::layers;
use admin_api::meta::RequestMeta;
use admin_api::problem::ApiError;
use admin_api::response::{json, no_content, with_etag, with_location};
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{get, post};
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::Token;
use shared::token::TokenOwner;
use usecases::TokenListScope;
use usecases::UseCaseError;
use usecases::tokens::Minted;
use usecases::verify::Verified;

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
const GITHUB_REPORTS: &str = "/v1/secret-scanning/github";
const PUBLIC_REVOCATION: &str = "/v1/tokens/revoke";

/// Every route this function serves, as method and path (the OpenAPI description and the
/// template are checked against it, and it against the router).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", ACCOUNT_TOKENS),
    ("GET", ACCOUNT_TOKENS),
    ("DELETE", ACCOUNT_TOKENS),
    ("GET", ACCOUNT_TOKEN),
    ("DELETE", ACCOUNT_TOKEN),
    ("POST", ACCOUNT_TOKEN_ROTATE),
    ("POST", ORG_TOKENS),
    ("GET", ORG_TOKENS),
    ("GET", ORG_TOKEN),
    ("DELETE", ORG_TOKEN),
    ("POST", ORG_TOKEN_ROTATE),
    ("GET", ALL_TOKENS),
    ("POST", SELF_ROTATE),
    ("POST", OAUTH_TOKEN),
    ("POST", GITHUB_REPORTS),
    ("POST", PUBLIC_REVOCATION),
];

/// The function's router: [`routes`] with the admin API's fallbacks and middleware. Its state
/// is the admin state: the use cases, the one verification path, the identity sources.
pub fn router(state: AdminState) -> Router {
    layers::finish(routes(state))
}

/// The function's routes alone (`local` merges them with the accounts function's). The token
/// endpoint answers RFC 6749 errors, its wrong methods included: its route has a fallback of
/// its own.
pub fn routes(state: AdminState) -> Router {
    let admin = Router::new()
        .route(
            ACCOUNT_TOKENS,
            post(mint_for_account)
                .get(list_account)
                .delete(revoke_account_all),
        )
        .route(ACCOUNT_TOKEN, get(read_account).delete(revoke_account))
        .route(ACCOUNT_TOKEN_ROTATE, post(rotate_account))
        .route(ORG_TOKENS, post(mint_for_org).get(list_org))
        .route(ORG_TOKEN, get(read_org).delete(revoke_org))
        .route(ORG_TOKEN_ROTATE, post(rotate_org))
        .route(ALL_TOKENS, get(list_all))
        .route(SELF_ROTATE, post(self_rotate))
        .route(GITHUB_REPORTS, post(leaks::github))
        .route(PUBLIC_REVOCATION, post(leaks::public))
        .with_state(state.clone());
    let oauth = Router::new()
        .route(
            OAUTH_TOKEN,
            post(oauth::token).fallback(oauth::method_not_allowed),
        )
        .with_state(state);
    layers::with_deadline(admin, layers::ADMIN_DEADLINE, layers::admin_timeout).merge(
        layers::with_deadline(oauth, oauth::DEADLINE, oauth::timeout),
    )
}

type Reply = Result<Response, ApiError>;

/// The account of the path: it must exist (and not be deleted) in the organization.
async fn account_owner(
    state: &AdminState,
    org: &OrgId,
    id: ServiceAccountId,
) -> Result<TokenOwner, ApiError> {
    state.use_cases.account(org, &id).await?;
    Ok(TokenOwner::Account(id))
}

/// A minted or rotated token: `201`, its one showing of the secret, `Location`, `ETag`.
fn minted(state: &AdminState, meta: &RequestMeta, minted: &Minted) -> Reply {
    let body = MintedToken::of(minted, state.use_cases.now());
    let location = format!("{}{}", meta.base_path, token_path(&minted.token));
    Ok(with_location(
        with_etag(json(StatusCode::CREATED, &body)?, minted.token.version),
        &location,
    ))
}

async fn mint(
    state: &AdminState,
    admin: &OrgAdmin,
    meta: &RequestMeta,
    owner: &TokenOwner,
    body: MintToken,
) -> Reply {
    let request = body.validate()?;
    let made = state
        .use_cases
        .mint_token(&admin.caller, &admin.org, owner, request)
        .await?;
    minted(state, meta, &made)
}

async fn list(state: &AdminState, org: &OrgId, scope: TokenListScope, page: Paging) -> Reply {
    let Paging(page) = page;
    let tokens = state
        .use_cases
        .list_tokens(org, &scope, page.limit, page.cursor())
        .await?;
    json(
        StatusCode::OK,
        &TokenList::new(tokens, state.use_cases.now()),
    )
}

async fn read(state: &AdminState, org: &OrgId, owner: &TokenOwner, id: TokenPath) -> Reply {
    let token = state.use_cases.token(org, owner, &id.0).await?;
    let view = TokenView::new(&token, state.use_cases.now());
    Ok(with_etag(json(StatusCode::OK, &view)?, token.version))
}

async fn revoke(state: &AdminState, admin: &OrgAdmin, owner: &TokenOwner, id: TokenPath) -> Reply {
    state
        .use_cases
        .revoke_token(&admin.caller, &admin.org.id, owner, &id.0)
        .await?;
    Ok(no_content())
}

async fn rotate(
    state: &AdminState,
    admin: &OrgAdmin,
    meta: &RequestMeta,
    owner: &TokenOwner,
    id: TokenPath,
    body: RotateToken,
) -> Reply {
    let made = state
        .use_cases
        .rotate_token(&admin.caller, &admin.org, owner, &id.0, body.grace())
        .await?;
    minted(state, meta, &made)
}

async fn mint_for_account(
    State(state): State<AdminState>,
    admin: OrgAdmin,
    meta: RequestMeta,
    AccountPath(id): AccountPath,
    JsonBody(body): JsonBody<MintToken>,
) -> Reply {
    let owner = account_owner(&state, &admin.org.id, id).await?;
    mint(&state, &admin, &meta, &owner, body).await
}

async fn list_account(
    State(state): State<AdminState>,
    admin: OrgReader,
    AccountPath(id): AccountPath,
    page: Paging,
) -> Reply {
    let owner = account_owner(&state, &admin.org.id, id).await?;
    list(&state, &admin.org.id, TokenListScope::Owner(owner), page).await
}

async fn revoke_account_all(
    State(state): State<AdminState>,
    admin: OrgAdmin,
    AccountPath(id): AccountPath,
) -> Reply {
    let owner = account_owner(&state, &admin.org.id, id).await?;
    let revoked = state
        .use_cases
        .revoke_all_tokens(&admin.caller, &admin.org.id, &owner)
        .await?;
    json(StatusCode::OK, &RevokedCount { revoked })
}

async fn read_account(
    State(state): State<AdminState>,
    admin: OrgReader,
    AccountPath(account): AccountPath,
    id: TokenPath,
) -> Reply {
    let owner = account_owner(&state, &admin.org.id, account).await?;
    read(&state, &admin.org.id, &owner, id).await
}

async fn revoke_account(
    State(state): State<AdminState>,
    admin: OrgAdmin,
    AccountPath(account): AccountPath,
    id: TokenPath,
) -> Reply {
    let owner = account_owner(&state, &admin.org.id, account).await?;
    revoke(&state, &admin, &owner, id).await
}

async fn rotate_account(
    State(state): State<AdminState>,
    admin: OrgAdmin,
    meta: RequestMeta,
    AccountPath(account): AccountPath,
    id: TokenPath,
    OptionalJsonBody(body): OptionalJsonBody<RotateToken>,
) -> Reply {
    let owner = account_owner(&state, &admin.org.id, account).await?;
    rotate(&state, &admin, &meta, &owner, id, body).await
}

async fn mint_for_org(
    State(state): State<AdminState>,
    admin: OrgAdmin,
    meta: RequestMeta,
    JsonBody(body): JsonBody<MintToken>,
) -> Reply {
    mint(&state, &admin, &meta, &TokenOwner::Org, body).await
}

async fn list_org(State(state): State<AdminState>, admin: OrgReader, page: Paging) -> Reply {
    list(
        &state,
        &admin.org.id,
        TokenListScope::Owner(TokenOwner::Org),
        page,
    )
    .await
}

async fn read_org(State(state): State<AdminState>, admin: OrgReader, id: TokenPath) -> Reply {
    read(&state, &admin.org.id, &TokenOwner::Org, id).await
}

async fn revoke_org(State(state): State<AdminState>, admin: OrgAdmin, id: TokenPath) -> Reply {
    revoke(&state, &admin, &TokenOwner::Org, id).await
}

async fn rotate_org(
    State(state): State<AdminState>,
    admin: OrgAdmin,
    meta: RequestMeta,
    id: TokenPath,
    OptionalJsonBody(body): OptionalJsonBody<RotateToken>,
) -> Reply {
    rotate(&state, &admin, &meta, &TokenOwner::Org, id, body).await
}

async fn list_all(State(state): State<AdminState>, admin: OrgReader, page: Paging) -> Reply {
    list(&state, &admin.org.id, TokenListScope::All, page).await
}

/// The token in `Authorization: Bearer`, verified: the caller of a self-rotation.
struct Presented(Verified);

impl FromRequestParts<AdminState> for Presented {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AdminState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(meta) = RequestMeta::from_request_parts(parts, state).await;
        let authorization = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        state
            .verifier
            .verify_header(authorization, meta.source_ip)
            .await
            .map(Self)
            .map_err(|error| UseCaseError::from(error).into())
    }
}

/// `POST /v1/tokens/self/rotate`: the token in `Authorization: Bearer` rotates itself.
async fn self_rotate(
    State(state): State<AdminState>,
    Presented(verified): Presented,
    meta: RequestMeta,
    OptionalJsonBody(body): OptionalJsonBody<RotateToken>,
) -> Reply {
    let actor = verified.principal.actor().with_request(
        meta.source_ip,
        meta.user_agent.as_deref(),
        meta.request_id.as_deref(),
    );
    let made = state
        .use_cases
        .self_rotate(verified, actor, body.grace())
        .await?;
    minted(&state, &meta, &made)
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
