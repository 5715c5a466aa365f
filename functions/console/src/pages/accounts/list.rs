//! The accounts list: each account's name next to its id (with a copy button), status, live
//! tokens with what needs attention about them and the soonest expiry; sorted by name or
//! creation, filtered by status, searched by name or id (a GET form: no script needed);
//! a bulk disable of the accounts selected; and, for an admin, the form that creates one.
//!
//! Sorting needs the accounts in hand (the table's order is the ids'), so the list reads at
//! most [`READ_PAGES`] pages of 100 accounts and pages through them here; the tokens are read
//! only for the accounts shown, each account's at once.

use admin_api::problem::{ApiError, FieldError};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::{AccountStatus, ServiceAccount};
use shared::token::TokenOwner;
use usecases::{PageLimit, TokenListScope, UseCaseError};

use crate::ConsoleState;
use crate::parts::account::account_fields;
use crate::parts::copyable;
use crate::parts::risk::{Summary, warning_window};
use crate::parts::words::in_words;
use crate::parts::{badge, fail, form_errors, org_page, roles_text};
use crate::signin::{Form, Signed};
use crate::views::{csrf_field, name_of, when};

/// How many pages of 100 accounts the list reads at most.
pub const READ_PAGES: usize = 10;
/// How many accounts a page shows.
pub const SHOWN: usize = 50;

/// The list's query: `q` (a name, or part of one, or an id), `status` (`active`,
/// `disabled`), `sort` (`name`, `newest`, `oldest`), `page` (from 1), and `from` (where the
/// reading starts, for an organization with more accounts than one reading holds).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    from: Option<String>,
}

impl ListQuery {
    fn search(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
    }

    fn status(&self) -> Option<AccountStatus> {
        match self.status.as_deref() {
            Some("active") => Some(AccountStatus::Active),
            Some("disabled") => Some(AccountStatus::Disabled),
            _ => None,
        }
    }

    fn sort(&self) -> &str {
        match self.sort.as_deref() {
            Some(sort @ ("newest" | "oldest")) => sort,
            _ => "name",
        }
    }

    fn page(&self) -> usize {
        self.page
            .as_deref()
            .and_then(|page| page.parse().ok())
            .filter(|page| *page >= 1)
            .unwrap_or(1)
    }

    /// The list's URL with this query, at `page`.
    fn url(&self, here: &str, page: usize) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("q", self.search()),
            ("status", self.status.as_deref().filter(|s| !s.is_empty())),
            ("sort", self.sort.as_deref().filter(|s| !s.is_empty())),
            ("from", self.from.as_deref()),
        ] {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            here.to_owned()
        } else {
            format!("{here}?{query}")
        }
    }
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

/// The list; `form` and `errors`: a refused creation, shown again.
pub async fn render_list(
    state: &ConsoleState,
    signed: &Signed,
    query: &ListQuery,
    form: &Form,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    render_with_report(state, signed, query, form, errors, status, None).await
}

/// The list with `report` (what a bulk change did) above it.
pub async fn render_with_report(
    state: &ConsoleState,
    signed: &Signed,
    query: &ListQuery,
    form: &Form,
    errors: &[FieldError],
    status: StatusCode,
    report: Option<Markup>,
) -> Response {
    let use_cases = &state.accounts.admin.use_cases;
    let org = &signed.org.id;
    let (mut accounts, more) = match read(state, org, query).await {
        Ok(read) => read,
        Err(error) => return fail(signed, error),
    };
    let none_at_all = accounts.is_empty() && query.search().is_none();
    if let Some(wanted) = query.status() {
        accounts.retain(|account| account.status == wanted);
    }
    match query.sort() {
        "newest" => accounts.sort_by_key(|a| std::cmp::Reverse(a.created_at)),
        "oldest" => accounts.sort_by_key(|a| a.created_at),
        _ => accounts.sort_by_cached_key(|a| (a.name.as_str().to_lowercase(), a.id.clone())),
    }
    let total = accounts.len();
    let pages = total.div_ceil(SHOWN).max(1);
    let page = query.page().min(pages);
    let shown: Vec<ServiceAccount> = accounts
        .into_iter()
        .skip((page - 1) * SHOWN)
        .take(SHOWN)
        .collect();
    let window = warning_window(&signed.org);
    let now = use_cases.now();
    let summaries = match summaries(state, org, &shown).await {
        Ok(found) => found,
        Err(error) => return fail(signed, error),
    };
    let errors = in_words(errors.to_vec(), form);
    let frame = signed.frame();
    let here = frame.org_url("/service-accounts");
    let filtered = query.search().is_some() || query.status().is_some();
    let admin = signed.is_admin();
    let selectable = admin && shown.iter().any(|a| a.status == AccountStatus::Active);
    let content = html! {
        @if let Some(report) = report { (report) }
        (filters(query, &here))
        @if let Some(next) = &more {
            p class="warning" {
                "This list holds the first " (READ_PAGES * 100) " accounts as stored. Search by an account's id to find any account directly, or read "
                a href=(ListQuery { from: Some(next.clone()), ..ListQuery::default() }.url(&here, 1)) { "the accounts after these" } "."
            }
        }
        @if shown.is_empty() {
            (empty(signed, &here, none_at_all, filtered))
        } @else {
            p class="muted" { "Accounts " ((page - 1) * SHOWN + 1) " to " ((page - 1) * SHOWN + shown.len()) " of " (total) "." }
            div class="table" {
                table {
                    caption { "Service accounts" }
                    thead { tr {
                        @if selectable { th scope="col" { span class="visually-hidden" { "Select" } } }
                        th scope="col" { "Name and id" } th scope="col" { "Status" } th scope="col" { "Live tokens" }
                        th scope="col" { "Soonest expiry" } th scope="col" { "Roles" } th scope="col" { "Last used" } th scope="col" { "Created" }
                    } }
                    tbody {
                        @for (account, (summary, partial)) in shown.iter().zip(&summaries) {
                            @let summary = Summary::of(summary, window, now);
                            @let name = account.name.as_str();
                            tr id=(format!("account-{}", account.id)) {
                                @if selectable { td { @if account.status == AccountStatus::Active {
                                    input type="checkbox" name="account" value=(account.id.as_str()) form="bulk-accounts" aria-label=(format!("Select {name}"));
                                } } }
                                td {
                                    a href=(format!("{here}/{}", account.id)) { (name) } br;
                                    (copyable(&format!("account-id-{}", account.id), account.id.as_str(), &format!("Id of {name}")))
                                }
                                td { (badge(&name_of(&account.status))) }
                                td class="tokens" { span class="count" { (summary.live) @if *partial { "+" } } " " (summary.badges()) }
                                td class="expiry" { @if summary.soonest_expiry.is_some() { (when(summary.soonest_expiry)) } @else { span class="muted" { "none" } } }
                                td { (roles_text(&account.roles)) }
                                td { (when(account.last_used_at)) }
                                td { (when(Some(account.created_at))) }
                            }
                        }
                    }
                }
            }
            @if selectable {
                form id="bulk-accounts" method="post" action=(format!("{here}/disable-selected")) class="bulk" {
                    (csrf_field(&signed.session.csrf))
                    label class="check" { input type="checkbox" name="revokeTokens" value="true"; "Also revoke the selected accounts' tokens" }
                    button type="submit" class="danger" { "Disable selected accounts" }
                }
            }
            @if pages > 1 {
                nav aria-label="Pages of accounts" class="pager" {
                    @if page > 1 { a rel="prev" href=(query.url(&here, page - 1)) { "Previous page" } " " }
                    "Page " (page) " of " (pages)
                    @if page < pages { " " a rel="next" href=(query.url(&here, page + 1)) { "Next page" } }
                }
            }
        }
        @if admin {
            section aria-labelledby="create-heading" {
                h2 id="create-heading" { "Create a service account" }
                form method="post" action=(here) {
                    (csrf_field(&signed.session.csrf))
                    (form_errors(&errors))
                    (account_fields(form, None, &errors))
                    button type="submit" { "Create" }
                }
            }
        }
    };
    org_page(signed, status, "Service accounts", content)
}

/// The search, filter and sort form (GET).
fn filters(query: &ListQuery, here: &str) -> Markup {
    let status = query.status.as_deref().unwrap_or_default();
    let sort = query.sort();
    let filtered = query.search().is_some() || query.status().is_some();
    html! {
        form class="search filters" method="get" action=(here) role="search" aria-label="Find service accounts" {
            div class="field" {
                label for="q" { "Search by name or id" }
                input id="q" name="q" type="search" value=[query.search()];
            }
            div class="field" {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" selected[query.status().is_none()] { "any" }
                    option value="active" selected[status == "active"] { "active" }
                    option value="disabled" selected[status == "disabled"] { "disabled" }
                }
            }
            div class="field" {
                label for="sort" { "Sort by" }
                select id="sort" name="sort" {
                    option value="name" selected[sort == "name"] { "name, A to Z" }
                    option value="newest" selected[sort == "newest"] { "newest first" }
                    option value="oldest" selected[sort == "oldest"] { "oldest first" }
                }
            }
            div class="field" {
                button type="submit" { "Show" }
                @if filtered { " " a href=(here) { "Clear the filters" } }
            }
        }
    }
}

/// What an empty list says to do next.
fn empty(signed: &Signed, here: &str, none_at_all: bool, filtered: bool) -> Markup {
    html! {
        p class="empty" {
            @if none_at_all && !filtered {
                "No service accounts yet. "
                @if signed.is_admin() {
                    a href="#create-heading" { "Create the first one" }
                    " below: give it a name and the roles it needs, then mint it a token on its page."
                } @else {
                    "An admin of the organization creates them."
                }
            } @else {
                "No service account matches these filters. "
                a href=(here) { "Clear the filters" }
                " to see every account, or search by an account's whole id."
            }
        }
    }
}

/// The accounts the list works on: at most [`READ_PAGES`] pages from `query.from`, those that
/// match the search (and the account whose id was searched for, wherever it is); and where
/// the next reading would start, when there are more.
async fn read(
    state: &ConsoleState,
    org: &OrgId,
    query: &ListQuery,
) -> Result<(Vec<ServiceAccount>, Option<String>), UseCaseError> {
    let use_cases = &state.accounts.admin.use_cases;
    let mut found = Vec::new();
    let mut cursor = query.from.clone();
    for _ in 0..READ_PAGES {
        let page = use_cases
            .list_accounts(org, PageLimit::FULL, cursor.as_deref())
            .await?;
        found.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    if let Some(q) = query.search() {
        let needle = q.to_lowercase();
        found.retain(|account| {
            account.name.as_str().to_lowercase().contains(&needle)
                || account.id.as_str().to_lowercase().contains(&needle)
        });
        if let Ok(id) = ServiceAccountId::parse(q)
            && !found.iter().any(|account| account.id == id)
        {
            match use_cases.account(org, &id).await {
                Ok(account) => found.push(account),
                Err(UseCaseError::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
    }
    Ok((found, cursor))
}

/// The tokens of each account shown (the first 100 of each; `true`: it has more), read at
/// once.
async fn summaries(
    state: &ConsoleState,
    org: &OrgId,
    accounts: &[ServiceAccount],
) -> Result<Vec<(Vec<shared::model::Token>, bool)>, ApiError> {
    let mut reads = tokio::task::JoinSet::new();
    for (index, account) in accounts.iter().enumerate() {
        let use_cases = state.accounts.admin.use_cases.clone();
        let org = org.clone();
        let scope = TokenListScope::Owner(TokenOwner::Account(account.id.clone()));
        reads.spawn(async move {
            let page = use_cases
                .list_tokens(&org, &scope, PageLimit::FULL, None)
                .await;
            (index, page)
        });
    }
    let mut found = vec![(Vec::new(), false); accounts.len()];
    while let Some(joined) = reads.join_next().await {
        let (index, page) = joined.map_err(|_| ApiError::Internal)?;
        let page = page?;
        if let Some(slot) = found.get_mut(index) {
            *slot = (page.items, page.next_cursor.is_some());
        }
    }
    Ok(found)
}
