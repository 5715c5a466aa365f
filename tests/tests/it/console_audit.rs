//! The console's audit trail as people read it in Chromium (names beside ids, links while
//! the thing exists, "deleted" once it does not, an empty state, refusals in words) and its
//! downloads, fetched beside the browser with its session: CSV and JSON lines holding exactly
//! the filtered events, as the admin API shows them.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use shared::ids::ServiceAccountId;
use tests::browser::Browser;
use tests::console::{Answer, ConsoleWorld};

use super::console::{admin_call as call, check_page, create_account, credentials, sign_in};

const COMMA_AND_QUOTE: &str = r#"ci, "prod""#;
const FORMULA: &str = "=HYPERLINK(\"http://evil.example\")";

async fn mint(system: &ConsoleWorld, account: &ServiceAccountId, name: &str) -> String {
    let reply = system
        .world
        .tokens(
            call(
                system,
                "POST",
                &format!("/v1/orgs/acme/service-accounts/{account}/tokens"),
            )
            .json(json!({"name": name})),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

/// The accounts and tokens the tests look at, with their audit events written.
struct Trail {
    quoted: ServiceAccountId,
    formula: ServiceAccountId,
    deleted: ServiceAccountId,
    deploy: String,
}

async fn make_changes(system: &ConsoleWorld) -> Trail {
    let account = |name: &'static str| async move {
        ServiceAccountId::parse(&create_account(system, name, "reader").await).unwrap()
    };
    let quoted = account(COMMA_AND_QUOTE).await;
    let formula = account(FORMULA).await;
    let deleted = account("short-lived").await;
    let deploy = mint(system, &quoted, "deploy").await;
    let revoked = mint(system, &quoted, "old").await;
    let revoke = system
        .world
        .tokens(call(
            system,
            "DELETE",
            &format!("/v1/orgs/acme/service-accounts/{quoted}/tokens/{revoked}"),
        ))
        .await;
    assert_eq!(revoke.status, 204, "{:?}", revoke.body);
    let delete = system
        .world
        .accounts(call(
            system,
            "DELETE",
            &format!("/v1/orgs/acme/service-accounts/{deleted}"),
        ))
        .await;
    assert_eq!(delete.status, 204, "{:?}", delete.body);
    tests::faulty::audit_events(&system.world).await.unwrap();
    Trail {
        quoted,
        formula,
        deleted,
        deploy,
    }
}

/// The events the admin API shows for `query`, newest first.
async fn api_events(system: &ConsoleWorld, query: &[(&str, &str)]) -> Vec<Value> {
    let mut request = call(system, "GET", "/v1/orgs/acme/audit-events").query("limit", "100");
    for (name, value) in query {
        request = request.query(name, value);
    }
    let reply = system.world.accounts(request).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert!(reply.body["nextCursor"].is_null());
    reply.body["items"].as_array().unwrap().clone()
}

async fn get(system: &ConsoleWorld, path: &str, cookie: &str) -> Answer {
    system
        .request("GET", path, &[("cookie", cookie)], None)
        .await
        .unwrap()
}

/// The records of an RFC 4180 text (every record ends with CRLF).
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "a quote inside an unquoted field: {text}");
                quoted = true;
            }
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "a CR without its LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, '\n') => panic!("a record ended with a bare LF: {text}"),
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted && field.is_empty() && record.is_empty(), "{text}");
    records
}

fn download_headers(answer: &Answer, content_type: &str, extension: &str, system: &ConsoleWorld) {
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.headers["content-type"], content_type);
    assert_eq!(answer.headers["cache-control"], "no-store");
    let date = system.world.clock_now().date();
    assert_eq!(
        answer.headers["content-disposition"],
        format!("attachment; filename=\"acme-audit-{date}.{extension}\"")
    );
}

#[tokio::test]
async fn the_trail_names_what_it_shows_and_downloads_exactly_the_filtered_events() {
    let system = ConsoleWorld::start().await.unwrap();
    let trail = make_changes(&system).await;
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;

    // Names beside ids, linked while the thing exists.
    browser
        .goto(&system.url("/console/orgs/acme/audit"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Audit trail");
    check_page(&browser, "audit-trail").await;
    let account_link = format!(
        "main td a[href='/console/orgs/acme/service-accounts/{}']",
        trail.quoted
    );
    let names: Value = browser
        .script(&format!(
            "return [...document.querySelectorAll(\"{account_link}\")].map((a) => [a.textContent, a.nextElementSibling.textContent]);"
        ))
        .await
        .unwrap();
    let names = names.as_array().unwrap();
    assert!(!names.is_empty());
    for name in names {
        assert_eq!(name, &json!([COMMA_AND_QUOTE, trail.quoted.as_str()]));
    }
    let admin = &system.world.acme.account;
    assert!(
        browser
            .exists(&format!(
                "main td a[href='/console/orgs/acme/service-accounts/{admin}']"
            ))
            .await
            .unwrap(),
        "the acting admin account is linked"
    );
    // The deleted account: its name (from its creation's event), its id, "deleted", no link.
    let deleted_cells: Value = browser
        .script(&format!(
            "return [...document.querySelectorAll('main td')]
                 .filter((td) => td.textContent.includes('{}'))
                 .map((td) => td.innerText.replace(/\\s+/g, ' ').trim());",
            trail.deleted
        ))
        .await
        .unwrap();
    let deleted_cells = deleted_cells.as_array().unwrap();
    assert_eq!(
        deleted_cells.len(),
        2,
        "created and deleted: {deleted_cells:?}"
    );
    for cell in deleted_cells {
        assert_eq!(
            cell.as_str().unwrap(),
            format!("short-lived {} deleted service account", trail.deleted)
        );
    }
    assert!(
        !browser
            .exists(&format!("a[href$='{}']", trail.deleted))
            .await
            .unwrap(),
        "no link to a deleted account"
    );

    // An account leads to its page; a token to its own trail.
    browser.follow(&account_link).await.unwrap();
    assert_eq!(browser.heading().await.unwrap(), COMMA_AND_QUOTE);
    browser
        .goto(&system.url("/console/orgs/acme/audit"))
        .await
        .unwrap();
    browser
        .follow(&format!(
            "main td a[href='/console/orgs/acme/audit?token={}']",
            trail.deploy
        ))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Audit trail");
    let rows = browser.text().await.unwrap();
    assert!(rows.contains("token.created"), "{rows}");
    assert_eq!(
        browser
            .client
            .find_all(fantoccini::Locator::Css("main tbody tr"))
            .await
            .unwrap()
            .len(),
        1,
        "the token's trail is its creation"
    );

    // The page's downloads carry its filters.
    browser
        .goto(&system.url(&format!(
            "/console/orgs/acme/audit?account={}",
            trail.quoted
        )))
        .await
        .unwrap();
    let links: Value = browser
        .script("return [...document.querySelectorAll('p.downloads a')].map((a) => [a.textContent, a.getAttribute('href')]);")
        .await
        .unwrap();
    assert_eq!(
        links,
        json!([
            [
                "Download CSV",
                format!(
                    "/console/orgs/acme/audit/export?account={}&format=csv",
                    trail.quoted
                )
            ],
            [
                "Download JSON lines",
                format!(
                    "/console/orgs/acme/audit/export?account={}&format=jsonl",
                    trail.quoted
                )
            ],
        ])
    );
    assert!(
        browser
            .text()
            .await
            .unwrap()
            .contains("at most 10,000 events")
    );

    // CSV: exactly the filtered events, names beside ids, quoted and defused.
    let (cookie, _) = credentials(&browser).await;
    let expected = api_events(&system, &[("account", trail.quoted.as_str())]).await;
    assert_eq!(
        expected.len(),
        4,
        "its creation, two tokens' and a revocation: {expected:#?}"
    );
    let csv = get(
        &system,
        &format!(
            "/console/orgs/acme/audit/export?format=csv&account={}",
            trail.quoted
        ),
        &cookie,
    )
    .await;
    download_headers(&csv, "text/csv; charset=utf-8", "csv", &system);
    assert!(csv.body.contains(r#""ci, ""prod""""#), "{}", csv.body);
    let records = csv_records(&csv.body);
    assert_eq!(
        records[0],
        [
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
        ]
    );
    let rows = &records[1..];
    assert_eq!(rows.len(), expected.len(), "{}", csv.body);
    for (row, event) in rows.iter().zip(&expected) {
        assert_eq!(row.len(), 15);
        assert_eq!(row[0], event["time"].as_str().unwrap(), "the exact instant");
        assert_eq!(row[1], event["action"].as_str().unwrap());
        assert_eq!(row[2], event["actor"]["kind"].as_str().unwrap());
        assert_eq!(row[3], event["actor"]["id"].as_str().unwrap());
        assert_eq!(row[6], event["target"]["kind"].as_str().unwrap());
        assert_eq!(row[7], event["target"]["id"].as_str().unwrap());
        assert_eq!(row[14], event["id"].as_str().unwrap());
        if row[6] == "service_account" {
            assert_eq!(row[8], COMMA_AND_QUOTE);
        }
        if row[1] == "token.created" {
            assert!(row[8] == "deploy" || row[8] == "old", "{row:?}");
            assert_eq!(row[9], trail.quoted.as_str());
        }
        let changes: Value = serde_json::from_str(&row[10]).unwrap();
        assert_eq!(changes, event["changes"]);
    }
    // A name a spreadsheet would run is defused.
    let csv = get(
        &system,
        &format!(
            "/console/orgs/acme/audit/export?format=csv&account={}",
            trail.formula
        ),
        &cookie,
    )
    .await;
    let records = csv_records(&csv.body);
    assert_eq!(records.len(), 2, "{}", csv.body);
    assert_eq!(records[1][8], format!("'{FORMULA}"));
    assert!(records.iter().flatten().all(|cell| !cell.starts_with('=')));

    // JSON lines: each event exactly as the admin API shows it.
    let filter = [
        ("account", trail.quoted.as_str()),
        ("action", "token.created"),
    ];
    let expected = api_events(&system, &filter).await;
    assert_eq!(expected.len(), 2);
    let jsonl = get(
        &system,
        &format!(
            "/console/orgs/acme/audit/export?format=jsonl&account={}&action=token.created",
            trail.quoted
        ),
        &cookie,
    )
    .await;
    download_headers(&jsonl, "application/x-ndjson", "jsonl", &system);
    assert!(jsonl.body.ends_with('\n'));
    let lines: Vec<Value> = jsonl
        .body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines, expected);
    assert!(!jsonl.body.contains("truncated"));

    // No session, no download: off to sign in.
    let anonymous = system
        .request(
            "GET",
            "/console/orgs/acme/audit/export?format=csv",
            &[],
            None,
        )
        .await
        .unwrap();
    assert_eq!(anonymous.status, 303, "{}", anonymous.body);
    assert_eq!(anonymous.headers["location"], "/console/sign-in?org=acme");
    assert!(!anonymous.body.contains("service_account"));
}

#[tokio::test]
async fn an_auditor_downloads_too_finds_an_empty_state_and_is_told_what_to_enter() {
    let system = ConsoleWorld::start().await.unwrap();
    let trail = make_changes(&system).await;
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "grace").await;
    let (cookie, _) = credentials(&browser).await;

    // An auditor reads: the download is theirs too.
    let csv = get(
        &system,
        "/console/orgs/acme/audit/export?format=csv",
        &cookie,
    )
    .await;
    download_headers(&csv, "text/csv; charset=utf-8", "csv", &system);
    let all = api_events(&system, &[]).await;
    assert_eq!(csv_records(&csv.body).len(), all.len() + 1);
    assert!(csv.body.contains(trail.deleted.as_str()));

    // No event matches: said so, with the way back.
    browser
        .goto(&system.url("/console/orgs/acme/audit?action=org.deleted"))
        .await
        .unwrap();
    let text = browser.text().await.unwrap();
    assert!(text.contains("No events match these filters."), "{text}");
    assert!(!browser.exists("main table").await.unwrap());
    assert!(!browser.exists("p.downloads").await.unwrap());
    check_page(&browser, "audit-empty").await;
    browser
        .follow("main a[href='/console/orgs/acme/audit']:not(form a)")
        .await
        .unwrap();
    assert_eq!(
        browser.url().await.unwrap(),
        system.url("/console/orgs/acme/audit")
    );
    assert!(browser.exists("main table").await.unwrap());

    // Wrong filters: refused in words next to their fields, what was typed kept.
    let path =
        "/console/orgs/acme/audit?since=last+tuesday&account=not-an-id&until=2026-12-07+14%3A30";
    browser.goto(&system.url(path)).await.unwrap();
    let text = browser.text().await.unwrap();
    assert!(
        text.contains("Enter a date and time, for example 2026-12-07 14:30."),
        "{text}"
    );
    assert!(text.contains("Enter a service account id"), "{text}");
    assert!(!text.contains("RFC 3339"), "{text}");
    let kept: Value = browser
        .script(
            "return ['since', 'account', 'until'].map((id) => document.getElementById(id).value);",
        )
        .await
        .unwrap();
    assert_eq!(
        kept,
        json!(["last tuesday", "not-an-id", "2026-12-07T14:30"])
    );
    for field in ["since", "account"] {
        assert!(
            browser
                .exists(&format!(
                    "#{field}[aria-invalid=true][aria-describedby={field}-error] + #{field}-error"
                ))
                .await
                .unwrap(),
            "{field}"
        );
    }
    assert!(!browser.exists("#until[aria-invalid]").await.unwrap());
    check_page(&browser, "audit-refused").await;
    assert_eq!(get(&system, path, &cookie).await.status, 400);
    // A download with wrong filters leads to the page that says what is wrong.
    let export = get(
        &system,
        "/console/orgs/acme/audit/export?format=csv&since=last+tuesday",
        &cookie,
    )
    .await;
    assert_eq!(export.status, 303);
    assert_eq!(
        export.headers["location"],
        "/console/orgs/acme/audit?since=last+tuesday"
    );
}
