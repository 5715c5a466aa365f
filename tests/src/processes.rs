//! The process table, read from `/proc`: what a process started (its descendants) and whether
//! a process still runs, to prove that nothing a run started outlives it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Every process's parent, by pid.
fn parents() -> BTreeMap<u32, u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid ...`; `comm` may hold spaces and parentheses.
            let (_, rest) = stat.rsplit_once(") ")?;
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect()
}

/// Every process `pid` started, and what they started, as the table is now.
pub fn descendants(pid: u32) -> Vec<u32> {
    let parents = parents();
    let mut found = Vec::new();
    let mut next = vec![pid];
    while let Some(parent) = next.pop() {
        for (child, _) in parents.iter().filter(|(_, p)| **p == parent) {
            found.push(*child);
            next.push(*child);
        }
    }
    found
}

pub use infra::process::alive;

/// The pids of `pids` still running after waiting up to `limit` for them to end.
pub fn still_running_after(pids: &[u32], limit: Duration) -> Vec<u32> {
    let started = Instant::now();
    loop {
        let running: Vec<u32> = pids.iter().copied().filter(|pid| alive(*pid)).collect();
        if running.is_empty() || started.elapsed() >= limit {
            return running;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A process's command line, for messages.
pub fn command_line(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .unwrap_or_default()
}
