//! Service accounts: the list (with search and paging), creation, the detail page, changes,
//! disable and enable, delete with a typed confirmation. The detail page itself, with the
//! account's tokens and trust policies, is [`crate::parts::account`].

use admin_api::problem::{ApiError, FieldError};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use serde_json::json;
use shared::ids::ServiceAccountId;
use usecases::PageLimit;

use crate::ConsoleState;
use crate::parts::account::{
    AccountPath, account_fields, account_id, account_json, account_to_change, render_detail,
};
use crate::parts::{api_body, badge, fail, field_errors_of, form_errors, org_page, roles_text};
use crate::signin::{Form, Signed};
use crate::views::{csrf_field, name_of, see_other, when};

/// How many accounts a search reads at most (pages of 100).
const SEARCH_PAGES: usize = 10;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /console/orgs/{org}`
pub async fn home(signed: Signed) -> Response {
    see_other(&signed.frame().org_url("/service-accounts"), &[])
}

/// `GET /console/orgs/{org}/service-accounts`
pub async fn list(
    State(state): State<ConsoleState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Response {
    render_list(
        &state,
        &signed,
        &query,
        &Form::default(),
        &[],
        StatusCode::OK,
    )
    .await
}

async fn render_list(
    state: &ConsoleState,
    signed: &Signed,
    query: &ListQuery,
    form: &Form,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    let use_cases = &state.accounts.admin.use_cases;
    let org = &signed.org.id;
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let mut searched_all = true;
    let (accounts, next) = match search {
        Some(q) => {
            let needle = q.to_lowercase();
            let mut found = Vec::new();
            // An account id is looked up directly, wherever it is in the list.
            if let Ok(id) = ServiceAccountId::parse(q) {
                match use_cases.account(org, &id).await {
                    Ok(account) => found.push(account),
                    Err(usecases::UseCaseError::NotFound(_)) => {}
                    Err(error) => return fail(signed, error),
                }
            }
            let mut cursor: Option<String> = None;
            for _ in 0..SEARCH_PAGES {
                let page = match use_cases
                    .list_accounts(org, PageLimit::FULL, cursor.as_deref())
                    .await
                {
                    Ok(page) => page,
                    Err(error) => return fail(signed, error),
                };
                found.extend(page.items.into_iter().filter(|account| {
                    account.name.as_str().to_lowercase().contains(&needle)
                        && account.id.as_str() != q
                }));
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            searched_all = cursor.is_none();
            (found, None)
        }
        None => match use_cases
            .list_accounts(org, PageLimit::default(), query.cursor.as_deref())
            .await
        {
            Ok(page) => (page.items, page.next_cursor),
            Err(error) => return fail(signed, error),
        },
    };
    let frame = signed.frame();
    let here = frame.org_url("/service-accounts");
    let content = html! {
        form class="search" method="get" action=(here) role="search" {
            label for="q" { "Search by name or id" }
            input id="q" name="q" type="search" value=[search];
            button type="submit" { "Search" }
            @if search.is_some() { a href=(here) { "Clear" } }
        }
        @if !searched_all {
            p class="warning" { "The search covered the first " (SEARCH_PAGES * 100) " accounts' names only: search by the account's id to find any account directly." }
        }
        @if accounts.is_empty() {
            p { "No service accounts" @if search.is_some() { " match" } "." }
        } @else {
            table {
                caption { "Service accounts" }
                thead { tr { th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Roles" } th scope="col" { "Last used" } th scope="col" { "Created" } } }
                tbody {
                    @for account in &accounts {
                        tr {
                            td { a href=(format!("{here}/{}", account.id)) { (account.name.as_str()) } br; code class="muted" { (account.id.as_str()) } }
                            td { (badge(&name_of(&account.status))) }
                            td { (roles_text(&account.roles)) }
                            td { (when(account.last_used_at)) }
                            td { (when(Some(account.created_at))) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &next {
            p { a rel="next" href=(format!("{here}?{}", form_urlencoded::Serializer::new(String::new()).append_pair("cursor", next).finish())) { "Next page" } }
        }
        @if signed.is_admin() {
            section aria-labelledby="create-heading" {
                h2 id="create-heading" { "Create a service account" }
                form method="post" action=(here) {
                    (csrf_field(&signed.session.csrf))
                    (form_errors(errors))
                    (account_fields(form, None, errors))
                    button type="submit" { "Create" }
                }
            }
        }
    };
    org_page(signed, status, "Service accounts", content)
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
            &signed
                .frame()
                .org_url(&format!("/service-accounts/{}", account.id)),
            &[],
        ),
        Err(error) => match field_errors_of(&error) {
            Some(errors) => {
                render_list(
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
    after_change(&state, &signed, &id, &form, changed).await
}

async fn after_change(
    state: &ConsoleState,
    signed: &Signed,
    id: &ServiceAccountId,
    form: &Form,
    outcome: Result<(), ApiError>,
) -> Response {
    match outcome {
        Ok(()) => see_other(
            &signed.frame().org_url(&format!("/service-accounts/{id}")),
            &[],
        ),
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

/// `POST .../{id}/disable`
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
    let revoke = form.get("revokeTokens") == Some("true");
    let outcome = state
        .accounts
        .admin
        .use_cases
        .disable_account(&signed.caller, &signed.org.id, &id, version(&form), revoke)
        .await
        .map(|_| ())
        .map_err(ApiError::from);
    after_change(&state, &signed, &id, &form, outcome).await
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
    after_change(&state, &signed, &id, &form, outcome).await
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
        Ok(()) => see_other(&signed.frame().org_url("/service-accounts"), &[]),
        Err(error) => fail(&signed, error),
    }
}
