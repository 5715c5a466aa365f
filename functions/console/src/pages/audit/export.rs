//! The filtered trail as a download, as GitHub's audit log offers it: CSV (RFC 4180, a header
//! row, names beside ids, cells that a spreadsheet would run as a formula defused) or JSON
//! lines (each event exactly as the admin API's `GET /v1/orgs/{org}/audit-events` shows it).
//!
//! The trail is read page by page through the use case and streamed as it is read, within
//! bounds: at most [`MAX_EVENTS`] events, and no further page once [`MAX_BYTES`] are written
//! or [`MAX_READING`] has passed (a Lambda function buffers its answer: 6 MB at most, within
//! its timeout). A download cut short ends with a line that says so and where the rest is (the
//! same export from the next page's cursor); a complete one has no such line. The first page
//! is read before the answer starts, so a refusal or an outage is an error page; a failure
//! after that aborts the download, which the browser reports as failed.

use std::time::{Duration, Instant};

use admin_api::AdminState;
use admin_api::problem::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, Uri};
use axum::response::Response;
use lambda_http::lambda_runtime::streaming::{Sender, channel};
use serde_json::json;
use shared::audit::{AuditEvent, AuditTargetKind};
use shared::ids::OrgId;
use time::format_description::well_known::Rfc3339;
use usecases::audit::{AuditFilter, AuditTrail};
use usecases::{Page, PageLimit};

use super::filters::Filters;
use super::names::{Names, target_key};
use crate::ConsoleState;
use crate::parts::fail;
use crate::signin::Signed;
use crate::views::{name_of, see_other};

/// The most events one download holds.
pub const MAX_EVENTS: usize = 10_000;
/// No page is read once this much is written (a page of 100 events may add a few hundred
/// kilobytes more; base64, as Lambda sends a JSON lines answer, adds a third).
pub const MAX_BYTES: usize = 3_000_000;
/// No page is read once the export has read for this long.
pub const MAX_READING: Duration = Duration::from_secs(15);
/// The bounds in words, for the page.
pub const MAX_EVENTS_TEXT: &str = "10,000";
pub const MAX_BYTES_TEXT: &str = "3 MB";

/// The CSV columns.
const COLUMNS: [&str; 15] = [
    "time",
    "action",
    "actor_kind",
    "actor_id",
    "actor_name",
    "actor_token",
    "target_type",
    "target_id",
    "target_name",
    "target_account",
    "changes",
    "source_ip",
    "user_agent",
    "request_id",
    "event_id",
];

/// The action the CSV's last row names when the download was cut short.
pub const TRUNCATED_ACTION: &str = "export.truncated";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    JsonLines,
}

impl Format {
    fn parameter(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::JsonLines => "jsonl",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::JsonLines => "application/x-ndjson",
        }
    }
}

/// `GET /console/orgs/{org}/audit/export?format=csv|jsonl&<the page's filters>[&cursor=]`
pub async fn export(State(state): State<ConsoleState>, signed: Signed, uri: Uri) -> Response {
    let filters = Filters::from_query(uri.query());
    let frame = signed.frame();
    let format = match filters.value("format") {
        Some("csv") => Format::Csv,
        Some("jsonl") => Format::JsonLines,
        _ => {
            return fail(
                &signed,
                ApiError::bad_request("invalid-parameter", "`format`: `csv` or `jsonl`"),
            );
        }
    };
    let Ok(filter) = filters.parse() else {
        // The trail's page says what is wrong, next to each field.
        return see_other(&filters.url(&frame.org_url("/audit"), &[]), &[]);
    };
    let trail = state.accounts.audit.clone();
    let org = signed.org.id.clone();
    let first = match trail
        .query(&org, &filter, page_limit(0), filters.value("cursor"))
        .await
    {
        Ok(page) => page,
        Err(error) => return fail(&signed, ApiError::from(error)),
    };
    let export = Export {
        format,
        trail,
        admin: state.accounts.admin.clone(),
        org_name: signed.org.name.as_str().to_owned(),
        rest: filters.url(
            &frame.org_url("/audit/export"),
            &[("format", format.parameter())],
        ),
        org,
        filter,
    };
    let date = state.accounts.admin.use_cases.now().date();
    let filename = format!(
        "{}-audit-{date}.{}",
        export.org,
        match format {
            Format::Csv => "csv",
            Format::JsonLines => "jsonl",
        }
    );
    // The Lambda runtime's channel body (hyper's): written by the task, read as it is sent.
    let (sender, body) = channel();
    tokio::spawn(export.run(first, sender));
    let mut response = Response::new(Body::new(body));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
    );
    response
}

/// The page size that keeps the download within [`MAX_EVENTS`], `written` being written.
fn page_limit(written: usize) -> PageLimit {
    let left = MAX_EVENTS
        .saturating_sub(written)
        .min(usize::from(PageLimit::MAX));
    PageLimit::parse(left as u64).unwrap_or(PageLimit::FULL)
}

/// One download being written.
struct Export {
    format: Format,
    trail: AuditTrail,
    admin: AdminState,
    org: OrgId,
    org_name: String,
    filter: AuditFilter,
    /// This export without a cursor: where the rest is, with the next page's.
    rest: String,
}

impl Export {
    async fn run(self, first: Page<AuditEvent>, mut sender: Sender) {
        let started = Instant::now();
        let mut names = Names::default();
        let mut out = String::new();
        if self.format == Format::Csv {
            csv_row(&mut out, COLUMNS.map(str::to_owned));
        }
        let (mut events, mut bytes) = (0, 0);
        let mut page = first;
        loop {
            names.learn(&self.admin, &self.org, &page.items).await;
            for event in &page.items {
                self.write(&mut out, event, &names);
            }
            events += page.items.len();
            bytes += out.len();
            if sender
                .send_data(Bytes::from(std::mem::take(&mut out)))
                .await
                .is_err()
            {
                return; // the reader left
            }
            let Some(cursor) = page.next_cursor else {
                return; // the whole trail is written
            };
            let reason = if events >= MAX_EVENTS {
                Some(format!("it holds at most {MAX_EVENTS_TEXT} events"))
            } else if bytes >= MAX_BYTES {
                Some(format!("it holds about {MAX_BYTES_TEXT} at most"))
            } else if started.elapsed() >= MAX_READING {
                Some(format!(
                    "it reads the trail for {} seconds at most",
                    MAX_READING.as_secs()
                ))
            } else {
                None
            };
            if let Some(reason) = reason {
                let rest = format!(
                    "{}&{}",
                    self.rest,
                    form_urlencoded::Serializer::new(String::new())
                        .append_pair("cursor", &cursor)
                        .finish()
                );
                let _ = sender
                    .send_data(Bytes::from(truncated(self.format, &reason, events, &rest)))
                    .await;
                return;
            }
            page = match self
                .trail
                .query(&self.org, &self.filter, page_limit(events), Some(&cursor))
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(%error, events, "console: an audit export stopped: the trail could not be read");
                    sender.abort();
                    return;
                }
            };
        }
    }

    fn write(&self, out: &mut String, event: &AuditEvent, names: &Names) {
        match self.format {
            Format::JsonLines => {
                // The admin API's own serialization of an event.
                if let Ok(line) = serde_json::to_string(event) {
                    out.push_str(&line);
                    out.push('\n');
                }
            }
            Format::Csv => csv_row(out, self.csv_cells(event, names)),
        }
    }

    fn csv_cells(&self, event: &AuditEvent, names: &Names) -> [String; COLUMNS.len()] {
        let actor = &event.actor;
        let target = &event.target;
        let target_name = match target.kind {
            AuditTargetKind::Org => Some(self.org_name.clone()),
            _ => target_key(target).and_then(|key| names.get(&key).name().map(str::to_owned)),
        };
        let changes = if event.changes.is_empty() {
            String::new()
        } else {
            serde_json::to_string(&event.changes).unwrap_or_default()
        };
        [
            event.time.format(&Rfc3339).unwrap_or_default(),
            event.action.as_str().to_owned(),
            name_of(&actor.kind),
            actor.id.clone(),
            names.actor_name(actor).unwrap_or_default(),
            actor
                .token_id
                .as_ref()
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default(),
            name_of(&target.kind),
            target.id.clone(),
            target_name.unwrap_or_default(),
            target
                .account
                .as_ref()
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default(),
            changes,
            actor.source_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            actor.user_agent.clone().unwrap_or_default(),
            actor.request_id.clone().unwrap_or_default(),
            event.id.clone(),
        ]
    }
}

/// The last line of a download cut short after `events` events: why, and where the rest is.
fn truncated(format: Format, reason: &str, events: usize, rest: &str) -> String {
    let detail = format!("The export stops here, after {events} events: {reason}.");
    match format {
        Format::JsonLines => {
            let line = json!({"truncated": true, "detail": detail, "exportedEvents": events, "rest": rest});
            format!("{line}\n")
        }
        Format::Csv => {
            let mut cells: [String; COLUMNS.len()] = Default::default();
            cells[0] = format!("# {detail} The rest: {rest}");
            cells[1] = TRUNCATED_ACTION.to_owned();
            let mut out = String::new();
            csv_row(&mut out, cells);
            out
        }
    }
}

/// One CSV record, CRLF-terminated (RFC 4180).
fn csv_row<const N: usize>(out: &mut String, cells: [String; N]) {
    for (index, value) in cells.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(&csv_cell(value));
    }
    out.push_str("\r\n");
}

/// A CSV field: a value a spreadsheet would read as a formula (starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return) gets a leading apostrophe, and a field with a comma, a
/// quote or a line break is quoted, its quotes doubled (RFC 4180).
fn csv_cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if defused.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_as_rfc_4180_says() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell(""), "");
        assert_eq!(csv_cell("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(
            csv_cell("{\"name\":{\"new\":\"x\"}}"),
            "\"{\"\"name\"\":{\"\"new\"\":\"\"x\"\"}}\""
        );
    }

    #[test]
    fn what_a_spreadsheet_would_run_is_defused() {
        for formula in ["=HYPERLINK(\"x\")", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            let cell = csv_cell(formula);
            let inner = cell.trim_start_matches('"');
            assert!(inner.starts_with('\''), "{formula:?} became {cell:?}");
        }
        assert_eq!(csv_cell("=1,2"), "\"'=1,2\"");
        assert_eq!(csv_cell("a=b"), "a=b");
    }

    #[test]
    fn a_row_ends_with_crlf() {
        let mut out = String::new();
        csv_row(&mut out, ["a".to_owned(), "b,c".to_owned(), String::new()]);
        assert_eq!(out, "a,\"b,c\",\r\n");
    }

    #[test]
    fn a_download_cut_short_says_so_in_its_last_line() {
        let rest = "/console/orgs/acme/audit/export?format=csv&cursor=abc";
        let line = truncated(Format::Csv, "it holds at most 10,000 events", 10_000, rest);
        let empty_cells = ",".repeat(COLUMNS.len() - 2);
        assert!(
            line.ends_with(&format!("\",export.truncated{empty_cells}\r\n")),
            "{line}"
        );
        assert!(line.starts_with("\"# The export stops here, after 10000 events: it holds at most 10,000 events. The rest: /console/"), "{line}");
        let line = truncated(Format::JsonLines, "why", 7, "/rest");
        let parsed: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(parsed["truncated"], true);
        assert_eq!(parsed["exportedEvents"], 7);
        assert_eq!(parsed["rest"], "/rest");
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
    }

    #[test]
    fn pages_never_pass_the_bound() {
        assert_eq!(page_limit(0).get(), 100);
        assert_eq!(page_limit(MAX_EVENTS - 30).get(), 30);
        assert_eq!(page_limit(MAX_EVENTS - 1).get(), 1);
    }
}
