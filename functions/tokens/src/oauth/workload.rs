//! A workload's grant: its OpenID Connect token, presented by RFC 8693's token exchange or
//! RFC 7523's JWT bearer grant, and the service account it would act as, named
//! `<org>/<account id>` in `client_id` or (token exchange) `audience` or `resource`. It
//! presents no client secret: its token is the proof. The rules of the exchange are
//! [`usecases::federation`]'s.

use admin_api::meta::RequestMeta;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use shared::access::Scopes;
use shared::ids::{OrgId, ServiceAccountId};
use usecases::federation::WorkloadExchange;

use super::Grant;
use super::error::{OAuthError, invalid_request};
use super::form::Form;

/// RFC 8693's grant, and the token types it takes and gives.
pub(super) const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
pub(super) const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 7523's grant.
pub(super) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A workload's grant: its token, and the account it names.
pub(super) fn workload_request(
    grant: Grant,
    meta: &RequestMeta,
    headers: &HeaderMap,
    form: &Form,
    scope: Option<Scopes>,
) -> Result<WorkloadExchange, OAuthError> {
    if form.get("client_secret").is_some() || headers.contains_key(AUTHORIZATION) {
        return Err(invalid_request(
            "a workload presents its token, not a client secret",
        ));
    }
    let token = match grant {
        Grant::TokenExchange => {
            match form.get("subject_token_type") {
                Some(JWT_TYPE | ID_TOKEN_TYPE) => {}
                None => return Err(invalid_request("`subject_token_type` is required")),
                Some(_) => {
                    return Err(invalid_request(
                        "`subject_token_type` is urn:ietf:params:oauth:token-type:jwt or :id_token",
                    ));
                }
            }
            if form.get("actor_token").is_some() || form.get("actor_token_type").is_some() {
                return Err(invalid_request(
                    "delegation (`actor_token`) is not supported",
                ));
            }
            if form
                .get("requested_token_type")
                .is_some_and(|requested| requested != ACCESS_TOKEN_TYPE)
            {
                return Err(invalid_request(
                    "the only token type issued is urn:ietf:params:oauth:token-type:access_token",
                ));
            }
            form.get("subject_token")
                .ok_or_else(|| invalid_request("`subject_token` is required"))?
        }
        _ => form
            .get("assertion")
            .ok_or_else(|| invalid_request("`assertion` is required"))?,
    };
    // RFC 8693 names the target with `audience` or `resource` too; RFC 7523 has `client_id`.
    let naming: &[&str] = if grant == Grant::TokenExchange {
        &["client_id", "audience", "resource"]
    } else {
        &["client_id"]
    };
    let named: Vec<&str> = naming.iter().filter_map(|name| form.get(name)).collect();
    let Some(first) = named.first() else {
        return Err(invalid_request(
            "name the service account: `client_id` (or `audience`) = <org>/<account id>",
        ));
    };
    if named.iter().any(|other| other != first) {
        return Err(invalid_request(
            "`client_id`, `audience` and `resource` name different service accounts",
        ));
    }
    let (org, account) = first
        .split_once('/')
        .and_then(|(org, account)| {
            Some((
                OrgId::parse(org).ok()?,
                ServiceAccountId::parse(account).ok()?,
            ))
        })
        .ok_or_else(|| {
            let code = if grant == Grant::TokenExchange && form.get("client_id").is_none() {
                "invalid_target"
            } else {
                "invalid_request"
            };
            OAuthError::new(code, "a service account is named as <org>/<account id>")
        })?;
    Ok(WorkloadExchange {
        org,
        account,
        token: token.to_owned(),
        scope,
        source_ip: meta.source_ip,
        user_agent: meta.user_agent.clone(),
        request_id: meta.request_id.clone(),
    })
}
