//! The service-account half of the admin API, as an `axum` router.
//!
//! ```text
//! POST   /v1/orgs/{org}/service-accounts                 create         201 + Location + ETag
//! GET    /v1/orgs/{org}/service-accounts                 list           ?limit=1..100&cursor=
//! GET    /v1/orgs/{org}/service-accounts/{id}            read           ETag
//! PATCH  /v1/orgs/{org}/service-accounts/{id}            update         If-Match
//! POST   /v1/orgs/{org}/service-accounts/{id}/disable    disable        {"revokeTokens": true}
//! POST   /v1/orgs/{org}/service-accounts/{id}/enable     enable
//! DELETE /v1/orgs/{org}/service-accounts/{id}            delete         204; every token stops
//! POST   /v1/orgs/{org}/service-accounts/{id}/trust-policies        create a trust policy
//! GET    /v1/orgs/{org}/service-accounts/{id}/trust-policies        list them
//! GET    /v1/orgs/{org}/service-accounts/{id}/trust-policies/{pid}  read one
//! DELETE /v1/orgs/{org}/service-accounts/{id}/trust-policies/{pid}  delete; its tokens are revoked
//! GET    /v1/orgs/{org}/audit-events                     audit trail    ?account=&token=&action=&actor=&since=&until=
//! GET    /v1/orgs/{org}                                  the organization and its token policy
//! PATCH  /v1/orgs/{org}                                  name, token policy   If-Match
//! ```
//!
//! Every route needs an admin of the organization (or an allowed IAM principal); see
//! [`admin_api::identity`]. Each handler parses, calls one use case, and renders.

pub mod audit_events;
pub mod dto;
pub mod state;
pub mod trust_policies;

use admin_api::AdminState;
use admin_api::extract::{AccountPath, IfMatch, JsonBody, OptionalJsonBody, Paging};
use admin_api::identity::{OrgAdmin, OrgReader};
use admin_api::layers;
use admin_api::meta::RequestMeta;
use admin_api::problem::ApiError;
use admin_api::response::{json, no_content, with_etag, with_location};
use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use shared::model::ServiceAccount;
use usecases::audit::AuditTrail;

use crate::dto::{
    AccountList, AccountView, CreateAccount, DisableAccount, OrgView, PatchAccount, PatchOrg,
};

const COLLECTION: &str = "/v1/orgs/{org}/service-accounts";
const ITEM: &str = "/v1/orgs/{org}/service-accounts/{id}";
const DISABLE: &str = "/v1/orgs/{org}/service-accounts/{id}/disable";
const ENABLE: &str = "/v1/orgs/{org}/service-accounts/{id}/enable";
const AUDIT_EVENTS: &str = "/v1/orgs/{org}/audit-events";
const ORG: &str = "/v1/orgs/{org}";

/// Every route this function serves, as method and path (the OpenAPI description and the
/// template are checked against it, and it against the router).
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", COLLECTION),
    ("GET", COLLECTION),
    ("GET", ITEM),
    ("PATCH", ITEM),
    ("DELETE", ITEM),
    ("POST", DISABLE),
    ("POST", ENABLE),
    ("GET", AUDIT_EVENTS),
    ("GET", ORG),
    ("PATCH", ORG),
    ("POST", trust_policies::COLLECTION),
    ("GET", trust_policies::COLLECTION),
    ("GET", trust_policies::ITEM),
    ("DELETE", trust_policies::ITEM),
];

/// What the accounts function needs: the admin state and the audit trail it reads.
#[derive(Debug, Clone)]
pub struct AccountsState {
    pub admin: AdminState,
    pub audit: AuditTrail,
}

impl FromRef<AccountsState> for AdminState {
    fn from_ref(state: &AccountsState) -> Self {
        state.admin.clone()
    }
}

/// The function's router: [`routes`] with the admin API's fallbacks and middleware.
pub fn router(state: AccountsState) -> Router {
    layers::finish(routes(state))
}

/// The function's routes alone (`local` merges them with the tokens function's).
pub fn routes(state: AccountsState) -> Router {
    let routes = Router::new()
        .route(COLLECTION, post(create).get(list))
        .route(ITEM, get(read).patch(update).delete(delete))
        .route(DISABLE, post(disable))
        .route(ENABLE, post(enable))
        .route(AUDIT_EVENTS, get(audit_events::list))
        .route(ORG, get(read_org).patch(update_org))
        .route(
            trust_policies::COLLECTION,
            post(trust_policies::create).get(trust_policies::list),
        )
        .route(
            trust_policies::ITEM,
            get(trust_policies::read).delete(trust_policies::delete),
        )
        .with_state(state);
    layers::with_deadline(routes, layers::ADMIN_DEADLINE, layers::admin_timeout)
}

type Reply = Result<Response, ApiError>;

/// An account with its `ETag`.
fn account_reply(status: StatusCode, account: &ServiceAccount) -> Reply {
    Ok(with_etag(
        json(status, &AccountView::from(account))?,
        account.version,
    ))
}

async fn create(
    State(state): State<AccountsState>,
    admin: OrgAdmin,
    meta: RequestMeta,
    JsonBody(body): JsonBody<CreateAccount>,
) -> Reply {
    let fields = body.validate()?;
    let account = state
        .admin
        .use_cases
        .create_account(&admin.caller, &admin.org.id, fields)
        .await?;
    let location = format!(
        "{}/v1/orgs/{}/service-accounts/{}",
        meta.base_path, account.org, account.id
    );
    Ok(with_location(
        account_reply(StatusCode::CREATED, &account)?,
        &location,
    ))
}

async fn list(State(state): State<AccountsState>, admin: OrgReader, Paging(page): Paging) -> Reply {
    let page = state
        .admin
        .use_cases
        .list_accounts(&admin.org.id, page.limit, page.cursor())
        .await?;
    json(StatusCode::OK, &AccountList::from(page))
}

async fn read(
    State(state): State<AccountsState>,
    admin: OrgReader,
    AccountPath(id): AccountPath,
) -> Reply {
    let account = state.admin.use_cases.account(&admin.org.id, &id).await?;
    account_reply(StatusCode::OK, &account)
}

async fn update(
    State(state): State<AccountsState>,
    admin: OrgAdmin,
    AccountPath(id): AccountPath,
    IfMatch(expected): IfMatch,
    JsonBody(patch): JsonBody<PatchAccount>,
) -> Reply {
    let changes = patch.validate()?;
    let account = state
        .admin
        .use_cases
        .update_account(&admin.caller, &admin.org.id, &id, expected, changes)
        .await?;
    account_reply(StatusCode::OK, &account)
}

async fn disable(
    State(state): State<AccountsState>,
    admin: OrgAdmin,
    AccountPath(id): AccountPath,
    IfMatch(expected): IfMatch,
    OptionalJsonBody(options): OptionalJsonBody<DisableAccount>,
) -> Reply {
    let account = state
        .admin
        .use_cases
        .disable_account(
            &admin.caller,
            &admin.org.id,
            &id,
            expected,
            options.revoke_tokens,
        )
        .await?;
    account_reply(StatusCode::OK, &account)
}

async fn enable(
    State(state): State<AccountsState>,
    admin: OrgAdmin,
    AccountPath(id): AccountPath,
    IfMatch(expected): IfMatch,
) -> Reply {
    let account = state
        .admin
        .use_cases
        .enable_account(&admin.caller, &admin.org.id, &id, expected)
        .await?;
    account_reply(StatusCode::OK, &account)
}

async fn delete(
    State(state): State<AccountsState>,
    admin: OrgAdmin,
    AccountPath(id): AccountPath,
    IfMatch(expected): IfMatch,
) -> Reply {
    state
        .admin
        .use_cases
        .delete_account(&admin.caller, &admin.org.id, &id, expected)
        .await?;
    Ok(no_content())
}

async fn read_org(admin: OrgReader) -> Reply {
    Ok(with_etag(
        json(StatusCode::OK, &OrgView::from(&admin.org))?,
        admin.org.version,
    ))
}

/// `PATCH /v1/orgs/{org}`: the name and the token policy (lifetimes, non-expiring tokens,
/// the IP allowlist every caller must come from, self-rotation).
async fn update_org(
    State(state): State<AccountsState>,
    admin: OrgAdmin,
    IfMatch(expected): IfMatch,
    JsonBody(patch): JsonBody<PatchOrg>,
) -> Reply {
    let changes = patch.validate(&admin.org.token_policy)?;
    let org = state
        .admin
        .use_cases
        .update_org(&admin.caller, admin.org, expected, changes)
        .await?;
    Ok(with_etag(
        json(StatusCode::OK, &OrgView::from(&org))?,
        org.version,
    ))
}
