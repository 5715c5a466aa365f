//! Every token of the organization, as people work with a list: search by name, id or
//! prefix; filter by status, risk and role; sort by name, creation, last use or expiry;
//! owners by name (a deleted account said so, without a dead link); selected tokens are
//! revoked together by [`super::bulk`].
//!
//! The list is read whole up to [`LIST_BOUND`] tokens (and as many accounts, for their
//! names), then filtered, sorted and shown [`PAGE_SIZE`] at a time: a console's lists are
//! for people, and an organization with more tokens narrows them down by account.

use std::collections::HashMap;

use admin_api::problem::ApiError;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use shared::access::{Role, Scope};
use shared::ids::ServiceAccountId;
use shared::model::{ServiceAccount, Token, TokenStatus};
use time::OffsetDateTime;
use usecases::{PageLimit, TokenListScope, UseCases};

use crate::ConsoleState;
use crate::parts::risk::{Risk, badges, risks, warning_window};
use crate::parts::tokens::{bulk_form, rotation_note, select_box, token_label};
use crate::parts::{copyable, fail, org_page};
use crate::signin::Signed;
use crate::views::when;

/// At most this many tokens (and accounts) are read for the list.
pub const LIST_BOUND: usize = 1000;
/// Tokens shown per page.
pub const PAGE_SIZE: usize = 50;

/// The list's search, filters, order and page (`GET .../tokens?q=&status=&risk=&role=&sort=&page=`).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    risk: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    page: Option<usize>,
}

const STATUSES: [(&str, &str); 3] = [
    ("active", "active"),
    ("revoked", "revoked"),
    ("expired", "expired"),
];
const RISKS: [(&str, &str, Risk); 4] = [
    ("leaked", "leaked", Risk::Leaked),
    ("expiring", "expiring soon", Risk::Expiring),
    ("unused", "never used", Risk::NeverUsed),
    ("rotated", "rotated, in grace", Risk::Rotated),
];
const SORTS: [(&str, &str); 4] = [
    ("created", "newest first"),
    ("name", "name"),
    ("last-used", "last used"),
    ("expiry", "soonest expiry"),
];

impl ListQuery {
    fn chosen(value: &Option<String>) -> Option<&str> {
        value.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }

    fn is_filtered(&self) -> bool {
        [&self.q, &self.status, &self.risk, &self.role]
            .iter()
            .any(|value| Self::chosen(value).is_some())
    }

    /// The query string of this list at `page`.
    fn at_page(&self, page: usize) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("q", &self.q),
            ("status", &self.status),
            ("risk", &self.risk),
            ("role", &self.role),
            ("sort", &self.sort),
        ] {
            if let Some(value) = Self::chosen(value) {
                query.append_pair(name, value);
            }
        }
        query.append_pair("page", &page.to_string());
        query.finish()
    }
}

/// The roles a token acts with: its role scopes, or its account's roles when it has no
/// scopes.
fn roles_of(token: &Token, accounts: &HashMap<ServiceAccountId, ServiceAccount>) -> Vec<Role> {
    let scoped: Vec<Role> = token
        .scopes
        .iter()
        .filter_map(|scope| match scope {
            Scope::Role(role) => Some(*role),
            Scope::Grant(_) => None,
        })
        .collect();
    if !token.scopes.is_empty() {
        return scoped;
    }
    token
        .account
        .as_ref()
        .and_then(|account| accounts.get(account))
        .map(|account| account.roles.iter().copied().collect())
        .unwrap_or_default()
}

fn matches(
    token: &Token,
    query: &ListQuery,
    accounts: &HashMap<ServiceAccountId, ServiceAccount>,
    window: time::Duration,
    now: OffsetDateTime,
) -> bool {
    let status = ListQuery::chosen(&query.status).is_none_or(|wanted| {
        let status = token.status(now);
        STATUSES
            .iter()
            .any(|(name, _)| *name == wanted && crate::views::name_of(&status) == *name)
    });
    let risk = ListQuery::chosen(&query.risk).is_none_or(|wanted| {
        let found = risks(token, window, now);
        RISKS
            .iter()
            .any(|(name, _, risk)| *name == wanted && found.contains(risk))
    });
    let role = ListQuery::chosen(&query.role).is_none_or(|wanted| {
        roles_of(token, accounts)
            .iter()
            .any(|role| role.as_str() == wanted)
    });
    let text = ListQuery::chosen(&query.q).is_none_or(|text| {
        let text = text.to_lowercase();
        token.name.as_str().to_lowercase().contains(&text)
            || token.id.as_str().to_lowercase() == text
            || token.display_prefix.to_lowercase().starts_with(&text)
    });
    status && risk && role && text
}

fn sort(tokens: &mut [&Token], by: Option<&str>) {
    match by {
        Some("name") => tokens.sort_by(|a, b| {
            (a.name.as_str().to_lowercase(), a.created_at)
                .cmp(&(b.name.as_str().to_lowercase(), b.created_at))
        }),
        // Most recently used first, never used last.
        Some("last-used") => tokens.sort_by_key(|token| std::cmp::Reverse(token.last_used_at)),
        // Soonest first, never expiring last.
        Some("expiry") => {
            tokens.sort_by_key(|token| (token.expires_at.is_none(), token.expires_at))
        }
        _ => tokens.sort_by_key(|token| std::cmp::Reverse(token.created_at)),
    }
}

/// Up to [`LIST_BOUND`] of the organization's tokens, and whether there were more.
async fn read_tokens(
    use_cases: &UseCases,
    signed: &Signed,
) -> Result<(Vec<Token>, bool), ApiError> {
    let mut tokens = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = use_cases
            .list_tokens(
                &signed.org.id,
                &TokenListScope::All,
                PageLimit::FULL,
                cursor.as_deref(),
            )
            .await?;
        tokens.extend(page.items);
        match page.next_cursor {
            Some(next) if tokens.len() < LIST_BOUND => cursor = Some(next),
            Some(_) => return Ok((tokens, true)),
            None => return Ok((tokens, false)),
        }
    }
}

/// Up to [`LIST_BOUND`] of the organization's accounts by id, and whether there were more.
async fn read_accounts(
    use_cases: &UseCases,
    signed: &Signed,
) -> Result<(HashMap<ServiceAccountId, ServiceAccount>, bool), ApiError> {
    let mut accounts = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = use_cases
            .list_accounts(&signed.org.id, PageLimit::FULL, cursor.as_deref())
            .await?;
        accounts.extend(
            page.items
                .into_iter()
                .map(|account| (account.id.clone(), account)),
        );
        match page.next_cursor {
            Some(next) if accounts.len() < LIST_BOUND => cursor = Some(next),
            Some(_) => return Ok((accounts, true)),
            None => return Ok((accounts, false)),
        }
    }
}

/// Who owns `token`: the account by name (with its id), "deleted" for an account that is no
/// more (no link), or the organization.
fn owner_cell(
    signed: &Signed,
    token: &Token,
    accounts: &HashMap<ServiceAccountId, ServiceAccount>,
) -> Markup {
    let frame = signed.frame();
    html! {
        @match &token.account {
            Some(id) => @match accounts.get(id) {
                Some(account) => {
                    a href=(frame.org_url(&format!("/service-accounts/{id}"))) { (account.name.as_str()) }
                    br; code class="muted" { (id.as_str()) }
                }
                None => {
                    span class="muted" { "deleted account" } br; code class="muted" { (id.as_str()) }
                }
            },
            None => a href=(frame.org_url("/service-tokens")) { "the organization" },
        }
    }
}

fn filters(signed: &Signed, query: &ListQuery) -> Markup {
    let chosen = |value: &Option<String>| ListQuery::chosen(value).unwrap_or_default().to_owned();
    let (status, risk, role, sort) = (
        chosen(&query.status),
        chosen(&query.risk),
        chosen(&query.role),
        chosen(&query.sort),
    );
    html! {
        form class="filters" method="get" action=(signed.frame().org_url("/tokens")) role="search" aria-label="Find tokens" {
            div class="field" {
                label for="q" { "Name, id or prefix" }
                input id="q" name="q" type="search" value=(chosen(&query.q));
            }
            div class="field" {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" { "any" }
                    @for (value, words) in STATUSES { option value=(value) selected[status == value] { (words) } }
                }
            }
            div class="field" {
                label for="risk" { "Needs attention" }
                select id="risk" name="risk" {
                    option value="" { "any" }
                    @for (value, words, _) in RISKS { option value=(value) selected[risk == value] { (words) } }
                }
            }
            div class="field" {
                label for="role" { "Role" }
                select id="role" name="role" {
                    option value="" { "any" }
                    @for each in Role::ALL { option value=(each.as_str()) selected[role == each.as_str()] { (each.as_str()) } }
                }
            }
            div class="field" {
                label for="sort" { "Sort by" }
                select id="sort" name="sort" {
                    @for (value, words) in SORTS { option value=(value) selected[sort == value] { (words) } }
                }
            }
            button type="submit" { "Show" }
            @if query.is_filtered() { a href=(signed.frame().org_url("/tokens")) { "Clear the filters" } }
        }
    }
}

/// `GET .../tokens`: every token of the organization.
pub async fn all_tokens(
    State(state): State<ConsoleState>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Response {
    let use_cases = &state.accounts.admin.use_cases;
    let ((tokens, more_tokens), (accounts, _)) = match tokio::try_join!(
        read_tokens(use_cases, &signed),
        read_accounts(use_cases, &signed)
    ) {
        Ok(read) => read,
        Err(error) => return fail(&signed, error),
    };
    let now = use_cases.now();
    let window = warning_window(&signed.org);
    let mut shown: Vec<&Token> = tokens
        .iter()
        .filter(|token| matches(token, &query, &accounts, window, now))
        .collect();
    sort(&mut shown, ListQuery::chosen(&query.sort));
    let pages = shown.len().div_ceil(PAGE_SIZE).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let rows = shown.iter().skip((page - 1) * PAGE_SIZE).take(PAGE_SIZE);
    let admin = signed.is_admin();
    let here = signed.frame().org_url("/tokens");
    let content = html! {
        (filters(&signed, &query))
        @if more_tokens {
            p class="muted" { "Showing the first " (LIST_BOUND) " tokens of the organization: an account's page lists all of its own." }
        }
        @if shown.is_empty() {
            @if query.is_filtered() {
                p class="empty" { "No token matches. " a href=(here) { "Clear the filters" } " to see every token." }
            } @else {
                p class="empty" { "No tokens yet. Mint one on an " a href=(signed.frame().org_url("/service-accounts")) { "account's page" } " or as an " a href=(signed.frame().org_url("/service-tokens")) { "org-wide token" } "." }
            }
        } @else {
            div class="table" {
            table {
                caption { "Every token of the organization (" (shown.len()) ")" }
                thead { tr {
                    @if admin { th scope="col" { span class="visually-hidden" { "Select" } } }
                    th scope="col" { "Name" } th scope="col" { "Owner" } th scope="col" { "Prefix" }
                    th scope="col" { "Status" } th scope="col" { "Expires" } th scope="col" { "Last used" }
                } }
                tbody {
                    @for token in rows {
                        tr id=(format!("token-{}", token.id)) {
                            @if admin { td { @if token.status(now) == TokenStatus::Active { (select_box(token)) } } }
                            td { (token.name.as_str()) br; (copyable(&format!("id-{}", token.id), token.id.as_str(), &format!("Id of {}", token_label(token)))) }
                            td { (owner_cell(&signed, token, &accounts)) }
                            td { (copyable(&format!("prefix-{}", token.id), &token.display_prefix, &format!("Prefix of {}", token_label(token)))) }
                            td { (badges(token, window, now)) (rotation_note(token, now)) }
                            td { @if token.expires_at.is_some() { (when(token.expires_at)) } @else { "never" } }
                            td { (when(token.last_used_at)) }
                        }
                    }
                }
            }
            }
            @if admin && shown.iter().any(|token| token.status(now) == TokenStatus::Active) {
                (bulk_form(&signed, "all"))
            }
            @if pages > 1 {
                nav aria-label="Pages" class="pages" {
                    @if page > 1 { a rel="prev" href=(format!("{here}?{}", query.at_page(page - 1))) { "Previous page" } " " }
                    span { "Page " (page) " of " (pages) }
                    @if page < pages { " " a rel="next" href=(format!("{here}?{}", query.at_page(page + 1))) { "Next page" } }
                }
            }
        }
    };
    org_page(&signed, StatusCode::OK, "All tokens", content)
}
