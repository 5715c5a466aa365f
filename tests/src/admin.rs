//! A world for admin-API tests: fresh tables, an organization bootstrapped the way an operator
//! would, an admin token, a controllable clock, and a way to call a handler with a real
//! event.

use std::sync::Arc;

use admin_api::AdminContext;
use admin_api::identity::{IamAdmins, IdentitySources};
use infra::bootstrap::{BootstrapRequest, bootstrap};
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::access::{Grants, IpAllowlist, Roles, Scopes};
use shared::clock::ManualClock;
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::{
    Actor, ActorKind, NewServiceAccount, NewToken, ServiceAccount, Token, TokenKind,
};
use shared::policy::TokenPolicy;
use shared::text::DisplayName;
use shared::token::{ParsedToken, TokenOwner, TokenPrefix};
use time::{Duration, OffsetDateTime};

use crate::TestTables;
use crate::events::ApiCall;

/// The IAM principal the test deployment lets administer.
pub const IAM_ADMIN: &str = "arn:aws:iam::111122223333:role/platform-admin";

/// An answer, with its body parsed as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem document with this status and `type` `/problems/<kind>`.
    pub fn assert_problem(&self, status: u16, kind: &str) {
        assert_eq!(self.status, status, "{:?}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(
            self.body["type"],
            format!("/problems/{kind}"),
            "{:?}",
            self.body
        );
        assert_eq!(self.body["status"], status);
    }
}

/// An organization's admin, as bootstrapped.
#[derive(Debug, Clone)]
pub struct OrgAdmin {
    pub org: OrgId,
    pub account: ServiceAccountId,
    pub token: String,
}

#[derive(Debug)]
pub struct AdminWorld {
    pub tables: TestTables,
    pub context: AdminContext,
    pub accounts_context: accounts::AccountsContext,
    pub tokens_context: tokens::TokensContext,
    pub clock: Arc<ManualClock>,
    pub acme: OrgAdmin,
}

/// The test deployment's identity sources: IAM administration through the three fixture
/// APIs (REST, HTTP API, function URL); no authorizer in front of the admin routes.
pub fn iam_only() -> IdentitySources {
    IdentitySources {
        authorizer_api_ids: Vec::new(),
        iam_admins: IamAdmins::parse(IAM_ADMIN).unwrap(),
        iam_api_ids: crate::events::FIXTURE_API_IDS
            .iter()
            .map(|id| (*id).to_owned())
            .collect(),
    }
}

impl AdminWorld {
    pub async fn new() -> Self {
        Self::with_identity(iam_only()).await
    }

    /// A world whose deployment trusts the identity claims `identity` says.
    pub async fn with_identity(identity: IdentitySources) -> Self {
        let tables = TestTables::create().await.unwrap();
        let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
        let context = AdminContext {
            store: tables.store.clone(),
            token_prefix: TokenPrefix::default(),
            identity,
            retention: Duration::days(30),
            clock: clock.clone(),
        };
        let tokens_context = tokens::TokensContext {
            admin: context.clone(),
            access_token_lifetime: Duration::hours(1),
            access_tokens_per_secret: 100,
        };
        let accounts_context = accounts::AccountsContext {
            admin: context.clone(),
            audit: tables.audit.clone(),
        };
        let mut world = Self {
            tables,
            context,
            accounts_context,
            tokens_context,
            clock,
            acme: OrgAdmin {
                org: OrgId::parse("acme").unwrap(),
                account: ServiceAccountId::generate().unwrap(),
                token: String::new(),
            },
        };
        world.acme = world.bootstrap_org("acme").await;
        world
    }

    /// Bootstraps another organization exactly as `infra bootstrap` does.
    pub async fn bootstrap_org(&self, slug: &str) -> OrgAdmin {
        let request = BootstrapRequest {
            org: OrgId::parse(slug).unwrap(),
            org_name: DisplayName::parse(slug).unwrap(),
            policy: TokenPolicy::default(),
            admin_name: DisplayName::parse("bootstrap-admin").unwrap(),
            token_lifetime: None,
            operator: "tests".into(),
        };
        let created = bootstrap(
            &self.context.store,
            &self.context.token_prefix,
            request,
            self.clock_now(),
        )
        .await
        .unwrap();
        OrgAdmin {
            org: created.org,
            account: created.service_account_id,
            token: created.token.expose_secret().to_owned(),
        }
    }

    pub fn clock_now(&self) -> OffsetDateTime {
        use shared::clock::Clock;
        self.clock.now()
    }

    /// Creates an account with `roles` straight in the store and mints it a token with
    /// `scopes`; returns the account id and the token text.
    pub async fn account_with_token(
        &self,
        org: &OrgId,
        roles: Roles,
        scopes: Scopes,
        ip_allowlist: IpAllowlist,
    ) -> (ServiceAccountId, String) {
        let actor = Actor::new(ActorKind::Operator, "tests");
        let account = ServiceAccount::new(
            org.clone(),
            ServiceAccountId::generate().unwrap(),
            NewServiceAccount {
                name: DisplayName::parse("helper").unwrap(),
                description: None,
                roles,
                grants: Grants::default(),
                ip_allowlist,
            },
            actor,
            self.clock_now(),
        );
        self.context.store.create_account(&account).await.unwrap();
        let token = self.mint(org, &account.id, scopes).await;
        (account.id, token)
    }

    /// Mints a token for an existing account straight in the store.
    pub async fn mint(&self, org: &OrgId, account: &ServiceAccountId, scopes: Scopes) -> String {
        let parsed = ParsedToken::generate(
            &self.context.token_prefix,
            org,
            TokenOwner::Account(account.clone()),
        )
        .unwrap();
        let token = Token::new(
            TokenKind::ServiceAccount,
            &parsed,
            NewToken {
                name: DisplayName::parse("helper").unwrap(),
                description: None,
                scopes,
                expires_at: Some(self.clock_now() + Duration::days(30)),
            },
            Actor::new(ActorKind::Operator, "tests"),
            self.clock_now(),
        );
        self.context.store.create_token(&token).await.unwrap();
        parsed.secret().expose_secret().to_owned()
    }

    /// Calls the accounts function's handler with `call` as a real event.
    pub async fn accounts(&self, call: ApiCall) -> Reply {
        reply(
            accounts::handle(&self.accounts_context, call.request())
                .await
                .unwrap(),
        )
    }

    /// Calls the tokens function's handler with `call` as a real event.
    pub async fn tokens(&self, call: ApiCall) -> Reply {
        reply(
            tokens::handle(&self.tokens_context, call.request())
                .await
                .unwrap(),
        )
    }

    /// Calls any handler with the request `call` builds.
    pub async fn call_with<F, Fut>(&self, call: ApiCall, handler: F) -> Reply
    where
        F: FnOnce(Request) -> Fut,
        Fut: std::future::Future<Output = Response<Body>>,
    {
        reply(handler(call.request()).await)
    }
}

fn reply(response: Response<Body>) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match response.into_body() {
        Body::Empty => Value::Null,
        Body::Text(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        Body::Binary(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Reply {
        status,
        headers,
        body,
    }
}
