//! The pages' common parts: the layout, times, field errors, hidden CSRF fields, the error
//! page. Every page is rendered on the server by `maud` (which escapes every value); the one
//! script, `assets/console.js`, only adds the copy button and local times.

use admin_api::problem::{ApiError, FieldError};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Serialize;
use shared::model::Actor;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// No inline script or style, nothing from elsewhere, no framing, forms only to this origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                       base-uri 'none'";

/// Where a page is and who looks at it.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    /// What precedes `/console` in the URL (a REST API stage), or nothing.
    pub base: &'a str,
    pub org: Option<&'a str>,
    /// The person's name and role, when signed in.
    pub who: Option<(&'a str, &'a str)>,
    pub csrf: Option<&'a str>,
    /// What the change that led here did, shown in a banner (see [`notice_text`]).
    pub notice: Option<&'static str>,
}

impl Frame<'_> {
    /// A console URL: `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/console{path}", self.base)
    }

    /// A URL of the organization's pages.
    pub fn org_url(&self, path: &str) -> String {
        self.url(&format!("/orgs/{}{path}", self.org.unwrap_or_default()))
    }
}

/// A whole page.
pub fn page(frame: &Frame<'_>, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Service accounts" }
                link rel="stylesheet" href=(frame.url("/assets/console.css"));
                script src=(frame.url("/assets/console.js")) defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to the content" }
                header {
                    @if let Some(org) = frame.org {
                        nav aria-label="Main" {
                            span class="brand" { "Service accounts · " (org) }
                            a href=(frame.org_url("/service-accounts")) { "Accounts" }
                            a href=(frame.org_url("/service-tokens")) { "Org tokens" }
                            a href=(frame.org_url("/tokens")) { "All tokens" }
                            a href=(frame.org_url("/audit")) { "Audit trail" }
                            a href=(frame.org_url("/settings")) { "Settings" }
                        }
                    } @else {
                        span class="brand" { "Service accounts" }
                    }
                    @if let (Some((name, role)), Some(csrf)) = (frame.who, frame.csrf) {
                        form class="who" method="post" action=(frame.url("/sign-out")) {
                            span { (name) " (" (role) ")" }
                            (csrf_field(csrf))
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    // Announced to screen readers: the change the person just made is done.
                    @if let Some(notice) = frame.notice {
                        p class="banner" role="status" { (notice) }
                    }
                    (content)
                }
            }
        }
    }
}

/// The changes a redirect reports (`?done=<code>`), in words: the page the person lands on
/// says it in a banner. Only these fixed texts are shown, so a link cannot put words in the
/// console's mouth.
const NOTICES: &[(&str, &str)] = &[
    ("account-created", "Service account created."),
    ("account-saved", "Service account saved."),
    (
        "account-disabled",
        "Service account disabled: its tokens stop working.",
    ),
    ("account-enabled", "Service account enabled."),
    ("account-deleted", "Service account deleted."),
    (
        "accounts-disabled",
        "The selected service accounts are disabled.",
    ),
    (
        "token-revoked",
        "Token revoked: it stops working on its next request.",
    ),
    ("tokens-revoked", "The selected tokens are revoked."),
    ("all-revoked", "Every token of the account is revoked."),
    ("policy-added", "Trust policy added."),
    ("policy-deleted", "Trust policy deleted."),
    ("settings-saved", "Settings saved."),
    ("nothing-selected", "Nothing was selected: nothing changed."),
];

/// The banner text of a `done` code, if it is one.
pub fn notice_text(code: &str) -> Option<&'static str> {
    NOTICES
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, text)| *text)
}

/// `url` with `done=<code>` added, for the redirect after a change.
pub fn done(url: &str, code: &str) -> String {
    debug_assert!(notice_text(code).is_some(), "unknown notice {code}");
    let joint = if url.contains('?') { '&' } else { '?' };
    format!("{url}{joint}done={code}")
}

/// The hidden field every form carries.
pub fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// An instant: UTC in the page, the person's own time zone once the script ran, the exact
/// instant on hover.
pub fn when(at: Option<OffsetDateTime>) -> Markup {
    match at.and_then(|at| at.format(&Rfc3339).ok()) {
        Some(exact) => {
            let shown = exact.replacen('T', " ", 1);
            html! { time datetime=(exact) title=(exact) { (shown) } }
        }
        None => html! { span class="muted" { "never" } },
    }
}

/// The errors of `field` (and of its items, `field[0]`...), next to it.
pub fn field_errors(errors: &[FieldError], field: &str) -> Markup {
    let mine: Vec<&FieldError> = errors
        .iter()
        .filter(|error| {
            error.field == field
                || error.field.starts_with(&format!("{field}["))
                || error.field.starts_with(&format!("{field}."))
        })
        .collect();
    html! {
        @for error in mine {
            p class="field-error" id=(format!("{field}-error")) role="alert" {
                @if error.field != field { (error.field) ": " }
                (error.reason)
            }
        }
    }
}

/// `aria-describedby` for a field with errors.
pub fn described_by(errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .any(|error| error.field == field || error.field.starts_with(&format!("{field}[")))
        .then(|| format!("{field}-error"))
}

/// How a value of a serde-named enum is written (`active`, `service_account`).
pub fn name_of(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Who did something, as a person reads it.
pub fn actor(actor: &Actor) -> Markup {
    let kind = name_of(&actor.kind).replace('_', " ");
    let shown = actor.display.as_deref().unwrap_or(&actor.id);
    html! { span title=(format!("{kind}: {}", actor.id)) { (shown) " " span class="muted" { "(" (kind) ")" } } }
}

/// An HTML answer with the console's headers; `no_store` for a page that shows a secret
/// (and, as every page may show account data, `no-store` is in fact sent on every page).
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    response
}

/// A page for a refusal or a failure, with the API's status and explanation.
pub fn error_page(frame: &Frame<'_>, error: &ApiError) -> Response {
    if let ApiError::Internal = error {
        tracing::error!("console: internal error");
    }
    let status = error.status();
    let markup = page(
        frame,
        error.title(),
        html! {
            p role="alert" { (error.detail()) }
            @if let ApiError::Validation(errors) = error {
                ul { @for e in errors { li { (e.field) ": " (e.reason) } } }
            }
            p { a href=(frame.url("/")) { "Back to the console" } }
        },
    );
    respond(status, markup)
}

/// A 303 to `location`, with `Set-Cookie` values.
pub fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(axum::http::header::LOCATION, value);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(axum::http::header::SET_COOKIE, value);
        }
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
