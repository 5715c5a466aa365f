//! The console, tested as a person uses it: a real Chromium through its WebDriver, the real
//! OpenID Provider's login page, the system served on a real port. Every page visited is
//! checked with axe-core (no serious or critical violation) and saved as a screenshot under
//! `target/console-screenshots/`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tests::browser::Browser;
use tests::console::ConsoleWorld;

/// The pages axe-core found wanting, if any.
async fn check_page(browser: &Browser, name: &str) {
    browser.screenshot(name).await.unwrap();
    let violations = browser.accessibility_violations().await.unwrap();
    assert!(
        violations.is_empty(),
        "{name}: serious or critical accessibility violations: {violations:#?}"
    );
}

/// Signs `person` in through the provider's own login and consent pages.
async fn sign_in(browser: &Browser, system: &ConsoleWorld, person: &str) {
    system.sync_clock();
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Sign in to acme");
    check_page(browser, "sign-in").await;
    browser.click("ul.providers a").await.unwrap();
    // The provider's login page, then its consent page, then back.
    browser.fill("input[name=login]", person).await.unwrap();
    browser.fill("input[name=password]", "any").await.unwrap();
    let login = browser.url().await.unwrap();
    browser.click("button[type=submit]").await.unwrap();
    let mut url = browser.left(&login).await.unwrap();
    if !url.starts_with(&system.base) {
        let text = browser.text().await.unwrap_or_default();
        browser
            .click("button[type=submit]")
            .await
            .unwrap_or_else(|e| panic!("{e}: at {url}: {text}"));
        url = browser.left(&url).await.unwrap();
    }
    assert!(url.starts_with(&system.base), "{url}");
    assert_eq!(browser.heading().await.unwrap(), "Service accounts");
}

fn hello_status(system: &ConsoleWorld, token: &str) -> impl Future<Output = u16> {
    let bearer = format!("Bearer {token}");
    async move {
        system
            .request("GET", "/hello", &[("authorization", &bearer)], None)
            .await
            .unwrap()
            .status
    }
}

#[tokio::test]
async fn a_person_signs_in_mints_a_token_uses_it_revokes_it_and_finds_it_in_the_audit_trail() {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    assert!(
        browser
            .text()
            .await
            .unwrap()
            .contains("ada@example.com (admin)")
    );
    check_page(&browser, "accounts").await;

    // Create an account.
    browser.fill("#name", "ci-robot").await.unwrap();
    browser
        .fill("#description", "Deploys from CI")
        .await
        .unwrap();
    browser.click("section button[type=submit]").await.unwrap();
    assert_eq!(browser.heading().await.unwrap(), "ci-robot");
    check_page(&browser, "account").await;

    // Mint a token: its secret is on the page, once.
    browser.fill("#token-name", "deploy").await.unwrap();
    browser
        .click("#mint-heading + form button[type=submit]")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Your new token");
    let secret = browser
        .client
        .find(fantoccini::Locator::Css("#secret"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(secret.starts_with("svc_"), "{secret}");
    assert!(
        browser
            .text()
            .await
            .unwrap()
            .contains("will not be shown again")
    );
    check_page(&browser, "minted").await;
    assert_eq!(hello_status(&system, &secret).await, 200);

    // Revoke it from the account's page.
    browser
        .client
        .find(fantoccini::Locator::LinkText("Done"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "ci-robot");
    assert!(
        !browser.text().await.unwrap().contains(&secret),
        "the secret is shown once"
    );
    browser
        .click("button[aria-label='Revoke deploy']")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "ci-robot");
    assert!(browser.exists(".badge.revoked").await.unwrap());
    assert_eq!(hello_status(&system, &secret).await, 401);

    // The audit trail names the person.
    tests::faulty::audit_events(&system.world).await.unwrap();
    browser
        .goto(&system.url("/console/orgs/acme/audit?person=ada%40example.com&action=token.revoked"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Audit trail");
    let trail = browser.text().await.unwrap();
    assert!(trail.contains("token.revoked"), "{trail}");
    assert!(trail.contains("ada@example.com"), "{trail}");
    check_page(&browser, "audit").await;

    // The other pages.
    for (path, heading, name) in [
        (
            "/console/orgs/acme/service-tokens",
            "Org-wide tokens",
            "org-tokens",
        ),
        ("/console/orgs/acme/tokens", "All tokens", "all-tokens"),
        ("/console/orgs/acme/settings", "Settings", "settings"),
    ] {
        browser.goto(&system.url(path)).await.unwrap();
        assert_eq!(browser.heading().await.unwrap(), heading);
        check_page(&browser, name).await;
    }

    // Sign out: the pages send back to the sign-in.
    browser.click("form.who button").await.unwrap();
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Sign in to acme");
    browser.client.clone().close().await.unwrap();
}
