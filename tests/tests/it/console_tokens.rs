//! The console's tokens as admins expect them, in a real Chromium: a new secret shown once
//! after a redirect (a reload mints nothing), the picked expiry date honoured, risk badges,
//! rotations told on both tokens, a confirmation before anything stops working and a banner
//! after, every token found by search, filters and order (a deleted owner said so), and the
//! bulk revoke, one audit event per token.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use tests::browser::Browser;
use tests::console::{Answer, ConsoleWorld};
use tests::events::{ApiCall, Shape};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::console::{banner, check_page, create_account, credentials, post, sign_in};

/// Follows the redirect a mint or a rotation answers with, carrying the sealed secret's
/// cookie as a browser would: the page that shows the secret.
pub(crate) async fn follow_reveal(system: &ConsoleWorld, cookie: &str, answer: &Answer) -> Answer {
    let location = answer.headers["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("/tokens/new"), "{location}");
    let sealed = answer.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(sealed.starts_with("reveal="), "{sealed}");
    let path = location.trim_start_matches(&system.base);
    let both = format!("{cookie}; {sealed}");
    system
        .request("GET", path, &[("cookie", &both)], None)
        .await
        .unwrap()
}

async fn api(system: &ConsoleWorld, method: &str, path: &str, body: Option<Value>) -> Value {
    let mut call = ApiCall::new(Shape::RestV1, method, path).bearer(&system.world.acme.token);
    if let Some(body) = body {
        call = call.json(body);
    }
    let reply = if path.contains("/tokens") {
        system.world.tokens(call).await
    } else {
        system.world.accounts(call).await
    };
    assert!(reply.status < 300, "{method} {path}: {:?}", reply.body);
    reply.body
}

/// Mints a token through the API: its id and secret.
async fn mint(system: &ConsoleWorld, account: &str, body: Value) -> (String, String) {
    let minted = api(
        system,
        "POST",
        &format!("/v1/orgs/acme/service-accounts/{account}/tokens"),
        Some(body),
    )
    .await;
    (
        minted["id"].as_str().unwrap().to_owned(),
        minted["token"].as_str().unwrap().to_owned(),
    )
}

async fn token(system: &ConsoleWorld, account: &str, id: &str) -> Value {
    api(
        system,
        "GET",
        &format!("/v1/orgs/acme/service-accounts/{account}/tokens/{id}"),
        None,
    )
    .await
}

async fn tokens_of(system: &ConsoleWorld, account: &str) -> Vec<Value> {
    api(
        system,
        "GET",
        &format!("/v1/orgs/acme/service-accounts/{account}/tokens"),
        None,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The text of the table rows of the page, one string per row.
async fn rows(browser: &Browser) -> Vec<String> {
    let rows = browser
        .script("return [...document.querySelectorAll('tbody tr')].map((r) => r.innerText);")
        .await
        .unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| row.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_new_secret_is_shown_once_after_a_redirect_and_a_reload_mints_nothing() {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    let account = create_account(&system, "pipeline", "writer").await;
    browser
        .goto(&system.url(&format!("/console/orgs/acme/service-accounts/{account}")))
        .await
        .unwrap();
    browser.fill("#token-name", "deploy").await.unwrap();
    browser
        .follow("#mint-heading + form button[type=submit]")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Your new token");
    assert!(
        browser.url().await.unwrap().ends_with("/tokens/new"),
        "the secret's page is reached by a redirect"
    );
    let secret = browser
        .script("return document.querySelector('#secret').value")
        .await
        .unwrap();
    assert!(secret.as_str().unwrap().starts_with("svc_"), "{secret}");
    check_page(&browser, "token-revealed").await;
    let before = system.world.tables.snapshot().await.unwrap();

    // A reload: the page says it was shown, and nothing is minted.
    browser.client.refresh().await.unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Token already shown");
    assert!(
        !browser
            .text()
            .await
            .unwrap()
            .contains(secret.as_str().unwrap())
    );
    check_page(&browser, "token-already-shown").await;
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);
    assert_eq!(tokens_of(&system, &account).await.len(), 1);

    // Without a browser: the mint answers a redirect (never the secret), the page shows it
    // once to the session that minted it, then never again.
    let (cookie, csrf) = credentials(&browser).await;
    let minting = post(
        &system,
        &format!("/console/orgs/acme/service-accounts/{account}/tokens"),
        &cookie,
        &format!("csrf={csrf}&action=mint&name=beside&lifetime=30d"),
    )
    .await;
    assert_eq!(minting.status, 303, "{}", minting.body);
    assert!(!minting.body.contains("svc_"));
    let shown = follow_reveal(&system, &cookie, &minting).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("will not be shown again"));
    let cleared = shown.headers["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("reveal=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let again = system
        .request(
            "GET",
            "/console/orgs/acme/tokens/new",
            &[("cookie", &cookie)],
            None,
        )
        .await
        .unwrap();
    assert!(again.body.contains("Token already shown"));
    assert!(!again.body.contains("svc_"));
    assert_eq!(tokens_of(&system, &account).await.len(), 2);
}

#[tokio::test]
async fn a_picked_expiry_date_is_the_tokens_expiry_and_a_date_with_another_lifetime_is_refused() {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    let account = create_account(&system, "dated", "writer").await;
    let page = format!("/console/orgs/acme/service-accounts/{account}");
    let date = (OffsetDateTime::now_utc() + Duration::days(20)).date();
    let day = date.to_string();

    // In the browser: picking a date chooses "until the date below".
    browser.goto(&system.url(&page)).await.unwrap();
    browser.fill("#token-name", "dated-token").await.unwrap();
    let chosen = browser
        .script(&format!(
            "const d = document.getElementById('expiresOn'); d.value = '{day}';
             d.dispatchEvent(new Event('change', {{ bubbles: true }}));
             return document.getElementById('lifetime').value;"
        ))
        .await
        .unwrap();
    assert_eq!(chosen, "date");
    browser
        .follow("#mint-heading + form button[type=submit]")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "Your new token");

    // Without the script: a date with the default lifetime is the expiry too.
    let (cookie, csrf) = credentials(&browser).await;
    let minting = post(
        &system,
        &format!("{page}/tokens"),
        &cookie,
        &format!("csrf={csrf}&action=mint&name=no-script&lifetime=default&expiresOn={day}"),
    )
    .await;
    assert_eq!(minting.status, 303, "{}", minting.body);
    let midnight = format!("{day}T00:00:00Z");
    for made in tokens_of(&system, &account).await {
        assert_eq!(made["expiresAt"], midnight.as_str(), "{made}");
    }

    // A date and another lifetime: refused next to the date, what was typed kept, nothing
    // written.
    let before = system.world.tables.snapshot().await.unwrap();
    let refused = post(
        &system,
        &format!("{page}/tokens"),
        &cookie,
        &format!("csrf={csrf}&action=mint&name=both-ways&lifetime=30d&expiresOn={day}"),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"expiresAt-error\""),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("Pick either a lifetime or an expiry date")
    );
    assert!(refused.body.contains("value=\"both-ways\""));
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);

    // The API's words for programs become sentences for people, on the line they are about.
    let refused = post(
        &system,
        &format!("{page}/tokens"),
        &cookie,
        &format!("csrf={csrf}&action=mint&name=scoped&lifetime=30d&scopes=reader%0Abogus"),
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"scopes-error\""),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("Line 2: Write a role (admin, writer or reader)"),
        "{}",
        refused.body
    );
    assert!(!refused.body.contains('`'), "no syntax for programs");
    assert!(refused.body.contains("reader\nbogus</textarea>"));
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn risks_rotations_confirmations_and_banners_are_on_the_tokens_pages() {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    let account = create_account(&system, "builder", "writer").await;
    let soon = (OffsetDateTime::now_utc() + Duration::days(3))
        .format(&Rfc3339)
        .unwrap();
    let (alpha, _) = mint(&system, &account, json!({"name": "alpha"})).await;
    let (beta, _) = mint(
        &system,
        &account,
        json!({"name": "beta", "expiresAt": soon}),
    )
    .await;
    let (_, leaky_secret) = mint(&system, &account, json!({"name": "leaky"})).await;
    let (gamma, gamma_secret) = mint(&system, &account, json!({"name": "gamma"})).await;
    // gamma is used; leaky is pasted into the public revocation (a leak).
    let bearer = format!("Bearer {gamma_secret}");
    let used = system
        .request("GET", "/hello", &[("authorization", &bearer)], None)
        .await
        .unwrap();
    assert_eq!(used.status, 200);
    let reported = system
        .world
        .tokens(
            ApiCall::new(Shape::RestV1, "POST", "/v1/tokens/revoke")
                .source_ip("198.51.100.7")
                .json(json!({"tokens": [leaky_secret]})),
        )
        .await;
    assert!(reported.status < 300, "{:?}", reported.body);

    let page = format!("/console/orgs/acme/service-accounts/{account}");
    browser.goto(&system.url(&page)).await.unwrap();
    let row = |id: &str| format!("#token-{id}");
    let row_text = |id: String| {
        let browser = &browser;
        async move {
            browser
                .script(&format!(
                    "return document.querySelector('#token-{id}').innerText"
                ))
                .await
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert!(row_text(alpha.clone()).await.contains("never used"));
    assert!(row_text(beta.clone()).await.contains("expires soon"));
    assert!(!row_text(gamma.clone()).await.contains("never used"));
    let leaky_row = browser
        .script("return [...document.querySelectorAll('tbody tr')].find((r) => r.innerText.trim().startsWith('leaky')).innerText")
        .await
        .unwrap();
    assert!(
        leaky_row.as_str().unwrap().contains("leaked"),
        "{leaky_row}"
    );
    // Two tokens of one name are told apart: each control names the token's prefix.
    let labels = browser
        .script("return [...document.querySelectorAll('button[aria-label^=\"Revoke \"]')].map((b) => b.getAttribute('aria-label'))")
        .await
        .unwrap();
    for label in labels.as_array().unwrap() {
        assert!(label.as_str().unwrap().contains("(svc_"), "{label}");
    }
    check_page(&browser, "tokens-risks").await;

    // Rotate alpha with an hour of grace: the success page says what happens to the old one,
    // the list links the old to the new.
    browser
        .follow(&format!(
            "{} button[aria-label^='Rotate alpha (']",
            row(&alpha)
        ))
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "The rotated token");
    let old_note = browser
        .script("return document.querySelector('#old-token').innerText")
        .await
        .unwrap();
    assert!(
        old_note.as_str().unwrap().contains("keeps working until"),
        "{old_note}"
    );
    let successor = token(&system, &account, &alpha).await["rotatedTo"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.follow("main p:last-child a").await.unwrap();
    let note = row_text(alpha.clone()).await;
    assert!(
        note.contains("Replaced by its successor") && note.contains("Works until"),
        "{note}"
    );
    assert!(
        browser
            .exists(&format!("{} a[href='#token-{successor}']", row(&alpha)))
            .await
            .unwrap()
    );
    assert!(browser.exists(&row(&successor)).await.unwrap());

    // Rotating with no grace is confirmed first; the page says the old one stopped.
    let before = system.world.tables.snapshot().await.unwrap();
    browser
        .script(&format!(
            "document.querySelector('#grace-{gamma}').value = '0'; return true;"
        ))
        .await
        .unwrap();
    browser
        .follow(&format!(
            "{} button[aria-label^='Rotate gamma (']",
            row(&gamma)
        ))
        .await
        .unwrap();
    assert!(
        browser
            .heading()
            .await
            .unwrap()
            .ends_with("with no grace period?"),
        "{}",
        browser.heading().await.unwrap()
    );
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);
    check_page(&browser, "confirm-rotate").await;
    browser
        .follow("form.confirm button[type=submit]")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "The rotated token");
    let old_note = browser
        .script("return document.querySelector('#old-token').innerText")
        .await
        .unwrap();
    assert!(
        old_note
            .as_str()
            .unwrap()
            .contains("stopped working at once"),
        "{old_note}"
    );

    // A revocation posted without its confirmation changes nothing; confirmed, it is done
    // and the page says so.
    let (cookie, csrf) = credentials(&browser).await;
    let before = system.world.tables.snapshot().await.unwrap();
    let unconfirmed = post(
        &system,
        &format!("{page}/tokens/{beta}/revoke"),
        &cookie,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(unconfirmed.status, 200);
    assert!(
        unconfirmed.body.contains("Revoke beta ("),
        "{}",
        unconfirmed.body
    );
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);
    let confirmed = post(
        &system,
        &format!("{page}/tokens/{beta}/revoke"),
        &cookie,
        &format!("csrf={csrf}&confirm=yes"),
    )
    .await;
    assert_eq!(confirmed.status, 303);
    let location = confirmed.headers["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with("?done=token-revoked"), "{location}");
    browser.goto(&system.url(&location)).await.unwrap();
    assert!(banner(&browser).await.starts_with("Token revoked"));
    assert_eq!(token(&system, &account, &beta).await["status"], "revoked");
    check_page(&browser, "token-revoked-banner").await;

    // Revoke all is confirmed first too.
    browser.goto(&system.url(&page)).await.unwrap();
    let before = system.world.tables.snapshot().await.unwrap();
    let unconfirmed = post(
        &system,
        &format!("{page}/tokens/revoke-all"),
        &cookie,
        &format!("csrf={csrf}"),
    )
    .await;
    assert!(unconfirmed.body.contains("Revoke every token of builder?"));
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);
}

#[tokio::test]
async fn every_token_is_found_by_search_filter_and_order_and_selected_ones_are_revoked_together() {
    let system = ConsoleWorld::start().await.unwrap();
    let browser = Browser::start().await.unwrap();
    sign_in(&browser, &system, "ada").await;
    let builder = create_account(&system, "builder", "writer").await;
    let doomed = create_account(&system, "doomed", "writer").await;
    let (carol, _) = mint(&system, &builder, json!({"name": "carol"})).await;
    let (alice, _) = mint(&system, &builder, json!({"name": "alice"})).await;
    let (bob, _) = mint(
        &system,
        &builder,
        json!({"name": "bob", "scopes": ["reader"]}),
    )
    .await;
    let (orphan, _) = mint(&system, &doomed, json!({"name": "orphan"})).await;
    api(
        &system,
        "DELETE",
        &format!("/v1/orgs/acme/service-accounts/{doomed}/tokens"),
        None,
    )
    .await;
    api(
        &system,
        "DELETE",
        &format!("/v1/orgs/acme/service-accounts/{doomed}"),
        None,
    )
    .await;

    // A deleted owner is said to be deleted, with no link that leads to "Not found".
    browser
        .goto(&system.url("/console/orgs/acme/tokens"))
        .await
        .unwrap();
    let orphan_row = browser
        .script(&format!(
            "return document.querySelector('#token-{orphan}').innerText"
        ))
        .await
        .unwrap();
    assert!(
        orphan_row.as_str().unwrap().contains("deleted account"),
        "{orphan_row}"
    );
    assert!(
        !browser
            .exists(&format!("a[href$='/service-accounts/{doomed}']"))
            .await
            .unwrap()
    );
    assert!(
        browser
            .exists(&format!(
                "#token-{carol} a[href$='/service-accounts/{builder}']"
            ))
            .await
            .unwrap(),
        "an owner is named and linked"
    );
    check_page(&browser, "all-tokens").await;

    let shown = |query: String| {
        let (browser, system) = (&browser, &system);
        async move {
            browser
                .goto(&system.url(&format!("/console/orgs/acme/tokens?{query}")))
                .await
                .unwrap();
            rows(browser)
                .await
                .iter()
                .map(|row| row.split_whitespace().next().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        }
    };
    // The admin's own token (made by the test world) is in the list too: the filters below
    // pick among the four tokens of this test.
    assert_eq!(shown("q=ali".into()).await, ["alice"]);
    assert_eq!(shown("status=revoked&sort=name".into()).await, ["orphan"]);
    assert_eq!(shown("role=reader".into()).await, ["bob"]);
    let by_name = shown("sort=name&role=writer".into()).await;
    assert_eq!(by_name, ["alice", "carol"]);
    let prefix = token(&system, &builder, &carol).await["displayPrefix"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(shown(format!("q={prefix}")).await, ["carol"]);
    assert_eq!(
        shown("q=nobody-has-this".into()).await,
        Vec::<String>::new()
    );
    assert!(browser.text().await.unwrap().contains("No token matches."));
    check_page(&browser, "all-tokens-empty").await;

    // Select two tokens and revoke them in one confirmed step: one event each.
    browser
        .goto(&system.url("/console/orgs/acme/tokens?sort=name"))
        .await
        .unwrap();
    browser.click(&format!("#select-{alice}")).await.unwrap();
    browser.click(&format!("#select-{bob}")).await.unwrap();
    let before = system.world.tables.snapshot().await.unwrap();
    browser.follow("#bulk-tokens button").await.unwrap();
    assert_eq!(
        browser.heading().await.unwrap(),
        "Revoke 2 selected tokens?"
    );
    assert_eq!(system.world.tables.snapshot().await.unwrap(), before);
    check_page(&browser, "confirm-bulk-revoke").await;
    browser
        .follow("form.confirm button[type=submit]")
        .await
        .unwrap();
    assert_eq!(browser.heading().await.unwrap(), "All tokens");
    assert_eq!(banner(&browser).await, "The selected tokens are revoked.");
    for id in [&alice, &bob] {
        assert_eq!(token(&system, &builder, id).await["status"], "revoked");
    }
    assert_eq!(token(&system, &builder, &carol).await["status"], "active");
    let events = tests::faulty::audit_events(&system.world).await.unwrap();
    for id in [&alice, &bob] {
        let revoked = events
            .iter()
            .filter(|event| {
                event["action"] == "token.revoked" && event["target"]["id"] == id.as_str()
            })
            .count();
        assert_eq!(revoked, 1, "one token.revoked for {id}");
    }
}
