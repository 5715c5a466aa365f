//! The authorizer's in-process path per event shape: the real `Authorizer::handle_json`, from
//! the event's JSON text as Lambda hands it over to the answer's (read the event, parse the token and check its checksum, hash it, verify, decide, build the policy or
//! simple response with its context), over a record source that hands back fixed records
//! instead of making the one read. Last-used writes are off (an interval of a day,
//! and the records say the token was just used).
//!
//! `cargo bench -p authorizer --bench decision`

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;

use authorizer::{Authorizer, AuthorizerConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use shared::access::{AccessLevel, Grant, Grants, IpAllowlist, ResourceName, Role, Roles, Scopes};
use shared::authn::AuthorizationRecords;
use shared::clock::ManualClock;
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::{
    Actor, NewServiceAccount, NewToken, Organization, ServiceAccount, Token, TokenKind,
};
use shared::policy::TokenPolicy;
use shared::text::DisplayName;
use shared::token::{ParsedToken, TokenFormat, TokenOwner};
use store::{StoreError, Wanted};
use time::{Duration, OffsetDateTime};
use usecases::verify::RecordSource;

/// The records of the one token the benchmark presents, as the read would return them.
#[derive(Debug)]
struct FixedRecords(AuthorizationRecords);

impl RecordSource for FixedRecords {
    fn fetch(
        &self,
        _token: &ParsedToken,
        _wanted: Wanted,
    ) -> impl Future<Output = Result<AuthorizationRecords, StoreError>> + Send {
        std::future::ready(Ok(self.0.clone()))
    }

    fn touch_last_used(
        &self,
        _token: &Token,
        _now: OffsetDateTime,
        _interval: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        std::future::ready(Ok(()))
    }

    /// The benchmark presents a live token: no reuse to answer.
    fn revoke_reused(
        &self,
        _token: &Token,
        _actor: &Actor,
        _now: OffsetDateTime,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        std::future::ready(Ok(0))
    }
}

const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/items/42";

fn world(now: OffsetDateTime, format: &TokenFormat) -> Option<(String, AuthorizationRecords)> {
    let org_id = OrgId::parse("acme").ok()?;
    let actor = Actor::system("bench");
    let org = Organization::new(
        org_id.clone(),
        DisplayName::parse("Acme").ok()?,
        TokenPolicy::default(),
        actor.clone(),
        now,
    );
    let account = ServiceAccount::new(
        org_id.clone(),
        ServiceAccountId::generate().ok()?,
        NewServiceAccount {
            name: DisplayName::parse("ci").ok()?,
            description: None,
            roles: Roles::new([Role::Reader]),
            grants: Grants::parse(vec![Grant {
                resource: ResourceName::parse("brain-1").ok()?,
                level: AccessLevel::Read,
            }])
            .ok()?,
            ip_allowlist: IpAllowlist::parse(&["10.0.0.0/8", "2001:db8::/32"]).ok()?,
        },
        actor.clone(),
        now,
    );
    let parsed =
        ParsedToken::generate(format, &org_id, TokenOwner::Account(account.id.clone())).ok()?;
    let mut token = Token::new(
        TokenKind::ServiceAccount,
        &parsed,
        NewToken {
            name: DisplayName::parse("t").ok()?,
            description: None,
            scopes: Scopes::default(),
            expires_at: Some(now + Duration::days(30)),
        },
        actor,
        now,
    );
    token.last_used_at = Some(now);
    let records = AuthorizationRecords {
        org: Some(Arc::new(org)),
        account: Some(Arc::new(account)),
        token: Some(token),
    };
    Some((parsed.secret().expose_secret().to_owned(), records))
}

fn events(token: &str) -> Vec<(&'static str, Value, &'static str)> {
    let bearer = format!("Bearer {token}");
    vec![
        (
            "rest_token",
            json!({"type": "TOKEN", "authorizationToken": bearer, "methodArn": ARN}),
            "iam",
        ),
        (
            "rest_request",
            json!({
                "type": "REQUEST", "methodArn": ARN, "resource": "/items/{id}", "path": "/items/42", "httpMethod": "GET",
                "headers": {"Authorization": bearer, "User-Agent": "bench"},
                "requestContext": {"path": "/prod/items/42", "stage": "prod", "httpMethod": "GET", "identity": {"sourceIp": "10.1.2.3"}}
            }),
            "iam",
        ),
        (
            "http_api_simple",
            json!({
                "version": "2.0", "type": "REQUEST", "routeArn": ARN, "identitySource": [bearer.clone()], "routeKey": "GET /items/{id}",
                "rawPath": "/items/42", "rawQueryString": "", "headers": {"authorization": bearer.clone()},
                "requestContext": {"accountId": "123456789012", "apiId": "abcdef123", "domainName": "x", "domainPrefix": "x",
                    "http": {"method": "GET", "path": "/items/42", "protocol": "HTTP/1.1", "sourceIp": "10.1.2.3", "userAgent": "bench"},
                    "requestId": "id", "routeKey": "GET /items/{id}", "stage": "prod", "time": "t", "timeEpoch": 0}
            }),
            "simple",
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let now = OffsetDateTime::now_utc();
    let Ok(format) = TokenFormat::generate() else {
        return;
    };
    let Some((token, records)) = world(now, &format) else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        return;
    };
    for (name, event, mode) in events(&token) {
        let Ok(config) = AuthorizerConfig::from_lookup(format.clone(), |key| match key {
            "HTTP_API_RESPONSE" => Some(mode.to_owned()),
            "LAST_USED_INTERVAL_SECONDS" => Some("3600".to_owned()),
            _ => None,
        }) else {
            return;
        };
        // The HTTP API event answered with an IAM policy, too; the REST `REQUEST` event (an
        // Allow) also with the functions' JSON log subscriber, writing its lines to nowhere:
        // what logging the decision costs.
        let variants = match name {
            "http_api_simple" => vec![
                (name, config.clone(), false),
                ("http_api_iam", with_iam(&config), false),
            ],
            "rest_request" => vec![
                (name, config.clone(), false),
                ("rest_request_logged", config, true),
            ],
            _ => vec![(name, config, false)],
        };
        for (name, config, logged) in variants {
            let authorizer = Authorizer::with_clock(
                FixedRecords(records.clone()),
                config,
                Arc::new(ManualClock::new(now)),
            )
            // The decision records (written when the level is `info`, the `_logged` variant),
            // to nowhere: what a record costs the handler, without the write to the pipe.
            .with_records(authorizer::record::Records::new(Box::new(|line| {
                black_box(line);
            })));
            // As Lambda hands it over: the event's JSON text, answered with the answer's.
            let text = event.to_string();
            // Answered with a policy (a `TOKEN` event carries no address, so the account's
            // allowlist refuses it: the Deny path, as costly as the Allow one).
            let answered = runtime.block_on(authorizer.handle_json(&text));
            assert!(
                answered.is_ok(),
                "{name}: the benchmarked request must be answered"
            );
            let mut measure = || {
                c.bench_function(name, |b| {
                    b.iter(|| black_box(runtime.block_on(authorizer.handle_json(black_box(&text)))))
                });
            };
            if logged {
                let subscriber = shared::telemetry::subscriber(
                    tracing::level_filters::LevelFilter::INFO,
                    std::io::sink,
                );
                tracing::subscriber::with_default(subscriber, measure);
            } else {
                measure();
            }
        }
    }
}

fn with_iam(config: &AuthorizerConfig) -> AuthorizerConfig {
    let mut config = config.clone();
    config.http_api_response = authorizer::HttpApiResponse::Iam;
    config
}

criterion_group! {
    name = decision;
    config = Criterion::default().sample_size(50).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(decision);
