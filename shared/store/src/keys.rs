//! The table's key design: every item type, its keys and its TTL.
//!
//! One table, string keys `pk` / `sk`, numeric TTL attribute `ttl` (epoch seconds). Everything
//! an organization owns lives in the organization's partition, so that:
//!
//! * an id taken from another organization cannot even be addressed: every key is built from
//!   the organization in the request path, so a foreign id is simply not found (404);
//! * every list the admin API offers is one `Query` of that partition, with `ConsistentRead`
//!   (a list right after a create shows it), and needs no secondary index;
//! * a token names all three keys the authorizer needs (org, owner, token id), so authorizing
//!   it is one read: a `GetItem` of the token (a `BatchGetItem` with its owners when the
//!   owner cache is stale).
//!
//! | item | `pk` | `sk` | `ttl` |
//! | --- | --- | --- | --- |
//! | organization | `ORG#<org>` | `ORG` | — |
//! | service account | `ORG#<org>` | `SA#<account id>` | — |
//! | account token | `ORG#<org>` | `TK#<account id>#<token id>` | expiry |
//! | org-wide token | `ORG#<org>` | `TK#org#<token id>` | expiry |
//! | trust policy | `ORG#<org>` | `TP#<account id>#<policy id>` | a tombstone's retention |
//! | request counter | `RATE#<scope>#<subject>` | `W#<window start>` | its window's end |
//! | a lifecycle run's checkpoint | `LIFECYCLE#<org>` | `WARNINGS` | — |
//!
//! Three sparse global secondary indexes serve the scheduled lifecycle run (keys only): `expiring`
//! (`pk`, `expiring`: a tracked token's expiry), `unused` (`pk`, `activeAt`: a tracked token's
//! last use, or creation) and `lifecycle` (`lifecycle` = `org`, `pk`: an organization whose
//! policy has a lifecycle). See [`shared::lifecycle`] for which tokens are tracked.
//!
//! Account ids are 16 base62 characters, so the owner segment `org` cannot collide with one.

use shared::ids::{OrgId, ServiceAccountId, TokenId, TrustPolicyId};
use shared::token::TokenOwner;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// DynamoDB's TTL attribute, in epoch seconds: DynamoDB deletes the item some time after it.
pub const TTL: &str = "ttl";
/// The item type (`org`, `service_account`, `token`), for readers of raw items and streams.
pub const ENTITY: &str = "entity";
pub const VERSION: &str = "version";

pub const ORG_SK: &str = "ORG";
pub const ACCOUNT_SK_PREFIX: &str = "SA#";
pub const TOKEN_SK_PREFIX: &str = "TK#";
pub const TRUST_POLICY_SK_PREFIX: &str = "TP#";
const ORG_OWNER: &str = "org";
/// The partitions of the rate limits' counters ([`crate::counters`]), outside every
/// organization's.
pub const COUNTER_PK_PREFIX: &str = "RATE#";
/// The partitions of the lifecycle run's checkpoints, outside every organization's.
pub const CHECKPOINT_PK_PREFIX: &str = "LIFECYCLE#";
pub const WARNINGS_CHECKPOINT_SK: &str = "WARNINGS";

/// The index of tracked tokens by expiry, and its sort key (epoch seconds).
pub const EXPIRING_INDEX: &str = "expiring";
pub const EXPIRING: &str = "expiring";
/// The index of tracked tokens by last activity, and its sort key (epoch seconds).
pub const UNUSED_INDEX: &str = "unused";
pub const ACTIVE_AT: &str = "activeAt";
/// The index of organizations with a lifecycle policy, its partition key and only value.
pub const LIFECYCLE_INDEX: &str = "lifecycle";
pub const LIFECYCLE: &str = "lifecycle";
pub const LIFECYCLE_ORGS: &str = "org";

pub fn checkpoint_pk(org: &OrgId) -> String {
    format!("{CHECKPOINT_PK_PREFIX}{org}")
}

pub fn org_pk(org: &OrgId) -> String {
    format!("ORG#{org}")
}

pub fn account_sk(account: &ServiceAccountId) -> String {
    format!("{ACCOUNT_SK_PREFIX}{account}")
}

pub fn token_sk(owner: &TokenOwner, token: &TokenId) -> String {
    format!("{}{token}", token_owner_prefix(owner))
}

pub fn trust_policy_sk(account: &ServiceAccountId, policy: &TrustPolicyId) -> String {
    format!("{}{policy}", trust_policies_prefix(account))
}

/// The `sk` prefix shared by all trust policies of one account.
pub fn trust_policies_prefix(account: &ServiceAccountId) -> String {
    format!("{TRUST_POLICY_SK_PREFIX}{account}#")
}

/// The `sk` prefix shared by all tokens of one owner.
pub fn token_owner_prefix(owner: &TokenOwner) -> String {
    match owner {
        TokenOwner::Account(account) => format!("{TOKEN_SK_PREFIX}{account}#"),
        TokenOwner::Org => format!("{TOKEN_SK_PREFIX}{ORG_OWNER}#"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_design() {
        let org = OrgId::parse("acme").unwrap();
        let account = ServiceAccountId::parse("0123456789abcdef").unwrap();
        let token = TokenId::parse("ABCDEFGHIJKLMNOP").unwrap();
        assert_eq!(org_pk(&org), "ORG#acme");
        assert_eq!(account_sk(&account), "SA#0123456789abcdef");
        let owner = TokenOwner::Account(account);
        assert_eq!(
            token_sk(&owner, &token),
            "TK#0123456789abcdef#ABCDEFGHIJKLMNOP"
        );
        assert_eq!(
            token_sk(&TokenOwner::Org, &token),
            "TK#org#ABCDEFGHIJKLMNOP"
        );
        assert!(token_sk(&owner, &token).starts_with(&token_owner_prefix(&owner)));
    }
}
