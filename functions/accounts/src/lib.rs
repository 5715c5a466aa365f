//! The service-account half of the admin API.
//!
//! ```text
//! POST   /v1/orgs/{org}/service-accounts                 create         201 + Location + ETag
//! GET    /v1/orgs/{org}/service-accounts                 list           ?limit=1..100&cursor=
//! GET    /v1/orgs/{org}/service-accounts/{id}            read           ETag
//! PATCH  /v1/orgs/{org}/service-accounts/{id}            update         If-Match
//! POST   /v1/orgs/{org}/service-accounts/{id}/disable    disable        {"revokeTokens": true}
//! POST   /v1/orgs/{org}/service-accounts/{id}/enable     enable
//! DELETE /v1/orgs/{org}/service-accounts/{id}            delete         204; every token stops
//! GET    /v1/orgs/{org}/audit-events                     audit trail    ?account=&token=&action=&actor=&since=&until=
//! GET    /v1/orgs/{org}                                  the organization and its token policy
//! PATCH  /v1/orgs/{org}                                  name, token policy   If-Match
//! ```
//!
//! Every route needs an admin of the organization (or an allowed IAM principal); see
//! [`admin_api::identity`].

mod audit_events;
mod dto;

use admin_api::AdminContext;
use admin_api::body::{json_body, optional_json_body};
use admin_api::identity::{Caller, resolve_caller};
use admin_api::problem::ApiError;
use admin_api::request::ApiRequest;
use admin_api::response::{check_if_match, if_match, json, no_content, with_etag, with_location};
use admin_api::router::{Matched, Route, route};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::{AccountStatus, Organization, ServiceAccount};
use shared::token::TokenOwner;
use store::audit::AuditStore;

use crate::dto::{
    AccountList, AccountView, CreateAccount, DisableAccount, OrgView, PatchAccount, PatchOrg,
};

const COLLECTION: &str = "/v1/orgs/{org}/service-accounts";
const ITEM: &str = "/v1/orgs/{org}/service-accounts/{id}";
const DISABLE: &str = "/v1/orgs/{org}/service-accounts/{id}/disable";
const ENABLE: &str = "/v1/orgs/{org}/service-accounts/{id}/enable";
const AUDIT_EVENTS: &str = "/v1/orgs/{org}/audit-events";
const ORG: &str = "/v1/orgs/{org}";

/// What the accounts function needs: the admin API's context and the audit trail it reads.
#[derive(Debug, Clone)]
pub struct AccountsContext {
    pub admin: AdminContext,
    pub audit: AuditStore,
}

/// Every route this function serves (the OpenAPI description is checked against it).
pub const ROUTES: &[Route] = &[
    Route {
        method: "POST",
        pattern: COLLECTION,
    },
    Route {
        method: "GET",
        pattern: COLLECTION,
    },
    Route {
        method: "GET",
        pattern: ITEM,
    },
    Route {
        method: "PATCH",
        pattern: ITEM,
    },
    Route {
        method: "DELETE",
        pattern: ITEM,
    },
    Route {
        method: "POST",
        pattern: DISABLE,
    },
    Route {
        method: "POST",
        pattern: ENABLE,
    },
    Route {
        method: "GET",
        pattern: AUDIT_EVENTS,
    },
    Route {
        method: "GET",
        pattern: ORG,
    },
    Route {
        method: "PATCH",
        pattern: ORG,
    },
];

/// Handles one request. Every outcome, errors included, is an HTTP response: an `Err` would
/// be a failed invocation, not a status code.
pub async fn handle(context: &AccountsContext, request: Request) -> Result<Response<Body>, Error> {
    let request = ApiRequest::from_lambda(request);
    Ok(match dispatch(context, &request).await {
        Ok(response) => response,
        Err(error) => {
            if error.status().is_client_error() {
                tracing::info!(
                    status = error.status().as_u16(),
                    kind = error.kind(),
                    method = %request.method,
                    "refused"
                );
            }
            error.into_response()
        }
    })
}

async fn dispatch(
    accounts: &AccountsContext,
    request: &ApiRequest,
) -> Result<Response<Body>, ApiError> {
    let context = &accounts.admin;
    let matched = route(ROUTES, &request.method, &request.path)?;
    let caller = resolve_caller(context, request).await?;
    let org = OrgId::parse(matched.param("org"))
        .map_err(|error| ApiError::bad_request("invalid-parameter", format!("`org`: {error}")))?;
    caller.require_admin(&org)?;
    let Some(organization) = context.store.get_org(&org).await? else {
        return Err(ApiError::NotFound("organization"));
    };
    let call = Call {
        context,
        request,
        caller: &caller,
        org,
    };
    match (matched.route.method, matched.route.pattern) {
        ("POST", COLLECTION) => call.create().await,
        ("GET", COLLECTION) => call.list().await,
        ("GET", ITEM) => call.read(&account_id(&matched)?).await,
        ("PATCH", ITEM) => call.update(&account_id(&matched)?).await,
        ("DELETE", ITEM) => call.delete(&account_id(&matched)?).await,
        ("POST", DISABLE) => call.disable(&account_id(&matched)?).await,
        ("POST", ENABLE) => call.enable(&account_id(&matched)?).await,
        ("GET", AUDIT_EVENTS) => audit_events::list(&accounts.audit, request, &call.org).await,
        ("GET", ORG) => Ok(with_etag(
            json(StatusCode::OK, &OrgView::from(&organization))?,
            organization.version,
        )),
        ("PATCH", ORG) => call.update_org(organization).await,
        _ => Err(ApiError::NotFound("route")),
    }
}

fn account_id(matched: &Matched) -> Result<ServiceAccountId, ApiError> {
    ServiceAccountId::parse(matched.param("id"))
        .map_err(|error| ApiError::bad_request("invalid-parameter", format!("`id`: {error}")))
}

/// One authorized request against one organization.
struct Call<'a> {
    context: &'a AdminContext,
    request: &'a ApiRequest,
    caller: &'a Caller,
    org: OrgId,
}

impl Call<'_> {
    async fn create(&self) -> Result<Response<Body>, ApiError> {
        let body: CreateAccount = json_body(self.request)?;
        let fields = body.validate()?;
        let id = ServiceAccountId::generate()
            .map_err(|error| ApiError::internal("generating an id", &error))?;
        let account = ServiceAccount::new(
            self.org.clone(),
            id,
            fields,
            self.caller.actor(self.request),
            self.context.clock.now(),
        );
        self.context.store.create_account(&account).await?;
        let location = format!(
            "{}/v1/orgs/{}/service-accounts/{}",
            self.request.base_path, account.org, account.id
        );
        let response = json(StatusCode::CREATED, &AccountView::from(&account))?;
        Ok(with_location(
            with_etag(response, account.version),
            &location,
        ))
    }

    async fn list(&self) -> Result<Response<Body>, ApiError> {
        let (limit, cursor) = self.request.page()?;
        let page = self
            .context
            .store
            .list_accounts(&self.org, limit, cursor)
            .await?;
        json(StatusCode::OK, &AccountList::from(page))
    }

    async fn read(&self, id: &ServiceAccountId) -> Result<Response<Body>, ApiError> {
        let account = self.existing(id).await?;
        Ok(with_etag(
            json(StatusCode::OK, &AccountView::from(&account))?,
            account.version,
        ))
    }

    async fn update(&self, id: &ServiceAccountId) -> Result<Response<Body>, ApiError> {
        let expected = if_match(self.request)?;
        let patch: PatchAccount = json_body(self.request)?;
        let patch = patch.validate()?;
        let mut account = self.existing(id).await?;
        check_if_match(expected, account.version, "service account")?;
        patch.apply_to(&mut account);
        self.save(account).await
    }

    /// `PATCH /v1/orgs/{org}`: the name and the token policy (lifetimes, non-expiring
    /// tokens, the IP allowlist every caller must come from, self-rotation).
    async fn update_org(&self, mut org: Organization) -> Result<Response<Body>, ApiError> {
        let expected = if_match(self.request)?;
        let patch: PatchOrg = json_body(self.request)?;
        let changes = patch.validate(&org.token_policy)?;
        check_if_match(expected, org.version, "organization")?;
        changes.apply_to(&mut org);
        org.updated_at = self.context.clock.now();
        org.updated_by = self.caller.actor(self.request);
        let stored = self.context.store.update_org(&org).await?;
        Ok(with_etag(
            json(StatusCode::OK, &OrgView::from(&stored))?,
            stored.version,
        ))
    }

    async fn disable(&self, id: &ServiceAccountId) -> Result<Response<Body>, ApiError> {
        let expected = if_match(self.request)?;
        let options: DisableAccount = optional_json_body(self.request)?;
        let mut account = self.existing(id).await?;
        check_if_match(expected, account.version, "service account")?;
        let response = if account.status == AccountStatus::Disabled {
            with_etag(
                json(StatusCode::OK, &AccountView::from(&account))?,
                account.version,
            )
        } else {
            account.status = AccountStatus::Disabled;
            self.save(account).await?
        };
        if options.revoke_tokens {
            self.revoke_all_tokens(id).await?;
        }
        Ok(response)
    }

    async fn enable(&self, id: &ServiceAccountId) -> Result<Response<Body>, ApiError> {
        let expected = if_match(self.request)?;
        let mut account = self.existing(id).await?;
        check_if_match(expected, account.version, "service account")?;
        if account.status == AccountStatus::Active {
            return Ok(with_etag(
                json(StatusCode::OK, &AccountView::from(&account))?,
                account.version,
            ));
        }
        account.status = AccountStatus::Active;
        self.save(account).await
    }

    /// The account becomes a tombstone naming who deleted it, so the delete is attributed in
    /// the audit trail; from that write on, neither it nor any of its tokens authorizes
    /// anything. Its tokens are then revoked one by one, for the record.
    async fn delete(&self, id: &ServiceAccountId) -> Result<Response<Body>, ApiError> {
        let expected = if_match(self.request)?;
        let mut account = self.existing(id).await?;
        check_if_match(expected, account.version, "service account")?;
        let now = self.context.clock.now();
        account.delete(self.caller.actor(self.request), now, self.context.retention);
        self.context.store.update_account(&account).await?;
        self.revoke_all_tokens(id).await?;
        Ok(no_content())
    }

    async fn revoke_all_tokens(&self, id: &ServiceAccountId) -> Result<usize, ApiError> {
        let revoked = self
            .context
            .store
            .revoke_tokens(
                &self.org,
                &TokenOwner::Account(id.clone()),
                &self.caller.actor(self.request),
                self.context.clock.now(),
                self.context.retention,
            )
            .await?;
        tracing::info!(account = %id, revoked, "revoked the account's tokens");
        Ok(revoked)
    }

    /// The account, unless it does not exist or is deleted.
    async fn existing(&self, id: &ServiceAccountId) -> Result<ServiceAccount, ApiError> {
        match self.context.store.get_account(&self.org, id).await? {
            Some(account) if !account.is_deleted() => Ok(account),
            _ => Err(ApiError::NotFound("service account")),
        }
    }

    /// Stores a changed account (conditional on the version it was read at) and answers
    /// with it.
    async fn save(&self, mut account: ServiceAccount) -> Result<Response<Body>, ApiError> {
        account.updated_at = self.context.clock.now();
        account.updated_by = self.caller.actor(self.request);
        let stored = self.context.store.update_account(&account).await?;
        Ok(with_etag(
            json(StatusCode::OK, &AccountView::from(&stored))?,
            stored.version,
        ))
    }
}
