//! A service account's trust policies: which workloads' OpenID Connect tokens may be
//! exchanged for its access tokens ([`usecases::federation`]).
//!
//! ```text
//! POST   /v1/orgs/{org}/service-accounts/{id}/trust-policies        create   201 + Location + ETag
//! GET    /v1/orgs/{org}/service-accounts/{id}/trust-policies        list     ?limit=&cursor=
//! GET    /v1/orgs/{org}/service-accounts/{id}/trust-policies/{pid}  read     ETag
//! DELETE /v1/orgs/{org}/service-accounts/{id}/trust-policies/{pid}  delete   204; its tokens are revoked
//! ```
//!
//! A policy is never edited in place: a changed trust is a new policy, and the old one's
//! deletion (which revokes what it issued) is its own audited act.

use admin_api::extract::{AccountPath, IfMatch, JsonBody, Paging, TrustPolicyPath};
use admin_api::identity::{OrgAdmin, OrgReader};
use admin_api::meta::RequestMeta;
use admin_api::problem::{ApiError, FieldError};
use admin_api::response::{ActorView, json, no_content, with_etag, with_location};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use shared::access::{Scope, Scopes};
use shared::federation::{ClaimCondition, Preset, RawCondition, TrustPolicy};
use shared::people::Issuer;
use shared::text::DisplayName;
use time::OffsetDateTime;
use usecases::Page;
use usecases::federation::NewTrustPolicy;

use crate::AccountsState;
use crate::dto::check;

pub const COLLECTION: &str = "/v1/orgs/{org}/service-accounts/{id}/trust-policies";
pub const ITEM: &str = "/v1/orgs/{org}/service-accounts/{id}/trust-policies/{pid}";

type Reply = Result<Response, ApiError>;

/// `POST .../trust-policies`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateTrustPolicy {
    name: String,
    #[serde(default, deserialize_with = "crate::dto::not_null")]
    preset: Option<String>,
    #[serde(default, deserialize_with = "crate::dto::not_null")]
    issuer: Option<String>,
    #[serde(default, deserialize_with = "crate::dto::not_null")]
    audience: Option<String>,
    conditions: Vec<RawCondition>,
    scopes: Vec<String>,
    #[serde(default, deserialize_with = "admin_api::extract::whole_number")]
    lifetime_seconds: Option<i64>,
}

impl CreateTrustPolicy {
    pub fn validate(self) -> Result<NewTrustPolicy, ApiError> {
        let mut errors = Vec::new();
        let name = check(&mut errors, "name", DisplayName::parse(&self.name));
        let preset = match self.preset.as_deref() {
            None => Some(None),
            Some(preset) => check(&mut errors, "preset", Preset::parse(preset)).map(Some),
        };
        let issuer = match self.issuer.as_deref() {
            None => Some(None),
            Some(issuer) => check(&mut errors, "issuer", Issuer::parse(issuer)).map(Some),
        };
        if self
            .audience
            .as_deref()
            .is_some_and(|aud| aud.is_empty() || aud.len() > 256)
        {
            errors.push(FieldError::new("audience", "1 to 256 characters"));
        }
        let mut conditions = Vec::new();
        for (i, raw) in self.conditions.into_iter().enumerate() {
            if let Some(condition) = check(
                &mut errors,
                &format!("conditions[{i}]"),
                ClaimCondition::try_from(raw),
            ) {
                conditions.push(condition);
            }
        }
        let scopes: Vec<Scope> = self
            .scopes
            .iter()
            .enumerate()
            .filter_map(|(i, scope)| {
                check(&mut errors, &format!("scopes[{i}]"), Scope::parse(scope))
            })
            .collect();
        let scopes = check(&mut errors, "scopes", Scopes::parse(scopes));
        // The range is the rules' (60 to 43200); this only keeps the number a number.
        let lifetime_seconds = self
            .lifetime_seconds
            .map(|seconds| u32::try_from(seconds).unwrap_or(0));
        match (name, preset, issuer, scopes) {
            (Some(name), Some(preset), Some(issuer), Some(scopes)) if errors.is_empty() => {
                Ok(NewTrustPolicy {
                    name,
                    preset,
                    issuer,
                    audience: self.audience,
                    conditions,
                    scopes,
                    lifetime_seconds,
                })
            }
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// A trust policy, as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustPolicyView {
    id: String,
    org: String,
    account: String,
    name: String,
    preset: Option<Preset>,
    issuer: String,
    audience: String,
    conditions: Vec<RawCondition>,
    scopes: Vec<String>,
    lifetime_seconds: u32,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    created_by: ActorView,
    version: u64,
}

impl From<&TrustPolicy> for TrustPolicyView {
    fn from(policy: &TrustPolicy) -> Self {
        Self {
            id: policy.id.to_string(),
            org: policy.org.to_string(),
            account: policy.account.to_string(),
            name: policy.name.to_string(),
            preset: policy.preset,
            issuer: policy.issuer.as_str().to_owned(),
            audience: policy.audience.clone(),
            conditions: policy.conditions.iter().cloned().map(Into::into).collect(),
            scopes: policy.scopes.iter().map(ToString::to_string).collect(),
            lifetime_seconds: policy.lifetime_seconds,
            created_at: policy.created_at,
            created_by: ActorView::from(&policy.created_by),
            version: policy.version,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustPolicyList {
    items: Vec<TrustPolicyView>,
    next_cursor: Option<String>,
}

impl From<Page<TrustPolicy>> for TrustPolicyList {
    fn from(page: Page<TrustPolicy>) -> Self {
        Self {
            items: page.items.iter().map(TrustPolicyView::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

fn policy_reply(status: StatusCode, policy: &TrustPolicy) -> Reply {
    Ok(with_etag(
        json(status, &TrustPolicyView::from(policy))?,
        policy.version,
    ))
}

pub async fn create(
    State(state): State<AccountsState>,
    admin: OrgAdmin,
    meta: RequestMeta,
    AccountPath(account): AccountPath,
    JsonBody(body): JsonBody<CreateTrustPolicy>,
) -> Reply {
    let new = body.validate()?;
    let policy = state
        .admin
        .use_cases
        .create_trust_policy(&admin.caller, &admin.org.id, &account, new)
        .await?;
    let location = format!(
        "{}/v1/orgs/{}/service-accounts/{}/trust-policies/{}",
        meta.base_path, policy.org, policy.account, policy.id
    );
    Ok(with_location(
        policy_reply(StatusCode::CREATED, &policy)?,
        &location,
    ))
}

pub async fn list(
    State(state): State<AccountsState>,
    admin: OrgReader,
    AccountPath(account): AccountPath,
    Paging(page): Paging,
) -> Reply {
    let page = state
        .admin
        .use_cases
        .list_trust_policies(&admin.org.id, &account, page.limit, page.cursor())
        .await?;
    json(StatusCode::OK, &TrustPolicyList::from(page))
}

pub async fn read(
    State(state): State<AccountsState>,
    admin: OrgReader,
    AccountPath(account): AccountPath,
    TrustPolicyPath(id): TrustPolicyPath,
) -> Reply {
    let policy = state
        .admin
        .use_cases
        .trust_policy(&admin.org.id, &account, &id)
        .await?;
    policy_reply(StatusCode::OK, &policy)
}

pub async fn delete(
    State(state): State<AccountsState>,
    admin: OrgAdmin,
    AccountPath(account): AccountPath,
    TrustPolicyPath(id): TrustPolicyPath,
    IfMatch(expected): IfMatch,
) -> Reply {
    state
        .admin
        .use_cases
        .delete_trust_policy(&admin.caller, &admin.org.id, &account, &id, expected)
        .await?;
    Ok(no_content())
}
