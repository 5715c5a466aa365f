//! The console, tested as a person uses it: a real Chromium through its WebDriver, the real
//! OpenID Provider's login page, the system served on a real port. Every page visited is
//! checked with axe-core (no serious or critical violation) and saved as a screenshot under
//! `target/console-screenshots/`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use tests::browser::Browser;
use tests::console::ConsoleWorld;
use tests::events::{ApiCall, Shape};

/// The pages axe-core found wanting, if any.
pub(crate) async fn check_page(browser: &Browser, name: &str) {
    browser.screenshot(name).await.unwrap();
    let violations = browser.accessibility_violations().await.unwrap();
    assert!(
        violations.is_empty(),
        "{name}: serious or critical accessibility violations: {violations:#?}"
    );
}

/// A call to the admin API as acme's bootstrap admin.
pub(crate) fn admin_call(system: &ConsoleWorld, method: &str, path: &str) -> ApiCall {
    ApiCall::new(Shape::HttpV2, method, path).bearer(&system.world.acme.token)
}

/// Creates an account with one `role` through the admin API; its id.
pub(crate) async fn create_account(system: &ConsoleWorld, name: &str, role: &str) -> String {
    let created = system
        .world
        .accounts(
            admin_call(system, "POST", "/v1/orgs/acme/service-accounts")
                .json(json!({"name": name, "roles": [role]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_str().unwrap().to_owned()
}

/// The banner that says what the last change did (empty when there is none).
pub(crate) async fn banner(browser: &Browser) -> String {
    browser
        .script("const b = document.querySelector('main p.banner[role=status]'); return b ? b.textContent : '';")
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// Signs `person` in through the provider's own login and consent pages.
pub(crate) async fn sign_in(browser: &Browser, system: &ConsoleWorld, person: &str) {
    system.sync_clock();
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Sign in to acme");
    check_page(browser, "sign-in").await;
    browser.follow("#provider-sign-in button").await.unwrap();
    // The provider's login page, then its consent page, then back.
    check_page(browser, "provider-login").await;
    browser.fill("input[name=login]", person).await.unwrap();
    browser.fill("input[name=password]", "any").await.unwrap();
    browser.follow("button[type=submit]").await.unwrap();
    let url = browser.url().await.unwrap();
    if !url.starts_with(&system.base) {
        check_page(browser, "provider-consent").await;
        let text = browser.text().await.unwrap_or_default();
        browser
            .follow("button[type=submit]")
            .await
            .unwrap_or_else(|e| panic!("{e}: at {url}: {text}"));
    }
    let url = browser.url().await.unwrap();
    assert!(url.starts_with(&system.base), "{url}");
    assert_eq!(browser.heading().await.unwrap(), "Service accounts");
}

pub(crate) fn hello_status(system: &ConsoleWorld, token: &str) -> impl Future<Output = u16> {
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
    browser.follow("section button[type=submit]").await.unwrap();
    assert_eq!(browser.heading().await.unwrap(), "ci-robot");
    check_page(&browser, "account").await;
    // The account's status badge is coloured: its class is the stylesheet's (lower case).
    assert_eq!(
        browser
            .script(
                "const badge = document.querySelector('dd .badge');
                 return [badge.className, getComputedStyle(badge).backgroundColor];"
            )
            .await
            .unwrap(),
        serde_json::json!(["badge active", "rgb(218, 251, 225)"])
    );

    // Mint a token: its secret is on the page, once.
    browser.fill("#token-name", "deploy").await.unwrap();
    browser
        .follow("#mint-heading + form button[type=submit]")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Your new token");
    // The whole token is in view (123 characters), none of it scrolled out of its field.
    assert_eq!(
        browser
            .script(
                "const field = document.querySelector('#secret');
                 return field.scrollWidth <= field.clientWidth
                     && field.scrollHeight <= field.clientHeight;"
            )
            .await
            .unwrap(),
        serde_json::Value::Bool(true)
    );
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
    browser.follow("main p:last-child a").await.unwrap();
    assert_eq!(browser.heading().await.unwrap(), "ci-robot");
    assert!(
        !browser.text().await.unwrap().contains(&secret),
        "the secret is shown once"
    );
    browser
        .follow("button[aria-label^='Revoke deploy (']")
        .await
        .unwrap();
    // A revocation is confirmed first.
    assert!(
        browser
            .heading()
            .await
            .unwrap()
            .starts_with("Revoke deploy ("),
        "{}",
        browser.heading().await.unwrap()
    );
    assert_eq!(hello_status(&system, &secret).await, 200);
    check_page(&browser, "confirm-revoke").await;
    browser
        .follow("form.confirm button[type=submit]")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "ci-robot");
    let banner = browser
        .script("return document.querySelector('[role=status]').textContent")
        .await
        .unwrap();
    assert!(
        banner.as_str().unwrap().starts_with("Token revoked"),
        "{banner}"
    );
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

    // The organization's settings change from their page (and the audit trail says so).
    browser.fill("#org-name", "Acme Corporation").await.unwrap();
    browser.follow("#name-heading + form button").await.unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Settings");
    let org = system
        .world
        .context
        .org(&system.world.acme.org)
        .await
        .unwrap();
    assert_eq!(org.name.as_str(), "Acme Corporation");
    assert_eq!(org.updated_by.display.as_deref(), Some("ada@example.com"));

    // The lifecycle policy too; a window out of range is refused next to its field.
    browser
        .fill("#expiryWarningDays", "14, 3, 1")
        .await
        .unwrap();
    browser.fill("#revokeUnusedAfterDays", "90").await.unwrap();
    browser
        .follow("#policy-heading + form button")
        .await
        .unwrap();
    let org = system
        .world
        .context
        .org(&system.world.acme.org)
        .await
        .unwrap();
    assert_eq!(org.token_policy.expiry_warning_days().days(), [14, 3, 1]);
    assert_eq!(
        org.token_policy
            .revoke_unused_after_days()
            .map(|days| days.days()),
        Some(90)
    );
    browser.fill("#expiryWarningDays", "400").await.unwrap();
    browser
        .follow("#policy-heading + form button")
        .await
        .unwrap();
    assert!(browser.text().await.unwrap().contains("each from 1 to 365"));
    check_page(&browser, "settings-refused").await;
    let unchanged = system
        .world
        .context
        .org(&system.world.acme.org)
        .await
        .unwrap();
    assert_eq!(unchanged.version, org.version);

    // The AWS accounts whose stacks may manage the organization as code; a bad line is
    // refused under the field, naming the line.
    browser
        .fill("#iacAccess", "123456789012 payments\n210987654321")
        .await
        .unwrap();
    browser.follow("#iac-heading ~ form button").await.unwrap();
    let org = system
        .world
        .context
        .org(&system.world.acme.org)
        .await
        .unwrap();
    let entries: Vec<(String, Option<String>)> = org
        .iac_access
        .principals()
        .iter()
        .map(|p| (p.account.to_string(), p.stack_prefix.clone()))
        .collect();
    assert_eq!(
        entries,
        [
            ("123456789012".to_owned(), Some("payments".to_owned())),
            ("210987654321".to_owned(), None)
        ]
    );
    browser
        .fill("#iacAccess", "123456789012\n12345")
        .await
        .unwrap();
    browser.follow("#iac-heading ~ form button").await.unwrap();
    assert!(
        browser
            .text()
            .await
            .unwrap()
            .contains("line 2: an AWS account id is 12 digits")
    );
    check_page(&browser, "settings-iac-refused").await;

    // Sign out: the pages send back to the sign-in.
    browser.follow("form.who button").await.unwrap();
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Sign in to acme");
    browser.client.clone().close().await.unwrap();
}

/// The session cookie and the CSRF token of the signed-in browser, for requests made beside
/// it.
pub(crate) async fn credentials(browser: &Browser) -> (String, String) {
    let csrf = browser
        .client
        .find(fantoccini::Locator::Css("form.who input[name=csrf]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    (browser.cookie_header().await.unwrap(), csrf)
}

pub(crate) async fn post(
    system: &ConsoleWorld,
    path: &str,
    cookie: &str,
    form: &str,
) -> tests::console::Answer {
    system
        .request(
            "POST",
            path,
            &[
                ("cookie", cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(form.to_owned()),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn an_auditor_sees_no_change_and_forged_stale_or_foreign_requests_change_nothing() {
    let system = ConsoleWorld::start().await.unwrap();
    let account = system.world.acme.account.clone();
    let browser = Browser::start().await.unwrap();

    // The auditor reads every page, with no change button.
    sign_in(&browser, &system, "grace").await;
    assert!(
        browser
            .text()
            .await
            .unwrap()
            .contains("grace@example.com (auditor)")
    );
    assert!(!browser.exists("#create-heading").await.unwrap());
    browser
        .goto(&system.url(&format!("/console/orgs/acme/service-accounts/{account}")))
        .await
        .unwrap();
    assert!(browser.exists("dl.facts").await.unwrap());
    assert_eq!(
        browser
            .client
            .find_all(fantoccini::Locator::Css("main form[method=post]"))
            .await
            .unwrap()
            .len(),
        0,
        "an auditor's page has no form that changes anything"
    );
    check_page(&browser, "account-auditor").await;
    browser
        .goto(&system.url("/console/orgs/acme/settings"))
        .await
        .unwrap();
    assert!(!browser.exists("main button[type=submit]").await.unwrap());

    // A forged post with the auditor's own session and CSRF token is refused.
    let before = system.world.tables.snapshot().await.unwrap();
    let (cookie, csrf) = credentials(&browser).await;
    let create = format!("csrf={csrf}&name=forged&roles=admin");
    let forged = post(
        &system,
        "/console/orgs/acme/service-accounts",
        &cookie,
        &create,
    )
    .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let revoke_all = post(
        &system,
        &format!("/console/orgs/acme/service-accounts/{account}/tokens/revoke-all"),
        &cookie,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(revoke_all.status, 403);
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);

    // An admin's post without the CSRF token, or with another, or with no session at all.
    // (Another browser: the provider remembers who signed in on this one.)
    drop(browser);
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    let (cookie, csrf) = credentials(&browser).await;
    for form in ["name=no-csrf", "csrf=not-the-sessions&name=wrong-csrf"] {
        let refused = post(
            &system,
            "/console/orgs/acme/service-accounts",
            &cookie,
            form,
        )
        .await;
        assert_eq!(refused.status, 403, "{form}: {}", refused.body);
    }
    let anonymous = post(
        &system,
        "/console/orgs/acme/service-accounts",
        "",
        &format!("csrf={csrf}&name=anonymous"),
    )
    .await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.headers["location"], "/console/sign-in?org=acme");
    // A tampered session cookie is no session.
    let (name, value) = cookie.split_once('=').unwrap();
    let tampered = format!("{name}={}A{}", &value[..10], &value[11..]);
    let refused = post(
        &system,
        "/console/orgs/acme/service-accounts",
        &tampered,
        &format!("csrf={csrf}&name=x"),
    )
    .await;
    assert_eq!(refused.status, 303);
    // Acme's session grants nothing in another organization.
    let globex = system.world.bootstrap_org("globex").await;
    let foreign = system
        .request(
            "GET",
            &format!("/console/orgs/{}/service-accounts", globex.org),
            &[("cookie", &cookie)],
            None,
        )
        .await
        .unwrap();
    assert_eq!(foreign.status, 404);
    let before = system.world.tables.snapshot().await.unwrap();
    let foreign_post = post(
        &system,
        &format!("/console/orgs/{}/service-accounts", globex.org),
        &cookie,
        &format!("csrf={csrf}&name=intruder"),
    )
    .await;
    assert_eq!(foreign_post.status, 404);
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);

    // The page that shows a new secret is never stored, and runs no inline script.
    let minting = post(
        &system,
        &format!("/console/orgs/acme/service-accounts/{account}/tokens"),
        &cookie,
        &format!("csrf={csrf}&action=mint&name=beside&lifetime=30d"),
    )
    .await;
    assert_eq!(minting.status, 303, "{}", minting.body);
    let minted = super::console_tokens::follow_reveal(&system, &cookie, &minting).await;
    assert_eq!(minted.status, 200, "{}", minted.body);
    assert!(minted.body.contains("will not be shown again"));
    assert_eq!(minted.headers["cache-control"], "no-store");
    let csp = minted.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(minted.headers["x-frame-options"], "DENY");
    assert_eq!(minted.headers["referrer-policy"], "no-referrer");
    assert!(!minted.body.contains("<script>"));

    // A sign-in is started only from the console's own sign-in page.
    let forced = system
        .request(
            "POST",
            "/console/sign-in/start",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(format!(
                "csrf=guess&org=acme&issuer={}",
                form_urlencoded_component(&system.provider.issuer)
            )),
        )
        .await
        .unwrap();
    assert_eq!(forced.status, 403);
    assert!(forced.headers.get("location").is_none());

    // The sign-in page is the same whether the organization exists and has a provider or
    // not, and names no provider.
    let mut pages = Vec::new();
    for org in ["acme", "nosuchorg"] {
        let page = system
            .request("GET", &format!("/console/sign-in?org={org}"), &[], None)
            .await
            .unwrap();
        assert_eq!(page.status, 200);
        let provider_host = system.provider.issuer.split("://").nth(1).unwrap();
        assert!(!page.body.contains(provider_host), "{}", page.body);
        let csrf_value = |body: &str| {
            let start = body.find("name=\"csrf\" value=\"").unwrap() + 19;
            body[start..start + 32].to_owned()
        };
        let csrf_value = csrf_value(&page.body);
        pages.push((
            page.body.replace(org, "ORG").replace(&csrf_value, "CSRF"),
            page.headers["content-security-policy"].clone(),
        ));
    }
    assert_eq!(pages[0], pages[1]);

    // A person may not set an allowlist that leaves their own address out.
    let before = system.world.tables.snapshot().await.unwrap();
    let lockout = post(
        &system,
        "/console/orgs/acme/settings/policy",
        &cookie,
        &format!("csrf={csrf}&defaultLifetime=90d&maxLifetime=1y&ipAllowlist=192.0.2.0%2F24"),
    )
    .await;
    assert_eq!(lockout.status, 422, "{}", lockout.body);
    assert!(lockout.body.contains("lock"), "{}", lockout.body);
    // A refused provider is shown on its own row, with what was sent (row 0 removed, row 1
    // refused: the API calls it identityProviders[0]).
    let issuer = form_urlencoded_component(&system.provider.issuer);
    let providers = post(
        &system,
        "/console/orgs/acme/settings/providers",
        &cookie,
        &format!(
            "csrf={csrf}&p0.issuer={issuer}&p0.audiences=service-accounts-console&p0.remove=true\
             &p1.issuer=not-a-url&p1.audiences=x&p1.admin=ops"
        ),
    )
    .await;
    assert_eq!(providers.status, 422, "{}", providers.body);
    assert!(
        providers
            .body
            .contains("id=\"identityProviders[1].issuer-error\""),
        "{}",
        providers.body
    );
    assert!(providers.body.contains("value=\"not-a-url\""));
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);

    // A field the API refuses is shown next to the field, and nothing is written.
    let before = system.world.tables.snapshot().await.unwrap();
    let invalid = post(
        &system,
        &format!("/console/orgs/acme/service-accounts/{account}/tokens"),
        &cookie,
        &format!("csrf={csrf}&action=mint&name=&lifetime=7w"),
    )
    .await;
    assert_eq!(invalid.status, 422);
    assert!(
        invalid.body.contains("id=\"name-error\""),
        "{}",
        invalid.body
    );
    assert!(
        invalid.body.contains("id=\"lifetime-error\""),
        "{}",
        invalid.body
    );
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn a_sign_in_that_was_not_started_here_or_comes_back_with_another_state_is_refused() {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    // No sign-in was started.
    browser
        .goto(&system.url("/console/callback?code=stolen&state=guess"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Forbidden");
    // Started, then the provider's answer is swapped for another state.
    browser
        .goto(&system.url("/console/sign-in?org=acme"))
        .await
        .unwrap();
    browser.follow("#provider-sign-in button").await.unwrap();
    assert!(browser.exists("input[name=login]").await.unwrap());
    browser
        .goto(&system.url("/console/callback?code=stolen&state=guess"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Forbidden");
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Sign in to acme");
    // A person the provider maps to no role gets no session.
    system.sync_clock();
    browser.follow("#provider-sign-in button").await.unwrap();
    browser.fill("input[name=login]", "eve").await.unwrap();
    browser.fill("input[name=password]", "any").await.unwrap();
    browser.follow("button[type=submit]").await.unwrap();
    if !browser.url().await.unwrap().starts_with(&system.base) {
        browser.follow("button[type=submit]").await.unwrap();
    }
    assert_eq!(browser.heading().await.unwrap(), "Forbidden");
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Sign in to acme");
}

/// Signs in with `token` through the sign-in page's token form.
pub(crate) async fn sign_in_with_token(browser: &Browser, system: &ConsoleWorld, token: &str) {
    browser
        .goto(&system.url("/console/sign-in?org=acme"))
        .await
        .unwrap();
    browser.fill("#token", token).await.unwrap();
    browser
        .follow("#token-heading + form button")
        .await
        .unwrap();
}

#[tokio::test]
async fn an_admin_token_signs_in_without_being_kept_and_stops_working_when_revoked() {
    use shared::access::{IpAllowlist, Role, Roles, Scopes};
    let system = ConsoleWorld::start().await.unwrap();
    let world = &system.world;
    let (admin_account, admin_token) = world
        .account_with_token(
            &world.acme.org,
            Roles::new([Role::Admin]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await;
    let (_, reader_token) = world
        .account_with_token(
            &world.acme.org,
            Roles::new([Role::Reader]),
            Scopes::default(),
            IpAllowlist::default(),
        )
        .await;
    let browser = Browser::start().await.unwrap();

    // Not a token, a token without the admin role: no session.
    for (token, heading) in [
        ("svc_not_a_token", "Authentication required"),
        (reader_token.as_str(), "Forbidden"),
    ] {
        sign_in_with_token(&browser, &system, token).await;
        assert_eq!(browser.heading().await.unwrap(), heading);
    }
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Sign in to acme");

    // The admin token: a session that holds its id, not its secret.
    sign_in_with_token(&browser, &system, &admin_token).await;
    assert_eq!(browser.heading().await.unwrap(), "Service accounts");
    let prefix = &admin_token[..admin_token.len() - 40];
    assert!(browser.text().await.unwrap().contains("admin token"));
    let cookie = browser.cookie_header().await.unwrap();
    assert!(!cookie.contains(&admin_token) && !cookie.contains(prefix));
    browser.fill("#name", "made-with-a-token").await.unwrap();
    browser.follow("section button[type=submit]").await.unwrap();
    assert_eq!(browser.heading().await.unwrap(), "made-with-a-token");
    assert!(
        browser
            .text()
            .await
            .unwrap()
            .contains(admin_account.as_str())
    );

    // The sign-in form without the browser's own form cookie is refused.
    let stale = system
        .request(
            "POST",
            "/console/sign-in/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(format!("csrf=guess&org=acme&token={admin_token}")),
        )
        .await
        .unwrap();
    assert_eq!(stale.status, 403);
    assert!(stale.headers.get("set-cookie").is_none());

    // Revoked elsewhere: the next page sends back to the sign-in.
    let revoked = world
        .tokens(
            tests::events::ApiCall::new(
                tests::events::Shape::HttpV2,
                "DELETE",
                &format!("/v1/orgs/acme/service-accounts/{admin_account}/tokens"),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Sign in to acme");
}

#[tokio::test]
async fn an_admin_adds_and_deletes_a_trust_policy_and_a_policy_that_pins_nothing_is_refused() {
    let system = ConsoleWorld::start().await.unwrap();
    let world = &system.world;
    let created = world
        .accounts(
            tests::events::ApiCall::new(
                tests::events::Shape::HttpV2,
                "POST",
                "/v1/orgs/acme/service-accounts",
            )
            .bearer(&world.acme.token)
            .json(serde_json::json!({"name": "deployer", "roles": ["writer"]})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let account = created.body["id"].as_str().unwrap().to_owned();
    let browser = Browser::start().await.unwrap();
    sign_in_with_token(&browser, &system, &world.acme.token).await;
    let page = system.url(&format!("/console/orgs/acme/service-accounts/{account}"));
    browser.goto(&page).await.unwrap();
    assert!(browser.text().await.unwrap().contains("No trust policies."));
    let submit = "section[aria-labelledby=trust-heading] form button[type=submit]";

    // A GitHub Actions policy without the owner's id is refused, next to its field, and
    // nothing is made.
    browser.fill("#trust-name", "deploy").await.unwrap();
    browser
        .fill("#trust-conditions", "repository = octo-org/deploy")
        .await
        .unwrap();
    browser.fill("#trust-scopes", "reader").await.unwrap();
    browser.follow(submit).await.unwrap();
    assert!(browser.exists("#conditions-error").await.unwrap());
    assert!(
        browser
            .text()
            .await
            .unwrap()
            .contains("repository_owner_id")
    );
    check_page(&browser, "trust-policy-refused").await;
    let listed = world
        .accounts(
            tests::events::ApiCall::new(
                tests::events::Shape::HttpV2,
                "GET",
                &format!("/v1/orgs/acme/service-accounts/{account}/trust-policies"),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(listed.body["items"], serde_json::json!([]));

    // With it: listed on the account's page.
    browser.goto(&page).await.unwrap();
    browser.fill("#trust-name", "deploy").await.unwrap();
    browser
        .fill(
            "#trust-conditions",
            "repository_owner_id = 65\nrepository ~ octo-org/(deploy|release)",
        )
        .await
        .unwrap();
    browser.fill("#trust-scopes", "reader").await.unwrap();
    browser.follow(submit).await.unwrap();
    let text = browser.text().await.unwrap();
    assert!(
        text.contains("repository ~ octo-org/(deploy|release)"),
        "{text}"
    );
    assert!(text.contains("repository_owner_id = 65"));
    assert!(text.contains("https://token.actions.githubusercontent.com"));
    check_page(&browser, "trust-policies").await;

    // Deleted, once confirmed: gone from the page and from the API.
    browser
        .follow("button[aria-label='Delete trust policy deploy']")
        .await
        .unwrap();
    browser
        .follow("form.confirm button[type=submit]")
        .await
        .unwrap();
    assert!(browser.text().await.unwrap().contains("No trust policies."));
    let listed = world
        .accounts(
            tests::events::ApiCall::new(
                tests::events::Shape::HttpV2,
                "GET",
                &format!("/v1/orgs/acme/service-accounts/{account}/trust-policies"),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(listed.body["items"], serde_json::json!([]));
}

/// Presses `key` (a WebDriver key code) on the focused element.
pub(crate) async fn press(browser: &Browser, key: &str) {
    browser
        .client
        .active_element()
        .await
        .unwrap()
        .send_keys(key)
        .await
        .unwrap();
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// What has the keyboard focus: its tag, id, name and text, to tell elements apart.
pub(crate) async fn focused(browser: &Browser) -> String {
    browser
        .client
        .execute(
            "const e = document.activeElement;
             return [e.tagName, e.id, e.getAttribute('name') || '', e.getAttribute('href') || '',
                     e.type === 'checkbox' ? e.value : '', e.getAttribute('data-copy') || '',
                     (e.textContent || '').trim().slice(0, 40), e.closest('form') ?
                     e.closest('form').getAttribute('action') : ''].join('|');",
            Vec::new(),
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_control_is_reached_with_the_tab_key_and_an_account_is_made_with_the_keyboard_alone()
{
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    let account = system.world.acme.account.clone();
    for path in [
        "/console/orgs/acme/service-accounts".to_owned(),
        format!("/console/orgs/acme/service-accounts/{account}"),
        "/console/orgs/acme/settings".to_owned(),
        "/console/orgs/acme/audit".to_owned(),
    ] {
        browser.goto(&system.url(&path)).await.unwrap();
        let controls = browser
            .client
            .execute(
                "return [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')]
                   .filter((e) => !e.disabled && e.offsetParent !== null).length;",
                Vec::new(),
            )
            .await
            .unwrap()
            .as_u64()
            .unwrap();
        // Tab from the top of the page until the focus comes back round.
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..(controls + 20) {
            press(&browser, TAB).await;
            let now = focused(&browser).await;
            if now.starts_with("BODY") {
                continue;
            }
            seen.insert(now);
        }
        // The skip link is only visible when focused: it counts as well.
        assert!(
            seen.len() as u64 >= controls,
            "{path}: {} of {controls} controls reached with Tab: {seen:#?}",
            seen.len()
        );
    }

    // Create an account with the keyboard alone: Tab to the name field, type, Enter.
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts"))
        .await
        .unwrap();
    for _ in 0..60 {
        press(&browser, TAB).await;
        if focused(&browser).await.starts_with("INPUT|name|") {
            break;
        }
    }
    assert!(focused(&browser).await.starts_with("INPUT|name|"));
    press(&browser, "typed-by-keyboard").await;
    browser
        .client
        .execute("window.__before_click = true;", Vec::new())
        .await
        .unwrap();
    press(&browser, ENTER).await;
    for _ in 0..100 {
        if browser.heading().await.ok().as_deref() == Some("typed-by-keyboard") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(browser.heading().await.unwrap(), "typed-by-keyboard");
}

fn form_urlencoded_component(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_organization_field_refuses_a_bad_id_in_the_browser_and_in_the_form() {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    browser.goto(&system.url("/console")).await.unwrap();
    check_page(&browser, "landing").await;
    // The field's pattern is one the browser applies (valid under the `v` flag), so it
    // refuses a bad id before sending it.
    for (typed, valid) in [
        ("acme", true),
        ("acme-2", true),
        ("Bad_Org", false),
        ("-acme", false),
        ("a--b", false),
        ("ac", false),
    ] {
        browser.fill("#org", typed).await.unwrap();
        assert_eq!(
            browser
                .script("return document.querySelector('#org').checkValidity();")
                .await
                .unwrap(),
            serde_json::Value::Bool(valid),
            "{typed}"
        );
    }
    // Sent anyway (a typed address, a browser that does not check), it is refused in the
    // form, in words, with what was typed kept and the field marked.
    browser
        .goto(&system.url("/console/sign-in?org=Bad_Org"))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Sign in");
    assert!(
        browser
            .text()
            .await
            .unwrap()
            .contains("An organization id is lowercase letters, digits and single hyphens")
    );
    assert_eq!(
        browser
            .script("return document.querySelector('#org').value;")
            .await
            .unwrap(),
        "Bad_Org"
    );
    assert!(
        browser
            .exists("#org[aria-invalid=true][aria-describedby=org-error]")
            .await
            .unwrap()
    );
    check_page(&browser, "landing-refused").await;
}
