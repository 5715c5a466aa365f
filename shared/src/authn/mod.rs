//! Who is calling: a presented token checked against what the store holds, and the
//! permissions it carries. Pure: it takes the records the one read returned and decides,
//! so the authorizer and the admin functions (which verify bearer tokens themselves when no
//! authorizer stands in front of them) share one decision, tested without I/O.
//!
//! It also defines the context our authorizer attaches to a request
//! ([`Principal::to_context`]), which the admin functions read back
//! ([`Principal::from_context`]) instead of verifying the token a second time.

mod context;
mod denial;

use std::net::IpAddr;
use std::sync::Arc;

use time::OffsetDateTime;

pub use context::{Context, ContextValue};
pub use denial::{Denial, Forbidden, Unauthenticated};

use crate::access::{Grant, Grants, Role, Roles, Scope, Scopes};
use crate::ids::{OrgId, ServiceAccountId, TokenId};
use crate::model::{
    AccountStatus, Actor, ActorKind, OrgStatus, Organization, ServiceAccount, Token, TokenKind,
    TokenStatus,
};
use crate::token::{ParsedToken, TokenOwner};

/// What deciding on a token needs: the token's record, its account's (none for an org-wide
/// token) and its organization's, as the store found them (`None`: not found). The owners are
/// shared (`Arc`): a container's owner cache hands the same records to every request of an
/// organization without copying them.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationRecords {
    pub org: Option<Arc<Organization>>,
    /// Always `None` for org-wide tokens.
    pub account: Option<Arc<ServiceAccount>>,
    pub token: Option<Token>,
}

/// What a caller may do: roles and per-resource grants, after the token's scopes narrowed
/// the account's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    pub roles: Roles,
    pub grants: Grants,
}

impl Permissions {
    /// An account's permissions seen through a token's scopes. No scopes: everything the
    /// account holds. Otherwise each scope is clamped to what the account holds *now* (its
    /// roles may have been reduced since the token was minted).
    pub fn narrowed(roles: &Roles, grants: &Grants, scopes: &Scopes) -> Self {
        if scopes.is_empty() {
            return Self {
                roles: roles.clone(),
                grants: grants.clone(),
            };
        }
        let strongest = roles.iter().max().copied();
        let mut narrowed_roles = Vec::new();
        let mut narrowed_grants = Vec::new();
        for scope in scopes.iter() {
            match scope {
                Scope::Role(wanted) => {
                    if let Some(held) = strongest {
                        narrowed_roles.push((*wanted).min(held));
                    }
                }
                Scope::Grant(wanted) => {
                    if let Some(held) = grants.level_on(&wanted.resource) {
                        narrowed_grants.push(Grant {
                            resource: wanted.resource.clone(),
                            level: wanted.level.min(held),
                        });
                    }
                }
            }
        }
        Self {
            roles: Roles::new(narrowed_roles),
            grants: merge_grants(narrowed_grants),
        }
    }

    /// An org-wide token holds exactly its scopes.
    pub fn of_org_token(scopes: &Scopes) -> Self {
        let mut roles = Vec::new();
        let mut grants = Vec::new();
        for scope in scopes.iter() {
            match scope {
                Scope::Role(role) => roles.push(*role),
                Scope::Grant(grant) => grants.push(grant.clone()),
            }
        }
        Self {
            roles: Roles::new(roles),
            grants: merge_grants(grants),
        }
    }
}

/// Keeps the strongest level per resource.
fn merge_grants(mut grants: Vec<Grant>) -> Grants {
    grants.sort_by(|a, b| a.resource.cmp(&b.resource).then(b.level.cmp(&a.level)));
    grants.dedup_by(|later, kept| later.resource == kept.resource);
    Grants::parse(grants).unwrap_or_default()
}

/// The principal behind a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub org: OrgId,
    /// The service account; `None` for an org-wide token.
    pub account: Option<ServiceAccountId>,
    pub token_id: TokenId,
    pub token_kind: TokenKind,
    /// The token's own scopes, as minted (the effective permissions are in `permissions`).
    pub scopes: Scopes,
    pub permissions: Permissions,
}

/// Checks a well-formed token against the records fetched for it: the token must exist,
/// match its hash, be neither revoked nor expired; its organization and account (if any)
/// must exist and be active; and the source address must be inside both allowlists.
pub fn authenticate(
    presented: &ParsedToken,
    records: &AuthorizationRecords,
    source_ip: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<Principal, Denial> {
    if !records
        .token
        .as_ref()
        .is_some_and(|token| token.hash.matches(presented))
    {
        return Err(Denial::Unauthenticated(Unauthenticated::UnknownToken));
    }
    admit(
        &TokenClaim {
            id: presented.id(),
            org: presented.org(),
            owner: presented.owner(),
        },
        records,
        source_ip,
        now,
    )
}

/// Which token a principal is, as a presented token's text says (or, for a console session
/// started with a token, as the session remembers it).
#[derive(Debug, Clone, Copy)]
pub struct TokenClaim<'a> {
    pub id: &'a TokenId,
    pub org: &'a OrgId,
    pub owner: &'a TokenOwner,
}

/// [`authenticate`]'s rules once the secret is known to be the token's (or was, when a
/// console session started): every rule but the hash, against records read now.
pub fn admit(
    claim: &TokenClaim<'_>,
    records: &AuthorizationRecords,
    source_ip: Option<IpAddr>,
    now: OffsetDateTime,
) -> Result<Principal, Denial> {
    let token = records
        .token
        .as_ref()
        .filter(|token| token.id == *claim.id)
        .ok_or(Denial::Unauthenticated(Unauthenticated::UnknownToken))?;
    match token.status(now) {
        TokenStatus::Active => {}
        TokenStatus::Revoked => return Err(Denial::Unauthenticated(Unauthenticated::RevokedToken)),
        TokenStatus::Expired => return Err(Denial::Unauthenticated(Unauthenticated::ExpiredToken)),
    }
    let org = records
        .org
        .as_ref()
        .filter(|org| org.id == *claim.org)
        .ok_or(Denial::Unauthenticated(Unauthenticated::NoOrganization))?;
    if org.status != OrgStatus::Active {
        return Err(Denial::Unauthenticated(
            Unauthenticated::OrganizationDisabled,
        ));
    }
    let permissions = match claim.owner {
        TokenOwner::Account(account_id) => {
            let account = records
                .account
                .as_ref()
                .filter(|account| account.id == *account_id && !account.is_deleted())
                .ok_or(Denial::Unauthenticated(Unauthenticated::NoServiceAccount))?;
            if token.account.as_ref() != Some(account_id) {
                return Err(Denial::Unauthenticated(Unauthenticated::WrongOwner));
            }
            if account.status != AccountStatus::Active {
                return Err(Denial::Unauthenticated(
                    Unauthenticated::ServiceAccountDisabled,
                ));
            }
            if !allowed_from(&account.ip_allowlist, source_ip) {
                return Err(Denial::Forbidden(Forbidden::AccountAllowlist));
            }
            Permissions::narrowed(&account.roles, &account.grants, &token.scopes)
        }
        TokenOwner::Org => {
            if token.account.is_some() || token.kind != TokenKind::Org {
                return Err(Denial::Unauthenticated(Unauthenticated::WrongOwner));
            }
            Permissions::of_org_token(&token.scopes)
        }
    };
    if !allowed_from(org.token_policy.ip_allowlist(), source_ip) {
        return Err(Denial::Forbidden(Forbidden::OrganizationAllowlist));
    }
    Ok(Principal {
        org: org.id.clone(),
        account: claim.owner.account().cloned(),
        token_id: token.id.clone(),
        token_kind: token.kind,
        scopes: token.scopes.clone(),
        permissions,
    })
}

impl Principal {
    /// Whether the principal holds `role` (or a stronger one) in `org`.
    pub fn has_role_in(&self, org: &OrgId, role: Role) -> bool {
        self.org == *org && self.permissions.roles.at_least(role)
    }

    /// The actor recorded for changes this principal makes.
    pub fn actor(&self) -> Actor {
        let (kind, id) = match &self.account {
            Some(account) => (ActorKind::ServiceAccount, account.as_str()),
            None => (ActorKind::OrgToken, self.org.as_str()),
        };
        Actor {
            token_id: Some(self.token_id.clone()),
            ..Actor::new(kind, id)
        }
    }
}

/// An empty allowlist allows anyone; a non-empty one needs a known address inside it.
pub fn allowed_from(allowlist: &crate::access::IpAllowlist, source_ip: Option<IpAddr>) -> bool {
    allowlist.is_empty() || source_ip.is_some_and(|ip| allowlist.allows(ip))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{AccessLevel, IpAllowlist, ResourceName};
    use crate::model::{NewServiceAccount, NewToken};
    use crate::policy::TokenPolicy;
    use crate::text::DisplayName;
    use crate::token::{TokenFormat, TokenKeys, TokenPrefix};
    use time::Duration;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-07-01 12:00 UTC);

    /// One deployment's format, the same for every token of a test.
    fn format() -> TokenFormat {
        let keys = TokenKeys::parse("a:0123456789abcdef0123456789abcdef", None).unwrap();
        TokenFormat::new(TokenPrefix::default(), keys)
    }

    fn grant(resource: &str, level: AccessLevel) -> Grant {
        Grant {
            resource: ResourceName::parse(resource).unwrap(),
            level,
        }
    }

    fn scopes(texts: &[&str]) -> Scopes {
        Scopes::parse(texts.iter().map(|t| Scope::parse(t).unwrap()).collect()).unwrap()
    }

    struct World {
        presented: ParsedToken,
        records: AuthorizationRecords,
    }

    fn world(owner_is_account: bool, token_scopes: Scopes) -> World {
        let actor = Actor::system("test");
        let org_id = OrgId::parse("acme").unwrap();
        let org = Organization::new(
            org_id.clone(),
            DisplayName::parse("Acme").unwrap(),
            TokenPolicy::default(),
            actor.clone(),
            NOW,
        );
        let account = ServiceAccount::new(
            org_id.clone(),
            ServiceAccountId::generate().unwrap(),
            NewServiceAccount {
                name: DisplayName::parse("ci").unwrap(),
                description: None,
                roles: Roles::new([Role::Writer]),
                grants: Grants::parse(vec![grant("brain-1", AccessLevel::Write)]).unwrap(),
                ip_allowlist: IpAllowlist::default(),
            },
            actor.clone(),
            NOW,
        );
        let (owner, kind) = if owner_is_account {
            (
                TokenOwner::Account(account.id.clone()),
                TokenKind::ServiceAccount,
            )
        } else {
            (TokenOwner::Org, TokenKind::Org)
        };
        let presented = ParsedToken::generate(&format(), &org_id, owner).unwrap();
        let token = Token::new(
            kind,
            &presented,
            NewToken {
                name: DisplayName::parse("t").unwrap(),
                description: None,
                scopes: token_scopes,
                expires_at: Some(NOW + Duration::days(1)),
            },
            actor,
            NOW,
        );
        World {
            presented,
            records: AuthorizationRecords {
                org: Some(Arc::new(org)),
                account: owner_is_account.then(|| Arc::new(account)),
                token: Some(token),
            },
        }
    }

    fn decide(world: &World, ip: Option<&str>, now: OffsetDateTime) -> Result<Principal, Denial> {
        authenticate(
            &world.presented,
            &world.records,
            ip.map(|ip| ip.parse().unwrap()),
            now,
        )
    }

    #[test]
    fn a_valid_account_token_carries_the_accounts_permissions() {
        let w = world(true, Scopes::default());
        let principal = decide(&w, None, NOW).unwrap();
        assert_eq!(principal.org.as_str(), "acme");
        assert!(principal.permissions.roles.contains(Role::Writer));
        assert_eq!(principal.actor().kind, ActorKind::ServiceAccount);
    }

    #[test]
    fn scopes_narrow_and_are_clamped_to_what_the_account_still_holds() {
        let w = world(true, scopes(&["admin", "brain-1:owner", "brain-2:read"]));
        let principal = decide(&w, None, NOW).unwrap();
        assert_eq!(principal.permissions.roles, Roles::new([Role::Writer]));
        let grants: Vec<_> = principal.permissions.grants.iter().cloned().collect();
        assert_eq!(grants, vec![grant("brain-1", AccessLevel::Write)]);
    }

    #[test]
    fn every_reason_to_refuse_is_a_401() {
        type Change = Box<dyn Fn(&mut World)>;
        let cases: Vec<(&str, Change)> = vec![
            ("unknown", Box::new(|w| w.records.token = None)),
            (
                "revoked",
                Box::new(|w| {
                    w.records.token.as_mut().unwrap().revoked_at = Some(NOW - Duration::seconds(1))
                }),
            ),
            (
                "expired",
                Box::new(|w| w.records.token.as_mut().unwrap().expires_at = Some(NOW)),
            ),
            ("no org", Box::new(|w| w.records.org = None)),
            (
                "org disabled",
                Box::new(|w| {
                    Arc::make_mut(w.records.org.as_mut().unwrap()).status = OrgStatus::Disabled
                }),
            ),
            ("no account", Box::new(|w| w.records.account = None)),
            (
                "account disabled",
                Box::new(|w| {
                    Arc::make_mut(w.records.account.as_mut().unwrap()).status =
                        AccountStatus::Disabled
                }),
            ),
            (
                "account deleted",
                Box::new(|w| {
                    Arc::make_mut(w.records.account.as_mut().unwrap()).deleted_at = Some(NOW)
                }),
            ),
        ];
        for (name, change) in cases {
            let mut w = world(true, Scopes::default());
            change(&mut w);
            assert!(
                matches!(decide(&w, None, NOW), Err(Denial::Unauthenticated(_))),
                "{name}"
            );
        }
    }

    #[test]
    fn another_token_with_the_same_ids_is_unknown() {
        let w = world(true, Scopes::default());
        let forged =
            ParsedToken::generate(&format(), w.presented.org(), w.presented.owner().clone())
                .unwrap();
        let forged_world = World {
            presented: forged,
            records: w.records.clone(),
        };
        assert_eq!(
            decide(&forged_world, None, NOW),
            Err(Denial::Unauthenticated(Unauthenticated::UnknownToken))
        );
    }

    #[test]
    fn allowlists_of_the_org_and_the_account_both_apply() {
        let mut w = world(true, Scopes::default());
        Arc::make_mut(w.records.account.as_mut().unwrap()).ip_allowlist =
            IpAllowlist::parse(&["10.0.0.0/8", "2001:db8::/32"]).unwrap();
        assert!(decide(&w, Some("10.1.1.1"), NOW).is_ok());
        assert!(decide(&w, Some("2001:db8::5"), NOW).is_ok());
        assert!(matches!(
            decide(&w, Some("192.0.2.1"), NOW),
            Err(Denial::Forbidden(_))
        ));
        assert!(matches!(decide(&w, None, NOW), Err(Denial::Forbidden(_))));

        let policy = TokenPolicy::new(
            crate::policy::LifetimePreset::OneYear,
            crate::policy::LifetimePreset::OneYear,
            false,
            IpAllowlist::parse(&["10.1.0.0/16"]).unwrap(),
        )
        .unwrap();
        Arc::make_mut(w.records.org.as_mut().unwrap()).token_policy = policy;
        assert!(decide(&w, Some("10.1.1.1"), NOW).is_ok());
        assert!(matches!(
            decide(&w, Some("10.2.1.1"), NOW),
            Err(Denial::Forbidden(_))
        ));
    }

    #[test]
    fn org_tokens_hold_exactly_their_scopes() {
        let w = world(false, scopes(&["admin", "brain-9:read"]));
        let principal = decide(&w, None, NOW).unwrap();
        assert_eq!(principal.account, None);
        assert!(principal.has_role_in(&OrgId::parse("acme").unwrap(), Role::Admin));
        assert!(!principal.has_role_in(&OrgId::parse("other").unwrap(), Role::Admin));
        assert_eq!(principal.actor().kind, ActorKind::OrgToken);
    }

    #[test]
    fn the_context_round_trips() {
        let w = world(true, scopes(&["reader", "brain-1:read"]));
        let principal = decide(&w, None, NOW).unwrap();
        let context = principal.to_context();
        let back = Principal::from_context(|key| context.get(key).cloned()).unwrap();
        assert_eq!(back, Some(principal));
        assert_eq!(Principal::from_context(|_| None).unwrap(), None);
        let mut broken = context.clone();
        broken.insert("roles".into(), "superuser".into());
        assert!(Principal::from_context(|key| broken.get(key).cloned()).is_err());
    }

    #[test]
    fn the_context_view_writes_the_same_object_as_the_map() {
        for scoped in [scopes(&["reader", "brain-1:read"]), Scopes::default()] {
            let w = world(true, scoped);
            let principal = decide(&w, None, NOW).unwrap();
            let written = serde_json::to_value(principal.context()).unwrap();
            assert_eq!(
                written,
                serde_json::to_value(principal.to_context()).unwrap()
            );
            let keys: Vec<&str> = principal.context().entries().map(|(k, _)| k).to_vec();
            let mut sorted = keys.clone();
            sorted.sort_unstable();
            assert_eq!(keys, sorted, "in the map's order");
        }
    }
}
