//! Disabling the accounts selected in the list, in one confirmed step: the first post answers
//! with a page that names them and says what happens; the confirmed post disables each one
//! through the use case, one change (and one audit event) per account, and reports each
//! account that could not be disabled.

use admin_api::problem::{ApiError, FieldError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use shared::ids::ServiceAccountId;
use usecases::UseCaseError;

use super::list::{ListQuery, render_with_report};
use crate::ConsoleState;
use crate::parts::confirm::{Ask, ask, confirmed};
use crate::parts::fail;
use crate::parts::words::in_words;
use crate::signin::{Form, Signed};
use crate::views::{done, see_other};

/// The most accounts one bulk disable takes (a page of the list shows fewer).
pub const MAX_SELECTED: usize = 100;

/// `POST /console/orgs/{org}/service-accounts/disable-selected`: `account` once per account
/// selected, `revokeTokens=true` to revoke their tokens as well.
pub async fn disable_selected(
    State(state): State<ConsoleState>,
    signed: Signed,
    form: Form,
) -> Response {
    if let Err(error) = signed.may_change(&form) {
        return fail(&signed, error);
    }
    let here = signed.frame().org_url("/service-accounts");
    let mut ids: Vec<ServiceAccountId> = Vec::new();
    for id in form.all("account") {
        match ServiceAccountId::parse(&id) {
            Ok(id) if !ids.contains(&id) => ids.push(id),
            Ok(_) => {}
            Err(_) => return fail(&signed, ApiError::NotFound("service account")),
        }
    }
    if ids.is_empty() {
        return see_other(&done(&here, "nothing-selected"), &[]);
    }
    if ids.len() > MAX_SELECTED {
        return fail(
            &signed,
            ApiError::invalid(
                "account",
                format!("select at most {MAX_SELECTED} accounts at once"),
            ),
        );
    }
    let use_cases = &state.accounts.admin.use_cases;
    let org = &signed.org.id;
    let revoke = form.get("revokeTokens") == Some("true");
    if !confirmed(&form) {
        let mut names = Vec::new();
        for id in &ids {
            match use_cases.account(org, id).await {
                Ok(account) => names.push(account.name.to_string()),
                Err(UseCaseError::NotFound(_)) => names.push(format!("{id} (no longer exists)")),
                Err(error) => return fail(&signed, error),
            }
        }
        let title = match ids.len() {
            1 => "Disable 1 service account?".to_owned(),
            n => format!("Disable {n} service accounts?"),
        };
        let consequence = if revoke {
            format!(
                "{}: their tokens stop working now and are revoked, so enabling an account later will not bring them back. Each account is disabled on its own, and recorded as such.",
                names.join(", ")
            )
        } else {
            format!(
                "{}: their tokens stop working until each account is enabled again; jobs that use them fail meanwhile. Each account is disabled on its own, and recorded as such.",
                names.join(", ")
            )
        };
        return ask(
            &signed,
            &Ask {
                title,
                consequence,
                button: "Disable them",
                action: &format!("{here}/disable-selected"),
                back: &here,
            },
            &form,
        );
    }
    let mut disabled = 0;
    let mut refused = Vec::new();
    for id in &ids {
        match use_cases
            .disable_account(&signed.caller, org, id, None, revoke)
            .await
        {
            Ok(_) => disabled += 1,
            Err(error) => refused.push((id, error)),
        }
    }
    if refused.is_empty() {
        return see_other(&done(&here, "accounts-disabled"), &[]);
    }
    let mut lines = Vec::new();
    for (id, error) in refused {
        let name = match &error {
            UseCaseError::NotFound(_) => None,
            _ => use_cases
                .account(org, id)
                .await
                .ok()
                .map(|account| account.name.to_string()),
        };
        let reason = match error {
            UseCaseError::NotFound(_) => {
                "It no longer exists: it was deleted meanwhile.".to_owned()
            }
            error => {
                let detail = ApiError::from(error).detail();
                in_words(vec![FieldError::new("account", detail)], &Form::default())
                    .into_iter()
                    .map(|error| error.reason)
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        lines.push((id, name, reason));
    }
    let report = html! {
        div class="warning" role="alert" {
            p { strong { (disabled) " of " (ids.len()) " selected accounts disabled." } " These were not:" }
            ul {
                @for (id, name, reason) in &lines {
                    li {
                        @if let Some(name) = name {
                            a href=(format!("{here}/{id}")) { (name) } " (" code { (id.as_str()) } ")"
                        } @else {
                            code { (id.as_str()) }
                        }
                        ": " (reason)
                    }
                }
            }
        }
    };
    render_with_report(
        &state,
        &signed,
        &ListQuery::default(),
        &Form::default(),
        &[],
        StatusCode::OK,
        Some(report),
    )
    .await
}
