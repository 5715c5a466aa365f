//! OpenID Connect verification against a real provider (`oidc-provider`, the certified npm
//! package, in `tools/oidc-provider/`) and against a JWKS over HTTP served by the test (its
//! discovery document and key set, with switchable misbehaviour), whose tokens are signed with
//! the fixture keys in `tests/fixtures/oidc/` by `jsonwebtoken`.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::Ordering;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oidc::fetch::{FetchError, Fetcher};
use oidc::keys::{KeyCache, KeyCacheLimits, KeyError};
use oidc::{OidcVerifier, Provider, Rejection};
use serde_json::{Value, json};
use tests::issuer::{AUDIENCE, Idp, Mode, b64, fixture, sign};
use time::OffsetDateTime;

/// A verifier of a run on this machine (the test issuers are plain http on loopback).
fn verifier(refresh: Duration) -> OidcVerifier {
    OidcVerifier::new(KeyCache::new(
        Fetcher::new(Duration::from_millis(800)).allowing_local(),
        refresh,
    ))
}

/// [`verifier`], with key-set ages and cache bounds a test can wait for.
fn verifier_with(limits: KeyCacheLimits) -> OidcVerifier {
    OidcVerifier::new(KeyCache::with_limits(
        Fetcher::new(Duration::from_millis(800)).allowing_local(),
        REFRESH,
        limits,
    ))
}

/// The refresh interval of [`verifier_with`].
const REFRESH: Duration = Duration::from_millis(500);

/// Short ages (long enough for a loaded machine to keep to them) and a roomy cache.
const SHORT: KeyCacheLimits = KeyCacheLimits {
    min_age: Duration::from_secs(1),
    max_age: Duration::from_secs(3),
    default_age: Duration::from_secs(2),
    stale_grace: Duration::from_secs(2),
    max_issuers: 16,
    max_bytes: 1 << 20,
};

fn fetches(idp: &Idp) -> (usize, usize) {
    (
        idp.discovery_fetches.load(Ordering::SeqCst),
        idp.jwks_fetches.load(Ordering::SeqCst),
    )
}

async fn verify(v: &OidcVerifier, idp: &Idp, token: &str) -> Result<String, Rejection> {
    v.verify(token, &[idp.provider()], OffsetDateTime::now_utc())
        .await
        .map(|verified| verified.subject)
}

#[tokio::test]
async fn tokens_of_a_configured_provider_are_verified_with_its_published_keys() {
    let idp = Idp::start(&["rsa-1", "ec-1"]).await;
    let v = verifier(Duration::from_secs(60));
    let rsa = sign("rsa-1", Algorithm::RS256, &idp.claims("ada"));
    assert_eq!(verify(&v, &idp, &rsa).await, Ok("ada".to_owned()));
    let ec = sign("ec-1", Algorithm::ES256, &idp.claims("grace"));
    let verified = v
        .verify(&ec, &[idp.provider()], OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(verified.subject, "grace");
    assert_eq!(verified.issuer, idp.issuer);
    assert_eq!(verified.claims["email"], "grace@example.com");
    // Discovery and keys once per container.
    assert_eq!(idp.discovery_fetches.load(Ordering::SeqCst), 1);
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn every_forged_expired_or_misdirected_token_is_refused() {
    let idp = Idp::start(&["rsa-1"]).await;
    let other = Idp::start(&["rsa-2"]).await;
    let v = verifier(Duration::from_secs(60));
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let with = |changes: Value| {
        let mut claims = idp.claims("ada");
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        claims
    };
    let valid = sign("rsa-1", Algorithm::RS256, &idp.claims("ada"));
    let (header, rest) = valid.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let tampered = format!(
        "{header}.{}.{signature}",
        b64(&with(json!({"sub": "root"})))
    );
    let none = format!(
        "{}.{payload}.",
        b64(&json!({"alg": "none", "kid": "rsa-1", "typ": "JWT"}))
    );
    // HS256 with the provider's public key as the secret: refused before any key is used.
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("rsa-1".into());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &idp.claims("ada"),
        &EncodingKey::from_secret(&fixture("rsa-1.pub.pem")),
    )
    .unwrap();
    let no_kid = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &idp.claims("ada"),
        &EncodingKey::from_rsa_pem(&fixture("rsa-1.pem")).unwrap(),
    )
    .unwrap();
    let cases: Vec<(&str, String, Rejection)> = vec![
        (
            "expired",
            sign(
                "rsa-1",
                Algorithm::RS256,
                &with(json!({"exp": now - 120, "iat": now - 900})),
            ),
            Rejection::Expired,
        ),
        (
            "not yet valid",
            sign("rsa-1", Algorithm::RS256, &with(json!({"nbf": now + 600}))),
            Rejection::NotYetValid,
        ),
        (
            "issued too long ago",
            sign(
                "rsa-1",
                Algorithm::RS256,
                &with(json!({"iat": now - 100_000})),
            ),
            Rejection::TooOld,
        ),
        (
            "another audience",
            sign(
                "rsa-1",
                Algorithm::RS256,
                &with(json!({"aud": "someone-else"})),
            ),
            Rejection::Audience,
        ),
        (
            "an issuer nobody configured",
            sign("rsa-2", Algorithm::RS256, &other.claims("ada")),
            Rejection::UnknownIssuer,
        ),
        (
            "signed by a key the provider never published, under its key id",
            {
                let mut header = Header::new(Algorithm::RS256);
                header.kid = Some("rsa-1".into());
                let attacker = EncodingKey::from_rsa_pem(&fixture("attacker.pem")).unwrap();
                jsonwebtoken::encode(&header, &idp.claims("ada"), &attacker).unwrap()
            },
            Rejection::Signature,
        ),
        ("a tampered payload", tampered, Rejection::Signature),
        ("alg none", none, Rejection::Algorithm),
        ("HS256 with the public key", hs256, Rejection::Algorithm),
        ("no key id", no_kid, Rejection::MissingKeyId),
        (
            "an unknown key id",
            sign("rsa-2", Algorithm::RS256, &idp.claims("ada")),
            Rejection::UnknownKey,
        ),
        (
            "no subject",
            sign("rsa-1", Algorithm::RS256, &with(json!({"sub": ""}))),
            Rejection::MissingClaim("sub"),
        ),
        (
            "huge",
            format!("{valid}{}", "A".repeat(20_000)),
            Rejection::TooLarge,
        ),
        ("malformed", "not.a-jwt".to_owned(), Rejection::Malformed),
        ("two parts", "abc.def".to_owned(), Rejection::Malformed),
    ];
    for (case, token, expected) in cases {
        assert_eq!(verify(&v, &idp, &token).await, Err(expected), "{case}");
    }
    assert_eq!(verify(&v, &idp, &valid).await, Ok("ada".to_owned()));
}

#[tokio::test]
async fn a_rotated_key_is_fetched_and_a_flood_of_unknown_key_ids_is_not() {
    let idp = Idp::start(&["rsa-1"]).await;
    // An interval the flood below cannot outlast, however loaded the machine.
    let v = verifier(Duration::from_secs(2));
    let first = sign("rsa-1", Algorithm::RS256, &idp.claims("ada"));
    assert_eq!(verify(&v, &idp, &first).await, Ok("ada".to_owned()));
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);

    // A flood of made-up key ids within the interval: no fetch at all.
    for i in 0..50 {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(format!("made-up-{i}"));
        let token = jsonwebtoken::encode(
            &header,
            &idp.claims("mallory"),
            &EncodingKey::from_rsa_pem(&fixture("attacker.pem")).unwrap(),
        )
        .unwrap();
        assert_eq!(verify(&v, &idp, &token).await, Err(Rejection::UnknownKey));
    }
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 1);

    // The provider rotates to a new key; after the interval, its first token refetches.
    idp.publish(&["rsa-1", "rsa-2"]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let rotated = sign("rsa-2", Algorithm::RS256, &idp.claims("ada"));
    assert_eq!(verify(&v, &idp, &rotated).await, Ok("ada".to_owned()));
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 2);
    assert_eq!(verify(&v, &idp, &first).await, Ok("ada".to_owned()));
    assert_eq!(idp.jwks_fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_provider_that_is_unreachable_slow_oversized_or_malformed_is_a_clear_error_in_bounded_time()
 {
    let token_of = |idp: &Idp| sign("rsa-1", Algorithm::RS256, &idp.claims("ada"));
    for (mode, expected) in [
        (Mode::Slow, "timed out"),
        (Mode::Oversized, "too large"),
        (Mode::Malformed, "malformed"),
        (Mode::Failing, "status"),
        (Mode::OtherIssuer, "issuer mismatch"),
    ] {
        let idp = Idp::start(&["rsa-1"]).await;
        idp.set_mode(mode);
        let v = verifier(Duration::from_secs(60));
        let started = std::time::Instant::now();
        let refused = verify(&v, &idp, &token_of(&idp)).await;
        // The fetcher's 800 ms bound, with a wide margin.
        assert!(started.elapsed() < Duration::from_secs(4), "{mode:?}");
        let Err(Rejection::ProviderUnavailable(error)) = &refused else {
            panic!("{mode:?}: {refused:?}");
        };
        let kind = match error {
            KeyError::Fetch(FetchError::TimedOut { .. }) => "timed out",
            KeyError::Fetch(FetchError::TooLarge { .. }) => "too large",
            KeyError::Fetch(FetchError::Malformed { .. }) => "malformed",
            KeyError::Fetch(FetchError::Status { status: 502, .. }) => "status",
            KeyError::IssuerMismatch { .. } => "issuer mismatch",
            other => panic!("{mode:?}: {other:?}"),
        };
        assert_eq!(kind, expected);
        // Within the interval the failure is answered again without asking the provider.
        let asked = idp.discovery_fetches.load(Ordering::SeqCst);
        assert_eq!(verify(&v, &idp, &token_of(&idp)).await, refused);
        assert_eq!(idp.discovery_fetches.load(Ordering::SeqCst), asked);
    }

    // Nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let provider = Provider {
        issuer: format!("http://127.0.0.1:{port}"),
        audiences: vec![AUDIENCE.to_owned()],
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"iss": provider.issuer, "aud": AUDIENCE, "sub": "ada", "iat": now, "exp": now + 600});
    let token = sign("rsa-1", Algorithm::RS256, &claims);
    let refused = verifier(Duration::from_secs(60))
        .verify(&token, &[provider], OffsetDateTime::now_utc())
        .await;
    assert!(
        matches!(
            refused,
            Err(Rejection::ProviderUnavailable(KeyError::Fetch(
                FetchError::Unreachable { .. }
            )))
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_real_providers_tokens_are_verified_and_mapped_to_roles() {
    use shared::people::{DisplayClaim, IdentityProvider, Issuer, PersonRole, RoleMapping};

    let op = tests::oidc_provider::LocalProvider::start().unwrap();
    let configured = IdentityProvider {
        issuer: Issuer::parse(&op.issuer).unwrap(),
        audiences: vec![AUDIENCE.to_owned()],
        display_claim: DisplayClaim::Email,
        roles: RoleMapping::new(
            "groups",
            vec!["sa-admins".into()],
            vec!["sa-auditors".into()],
        )
        .unwrap(),
        console_client_id: None,
    };
    let provider = Provider {
        issuer: op.issuer.clone(),
        audiences: configured.audiences.clone(),
    };
    let v = verifier(Duration::from_secs(60));
    for (person, role, email) in [
        ("ada", PersonRole::Admin, "ada@example.com"),
        ("grace", PersonRole::Auditor, "grace@example.com"),
    ] {
        let token = op.token_for(person).await.unwrap();
        let verified = v
            .verify(
                &token,
                std::slice::from_ref(&provider),
                OffsetDateTime::now_utc(),
            )
            .await
            .unwrap();
        assert_eq!(verified.subject, person);
        assert_eq!(verified.issuer, op.issuer);
        assert_eq!(configured.roles.role_of(&verified.claims), Some(role));
        assert_eq!(
            configured.display_name(&verified.subject, &verified.claims),
            email
        );
    }
    // The real provider's token, for another audience than the one configured: refused.
    let token = op.token_for("ada").await.unwrap();
    let elsewhere = Provider {
        audiences: vec!["another-api".into()],
        ..provider.clone()
    };
    assert_eq!(
        v.verify(&token, &[elsewhere], OffsetDateTime::now_utc())
            .await,
        Err(Rejection::Audience)
    );
    // A day later, the same token has expired.
    assert_eq!(
        v.verify(
            &token,
            &[provider],
            OffsetDateTime::now_utc() + time::Duration::days(1)
        )
        .await,
        Err(Rejection::Expired)
    );
}

#[tokio::test]
async fn a_loopback_issuer_is_fetched_only_on_a_local_run() {
    let idp = Idp::start(&["rsa-1"]).await;
    let token = sign("rsa-1", Algorithm::RS256, &idp.claims("ada"));
    // As deployed: plain http is never fetched, even to this machine (in Lambda, 127.0.0.1
    // is the Runtime API), so nothing is asked of the address at all.
    let deployed = OidcVerifier::new(KeyCache::new(
        Fetcher::new(Duration::from_millis(800)),
        Duration::from_secs(60),
    ));
    let refused = verify(&deployed, &idp, &token).await;
    assert!(
        matches!(
            refused,
            Err(Rejection::ProviderUnavailable(KeyError::Fetch(
                FetchError::NotHttps(_)
            )))
        ),
        "{refused:?}"
    );
    assert_eq!(fetches(&idp), (0, 0));
    // On a local run, a local issuer is.
    let local = verifier(Duration::from_secs(60));
    assert_eq!(verify(&local, &idp, &token).await, Ok("ada".to_owned()));
    assert_eq!(fetches(&idp), (1, 1));
}

#[tokio::test]
async fn a_key_the_issuer_withdrew_stops_verifying_once_the_key_set_is_older_than_its_max_age() {
    let idp = Idp::start(&["rsa-1", "rsa-2"]).await;
    idp.set_cache_control(Some("public, max-age=2"));
    let v = verifier_with(SHORT);
    let old = sign("rsa-1", Algorithm::RS256, &idp.claims("ada"));
    let new = sign("rsa-2", Algorithm::RS256, &idp.claims("ada"));
    assert_eq!(verify(&v, &idp, &old).await, Ok("ada".to_owned()));
    assert_eq!(fetches(&idp), (1, 1));

    // The issuer withdraws rsa-1 (compromised, rotated out). Within the set's age (the JWKS
    // answer's `max-age=2`) the cached set still stands: no fetch per token.
    idp.publish(&["rsa-2"]);
    assert_eq!(verify(&v, &idp, &old).await, Ok("ada".to_owned()));
    assert_eq!(verify(&v, &idp, &new).await, Ok("ada".to_owned()));
    assert_eq!(fetches(&idp), (1, 1));

    // Once the set is older than that, discovery and keys are fetched again, and the
    // withdrawn key verifies nothing more.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(verify(&v, &idp, &old).await, Err(Rejection::UnknownKey));
    assert_eq!(fetches(&idp), (2, 2));
    assert_eq!(verify(&v, &idp, &new).await, Ok("ada".to_owned()));
    assert_eq!(fetches(&idp), (2, 2));
}

#[tokio::test]
async fn a_key_sets_age_is_its_cache_control_within_bounds_or_the_default() {
    let token_of = |idp: &Idp| sign("rsa-1", Algorithm::RS256, &idp.claims("ada"));
    // (what the JWKS answer says, how long the set is kept within `SHORT`'s bounds)
    for (cache_control, kept) in [
        (None, SHORT.default_age),
        (Some("no-store"), SHORT.min_age),
        (Some("max-age=0"), SHORT.min_age),
        (Some("max-age=86400"), SHORT.max_age),
    ] {
        let idp = Idp::start(&["rsa-1"]).await;
        idp.set_cache_control(cache_control);
        let v = verifier_with(SHORT);
        let started = tokio::time::Instant::now();
        assert_eq!(
            verify(&v, &idp, &token_of(&idp)).await,
            Ok("ada".to_owned())
        );
        // Halfway through its age the set stands; just past it, it is fetched again.
        tokio::time::sleep_until(started + kept / 2).await;
        assert_eq!(
            verify(&v, &idp, &token_of(&idp)).await,
            Ok("ada".to_owned())
        );
        assert_eq!(fetches(&idp), (1, 1), "{cache_control:?}");
        tokio::time::sleep_until(started + kept + Duration::from_millis(300)).await;
        assert_eq!(
            verify(&v, &idp, &token_of(&idp)).await,
            Ok("ada".to_owned())
        );
        assert_eq!(fetches(&idp), (2, 2), "{cache_control:?}");
    }
}

#[tokio::test]
async fn an_issuer_unreachable_past_the_sets_age_is_trusted_for_a_short_grace_then_refused() {
    let idp = Idp::start(&["rsa-1"]).await;
    idp.set_cache_control(Some("max-age=0"));
    let v = verifier_with(SHORT);
    let token = sign("rsa-1", Algorithm::RS256, &idp.claims("ada"));
    assert_eq!(verify(&v, &idp, &token).await, Ok("ada".to_owned()));

    // The set is older than its age (`SHORT.min_age`) and the issuer fails: the keys it last
    // published still verify for the grace, with one fetch per refresh interval, not per
    // token.
    idp.set_mode(Mode::Failing);
    tokio::time::sleep(SHORT.min_age + Duration::from_millis(100)).await;
    assert_eq!(verify(&v, &idp, &token).await, Ok("ada".to_owned()));
    assert_eq!(verify(&v, &idp, &token).await, Ok("ada".to_owned()));
    assert_eq!(fetches(&idp).0, 2);

    // Past the grace: refused, fail closed, until the issuer answers again.
    tokio::time::sleep(SHORT.stale_grace).await;
    let refused = verify(&v, &idp, &token).await;
    assert!(
        matches!(refused, Err(Rejection::ProviderUnavailable(_))),
        "{refused:?}"
    );
    idp.set_mode(Mode::Serve);
    tokio::time::sleep(REFRESH + Duration::from_millis(100)).await;
    assert_eq!(verify(&v, &idp, &token).await, Ok("ada".to_owned()));
}

#[tokio::test]
async fn the_key_cache_holds_a_bounded_number_of_issuers_and_bytes() {
    let a = Idp::start(&["rsa-1"]).await;
    let b = Idp::start(&["rsa-1"]).await;
    let c = Idp::start(&["rsa-1"]).await;
    let token_of = |idp: &Idp| sign("rsa-1", Algorithm::RS256, &idp.claims("ada"));
    let ages = KeyCacheLimits {
        min_age: Duration::from_secs(600),
        max_age: Duration::from_secs(600),
        default_age: Duration::from_secs(600),
        ..SHORT
    };

    // Two issuers at most: the least recently used one is forgotten for a third.
    let v = verifier_with(KeyCacheLimits {
        max_issuers: 2,
        ..ages
    });
    for idp in [&a, &b, &a, &c] {
        assert_eq!(verify(&v, idp, &token_of(idp)).await, Ok("ada".to_owned()));
    }
    assert_eq!(fetches(&a), (1, 1), "a was used more recently than b");
    assert_eq!(verify(&v, &b, &token_of(&b)).await, Ok("ada".to_owned()));
    assert_eq!(fetches(&b), (2, 2), "b was forgotten for c");
    assert_eq!(v.keys().issuers(), 2);

    // Bytes too: one issuer's documents (an RSA key and a discovery document, about 500
    // bytes) fit, two do not.
    let v = verifier_with(KeyCacheLimits {
        max_issuers: 100,
        max_bytes: 800,
        ..ages
    });
    for idp in [&a, &b, &a] {
        assert_eq!(verify(&v, idp, &token_of(idp)).await, Ok("ada".to_owned()));
    }
    assert_eq!(fetches(&a), (3, 3), "a was forgotten for b's bytes");
    assert_eq!(v.keys().issuers(), 1);
    assert!(v.keys().bytes() <= 800);
}

#[test]
fn the_stack_never_allows_plain_http_to_loopback() {
    // `ALLOW_LOCAL_ISSUERS` (and the provisioner's `ALLOW_LOCAL_RESPONSE_URLS`) are for runs
    // on this machine: in Lambda, 127.0.0.1:9001 is the Runtime API.
    let template = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml"),
    )
    .unwrap();
    assert!(template.contains("GITHUB_SECRET_SCANNING_KEYS_URL"));
    for variable in ["ALLOW_LOCAL_ISSUERS", "ALLOW_LOCAL_RESPONSE_URLS"] {
        assert!(!template.contains(variable), "the template sets {variable}");
    }
}
