//! Service accounts: the list ([`list`]: token counts, risk, sort, filters, search), creation,
//! the detail page, changes, disable (after a confirmation) and enable, delete with a typed
//! confirmation, and disabling several at once ([`bulk`]). Every change lands on a page with
//! a banner that says it is done. The detail page itself, with the account's tokens and trust
//! policies, is [`crate::parts::account`].

mod bulk;
mod list;

use admin_api::problem::{ApiError, FieldError};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use shared::ids::ServiceAccountId;

pub use self::bulk::disable_selected;
pub use self::list::{ListQuery, list};
use crate::ConsoleState;
use crate::parts::account::{
    AccountPath, account_id, account_json, account_to_change, render_detail,
};
use crate::parts::confirm::{Ask, ask, confirmed};
use crate::parts::{api_body, fail, field_errors_of};
use crate::signin::{Form, Signed};
use crate::views::{done, see_other};

/// `GET /console/orgs/{org}`
pub async fn home(signed: Signed) -> Response {
    see_other(&signed.frame().org_url("/service-accounts"), &[])
}

/// `POST /console/orgs/{org}/service-accounts`
pub async fn create(State(state): State<ConsoleState>, signed: Signed, form: Form) -> Response {
    if let Err(error) = signed.may_change(&form) {
        return fail(&signed, error);
    }
    let mut body = account_json(&form);
    if let Some(description) = form.text("description") {
        body["description"] = json!(description);
    }
    let created = async {
        let fields = api_body::<accounts::dto::CreateAccount>(body)?.validate()?;
        Ok::<_, ApiError>(
            state
                .accounts
                .admin
                .use_cases
                .create_account(&signed.caller, &signed.org.id, fields)
                .await?,
        )
    }
    .await;
    match created {
        Ok(account) => see_other(
            &done(&account_url(&signed, &account.id), "account-created"),
            &[],
        ),
        Err(error) => match field_errors_of(&error) {
            Some(errors) => {
                list::render_list(
                    &state,
                    &signed,
                    &ListQuery::default(),
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

fn account_url(signed: &Signed, id: &ServiceAccountId) -> String {
    signed.frame().org_url(&format!("/service-accounts/{id}"))
}

/// `GET /console/orgs/{org}/service-accounts/{id}`
pub async fn detail(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<AccountPath>,
) -> Response {
    let id = match account_id(&path.id) {
        Ok(id) => id,
        Err(error) => return fail(&signed, error),
    };
    render_detail(&state, &signed, &id, &Form::default(), &[], StatusCode::OK).await
}

fn version(form: &Form) -> Option<u64> {
    form.get("version").and_then(|v| v.parse().ok())
}

/// `POST /console/orgs/{org}/service-accounts/{id}`: a change.
pub async fn edit(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<AccountPath>,
    form: Form,
) -> Response {
    let id = match account_to_change(&signed, &path, &form) {
        Ok(id) => id,
        Err(error) => return fail(&signed, error),
    };
    let mut body = account_json(&form);
    body["description"] = form
        .text("description")
        .map_or(serde_json::Value::Null, |d| json!(d));
    let changed = async {
        let changes = api_body::<accounts::dto::PatchAccount>(body)?.validate()?;
        state
            .accounts
            .admin
            .use_cases
            .update_account(&signed.caller, &signed.org.id, &id, version(&form), changes)
            .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    after_change(&state, &signed, &id, &form, changed, "account-saved").await
}

/// The account's page after a change: with the banner `notice` when it was made, else again
/// with the form's errors.
async fn after_change(
    state: &ConsoleState,
    signed: &Signed,
    id: &ServiceAccountId,
    form: &Form,
    outcome: Result<(), ApiError>,
    notice: &str,
) -> Response {
    match outcome {
        Ok(()) => see_other(&done(&account_url(signed, id), notice), &[]),
        Err(error) => match field_errors_of(&error) {
            Some(errors) => {
                render_detail(
                    state,
                    signed,
                    id,
                    form,
                    &errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            None => fail(signed, error),
        },
    }
}

/// `POST .../{id}/disable`: first a page that says what it does; only the confirmed post
/// (`confirm=yes`) disables.
pub async fn disable(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<AccountPath>,
    form: Form,
) -> Response {
    let id = match account_to_change(&signed, &path, &form) {
        Ok(id) => id,
        Err(error) => return fail(&signed, error),
    };
    let use_cases = &state.accounts.admin.use_cases;
    let revoke = form.get("revokeTokens") == Some("true");
    if !confirmed(&form) {
        let account = match use_cases.account(&signed.org.id, &id).await {
            Ok(account) => account,
            Err(error) => return fail(&signed, error),
        };
        let here = account_url(&signed, &id);
        let consequence = if revoke {
            "Its tokens stop working now and are revoked: enabling it later will not bring them back. Jobs that use them fail until they have new ones."
        } else {
            "Its tokens stop working until it is enabled again: jobs that use them fail meanwhile. Nothing is deleted."
        };
        return ask(
            &signed,
            &Ask {
                title: format!("Disable {}?", account.name.as_str()),
                consequence: consequence.to_owned(),
                button: "Disable",
                action: &format!("{here}/disable"),
                back: &here,
            },
            &form,
        );
    }
    let outcome = use_cases
        .disable_account(&signed.caller, &signed.org.id, &id, version(&form), revoke)
        .await
        .map(|_| ())
        .map_err(ApiError::from);
    after_change(&state, &signed, &id, &form, outcome, "account-disabled").await
}

/// `POST .../{id}/enable`
pub async fn enable(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<AccountPath>,
    form: Form,
) -> Response {
    let id = match account_to_change(&signed, &path, &form) {
        Ok(id) => id,
        Err(error) => return fail(&signed, error),
    };
    let outcome = state
        .accounts
        .admin
        .use_cases
        .enable_account(&signed.caller, &signed.org.id, &id, version(&form))
        .await
        .map(|_| ())
        .map_err(ApiError::from);
    after_change(&state, &signed, &id, &form, outcome, "account-enabled").await
}

/// `POST .../{id}/delete`: only when the account's name was typed.
pub async fn delete(
    State(state): State<ConsoleState>,
    signed: Signed,
    Path(path): Path<AccountPath>,
    form: Form,
) -> Response {
    let id = match account_to_change(&signed, &path, &form) {
        Ok(id) => id,
        Err(error) => return fail(&signed, error),
    };
    let use_cases = &state.accounts.admin.use_cases;
    let account = match use_cases.account(&signed.org.id, &id).await {
        Ok(account) => account,
        Err(error) => return fail(&signed, error),
    };
    if form.get("confirm").map(str::trim) != Some(account.name.as_str()) {
        let errors = [FieldError::new(
            "confirm",
            "type the account's name exactly to delete it",
        )];
        return render_detail(
            &state,
            &signed,
            &id,
            &form,
            &errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    match use_cases
        .delete_account(&signed.caller, &signed.org.id, &id, version(&form))
        .await
    {
        Ok(()) => see_other(
            &done(
                &signed.frame().org_url("/service-accounts"),
                "account-deleted",
            ),
            &[],
        ),
        Err(error) => fail(&signed, error),
    }
}
