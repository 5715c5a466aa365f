//! What `local` prints once everything is up: where each part is, the demo organization's
//! admin token, commands to try (each person's token among them), and the lifecycle's interval.
//! `ready` ends it (scripts wait for that line); README.md shows it line for line, and a test
//! (`tests/tests/it/local_system.rs`) holds the two together.

use std::path::Path;

use infra::local::{LocalStack, Moto};
use local::iac::Replay;
use shared::ids::OrgId;
use usecases::bootstrap::Bootstrapped;

/// The running system, as the banner shows it.
pub(crate) struct Banner<'a> {
    /// The base URL.
    pub(crate) base: &'a str,
    pub(crate) org: &'a OrgId,
    pub(crate) stack: &'a LocalStack,
    pub(crate) data_dir: Option<&'a Path>,
    /// This run's bootstrap (`None`: the organization is kept from an earlier run).
    pub(crate) created: Option<&'a Bootstrapped>,
    /// The local OpenID Provider's issuer.
    pub(crate) issuer: &'a str,
    /// Service accounts as code, when they are on.
    pub(crate) replay: Option<&'a (Replay, Moto)>,
    /// How often the lifecycle runs, in seconds (0: it does not).
    pub(crate) lifecycle_interval: u64,
}

impl Banner<'_> {
    pub(crate) fn print(&self) {
        let Self {
            base,
            org,
            stack,
            data_dir,
            created,
            issuer,
            replay,
            lifecycle_interval,
        } = *self;
        let (table, audit_table) = (&stack.table, &stack.audit_table);

        println!("Service accounts for AWS is running at {base}");
        println!(
            "  admin API     {base}/v1/orgs/{org}/...      (the accounts and tokens functions)"
        );
        println!("  OAuth2        {base}/oauth2/token");
        println!(
            "  console       {base}/console/orgs/{org}   (sign in as ada, grace or eve, any password)"
        );
        println!(
            "  protected     {base}/hello, /items, /orgs/{org}/brains/{{brain}}  (behind the authorizer)"
        );
        println!(
            "  DynamoDB      {}  (tables {table}, {audit_table}; the audit writer follows the stream)",
            stack.endpoint()
        );
        if let Some(data_dir) = data_dir {
            println!(
                "  data          {} (kept across restarts)",
                data_dir.display()
            );
        }
        println!();
        match created {
            Some(created) => {
                println!(
                    "Organization {org}, admin service account {}. Its admin token, shown once:",
                    created.service_account_id
                );
                println!("  export API={base}");
                println!("  export ADMIN_TOKEN={}", created.token.expose_secret());
            }
            None => {
                println!(
                    "Organization {org} is kept from an earlier run; use the admin token it printed:"
                );
                println!("  export API={base}");
            }
        }
        println!();
        println!("Try:");
        println!(
            "  curl -s $API/v1/orgs/{org}/service-accounts -H \"Authorization: Bearer $ADMIN_TOKEN\""
        );
        println!("  curl -s $API/hello -H \"Authorization: Bearer $ADMIN_TOKEN\"");
        println!("  curl -s $API/hello");
        println!(
            "  curl -s $API/v1/orgs/{org}/audit-events -H \"Authorization: Bearer $ADMIN_TOKEN\""
        );
        println!();
        println!(
            "People sign in with the local OpenID Provider at {issuer} (ada: admin, grace: auditor, eve: no role):"
        );
        // One token per person: the console's three roles from the command line.
        for person in ["ada", "grace", "eve"] {
            println!(
                "  export {}_JWT=$(curl -s -d grant_type=client_credentials -d client_id={person} -d client_secret={person}-secret -d resource=urn:service-accounts {issuer}/token | jq -r .access_token)",
                person.to_uppercase()
            );
        }
        println!(
            "  curl -s -X POST $API/v1/orgs/{org}/service-accounts -H \"Authorization: Bearer $ADA_JWT\" -H 'content-type: application/json' -d '{{\"name\": \"made-by-ada\"}}'"
        );
        println!(
            "  curl -s $API/v1/orgs/{org}/audit-events -H \"Authorization: Bearer $GRACE_JWT\"   # an auditor reads; any change is 403"
        );
        println!(
            "  curl -s $API/v1/orgs/{org}/service-accounts -H \"Authorization: Bearer $EVE_JWT\"   # no role: 403"
        );
        if let Some((replay, moto)) = replay {
            println!(
                "Service accounts as code (the account 000000000000 may manage {org}; Secrets Manager at {}):",
                moto.endpoint
            );
            // The account, then its token in a secret (it needs the account's id), then a
            // rotation of that secret: the three work pasted in this order.
            println!(
                "  export DEPLOYER=$(curl -s -X POST $API/local/cloudformation -d '{{\"RequestType\": \"Create\", \"ResourceType\": \"Custom::ServiceAccount\", \"LogicalResourceId\": \"Deployer\", \"ResourceProperties\": {{\"Organization\": \"{org}\", \"Name\": \"deployer\", \"Role\": \"writer\"}}}}' | jq -r .PhysicalResourceId)"
            );
            println!(
                "  curl -s -X POST $API/local/cloudformation -d '{{\"RequestType\": \"Create\", \"ResourceType\": \"Custom::ServiceToken\", \"LogicalResourceId\": \"CiToken\", \"ResourceProperties\": {{\"Organization\": \"{org}\", \"ServiceAccount\": \"'$DEPLOYER'\", \"Name\": \"ci\", \"Scopes\": [\"writer\"], \"SecretName\": \"{}local-demo/ci\"}}}}'",
                replay.provider.secret_prefix
            );
            println!(
                "  curl -s -X POST $API/local/secretsmanager/rotate -d '{{\"SecretId\": \"{}local-demo/ci\"}}'",
                replay.provider.secret_prefix
            );
        }
        if lifecycle_interval > 0 {
            println!(
                "The lifecycle (expiry warnings, retirement of unused tokens) runs every {lifecycle_interval}s."
            );
        }
        println!("The README's walkthrough goes further. Ctrl-C stops everything.");
        println!("ready");
    }
}
