//! End to end: the README's run command's system (`local`), started the same way, its start-up
//! text held against the README's, walked over HTTP with `curl` along the README's walkthrough,
//! then stopped with Ctrl-C.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::runtime_api::workspace_binary;

/// The running system: the process, its base URL, the admin token and DynamoDB's endpoint.
pub(crate) struct LocalSystem {
    pub(crate) child: Child,
    api: String,
    /// Printed by a run that bootstrapped the demo organization (not by one that kept it).
    admin_token: Option<String>,
    dynamodb: String,
    /// What it printed, from its first line (`... is running at ...`) to `ready`.
    banner: Vec<String>,
}

impl LocalSystem {
    /// Starts `local` on free ports and reads its banner up to `ready`.
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_with(args: &[&str]) -> Self {
        // Killed on drop, and by the kernel when its parent ends, however it ends (the test's
        // thread, or the test binary); `local` stops what it started itself.
        let mut child = infra::process::ended_with_parent(workspace_binary("local").unwrap())
            .args(["--port", "0"])
            .args(args)
            .env("DYNAMODB_PORT", "0")
            .env_remove("TABLE_NAME")
            .env_remove("AUDIT_TABLE_NAME")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    // The test is done with the banner; keep draining so the server never
                    // blocks on a full pipe.
                    continue;
                }
            }
        });
        let (mut api, mut admin_token, mut dynamodb) = (None, None, None);
        let mut banner = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let line = receiver
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("`local` printed `ready` in time");
            if !banner.is_empty() || line.contains(" is running at ") {
                banner.push(line.clone());
            }
            let line = line.trim();
            if let Some(value) = line.strip_prefix("export API=") {
                api = Some(value.to_owned());
            } else if let Some(value) = line.strip_prefix("export ADMIN_TOKEN=") {
                admin_token = Some(value.to_owned());
            } else if let Some(rest) = line.strip_prefix("DynamoDB") {
                dynamodb = rest.split_whitespace().next().map(str::to_owned);
            } else if line == "ready" {
                break;
            }
        }
        Self {
            child,
            api: api.expect("the banner names the base URL"),
            admin_token,
            dynamodb: dynamodb.expect("the banner names DynamoDB Local"),
            banner,
        }
    }

    /// `curl -s -X <method>` against the base URL, with a bearer token and a JSON body if
    /// given; the status and the body as JSON.
    fn curl(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut args = vec!["-X".to_owned(), method.to_owned()];
        if let Some(token) = token {
            args.extend(["-H".into(), format!("Authorization: Bearer {token}")]);
        }
        if let Some(body) = body {
            args.extend(["-H".into(), "Content-Type: application/json".into()]);
            args.extend(["-d".into(), body.to_owned()]);
        }
        self.curl_with(path, &args)
    }

    /// `curl -s <args> <base URL><path>`; the status and the body as JSON.
    fn curl_with(&self, path: &str, args: &[String]) -> (u16, Value) {
        let url = format!("{}{path}", self.api);
        let output = Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}"])
            .args(args)
            .arg(&url)
            .output()
            .expect("curl runs");
        assert!(output.status.success(), "curl failed: {output:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        let (body, status) = text.rsplit_once('\n').unwrap();
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"))
        };
        (status.parse().unwrap(), body)
    }

    fn interrupt(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "`local` did not stop on Ctrl-C");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for LocalSystem {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The README's "It prints:" block, line by line.
fn readme_start_up_text() -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let (_, rest) = readme
        .split_once("It prints:\n\n```text\n")
        .expect("the README's set-up says what `local` prints, in a text block");
    let (block, _) = rest.split_once("\n```").unwrap();
    block.lines().map(str::to_owned).collect()
}

/// A line with what differs between runs (ports, ids, tokens, the bootstrap's values) made
/// `#`: every word with a digit in it, and every word of 16 characters or more (an id may
/// have no digit; the few fixed words that long, such as `client_credentials` or
/// `PhysicalResourceId`, become `#` on both sides alike).
fn shape(line: &str) -> String {
    static VARYING: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"[A-Za-z0-9_]*[0-9][A-Za-z0-9_]*|[A-Za-z0-9_]{16,}").unwrap()
    });
    VARYING.replace_all(line, "#").into_owned()
}

/// What the README says a run prints is what a run prints: the same lines in the same order,
/// each the same but for the values that differ between runs.
fn assert_the_readme_shows(banner: &[String]) {
    let readme = readme_start_up_text();
    for (number, (documented, printed)) in readme.iter().zip(banner).enumerate() {
        assert_eq!(
            shape(documented),
            shape(printed),
            "line {} of README.md's \"It prints:\" block is not what `local` prints:\n  README: {documented}\n  local:  {printed}",
            number + 1
        );
    }
    assert_eq!(
        readme.len(),
        banner.len(),
        "README.md's \"It prints:\" block has {} lines, `local` prints {}:\n{}",
        readme.len(),
        banner.len(),
        banner.join("\n")
    );
}

#[test]
fn the_walkthrough_works_over_http_and_ctrl_c_stops_everything() {
    let mut system = LocalSystem::start();
    // Started as `scripts/run-local` starts it, it prints what the README says it prints.
    assert_the_readme_shows(&system.banner);
    let admin = system
        .admin_token
        .clone()
        .expect("the banner prints the admin token");
    let admin = Some(admin.as_str());

    // 1. Create a service account.
    let (status, account) = system.curl(
        "POST",
        "/v1/orgs/acme/service-accounts",
        admin,
        Some(r#"{"name": "nightly-build", "roles": ["reader"]}"#),
    );
    assert_eq!(status, 201, "{account}");
    let account_id = account["id"].as_str().unwrap().to_owned();

    // 2. Mint it a token.
    let (status, minted) = system.curl(
        "POST",
        &format!("/v1/orgs/acme/service-accounts/{account_id}/tokens"),
        admin,
        Some(r#"{"name": "ci", "lifetime": "30d"}"#),
    );
    assert_eq!(status, 201, "{minted}");
    let token = minted["token"].as_str().unwrap().to_owned();
    let token_id = minted["id"].as_str().unwrap().to_owned();

    // 3. Call the protected route: through the authorizer, with its context.
    let (status, hello) = system.curl("GET", "/hello", Some(&token), None);
    assert_eq!(status, 200, "{hello}");
    assert_eq!(hello["authorizer"]["account"], account_id.as_str());
    assert_eq!(hello["authorizer"]["org"], "acme");
    assert_eq!(hello["authorizer"]["roles"], "reader");
    assert_eq!(hello["authorizer"]["tokenId"], token_id.as_str());
    // A reader may not POST /hello (writer), and no token is no entry.
    let (status, _) = system.curl("POST", "/hello", Some(&token), None);
    assert_eq!(status, 403);
    let (status, body) = system.curl("GET", "/hello", None, None);
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Unauthorized");

    // 4. Exchange it for a short-lived access token (OAuth2 client credentials), which
    // passes the authorizer too.
    let (status, grant) = system.curl_with(
        "/oauth2/token",
        &[
            "-u".into(),
            format!("{account_id}:{token}"),
            "-d".into(),
            "grant_type=client_credentials".into(),
        ],
    );
    assert_eq!(status, 200, "{grant}");
    assert_eq!(grant["token_type"], "Bearer");
    let access = grant["access_token"].as_str().unwrap().to_owned();
    let (status, hello) = system.curl("GET", "/hello", Some(&access), None);
    assert_eq!(status, 200, "{hello}");
    assert_eq!(hello["authorizer"]["tokenKind"], "access");

    // 5. Revoke the token; 6. neither it nor its access token passes any more.
    let (status, _) = system.curl(
        "DELETE",
        &format!("/v1/orgs/acme/service-accounts/{account_id}/tokens/{token_id}"),
        admin,
        None,
    );
    assert_eq!(status, 204);
    let (status, _) = system.curl("GET", "/hello", Some(&token), None);
    assert_eq!(status, 401);
    let (status, _) = system.curl("GET", "/hello", Some(&access), None);
    assert_eq!(status, 401);

    // 7. The audit trail shows the three changes, newest first, once the writer has read
    // them from the stream.
    let path = format!("/v1/orgs/acme/audit-events?account={account_id}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let actions = loop {
        let (status, page) = system.curl("GET", &path, admin, None);
        assert_eq!(status, 200, "{page}");
        let actions: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["action"].as_str().unwrap().to_owned())
            .collect();
        if actions.len() >= 5 || Instant::now() > deadline {
            break actions;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        actions,
        [
            "token.revoked",
            "token.revoked",
            "token.created",
            "token.created",
            "service_account.created"
        ]
    );

    let (status, _) = system.curl("GET", "/nowhere", Some(&token), None);
    assert_eq!(status, 404);

    // The admin API section's snippet, pasted after the walkthrough: it mints a token for
    // `$ACCOUNT` and exchanges that one (not the walkthrough's revoked `$TOKEN`).
    let snippet = readme_sh("/oauth2/token\" -u");
    let admin_token = system.admin_token.clone().unwrap();
    let grant = run_snippet(
        &snippet,
        &[
            ("API", system.api.as_str()),
            ("ADMIN_TOKEN", admin_token.as_str()),
            ("ACCOUNT", account_id.as_str()),
            ("TOKEN", token.as_str()),
        ],
    );
    let grant: Value = serde_json::from_str(&grant).unwrap_or_else(|_| {
        panic!("the OAuth2 snippet printed more or other than a grant:\n{grant}")
    });
    assert_eq!(grant["token_type"], "Bearer", "{grant}");
    assert_eq!(grant["scope"], "reader", "{grant}");

    // Ctrl-C stops the server and DynamoDB Local.
    let exit = system.interrupt();
    assert!(exit.success(), "{exit:?}");
    let address = system.dynamodb.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(&address).is_ok() {
        assert!(Instant::now() < deadline, "DynamoDB Local still answers");
        std::thread::sleep(Duration::from_millis(200));
    }
    let api = system.api.trim_start_matches("http://").to_owned();
    assert!(
        TcpStream::connect(api).is_err(),
        "the gateway still answers"
    );
}

#[tokio::test]
async fn kept_data_survives_a_restart_and_any_credentials_see_the_tables() {
    let data = std::env::temp_dir().join(format!("local-data-{}", uuid::Uuid::new_v4().simple()));
    let data_arg = data.display().to_string();
    let mut first = LocalSystem::start_with(&["--data-dir", &data_arg]);
    let admin = first.admin_token.clone().expect("the first run bootstraps");
    let (status, account) = first.curl(
        "POST",
        "/v1/orgs/acme/service-accounts",
        Some(&admin),
        Some(r#"{"name": "kept"}"#),
    );
    assert_eq!(status, 201, "{account}");
    let id = account["id"].as_str().unwrap().to_owned();

    // Another tool with credentials and a region of its own sees the same tables
    // (DynamoDB Local runs with -sharedDb).
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url(&first.dynamodb)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "AKIDSOMEONEELSE",
            "another-secret",
            None,
            None,
            "another-tool",
        ))
        .load()
        .await;
    let tables = aws_sdk_dynamodb::Client::new(&config)
        .list_tables()
        .send()
        .await
        .unwrap()
        .table_names
        .unwrap_or_default();
    assert!(
        tables.contains(&"service-accounts".to_owned()),
        "{tables:?}"
    );
    assert!(first.interrupt().success());

    // The next run keeps the organization, its admin token and the account.
    let second = LocalSystem::start_with(&["--data-dir", &data_arg]);
    assert_eq!(
        second.admin_token, None,
        "the organization was kept, not made again"
    );
    let (status, kept) = second.curl(
        "GET",
        &format!("/v1/orgs/acme/service-accounts/{id}"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["name"], "kept");
    drop(second);
    let _ = std::fs::remove_dir_all(&data);
}

/// The README's fenced `yaml` block that contains `marker`, parsed.
fn readme_yaml(marker: &str) -> serde_yaml_ng::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let block = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|rest| rest.split("\n```").next())
        .find(|block| block.contains(marker))
        .unwrap_or_else(|| panic!("the README has a yaml block with {marker}"));
    serde_yaml_ng::from_str(block).unwrap()
}

/// The README's fenced `sh` block that contains `marker`.
fn readme_sh(marker: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|rest| rest.split("\n```").next())
        .find(|block| block.contains(marker))
        .unwrap_or_else(|| panic!("the README has a sh block with {marker}"))
        .to_owned()
}

/// Runs a snippet's shell with `bash -euo pipefail` and `env`; its stdout.
fn run_snippet(script: &str, env: &[(&str, &str)]) -> String {
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the snippet failed: {}\n{script}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Keyless CI, locally: the README's GitHub Actions and GitLab CI snippets run with `bash`
/// against `local`, with a test issuer (a real discovery document and JWKS over HTTP) standing
/// in for the platforms' and a GitHub-style ID-token request URL served here. Each job's token
/// is exchanged (RFC 8693 from GitHub's snippet, RFC 7523 from GitLab's), and the access token
/// passes `/hello` behind the authorizer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_ci_snippets_exchange_job_tokens_and_call_hello_locally() {
    use jsonwebtoken::Algorithm;
    use serde_json::json;
    let idp = tests::issuer::Idp::start(&["rsa-1", "ec-1"]).await;
    // On the test's own thread (where the runtime's `block_on` runs this body): `local`
    // may die with the thread that started it, and a blocking-pool thread ends when idle.
    let system = LocalSystem::start();
    let admin = system.admin_token.clone().unwrap();
    let curl = |method: &str, path: &str, body: Option<String>| {
        tokio::task::block_in_place(|| system.curl(method, path, Some(&admin), body.as_deref()))
    };
    let (status, account) = curl(
        "POST",
        "/v1/orgs/acme/service-accounts",
        Some(r#"{"name": "deployer", "roles": ["reader"]}"#.to_owned()),
    );
    assert_eq!(status, 201, "{account}");
    let account_id = account["id"].as_str().unwrap().to_owned();
    let policies = format!("/v1/orgs/acme/service-accounts/{account_id}/trust-policies");
    let github = json!({
        "name": "deploy from main",
        "preset": "github_actions",
        "issuer": idp.issuer,
        "conditions": [
            {"claim": "repository_owner_id", "equals": "65"},
            {"claim": "repository", "equals": "octo-org/deploy"},
            {"claim": "ref", "equals": "refs/heads/main"},
            {"claim": "environment", "equals": "production"},
        ],
        "scopes": ["reader"],
    });
    let (status, policy) = curl("POST", &policies, Some(github.to_string()));
    assert_eq!(status, 201, "{policy}");
    let gitlab = json!({
        "name": "gitlab main",
        "preset": "gitlab",
        "issuer": idp.issuer,
        "conditions": [
            {"claim": "namespace_id", "equals": "72"},
            {"claim": "project_path", "equals": "my-group/my-project"},
        ],
        "scopes": ["reader"],
    });
    let (status, _) = curl("POST", &policies, Some(gitlab.to_string()));
    assert_eq!(status, 201);
    let audience = policy["audience"].as_str().unwrap().to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // GitHub's ID-token request URL, as a runner sees it: the job's token for the audience
    // asked for, to the bearer of the request token.
    let job = tests::issuer::sign(
        "rsa-1",
        Algorithm::RS256,
        &json!({
            "sub": "repo:octo-org/deploy:environment:production",
            "aud": audience,
            "environment": "production",
            "ref": "refs/heads/main",
            "ref_type": "branch",
            "repository": "octo-org/deploy",
            "repository_owner": "octo-org",
            "repository_owner_id": "65",
            "repository_id": "74",
            "job_workflow_ref": "octo-org/deploy/.github/workflows/deploy.yml@refs/heads/main",
            "iss": idp.issuer,
            "nbf": now - 600,
            "exp": now + 300,
            "iat": now,
        }),
    );
    let expected = audience.clone();
    let token_service = axum::Router::new().route(
        "/token",
        axum::routing::get(
            move |headers: axum::http::HeaderMap,
                  axum::extract::Query(query): axum::extract::Query<
                std::collections::HashMap<String, String>,
            >| {
                let (job, expected) = (job.clone(), expected.clone());
                async move {
                    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok());
                    if bearer != Some("bearer request-token")
                        || query.get("audience") != Some(&expected)
                        || !query.contains_key("api-version")
                    {
                        return Err(axum::http::StatusCode::FORBIDDEN);
                    }
                    Ok(axum::Json(json!({"count": 1, "value": job})))
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let request_url = format!(
        "http://{}/token?api-version=2.0",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, token_service).await });

    let workflow = readme_yaml("id-token: write");
    assert_eq!(workflow["permissions"]["id-token"], "write");
    let steps = &workflow["jobs"]["deploy"]["steps"];
    let github_env = tempfile_path("github-env");
    let client_id = format!("acme/{account_id}");
    let env = [
        ("API", system.api.as_str()),
        ("ACCOUNT", client_id.as_str()),
        ("AUDIENCE", audience.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", request_url.as_str()),
        ("GITHUB_ENV", github_env.to_str().unwrap()),
    ];
    let masked =
        tokio::task::block_in_place(|| run_snippet(steps[0]["run"].as_str().unwrap(), &env));
    assert!(masked.starts_with("::add-mask::"), "{masked}");
    let exported = std::fs::read_to_string(&github_env).unwrap();
    let access = exported
        .trim()
        .strip_prefix("ACCESS_TOKEN=")
        .unwrap()
        .to_owned();
    let mut env = env.to_vec();
    env.push(("ACCESS_TOKEN", access.as_str()));
    let hello =
        tokio::task::block_in_place(|| run_snippet(steps[1]["run"].as_str().unwrap(), &env));
    let hello: Value = serde_json::from_str(&hello).unwrap();
    assert_eq!(hello["authorizer"]["tokenKind"], "access");
    assert_eq!(hello["authorizer"]["account"], account_id.as_str());

    // GitLab's job: the ID token in the variable `id_tokens:` names.
    let job = readme_yaml("id_tokens:");
    let variable = job["deploy"]["id_tokens"]
        .as_mapping()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    let id_token = tests::issuer::sign(
        "ec-1",
        Algorithm::ES256,
        &json!({
            "namespace_id": "72",
            "namespace_path": "my-group",
            "project_id": "20",
            "project_path": "my-group/my-project",
            "pipeline_source": "push",
            "ref": "main",
            "ref_type": "branch",
            "ref_protected": "true",
            "iss": idp.issuer,
            "iat": now,
            "nbf": now - 5,
            "exp": now + 3600,
            "sub": "project_path:my-group/my-project:ref_type:branch:ref:main",
            "aud": audience,
        }),
    );
    let env = [
        ("API", system.api.as_str()),
        ("ACCOUNT", client_id.as_str()),
        (variable.as_str(), id_token.as_str()),
    ];
    let hello = tokio::task::block_in_place(|| {
        run_snippet(job["deploy"]["script"][0].as_str().unwrap(), &env)
    });
    let hello: Value = serde_json::from_str(&hello).unwrap();
    assert_eq!(hello["authorizer"]["tokenKind"], "access");
    let _ = std::fs::remove_file(github_env);
}

/// A fresh path under the system's temporary folder.
fn tempfile_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{name}-{}", uuid::Uuid::new_v4()))
}

/// `local` runs the lifecycle on its own, on a short interval: a token whose expiry enters
/// the organization's one-day warning window is warned about in the audit trail, once.
#[test]
fn a_local_run_warns_of_an_expiring_token_on_its_own() {
    let system = LocalSystem::start_with(&["--lifecycle-interval", "1"]);
    let admin = system.admin_token.clone().unwrap();
    let admin = Some(admin.as_str());
    let (status, org) = system.curl(
        "PATCH",
        "/v1/orgs/acme",
        admin,
        Some(r#"{"tokenPolicy": {"expiryWarningDays": [1]}}"#),
    );
    assert_eq!(status, 200, "{org}");
    let (status, account) = system.curl(
        "POST",
        "/v1/orgs/acme/service-accounts",
        admin,
        Some(r#"{"name": "nightly"}"#),
    );
    assert_eq!(status, 201, "{account}");
    // It enters the one-day window a few seconds after it is minted.
    let expiry =
        (time::OffsetDateTime::now_utc() + time::Duration::days(1) + time::Duration::seconds(4))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
    let (status, minted) = system.curl(
        "POST",
        &format!(
            "/v1/orgs/acme/service-accounts/{}/tokens",
            account["id"].as_str().unwrap()
        ),
        admin,
        Some(&format!(r#"{{"name": "ci", "expiresAt": "{expiry}"}}"#)),
    );
    assert_eq!(status, 201, "{minted}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let events = loop {
        let (status, page) = system.curl(
            "GET",
            "/v1/orgs/acme/audit-events?action=token.expiring",
            admin,
            None,
        );
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap().clone();
        if !items.is_empty() || Instant::now() > deadline {
            break items;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["target"]["id"], minted["id"]);
    assert_eq!(events[0]["actor"]["kind"], "policy");
    assert_eq!(events[0]["changes"]["expiryWarning"]["new"]["days"], 1);
    // Later runs add nothing.
    std::thread::sleep(Duration::from_secs(3));
    let (_, page) = system.curl(
        "GET",
        "/v1/orgs/acme/audit-events?action=token.expiring",
        admin,
        None,
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

/// The README's section for infrastructure teams, locally: a custom resource request replayed
/// against the running system makes an account and a token in Secrets Manager (moto), a
/// rotation runs its four steps, the stack's deletion revokes the token, and the trail names
/// the stack.
#[test]
fn local_replays_custom_resource_requests_and_rotations() {
    let system = LocalSystem::start();
    let admin = system.admin_token.clone().unwrap();
    let replay = |path: &str, body: &str| system.curl("POST", path, None, Some(body));
    let (status, account) = replay(
        "/local/cloudformation",
        r#"{"RequestType": "Create", "ResourceType": "Custom::ServiceAccount", "LogicalResourceId": "Deployer", "ResourceProperties": {"Organization": "acme", "Name": "deployer", "Role": "writer"}}"#,
    );
    assert_eq!(status, 200, "{account}");
    assert_eq!(account["Status"], "SUCCESS", "{account}");
    let account_id = account["PhysicalResourceId"].as_str().unwrap().to_owned();
    let token_props = format!(
        r#"{{"Organization": "acme", "ServiceAccount": "{account_id}", "Name": "ci", "Scopes": ["writer"], "SecretName": "service-accounts/local-demo/ci"}}"#
    );
    let (status, token) = replay(
        "/local/cloudformation",
        &format!(
            r#"{{"RequestType": "Create", "ResourceType": "Custom::ServiceToken", "LogicalResourceId": "CiToken", "ResourceProperties": {token_props}}}"#
        ),
    );
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["Status"], "SUCCESS", "{token}");
    assert!(
        token["Data"]["SecretArn"]
            .as_str()
            .unwrap()
            .contains(":secret:service-accounts/local-demo/ci-")
    );
    let (status, rotated) = replay(
        "/local/secretsmanager/rotate",
        r#"{"SecretId": "service-accounts/local-demo/ci"}"#,
    );
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(
        rotated["steps"],
        serde_json::json!(["CreateSecret", "SetSecret", "TestSecret", "FinishSecret"])
    );
    // A step again, as Secrets Manager may repeat it: nothing to do.
    let (status, again) = replay(
        "/local/secretsmanager/rotate",
        &format!(
            r#"{{"SecretId": "service-accounts/local-demo/ci", "Step": "setSecret", "ClientRequestToken": "{}"}}"#,
            rotated["ClientRequestToken"].as_str().unwrap()
        ),
    );
    assert_eq!(status, 200, "{again}");
    let (status, deleted) = replay(
        "/local/cloudformation",
        &format!(
            r#"{{"RequestType": "Delete", "ResourceType": "Custom::ServiceToken", "LogicalResourceId": "CiToken", "PhysicalResourceId": "{}", "ResourceProperties": {token_props}}}"#,
            token["PhysicalResourceId"].as_str().unwrap()
        ),
    );
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    // Both the minted and the rotated token are revoked; the trail names the stack.
    let (status, tokens) = system.curl(
        "GET",
        &format!("/v1/orgs/acme/service-accounts/{account_id}/tokens"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "{tokens}");
    let items = tokens["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{tokens}");
    assert!(
        items.iter().all(|token| token["status"] == "revoked"),
        "{tokens}"
    );
    let (status, refused) = replay(
        "/local/cloudformation",
        r#"{"RequestType": "Create", "StackId": "arn:aws:cloudformation:us-east-1:210987654321:stack/other/1", "ResourceType": "Custom::ServiceAccount", "LogicalResourceId": "Deployer", "ResourceProperties": {"Organization": "acme", "Name": "x"}}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(refused["Status"], "FAILED", "{refused}");
}
