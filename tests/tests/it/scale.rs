//! The authorizer at scale: a token this deployment did not mint costs no read, a valid token
//! costs one item once its account and organization are cached, a revocation still applies to
//! the very next request, and a disable, a delete or a policy change applies within the owner
//! cache's bound (at once when it is 0). DynamoDB calls are counted on the real SDK client.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use authorizer::{Authorizer, AuthorizerConfig};
use serde_json::json;
use shared::access::{IpAllowlist, Role, Roles, Scopes};
use shared::ids::ServiceAccountId;
use shared::token::{ParsedToken, TokenFormat, TokenKeys, TokenOwner, TokenPrefix};
use store::DynamoStore;
use tests::admin::AdminWorld;
use tests::counting::{CallCounter, counted_store};
use tests::events::{ARN_BASE, ApiCall, AuthorizerShape, Shape, authorizer_event};
use time::Duration;

struct Counted {
    world: AdminWorld,
    store: DynamoStore,
    counter: CallCounter,
}

async fn counted() -> Counted {
    let world = AdminWorld::new().await;
    let (store, counter) = counted_store(&world.tables).await;
    let store = world.iam.store(&store, tests::iam::Function::Authorizer);
    Counted {
        world,
        store,
        counter,
    }
}

impl Counted {
    /// A fresh authorizer (empty caches) with `settings` beside the defaults.
    fn authorizer(&self, settings: &[(&'static str, &'static str)]) -> Authorizer {
        let settings: BTreeMap<&str, &str> = settings.iter().copied().collect();
        let config = AuthorizerConfig::from_lookup(tests::test_token_format(), |name| {
            settings.get(name).map(|value| (*value).to_owned())
        })
        .unwrap();
        Authorizer::with_clock(self.store.clone(), config, self.world.clock.clone())
    }

    /// Allowed (`Some(true)`), refused with a policy (`Some(false)`) or 401 (`None`), and the
    /// DynamoDB calls it took.
    async fn ask(
        &self,
        authorizer: &Authorizer,
        shape: AuthorizerShape,
        token: &str,
    ) -> (Option<bool>, BTreeMap<String, u32>) {
        self.counter.take();
        self.counter.take_items();
        let event = authorizer_event(
            shape,
            Some(&format!("Bearer {token}")),
            "GET",
            "/items",
            "10.1.2.3",
        );
        let answer = match authorizer.handle(event).await {
            Err(error) if error.to_string() == "Unauthorized" => None,
            Err(error) => panic!("unexpected error {error}"),
            Ok(response) => Some(match response.get("isAuthorized") {
                Some(authorized) => *authorized == true,
                None => infra::gateway::policy_allows(
                    &response["policyDocument"],
                    &format!("{ARN_BASE}/GET/items"),
                ),
            }),
        };
        (answer, self.counter.take())
    }

    async fn reader(&self, allowlist: &[&str]) -> (ServiceAccountId, String) {
        self.world
            .account_with_token(
                &self.world.acme.org,
                Roles::new([Role::Reader]),
                Scopes::default(),
                IpAllowlist::parse(allowlist).unwrap(),
            )
            .await
    }
}

fn calls(counts: &BTreeMap<String, u32>) -> u32 {
    counts.values().sum()
}

#[tokio::test]
async fn a_token_this_deployment_did_not_mint_costs_no_read() {
    let c = counted().await;
    let authorizer = c.authorizer(&[]);
    let (account, genuine) = c.reader(&[]).await;
    // Minted by another deployment with the same prefix: its tag is under another key.
    let elsewhere = TokenFormat::new(
        TokenPrefix::default(),
        TokenKeys::parse("a:another-deployment-another-deployment-key", None).unwrap(),
    );
    let foreign = ParsedToken::generate(
        &elsewhere,
        &c.world.acme.org,
        TokenOwner::Account(account.clone()),
    )
    .unwrap();
    // Well formed with a correct CRC32 (public), but a secret nobody minted.
    let text = genuine.as_str();
    let body = &text[..text.len() - 6];
    let secret_at = body.rfind('_').unwrap() + 1;
    let mut forged = body.to_owned();
    let replacement = if &forged[secret_at..=secret_at] == "A" {
        "B"
    } else {
        "A"
    };
    forged.replace_range(secret_at..=secret_at, replacement);
    let checksum = {
        let crc = crc32_base62(&forged);
        format!("{forged}{crc}")
    };
    for shape in AuthorizerShape::ALL {
        for token in [foreign.secret().expose_secret(), checksum.as_str()] {
            let (answer, counts) = c.ask(&authorizer, shape, token).await;
            assert_eq!(answer, None, "{shape:?}");
            assert_eq!(calls(&counts), 0, "{shape:?}: {counts:?}");
        }
    }
    // Ten thousand fresh forgeries in a row: not one read.
    c.counter.take();
    for _ in 0..10_000 {
        let forgery =
            ParsedToken::generate(&elsewhere, &c.world.acme.org, TokenOwner::Org).unwrap();
        let event = authorizer_event(
            AuthorizerShape::RestRequest,
            Some(&format!("Bearer {}", forgery.secret().expose_secret())),
            "GET",
            "/items",
            "10.1.2.3",
        );
        assert!(authorizer.handle(event).await.is_err());
    }
    assert_eq!(calls(&c.counter.take()), 0);
}

/// The CRC32 of `text` as the token format writes it (six base62 digits).
fn crc32_base62(text: &str) -> String {
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut value = crc32fast::hash(text.as_bytes());
    let mut digits = [b'0'; 6];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(digits.to_vec()).unwrap()
}

#[tokio::test]
async fn a_valid_token_reads_one_item_once_its_owners_are_cached() {
    let c = counted().await;
    let authorizer = c.authorizer(&[]);
    let (_, token) = c.reader(&[]).await;
    let (_, other) = c.reader(&[]).await;
    let (answer, first) = c.ask(&authorizer, AuthorizerShape::HttpApi, &token).await;
    assert_eq!(answer, Some(true));
    assert_eq!(
        first,
        BTreeMap::from([("BatchGetItem".to_owned(), 1), ("UpdateItem".to_owned(), 2)])
    );
    assert_eq!(c.counter.take_items(), 3, "token, account and organization");
    for _ in 0..3 {
        let (answer, next) = c.ask(&authorizer, AuthorizerShape::HttpApi, &token).await;
        assert_eq!(answer, Some(true));
        assert_eq!(
            next,
            BTreeMap::from([("GetItem".to_owned(), 1)]),
            "the token alone"
        );
        assert_eq!(c.counter.take_items(), 1);
    }
    // Another account's token: its own account is not cached yet, its organization is.
    let (answer, another) = c.ask(&authorizer, AuthorizerShape::HttpApi, &other).await;
    assert_eq!(answer, Some(true));
    assert_eq!(another.get("BatchGetItem"), Some(&1));
    assert_eq!(
        c.counter.take_items(),
        2,
        "token and account, not the organization"
    );
    // Past the owner TTL (1 s by default), both are read again with the token.
    c.world.clock.advance(Duration::milliseconds(1001));
    let (answer, stale) = c.ask(&authorizer, AuthorizerShape::HttpApi, &token).await;
    assert_eq!(answer, Some(true));
    assert_eq!(stale.get("BatchGetItem"), Some(&1));
    assert_eq!(c.counter.take_items(), 3);
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_its_very_next_request_with_every_owner_ttl() {
    for ttl in ["0", "1000", "60000"] {
        let c = counted().await;
        let settings = [("OWNER_CACHE_TTL_MS", ttl)];
        let authorizer = c.authorizer(&settings);
        let (account, token) = c.reader(&[]).await;
        for _ in 0..2 {
            assert_eq!(
                c.ask(&authorizer, AuthorizerShape::RestRequest, &token)
                    .await
                    .0,
                Some(true)
            );
        }
        let path = format!(
            "/v1/orgs/acme/service-accounts/{account}/tokens/{}",
            &token[4..20]
        );
        let revoked = c
            .world
            .tokens(ApiCall::new(Shape::HttpV2, "DELETE", &path).bearer(&c.world.acme.token))
            .await;
        assert_eq!(revoked.status, 204);
        for shape in AuthorizerShape::ALL {
            assert_eq!(
                c.ask(&authorizer, shape, &token).await.0,
                None,
                "ttl {ttl} {shape:?}"
            );
        }
    }
}

#[tokio::test]
async fn disabling_deleting_and_policy_changes_apply_within_the_owner_ttl() {
    for change in ["disable", "delete", "allowlist"] {
        for (ttl, bound) in [("0", Duration::ZERO), ("1000", Duration::seconds(1))] {
            let c = counted().await;
            let settings = [("OWNER_CACHE_TTL_MS", ttl)];
            let authorizer = c.authorizer(&settings);
            let (account, token) = c.reader(&[]).await;
            let ask = || c.ask(&authorizer, AuthorizerShape::RestRequest, &token);
            assert_eq!(ask().await.0, Some(true), "{change} ttl {ttl}: before");
            let admin = |call: ApiCall| call.bearer(&c.world.acme.token);
            let item = format!("/v1/orgs/acme/service-accounts/{account}");
            let reply = match change {
                "disable" => {
                    c.world
                        .accounts(admin(ApiCall::new(
                            Shape::HttpV2,
                            "POST",
                            &format!("{item}/disable"),
                        )))
                        .await
                }
                "delete" => {
                    c.world
                        .accounts(admin(ApiCall::new(Shape::HttpV2, "DELETE", &item)))
                        .await
                }
                _ => {
                    c.world
                        .accounts(
                            // From inside the new allowlist: one that left the admin out
                            // would be refused as a lockout.
                            admin(ApiCall::new(Shape::HttpV2, "PATCH", "/v1/orgs/acme"))
                                .source_ip("192.0.2.10")
                                .json(json!({"tokenPolicy": {"ipAllowlist": ["192.0.2.0/24"]}})),
                        )
                        .await
                }
            };
            assert!(reply.status < 300, "{change}: {:?}", reply.body);
            let refused = if change == "allowlist" {
                Some(false)
            } else {
                None
            };
            // A delete also revokes every token of the account, and the token is read on every
            // request: it applies at once whatever the bound.
            if bound > Duration::ZERO && change != "delete" {
                // Within the bound the owners' cached records still answer...
                c.world.clock.advance(bound - Duration::milliseconds(1));
                assert_eq!(
                    ask().await.0,
                    Some(true),
                    "{change} ttl {ttl}: within the bound"
                );
                // ...and past it, the change applies.
                c.world.clock.advance(Duration::milliseconds(2));
            }
            assert_eq!(
                ask().await.0,
                refused,
                "{change} ttl {ttl}: after the bound"
            );
        }
    }
}
