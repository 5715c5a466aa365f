//! An account's trust policies (keyless CI): adding one and deleting one (after a page that
//! says what the deletion does; only the confirmed post deletes). Both land on the account's
//! page with a banner. Their section of the account's page, and how its form is read, are
//! [`crate::parts::trust`].

use accounts::trust_policies::CreateTrustPolicy;
use admin_api::problem::ApiError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use shared::ids::{ServiceAccountId, TrustPolicyId};

use crate::ConsoleState;
use crate::parts::account::{AccountPath, account_to_change, render_detail};
use crate::parts::confirm::{Ask, ask, confirmed};
use crate::parts::trust::policy_json;
use crate::parts::{api_body, fail, field_errors_of};
use crate::signin::{Form, Signed};
use crate::views::{done, see_other};

#[derive(Debug, Deserialize)]
pub struct PolicyPath {
    #[allow(dead_code)]
    org: String,
    id: String,
    pid: String,
}

/// `POST .../service-accounts/{id}/trust-policies`
pub async fn add(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<AccountPath>,
    form: Form,
) -> Response {
    let id = match account_to_change(&signed, &path, &form) {
        Ok(id) => id,
        Err(error) => return fail(&signed, error),
    };
    let added = async {
        let new = api_body::<CreateTrustPolicy>(policy_json(&form))?.validate()?;
        state
            .accounts
            .admin
            .use_cases
            .create_trust_policy(&signed.caller, &signed.org.id, &id, new)
            .await
            .map_err(ApiError::from)
    }
    .await;
    match added {
        Ok(_) => see_other(&done(&account_page(&signed, &id), "policy-added"), &[]),
        Err(error) => match field_errors_of(&error) {
            Some(errors) => {
                render_detail(
                    &state,
                    &signed,
                    &id,
                    &form,
                    &errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            None => fail(&signed, error),
        },
    }
}

/// `POST .../service-accounts/{id}/trust-policies/{pid}/delete`: the policy goes, and the
/// access tokens it issued are revoked.
pub async fn delete(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<PolicyPath>,
    form: Form,
) -> Response {
    let ids = signed.may_change(&form).and_then(|()| {
        let account =
            ServiceAccountId::parse(&path.id).map_err(|_| ApiError::NotFound("service account"))?;
        let policy =
            TrustPolicyId::parse(&path.pid).map_err(|_| ApiError::NotFound("trust policy"))?;
        Ok((account, policy))
    });
    let (account, policy) = match ids {
        Ok(ids) => ids,
        Err(error) => return fail(&signed, error),
    };
    let use_cases = &state.accounts.admin.use_cases;
    let back = account_page(&signed, &account);
    if !confirmed(&form) {
        let found = match use_cases
            .trust_policy(&signed.org.id, &account, &policy)
            .await
        {
            Ok(found) => found,
            Err(error) => return fail(&signed, error),
        };
        return ask(
            &signed,
            &Ask {
                title: format!("Delete the trust policy {}?", found.name.as_str()),
                consequence: "CI jobs that match it can no longer exchange their tokens for this account's access tokens, and the access tokens it issued stop working now.".to_owned(),
                button: "Delete the trust policy",
                action: &format!("{back}/trust-policies/{policy}/delete"),
                back: &back,
            },
            &form,
        );
    }
    match use_cases
        .delete_trust_policy(&signed.caller, &signed.org.id, &account, &policy, None)
        .await
    {
        Ok(()) => see_other(&done(&back, "policy-deleted"), &[]),
        Err(error) => fail(&signed, error),
    }
}

fn account_page(signed: &Signed, id: &ServiceAccountId) -> String {
    signed.frame().org_url(&format!("/service-accounts/{id}"))
}
