//! The console fits a phone: every page, at 375 CSS pixels wide as at 1280, scrolls only up
//! and down (a wide table scrolls sideways inside its own box), and no field, label or
//! fieldset is cut off at the right edge. A real Chromium draws the pages, filled with long
//! names, tokens, a trust policy and audit events; axe-core checks each page at both widths.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use tests::browser::Browser;
use tests::console::ConsoleWorld;

use super::console::{credentials, post, sign_in};

/// A desktop's width, a tablet's, then a phone's (an iPhone SE, a small Android phone).
const WIDTHS: [u32; 3] = [1280, 800, 375];

/// What sticks out on the right of the viewport: the document's width and the viewport's
/// (`clientWidth`: without a scrollbar), the fields, labels and fieldsets cut off, and the
/// innermost elements whose box or content reaches past the edge (each with its ancestors),
/// leaving out what is inside a box that scrolls sideways by itself.
const MEASURE: &str = r"
const root = document.documentElement;
const viewport = root.clientWidth;
const scroller = (e) => {
  for (let p = e.parentElement; p && p !== root; p = p.parentElement) {
    if (getComputedStyle(p).overflowX !== 'visible') return true;
  }
  return false;
};
// A box's right edge, or its content's if that spills out (a field's text scrolls inside it).
const reach = (e) => {
  const rect = e.getBoundingClientRect();
  if (e.matches('input, select, textarea') || getComputedStyle(e).overflowX !== 'visible') {
    return rect.right;
  }
  return Math.max(rect.right, rect.left + e.scrollWidth);
};
const name = (e) => {
  let s = e.tagName.toLowerCase();
  if (e.id) s += '#' + e.id;
  if (e.getAttribute('name')) s += '[name=' + e.getAttribute('name') + ']';
  if (e.classList.length) s += '.' + [...e.classList].join('.');
  return s;
};
const describe = (e) => {
  const path = [];
  for (let p = e; p && p !== document.body; p = p.parentElement) path.unshift(name(p));
  const text = (e.textContent || e.value || '').trim().replace(/\s+/g, ' ').slice(0, 40);
  return path.join(' > ') + (text ? ' \u201c' + text + '\u201d' : '')
    + ' (right edge at ' + Math.round(reach(e)) + ')';
};
const past = (e) => reach(e) > viewport + 0.5 && !scroller(e);
const controls = [...document.querySelectorAll(
  'input:not([type=hidden]), select, textarea, fieldset, label')]
  .filter(past).map(describe);
const all = [...document.body.querySelectorAll('*')].filter(past);
const innermost = all.filter((e) => ![...e.children].some(past)).slice(0, 8).map(describe);
return { viewport, innerWidth: window.innerWidth, scrollWidth: root.scrollWidth, controls,
         innermost };
";

/// The page's layout and accessibility at each width: what is wrong goes to `problems`
/// (every page is measured, then the test fails naming them all), the widths to `widths`.
async fn check_layout(
    browser: &Browser,
    page: &str,
    problems: &mut Vec<String>,
    widths: &mut Vec<String>,
) {
    for width in WIDTHS {
        browser.set_width(width).await.unwrap();
        let name = format!("layout-{width}-{page}");
        let measured = browser.script(MEASURE).await.unwrap();
        let viewport = measured["viewport"].as_u64().unwrap();
        let scroll_width = measured["scrollWidth"].as_u64().unwrap();
        widths.push(format!(
            "{name}: document {scroll_width} px wide in a {viewport} px viewport"
        ));
        if scroll_width > viewport {
            problems.push(format!(
                "{name}: the page is {scroll_width} px wide, the viewport {viewport} px \
                 (innerWidth {}); past the edge: {:#}",
                measured["innerWidth"], measured["innermost"]
            ));
        }
        if measured["controls"]
            .as_array()
            .is_some_and(|controls| !controls.is_empty())
        {
            problems.push(format!(
                "{name}: fields, labels or fieldsets cut off at {viewport} px: {:#}",
                measured["controls"]
            ));
        }
        browser.screenshot(&name).await.unwrap();
        let violations = browser.accessibility_violations().await.unwrap();
        if !violations.is_empty() {
            problems.push(format!(
                "{name}: serious or critical accessibility violations: {:#}",
                Value::Array(violations)
            ));
        }
    }
    browser.set_width(WIDTHS[0]).await.unwrap();
}

const LONG_ACCOUNT: &str = "payments-reconciliation-nightly-exporter-eu-west-1-production";
const LONG_DESCRIPTION: &str = "Exports the reconciled payments of the previous day to the \
     finance team's bucket, every night at two, and pages the on-call person when a file is \
     missing: https://wiki.example.com/payments/reconciliation/nightly-exporter/runbook";

#[tokio::test]
async fn every_console_page_fits_a_375_px_wide_screen_and_a_wide_table_scrolls_in_its_own_box() {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    let mut problems = Vec::new();
    let mut widths = Vec::new();

    // The pages before a sign-in.
    for (path, page) in [
        ("/console", "landing"),
        ("/console/sign-in?org=acme", "sign-in"),
    ] {
        browser.goto(&system.url(path)).await.unwrap();
        check_layout(&browser, page, &mut problems, &mut widths).await;
    }

    // An account with a long name and description, reader among its roles.
    sign_in(&browser, &system, "ada").await;
    browser.fill("#name", LONG_ACCOUNT).await.unwrap();
    browser
        .fill("#description", LONG_DESCRIPTION)
        .await
        .unwrap();
    browser
        .script("document.querySelector('input[name=roles][value=reader]').checked = true;")
        .await
        .unwrap();
    browser.follow("section button[type=submit]").await.unwrap();
    assert_eq!(browser.heading().await.unwrap(), LONG_ACCOUNT);
    let account_page = browser.url().await.unwrap();
    let account_page = account_page.split(['?', '#']).next().unwrap().to_owned();

    // Two tokens with long names; the page that shows the first one's secret, once.
    let mint = "#mint-heading + form button[type=submit]";
    for (i, token) in [
        "deploy-to-production-from-the-release-pipeline-of-payments",
        "read-only-reporting-for-the-quarterly-finance-dashboard-export",
    ]
    .into_iter()
    .enumerate()
    {
        browser.goto(&account_page).await.unwrap();
        browser.fill("#token-name", token).await.unwrap();
        browser
            .fill(
                "#token-description",
                "Minted for the layout test, with a description long enough to wrap",
            )
            .await
            .unwrap();
        browser.follow(mint).await.unwrap();
        assert_eq!(browser.heading().await.unwrap(), "Your new token");
        if i == 0 {
            check_layout(&browser, "minted", &mut problems, &mut widths).await;
        }
    }

    // A trust policy with long conditions.
    let policy = "github-actions-release-workflow-of-payments";
    browser.goto(&account_page).await.unwrap();
    browser.fill("#trust-name", policy).await.unwrap();
    browser
        .fill(
            "#trust-conditions",
            "repository_owner_id = 65\n\
             repository ~ octo-org/(payments-reconciliation|payments-nightly-exporter)\n\
             job_workflow_ref ~ octo-org/payments-reconciliation/.github/workflows/release.yml@refs/heads/main",
        )
        .await
        .unwrap();
    browser.fill("#trust-scopes", "reader").await.unwrap();
    browser
        .follow("section[aria-labelledby=trust-heading] form button[type=submit]")
        .await
        .unwrap();
    assert!(
        browser
            .exists(&format!(
                "button[aria-label='Delete trust policy {policy}']"
            ))
            .await
            .unwrap(),
        "the trust policy was not added: {}",
        browser.text().await.unwrap()
    );

    // An org-wide token.
    browser
        .goto(&system.url("/console/orgs/acme/service-tokens"))
        .await
        .unwrap();
    browser
        .fill(
            "#token-name",
            "organization-wide-inventory-scanner-for-every-account",
        )
        .await
        .unwrap();
    browser.fill("#scopes", "reader").await.unwrap();
    browser.follow(mint).await.unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Your new token");

    // Some more audit events: settings changed beside the browser, the trail written.
    let (cookie, csrf) = credentials(&browser).await;
    let saved = post(
        &system,
        "/console/orgs/acme/settings/iac",
        &cookie,
        &format!("csrf={csrf}&iacAccess=123456789012+payments-reconciliation-production"),
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    tests::faulty::audit_events(&system.world).await.unwrap();

    // Every page of the organization.
    for (path, heading, page) in [
        (
            "/console/orgs/acme/service-accounts",
            "Service accounts",
            "accounts",
        ),
        (account_page.as_str(), LONG_ACCOUNT, "account"),
        (
            "/console/orgs/acme/service-tokens",
            "Org-wide tokens",
            "org-tokens",
        ),
        ("/console/orgs/acme/tokens", "All tokens", "all-tokens"),
        ("/console/orgs/acme/audit", "Audit trail", "audit"),
        ("/console/orgs/acme/settings", "Settings", "settings"),
    ] {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            system.url(path)
        };
        browser.goto(&url).await.unwrap();
        assert_eq!(browser.heading().await.unwrap(), heading);
        check_layout(&browser, page, &mut problems, &mut widths).await;
    }
    drop(browser);

    // An auditor's pages: no button in the tables (the trust policies' has no control at all).
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "grace").await;
    for (url, page) in [
        (account_page.clone(), "account-auditor"),
        (system.url("/console/orgs/acme/audit"), "audit-auditor"),
    ] {
        browser.goto(&url).await.unwrap();
        check_layout(&browser, page, &mut problems, &mut widths).await;
    }

    println!("{}", widths.join("\n"));
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}
