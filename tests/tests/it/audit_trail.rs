//! The audit trail: real stream records read from DynamoDB Local's stream, fed to the real
//! audit writer, and read back through the admin API.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration as StdDuration;

use audit::{AuditWriter, BatchSummary};
use aws_lambda_events::event::dynamodb::{Event, EventRecord, UserIdentity};
use aws_sdk_dynamodb::types::AttributeValue;
use infra::local::sdk_config_for;
use infra::stream::{StreamPoller, StreamReader};
use serde_json::{Value, json};
use shared::ids::ServiceAccountId;
use tests::admin::{AdminWorld, IAM_ADMIN, OrgAdmin, Reply};
use tests::events::{ApiCall, Shape};
use tests::iam::Function;
use tests::strings_in;
use time::Duration;

/// An admin world with a reader at the start of its table's stream and the real writer.
struct AuditWorld {
    world: AdminWorld,
    reader: StreamReader,
    writer: AuditWriter,
}

impl AuditWorld {
    async fn new() -> Self {
        let world = AdminWorld::new().await;
        let config = sdk_config_for(
            &world.tables.endpoint,
            &store::client::ClientSettings::BACKGROUND,
        )
        .await;
        let reader = StreamReader::open(&config, world.tables.table.as_str())
            .await
            .unwrap();
        let writer = AuditWriter::new(
            world.iam.audit_store(&world.tables, Function::Audit),
            Duration::days(400),
        );
        Self {
            world,
            reader,
            writer,
        }
    }

    /// The stream records written since the last call.
    async fn records(&mut self) -> Vec<EventRecord> {
        self.reader.read().await.unwrap()
    }

    /// [`Self::records`] but those that only stamped a last use (the admin token's first
    /// use): no audit event, so the counts of the tests below are of changes.
    async fn changes(&mut self) -> Vec<EventRecord> {
        let mut records = self.records().await;
        records.retain(|record| !last_use_only(record));
        records
    }

    async fn deliver(&self, records: Vec<EventRecord>) -> (Vec<Option<String>>, BatchSummary) {
        let mut event = Event::default();
        event.records = records;
        let (response, summary) = self.writer.handle_with_summary(event).await;
        let failures = response
            .batch_item_failures
            .into_iter()
            .map(|failure| failure.item_identifier)
            .collect();
        (failures, summary)
    }

    /// Feeds everything new on the stream to the writer; asserts that nothing failed.
    async fn sync(&mut self) -> BatchSummary {
        let records = self.records().await;
        let (failures, summary) = self.deliver(records).await;
        assert!(failures.is_empty(), "{failures:?}");
        summary
    }

    fn acme(&self) -> &OrgAdmin {
        &self.world.acme
    }

    async fn audit(&self, admin: &OrgAdmin, query: &[(&str, &str)]) -> Reply {
        let mut call = ApiCall::new(
            Shape::HttpV2,
            "GET",
            &format!("/v1/orgs/{}/audit-events", admin.org),
        )
        .bearer(&admin.token);
        for (name, value) in query {
            call = call.query(name, value);
        }
        self.world.accounts(call).await
    }

    /// Every event of acme, newest first, through the API.
    async fn events(&self, query: &[(&str, &str)]) -> Vec<Value> {
        let reply = self.audit(self.acme(), query).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body["items"].as_array().unwrap().clone()
    }

    /// Writes what the stream has, and asserts it became exactly one new event.
    async fn one_new_event(&mut self, before: usize) -> Value {
        self.sync().await;
        let events = self.events(&[("limit", "100")]).await;
        assert_eq!(events.len(), before + 1, "{events:#?}");
        events[0].clone()
    }

    async fn create_account(&self, name: &str) -> ServiceAccountId {
        let reply = self
            .world
            .accounts(
                ApiCall::new(Shape::HttpV2, "POST", "/v1/orgs/acme/service-accounts")
                    .bearer(&self.acme().token)
                    .json(json!({"name": name, "roles": ["reader"]})),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        ServiceAccountId::parse(reply.body["id"].as_str().unwrap()).unwrap()
    }

    async fn mint(&self, account: &ServiceAccountId) -> Value {
        let reply = self
            .world
            .tokens(
                ApiCall::new(
                    Shape::HttpV2,
                    "POST",
                    &format!("/v1/orgs/acme/service-accounts/{account}/tokens"),
                )
                .bearer(&self.acme().token)
                .json(json!({"name": "ci"})),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        reply.body
    }
}

fn admin_actor_is(event: &Value, admin: &OrgAdmin) {
    let actor = &event["actor"];
    assert_eq!(actor["kind"], "service_account", "{event:#}");
    assert_eq!(actor["id"], admin.account.as_str(), "{event:#}");
    assert_eq!(actor["sourceIp"], "198.51.100.7", "{event:#}");
    assert!(actor["userAgent"].is_string(), "{event:#}");
    assert!(actor["requestId"].is_string(), "{event:#}");
    assert!(actor["tokenId"].is_string(), "{event:#}");
}

#[tokio::test]
async fn each_admin_action_is_exactly_one_event_with_its_actor() {
    let mut audit = AuditWorld::new().await;

    // The bootstrap: the org, its admin account and the admin's token.
    let summary = audit.sync().await;
    assert_eq!(summary.written, 3, "{summary:?}");
    let events = audit.events(&[]).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.len(), 3);
    for expected in ["org.created", "service_account.created", "token.created"] {
        assert!(actions.contains(&expected), "{actions:?}");
    }
    for event in &events {
        assert_eq!(event["actor"], json!({"kind": "operator", "id": "tests"}));
    }

    let mut count = 3;
    let account = audit.create_account("deployer").await;
    let event = audit.one_new_event(count).await;
    count += 1;
    assert_eq!(event["action"], "service_account.created");
    assert_eq!(event["target"]["kind"], "service_account");
    assert_eq!(event["target"]["id"], account.as_str());
    assert_eq!(event["changes"]["name"], json!({"new": "deployer"}));
    admin_actor_is(&event, audit.acme());

    let item = format!("/v1/orgs/acme/service-accounts/{account}");
    let admin_token = audit.acme().token.clone();
    let call =
        |method: &str, path: &str| ApiCall::new(Shape::HttpV2, method, path).bearer(&admin_token);
    let patch = call("PATCH", &item).json(json!({"name": "builder"}));
    assert_eq!(audit.world.accounts(patch).await.status, 200);
    let disable = call("POST", &format!("{item}/disable"));
    assert_eq!(audit.world.accounts(disable).await.status, 200);
    let enable = call("POST", &format!("{item}/enable"));
    assert_eq!(audit.world.accounts(enable).await.status, 200);
    audit.sync().await;
    let events = audit.events(&[("limit", "3")]).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "service_account.enabled",
            "service_account.disabled",
            "service_account.updated"
        ]
    );
    assert_eq!(
        events[2]["changes"],
        json!({"name": {"old": "deployer", "new": "builder"}})
    );
    assert_eq!(
        events[1]["changes"],
        json!({"status": {"old": "ACTIVE", "new": "DISABLED"}})
    );
    events
        .iter()
        .for_each(|event| admin_actor_is(event, audit.acme()));
    count += 3;

    let minted = audit.mint(&account).await;
    let token_id = minted["id"].as_str().unwrap().to_owned();
    let event = audit.one_new_event(count).await;
    count += 1;
    assert_eq!(event["action"], "token.created");
    assert_eq!(
        event["target"],
        json!({"kind": "token", "id": token_id, "account": account.as_str()})
    );
    admin_actor_is(&event, audit.acme());

    // Using a token writes its last-used time: no audit event.
    let parsed = shared::token::ParsedToken::parse(
        &tests::test_token_format(),
        shared::token::TokenSecret::new(minted["token"].as_str().unwrap().into()),
    )
    .unwrap();
    let records = audit
        .world
        .context
        .store
        .fetch_for_authorization(&parsed)
        .await
        .unwrap();
    audit
        .world
        .context
        .store
        .touch_last_used(
            records.token.as_ref().unwrap(),
            audit.world.clock_now(),
            Duration::minutes(5),
        )
        .await
        .unwrap();
    let summary = audit.sync().await;
    assert_eq!(summary.written, 0, "{summary:?}");
    assert!(summary.skipped >= 1, "{summary:?}");

    // Rotation changes two items and is one event, on the rotated token.
    let tokens = format!("{item}/tokens");
    let rotated = audit
        .world
        .tokens(call("POST", &format!("{tokens}/{token_id}/rotate")))
        .await;
    assert_eq!(rotated.status, 201, "{:?}", rotated.body);
    let event = audit.one_new_event(count).await;
    count += 1;
    assert_eq!(event["action"], "token.rotated");
    assert_eq!(event["target"]["id"], token_id.as_str());
    assert_eq!(event["changes"]["rotatedTo"]["new"], rotated.body["id"]);
    admin_actor_is(&event, audit.acme());
    // At the rotation's exact instant, as the API shows it (the stream's time is cut to the
    // minute by DynamoDB Local), not at the end of the grace period.
    let old = audit
        .world
        .tokens(call("GET", &format!("{tokens}/{token_id}")))
        .await;
    assert_eq!(old.status, 200, "{:?}", old.body);
    assert!(old.body["rotatedAt"].is_string(), "{:?}", old.body);
    let at = |value: &serde_json::Value| {
        time::OffsetDateTime::parse(
            value.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert_eq!(at(&event["time"]), at(&old.body["rotatedAt"]));
    assert_eq!(at(&event["time"]), audit.world.clock_now());

    let new_id = rotated.body["id"].as_str().unwrap();
    let revoke = audit
        .world
        .tokens(call("DELETE", &format!("{tokens}/{new_id}")))
        .await;
    assert_eq!(revoke.status, 204, "{:?}", revoke.body);
    let event = audit.one_new_event(count).await;
    count += 1;
    assert_eq!(event["action"], "token.revoked");
    assert_eq!(event["target"]["id"], new_id);
    assert!(event["changes"]["revokedAt"]["new"].is_string());
    admin_actor_is(&event, audit.acme());

    // Deleting the account (whose tokens are all revoked already) is one event.
    let delete = audit.world.accounts(call("DELETE", &item)).await;
    assert_eq!(delete.status, 204);
    let event = audit.one_new_event(count).await;
    assert_eq!(event["action"], "service_account.deleted");
    admin_actor_is(&event, audit.acme());

    // An IAM administrator is recorded by ARN.
    let other = audit.create_account("iam-made").await;
    audit.sync().await;
    let by_iam = ApiCall::new(
        Shape::RestV1,
        "POST",
        &format!("/v1/orgs/acme/service-accounts/{other}/disable"),
    )
    .iam(IAM_ADMIN);
    assert_eq!(audit.world.accounts(by_iam).await.status, 200);
    audit.sync().await;
    let event = &audit.events(&[("limit", "1")]).await[0];
    assert_eq!(event["action"], "service_account.disabled");
    assert_eq!(event["actor"]["kind"], "iam_principal");
    assert_eq!(event["actor"]["id"], IAM_ADMIN);
}

#[tokio::test]
async fn redelivered_records_add_nothing() {
    let mut audit = AuditWorld::new().await;
    let account = audit.create_account("deployer").await;
    audit.mint(&account).await;
    let records = audit.changes().await;
    assert_eq!(records.len(), 5, "bootstrap (3), account, token");
    let (failures, first) = audit.deliver(records.clone()).await;
    assert!(failures.is_empty());
    assert_eq!(first.written, 5);
    let before = audit.world.tables.scan_audit().await.unwrap();

    let (failures, again) = audit.deliver(records.clone()).await;
    assert!(failures.is_empty());
    assert_eq!(again.written, 0);
    assert_eq!(again.already_written, 5);
    // A retry from the middle of the batch, as Lambda makes after a partial failure.
    let (failures, tail) = audit.deliver(records[2..].to_vec()).await;
    assert!(failures.is_empty());
    assert_eq!(tail.already_written, 3);
    assert_eq!(audit.world.tables.scan_audit().await.unwrap(), before);
}

#[tokio::test]
async fn a_record_that_cannot_be_written_is_reported_and_the_rest_are_written() {
    let mut audit = AuditWorld::new().await;
    let account = audit.create_account("deployer").await;
    audit.mint(&account).await;
    let mut records = audit.changes().await;
    assert_eq!(records.len(), 5);
    // The account's record, damaged: its name is no longer a name.
    let broken = records
        .iter()
        .position(|record| {
            record.change.new_image.get("entity")
                == Some(&serde_dynamo::AttributeValue::S("service_account".into()))
                && record.change.new_image.get("id")
                    == Some(&serde_dynamo::AttributeValue::S(account.as_str().into()))
        })
        .unwrap();
    records[broken]
        .change
        .new_image
        .insert("name".into(), serde_dynamo::AttributeValue::N("42".into()));
    let sequence = records[broken].change.sequence_number.clone();
    assert!(sequence.is_some());

    let (failures, summary) = audit.deliver(records.clone()).await;
    assert_eq!(failures, vec![sequence]);
    assert_eq!(summary.written, 4);
    assert_eq!(summary.failed, 1);
    let events = audit.events(&[]).await;
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| e["target"]["id"] != account.as_str()));

    // Lambda retries from the failed record; once it is readable, it is written.
    let retry = audit.records_again(&records, broken).await;
    let (failures, summary) = audit.deliver(retry).await;
    assert!(failures.is_empty());
    assert_eq!(summary.written, 1);
    assert_eq!(summary.already_written, records.len() - broken - 1);
    assert_eq!(audit.events(&[]).await.len(), 5);
}

/// Whether `record` only stamped an item's last use (its version did not move).
fn last_use_only(record: &EventRecord) -> bool {
    let version = |image: &serde_dynamo::Item| image.get("version").cloned();
    record.event_name == "MODIFY"
        && version(&record.change.old_image) == version(&record.change.new_image)
}

impl AuditWorld {
    /// The records from `from` on, as first read (the damaged one undamaged again).
    async fn records_again(&self, damaged: &[EventRecord], from: usize) -> Vec<EventRecord> {
        let config = sdk_config_for(
            &self.world.tables.endpoint,
            &store::client::ClientSettings::BACKGROUND,
        )
        .await;
        let mut fresh = StreamReader::open(&config, self.world.tables.table.as_str())
            .await
            .unwrap();
        let mut all = fresh.read().await.unwrap();
        all.retain(|record| !last_use_only(record));
        assert_eq!(all.len(), damaged.len());
        all[from..].to_vec()
    }
}

#[tokio::test]
async fn a_ttl_removal_is_token_expired_and_a_manual_delete_is_unattributed() {
    let mut audit = AuditWorld::new().await;
    let account = audit.create_account("deployer").await;
    let minted = audit.mint(&account).await;
    audit.sync().await;
    let token_id = minted["id"].as_str().unwrap();
    let sk = format!("TK#{account}#{token_id}");
    // DynamoDB Local does not run TTL; the delete is real, and the record gets the user
    // identity that DynamoDB's TTL puts on its deletions.
    audit
        .world
        .tables
        .client
        .delete_item()
        .table_name(audit.world.tables.table.as_str())
        .key("pk", AttributeValue::S("ORG#acme".into()))
        .key("sk", AttributeValue::S(sk))
        .send()
        .await
        .unwrap();
    let mut records = audit.records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].event_name, "REMOVE");
    let manual = records.clone();
    let mut identity = UserIdentity::default();
    identity.type_ = "Service".into();
    identity.principal_id = "dynamodb.amazonaws.com".into();
    records[0].user_identity = Some(identity);
    let (failures, summary) = audit.deliver(records).await;
    assert!(failures.is_empty());
    assert_eq!(summary.written, 1);
    // A removal has only the stream's time (to the minute in DynamoDB Local, to the second in
    // AWS), which may sort before the token's creation, stamped to the nanosecond.
    let event = &audit
        .events(&[("limit", "1"), ("action", "token.expired")])
        .await[0];
    assert_eq!(event["action"], "token.expired");
    assert_eq!(event["target"]["id"], token_id);
    assert_eq!(
        event["actor"],
        json!({"kind": "system", "id": "dynamodb.amazonaws.com"})
    );

    // The same removal without the service principal was done outside the API.
    let mut manual = manual;
    manual[0].event_id = format!("{}-manual", manual[0].event_id);
    audit.deliver(manual).await;
    let event = &audit
        .events(&[("limit", "1"), ("action", "token.deleted")])
        .await[0];
    assert_eq!(event["actor"]["kind"], "unknown");

    // Lambda's own JSON for a TTL record parses to the same identity.
    let lambda: EventRecord = serde_json::from_value(json!({
        "eventID": "1", "eventName": "REMOVE", "awsRegion": "eu-west-1",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {"SequenceNumber": "1", "SizeBytes": 1}
    }))
    .unwrap();
    let change = audit::change_of(&lambda).unwrap();
    assert!(change.by_ttl);
    assert_eq!(
        shared::audit::audit_event(&change),
        Err(shared::audit::MappingError::MissingImage)
    );
}

#[tokio::test]
async fn no_audit_event_holds_a_secret_or_a_hash() {
    let mut audit = AuditWorld::new().await;
    let account = audit.create_account("deployer").await;
    let minted = audit.mint(&account).await;
    let token_id = minted["id"].as_str().unwrap();
    let rotated = audit
        .world
        .tokens(
            ApiCall::new(
                Shape::HttpV2,
                "POST",
                &format!("/v1/orgs/acme/service-accounts/{account}/tokens/{token_id}/rotate"),
            )
            .bearer(&audit.acme().token),
        )
        .await;
    assert_eq!(rotated.status, 201);
    audit.sync().await;

    let mut forbidden = vec![
        audit.acme().token.clone(),
        minted["token"].as_str().unwrap().to_owned(),
        rotated.body["token"].as_str().unwrap().to_owned(),
    ];
    for item in audit.world.tables.scan().await.unwrap() {
        if let Some(AttributeValue::S(hash)) = item.get("hash") {
            forbidden.push(hash.clone());
        }
        if let Some(AttributeValue::S(prefix)) = item.get("displayPrefix") {
            forbidden.push(prefix.clone());
        }
    }
    assert!(forbidden.len() >= 7, "three tokens, three hashes, prefixes");
    let stored = audit.world.tables.scan_audit().await.unwrap();
    assert!(stored.len() >= 6);
    for item in stored {
        let mut strings = Vec::new();
        strings_in(&AttributeValue::M(item), &mut strings);
        for text in strings {
            assert_ne!(text, "hash");
            for secret in &forbidden {
                assert!(!text.contains(secret.as_str()), "{text}");
            }
        }
    }
}

#[tokio::test]
async fn the_query_filters_pages_and_never_crosses_orgs() {
    let mut audit = AuditWorld::new().await;
    let globex = audit.world.bootstrap_org("globex").await;
    let first = audit.create_account("first").await;
    let second = audit.create_account("second").await;
    let first_token = audit.mint(&first).await;
    audit.mint(&second).await;
    let revoke = ApiCall::new(
        Shape::HttpV2,
        "DELETE",
        &format!(
            "/v1/orgs/acme/service-accounts/{first}/tokens/{}",
            first_token["id"].as_str().unwrap()
        ),
    )
    .bearer(&audit.acme().token);
    assert_eq!(audit.world.tokens(revoke).await.status, 204);
    audit.sync().await;
    // GSI reads are eventually consistent; DynamoDB Local applies them at once.

    let all = audit.events(&[("limit", "100")]).await;
    assert_eq!(all.len(), 3 + 2 + 2 + 1, "{all:#?}");
    assert!(all.iter().all(|e| e["org"] == "acme"));
    let times: Vec<&str> = all.iter().map(|e| e["time"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");

    // Per account: the account and its tokens.
    let of_first = audit.events(&[("account", first.as_str())]).await;
    let actions: Vec<&str> = of_first
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["token.revoked", "token.created", "service_account.created"]
    );
    // Per token.
    let token_id = first_token["id"].as_str().unwrap();
    let of_token = audit.events(&[("token", token_id)]).await;
    assert_eq!(of_token.len(), 2);
    assert!(of_token.iter().all(|e| e["target"]["id"] == token_id));
    let wrong_account = audit
        .events(&[("token", token_id), ("account", second.as_str())])
        .await;
    assert!(wrong_account.is_empty());
    // Per action, per actor.
    let created = audit.events(&[("action", "service_account.created")]).await;
    assert_eq!(created.len(), 3);
    let by_admin = audit
        .events(&[("actor", audit.acme().account.as_str())])
        .await;
    assert_eq!(by_admin.len(), 5);
    // Per time range: everything is at or after the first event, nothing before it.
    let oldest = all.last().unwrap()["time"].as_str().unwrap().to_owned();
    assert_eq!(
        audit
            .events(&[("since", &oldest), ("limit", "100")])
            .await
            .len(),
        all.len()
    );
    assert!(audit.events(&[("until", &oldest)]).await.is_empty());

    // Pages of two, in the same order, each page cursor-linked, the last without a cursor.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "2")];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.as_str()));
        }
        let reply = audit.audit(audit.acme(), &query).await;
        assert_eq!(reply.status, 200);
        paged.extend(reply.body["items"].as_array().unwrap().iter().cloned());
        match reply.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all);

    // An empty range is an empty page (`until` at `since`, or before it), and so is a cursor
    // from a wider query outside a narrower range (it was a server error: DynamoDB refuses a
    // start key outside the key condition).
    assert!(
        audit
            .events(&[("since", &oldest), ("until", &oldest)])
            .await
            .is_empty()
    );
    assert!(
        audit
            .events(&[("since", "2999-01-01T00:00:00Z"), ("until", &oldest)])
            .await
            .is_empty()
    );
    let second_page = {
        let reply = audit.audit(audit.acme(), &[("limit", "1")]).await;
        reply.body["nextCursor"].as_str().unwrap().to_owned()
    };
    for outside in [
        ("until", oldest.as_str()),
        ("since", "2999-01-01T00:00:00Z"),
    ] {
        assert!(
            audit
                .events(&[outside, ("cursor", &second_page)])
                .await
                .is_empty(),
            "{outside:?}"
        );
    }
    // Inside the range, the cursor pages as before.
    assert_eq!(
        audit
            .events(&[
                ("since", &oldest),
                ("cursor", &second_page),
                ("limit", "100")
            ])
            .await,
        all[1..]
    );

    // Another org's trail is its own; a cursor does not cross over, nor does an admin.
    let theirs = audit.audit(&globex, &[]).await;
    assert_eq!(theirs.status, 200);
    let theirs = theirs.body["items"].as_array().unwrap().clone();
    assert_eq!(theirs.len(), 3);
    assert!(theirs.iter().all(|e| e["org"] == "globex"));
    let acme_cursor = audit.audit(audit.acme(), &[("limit", "1")]).await.body["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    audit
        .audit(&globex, &[("cursor", &acme_cursor)])
        .await
        .assert_problem(400, "invalid-cursor");
    let crossing = OrgAdmin {
        org: globex.org.clone(),
        ..audit.acme().clone()
    };
    audit
        .audit(&crossing, &[])
        .await
        .assert_problem(404, "not-found");

    // Bad filters are 400s; a non-admin is refused.
    for bad in [
        vec![("action", "token.exploded")],
        vec![("since", "yesterday")],
        vec![("account", "nope")],
        vec![("limit", "0")],
        vec![("colour", "blue")],
        vec![("action", "token.created"), ("action", "token.revoked")],
    ] {
        audit
            .audit(audit.acme(), &bad)
            .await
            .assert_problem(400, "invalid-parameter");
    }
    let (_, reader_token) = audit
        .world
        .account_with_token(
            &audit.acme().org,
            shared::access::Roles::new([shared::access::Role::Reader]),
            shared::access::Scopes::default(),
            shared::access::IpAllowlist::default(),
        )
        .await;
    let reader = OrgAdmin {
        token: reader_token,
        ..audit.acme().clone()
    };
    audit
        .audit(&reader, &[])
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn the_local_poller_keeps_the_trail_live() {
    let audit = AuditWorld::new().await;
    let config = sdk_config_for(
        &audit.world.tables.endpoint,
        &store::client::ClientSettings::BACKGROUND,
    )
    .await;
    let reader = StreamReader::open(&config, audit.world.tables.table.as_str())
        .await
        .unwrap();
    let writer = AuditWriter::new(
        audit
            .world
            .iam
            .audit_store(&audit.world.tables, Function::Audit),
        Duration::days(400),
    );
    let poller = tokio::spawn(StreamPoller::new(reader, writer).run());
    let account = audit.create_account("live").await;
    let mut found = false;
    for _ in 0..100 {
        let events = audit.events(&[("account", account.as_str())]).await;
        if events.len() == 1 {
            found = true;
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    poller.abort();
    assert!(found, "the poller wrote the account's creation");
    assert_eq!(audit.events(&[("limit", "100")]).await.len(), 4);
}
