//! `GET /v1/orgs/{org}/audit-events`: the organization's audit trail, newest first.
//!
//! | parameter | selects |
//! | --- | --- |
//! | `account` | events on the service account and on its tokens |
//! | `token` | events on the token |
//! | `action` | one action, e.g. `token.revoked` |
//! | `actor` | events by one actor (its id: an account id, an IAM ARN, an operator's name, a person's subject) |
//! | `person` | events by one person signed in with an identity provider: their subject or display name (email) |
//! | `since`, `until` | RFC 3339 instants: `since` inclusive, `until` exclusive |
//! | `limit`, `cursor` | the page (1–100, default 50) and the next page's cursor |

use admin_api::extract::ListQuery;
use admin_api::identity::OrgReader;
use admin_api::problem::ApiError;
use admin_api::response::json;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;
use shared::audit::{AuditAction, AuditEvent};
use shared::ids::{ServiceAccountId, TokenId};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use usecases::audit::AuditFilter;

use crate::AccountsState;

const FILTERS: &[&str] = &[
    "account", "token", "action", "actor", "person", "since", "until",
];
const MAX_ACTOR_CHARS: usize = 256;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditEventList {
    items: Vec<AuditEvent>,
    next_cursor: Option<String>,
}

/// `GET /v1/orgs/{org}/audit-events`: [`usecases::audit::AuditTrail::query`].
pub async fn list(
    State(state): State<AccountsState>,
    admin: OrgReader,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(uri.query(), FILTERS)?;
    let filter = parse_filter(|name| query.filter(name))?;
    let page = state
        .audit
        .query(&admin.org.id, &filter, query.limit, query.cursor())
        .await?;
    json(
        StatusCode::OK,
        &AuditEventList {
            items: page.items,
            next_cursor: page.next_cursor,
        },
    )
}

fn invalid(name: &str, rule: &str) -> ApiError {
    ApiError::bad_request("invalid-parameter", format!("`{name}`: {rule}"))
}

pub fn parse_filter<'a>(value: impl Fn(&str) -> Option<&'a str>) -> Result<AuditFilter, ApiError> {
    // An offset can push an instant out of the representable years once it is in UTC
    // (`9999-12-31T23:59:59-01:00`): refused here, never overflowed later.
    let instant = |name: &str| {
        value(name)
            .map(|text| {
                OffsetDateTime::parse(text, &Rfc3339)
                    .ok()
                    .and_then(|at| at.checked_to_offset(time::UtcOffset::UTC))
                    .filter(|at| (0..=9999).contains(&at.year()))
                    .ok_or_else(|| {
                        invalid(
                            name,
                            "an RFC 3339 date and time in the years 0000 to 9999 UTC",
                        )
                    })
            })
            .transpose()
    };
    let filter = AuditFilter {
        account: value("account")
            .map(|id| ServiceAccountId::parse(id).map_err(|e| invalid("account", e.reason())))
            .transpose()?,
        token: value("token")
            .map(|id| TokenId::parse(id).map_err(|e| invalid("token", e.reason())))
            .transpose()?,
        action: value("action")
            .map(|action| {
                AuditAction::parse(action).ok_or_else(|| {
                    let names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
                    invalid("action", &format!("one of {}", names.join(", ")))
                })
            })
            .transpose()?,
        actor: value("actor")
            .map(|actor| actor_like("actor", actor))
            .transpose()?,
        person: value("person")
            .map(|person| actor_like("person", person))
            .transpose()?,
        since: instant("since")?,
        until: instant("until")?,
    };
    // `until` at or before `since` is an empty range: an empty page, as the store answers.
    Ok(filter)
}

/// An actor's id or a person's name: 1 to 256 characters, no control characters.
fn actor_like(name: &'static str, value: &str) -> Result<String, ApiError> {
    let length = value.chars().count();
    if (1..=MAX_ACTOR_CHARS).contains(&length) && !value.chars().any(char::is_control) {
        Ok(value.to_owned())
    } else {
        Err(invalid(name, "1 to 256 characters, no control characters"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &'static str)]) -> Result<AuditFilter, ApiError> {
        let map: HashMap<String, &'static str> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        parse_filter(|name| map.get(name).copied())
    }

    #[test]
    fn filters_are_validated_without_echoing_the_value() {
        let filter = parse(&[
            ("action", "token.revoked"),
            ("since", "2026-05-01T00:00:00Z"),
            ("until", "2026-05-02T00:00:00+02:00"),
        ])
        .unwrap();
        assert_eq!(filter.action, Some(AuditAction::TokenRevoked));
        assert!(filter.since.is_some() && filter.until.is_some());
        for bad in [
            vec![("action", "token.exploded")],
            vec![("account", "svc_secret_looking_value")],
            vec![("token", "x")],
            vec![("since", "yesterday")],
            vec![("actor", "")],
            vec![("until", "9999-12-31T23:59:59-01:00")],
            vec![("since", "0000-01-01T00:00:00+00:01")],
        ] {
            let error = parse(&bad).unwrap_err();
            assert_eq!(error.status(), StatusCode::BAD_REQUEST);
            let detail = format!("{error:?}");
            assert!(!detail.contains("svc_secret_looking_value"), "{detail}");
        }
    }
}
