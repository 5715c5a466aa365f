//! The trail's filters as a person fills them in: read from the query, checked one field at a
//! time by the admin API's own rules (so the console accepts exactly what the API does), each
//! refusal said in words next to its field with what was typed kept, and written back into
//! the links of the page (the next page, the downloads).

use admin_api::problem::FieldError;
use maud::{Markup, html};
use shared::audit::AuditAction;
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, PrimitiveDateTime};
use usecases::audit::AuditFilter;

use crate::views::{described_by, field_errors};

/// The query parameters that select events (the admin API's filters).
pub const FIELDS: [&str; 7] = [
    "account", "token", "action", "person", "actor", "since", "until",
];

/// The text fields, with their labels and what a person should enter when refused.
const TEXT_FIELDS: [(&str, &str, &str); 4] = [
    (
        "account",
        "Service account id",
        "Enter a service account id: 16 letters and digits, as shown on the account's page.",
    ),
    (
        "token",
        "Token id",
        "Enter a token id: 16 letters and digits, as shown in the token lists.",
    ),
    (
        "person",
        "Person (email or subject)",
        "Enter a person's email or subject: at most 256 characters, on one line.",
    ),
    (
        "actor",
        "Actor id",
        "Enter an actor id: at most 256 characters, on one line.",
    ),
];

const ENTER_AN_INSTANT: &str = "Enter a date and time, for example 2026-12-07 14:30.";
const CHOOSE_AN_ACTION: &str = "Choose an action from the list.";
const UNTIL_AFTER_SINCE: &str = "Enter a time after the one in “From”.";

/// A date and time as a `datetime-local` field sends it, or as a person types it (with a
/// space for the `T`); read as UTC, as the labels say.
const LOCAL: [&[BorrowedFormatItem<'static>]; 3] = [
    format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
];
const DATE: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// The query of a trail page or an export, as sent.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pairs: Vec<(String, String)>,
}

impl Filters {
    pub fn from_query(query: Option<&str>) -> Self {
        Self {
            pairs: query
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        }
    }

    /// A parameter's value, trimmed; `None` when absent or blank.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// Whether any filter is set.
    pub fn any(&self) -> bool {
        FIELDS.iter().any(|name| self.value(name).is_some())
    }

    /// The filter, or what is wrong with each field that is wrong.
    pub fn parse(&self) -> Result<AuditFilter, Vec<FieldError>> {
        let since = self.value("since").map(instant);
        let until = self.value("until").map(instant);
        let typed = |name: &str| match name {
            "since" => since.as_deref(),
            "until" => until.as_deref(),
            other => self.value(other),
        };
        // One field at a time, so that every wrong field is named, not just the first.
        let mut errors = Vec::new();
        for name in FIELDS {
            let alone = accounts::audit_events::parse_filter(|field| {
                if field == name { typed(field) } else { None }
            });
            if alone.is_err() {
                errors.push(FieldError::new(name, refusal(name)));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let filter = accounts::audit_events::parse_filter(typed)
            .map_err(|_| vec![FieldError::new("form", "Check the filters.")])?;
        if let (Some(since), Some(until)) = (filter.since, filter.until)
            && until <= since
        {
            return Err(vec![FieldError::new("until", UNTIL_AFTER_SINCE)]);
        }
        Ok(filter)
    }

    /// The filters as a query string (without a leading `?`), followed by `extra`.
    pub fn query(&self, extra: &[(&str, &str)]) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for name in FIELDS {
            if let Some(value) = self.value(name) {
                serializer.append_pair(name, value);
            }
        }
        for (name, value) in extra {
            serializer.append_pair(name, value);
        }
        serializer.finish()
    }

    /// `base`, with the filters and `extra` as its query.
    pub fn url(&self, base: &str, extra: &[(&str, &str)]) -> String {
        let query = self.query(extra);
        if query.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{query}")
        }
    }

    /// The filter form, with the refusals next to their fields and what was typed kept.
    pub fn form(&self, action: &str, errors: &[FieldError]) -> Markup {
        let action_value = self.value("action");
        let unknown_action = action_value.filter(|value| AuditAction::parse(value).is_none());
        html! {
            form class="filters" method="get" action=(action) {
                @for (name, label, _) in TEXT_FIELDS {
                    div class="field" {
                        label for=(name) { (label) }
                        input id=(name) name=(name) value=(self.value(name).unwrap_or_default())
                            aria-invalid=[invalid(errors, name)]
                            aria-describedby=[described_by(errors, name)];
                        (field_errors(errors, name))
                    }
                }
                div class="field" {
                    label for="action" { "Action" }
                    select id="action" name="action"
                        aria-invalid=[invalid(errors, "action")]
                        aria-describedby=[described_by(errors, "action")] {
                        option value="" { "any" }
                        @for known in AuditAction::ALL {
                            option value=(known.as_str()) selected[action_value == Some(known.as_str())] { (known.as_str()) }
                        }
                        // Kept as sent, so the refusal shows what it refuses.
                        @if let Some(unknown) = unknown_action {
                            option value=(unknown) selected { (unknown) }
                        }
                    }
                    (field_errors(errors, "action"))
                }
                (self.instant_field("since", "From (UTC)", errors))
                (self.instant_field("until", "Until (UTC)", errors))
                button type="submit" { "Filter" }
                a href=(action) { "Clear" }
            }
            (field_errors(errors, "form"))
        }
    }

    /// A time field: the browser's date and time picker for what it can show, a text field
    /// for anything else (an offset, a typing mistake), so what was typed stays in view.
    fn instant_field(&self, name: &str, label: &str, errors: &[FieldError]) -> Markup {
        let typed = self.value(name);
        let picker = match typed {
            None => Some(String::new()),
            Some(typed) => local(typed).map(|_| typed.replacen(' ', "T", 1)),
        };
        html! {
            div class="field" {
                label for=(name) { (label) }
                @match picker {
                    Some(value) => {
                        input id=(name) name=(name) type="datetime-local" value=(value)
                            aria-invalid=[invalid(errors, name)]
                            aria-describedby=[described_by(errors, name)];
                    }
                    None => {
                        input id=(name) name=(name) type="text" value=(typed.unwrap_or_default())
                            placeholder="2026-12-07 14:30"
                            aria-invalid=[invalid(errors, name)]
                            aria-describedby=[described_by(errors, name)];
                    }
                }
                (field_errors(errors, name))
            }
        }
    }
}

fn invalid(errors: &[FieldError], name: &str) -> Option<&'static str> {
    errors
        .iter()
        .any(|error| error.field == name)
        .then_some("true")
}

/// What a person should enter in `field`, in words (the API's own texts name RFC 3339 and
/// the id format).
fn refusal(field: &str) -> &'static str {
    match field {
        "since" | "until" => ENTER_AN_INSTANT,
        "action" => CHOOSE_AN_ACTION,
        other => TEXT_FIELDS
            .iter()
            .find(|(name, _, _)| *name == other)
            .map_or("Check this field.", |(_, _, words)| *words),
    }
}

/// A date and time without an offset, as a person or a `datetime-local` field writes it.
fn local(typed: &str) -> Option<PrimitiveDateTime> {
    let typed = typed.replacen(' ', "T", 1);
    LOCAL
        .iter()
        .find_map(|format| PrimitiveDateTime::parse(&typed, format).ok())
}

/// `typed` as the RFC 3339 instant the API reads: a local date and time (or a date alone, its
/// midnight) is UTC; anything else is passed on as typed, for the API to judge.
fn instant(typed: &str) -> String {
    local(typed)
        .or_else(|| Date::parse(typed, DATE).ok().map(Date::midnight))
        .and_then(|at| at.assume_utc().format(&Rfc3339).ok())
        .unwrap_or_else(|| typed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(query: &str) -> Filters {
        Filters::from_query(Some(query))
    }

    #[test]
    fn times_are_read_as_people_and_pickers_write_them() {
        assert_eq!(instant("2026-12-07 14:30"), "2026-12-07T14:30:00Z");
        assert_eq!(instant("2026-12-07T14:30"), "2026-12-07T14:30:00Z");
        assert_eq!(instant("2026-12-07T14:30:05.25"), "2026-12-07T14:30:05.25Z");
        assert_eq!(instant("2026-12-07"), "2026-12-07T00:00:00Z");
        assert_eq!(
            instant("2026-12-07T14:30:00+02:00"),
            "2026-12-07T14:30:00+02:00"
        );
        let filter = filters("since=2026-12-07+14%3A30&until=2026-12-08")
            .parse()
            .unwrap();
        assert!(filter.since.is_some() && filter.until.is_some());
    }

    #[test]
    fn every_wrong_field_is_refused_in_words() {
        let errors = filters("since=yesterday&account=nope&action=token.exploded&token=tok")
            .parse()
            .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["account", "token", "action", "since"]);
        assert_eq!(errors[3].reason, ENTER_AN_INSTANT);
        assert!(errors.iter().all(|e| !e.reason.contains("RFC")));
        let errors = filters("since=2026-12-08&until=2026-12-07")
            .parse()
            .unwrap_err();
        assert_eq!(errors[0].field, "until");
    }

    #[test]
    fn what_was_typed_stays_in_the_form() {
        let form = filters("since=last+tuesday&until=2026-12-07+14%3A30&action=token.exploded")
            .form("/here", &[FieldError::new("since", ENTER_AN_INSTANT)])
            .into_string();
        assert!(
            form.contains(r#"type="text" value="last tuesday""#),
            "{form}"
        );
        assert!(
            form.contains(r#"type="datetime-local" value="2026-12-07T14:30""#),
            "{form}"
        );
        assert!(
            form.contains(r#"<option value="token.exploded" selected>"#),
            "{form}"
        );
        assert!(form.contains(r#"aria-describedby="since-error""#), "{form}");
    }

    #[test]
    fn links_carry_the_filters_only() {
        let filters = filters("account=&action=token.revoked&cursor=abc&done=x&person=a%26b");
        assert_eq!(
            filters.url("/audit/export", &[("format", "csv")]),
            "/audit/export?action=token.revoked&person=a%26b&format=csv"
        );
        assert!(filters.any());
        assert_eq!(Filters::default().url("/audit", &[]), "/audit");
    }
}
