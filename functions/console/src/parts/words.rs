//! Refusals in people's words. The admin API words its field errors for programs: paths into
//! the request body (`grants[1].level`), backticked syntax, an HTTP header to send, the JSON
//! parser's own messages. The console's forms are text areas and fields, so an error here
//! names the line of the text area it is about (counted from 1, blank lines included) and says
//! what to type instead; what was typed stays in the form.

use admin_api::problem::FieldError;

use crate::signin::Form;

/// The forms' text areas whose entries the API numbers: the API's field, the form's field,
/// and whether a line may hold several entries separated by commas (as `Form::lines` reads
/// them).
const TEXT_AREAS: &[(&str, &str, bool)] = &[
    ("grants", "grants", true),
    ("ipAllowlist", "ipAllowlist", true),
    ("tokenPolicy.ipAllowlist", "ipAllowlist", true),
    ("scopes", "scopes", true),
    ("conditions", "conditions", false),
];

/// The forms' fields that the API reads as numbers: a parser's complaint is about one of them.
const NUMBER_FIELDS: &[(&str, &str)] = &[(
    "lifetimeSeconds",
    "Type a whole number of seconds, from 60 to 43200 (15 minutes is 900).",
)];

/// `errors` as the console shows them next to the fields of `form` (the form that was sent).
pub fn in_words(errors: Vec<FieldError>, form: &Form) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|error| one_in_words(error, form))
        .collect()
}

fn one_in_words(error: FieldError, form: &Form) -> FieldError {
    // Placed on its line already (the settings' AWS accounts).
    if error.reason.starts_with("line ") {
        return error;
    }
    if error.field == "form" && from_the_parser(&error.reason) {
        return match NUMBER_FIELDS
            .iter()
            .find(|(field, _)| form.get(field).is_some())
        {
            Some((field, sentence)) => FieldError::new(*field, *sentence),
            None => FieldError::new(
                "form",
                "Something in the form is not what its field takes: check what you typed.",
            ),
        };
    }
    let (base, index) = split_path(&error.field);
    let area = TEXT_AREAS.iter().find(|(api, _, _)| *api == base);
    // The allowlist's own errors carry the entry's number (from 1) in their text.
    let index = index.or_else(|| entry_number(&error.reason).map(|n| n.saturating_sub(1)));
    let sentence = sentence(&error.reason);
    match (area, index) {
        (Some((api, field, commas)), Some(index)) => {
            let text = form.get(field).unwrap_or_default();
            let keep = if api.starts_with("tokenPolicy.") {
                *api
            } else {
                *field
            };
            match line_of(text, index, *commas) {
                Some(line) => FieldError::new(keep, format!("Line {line}: {sentence}")),
                None => FieldError::new(keep, sentence),
            }
        }
        _ => FieldError::new(error.field, sentence),
    }
}

/// `grants[1].level` → (`grants`, 1); `name` → (`name`, none).
fn split_path(field: &str) -> (&str, Option<usize>) {
    match field.split_once('[') {
        Some((base, rest)) => {
            let index = rest.split_once(']').and_then(|(n, _)| n.parse().ok());
            (base, index)
        }
        None => (field, None),
    }
}

/// `entry 2 is ...` → 2.
fn entry_number(reason: &str) -> Option<usize> {
    reason
        .strip_prefix("entry ")?
        .split_once(' ')?
        .0
        .parse()
        .ok()
}

/// The line (from 1) of `text` that holds entry `index` (from 0) as the form reads entries:
/// lines, trimmed, blank ones skipped, and with `commas` each line split at its commas.
pub fn line_of(text: &str, index: usize, commas: bool) -> Option<usize> {
    let mut seen = 0;
    for (number, line) in text.lines().enumerate() {
        let entries = if commas {
            line.split(',')
                .filter(|entry| !entry.trim().is_empty())
                .count()
        } else {
            usize::from(!line.trim().is_empty())
        };
        if index < seen + entries {
            return Some(number + 1);
        }
        seen += entries;
    }
    None
}

/// Whether `reason` is the JSON parser's (a value of the wrong type), not a rule's.
fn from_the_parser(reason: &str) -> bool {
    [
        "invalid type",
        "invalid value",
        "expected ",
        "whole number of seconds",
    ]
    .iter()
    .any(|mark| reason.contains(mark))
}

/// What the person should know, as a sentence.
fn sentence(reason: &str) -> String {
    let known: &[(&str, &str)] = &[
        (
            "is not an IP address or CIDR range",
            "this is not an IP address or range. Write one address (203.0.113.7) or range (10.0.0.0/8) per line.",
        ),
        (
            "an access level is one of",
            "write the resource, a colon and the level: read, write or owner (for example reports:read).",
        ),
        (
            "a scope is a role",
            "write a role (admin, writer or reader) or a resource and level (reports:read).",
        ),
        (
            "a condition has exactly one of",
            "write claim = value for an exact match, or claim ~ pattern for a pattern.",
        ),
        ("RFC 3339", "pick the date the token expires on."),
        (
            "has changed (it is at ETag",
            "someone else changed this while you were editing it. Reload the page to see their change, then make yours again.",
        ),
        (
            "Authorization: Bearer",
            "your session has ended. Sign in again, then make the change again.",
        ),
        (
            "lock out the credential making the request",
            "this would lock you out: what you are signed in with (your token, or your address) would no longer be let in. Another admin can make this change.",
        ),
        (
            "distinct whole numbers of days, each from 1 to 365",
            "type at most 5 different whole numbers of days, each from 1 to 365, separated by commas.",
        ),
        (
            "a whole number of days from 1 to 3650",
            "type a whole number of days, from 1 to 3650.",
        ),
    ];
    if let Some((_, words)) = known.iter().find(|(mark, _)| reason.contains(mark)) {
        return capitalized(words);
    }
    // `X` has host bits set; the range is `Y`
    if let Some((_, range)) = reason.split_once("has host bits set; the range is ") {
        let range = range.trim_matches('`');
        return format!(
            "This address range does not start at its first address: write {range} instead."
        );
    }
    let plain = reason.replace('`', "");
    let mut words = capitalized(plain.trim());
    if !words.ends_with(['.', '!', '?']) {
        words.push('.');
    }
    words
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is a failed test.
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form(
            pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn an_entry_is_found_on_its_line_counting_blank_lines_and_commas() {
        assert_eq!(line_of("a\n\nb", 1, true), Some(3));
        assert_eq!(line_of("a, b\nc", 2, true), Some(2));
        assert_eq!(line_of("a, b\nc", 1, false), Some(2));
        assert_eq!(line_of("a", 3, true), None);
    }

    #[test]
    fn an_allowlist_error_names_its_line_and_says_what_to_write() {
        let sent = form(&[("ipAllowlist", "10.0.0.0/8\n\nbogus")]);
        let shown = in_words(
            vec![FieldError::new(
                "ipAllowlist",
                "entry 2 is not an IP address or CIDR range",
            )],
            &sent,
        );
        assert_eq!(shown[0].field, "ipAllowlist");
        assert!(
            shown[0]
                .reason
                .starts_with("Line 3: This is not an IP address")
        );
        let policy = in_words(
            vec![FieldError::new(
                "tokenPolicy.ipAllowlist",
                "entry 1 is not an IP address or CIDR range",
            )],
            &sent,
        );
        assert_eq!(policy[0].field, "tokenPolicy.ipAllowlist");
        assert!(policy[0].reason.starts_with("Line 1:"));
    }

    #[test]
    fn an_indexed_path_becomes_its_text_areas_line() {
        let sent = form(&[("grants", "reports:read\nbilling:admin")]);
        let shown = in_words(
            vec![FieldError::new(
                "grants[1].level",
                "an access level is one of `read`, `write`, `owner`",
            )],
            &sent,
        );
        assert_eq!(shown[0].field, "grants");
        assert!(shown[0].reason.starts_with("Line 2: Write the resource"));
        assert!(!shown[0].reason.contains('`'));
    }

    #[test]
    fn the_parsers_words_become_the_number_fields_sentence() {
        let sent = form(&[("lifetimeSeconds", "12.5")]);
        let shown = in_words(
            vec![FieldError::new(
                "form",
                "invalid type: string \"12.5\", expected a JSON number",
            )],
            &sent,
        );
        assert_eq!(shown[0].field, "lifetimeSeconds");
        assert!(
            shown[0]
                .reason
                .starts_with("Type a whole number of seconds")
        );
    }

    #[test]
    fn words_for_programs_become_sentences() {
        let none = Form::default();
        for (reason, expected) in [
            (
                "an RFC 3339 date-time such as 2027-01-31T00:00:00Z",
                "Pick the date",
            ),
            (
                "send `Authorization: Bearer <token>` with a valid token of an admin",
                "Your session has ended",
            ),
            (
                "the service account has changed (it is at ETag \"3\", not \"2\"); read it again and retry",
                "Someone else changed this",
            ),
            (
                "`10.0.0.1/8` has host bits set; the range is `10.0.0.0/8`",
                "This address range",
            ),
            ("a name must not be empty", "A name must not be empty."),
        ] {
            let shown = in_words(vec![FieldError::new("name", reason)], &none);
            assert!(
                shown[0].reason.starts_with(expected),
                "{reason}: {}",
                shown[0].reason
            );
        }
    }
}
