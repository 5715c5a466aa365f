//! The token lifecycle, against DynamoDB Local with the test's clock: the organization's policy
//! through the admin API; expiry warnings exactly once per window across repeated and
//! overlapping runs, and none for expired, revoked or rotated tokens; unused tokens revoked at
//! the threshold and not a second earlier, used ones never; a run cut short by DynamoDB
//! finished by the next without doing anything twice; and the work per run, counted, flat as
//! unrelated tokens are added.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use shared::access::Scopes;
use shared::ids::ServiceAccountId;
use tests::admin::AdminWorld;
use tests::events::{ApiCall, Shape};
use tests::faults::{Fault, Rule};
use tests::faulty::Faulty;
use tests::iam::Function;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use usecases::UseCases;
use usecases::lifecycle::LifecycleReport;

const ORG: &str = "/v1/orgs/acme";
const DAY: Duration = Duration::DAY;

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

/// Changes the organization's policy through the admin API; the policy as answered.
async fn set_policy(world: &AdminWorld, policy: Value) -> Value {
    let reply = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "PATCH", ORG)
                .bearer(&world.acme.token)
                .json(json!({"tokenPolicy": policy})),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["tokenPolicy"].clone()
}

fn tokens_path(account: &ServiceAccountId) -> String {
    format!("{ORG}/service-accounts/{account}/tokens")
}

/// A token of the bootstrap account, minted through the API with `body`: its id and text.
async fn mint(world: &AdminWorld, body: Value) -> (String, String) {
    let reply = world
        .tokens(
            ApiCall::new(Shape::HttpV2, "POST", &tokens_path(&world.acme.account))
                .bearer(&world.acme.token)
                .json(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        reply.body["token"].as_str().unwrap().to_owned(),
    )
}

async fn mint_expiring(world: &AdminWorld, at: OffsetDateTime) -> (String, String) {
    mint(world, json!({"name": "expiring", "expiresAt": rfc3339(at)})).await
}

async fn run(use_cases: &UseCases) -> LifecycleReport {
    let report = use_cases.run_lifecycle().await.unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    report
}

/// The audit events of `token`, oldest first, after the audit writer took the stream.
async fn trail_of(world: &AdminWorld, token: &str) -> Vec<Value> {
    let mut events: Vec<Value> = tests::faulty::audit_events(world)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event["target"]["id"] == token)
        .collect();
    events.sort_by_key(|event| {
        OffsetDateTime::parse(event["time"].as_str().unwrap(), &Rfc3339).unwrap()
    });
    events
}

fn of_action<'a>(events: &'a [Value], action: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|event| event["action"] == action)
        .collect()
}

/// The windows of the `token.expiring` events of `token`, in order.
async fn warnings_of(world: &AdminWorld, token: &str) -> Vec<u64> {
    let events = trail_of(world, token).await;
    of_action(&events, "token.expiring")
        .into_iter()
        .map(|event| {
            assert_eq!(event["actor"]["kind"], "policy");
            assert_eq!(event["actor"]["id"], "expiryWarningDays");
            event["changes"]["expiryWarning"]["new"]["days"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn each_window_warns_once_and_never_an_expired_revoked_or_rotated_token() {
    let world = AdminWorld::new().await;
    let t0 = world.clock_now();
    let policy = set_policy(&world, json!({"expiryWarningDays": [1, 14, 3]})).await;
    assert_eq!(policy["expiryWarningDays"], json!([14, 3, 1]));
    assert_eq!(policy["revokeUnusedAfterDays"], Value::Null);

    let expiry = t0 + DAY * 30;
    let (live, _) = mint_expiring(&world, expiry).await;
    // Minted for 10 days: born inside the 14-day window, expired before the runs below.
    let (expired, _) = mint_expiring(&world, t0 + DAY * 10).await;
    let (revoked, _) = mint_expiring(&world, expiry).await;
    let revoke = ApiCall::new(
        Shape::HttpV2,
        "DELETE",
        &format!("{}/{revoked}", tokens_path(&world.acme.account)),
    )
    .bearer(&world.acme.token);
    assert_eq!(world.tokens(revoke).await.status, 204);
    let (rotated, _) = mint_expiring(&world, expiry).await;
    let rotate = ApiCall::new(
        Shape::HttpV2,
        "POST",
        &format!("{}/{rotated}/rotate", tokens_path(&world.acme.account)),
    )
    .bearer(&world.acme.token)
    .json(json!({}));
    let reply = world.tokens(rotate).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    // The successor keeps the lifetime: it is warned like `live`.
    let successor = reply.body["id"].as_str().unwrap().to_owned();

    let uc = &world.use_cases_as(Function::Lifecycle);
    assert_eq!(run(uc).await.warned, 0, "nothing is in a window yet");
    world.clock.set(expiry - DAY * 14 - Duration::SECOND);
    assert_eq!(run(uc).await.warned, 0, "a second before the window");
    world.clock.set(expiry - DAY * 14);
    assert_eq!(
        run(uc).await.warned,
        2,
        "live and the successor enter 14 days"
    );
    assert_eq!(run(uc).await.warned, 0, "a repeated run");
    let (a, b) = tokio::join!(run(uc), run(uc));
    assert_eq!(a.warned + b.warned, 0, "overlapping runs");
    world.clock.set(expiry - DAY * 10);
    assert_eq!(run(uc).await.warned, 0, "still inside 14 days");
    world.clock.set(expiry - DAY * 3 + Duration::HOUR);
    // Overlapping runs: with one clock, both write the very same warning, and DynamoDB
    // applies it once (the trail below has one event per window).
    let (a, b) = tokio::join!(run(uc), run(uc));
    assert!((2..=4).contains(&(a.warned + b.warned)), "{a:?} {b:?}");
    world.clock.set(expiry - DAY);
    assert_eq!(run(uc).await.warned, 2);
    assert_eq!(run(uc).await.warned, 0);
    world.clock.set(expiry + Duration::SECOND);
    assert_eq!(run(uc).await.warned, 0, "expired");

    assert_eq!(warnings_of(&world, &live).await, [14, 3, 1]);
    assert_eq!(warnings_of(&world, &successor).await, [14, 3, 1]);
    for token in [&expired, &revoked, &rotated] {
        assert_eq!(warnings_of(&world, token).await, [0u64; 0], "{token}");
    }
    // The warning is stamped with the run's time, and the token shows its last warning.
    let events = trail_of(&world, &live).await;
    let first = of_action(&events, "token.expiring")[0];
    assert_eq!(
        first["changes"]["expiryWarning"]["new"]["warnedAt"],
        rfc3339(expiry - DAY * 14)
    );
    let reply = world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "GET",
                &format!("{}/{live}", tokens_path(&world.acme.account)),
            )
            .bearer(&world.acme.token),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["expiryWarning"]["days"], 1);
    assert_eq!(reply.body["expiryWarning"]["warnedBy"]["kind"], "policy");
    // The audit API filters on the action.
    let reply = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "GET", &format!("{ORG}/audit-events"))
                .bearer(&world.acme.token)
                .query("action", "token.expiring"),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["items"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn unused_tokens_are_revoked_at_the_threshold_and_used_ones_are_not() {
    let world = AdminWorld::new().await;
    let t0 = world.clock_now();
    set_policy(&world, json!({"revokeUnusedAfterDays": 30})).await;
    let (unused, unused_text) = mint(&world, json!({"name": "unused", "lifetime": "1y"})).await;
    let (used, used_text) = mint(&world, json!({"name": "used", "lifetime": "1y"})).await;
    let admin_id = ParsedId::of(&world.acme.token);
    // `used` is used through the authorizer, the admin token through the admin API.
    let use_both = || async {
        assert!(world.passes_the_authorizer(&used_text).await);
        let reply = world
            .accounts(ApiCall::new(Shape::HttpV2, "GET", ORG).bearer(&world.acme.token))
            .await;
        assert_eq!(reply.status, 200);
    };
    world.clock.set(t0 + DAY * 10);
    use_both().await;

    let uc = &world.use_cases_as(Function::Lifecycle);
    world.clock.set(t0 + DAY * 30 - Duration::SECOND);
    assert_eq!(run(uc).await.retired, 0, "a second before the threshold");
    assert!(world.works(&unused_text).await);
    world.clock.set(t0 + DAY * 30);
    // Overlapping runs (one event: the trail below).
    let (a, b) = tokio::join!(run(uc), run(uc));
    assert!((1..=2).contains(&(a.retired + b.retired)), "{a:?} {b:?}");
    assert!(!world.works(&unused_text).await);
    assert!(world.works(&used_text).await);
    assert!(world.works(&world.acme.token).await);
    assert_eq!(run(uc).await.retired, 0, "a repeated run");

    world.clock.set(t0 + DAY * 35);
    use_both().await;
    world.clock.set(t0 + DAY * 64);
    assert_eq!(run(uc).await.retired, 0, "used 29 days ago");
    world.clock.set(t0 + DAY * 65);
    assert_eq!(run(uc).await.retired, 2, "30 days after their last use");
    assert!(!world.works(&used_text).await);

    let revoked_by_policy = |events: &[Value]| -> Vec<Value> {
        of_action(events, "token.revoked")
            .into_iter()
            .map(|event| {
                assert_eq!(event["actor"]["kind"], "policy");
                assert_eq!(event["actor"]["id"], "revokeUnusedAfterDays");
                event["changes"]["revocationReason"]["new"].clone()
            })
            .collect()
    };
    let reasons = revoked_by_policy(&trail_of(&world, &unused).await);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    let expected = format!("unused for 30 days: never used since {}", rfc3339(t0));
    assert_eq!(reasons[0], expected.as_str());
    let reasons = revoked_by_policy(&trail_of(&world, &used).await);
    let expected = format!(
        "unused for 30 days: last used {}",
        rfc3339(shared::policy::truncate_to_seconds(t0 + DAY * 35))
    );
    assert_eq!(reasons, [Value::from(expected)]);
    assert_eq!(
        revoked_by_policy(&trail_of(&world, &admin_id.0).await).len(),
        1
    );
}

/// A token's id, from its text.
struct ParsedId(String);

impl ParsedId {
    fn of(token: &str) -> Self {
        let parsed = shared::token::ParsedToken::parse(
            &tests::test_token_format(),
            shared::token::TokenSecret::new(token.to_owned()),
        )
        .unwrap();
        Self(parsed.id().to_string())
    }
}

#[tokio::test]
async fn a_run_cut_short_is_finished_by_the_next_without_repeating_anything() {
    let faulty = Faulty::new().await;
    let world = &faulty.world;
    let t0 = world.clock_now();
    set_policy(
        world,
        json!({"expiryWarningDays": [14], "revokeUnusedAfterDays": 30}),
    )
    .await;
    let mut tokens = Vec::new();
    for _ in 0..6 {
        tokens.push(mint_expiring(world, t0 + DAY * 40).await.0);
    }
    // Each is now in the 14-day window and unused for 30 days: a warning then a retirement.
    world.clock.set(t0 + DAY * 30);
    // DynamoDB drops every write after the third (a warning is an UpdateItem, a revocation a
    // PutItem).
    faulty
        .proxy()
        .set(Rule::on(Fault::Reset, &["PutItem", "UpdateItem"]).after(3));
    let cut = faulty
        .use_cases_as(Function::Lifecycle)
        .run_lifecycle()
        .await
        .unwrap();
    assert_eq!(cut.warned, 3, "{cut:?}");
    assert_eq!(cut.retired, 0, "{cut:?}");
    assert!(cut.failed >= 3, "{cut:?}");
    faulty.proxy().clear();
    let finished = faulty
        .use_cases_as(Function::Lifecycle)
        .run_lifecycle()
        .await
        .unwrap();
    assert_eq!(finished.failed, 0, "{finished:?}");
    assert_eq!(finished.warned, 3, "the other three: {finished:?}");
    assert!(finished.retired >= 6, "{finished:?}");
    let again = faulty
        .use_cases_as(Function::Lifecycle)
        .run_lifecycle()
        .await
        .unwrap();
    assert_eq!((again.warned, again.retired, again.failed), (0, 0, 0));
    for token in &tokens {
        let events = trail_of(world, token).await;
        assert_eq!(of_action(&events, "token.expiring").len(), 1, "{token}");
        assert_eq!(of_action(&events, "token.revoked").len(), 1, "{token}");
    }
}

#[tokio::test]
async fn the_work_per_run_grows_with_the_tokens_concerned_not_the_table() {
    let world = AdminWorld::new().await;
    let t0 = world.clock_now();
    set_policy(
        &world,
        json!({"expiryWarningDays": [14, 3, 1], "revokeUnusedAfterDays": 400}),
    )
    .await;
    for _ in 0..3 {
        mint_expiring(&world, t0 + DAY * 20).await;
    }
    let (store, counter) = tests::counting::counted_store(&world.tables).await;
    let uc = UseCases {
        store: world.iam.store(&store, Function::Lifecycle),
        ..world.context.clone()
    };
    run(&uc).await;
    // The three cross 14 days between two hourly runs.
    world.clock.set(t0 + DAY * 6 - Duration::MINUTE);
    run(&uc).await;
    world.clock.set(t0 + DAY * 6 + Duration::HOUR);
    let crossing = run(&uc).await;
    assert_eq!(crossing.warned, 3);
    world.clock.set(t0 + DAY * 6 + Duration::HOUR * 2);
    counter.take();
    let quiet = run(&uc).await;
    let quiet_calls = counter.take();
    assert_eq!(quiet.warned, 0);
    assert_eq!(
        crossing.items_read,
        quiet.items_read + 6,
        "each token concerned is read twice (its index entry, then itself)"
    );

    // 150 unrelated tokens in this organization and 50 in another, without a policy.
    for _ in 0..150 {
        world
            .mint(&world.acme.org, &world.acme.account, Scopes::default())
            .await;
    }
    let globex = world.bootstrap_org("globex").await;
    for _ in 0..50 {
        world
            .mint(&globex.org, &globex.account, Scopes::default())
            .await;
    }
    world.clock.set(t0 + DAY * 6 + Duration::HOUR * 3);
    let after = run(&uc).await;
    let after_calls = counter.take();
    assert_eq!(after.items_read, quiet.items_read, "{quiet:?} {after:?}");
    assert_eq!(after_calls, quiet_calls);
    assert!(after.items_read < 10, "{after:?}");
    println!(
        "lifecycle run: {} items read with 3 tokens crossing a window, {} without, {} with 200 more tokens in the table; calls {after_calls:?}",
        crossing.items_read, quiet.items_read, after.items_read
    );
}

#[tokio::test]
async fn the_policy_is_validated_audited_and_turned_off_with_null() {
    let world = AdminWorld::new().await;
    let before = world.tables.snapshot().await.unwrap();
    let cases = [
        (
            json!({"expiryWarningDays": [0]}),
            "tokenPolicy.expiryWarningDays",
        ),
        (
            json!({"expiryWarningDays": [366]}),
            "tokenPolicy.expiryWarningDays",
        ),
        (
            json!({"expiryWarningDays": [3, 3]}),
            "tokenPolicy.expiryWarningDays",
        ),
        (
            json!({"expiryWarningDays": [1, 2, 3, 4, 5, 6]}),
            "tokenPolicy.expiryWarningDays",
        ),
        (
            json!({"expiryWarningDays": [2.5]}),
            "tokenPolicy.expiryWarningDays",
        ),
        (
            json!({"revokeUnusedAfterDays": 0}),
            "tokenPolicy.revokeUnusedAfterDays",
        ),
        (
            json!({"revokeUnusedAfterDays": 3651}),
            "tokenPolicy.revokeUnusedAfterDays",
        ),
        (
            json!({"revokeUnusedAfterDays": 1.5}),
            "tokenPolicy.revokeUnusedAfterDays",
        ),
    ];
    for (policy, field) in cases {
        let reply = world
            .accounts(
                ApiCall::new(Shape::HttpV2, "PATCH", ORG)
                    .bearer(&world.acme.token)
                    .json(json!({"tokenPolicy": policy})),
            )
            .await;
        assert_eq!(reply.status, 422, "{policy}: {:?}", reply.body);
        let fields: Vec<&str> = reply.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, [field], "{policy}");
    }
    let reply = world
        .accounts(
            ApiCall::new(Shape::HttpV2, "PATCH", ORG)
                .bearer(&world.acme.token)
                .json(json!({"tokenPolicy": {"expiryWarningDays": ["14"]}})),
        )
        .await;
    assert_eq!(reply.status, 422, "{:?}", reply.body);
    assert_eq!(
        world.tables.snapshot().await.unwrap(),
        before,
        "bad input changed the table"
    );

    let on = set_policy(
        &world,
        json!({"expiryWarningDays": [14.0, 7], "revokeUnusedAfterDays": 90}),
    )
    .await;
    assert_eq!(on["expiryWarningDays"], json!([14, 7]));
    assert_eq!(on["revokeUnusedAfterDays"], 90);
    // Other fields of the policy leave these alone; null and [] turn them off.
    let kept = set_policy(&world, json!({"allowSelfRotation": false})).await;
    assert_eq!(kept["revokeUnusedAfterDays"], 90);
    let off = set_policy(
        &world,
        json!({"expiryWarningDays": [], "revokeUnusedAfterDays": null}),
    )
    .await;
    assert_eq!(off["expiryWarningDays"], json!([]));
    assert_eq!(off["revokeUnusedAfterDays"], Value::Null);

    let updates: Vec<Value> = tests::faulty::audit_events(&world)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event["action"] == "org.updated")
        .collect();
    assert!(
        updates.iter().any(|event| {
            event["changes"]["tokenPolicy"]["new"]["revokeUnusedAfterDays"] == 90
                && event["changes"]["tokenPolicy"]["new"]["expiryWarningDays"] == json!([14, 7])
        }),
        "{updates:?}"
    );
}

#[tokio::test]
async fn a_policy_turned_on_late_or_changed_warns_once_and_a_disabled_organization_is_left_alone() {
    let world = AdminWorld::new().await;
    let t0 = world.clock_now();
    let (token, _) = mint_expiring(&world, t0 + DAY * 30).await;
    let uc = &world.use_cases_as(Function::Lifecycle);
    // Turned on five days before the expiry: the token, already inside 14 days, is warned.
    world.clock.set(t0 + DAY * 25);
    set_policy(&world, json!({"expiryWarningDays": [14]})).await;
    assert_eq!(run(uc).await.warned, 1);
    assert_eq!(run(uc).await.warned, 0);
    // A new window: the checkpoint is for other windows, every token inside one is read
    // again, and only the new window warns, when the token enters it.
    set_policy(&world, json!({"expiryWarningDays": [14, 3]})).await;
    assert_eq!(run(uc).await.warned, 0);
    world.clock.set(t0 + DAY * 27 + Duration::HOUR);
    assert_eq!(run(uc).await.warned, 1);
    // A larger window than the last warning's is never warned again.
    set_policy(&world, json!({"expiryWarningDays": [7]})).await;
    assert_eq!(run(uc).await.warned, 0);
    assert_eq!(warnings_of(&world, &token).await, [14, 3]);

    // A disabled organization: nothing is retired until it is enabled again.
    set_policy(&world, json!({"revokeUnusedAfterDays": 1})).await;
    let mut org = world.context.org(&world.acme.org).await.unwrap();
    org.status = shared::model::OrgStatus::Disabled;
    let org = world.context.store.update_org(&org).await.unwrap();
    world.clock.set(t0 + DAY * 29);
    let report = run(uc).await;
    assert_eq!((report.warned, report.retired), (0, 0), "{report:?}");
    let mut org = org;
    org.status = shared::model::OrgStatus::Active;
    world.context.store.update_org(&org).await.unwrap();
    assert!(
        run(uc).await.retired >= 2,
        "the token and the unused admin token"
    );
}
