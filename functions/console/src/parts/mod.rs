//! The pieces of the organization's pages that more than one page shows: the page frame and
//! error page of a signed-in person, badges, copyable values and the text of roles and grants,
//! reading a form into the admin API's body; and, in the submodules, an account's page
//! ([`account`]), the confirmation step ([`confirm`]), risk badges and summaries ([`risk`]),
//! the token table and mint form ([`tokens`]), the trust policies' section ([`trust`]), and
//! refusals in people's words ([`words`]). The pages use these; no page uses another page.

pub mod account;
pub mod confirm;
pub mod risk;
pub mod tokens;
pub mod trust;
pub mod words;

use admin_api::problem::{ApiError, FieldError};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::de::DeserializeOwned;
use serde_json::Value;
use shared::access::{Grants, Roles};

use crate::signin::Signed;
use crate::views::{error_page, page, respond};

/// A page of the organization for `signed`.
pub fn org_page(signed: &Signed, status: StatusCode, title: &str, content: Markup) -> Response {
    respond(status, page(&signed.frame(), title, content))
}

/// The error page for `signed`.
pub fn fail(signed: &Signed, error: impl Into<ApiError>) -> Response {
    error_page(&signed.frame(), &error.into())
}

/// A request body the admin API would take, made of form fields, read as the API reads it.
pub fn api_body<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value)
        .map_err(|error| ApiError::Validation(vec![FieldError::new("form", error.to_string())]))
}

/// The field errors of a refusal, when it has any.
pub fn field_errors_of(error: &ApiError) -> Option<Vec<FieldError>> {
    match error {
        ApiError::Validation(errors) => Some(errors.clone()),
        ApiError::BadRequest { detail, .. } => Some(vec![FieldError::new("form", detail.clone())]),
        ApiError::Conflict(detail) => Some(vec![FieldError::new("form", detail.clone())]),
        _ => None,
    }
}

/// Grants written one per line as `resource:level`.
pub fn grants_json(lines: &[String]) -> Value {
    Value::Array(
        lines
            .iter()
            .map(|line| match line.rsplit_once(':') {
                Some((resource, level)) => {
                    serde_json::json!({"resource": resource.trim(), "level": level.trim()})
                }
                None => serde_json::json!({"resource": line, "level": ""}),
            })
            .collect(),
    )
}

pub fn grants_text(grants: &Grants) -> String {
    grants
        .iter()
        .map(|grant| format!("{}:{}", grant.resource.as_str(), grant.level.as_str()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn roles_text(roles: &Roles) -> String {
    roles
        .iter()
        .map(|role| role.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The errors of the whole form (not of one field).
pub fn form_errors(errors: &[FieldError]) -> Markup {
    crate::views::field_errors(errors, "form")
}

/// A value people copy (an id, a prefix): a read-only field and a copy button (the script
/// copies the field; without it, the field's text is selectable). `id`: the field's id,
/// unique in the page; `label`: its accessible name ("Id of the token deploy").
pub fn copyable(id: &str, value: &str, label: &str) -> Markup {
    html! {
        span class="copyable" {
            input type="text" readonly id=(id) value=(value) aria-label=(label) size=(value.len().max(4));
            button type="button" class="copy" id=(format!("{id}-copy")) data-copy=(id) aria-label=(format!("Copy: {label}")) { "Copy" }
            span class="copied" aria-live="polite" {}
        }
    }
}

/// A status badge.
pub fn badge(status: &str) -> Markup {
    // The stylesheet's classes are lower case (`.badge.active`); the API's account statuses
    // are upper case (`ACTIVE`), its token statuses lower case.
    html! { span class=(format!("badge {}", status.to_ascii_lowercase())) { (status) } }
}
