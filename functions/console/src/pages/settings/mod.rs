//! The organization's settings: what needs attention about its tokens ([`attention`]), its
//! token policy (lifetimes, non-expiring tokens, self-rotation, IP allowlist), its identity
//! providers with their role mappings, and the AWS accounts whose CloudFormation stacks may
//! manage it as code ([`page`]). Each save lands on the page with a banner; a refused one
//! shows what was sent, the errors in people's words next to their fields.

mod attention;
mod page;

use admin_api::problem::{ApiError, FieldError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde_json::{Value, json};

use crate::ConsoleState;
use crate::parts::words::in_words;
use crate::parts::{api_body, fail, field_errors_of, org_page};
use crate::signin::{Form, Signed};
use crate::views::{done, see_other};

/// `GET /console/orgs/{org}/settings`
pub async fn show(State(state): State<ConsoleState>, signed: Signed) -> Response {
    render(&state, &signed, &[], StatusCode::OK, &Form::default()).await
}

/// The page; after a refused change, with the values sent (`sent`) and the errors.
async fn render(
    state: &ConsoleState,
    signed: &Signed,
    errors: &[FieldError],
    status: StatusCode,
    sent: &Form,
) -> Response {
    let summary = match attention::needs_attention(state, signed).await {
        Ok(summary) => summary,
        Err(error) => return fail(signed, error),
    };
    let errors = in_words(errors.to_vec(), sent);
    let content = html! {
        (summary)
        (page::forms(signed, &errors, sent))
    };
    org_page(signed, status, "Settings", content)
}

fn version(form: &Form) -> Option<u64> {
    form.get("version").and_then(|v| v.parse().ok())
}

/// Sends `body` to the organization's use case; a refusal's field errors go through `place`
/// (which names the form's own row for a provider) and are shown with the values sent.
async fn save(
    state: &ConsoleState,
    signed: &Signed,
    form: &Form,
    body: Value,
    place: &(dyn Fn(FieldError) -> FieldError + Sync),
) -> Response {
    if let Err(error) = signed.may_change(form) {
        return fail(signed, error);
    }
    let outcome = async {
        let changes =
            api_body::<accounts::dto::PatchOrg>(body)?.validate(&signed.org.token_policy)?;
        state
            .accounts
            .admin
            .use_cases
            .update_org(&signed.caller, signed.org.clone(), version(form), changes)
            .await?;
        Ok::<_, ApiError>(())
    }
    .await;
    match outcome {
        Ok(()) => see_other(
            &done(&signed.frame().org_url("/settings"), "settings-saved"),
            &[],
        ),
        Err(error) => match field_errors_of(&error) {
            Some(errors) => {
                let errors: Vec<FieldError> = errors.into_iter().map(place).collect();
                render(
                    state,
                    signed,
                    &errors,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    form,
                )
                .await
            }
            None => fail(signed, error),
        },
    }
}

/// `POST .../settings/name`
pub async fn name(State(state): State<ConsoleState>, signed: Signed, form: Form) -> Response {
    let body = json!({"name": form.get("name").unwrap_or_default()});
    save(&state, &signed, &form, body, &|error| error).await
}

/// `POST .../settings/policy`
pub async fn policy(State(state): State<ConsoleState>, signed: Signed, form: Form) -> Response {
    let body = json!({"tokenPolicy": {
        "defaultLifetime": form.get("defaultLifetime").unwrap_or_default(),
        "maxLifetime": form.get("maxLifetime").unwrap_or_default(),
        "allowNonExpiring": form.get("allowNonExpiring") == Some("true"),
        "allowSelfRotation": form.get("allowSelfRotation") == Some("true"),
        "ipAllowlist": form.lines("ipAllowlist"),
        "expiryWarningDays": form
            .get("expiryWarningDays")
            .unwrap_or_default()
            .split([',', ' '])
            .filter(|day| !day.is_empty())
            .map(day_count)
            .collect::<Vec<_>>(),
        "revokeUnusedAfterDays": form.text("revokeUnusedAfterDays").as_deref().map(day_count),
        "maxLineageAgeDays": form.text("maxLineageAgeDays").as_deref().map(day_count),
    }});
    save(&state, &signed, &form, body, &|error| error).await
}

/// A number of days typed in a form; what is not one becomes -1, which the API refuses with
/// the field's rule.
fn day_count(text: &str) -> i64 {
    text.trim().parse().unwrap_or(-1)
}

/// `POST .../settings/iac`: one `<account> [<stack prefix>]` per line; a refusal is shown
/// under the field with its line.
pub async fn iac(State(state): State<ConsoleState>, signed: Signed, form: Form) -> Response {
    let list: Vec<Value> = form
        .get("iacAccess")
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut words = line.split_whitespace();
            let mut entry = json!({"account": words.next().unwrap_or_default()});
            let rest: Vec<&str> = words.collect();
            if !rest.is_empty() {
                entry["stackPrefix"] = json!(rest.join(" "));
            }
            entry
        })
        .collect();
    let place = |error: FieldError| {
        let line = error
            .field
            .strip_prefix("iacAccess[")
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(index, _)| index.parse::<usize>().ok());
        match line {
            Some(index) => {
                FieldError::new("iacAccess", format!("line {}: {}", index + 1, error.reason))
            }
            None => error,
        }
    };
    save(&state, &signed, &form, json!({"iacAccess": list}), &place).await
}

/// `POST .../settings/providers`: the whole list, as the form shows it.
pub async fn providers(State(state): State<ConsoleState>, signed: Signed, form: Form) -> Response {
    let mut list = Vec::new();
    // The form's row of each provider sent, so a refusal is shown on the right row.
    let mut rows = Vec::new();
    for i in 0..6 {
        let field = |name: &str| form.text(&format!("p{i}.{name}"));
        let Some(issuer) = field("issuer") else {
            continue;
        };
        if form.get(&format!("p{i}.remove")) == Some("true") {
            continue;
        }
        let values = |name: &str| form.lines(&format!("p{i}.{name}"));
        let mut provider = json!({
            "issuer": issuer,
            "audiences": values("audiences"),
            "displayClaim": field("displayClaim").unwrap_or_else(|| "email".into()),
            "roles": {
                "claim": field("claim").unwrap_or_else(|| "groups".into()),
                "admin": values("admin"),
                "auditor": values("auditor"),
            },
        });
        if let Some(client) = field("consoleClientId") {
            provider["consoleClientId"] = json!(client);
        }
        list.push(provider);
        rows.push(i);
    }
    let place = |error: FieldError| {
        let renamed = error
            .field
            .strip_prefix("identityProviders[")
            .and_then(|rest| rest.split_once(']'))
            .and_then(|(index, rest)| {
                let row = rows.get(index.parse::<usize>().ok()?)?;
                Some(format!("identityProviders[{row}]{rest}"))
            });
        match renamed {
            Some(field) => FieldError::new(field, error.reason),
            None => error,
        }
    };
    save(
        &state,
        &signed,
        &form,
        json!({"identityProviders": list}),
        &place,
    )
    .await
}
