//! The DynamoDB store against DynamoDB Local: create, read, update and list for every item
//! type; conflicts instead of overwrites; optimistic concurrency; TTL; and that no item ever
//! holds a token's text.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::access::{
    AccessLevel, Grant, Grants, IpAllowlist, ResourceName, Role, Roles, Scope, Scopes,
};
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::{
    AccountStatus, Actor, ActorKind, NewServiceAccount, NewToken, OrgStatus, Organization,
    ServiceAccount, Token, TokenKind,
};
use shared::policy::TokenPolicy;
use shared::text::{Description, DisplayName};
use shared::token::{ParsedToken, TokenOwner};
use store::{PageLimit, StoreError, TokenListScope, keys};
use tests::{TestTables, strings_in};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-06-01 09:30:00 UTC);

fn operator() -> Actor {
    Actor::new(ActorKind::Operator, "ops@example.com")
}

fn org(slug: &str) -> Organization {
    Organization::new(
        OrgId::parse(slug).unwrap(),
        DisplayName::parse("Acme Research").unwrap(),
        TokenPolicy::default(),
        operator(),
        NOW,
    )
}

fn account(org: &str, name: &str) -> ServiceAccount {
    let fields = NewServiceAccount {
        name: DisplayName::parse(name).unwrap(),
        description: Some(Description::parse("runs the nightly build").unwrap()),
        roles: Roles::new([Role::Writer]),
        grants: Grants::parse(vec![Grant {
            resource: ResourceName::parse("brain-1").unwrap(),
            level: AccessLevel::Write,
        }])
        .unwrap(),
        ip_allowlist: IpAllowlist::parse(&["10.0.0.0/8", "2001:db8::/32"]).unwrap(),
    };
    ServiceAccount::new(
        OrgId::parse(org).unwrap(),
        ServiceAccountId::generate().unwrap(),
        fields,
        operator(),
        NOW,
    )
}

fn mint(org: &str, owner: TokenOwner, expires_at: Option<OffsetDateTime>) -> (ParsedToken, Token) {
    let org = OrgId::parse(org).unwrap();
    let kind = match owner {
        TokenOwner::Account(_) => TokenKind::ServiceAccount,
        TokenOwner::Org => TokenKind::Org,
    };
    let parsed = ParsedToken::generate(&tests::test_token_format(), &org, owner).unwrap();
    let fields = NewToken {
        name: DisplayName::parse("deploy").unwrap(),
        description: None,
        scopes: Scopes::parse(vec![Scope::parse("reader").unwrap()]).unwrap(),
        expires_at,
    };
    let token = Token::new(kind, &parsed, fields, operator(), NOW);
    (parsed, token)
}

#[tokio::test]
async fn organizations_are_created_read_and_updated() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let store = &tables.store;
    let acme = org("acme");
    store.create_org(&acme).await?;
    assert_eq!(store.get_org(&acme.id).await?, Some(acme.clone()));
    assert_eq!(store.get_org(&OrgId::parse("nobody")?).await?, None);

    let mut changed = acme.clone();
    changed.status = OrgStatus::Disabled;
    let stored = store.update_org(&changed).await?;
    assert_eq!(stored.version, 2);
    assert_eq!(store.get_org(&acme.id).await?, Some(stored));
    Ok(())
}

#[tokio::test]
async fn a_duplicate_create_is_a_conflict_not_an_overwrite() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let store = &tables.store;
    let original = org("acme");
    store.create_org(&original).await?;
    let mut impostor = org("acme");
    impostor.name = DisplayName::parse("Someone Else")?;
    assert!(matches!(
        store.create_org(&impostor).await,
        Err(StoreError::AlreadyExists { entity: "org" })
    ));
    assert_eq!(store.get_org(&original.id).await?, Some(original));

    let first = account("acme", "ci");
    store.create_account(&first).await?;
    let mut same_id = account("acme", "other");
    same_id.id = first.id.clone();
    assert!(matches!(
        store.create_account(&same_id).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(
        store.get_account(&first.org, &first.id).await?,
        Some(first.clone())
    );

    let (_, token) = mint("acme", TokenOwner::Account(first.id.clone()), None);
    store.create_token(&token).await?;
    let (_, mut same_token_id) = mint("acme", TokenOwner::Account(first.id.clone()), None);
    same_token_id.id = token.id.clone();
    assert!(matches!(
        store.create_token(&same_token_id).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let stored = store
        .get_token(
            &token.org,
            &TokenOwner::Account(first.id.clone()),
            &token.id,
        )
        .await?;
    assert_eq!(stored, Some(token));
    Ok(())
}

#[tokio::test]
async fn service_accounts_are_created_read_updated_and_listed() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let store = &tables.store;
    store.create_org(&org("acme")).await?;
    let ci = account("acme", "ci");
    store.create_account(&ci).await?;
    assert_eq!(store.get_account(&ci.org, &ci.id).await?, Some(ci.clone()));

    let mut disabled = ci.clone();
    disabled.status = AccountStatus::Disabled;
    disabled.roles = Roles::new([Role::Reader, Role::Admin]);
    disabled.updated_at = NOW + Duration::minutes(5);
    let stored = store.update_account(&disabled).await?;
    assert_eq!(stored.version, 2);
    let read = store.get_account(&ci.org, &ci.id).await?.unwrap();
    assert_eq!(read, stored);
    assert_eq!(read.status, AccountStatus::Disabled);
    assert!(read.roles.contains(Role::Admin));

    let page = store
        .list_accounts(&ci.org, PageLimit::default(), None)
        .await?;
    assert_eq!(page.items, vec![stored]);
    assert_eq!(page.next_cursor, None);
    Ok(())
}

#[tokio::test]
async fn updating_what_does_not_exist_is_not_found() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let ghost = account("acme", "ghost");
    assert!(matches!(
        tables.store.update_account(&ghost).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(
        tables.scan().await?.is_empty(),
        "a failed update wrote nothing"
    );
    Ok(())
}

#[tokio::test]
async fn of_two_concurrent_updates_one_wins_and_the_other_conflicts() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let store = &tables.store;
    let ci = account("acme", "ci");
    store.create_account(&ci).await?;

    // Both writers read version 1 and write concurrently.
    let mut renamed = ci.clone();
    renamed.name = DisplayName::parse("renamed")?;
    let mut disabled = ci.clone();
    disabled.status = AccountStatus::Disabled;
    let (first, second) = tokio::join!(
        store.update_account(&renamed),
        store.update_account(&disabled)
    );

    let (winner, loser) = match (first, second) {
        (Ok(winner), Err(loser)) | (Err(loser), Ok(winner)) => (winner, loser),
        (first, second) => panic!("expected one success and one conflict: {first:?} {second:?}"),
    };
    assert!(matches!(
        loser,
        StoreError::VersionConflict { expected: 1, .. }
    ));
    assert_eq!(
        store.get_account(&ci.org, &ci.id).await?,
        Some(winner.clone())
    );
    assert_eq!(winner.version, 2);

    // The losing writer keeps losing until it re-reads (while the winner's very write,
    // replayed, is recognised as done: an attempt whose answer was lost).
    let (won, lost) = if winner.status == AccountStatus::Disabled {
        (&disabled, &renamed)
    } else {
        (&renamed, &disabled)
    };
    assert!(matches!(
        store.update_account(lost).await,
        Err(StoreError::VersionConflict { .. })
    ));
    assert_eq!(store.update_account(won).await?, winner);
    let mut fresh = store.get_account(&ci.org, &ci.id).await?.unwrap();
    fresh.name = DisplayName::parse("renamed")?;
    assert_eq!(store.update_account(&fresh).await?.version, 3);
    Ok(())
}

#[tokio::test]
async fn tokens_are_created_read_updated_and_listed_by_owner() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let store = &tables.store;
    let acme = OrgId::parse("acme")?;
    let ci = account("acme", "ci");
    let bot = account("acme", "bot");
    let ci_owner = TokenOwner::Account(ci.id.clone());
    let (_, ci_token) = mint("acme", ci_owner.clone(), Some(NOW + Duration::days(30)));
    let (_, ci_token_2) = mint("acme", ci_owner.clone(), Some(NOW + Duration::days(30)));
    let (_, bot_token) = mint("acme", TokenOwner::Account(bot.id.clone()), None);
    let (_, org_token) = mint("acme", TokenOwner::Org, Some(NOW + Duration::hours(1)));
    let (_, foreign) = mint("other", TokenOwner::Org, None);
    for token in [&ci_token, &ci_token_2, &bot_token, &org_token, &foreign] {
        store.create_token(token).await?;
    }

    assert_eq!(
        store.get_token(&acme, &ci_owner, &ci_token.id).await?,
        Some(ci_token.clone())
    );
    assert_eq!(
        store
            .get_token(&acme, &TokenOwner::Org, &ci_token.id)
            .await?,
        None
    );

    let ids = |page: store::Page<Token>| -> HashSet<String> {
        page.items.into_iter().map(|t| t.id.to_string()).collect()
    };
    let limit = PageLimit::default();
    let of_ci = store
        .list_tokens(&acme, &TokenListScope::Owner(ci_owner.clone()), limit, None)
        .await?;
    assert_eq!(
        ids(of_ci),
        HashSet::from([ci_token.id.to_string(), ci_token_2.id.to_string()])
    );
    let org_wide = store
        .list_tokens(&acme, &TokenListScope::Owner(TokenOwner::Org), limit, None)
        .await?;
    assert_eq!(ids(org_wide), HashSet::from([org_token.id.to_string()]));
    let all = store
        .list_tokens(&acme, &TokenListScope::All, limit, None)
        .await?;
    assert_eq!(
        all.items.len(),
        4,
        "every token of the org and none of another"
    );

    let mut revoked = ci_token.clone();
    revoked.revoked_at = Some(NOW + Duration::minutes(1));
    revoked.revoked_by = Some(operator());
    let stored = store.update_token(&revoked).await?;
    assert_eq!(
        store.get_token(&acme, &ci_owner, &ci_token.id).await?,
        Some(stored)
    );
    Ok(())
}

#[tokio::test]
async fn the_ttl_attribute_is_the_expiry_in_epoch_seconds() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let expires_at = datetime!(2027-06-01 09:30:00 UTC);
    let account_id = ServiceAccountId::generate()?;
    let owner = TokenOwner::Account(account_id);
    let (_, expiring) = mint("acme", owner.clone(), Some(expires_at));
    let (_, forever) = mint("acme", owner.clone(), None);
    tables.store.create_token(&expiring).await?;
    tables.store.create_token(&forever).await?;

    let pk = keys::org_pk(&expiring.org);
    let item = tables
        .raw_item(&pk, &keys::token_sk(&owner, &expiring.id))
        .await?
        .unwrap();
    assert_eq!(
        item.get("ttl"),
        Some(&AttributeValue::N("1811842200".into()))
    );
    assert_eq!(expires_at.unix_timestamp(), 1_811_842_200);

    let item = tables
        .raw_item(&pk, &keys::token_sk(&owner, &forever.id))
        .await?
        .unwrap();
    assert_eq!(
        item.get("ttl"),
        None,
        "a token that never expires is never deleted by TTL"
    );
    Ok(())
}

#[tokio::test]
async fn no_item_anywhere_holds_a_token_in_plain_text() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let store = &tables.store;
    store.create_org(&org("acme")).await?;
    let ci = account("acme", "ci");
    store.create_account(&ci).await?;
    let mut minted = Vec::new();
    for owner in [TokenOwner::Account(ci.id.clone()), TokenOwner::Org] {
        let (parsed, token) = mint("acme", owner, Some(NOW + Duration::days(1)));
        store.create_token(&token).await?;
        minted.push(parsed);
    }

    let mut stored = Vec::new();
    for item in tables.scan().await? {
        for value in item.values() {
            strings_in(value, &mut stored);
        }
    }
    for token in &minted {
        let text = token.secret().expose_secret();
        // The 43-character secret opens the last field (key id, tag and checksum follow).
        let last = &text[text.rfind('_').unwrap() + 1..];
        let secret = &last[..43];
        assert_eq!(last.len(), 43 + 1 + 22 + 6);
        assert!(
            stored
                .iter()
                .all(|s| !s.contains(text) && !s.contains(secret))
        );
        assert!(
            stored.contains(&token.hash().to_hex()),
            "the hash is what is stored"
        );
    }
    Ok(())
}

#[tokio::test]
async fn lists_page_through_every_item_once_and_cursors_stay_in_their_org() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let store = &tables.store;
    let acme = OrgId::parse("acme")?;
    let mut expected = HashSet::new();
    for i in 0..7 {
        let a = account("acme", &format!("bot-{i}"));
        expected.insert(a.id.to_string());
        store.create_account(&a).await?;
    }
    store.create_account(&account("other", "not-yours")).await?;

    let limit = PageLimit::parse(3)?;
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list_accounts(&acme, limit, cursor.as_deref()).await?;
        sizes.push(page.items.len());
        seen.extend(page.items.into_iter().map(|a| a.id.to_string()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, [3, 3, 1]);
    assert_eq!(seen.len(), 7, "no duplicates");
    assert_eq!(
        seen.into_iter().collect::<HashSet<_>>(),
        expected,
        "no gaps"
    );

    // A page that ends exactly at the last item has no cursor.
    let six = PageLimit::parse(7)?;
    assert_eq!(
        store.list_accounts(&acme, six, None).await?.next_cursor,
        None
    );

    let first = store.list_accounts(&acme, limit, None).await?;
    let cursor = first.next_cursor.unwrap();
    let other = OrgId::parse("other")?;
    assert!(matches!(
        store.list_accounts(&other, limit, Some(&cursor)).await,
        Err(StoreError::InvalidCursor)
    ));
    assert!(matches!(
        store
            .list_tokens(&acme, &TokenListScope::All, limit, Some(&cursor))
            .await,
        Err(StoreError::InvalidCursor)
    ));
    Ok(())
}

#[tokio::test]
async fn one_batch_read_fetches_what_the_authorizer_needs() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    let store = &tables.store;
    let acme = org("acme");
    store.create_org(&acme).await?;
    let ci = account("acme", "ci");
    store.create_account(&ci).await?;
    let (parsed, token) = mint("acme", TokenOwner::Account(ci.id.clone()), None);
    store.create_token(&token).await?;
    let (org_parsed, org_token) = mint("acme", TokenOwner::Org, None);
    store.create_token(&org_token).await?;

    let records = store.fetch_for_authorization(&parsed).await?;
    assert_eq!(records.org.as_deref(), Some(&acme));
    assert_eq!(records.account.as_deref(), Some(&ci));
    assert!(records.token.unwrap().accepts(&parsed, NOW));

    let records = store.fetch_for_authorization(&org_parsed).await?;
    assert_eq!(records.org.as_deref(), Some(&acme));
    assert_eq!(records.account, None);
    assert!(records.token.unwrap().accepts(&org_parsed, NOW));

    // Well formed, but minted nowhere: nothing matches it.
    let (stranger, _) = mint(
        "acme",
        TokenOwner::Account(ServiceAccountId::generate()?),
        None,
    );
    let records = store.fetch_for_authorization(&stranger).await?;
    assert!(records.token.is_none() && records.account.is_none() && records.org.is_some());
    Ok(())
}

#[tokio::test]
async fn a_corrupt_item_is_an_error_not_a_panic() -> anyhow::Result<()> {
    let tables = TestTables::create().await?;
    tables
        .client
        .put_item()
        .table_name(tables.table.as_str())
        .item("pk", AttributeValue::S("ORG#acme".into()))
        .item("sk", AttributeValue::S("ORG".into()))
        .item("entity", AttributeValue::S("org".into()))
        .item("id", AttributeValue::S("NOT A SLUG".into()))
        .send()
        .await?;
    let result = tables.store.get_org(&OrgId::parse("acme")?).await;
    assert!(
        matches!(result, Err(StoreError::Corrupt { entity: "org", .. })),
        "{result:?}"
    );
    Ok(())
}
