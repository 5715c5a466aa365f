//! A service account's page, which the account's own changes show again when they are
//! refused, as do a refused mint of one of its tokens and a refused trust policy: the page
//! itself in sections ([`detail`]), the account's fields, the account a posted change is for,
//! and the refusals of these forms in people's words ([`words`]).

mod detail;

pub use detail::render_detail;

use admin_api::problem::{ApiError, FieldError};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use shared::access::Role;
use shared::ids::ServiceAccountId;
use shared::model::ServiceAccount;

use super::{grants_json, grants_text};
use crate::signin::{Form, Signed};
use crate::views::{described_by, field_errors};

/// The path of an account's page and of what is posted to it: `.../service-accounts/{id}`.
#[derive(Debug, Deserialize)]
pub struct AccountPath {
    #[allow(dead_code)]
    org: String,
    pub id: String,
}

/// The account of a path's `{id}`: an id that is none is an account that is not found.
pub fn account_id(id: &str) -> Result<ServiceAccountId, ApiError> {
    ServiceAccountId::parse(id).map_err(|_| ApiError::NotFound("service account"))
}

/// The account a posted change is for, once the form may change it (CSRF, admin role).
pub fn account_to_change(
    signed: &Signed,
    path: &AccountPath,
    form: &Form,
) -> Result<ServiceAccountId, ApiError> {
    let id = account_id(&path.id)?;
    signed.may_change(form)?;
    Ok(id)
}

/// The fields of an account, filled from the form sent, else from `account`.
pub fn account_fields(
    form: &Form,
    account: Option<&ServiceAccount>,
    errors: &[FieldError],
) -> Markup {
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
            label for="grants" { "Grants, one per line as resource:level (read, write or owner)" }
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

/// The admin API's body for the account's fields but the description, which a creation and a
/// change write differently.
pub fn account_json(form: &Form) -> serde_json::Value {
    json!({
        "name": form.get("name").unwrap_or_default(),
        "roles": form.all("roles"),
        "grants": grants_json(&form.lines("grants").iter().filter(|l| !l.is_empty()).cloned().collect::<Vec<_>>()),
        "ipAllowlist": form.lines("ipAllowlist"),
    })
}
