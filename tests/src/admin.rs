//! A world for admin-API tests: fresh tables, an organization bootstrapped the way an operator
//! would, an admin token, a controllable clock, and a way to call a handler with a real
//! event.

use std::sync::Arc;

use accounts::AccountsState;
use admin_api::AdminState;
use admin_api::identity::{IamAdmins, IdentitySources};
use authorizer::{Authorizer, AuthorizerConfig};
use axum::Router;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;
use shared::access::{Grants, IpAllowlist, Roles, Scopes};
use shared::authn::Principal;
use shared::clock::ManualClock;
use shared::ids::{OrgId, ServiceAccountId};
use shared::model::{
    Actor, ActorKind, NewServiceAccount, NewToken, ServiceAccount, Token, TokenKind,
};
use shared::policy::TokenPolicy;
use shared::text::DisplayName;
use shared::token::{ParsedToken, TokenOwner, TokenSecret};
use time::{Duration, OffsetDateTime};
use usecases::UseCases;
use usecases::bootstrap::BootstrapRequest;
use usecases::verify::{CacheSettings, Verifier, VerifyError};

use crate::TestTables;
use crate::events::ApiCall;
use crate::iam::{Deployment, Function};

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
    /// The use cases the functions run, on the test's tables and clock (change a setting
    /// here and the next call sees it).
    pub context: UseCases,
    pub identity: IdentitySources,
    pub clock: Arc<ManualClock>,
    pub acme: OrgAdmin,
    /// The deployment the functions' calls are judged in (see [`crate::iam`]): the
    /// functions' states below call through clients of their own; `context` is the test's.
    pub iam: Deployment,
}

/// The test deployment's identity sources: IAM administration through the three fixture
/// APIs (REST, HTTP API, function URL); no authorizer in front of the admin routes.
pub fn iam_only() -> IdentitySources {
    IdentitySources {
        authorizer_api_ids: Vec::new(),
        jwt_authorizer_api_ids: Vec::new(),
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
        let context = UseCases {
            clock: clock.clone(),
            ..UseCases::new(tables.store.clone(), crate::test_token_format())
        };
        let mut world = Self {
            iam: Deployment::for_tables(&tables),
            tables,
            context,
            identity,
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
            identity_providers: Vec::new(),
        };
        let created = self.context.bootstrap(request).await.unwrap();
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
            &self.context.token_format,
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

    /// The principal `token` authenticates as right now from `source`, if it does: the one
    /// verification path, as the authorizer and the admin functions take it (a fresh
    /// verifier, so no cache hides a change).
    pub async fn principal_from(
        &self,
        token: &str,
        source: Option<std::net::IpAddr>,
    ) -> Option<Principal> {
        let verifier = Verifier::new(
            self.context.store.clone(),
            self.clock.clone(),
            self.context.token_format.clone(),
            CacheSettings::default(),
        );
        match verifier
            .verify(TokenSecret::new(token.to_owned()), source)
            .await
        {
            Ok(verified) => Some(verified.principal),
            Err(VerifyError::Denied(_)) => None,
            Err(VerifyError::Unavailable(error)) => panic!("the store failed: {error}"),
        }
    }

    pub async fn principal(&self, token: &str) -> Option<Principal> {
        self.principal_from(token, None).await
    }

    /// Whether `token` works right now (see [`Self::principal_from`]).
    pub async fn works(&self, token: &str) -> bool {
        self.principal(token).await.is_some()
    }

    /// The authorizer of the deployment (reading every record on every call), asked for
    /// `GET /hello` with `token`: whether API Gateway lets the request through.
    pub async fn passes_the_authorizer(&self, token: &str) -> bool {
        let config = AuthorizerConfig::from_lookup(crate::test_token_format(), |name| match name {
            "HTTP_API_RESPONSE" => Some("simple".to_owned()),
            "OWNER_CACHE_TTL_MS" => Some("0".to_owned()),
            _ => None,
        })
        .unwrap();
        let store = self.iam.store(&self.context.store, Function::Authorizer);
        let authorizer = Authorizer::with_clock(store, config, self.clock.clone());
        let event = crate::events::authorizer_event(
            crate::events::AuthorizerShape::HttpApi,
            Some(&format!("Bearer {token}")),
            "GET",
            "/hello",
            "203.0.113.9",
        );
        match authorizer.handle(event).await {
            Ok(answer) => answer["isAuthorized"] == true,
            Err(error) if error.to_string() == "Unauthorized" => false,
            Err(error) => panic!("the authorizer failed: {error}"),
        }
    }

    /// The use cases as `function` runs them (the test's settings and clock, the function's
    /// own client).
    pub fn use_cases_as(&self, function: Function) -> UseCases {
        self.iam.use_cases(&self.context, function)
    }

    /// The tokens function's state, as its `main` builds it (with the test's clock).
    pub fn admin_state(&self) -> AdminState {
        self.admin_state_as(Function::Tokens)
    }

    /// The admin state of `function` (accounts, tokens or the console).
    pub fn admin_state_as(&self, function: Function) -> AdminState {
        AdminState::for_local_run(self.use_cases_as(function), self.identity.clone())
    }

    pub fn accounts_state(&self) -> AccountsState {
        self.accounts_state_as(Function::Accounts)
    }

    /// The accounts function's state, or the console's (which is built alike).
    pub fn accounts_state_as(&self, function: Function) -> AccountsState {
        AccountsState {
            admin: self.admin_state_as(function),
            audit: self.iam.audit_store(&self.tables, function).into(),
        }
    }

    /// Calls the accounts function with `call` as a real event, through its Lambda entry.
    pub async fn accounts(&self, call: ApiCall) -> Reply {
        self.call(accounts::router(self.accounts_state()), call)
            .await
    }

    /// Calls the tokens function with `call` as a real event, through its Lambda entry.
    pub async fn tokens(&self, call: ApiCall) -> Reply {
        self.call(tokens::router(self.admin_state()), call).await
    }

    /// Calls `router` with `call` as a real event, through the Lambda entry.
    pub async fn call(&self, router: Router, call: ApiCall) -> Reply {
        reply(admin_api::lambda::call(router, call.request()).await).await
    }
}

/// The answer as a client reads it.
pub async fn reply(response: Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply {
        status,
        headers,
        body,
    }
}
