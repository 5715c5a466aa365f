//! The audit trail, newest first, with the admin API's filters (account, token, action,
//! person, actor, time range) and paging.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use maud::html;
use serde_json::Value;
use shared::audit::AuditAction;
use usecases::PageLimit;

use crate::ConsoleState;
use crate::parts::{fail, org_page};
use crate::signin::Signed;
use crate::views::{actor, when};

const FILTERS: [(&str, &str); 4] = [
    ("account", "Service account id"),
    ("token", "Token id"),
    ("person", "Person (email or subject)"),
    ("actor", "Actor id"),
];

/// `GET /console/orgs/{org}/audit`
pub async fn trail(State(state): State<ConsoleState>, signed: Signed, uri: Uri) -> Response {
    let query: Vec<(String, String)> = uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let value = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    };
    // `datetime-local` fields send no offset: they are read as UTC, as the labels say.
    let instant = |name: &str| {
        value(name).map(|v| {
            if v.len() == 16 {
                format!("{v}:00Z")
            } else if v.len() == 19 {
                format!("{v}Z")
            } else {
                v.to_owned()
            }
        })
    };
    let since = instant("since");
    let until = instant("until");
    let filter = accounts::audit_events::parse_filter(|name| match name {
        "since" => since.as_deref(),
        "until" => until.as_deref(),
        other => value(other),
    });
    let filter = match filter {
        Ok(filter) => filter,
        Err(error) => return fail(&signed, error),
    };
    let page = match state
        .accounts
        .audit
        .query(
            &signed.org.id,
            &filter,
            PageLimit::default(),
            value("cursor"),
        )
        .await
    {
        Ok(page) => page,
        Err(error) => return fail(&signed, admin_api::problem::ApiError::from(error)),
    };
    let frame = signed.frame();
    let here = frame.org_url("/audit");
    let next = page.next_cursor.as_ref().map(|cursor| {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (key, v) in &query {
            if key != "cursor" && !v.is_empty() {
                serializer.append_pair(key, v);
            }
        }
        format!(
            "{here}?{}",
            serializer.append_pair("cursor", cursor).finish()
        )
    });
    let content = html! {
        form class="filters" method="get" action=(here) {
            @for (name, label) in FILTERS {
                div class="field" {
                    label for=(name) { (label) }
                    input id=(name) name=(name) value=(value(name).unwrap_or_default());
                }
            }
            div class="field" {
                label for="action" { "Action" }
                select id="action" name="action" {
                    option value="" { "any" }
                    @for action in AuditAction::ALL {
                        option value=(action.as_str()) selected[value("action") == Some(action.as_str())] { (action.as_str()) }
                    }
                }
            }
            div class="field" {
                label for="since" { "From (UTC)" }
                input id="since" name="since" type="datetime-local" value=(value("since").unwrap_or_default());
            }
            div class="field" {
                label for="until" { "Until (UTC)" }
                input id="until" name="until" type="datetime-local" value=(value("until").unwrap_or_default());
            }
            button type="submit" { "Filter" }
            a href=(here) { "Clear" }
        }
        @if page.items.is_empty() { p { "No events." } } @else {
            table {
                caption { "Audit events, newest first" }
                thead { tr { th scope="col" { "When" } th scope="col" { "Action" } th scope="col" { "By" } th scope="col" { "On" } th scope="col" { "Changes" } } }
                tbody {
                    @for event in &page.items {
                        tr {
                            td { (when(Some(event.time))) }
                            td { code { (event.action.as_str()) } }
                            td { (actor(&event.actor)) }
                            td {
                                (crate::views::name_of(&event.target.kind).replace('_', " ")) " "
                                code { (event.target.id) }
                            }
                            td { ul class="changes" { @for (field, change) in &event.changes { li { (field) ": " (brief(change)) } } } }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &next { p { a rel="next" href=(next) { "Older events" } } }
    };
    org_page(&signed, StatusCode::OK, "Audit trail", content)
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
