//! What a change to the table means for the audit trail: a pure function from one stream record
//! (already decoded into entities) to at most one [`AuditEvent`].
//!
//! | record | audit event | actor |
//! | --- | --- | --- |
//! | an org, account or token inserted | `org.created`, `service_account.created`, `token.created` | `createdBy` |
//! | a token inserted by rotation (`rotatedFrom`) | none: its rotation is one `token.rotated` event, on the old token | — |
//! | an org modified | `org.updated` | `updatedBy` |
//! | an account modified | `service_account.deleted` (tombstone), `.disabled`, `.enabled` or `.updated` | `deletedBy` / `updatedBy` |
//! | a token modified | `token.leaked` (`leak` set), `token.expiring` (`expiryWarning` set), `token.rotated` (`rotatedTo` set) or `token.revoked` | `leak.reportedBy` / `expiryWarning.warnedBy` / `revokedBy` |
//! | any item modified without a new `version` | none: only `lastUsedAt` changed | — |
//! | a trust policy inserted | `trust_policy.created` | `createdBy` |
//! | a trust policy modified (its tombstone) | `trust_policy.deleted` | `deletedBy` |
//! | a token removed by TTL, not revoked | `token.expired` | the system (`dynamodb.amazonaws.com`) |
//! | a revoked token or a tombstone removed by TTL | none: the end of a retention already recorded | — |
//! | an item removed any other way | `org.deleted`, `service_account.deleted`, `token.deleted` | unknown (outside the API) |
//!
//! `changes` names each changed field with its old and new value, drawn from an allowlist per
//! item type (in `entity`, with the items themselves): the token hash, its display prefix and
//! `lastUsedAt` can never appear. The event's time is the one the API stamped on the item when
//! it has one ([`action_time`]).

mod entity;
mod event;

use time::OffsetDateTime;

use entity::changes;
pub use entity::{Entity, change_fields};
pub use event::{AuditAction, AuditEvent, AuditTarget, AuditTargetKind};

use crate::model::{AccountStatus, Actor, ActorKind};

/// The principal DynamoDB's stream names on the records of its TTL deletions.
pub const TTL_PRINCIPAL: &str = "dynamodb.amazonaws.com";

/// What happened to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Modify,
    Remove,
}

/// One stream record, decoded.
#[derive(Debug, Clone)]
pub struct Change {
    /// The stream's id of the record: the audit event's id, so a redelivered record maps to
    /// the same event.
    pub event_id: String,
    /// When the change was committed (the stream's approximate creation time).
    pub time: OffsetDateTime,
    pub kind: ChangeKind,
    /// Whether DynamoDB's TTL made this change (a `REMOVE` whose user identity is the DynamoDB
    /// service principal).
    pub by_ttl: bool,
    pub old: Option<Entity>,
    pub new: Option<Entity>,
}

/// Why a record cannot become an audit event. It names the problem, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("the record's image is not an org, service account, token or trust policy")]
    UnknownItem,
    #[error("the record's {entity} image could not be decoded")]
    Undecodable { entity: &'static str },
    #[error("the record lacks the image its change needs")]
    MissingImage,
    #[error("the record's old and new images are different items")]
    MismatchedImages,
    #[error("the record's event id is not 1 to 128 letters, digits or `-`")]
    InvalidEventId,
}

/// The audit event `change` becomes, if any (see the module's table).
pub fn audit_event(change: &Change) -> Result<Option<AuditEvent>, MappingError> {
    if change.event_id.is_empty()
        || change.event_id.len() > 128
        || !change
            .event_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(MappingError::InvalidEventId);
    }
    let old = change.old.as_ref();
    let new = change.new.as_ref();
    let decided = match change.kind {
        ChangeKind::Insert => inserted(new.ok_or(MappingError::MissingImage)?),
        ChangeKind::Modify => {
            let (old, new) = old.zip(new).ok_or(MappingError::MissingImage)?;
            modified(old, new)?
        }
        ChangeKind::Remove => removed(old.ok_or(MappingError::MissingImage)?, change),
    };
    let Some((action, actor)) = decided else {
        return Ok(None);
    };
    let subject = new.or(old).ok_or(MappingError::MissingImage)?;
    Ok(Some(AuditEvent {
        id: change.event_id.clone(),
        org: subject.org().clone(),
        time: action_time(change),
        actor,
        action,
        target: subject.target(),
        changes: changes(subject.fields(), old, new),
    }))
}

/// When the action happened: the time the API stamped on the item (to the millisecond; a
/// rotation's own instant, not the end of its grace period), or the stream's time (to the second in AWS, to the minute in DynamoDB Local) when the item has
/// none, as for a TTL removal or a revocation dated at the end of a rotation's grace period.
fn action_time(change: &Change) -> OffsetDateTime {
    const SKEW: time::Duration = time::Duration::minutes(5);
    let stamped = match (change.kind, change.new.as_ref()) {
        (ChangeKind::Insert, Some(Entity::Org(org))) => Some(org.created_at),
        (ChangeKind::Insert, Some(Entity::Account(account))) => Some(account.created_at),
        (ChangeKind::Insert, Some(Entity::Token(token))) => Some(token.created_at),
        (ChangeKind::Insert, Some(Entity::TrustPolicy(policy))) => Some(policy.created_at),
        (ChangeKind::Modify, Some(Entity::TrustPolicy(policy))) => policy.deleted_at,
        (ChangeKind::Modify, Some(Entity::Org(org))) => Some(org.updated_at),
        (ChangeKind::Modify, Some(Entity::Account(account))) => Some(account.updated_at),
        (ChangeKind::Modify, Some(Entity::Token(token))) => match change.old.as_ref() {
            Some(Entity::Token(old)) if old.expiry_warning != token.expiry_warning => token
                .expiry_warning
                .as_ref()
                .map(|warning| warning.warned_at)
                .or(token.revoked_at),
            Some(Entity::Token(old)) if old.rotated_to.is_none() && token.rotated_to.is_some() => {
                token.rotated_at.or(token.revoked_at)
            }
            Some(Entity::Token(old)) if old.leak.is_none() => token
                .leak
                .as_ref()
                .map(|leak| leak.reported_at)
                .or(token.revoked_at),
            _ => token.revoked_at,
        },
        _ => None,
    };
    stamped
        .filter(|at| *at <= change.time + SKEW)
        .unwrap_or(change.time)
}

fn inserted(new: &Entity) -> Option<(AuditAction, Actor)> {
    match new {
        Entity::Org(org) => Some((AuditAction::OrgCreated, org.created_by.clone())),
        Entity::Account(account) => Some((
            AuditAction::ServiceAccountCreated,
            account.created_by.clone(),
        )),
        // The old token's record carries the rotation (one event per rotation).
        Entity::Token(token) if token.rotated_from.is_some() => None,
        Entity::Token(token) => Some((AuditAction::TokenCreated, token.created_by.clone())),
        Entity::TrustPolicy(policy) => {
            Some((AuditAction::TrustPolicyCreated, policy.created_by.clone()))
        }
    }
}

fn modified(old: &Entity, new: &Entity) -> Result<Option<(AuditAction, Actor)>, MappingError> {
    if old.version() == new.version() {
        // Only `lastUsedAt` is written without a new version.
        return Ok(None);
    }
    Ok(match (old, new) {
        (Entity::Org(_), Entity::Org(new)) => {
            Some((AuditAction::OrgUpdated, new.updated_by.clone()))
        }
        (Entity::Account(old), Entity::Account(new)) => {
            let action = if old.deleted_at.is_none() && new.deleted_at.is_some() {
                AuditAction::ServiceAccountDeleted
            } else if old.status != new.status && new.status == AccountStatus::Disabled {
                AuditAction::ServiceAccountDisabled
            } else if old.status != new.status {
                AuditAction::ServiceAccountEnabled
            } else {
                AuditAction::ServiceAccountUpdated
            };
            let actor = match (&action, &new.deleted_by) {
                (AuditAction::ServiceAccountDeleted, Some(by)) => by.clone(),
                _ => new.updated_by.clone(),
            };
            Some((action, actor))
        }
        (Entity::Token(old), Entity::Token(new)) => {
            if old.leak.is_none()
                && let Some(leak) = &new.leak
            {
                // Written on its own, before the revocation it leads to.
                return Ok(Some((AuditAction::TokenLeaked, leak.reported_by.clone())));
            }
            if old.expiry_warning != new.expiry_warning
                && let Some(warning) = &new.expiry_warning
            {
                // A warning is written on its own: nothing else changes with it.
                return Ok(Some((
                    AuditAction::TokenExpiring,
                    warning.warned_by.clone(),
                )));
            }
            let action = if old.rotated_to.is_none() && new.rotated_to.is_some() {
                AuditAction::TokenRotated
            } else if old.revoked_at != new.revoked_at && new.revoked_at.is_some() {
                AuditAction::TokenRevoked
            } else {
                // Tokens change in no other way through the API.
                return Ok(None);
            };
            let actor = new
                .revoked_by
                .clone()
                .unwrap_or_else(|| Actor::new(ActorKind::Unknown, "unattributed"));
            Some((action, actor))
        }
        (Entity::TrustPolicy(old), Entity::TrustPolicy(new)) => {
            if old.deleted_at.is_some() || new.deleted_at.is_none() {
                // Policies change in no other way through the API.
                return Ok(None);
            }
            let actor = new
                .deleted_by
                .clone()
                .unwrap_or_else(|| Actor::new(ActorKind::Unknown, "unattributed"));
            Some((AuditAction::TrustPolicyDeleted, actor))
        }
        _ => return Err(MappingError::MismatchedImages),
    })
}

fn removed(old: &Entity, change: &Change) -> Option<(AuditAction, Actor)> {
    if change.by_ttl {
        let system = Actor::new(ActorKind::System, TTL_PRINCIPAL);
        return match old {
            // A revoked token's or a deleted account's retention ended: already in the trail.
            Entity::Token(token) if token.revoked_at.is_some() => None,
            Entity::Account(account) if account.is_deleted() => None,
            Entity::TrustPolicy(policy) if policy.is_deleted() => None,
            Entity::TrustPolicy(_) => Some((AuditAction::TrustPolicyDeleted, system)),
            Entity::Token(_) => Some((AuditAction::TokenExpired, system)),
            Entity::Account(_) => Some((AuditAction::ServiceAccountDeleted, system)),
            Entity::Org(_) => Some((AuditAction::OrgDeleted, system)),
        };
    }
    // The API never deletes an item: this was done to the table directly.
    let unknown = Actor::new(ActorKind::Unknown, "outside the API");
    let action = match old {
        Entity::Org(_) => AuditAction::OrgDeleted,
        Entity::Account(_) => AuditAction::ServiceAccountDeleted,
        Entity::Token(_) => AuditAction::TokenDeleted,
        Entity::TrustPolicy(_) => AuditAction::TrustPolicyDeleted,
    };
    Some((action, unknown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Grants, IpAllowlist, Roles, Scopes};
    use crate::ids::{OrgId, ServiceAccountId};
    use crate::model::{
        NewServiceAccount, NewToken, Organization, ServiceAccount, Token, TokenKind,
    };
    use crate::policy::TokenPolicy;
    use crate::text::DisplayName;
    use crate::token::{ParsedToken, TokenFormat, TokenOwner};
    use serde_json::{Map, Value};
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-05-01 00:00 UTC);

    fn alice() -> Actor {
        Actor::new(ActorKind::ServiceAccount, "alice")
    }

    fn bob() -> Actor {
        Actor::new(
            ActorKind::IamPrincipal,
            "arn:aws:iam::111122223333:role/bob",
        )
    }

    fn account() -> ServiceAccount {
        let fields = NewServiceAccount {
            name: DisplayName::parse("deployer").unwrap(),
            description: None,
            roles: Roles::default(),
            grants: Grants::default(),
            ip_allowlist: IpAllowlist::default(),
        };
        ServiceAccount::new(
            OrgId::parse("acme").unwrap(),
            ServiceAccountId::generate().unwrap(),
            fields,
            alice(),
            NOW,
        )
    }

    fn token(account: &ServiceAccount) -> (ParsedToken, Token) {
        let parsed = ParsedToken::generate(
            &TokenFormat::generate().unwrap(),
            &account.org,
            TokenOwner::Account(account.id.clone()),
        )
        .unwrap();
        let fields = NewToken {
            name: DisplayName::parse("ci").unwrap(),
            description: None,
            scopes: Scopes::default(),
            expires_at: Some(NOW + Duration::days(30)),
        };
        let token = Token::new(TokenKind::ServiceAccount, &parsed, fields, alice(), NOW);
        (parsed, token)
    }

    fn change(kind: ChangeKind, old: Option<Entity>, new: Option<Entity>) -> Change {
        Change {
            event_id: "c4ca4238a0b923820dcc509a6f75849b".into(),
            time: NOW,
            kind,
            by_ttl: false,
            old,
            new,
        }
    }

    fn event_of(change: &Change) -> AuditEvent {
        audit_event(change).unwrap().expect("an audit event")
    }

    #[test]
    fn inserts_are_creations_by_their_creator() {
        let account = account();
        let event = event_of(&change(
            ChangeKind::Insert,
            None,
            Some(Entity::Account(account.clone())),
        ));
        assert_eq!(event.action, AuditAction::ServiceAccountCreated);
        assert_eq!(event.actor, alice());
        assert_eq!(event.target.id, account.id.to_string());
        assert_eq!(event.target.account, Some(account.id.clone()));
        assert_eq!(
            event.changes["name"],
            serde_json::json!({"new": "deployer"})
        );
        assert_eq!(event.id, "c4ca4238a0b923820dcc509a6f75849b");
        assert_eq!(event.time, NOW);

        let org = Organization::new(
            OrgId::parse("acme").unwrap(),
            DisplayName::parse("Acme").unwrap(),
            TokenPolicy::default(),
            bob(),
            NOW,
        );
        let event = event_of(&change(ChangeKind::Insert, None, Some(Entity::Org(org))));
        assert_eq!(event.action, AuditAction::OrgCreated);
        assert_eq!(event.actor, bob());
        assert_eq!(event.target.kind, AuditTargetKind::Org);
    }

    #[test]
    fn account_changes_are_told_apart() {
        let old = account();
        let mut disabled = old.clone();
        disabled.status = AccountStatus::Disabled;
        disabled.updated_by = bob();
        disabled.version += 1;
        let event = event_of(&change(
            ChangeKind::Modify,
            Some(Entity::Account(old.clone())),
            Some(Entity::Account(disabled.clone())),
        ));
        assert_eq!(event.action, AuditAction::ServiceAccountDisabled);
        assert_eq!(event.actor, bob());
        assert_eq!(
            event.changes,
            serde_json::from_value::<Map<String, Value>>(
                serde_json::json!({"status": {"old": "ACTIVE", "new": "DISABLED"}})
            )
            .unwrap()
        );

        let mut enabled = disabled.clone();
        enabled.status = AccountStatus::Active;
        enabled.version += 1;
        let event = event_of(&change(
            ChangeKind::Modify,
            Some(Entity::Account(disabled)),
            Some(Entity::Account(enabled)),
        ));
        assert_eq!(event.action, AuditAction::ServiceAccountEnabled);

        let mut renamed = old.clone();
        renamed.name = DisplayName::parse("builder").unwrap();
        renamed.version += 1;
        let event = event_of(&change(
            ChangeKind::Modify,
            Some(Entity::Account(old.clone())),
            Some(Entity::Account(renamed)),
        ));
        assert_eq!(event.action, AuditAction::ServiceAccountUpdated);
        assert_eq!(
            event.changes["name"],
            serde_json::json!({"old": "deployer", "new": "builder"})
        );

        let mut deleted = old.clone();
        deleted.delete(bob(), NOW, Duration::days(30));
        deleted.version += 1;
        let event = event_of(&change(
            ChangeKind::Modify,
            Some(Entity::Account(old)),
            Some(Entity::Account(deleted)),
        ));
        assert_eq!(event.action, AuditAction::ServiceAccountDeleted);
        assert_eq!(event.actor, bob());
        assert!(event.changes.contains_key("deletedAt"));
    }

    #[test]
    fn the_time_is_the_items_own_unless_it_lies_ahead() {
        let account = account();
        let mut late = change(
            ChangeKind::Insert,
            None,
            Some(Entity::Account(account.clone())),
        );
        late.time = NOW + Duration::seconds(40);
        assert_eq!(
            event_of(&late).time,
            NOW,
            "the stamp, not the stream's rounding"
        );

        let (_, old) = token(&account);
        let mut rotated = old.clone();
        rotated.rotated_to = Some(old.id.clone());
        rotated.revoke(alice(), NOW + Duration::days(1), Duration::days(30));
        rotated.version += 1;
        let grace = change(
            ChangeKind::Modify,
            Some(Entity::Token(old)),
            Some(Entity::Token(rotated)),
        );
        assert_eq!(
            event_of(&grace).time,
            NOW,
            "a grace period's end is not the action"
        );
    }

    #[test]
    fn last_used_writes_are_not_audited() {
        let old = account();
        let mut used = old.clone();
        used.last_used_at = Some(NOW);
        let change = change(
            ChangeKind::Modify,
            Some(Entity::Account(old)),
            Some(Entity::Account(used)),
        );
        assert_eq!(audit_event(&change).unwrap(), None);
    }

    #[test]
    fn a_leak_report_is_its_own_event_before_the_revocation() {
        let account = account();
        let (_, old) = token(&account);
        let reporter = Actor::secret_scanning("github");
        let mut reported = old.clone();
        reported.leak = Some(Box::new(crate::model::Leak {
            reported_at: NOW + Duration::seconds(5),
            reported_by: reporter.clone(),
            source: Some("content".into()),
            url: Some("https://github.com/octo-org/app/blob/abc/config.yml".into()),
        }));
        reported.version += 1;
        let leaked = change(
            ChangeKind::Modify,
            Some(Entity::Token(old)),
            Some(Entity::Token(reported.clone())),
        );
        let mut later = leaked.clone();
        later.time = NOW + Duration::seconds(30);
        let event = event_of(&later);
        assert_eq!(event.action, AuditAction::TokenLeaked);
        assert_eq!(event.actor, reporter);
        assert_eq!(event.time, NOW + Duration::seconds(5));
        assert_eq!(
            event.changes["leak"]["new"]["url"],
            "https://github.com/octo-org/app/blob/abc/config.yml"
        );
        assert_eq!(event.changes["leak"]["new"]["source"], "content");
        assert_eq!(event.changes.len(), 1, "{:?}", event.changes);

        // The revocation that follows is the reporter's `token.revoked`.
        let mut revoked = reported.clone();
        revoked.revoke(
            reporter.clone(),
            NOW + Duration::seconds(6),
            Duration::days(30),
        );
        revoked.version += 1;
        let event = event_of(&change(
            ChangeKind::Modify,
            Some(Entity::Token(reported)),
            Some(Entity::Token(revoked)),
        ));
        assert_eq!(event.action, AuditAction::TokenRevoked);
        assert_eq!(event.actor, reporter);
        assert!(!event.changes.contains_key("leak"));
    }

    #[test]
    fn an_expiry_warning_and_a_retirement_are_the_policys_events() {
        let account = account();
        let (_, old) = token(&account);
        let warner = Actor::policy(crate::lifecycle::EXPIRY_WARNING_RULE);
        let mut warned = old.clone();
        warned.expiry_warning = Some(Box::new(crate::model::ExpiryWarning {
            days: 14,
            warned_at: NOW + Duration::seconds(7),
            warned_by: warner.clone(),
        }));
        warned.version += 1;
        let event = event_of(&change(
            ChangeKind::Modify,
            Some(Entity::Token(old)),
            Some(Entity::Token(warned.clone())),
        ));
        assert_eq!(event.action, AuditAction::TokenExpiring);
        assert_eq!(event.actor, warner);
        assert_eq!(event.time, NOW + Duration::seconds(7));
        assert_eq!(event.changes["expiryWarning"]["new"]["days"], 14);
        assert_eq!(event.changes.len(), 1, "{:?}", event.changes);

        let retirer = Actor::policy(crate::lifecycle::UNUSED_RULE);
        let mut retired = warned.clone();
        retired.revoke(
            retirer.clone(),
            NOW + Duration::seconds(9),
            Duration::days(30),
        );
        retired.revocation_reason = Some("unused for 90 days".into());
        retired.version += 1;
        let event = event_of(&change(
            ChangeKind::Modify,
            Some(Entity::Token(warned)),
            Some(Entity::Token(retired)),
        ));
        assert_eq!(event.action, AuditAction::TokenRevoked);
        assert_eq!(event.actor.kind, ActorKind::Policy);
        assert_eq!(
            event.changes["revocationReason"]["new"],
            "unused for 90 days"
        );
    }

    #[test]
    fn revocation_and_rotation_are_one_event_each() {
        let account = account();
        let (_, old) = token(&account);
        let mut revoked = old.clone();
        revoked.revoke(bob(), NOW, Duration::days(30));
        revoked.version += 1;
        let event = event_of(&change(
            ChangeKind::Modify,
            Some(Entity::Token(old.clone())),
            Some(Entity::Token(revoked)),
        ));
        assert_eq!(event.action, AuditAction::TokenRevoked);
        assert_eq!(event.actor, bob());
        assert_eq!(event.target.kind, AuditTargetKind::Token);
        assert_eq!(event.target.account, Some(account.id.clone()));

        let (_, mut successor) = token(&account);
        successor.rotated_from = Some(old.id.clone());
        let insert = change(
            ChangeKind::Insert,
            None,
            Some(Entity::Token(successor.clone())),
        );
        assert_eq!(audit_event(&insert).unwrap(), None);

        // Rotated at 00:00:12.345 with an hour of grace; the stream dates the change to its
        // minute (DynamoDB Local) or second (AWS): the event keeps the exact instant.
        let rotated_at = NOW + Duration::milliseconds(12_345);
        let mut rotated = old.clone();
        rotated.rotate_to(
            &successor,
            alice(),
            rotated_at,
            Duration::hours(1),
            Duration::days(30),
        );
        rotated.version += 1;
        let mut rotation = change(
            ChangeKind::Modify,
            Some(Entity::Token(old)),
            Some(Entity::Token(rotated.clone())),
        );
        rotation.time = NOW + Duration::seconds(40);
        let event = event_of(&rotation);
        assert_eq!(event.action, AuditAction::TokenRotated);
        assert_eq!(event.actor, alice());
        assert_eq!(event.time, rotated_at);
        assert!(event.changes["rotatedAt"]["new"].is_string());
        assert_eq!(rotated.revoked_at, Some(rotated_at + Duration::hours(1)));
        assert_eq!(
            event.changes["rotatedTo"],
            serde_json::json!({"new": successor.id.to_string()})
        );
    }

    #[test]
    fn ttl_removals_expire_tokens_and_end_retention_silently() {
        let account = account();
        let (_, token) = token(&account);
        let mut ttl = change(ChangeKind::Remove, Some(Entity::Token(token.clone())), None);
        ttl.by_ttl = true;
        let event = event_of(&ttl);
        assert_eq!(event.action, AuditAction::TokenExpired);
        assert_eq!(event.actor.kind, ActorKind::System);
        assert_eq!(event.actor.id, TTL_PRINCIPAL);

        let mut revoked = token.clone();
        revoked.revoke(bob(), NOW, Duration::days(30));
        ttl.old = Some(Entity::Token(revoked));
        assert_eq!(audit_event(&ttl).unwrap(), None);

        let mut tombstone = account.clone();
        tombstone.delete(bob(), NOW, Duration::days(30));
        ttl.old = Some(Entity::Account(tombstone));
        assert_eq!(audit_event(&ttl).unwrap(), None);

        let manual = change(ChangeKind::Remove, Some(Entity::Token(token)), None);
        let event = event_of(&manual);
        assert_eq!(event.action, AuditAction::TokenDeleted);
        assert_eq!(event.actor.kind, ActorKind::Unknown);
    }

    #[test]
    fn no_event_shows_a_hash_or_a_display_prefix() {
        let account = account();
        let (parsed, token) = token(&account);
        let event = event_of(&change(
            ChangeKind::Insert,
            None,
            Some(Entity::Token(token.clone())),
        ));
        let json = serde_json::to_string(&event).unwrap();
        assert!(!json.contains(&token.hash.to_hex()));
        assert!(!json.contains(&token.display_prefix));
        assert!(!json.contains(parsed.secret().expose_secret()));
        assert!(!json.contains("hash"));
    }

    #[test]
    fn malformed_records_are_refused() {
        let account = account();
        let mut bad_id = change(
            ChangeKind::Insert,
            None,
            Some(Entity::Account(account.clone())),
        );
        bad_id.event_id = "../../etc".into();
        assert_eq!(audit_event(&bad_id), Err(MappingError::InvalidEventId));
        let missing = change(
            ChangeKind::Modify,
            None,
            Some(Entity::Account(account.clone())),
        );
        assert_eq!(audit_event(&missing), Err(MappingError::MissingImage));
        let (_, token) = token(&account);
        let mut newer = token.clone();
        newer.version += 1;
        let mismatched = change(
            ChangeKind::Modify,
            Some(Entity::Account(account)),
            Some(Entity::Token(newer)),
        );
        assert_eq!(
            audit_event(&mismatched),
            Err(MappingError::MismatchedImages)
        );
    }
}
