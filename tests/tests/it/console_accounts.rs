//! The console's accounts, trust policies and settings pages, as a person uses them in a
//! real Chromium: the account page in sections, the confirmations before a disable and a
//! trust policy's deletion, the banners after every change, the accounts list (token counts,
//! soonest expiry, risk badges, sort, filter, search, bulk disable), the settings page's
//! summary of what needs attention, and errors in people's words next to their fields.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use shared::access::Scopes;
use shared::ids::ServiceAccountId;
use shared::model::{Actor, ActorKind, NewToken, Token, TokenKind};
use shared::text::DisplayName;
use shared::token::{ParsedToken, TokenOwner, TokenSecret};
use tests::browser::Browser;
use tests::console::ConsoleWorld;
use time::Duration;

use super::console::{
    admin_call as api, banner, check_page, create_account, credentials, post, sign_in,
};

/// The value of the field `css`.
async fn value(browser: &Browser, css: &str) -> Value {
    browser
        .script(&format!(
            "return document.querySelector({}).value;",
            json!(css)
        ))
        .await
        .unwrap()
}

/// The text of what the field `css` names as its description (its error), if anything.
async fn described(browser: &Browser, css: &str) -> Value {
    browser
        .script(&format!(
            "const field = document.querySelector({});
             const ids = (field.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
             return ids.map((id) => document.getElementById(id))
                       .filter(Boolean).map((e) => e.textContent).join(' | ');",
            json!(css)
        ))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_refused_settings_allowlist_keeps_what_was_typed_and_names_its_line_counted_from_one() {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    let org_before = system
        .world
        .context
        .org(&system.world.acme.org)
        .await
        .unwrap();

    // The organization's allowlist: the second line is wrong.
    browser
        .goto(&system.url("/console/orgs/acme/settings"))
        .await
        .unwrap();
    let typed = "10.0.0.0/8\nnot-an-address";
    browser.fill("#ipAllowlist", typed).await.unwrap();
    browser.fill("#revokeUnusedAfterDays", "45").await.unwrap();
    browser
        .follow("#policy-heading + form button")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Settings");
    // What was typed is still there, every field of the form.
    assert_eq!(value(&browser, "#ipAllowlist").await, typed);
    assert_eq!(value(&browser, "#revokeUnusedAfterDays").await, "45");
    // The error is the field's own description, and names line 2.
    let error = described(&browser, "#ipAllowlist").await;
    let error = error.as_str().unwrap();
    assert!(error.contains("Line 2"), "{error}");
    assert!(!error.contains("entry 1"), "{error}");
    check_page(&browser, "settings-allowlist-refused").await;
    let org = system
        .world
        .context
        .org(&system.world.acme.org)
        .await
        .unwrap();
    assert_eq!(org.version, org_before.version, "nothing was saved");
}

#[tokio::test]
async fn a_refused_account_allowlist_names_its_line_counted_from_one() {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    // The third line (after an empty one) is wrong.
    let account = system.world.acme.account.clone();
    browser
        .goto(&system.url(&format!("/console/orgs/acme/service-accounts/{account}")))
        .await
        .unwrap();
    let typed = "203.0.113.0/24\n\nbogus";
    browser.fill("#ipAllowlist", typed).await.unwrap();
    browser
        .follow(&format!("form[action$='/{account}'] button[type=submit]"))
        .await
        .unwrap();
    assert_eq!(value(&browser, "#ipAllowlist").await, typed);
    let error = described(&browser, "#ipAllowlist").await;
    let error = error.as_str().unwrap();
    assert!(error.contains("Line 3"), "{error}");
    check_page(&browser, "account-allowlist-refused").await;
}

/// Mints a token of `account` through the admin API; the API's view of it (with its secret).
async fn mint(system: &ConsoleWorld, account: &str, name: &str, lifetime: &str) -> Value {
    let minted = system
        .world
        .tokens(
            api(
                system,
                "POST",
                &format!("/v1/orgs/acme/service-accounts/{account}/tokens"),
            )
            .json(json!({"name": name, "lifetime": lifetime})),
        )
        .await;
    assert_eq!(minted.status, 201, "{}", minted.body);
    minted.body
}

async fn account_status(system: &ConsoleWorld, id: &str) -> String {
    let id = ServiceAccountId::parse(id).unwrap();
    let account = system
        .world
        .context
        .account(&system.world.acme.org, &id)
        .await
        .unwrap();
    format!("{:?}", account.status)
}

/// The names of the accounts listed, in order.
async fn listed(browser: &Browser) -> Vec<String> {
    let names = browser
        .script(
            "return [...document.querySelectorAll('tbody tr[id^=account-] td a[href*=\"/service-accounts/\"]')]
                 .map((a) => a.textContent);",
        )
        .await
        .unwrap();
    serde_json::from_value(names).unwrap()
}

#[tokio::test]
async fn an_account_page_is_in_sections_a_disable_and_a_policy_deletion_are_confirmed_and_banners_say_each_change_is_done()
 {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;

    // Created: the account's page says so.
    browser.fill("#name", "ci-robot").await.unwrap();
    browser
        .follow("#create-heading + form button[type=submit]")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "ci-robot");
    assert_eq!(banner(&browser).await, "Service account created.");
    let url = browser.url().await.unwrap();
    let id = url
        .split("/service-accounts/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    check_page(&browser, "account-created").await;

    // Its sections, each named by its own heading; the disable button is in the danger zone,
    // not in the edit form's section.
    let sections = browser
        .script(
            "return [...document.querySelectorAll('main section[aria-labelledby]')].map((s) => {
                 const h = document.getElementById(s.getAttribute('aria-labelledby'));
                 return h ? h.tagName + ' ' + h.textContent : 'none';
             });",
        )
        .await
        .unwrap();
    for heading in [
        "H2 Details",
        "H2 Tokens",
        "H2 Mint a token",
        "H2 Trust policies (keyless CI)",
        "H2 Danger zone",
    ] {
        assert!(
            sections.as_array().unwrap().contains(&json!(heading)),
            "{heading}: {sections}"
        );
    }
    let places = browser
        .script(
            "const at = (css) => document.querySelector(css).closest('section').getAttribute('aria-labelledby');
             return [at('form[action$=\"/disable\"]'), at('form[action$=\"/delete\"]'),
                     at('input[name=action][value=edit]'), at('#token-name')];",
        )
        .await
        .unwrap();
    assert_eq!(
        places,
        json!([
            "danger-heading",
            "danger-heading",
            "details-heading",
            "mint-heading"
        ])
    );
    // The id, next to the name, with a button that copies it.
    assert_eq!(value(&browser, &format!("#account-id-{id}")).await, id);
    assert!(
        browser
            .exists(&format!("button.copy[data-copy='account-id-{id}']"))
            .await
            .unwrap()
    );

    // Saved.
    browser.fill("#description", "Deploys").await.unwrap();
    browser
        .follow("#details-heading + form button[type=submit]")
        .await
        .unwrap();
    assert_eq!(banner(&browser).await, "Service account saved.");

    // Disable: a page first says what happens; nothing is disabled yet.
    browser
        .follow("form[action$='/disable'] button[type=submit]")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Disable ci-robot?");
    assert!(
        browser
            .text()
            .await
            .unwrap()
            .contains("Its tokens stop working until it is enabled again")
    );
    check_page(&browser, "account-disable-confirm").await;
    assert_eq!(account_status(&system, &id).await, "Active");
    // A post without the confirmation changes nothing either.
    let (cookie, csrf) = credentials(&browser).await;
    let before = system.world.tables.snapshot().await.unwrap();
    let unconfirmed = post(
        &system,
        &format!("/console/orgs/acme/service-accounts/{id}/disable"),
        &cookie,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(unconfirmed.status, 200, "{}", unconfirmed.body);
    assert!(unconfirmed.body.contains("Disable ci-robot?"));
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);
    assert_eq!(account_status(&system, &id).await, "Active");
    // Confirmed: disabled, and said so.
    browser
        .follow("form.confirm button[type=submit]")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "ci-robot");
    assert!(
        banner(&browser)
            .await
            .starts_with("Service account disabled")
    );
    assert_eq!(account_status(&system, &id).await, "Disabled");
    check_page(&browser, "account-disabled").await;

    // Enabled.
    browser
        .follow("form[action$='/enable'] button[type=submit]")
        .await
        .unwrap();
    assert_eq!(banner(&browser).await, "Service account enabled.");
    assert_eq!(account_status(&system, &id).await, "Active");

    // A trust policy: added, then deleted once confirmed.
    browser.fill("#trust-name", "deploy").await.unwrap();
    browser
        .fill(
            "#trust-conditions",
            "repository_owner_id = 65\nrepository = octo-org/deploy",
        )
        .await
        .unwrap();
    browser.fill("#trust-scopes", "reader").await.unwrap();
    browser
        .follow("section[aria-labelledby=trust-heading] form button[type=submit]")
        .await
        .unwrap();
    assert_eq!(banner(&browser).await, "Trust policy added.");
    browser
        .follow("button[aria-label='Delete trust policy deploy']")
        .await
        .unwrap();
    assert_eq!(
        browser.heading().await.unwrap(),
        "Delete the trust policy deploy?"
    );
    check_page(&browser, "trust-policy-delete-confirm").await;
    let action = browser
        .script("return document.querySelector('form.confirm').getAttribute('action');")
        .await
        .unwrap();
    let before = system.world.tables.snapshot().await.unwrap();
    let unconfirmed = post(
        &system,
        action.as_str().unwrap(),
        &cookie,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(unconfirmed.status, 200, "{}", unconfirmed.body);
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);
    browser
        .follow("form.confirm button[type=submit]")
        .await
        .unwrap();
    assert_eq!(banner(&browser).await, "Trust policy deleted.");
    assert!(browser.text().await.unwrap().contains("No trust policies."));

    // Deleted (typed, as before): the list says so.
    browser.fill("#confirm", "ci-robot").await.unwrap();
    browser
        .follow("form[action$='/delete'] button[type=submit]")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Service accounts");
    assert_eq!(banner(&browser).await, "Service account deleted.");

    // A settings save.
    browser
        .goto(&system.url("/console/orgs/acme/settings"))
        .await
        .unwrap();
    browser.fill("#org-name", "Acme Corporation").await.unwrap();
    browser.follow("#name-heading + form button").await.unwrap();
    assert_eq!(banner(&browser).await, "Settings saved.");
    check_page(&browser, "settings-saved").await;
}

#[tokio::test]
async fn the_accounts_list_shows_tokens_and_risk_and_sorts_filters_and_searches() {
    let system = ConsoleWorld::start().await.unwrap();
    let start = system.world.clock_now();
    // Created a second apart, not in the order of their names.
    let mut ids = std::collections::HashMap::new();
    for (second, name) in [(1, "charlie"), (2, "alpha"), (3, "bravo")] {
        system.world.clock.set(start + Duration::seconds(second));
        ids.insert(name, create_account(&system, name, "reader").await);
    }
    let soon = mint(&system, &ids["alpha"], "soon", "1d").await;
    mint(&system, &ids["alpha"], "later", "90d").await;
    mint(&system, &ids["charlie"], "only", "30d").await;
    let disabled = system
        .world
        .accounts(api(
            &system,
            "POST",
            &format!("/v1/orgs/acme/service-accounts/{}/disable", ids["bravo"]),
        ))
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    check_page(&browser, "accounts-list").await;

    // Each account's live tokens, what needs attention about them, the soonest expiry.
    let row = |id: &str, css: &str| {
        format!(
            "const c = document.querySelector('#account-{id} {css}'); return c ? c.textContent.trim() : null;"
        )
    };
    let alpha = &ids["alpha"];
    assert_eq!(
        browser
            .script(&row(alpha, "td.tokens .count"))
            .await
            .unwrap(),
        "2"
    );
    let badges = browser.script(&row(alpha, "td.tokens")).await.unwrap();
    let badges = badges.as_str().unwrap();
    assert!(badges.contains("1 expiring soon"), "{badges}");
    assert!(badges.contains("2 never used"), "{badges}");
    let expiry = browser
        .script(&format!(
            "return document.querySelector('#account-{alpha} td.expiry time').getAttribute('datetime');"
        ))
        .await
        .unwrap();
    assert_eq!(expiry, soon["expiresAt"]);
    assert_eq!(
        browser
            .script(&row(&ids["bravo"], "td.tokens .count"))
            .await
            .unwrap(),
        "0"
    );
    assert_eq!(
        browser
            .script(&row(&ids["bravo"], "td.expiry"))
            .await
            .unwrap(),
        "none"
    );
    // The id next to the name, copied by its button.
    assert_eq!(
        value(&browser, &format!("#account-id-{alpha}")).await,
        alpha.as_str()
    );
    browser
        .click(&format!("button.copy[data-copy='account-id-{alpha}']"))
        .await
        .unwrap();
    let copied = browser
        .script(&format!(
            "return document.querySelector('#account-{alpha} .copied').textContent;"
        ))
        .await
        .unwrap();
    assert_ne!(copied, "", "the copy button says what it did");

    // Sorted by name (the default), by creation through the form.
    let names = listed(&browser).await;
    let mine: Vec<&String> = names
        .iter()
        .filter(|n| ["alpha", "bravo", "charlie"].contains(&n.as_str()))
        .collect();
    assert_eq!(mine, ["alpha", "bravo", "charlie"]);
    browser
        .script("document.querySelector('#sort').value = 'oldest'; return true;")
        .await
        .unwrap();
    browser
        .follow("form.filters button[type=submit]")
        .await
        .unwrap();
    assert!(browser.url().await.unwrap().contains("sort=oldest"));
    let names = listed(&browser).await;
    let mine: Vec<&String> = names
        .iter()
        .filter(|n| ["alpha", "bravo", "charlie"].contains(&n.as_str()))
        .collect();
    assert_eq!(mine, ["charlie", "alpha", "bravo"]);
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts?sort=newest"))
        .await
        .unwrap();
    assert_eq!(listed(&browser).await[..3], ["bravo", "alpha", "charlie"]);

    // Filtered by status.
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts?status=disabled"))
        .await
        .unwrap();
    assert_eq!(listed(&browser).await, ["bravo"]);
    check_page(&browser, "accounts-disabled-only").await;
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts?status=active"))
        .await
        .unwrap();
    let active = listed(&browser).await;
    assert!(active.contains(&"alpha".to_owned()) && !active.contains(&"bravo".to_owned()));

    // Searched by part of a name, or by an id.
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts"))
        .await
        .unwrap();
    browser.fill("#q", "ALP").await.unwrap();
    browser
        .follow("form.filters button[type=submit]")
        .await
        .unwrap();
    assert_eq!(listed(&browser).await, ["alpha"]);
    browser
        .goto(&system.url(&format!(
            "/console/orgs/acme/service-accounts?q={}",
            ids["charlie"]
        )))
        .await
        .unwrap();
    assert_eq!(listed(&browser).await, ["charlie"]);

    // Nothing matches: the page says how to see every account again.
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts?q=nothing-like-it&status=active"))
        .await
        .unwrap();
    let text = browser.text().await.unwrap();
    assert!(
        text.contains("No service account matches these filters."),
        "{text}"
    );
    assert!(
        browser
            .exists("p.empty a[href$='/service-accounts']")
            .await
            .unwrap()
    );
    check_page(&browser, "accounts-none-match").await;

    // No accounts at all: the page says to create the first.
    let (cookie, csrf) = credentials(&browser).await;
    for account in system
        .world
        .context
        .list_accounts(&system.world.acme.org, usecases::PageLimit::FULL, None)
        .await
        .unwrap()
        .items
    {
        let deleted = post(
            &system,
            &format!("/console/orgs/acme/service-accounts/{}/delete", account.id),
            &cookie,
            &format!("csrf={csrf}&confirm={}", account.name.as_str()),
        )
        .await;
        assert_eq!(deleted.status, 303, "{}", deleted.body);
    }
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts"))
        .await
        .unwrap();
    let text = browser.text().await.unwrap();
    assert!(text.contains("No service accounts yet."), "{text}");
    assert!(
        browser
            .exists("p.empty a[href='#create-heading']")
            .await
            .unwrap()
    );
    check_page(&browser, "accounts-none-yet").await;
}

#[tokio::test]
async fn accounts_selected_in_the_list_are_disabled_in_one_confirmed_step_each_its_own_event() {
    let system = ConsoleWorld::start().await.unwrap();
    let one = create_account(&system, "one", "reader").await;
    let two = create_account(&system, "two", "reader").await;
    let three = create_account(&system, "three", "reader").await;
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    let (cookie, csrf) = credentials(&browser).await;

    // Nothing selected: nothing changes, and the page says so.
    let nothing = post(
        &system,
        "/console/orgs/acme/service-accounts/disable-selected",
        &cookie,
        &format!("csrf={csrf}&confirm=yes"),
    )
    .await;
    assert_eq!(nothing.status, 303);
    assert!(
        nothing.headers["location"]
            .to_str()
            .unwrap()
            .ends_with("done=nothing-selected")
    );

    // Two selected: a page names them and says what happens.
    for id in [&one, &two] {
        browser
            .click(&format!("input[form=bulk-accounts][value='{id}']"))
            .await
            .unwrap();
    }
    browser
        .follow("#bulk-accounts button[type=submit]")
        .await
        .unwrap();
    assert_eq!(
        browser.heading().await.unwrap(),
        "Disable 2 service accounts?"
    );
    let consequence = browser
        .script("return document.querySelector('#consequence').textContent;")
        .await
        .unwrap();
    let consequence = consequence.as_str().unwrap();
    assert!(
        consequence.contains("one") && consequence.contains("two"),
        "{consequence}"
    );
    check_page(&browser, "accounts-bulk-confirm").await;
    // Unconfirmed, nothing changes.
    let before = system.world.tables.snapshot().await.unwrap();
    let unconfirmed = post(
        &system,
        "/console/orgs/acme/service-accounts/disable-selected",
        &cookie,
        &format!("csrf={csrf}&account={one}&account={two}"),
    )
    .await;
    assert_eq!(unconfirmed.status, 200);
    assert!(unconfirmed.body.contains("Disable 2 service accounts?"));
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);

    // Confirmed: both disabled, the third not; two events, one for each.
    let events_before = tests::faulty::audit_events(&system.world).await.unwrap();
    browser
        .follow("form.confirm button[type=submit]")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Service accounts");
    assert_eq!(
        banner(&browser).await,
        "The selected service accounts are disabled."
    );
    check_page(&browser, "accounts-bulk-disabled").await;
    assert_eq!(account_status(&system, &one).await, "Disabled");
    assert_eq!(account_status(&system, &two).await, "Disabled");
    assert_eq!(account_status(&system, &three).await, "Active");
    let events = tests::faulty::audit_events(&system.world).await.unwrap();
    let mut disabled: Vec<&str> = events
        .iter()
        .filter(|event| !events_before.contains(event))
        .filter(|event| event["action"] == "service_account.disabled")
        .map(|event| event["target"]["id"].as_str().unwrap())
        .collect();
    disabled.sort_unstable();
    let mut expected = [one.as_str(), two.as_str()];
    expected.sort_unstable();
    assert_eq!(disabled, expected);
    for event in events.iter().filter(|e| !events_before.contains(e)) {
        assert_eq!(event["actor"]["display"], "ada@example.com", "{event}");
    }

    // One of the selected is gone by the time it is confirmed: the others are disabled, and
    // the page says which was not, and why.
    let four = create_account(&system, "four", "reader").await;
    browser
        .goto(&system.url("/console/orgs/acme/service-accounts"))
        .await
        .unwrap();
    for id in [&three, &four] {
        browser
            .click(&format!("input[form=bulk-accounts][value='{id}']"))
            .await
            .unwrap();
    }
    browser
        .follow("#bulk-accounts button[type=submit]")
        .await
        .unwrap();
    let deleted = system
        .world
        .accounts(api(
            &system,
            "DELETE",
            &format!("/v1/orgs/acme/service-accounts/{four}"),
        ))
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    browser
        .follow("form.confirm button[type=submit]")
        .await
        .unwrap();
    let report = browser
        .script("return document.querySelector('main [role=alert]').textContent;")
        .await
        .unwrap();
    let report = report.as_str().unwrap();
    assert!(
        report.contains("1 of 2 selected accounts disabled"),
        "{report}"
    );
    assert!(
        report.contains(&four) && report.contains("no longer exists"),
        "{report}"
    );
    assert_eq!(account_status(&system, &three).await, "Disabled");
    check_page(&browser, "accounts-bulk-partly").await;
}

/// Stores a token of `account` created `age` ago (never used since), as the store holds it.
async fn aged_token(system: &ConsoleWorld, account: &str, age: Duration) {
    let world = &system.world;
    let org = world.acme.org.clone();
    let account = ServiceAccountId::parse(account).unwrap();
    let parsed = ParsedToken::generate(
        &world.context.token_format,
        &org,
        TokenOwner::Account(account),
    )
    .unwrap();
    let created = world.clock_now() - age;
    let token = Token::new(
        TokenKind::ServiceAccount,
        &parsed,
        NewToken {
            name: DisplayName::parse("forgotten").unwrap(),
            description: None,
            scopes: Scopes::default(),
            expires_at: Some(created + Duration::days(365)),
        },
        Actor::new(ActorKind::Operator, "tests"),
        created,
    );
    world.context.store.create_token(&token).await.unwrap();
}

/// The settings summary's count on `line` (`expiring`, `unused`, `leaked`).
async fn attention(browser: &Browser, line: &str) -> (u64, String) {
    let found = browser
        .script(&format!(
            "const li = document.querySelector('#attention-{line}');
             return [li.querySelector('.count').textContent, li.querySelector('a').getAttribute('href')];"
        ))
        .await
        .unwrap();
    let count = found[0]
        .as_str()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (count, found[1].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_settings_page_sums_up_the_tokens_that_need_attention_with_links_to_them() {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    let settings = system.url("/console/orgs/acme/settings");
    browser.goto(&settings).await.unwrap();
    assert_eq!(
        browser
            .script("return document.querySelector('main h2').id;")
            .await
            .unwrap(),
        "attention-heading",
        "the summary comes first"
    );
    let (expiring, href) = attention(&browser, "expiring").await;
    assert!(
        href.ends_with("/console/orgs/acme/tokens?risk=expiring"),
        "{href}"
    );
    let (never_used, href) = attention(&browser, "unused").await;
    assert!(href.ends_with("/tokens?risk=unused"), "{href}");
    let (leaked, href) = attention(&browser, "leaked").await;
    assert!(href.ends_with("/tokens?risk=leaked"), "{href}");
    assert!(browser.text().await.unwrap().contains("never used"));

    // A token expiring tomorrow, one in 90 days, one reported leaked.
    let account = create_account(&system, "worker", "reader").await;
    mint(&system, &account, "tomorrow", "1d").await;
    mint(&system, &account, "later", "90d").await;
    let exposed = mint(&system, &account, "exposed", "30d").await;
    let verdict = system
        .world
        .context
        .report_leak(
            &Actor::new(ActorKind::SecretScanning, "github"),
            TokenSecret::new(exposed["token"].as_str().unwrap().to_owned()),
            usecases::leaks::Sighting::default(),
        )
        .await
        .unwrap();
    assert!(matches!(verdict, usecases::leaks::Verdict::Ours));
    browser.goto(&settings).await.unwrap();
    assert_eq!(attention(&browser, "expiring").await.0, expiring + 1);
    assert_eq!(
        attention(&browser, "unused").await.0,
        never_used + 2,
        "the two live ones are never used"
    );
    assert_eq!(attention(&browser, "leaked").await.0, leaked + 1);
    check_page(&browser, "settings-attention").await;

    // With a retirement window: the tokens unused that long.
    aged_token(&system, &account, Duration::days(40)).await;
    browser.fill("#revokeUnusedAfterDays", "30").await.unwrap();
    browser
        .follow("#policy-heading + form button")
        .await
        .unwrap();
    assert_eq!(banner(&browser).await, "Settings saved.");
    assert_eq!(attention(&browser, "unused").await.0, 1);
    let line = browser
        .script("return document.querySelector('#attention-unused').textContent;")
        .await
        .unwrap();
    assert!(
        line.as_str()
            .unwrap()
            .contains("unused for 30 days or more"),
        "{line}"
    );
}

#[tokio::test]
async fn refusals_on_the_account_and_trust_forms_are_in_peoples_words_next_to_their_fields() {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    let account = system.world.acme.account.clone();
    let page = system.url(&format!("/console/orgs/acme/service-accounts/{account}"));
    browser.goto(&page).await.unwrap();

    // A grant without its level, a range written from an address inside it.
    let grants = "reports:read\nbilling";
    browser.fill("#grants", grants).await.unwrap();
    browser.fill("#ipAllowlist", "10.0.0.1/8").await.unwrap();
    browser
        .follow("#details-heading + form button[type=submit]")
        .await
        .unwrap();
    assert_eq!(value(&browser, "#grants").await, grants);
    let error = described(&browser, "#grants").await;
    let error = error.as_str().unwrap();
    assert!(
        error.starts_with("Line 2: Write the resource, a colon and the level"),
        "{error}"
    );
    assert!(
        !error.contains('`') && !error.contains("grants["),
        "{error}"
    );
    let error = described(&browser, "#ipAllowlist").await;
    assert!(
        error.as_str().unwrap().contains("write 10.0.0.0/8 instead"),
        "{error}"
    );
    check_page(&browser, "account-refused-in-words").await;

    // A trust policy's lifetime that is not a whole number (sent past the browser's own
    // check): the parser's words become the field's sentence, what was typed stays.
    browser.goto(&page).await.unwrap();
    browser.fill("#trust-name", "deploy").await.unwrap();
    browser
        .fill("#trust-conditions", "repository_owner_id = 65")
        .await
        .unwrap();
    browser.fill("#trust-scopes", "reader").await.unwrap();
    browser
        .script(
            "const f = document.querySelector('#trust-lifetime');
             f.type = 'text'; f.value = 'ten minutes'; f.form.noValidate = true; return true;",
        )
        .await
        .unwrap();
    browser
        .follow("section[aria-labelledby=trust-heading] form button[type=submit]")
        .await
        .unwrap();
    let error = described(&browser, "#trust-lifetime").await;
    let error = error.as_str().unwrap();
    assert!(
        error.starts_with("Type a whole number of seconds"),
        "{error}"
    );
    assert!(!error.contains("invalid type"), "{error}");
    assert_eq!(value(&browser, "#trust-name").await, "deploy");
    check_page(&browser, "trust-refused-in-words").await;

    // A change made meanwhile by someone else: said as such, not as an ETag.
    let (cookie, csrf) = credentials(&browser).await;
    let stale = post(
        &system,
        &format!("/console/orgs/acme/service-accounts/{account}"),
        &cookie,
        &format!("csrf={csrf}&action=edit&version=999&name=renamed&roles=admin"),
    )
    .await;
    assert_eq!(stale.status, 422, "{}", stale.body);
    assert!(
        stale.body.contains("Someone else changed this"),
        "{}",
        stale.body
    );
    assert!(!stale.body.contains("ETag"), "{}", stale.body);
}
