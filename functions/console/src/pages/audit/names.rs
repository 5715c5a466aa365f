//! The names of what the trail's events name, and whether it still exists: the names the
//! events carry themselves (a creation or a rename holds the name in `changes`), and for the
//! accounts and tokens a page (or an export's page) names, one look-up each through the use
//! cases, all of that page's at once, remembered for the next pages.

use std::collections::HashMap;

use admin_api::AdminState;
use shared::audit::{AuditEvent, AuditTarget, AuditTargetKind};
use shared::ids::{OrgId, ServiceAccountId, TokenId};
use shared::model::{Actor, ActorKind};
use shared::token::TokenOwner;
use tokio::task::JoinSet;
use usecases::UseCaseError;

/// How many look-ups run at once.
const AT_ONCE: usize = 16;

/// Something of the organization an event names by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Account(String),
    Token(String),
    TrustPolicy(String),
}

/// What is known of a [`Key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// It exists; its name now.
    Exists(String),
    /// It is deleted (or removed from the table); the name the events at hand gave it, if any.
    Gone(Option<String>),
    /// Not looked up, or the look-up failed; the name the events at hand gave it, if any.
    Unknown(Option<String>),
}

impl Known {
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Exists(name) => Some(name),
            Self::Gone(name) | Self::Unknown(name) => name.as_deref(),
        }
    }
}

#[derive(Debug, Clone)]
enum Found {
    Exists(String),
    Gone,
    Failed,
}

/// A look-up to make.
#[derive(Debug, Clone)]
enum Lookup {
    Account(ServiceAccountId),
    Token(TokenOwner, TokenId),
}

/// The names learnt so far.
#[derive(Debug, Default)]
pub struct Names {
    found: HashMap<Key, Found>,
    carried: HashMap<Key, String>,
}

/// The key of an event's target, when it is an account, a token or a trust policy.
pub fn target_key(target: &AuditTarget) -> Option<Key> {
    match target.kind {
        AuditTargetKind::ServiceAccount => Some(Key::Account(target.id.clone())),
        AuditTargetKind::Token => Some(Key::Token(target.id.clone())),
        AuditTargetKind::TrustPolicy => Some(Key::TrustPolicy(target.id.clone())),
        AuditTargetKind::Org => None,
    }
}

/// The key of an actor, when it is an account or an org-wide token.
pub fn actor_key(actor: &Actor) -> Option<Key> {
    match actor.kind {
        ActorKind::ServiceAccount => Some(Key::Account(actor.id.clone())),
        ActorKind::OrgToken => Some(Key::Token(actor.id.clone())),
        _ => None,
    }
}

impl Names {
    /// What is known of `key`.
    pub fn get(&self, key: &Key) -> Known {
        let carried = self.carried.get(key).cloned();
        match self.found.get(key) {
            Some(Found::Exists(name)) => Known::Exists(name.clone()),
            Some(Found::Gone) => Known::Gone(carried),
            Some(Found::Failed) | None => Known::Unknown(carried),
        }
    }

    /// An actor's name: a person's display name, or the name of the account or org-wide
    /// token that acted.
    pub fn actor_name(&self, actor: &Actor) -> Option<String> {
        actor
            .display
            .clone()
            .or_else(|| actor_key(actor).and_then(|key| self.get(&key).name().map(str::to_owned)))
    }

    /// Learns the names `events` carry and looks up, all at once, the accounts and tokens
    /// they name that were not looked up before. A failed look-up leaves the name unknown:
    /// the trail is shown all the same.
    pub async fn learn(&mut self, admin: &AdminState, org: &OrgId, events: &[AuditEvent]) {
        for event in events {
            let name = event
                .changes
                .get("name")
                .and_then(|change| change.get("new").or_else(|| change.get("old")))
                .and_then(|name| name.as_str());
            if let (Some(key), Some(name)) = (target_key(&event.target), name) {
                // Newest first: the first name seen is the latest.
                self.carried.entry(key).or_insert_with(|| name.to_owned());
            }
        }
        let mut wanted: Vec<(Key, Lookup)> = Vec::new();
        let mut want = |key: Key, lookup: Option<Lookup>| {
            if let Some(lookup) = lookup
                && !self.found.contains_key(&key)
                && !wanted.iter().any(|(known, _)| *known == key)
            {
                wanted.push((key, lookup));
            }
        };
        for event in events {
            if let Some(key) = target_key(&event.target) {
                let lookup = match event.target.kind {
                    AuditTargetKind::ServiceAccount => account(&event.target.id),
                    AuditTargetKind::Token => {
                        let owner = match &event.target.account {
                            Some(account) => TokenOwner::Account(account.clone()),
                            None => TokenOwner::Org,
                        };
                        token(owner, &event.target.id)
                    }
                    _ => None,
                };
                want(key, lookup);
            }
            if let Some(key) = actor_key(&event.actor) {
                let lookup = match event.actor.kind {
                    ActorKind::ServiceAccount => account(&event.actor.id),
                    _ => token(TokenOwner::Org, &event.actor.id),
                };
                want(key, lookup);
            }
        }
        for batch in wanted.chunks(AT_ONCE) {
            let mut lookups = JoinSet::new();
            for (key, lookup) in batch.iter().cloned() {
                let admin = admin.clone();
                let org = org.clone();
                lookups.spawn(async move { (key, look_up(&admin, &org, lookup).await) });
            }
            while let Some(done) = lookups.join_next().await {
                if let Ok((key, found)) = done {
                    self.found.insert(key, found);
                }
            }
        }
    }
}

fn account(id: &str) -> Option<Lookup> {
    ServiceAccountId::parse(id).ok().map(Lookup::Account)
}

fn token(owner: TokenOwner, id: &str) -> Option<Lookup> {
    TokenId::parse(id).ok().map(|id| Lookup::Token(owner, id))
}

async fn look_up(admin: &AdminState, org: &OrgId, lookup: Lookup) -> Found {
    let use_cases = &admin.use_cases;
    let name = match &lookup {
        Lookup::Account(id) => use_cases
            .account(org, id)
            .await
            .map(|account| account.name.as_str().to_owned()),
        Lookup::Token(owner, id) => use_cases
            .token(org, owner, id)
            .await
            .map(|token| token.name.as_str().to_owned()),
    };
    match name {
        Ok(name) => Found::Exists(name),
        Err(UseCaseError::NotFound(_)) => Found::Gone,
        Err(error) => {
            tracing::warn!(%error, "console: an audit trail name could not be looked up");
            Found::Failed
        }
    }
}
