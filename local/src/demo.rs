//! The demo organization: bootstrapped with an admin token on the first run, its people from
//! the local OpenID Provider, and, with service accounts as code on, the local AWS account's
//! stacks allowed to manage it.

use anyhow::Context;
use shared::config::env;
use shared::iac::{AwsAccountId, IacAccess, IacPrincipal};
use shared::ids::OrgId;
use shared::model::{Actor, ActorKind};
use shared::people::{DisplayClaim, IdentityProvider, Issuer, RoleMapping};
use shared::policy::TokenPolicy;
use shared::text::DisplayName;
use usecases::UseCases;
use usecases::bootstrap::{BootstrapError, BootstrapRequest, Bootstrapped};

/// Bootstraps `org` with `issuer` as its identity provider. With kept data (`kept_data`) the
/// organization may exist from an earlier run: then it is pointed at `issuer`, and there is no
/// new admin token (`None`): the one that run printed still works.
pub(crate) async fn bootstrap(
    use_cases: &UseCases,
    org: &OrgId,
    issuer: &str,
    kept_data: bool,
) -> anyhow::Result<Option<Bootstrapped>> {
    let identity_providers = vec![demo_identity_provider(issuer)?];
    let created = use_cases
        .bootstrap(BootstrapRequest {
            org: org.clone(),
            org_name: DisplayName::parse(&format!("{org} (local demo)"))
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            policy: TokenPolicy::default(),
            admin_name: DisplayName::parse("bootstrap-admin")
                .map_err(|e| anyhow::anyhow!("{e}"))?,
            token_lifetime: None,
            operator: env("USER").unwrap_or_else(|| "local".into()),
            identity_providers: identity_providers.clone(),
        })
        .await;
    match created {
        Ok(created) => Ok(Some(created)),
        Err(BootstrapError::OrgExists(_)) if kept_data => {
            // The provider listens on a new port each run: point the kept organization at it.
            let mut kept = use_cases.org(org).await?;
            kept.identity_providers = identity_providers;
            kept.updated_at = use_cases.now();
            kept.updated_by = Actor::new(
                ActorKind::Operator,
                &env("USER").unwrap_or_else(|| "local".into()),
            );
            use_cases.store.update_org(&kept).await?;
            Ok(None)
        }
        Err(error) => Err(error).context("bootstrapping the demo organization"),
    }
}

/// Lets the local AWS account (`000000000000`, moto's) manage `org` as code, unless the
/// organization already names accounts that may.
pub(crate) async fn allow_local_stacks(use_cases: &UseCases, org: &OrgId) -> anyhow::Result<()> {
    let mut kept = use_cases.org(org).await?;
    if kept.iac_access.is_empty() {
        let local = AwsAccountId::parse("000000000000").map_err(|e| anyhow::anyhow!("{e}"))?;
        kept.iac_access = IacAccess::new(vec![
            IacPrincipal::new(local, None).map_err(|e| anyhow::anyhow!("{e}"))?,
        ])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        kept.updated_at = use_cases.now();
        kept.updated_by = Actor::new(
            ActorKind::Operator,
            &env("USER").unwrap_or_else(|| "local".into()),
        );
        use_cases.store.update_org(&kept).await?;
    }
    Ok(())
}

/// The demo organization's provider: its `sa-admins` are admins, its `sa-auditors` auditors.
fn demo_identity_provider(issuer: &str) -> anyhow::Result<IdentityProvider> {
    Ok(IdentityProvider {
        issuer: Issuer::parse(issuer).map_err(|e| anyhow::anyhow!("{e}"))?,
        audiences: vec![
            "service-accounts-admin".into(),
            "service-accounts-console".into(),
        ],
        display_claim: DisplayClaim::Email,
        roles: RoleMapping::new(
            "groups",
            vec!["sa-admins".into()],
            vec!["sa-auditors".into()],
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?,
        console_client_id: Some("service-accounts-console".into()),
    })
}
