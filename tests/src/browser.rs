//! A real browser for the console's tests: Debian's Chromium, headless, driven through its
//! WebDriver (`chromedriver`, both installed by `scripts/setup`) with `fantoccini`; the
//! `axe-core` accessibility engine (`tools/axe`, pinned) run on a page; screenshots saved
//! under `target/console-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// A browser session, and its driver (stopped when dropped).
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

impl Drop for Browser {
    /// Stops chromedriver and the Chromium it started (one process group: closing the
    /// lifeline stops it all, see `infra::process`), then removes the profile folder. Runs on
    /// success, failure and a panicking test alike; and should this process die without
    /// dropping anything, the kernel closes the lifeline and the browser stops all the same.
    fn drop(&mut self) {
        let processes = self.processes();
        drop(self.driver.stdin.take());
        let _ = self.driver.wait();
        // Chromium's helpers may outlive chromedriver by a moment: the folder goes once they
        // are gone.
        crate::processes::still_running_after(&processes, Duration::from_secs(10));
        let _ = std::fs::remove_dir_all(&self.profile);
        let _ = std::fs::remove_file(self.profile.with_extension("log"));
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl Browser {
    /// Starts `chromedriver` on a free port and a headless Chromium session through it.
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        // The profile is under the clone's target folder, so that the browser's command line
        // names the clone (scripts/test finds what a run left behind by that).
        let profile = root()
            .canonicalize()?
            .join("target/console-profiles")
            .join(format!("console-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&profile)?;
        let driver = infra::process::guarded(
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()),
        )
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={}.log", profile.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting chromedriver (scripts/setup installs chromium and chromium-driver)")?;
        let mut browser_args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--window-size=1280,900".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        browser_args.push("--lang=en-US".to_owned());
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": browser_args,
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Ok(Self {
                        client,
                        driver,
                        profile,
                    });
                }
                Err(error) => last = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(anyhow!("no WebDriver session: {last:?}"))
    }

    /// The processes behind this browser (chromedriver, Chromium and its helpers), as now.
    pub fn processes(&self) -> Vec<u32> {
        crate::processes::descendants(self.driver.id())
    }

    /// The browser's profile folder (removed when the browser is dropped).
    pub fn profile(&self) -> &Path {
        &self.profile
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        Ok(self.client.goto(url).await?)
    }

    /// Waits (up to 10 s) until the page's URL is no longer `from`, and returns it.
    pub async fn left(&self, from: &str) -> anyhow::Result<String> {
        for _ in 0..100 {
            let url = self.client.current_url().await?.to_string();
            if url != from {
                return Ok(url);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("still at {from} after 10 s")
    }

    pub async fn url(&self) -> anyhow::Result<String> {
        Ok(self.client.current_url().await?.to_string())
    }

    /// The page's `<h1>`.
    pub async fn heading(&self) -> anyhow::Result<String> {
        Ok(self.client.find(Locator::Css("h1")).await?.text().await?)
    }

    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let field = self.client.find(Locator::Css(css)).await?;
        field.clear().await?;
        field.send_keys(text).await?;
        Ok(())
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.client.find(Locator::Css(css)).await?.click().await?;
        Ok(())
    }

    /// Clicks what leads to another page, and waits (up to 10 s) until that page is loaded.
    pub async fn follow(&self, css: &str) -> anyhow::Result<()> {
        self.client
            .execute("window.__before_click = true;", Vec::new())
            .await?;
        self.click(css).await?;
        for _ in 0..100 {
            let loaded = self
                .client
                .execute(
                    "return window.__before_click === undefined && document.readyState === 'complete';",
                    Vec::new(),
                )
                .await;
            if matches!(loaded, Ok(Value::Bool(true))) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("clicking {css} led nowhere within 10 s")
    }

    /// What `script` (a function body that `return`s) answers in the page.
    pub async fn script(&self, script: &str) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, Vec::new()).await?)
    }

    /// Resizes the window so that the viewport (`window.innerWidth`) is `width` CSS pixels
    /// wide, 900 high: the page reflows in place, a page shown once (a new secret) as well.
    pub async fn set_width(&self, width: u32) -> anyhow::Result<()> {
        let mut outer = width;
        let mut inner = 0;
        for _ in 0..5 {
            self.client.set_window_size(outer, 900).await?;
            inner = self
                .script("return window.innerWidth;")
                .await?
                .as_u64()
                .context("window.innerWidth is no number")?;
            if inner == u64::from(width) {
                return Ok(());
            }
            // The window's frame, if any, takes its share: widen the window by the difference.
            let frame = i64::from(outer) - i64::try_from(inner)?;
            outer = u32::try_from(i64::from(width) + frame)?;
        }
        bail!("the viewport is {inner} px wide, not {width}")
    }

    /// The whole page's text.
    pub async fn text(&self) -> anyhow::Result<String> {
        Ok(self.client.find(Locator::Css("body")).await?.text().await?)
    }

    pub async fn exists(&self, css: &str) -> anyhow::Result<bool> {
        Ok(!self.client.find_all(Locator::Css(css)).await?.is_empty())
    }

    /// The value of the session cookie, as a `Cookie` header.
    pub async fn cookie_header(&self) -> anyhow::Result<String> {
        let cookies = self.client.get_all_cookies().await?;
        Ok(cookies
            .iter()
            .map(|cookie| format!("{}={}", cookie.name(), cookie.value()))
            .collect::<Vec<_>>()
            .join("; "))
    }

    /// The serious and critical accessibility violations axe-core finds on the page.
    pub async fn accessibility_violations(&self) -> anyhow::Result<Vec<Value>> {
        let source =
            std::fs::read_to_string(root().join("tools/axe/node_modules/axe-core/axe.min.js"))
                .context("reading axe-core (scripts/setup installs tools/axe)")?;
        self.client.execute(&source, Vec::new()).await?;
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] })
                   .then((r) => done(r.violations.map((v) => ({
                       id: v.id, impact: v.impact, help: v.help,
                       targets: v.nodes.map((n) => n.target.join(' ')) }))))
                   .catch((e) => done({ error: String(e) }));",
                Vec::new(),
            )
            .await?;
        let Value::Array(violations) = result else {
            bail!("axe-core failed: {result}");
        };
        Ok(violations
            .into_iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect())
    }

    /// Saves a screenshot of the page as `target/console-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = root().join("target/console-screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await?)?;
        Ok(path)
    }
}
