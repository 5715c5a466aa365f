//! Nothing left running: `local` and `infra serve` stop every process they started (DynamoDB
//! Local's JVM, moto, the OpenID Provider), whether they are ended by Ctrl-C, `SIGTERM` or
//! `SIGKILL`, which runs no code of theirs at all; and the guard every child is started with
//! stops what the child started in turn.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tests::processes::{command_line, descendants, still_running_after};
use tests::runtime_api::workspace_binary;

use crate::local_system::LocalSystem;

/// Sends `signal` to `child`, waits for it, and answers what it had started that still runs
/// a few seconds later (with their command lines).
fn end_with(child: &mut Child, started: &[u32], signal: &str) -> Vec<String> {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "it did not end on {signal}");
        std::thread::sleep(Duration::from_millis(100));
    }
    still_running_after(started, Duration::from_secs(10))
        .into_iter()
        .map(|pid| format!("{pid} {}", command_line(pid)))
        .collect()
}

#[test]
fn local_leaves_nothing_running_however_it_ends() {
    for signal in ["INT", "TERM", "KILL"] {
        let mut system = LocalSystem::start();
        let started = descendants(system.child.id());
        let commands: Vec<String> = started.iter().map(|pid| command_line(*pid)).collect();
        for server in ["DynamoDBLocal.jar", "moto_server", "provider.mjs"] {
            assert!(
                commands.iter().any(|command| command.contains(server)),
                "{server} among {commands:#?}"
            );
        }
        let left = end_with(&mut system.child, &started, signal);
        assert!(left.is_empty(), "after SIG{signal}: {left:#?}");
    }
}

#[test]
fn infra_serve_leaves_nothing_running_however_it_ends() {
    for signal in ["INT", "TERM", "KILL"] {
        let mut child = infra::process::ended_with_parent(workspace_binary("infra").unwrap())
            .args(["serve", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = lines.any(|line| line.is_ok_and(|line| line == "ready"));
        assert!(ready, "infra serve printed ready");
        // Keep draining, so that it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let started = descendants(child.id());
        assert!(
            started
                .iter()
                .any(|pid| command_line(*pid).contains("DynamoDBLocal.jar")),
            "DynamoDB Local among {started:?}"
        );
        let left = end_with(&mut child, &started, signal);
        assert!(left.is_empty(), "after SIG{signal}: {left:#?}");
    }
}

#[tokio::test]
async fn a_dropped_browser_stops_chromedriver_and_chromium_and_removes_its_profile() {
    let browser = tests::browser::Browser::start().await.unwrap();
    browser.goto("about:blank").await.unwrap();
    let started = browser.processes();
    assert!(
        started
            .iter()
            .any(|pid| command_line(*pid).contains("chromium")),
        "{:?}",
        started
            .iter()
            .map(|pid| command_line(*pid))
            .collect::<Vec<_>>()
    );
    let profile = browser.profile().to_owned();
    assert!(profile.exists());
    // As a panicking test's unwinding drops it.
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _browser = browser;
        panic!("a failing test");
    }));
    assert!(unwound.is_err());
    let left = still_running_after(&started, Duration::from_secs(10));
    assert!(
        left.is_empty(),
        "{:#?}",
        left.iter()
            .map(|pid| command_line(*pid))
            .collect::<Vec<_>>()
    );
    assert!(!profile.exists());
}
