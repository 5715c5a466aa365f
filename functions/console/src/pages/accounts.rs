//! Service accounts: the list (with search and paging), creation, the detail page (with its
//! tokens and the mint form), changes, disable and enable, delete with a typed confirmation.

use admin_api::problem::{ApiError, FieldError};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use shared::access::Role;
use shared::ids::ServiceAccountId;
use shared::model::{AccountStatus, ServiceAccount};
use shared::token::TokenOwner;
use store::{PageLimit, TokenListScope};

use super::{
    api_body, badge, fail, field_errors_of, form_errors, grants_json, grants_text, org_page,
    roles_text,
};
use crate::ConsoleState;
use crate::signin::{Form, Signed};
use crate::views::{csrf_field, described_by, field_errors, name_of, see_other, when};
use axum::extract::State;

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

/// The fields of an account, filled from the form sent, else from `account`.
fn account_fields(form: &Form, account: Option<&ServiceAccount>, errors: &[FieldError]) -> Markup {
    let name = form
        .get("name")
        .map(str::to_owned)
        .or_else(|| account.map(|a| a.name.to_string()))
        .unwrap_or_default();
    let description = form
        .get("description")
        .map(str::to_owned)
        .or_else(|| account.and_then(|a| a.description.as_ref().map(ToString::to_string)))
        .unwrap_or_default();
    let roles: Vec<String> = if form.0.is_empty() {
        account
            .map(|a| a.roles.iter().map(|r| r.as_str().to_owned()).collect())
            .unwrap_or_else(|| vec!["reader".to_owned()])
    } else {
        form.all("roles")
    };
    let grants = form
        .get("grants")
        .map(str::to_owned)
        .or_else(|| account.map(|a| grants_text(&a.grants)))
        .unwrap_or_default();
    let allowlist = form
        .get("ipAllowlist")
        .map(str::to_owned)
        .or_else(|| {
            account.map(|a| {
                a.ip_allowlist
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        })
        .unwrap_or_default();
    html! {
        div class="field" {
            label for="name" { "Name" }
            input id="name" name="name" required maxlength="100" value=(name) aria-describedby=[described_by(errors, "name")];
            (field_errors(errors, "name"))
        }
        div class="field" {
            label for="description" { "Description" }
            input id="description" name="description" maxlength="500" value=(description) aria-describedby=[described_by(errors, "description")];
            (field_errors(errors, "description"))
        }
        fieldset {
            legend { "Roles" }
            @for role in Role::ALL {
                label class="check" {
                    input type="checkbox" name="roles" value=(role.as_str()) checked[roles.iter().any(|r| r == role.as_str())];
                    (role.as_str())
                }
            }
            (field_errors(errors, "roles"))
        }
        div class="field" {
            label for="grants" { "Grants, one per line as resource:level (read, write, admin)" }
            textarea id="grants" name="grants" rows="3" aria-describedby=[described_by(errors, "grants")] { (grants) }
            (field_errors(errors, "grants"))
        }
        div class="field" {
            label for="ipAllowlist" { "IP allowlist, one address or CIDR per line (empty: any)" }
            textarea id="ipAllowlist" name="ipAllowlist" rows="3" aria-describedby=[described_by(errors, "ipAllowlist")] { (allowlist) }
            (field_errors(errors, "ipAllowlist"))
        }
    }
}

fn account_json(form: &Form) -> serde_json::Value {
    json!({
        "name": form.get("name").unwrap_or_default(),
        "roles": form.all("roles"),
        "grants": grants_json(&form.lines("grants").iter().filter(|l| !l.is_empty()).cloned().collect::<Vec<_>>()),
        "ipAllowlist": form.lines("ipAllowlist"),
    })
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

#[derive(Debug, Deserialize)]
pub struct AccountPath {
    #[allow(dead_code)]
    org: String,
    id: String,
}

fn account_id(id: &str) -> Result<ServiceAccountId, ApiError> {
    ServiceAccountId::parse(id).map_err(|_| ApiError::NotFound("service account"))
}

/// The account a posted change is for, once the form may change it (CSRF, admin role).
pub(crate) fn account_to_change(
    signed: &Signed,
    path: &AccountPath,
    form: &Form,
) -> Result<ServiceAccountId, ApiError> {
    let id = account_id(&path.id)?;
    signed.may_change(form)?;
    Ok(id)
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

/// The detail page, with the form sent and its errors when a change was refused.
pub async fn render_detail(
    state: &ConsoleState,
    signed: &Signed,
    id: &ServiceAccountId,
    form: &Form,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    let use_cases = &state.accounts.admin.use_cases;
    let account = match use_cases.account(&signed.org.id, id).await {
        Ok(account) => account,
        Err(error) => return fail(signed, error),
    };
    let owner = TokenOwner::Account(id.clone());
    let tokens = match use_cases
        .list_tokens(
            &signed.org.id,
            &TokenListScope::Owner(owner.clone()),
            PageLimit::FULL,
            None,
        )
        .await
    {
        Ok(page) => page.items,
        Err(error) => return fail(signed, error),
    };
    let policies = match use_cases
        .list_trust_policies(&signed.org.id, id, PageLimit::FULL, None)
        .await
    {
        Ok(page) => page.items,
        Err(error) => return fail(signed, error),
    };
    let frame = signed.frame();
    let here = frame.org_url(&format!("/service-accounts/{id}"));
    let csrf = &signed.session.csrf;
    let trust = super::trust::section(
        signed,
        &here,
        &policies,
        &use_cases.workloads.audiences,
        form,
        errors,
    );
    let now = use_cases.now();
    let editing = form.get("action") == Some("edit");
    let blank = Form::default();
    let (edit_form, edit_errors) = if editing {
        (form, errors)
    } else {
        (&blank, &[][..])
    };
    let content = html! {
        @if !matches!(form.get("action"), Some("edit" | "mint" | "trust")) { (form_errors(errors)) }
        dl class="facts" {
            dt { "Id" } dd { code { (account.id.as_str()) } }
            dt { "Status" } dd { (badge(&name_of(&account.status))) }
            dt { "Description" } dd { (account.description.as_ref().map(ToString::to_string).unwrap_or_default()) }
            dt { "Roles" } dd { (roles_text(&account.roles)) }
            dt { "Grants" } dd { (grants_text(&account.grants)) }
            dt { "IP allowlist" } dd { @if account.ip_allowlist.is_empty() { "any address" } @else { (account.ip_allowlist.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")) } }
            dt { "Last used" } dd { (when(account.last_used_at)) }
            dt { "Created" } dd { (when(Some(account.created_at))) " by " (crate::views::actor(&account.created_by)) }
            dt { "Updated" } dd { (when(Some(account.updated_at))) " by " (crate::views::actor(&account.updated_by)) }
        }
        p { a href=(format!("{}?account={id}", frame.org_url("/audit"))) { "This account's audit trail" } }
        h2 { "Tokens" }
        (super::tokens::token_table(signed, &tokens, &here, now))
        @if signed.is_admin() {
            @if !tokens.is_empty() {
                form method="post" action=(format!("{here}/tokens/revoke-all")) class="inline" {
                    (csrf_field(csrf))
                    button type="submit" class="danger" { "Revoke all tokens" }
                }
            }
            @if account.status == AccountStatus::Active {
                (super::tokens::mint_form(signed, &format!("{here}/tokens"), form, errors, false))
            } @else {
                p { "Enable the account to mint tokens." }
            }
            (trust)
            h2 { "Change" }
            form method="post" action=(here) {
                (csrf_field(csrf))
                input type="hidden" name="version" value=(account.version);
                (form_errors(edit_errors))
                input type="hidden" name="action" value="edit";
                (account_fields(edit_form, Some(&account), edit_errors))
                button type="submit" { "Save" }
            }
            @if account.status == AccountStatus::Active {
                form method="post" action=(format!("{here}/disable")) {
                    (csrf_field(csrf))
                    input type="hidden" name="version" value=(account.version);
                    label class="check" { input type="checkbox" name="revokeTokens" value="true"; "Also revoke its tokens (enabling it later will not bring them back)" }
                    button type="submit" class="danger" { "Disable" }
                }
            } @else {
                form method="post" action=(format!("{here}/enable")) {
                    (csrf_field(csrf))
                    input type="hidden" name="version" value=(account.version);
                    button type="submit" { "Enable" }
                }
            }
            h2 { "Delete" }
            form method="post" action=(format!("{here}/delete")) {
                (csrf_field(csrf))
                input type="hidden" name="version" value=(account.version);
                div class="field" {
                    label for="confirm" { "Type the account's name, " strong { (account.name.as_str()) } ", to delete it and every token it has" }
                    input id="confirm" name="confirm" autocomplete="off" required aria-describedby=[described_by(errors, "confirm")];
                    (field_errors(errors, "confirm"))
                }
                button type="submit" class="danger" { "Delete" }
            }
        } @else {
            (trust)
        }
    };
    org_page(signed, status, account.name.as_str(), content)
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
