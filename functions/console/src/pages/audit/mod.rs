//! The audit trail, newest first, with the admin API's filters (account, token, action,
//! person, actor, time range) and paging; each actor and target by name with its id, linked
//! while it exists; and the filtered trail as a download ([`export`]).
//!
//! | module | holds |
//! | --- | --- |
//! | this one | the page |
//! | `filters` | the filters: read, refused in words next to their fields, written into links |
//! | `names` | the names of the accounts and tokens the events name, and whether they exist |
//! | [`export`] | the download, as CSV or JSON lines |

pub mod export;
mod filters;
mod names;

use admin_api::problem::ApiError;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;
use shared::audit::{AuditEvent, AuditTarget, AuditTargetKind};
use shared::model::Actor;
use usecases::PageLimit;

use self::filters::Filters;
use self::names::{Key, Known, Names, actor_key, target_key};
use crate::ConsoleState;
use crate::parts::{badge, fail, org_page};
use crate::signin::Signed;
use crate::views::{Frame, name_of, when};

/// `GET /console/orgs/{org}/audit`
pub async fn trail(State(state): State<ConsoleState>, signed: Signed, uri: Uri) -> Response {
    let filters = Filters::from_query(uri.query());
    let frame = signed.frame();
    let here = frame.org_url("/audit");
    let filter = match filters.parse() {
        Ok(filter) => filter,
        Err(errors) => {
            let content = html! {
                (filters.form(&here, &errors))
                p { "Correct the filters above to see the events." }
            };
            return org_page(&signed, StatusCode::BAD_REQUEST, "Audit trail", content);
        }
    };
    let page = match state
        .accounts
        .audit
        .query(
            &signed.org.id,
            &filter,
            PageLimit::default(),
            filters.value("cursor"),
        )
        .await
    {
        Ok(page) => page,
        Err(error) => return fail(&signed, ApiError::from(error)),
    };
    let mut names = Names::default();
    names
        .learn(&state.accounts.admin, &signed.org.id, &page.items)
        .await;
    let next = page
        .next_cursor
        .as_ref()
        .map(|cursor| filters.url(&here, &[("cursor", cursor)]));
    let export = frame.org_url("/audit/export");
    let shown = Shown {
        frame: &frame,
        names: &names,
        org_name: signed.org.name.as_str(),
    };
    let content = html! {
        (filters.form(&here, &[]))
        @if page.items.is_empty() {
            @if filters.any() {
                p class="empty" { "No events match these filters." }
                p { a href=(here) { "Clear the filters" } " to see the whole trail." }
            } @else {
                p class="empty" { "No events yet: changes to the organization, its service accounts and tokens will appear here." }
            }
        } @else {
            p class="downloads" {
                a href=(filters.url(&export, &[("format", "csv")])) { "Download CSV" }
                " "
                a href=(filters.url(&export, &[("format", "jsonl")])) { "Download JSON lines" }
            }
            p class="muted" {
                "The downloads hold the events that match the filters, newest first: at most "
                (export::MAX_EVENTS_TEXT) " events, about " (export::MAX_BYTES_TEXT) ". "
                "A longer trail ends with a line that says so, and where to download the rest."
            }
            // A wide table scrolls sideways in its own box on a narrow screen.
            div class="table" {
                table {
                    caption { "Audit events, newest first" }
                    thead { tr { th scope="col" { "When" } th scope="col" { "Action" } th scope="col" { "By" } th scope="col" { "On" } th scope="col" { "Changes" } } }
                    tbody {
                        @for event in &page.items {
                            (shown.row(event))
                        }
                    }
                }
            }
        }
        @if let Some(next) = &next { p { a rel="next" href=(next) { "Older events" } } }
    };
    org_page(&signed, StatusCode::OK, "Audit trail", content)
}

/// What a row needs beside its event.
struct Shown<'a> {
    frame: &'a Frame<'a>,
    names: &'a Names,
    org_name: &'a str,
}

impl Shown<'_> {
    fn row(&self, event: &AuditEvent) -> Markup {
        html! {
            tr {
                td { (when(Some(event.time))) }
                td { code { (event.action.as_str()) } }
                td { (self.actor(&event.actor)) }
                td { (self.target(&event.target)) }
                td { ul class="changes" { @for (field, change) in &event.changes { li { (field) ": " (brief(change)) } } } }
            }
        }
    }

    fn actor(&self, actor: &Actor) -> Markup {
        let kind = name_of(&actor.kind).replace('_', " ");
        let entity = match actor_key(actor) {
            Some(key) => self.entity(&key, &actor.id),
            None => html! {
                @if let Some(display) = &actor.display { (display) " " }
                code class="muted" { (actor.id) }
            },
        };
        html! { (entity) br; span class="muted" { (kind) } }
    }

    fn target(&self, target: &AuditTarget) -> Markup {
        let kind = name_of(&target.kind).replace('_', " ");
        let entity = match target_key(target) {
            Some(key) => self.entity(&key, &target.id),
            None if target.kind == AuditTargetKind::Org => html! {
                (self.org_name) " " code class="muted" { (target.id) }
            },
            None => html! { code class="muted" { (target.id) } },
        };
        html! { (entity) br; span class="muted" { (kind) } }
    }

    /// An account or token: its name and id, linked to its page (an account) or its trail (a
    /// token) while it exists, marked deleted once it does not.
    fn entity(&self, key: &Key, id: &str) -> Markup {
        let link = match key {
            Key::Account(_) => Some(self.frame.org_url(&format!("/service-accounts/{id}"))),
            Key::Token(_) => Some(format!(
                "{}?{}",
                self.frame.org_url("/audit"),
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("token", id)
                    .finish()
            )),
            Key::TrustPolicy(_) => None,
        };
        match (self.names.get(key), link) {
            (Known::Exists(name), Some(link)) => html! {
                a href=(link) { (name) } " " code class="muted" { (id) }
            },
            (Known::Gone(name), _) => html! {
                @if let Some(name) = name { (name) " " }
                code class="muted" { (id) } " " (badge("deleted"))
            },
            (known, _) => html! {
                @if let Some(name) = known.name() { (name) " " }
                code class="muted" { (id) }
            },
        }
    }
}

/// A change's old and new values, short.
fn brief(change: &Value) -> String {
    let text = |value: Option<&Value>| match value {
        None | Some(Value::Null) => "—".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    match change {
        Value::Object(fields) if fields.contains_key("old") || fields.contains_key("new") => {
            format!("{} → {}", text(fields.get("old")), text(fields.get("new")))
        }
        other => text(Some(other)),
    }
    .chars()
    .take(200)
    .collect()
}
