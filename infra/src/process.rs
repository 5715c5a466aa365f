//! Child processes that cannot outlive whoever started them, however that ends.
//!
//! `local` and the tests start servers (DynamoDB Local's JVM, moto, the OpenID Provider's
//! node, chromedriver and the Chromium it starts, the function binaries). `kill_on_drop`
//! helps only when our process shuts down in order; one killed (`SIGKILL`, a test harness's
//! `Child::kill`), aborted by a panic, or crashed would leave them running, holding ports and
//! memory run after run. So each is started through a tiny shell wrapper ([`guarded`]):
//!
//! * the program runs in a process group of its own (`setsid`), so whatever it starts in turn
//!   (Chromium under chromedriver, a JVM's helpers) is stopped with it;
//! * the wrapper's standard input is a pipe from us, the *lifeline*: when it closes (we drop
//!   it, we exit, or the kernel closes it because we died, `SIGKILL` included) a watcher in the
//!   wrapper sends the group `SIGTERM`, then `SIGKILL` after five seconds;
//! * a `SIGTERM`, `SIGINT` or `SIGHUP` to the wrapper stops the group the same way, and when the
//!   program exits by itself the wrapper exits with its status.
//!
//! Unlike `PR_SET_PDEATHSIG`, the lifeline does not depend on which thread started the child
//! (a test's thread ends with the test; a tokio blocking thread after a while), and it needs no
//! `unsafe` `pre_exec`. The program's own standard input is `/dev/null`.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

/// The wrapper: `sh -c WRAPPER sh <program> <args>...`.
const WRAPPER: &str = r#"
exec 3<&0
setsid "$@" </dev/null 3<&- &
child=$!
stop() {
    kill -s TERM -- "-$child" 2>/dev/null
    i=0
    while kill -s 0 -- "-$child" 2>/dev/null && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -s KILL -- "-$child" 2>/dev/null
}
( read -r _lifeline <&3; stop ) &
exec 3<&-
trap 'stop; exit 143' TERM INT HUP
wait "$child"
"#;

/// A command that runs `program` guarded by the wrapper: add its arguments, environment,
/// working directory and output as usual, spawn it, and keep the child's `stdin` (the
/// lifeline) for as long as the program should run; dropping it stops the program and every
/// process it started. The child's pid is the wrapper's, not the program's.
pub fn guarded(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(WRAPPER)
        .arg("sh")
        .arg(program)
        .stdin(Stdio::piped());
    command
}

/// A command that runs `program` itself (its pid is the program's, so the caller can signal
/// it) with the kernel's parent-death signal set (`setpriv --pdeathsig KILL`, util-linux): the
/// program is killed when its parent ends, however (`SIGKILL` included). On Linux the parent
/// is the *thread* that started it (a test's thread ends with the test, passed or panicked);
/// some kernels (gVisor's) wait for the whole process. For programs the caller must signal
/// directly (`local`, the function binaries); what they start is theirs to guard. Where
/// `setpriv` is missing (not Linux), the plain program.
pub fn ended_with_parent(program: impl AsRef<OsStr>) -> Command {
    const SETPRIV: &str = "/usr/bin/setpriv";
    if std::path::Path::new(SETPRIV).exists() {
        let mut command = Command::new(SETPRIV);
        command.args(["--pdeathsig", "KILL", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Whether the process `pid` runs, from `/proc` (a zombie, dead but not yet reaped, does
/// not; `comm` in `stat` may hold spaces and parentheses, so the state follows the last `) `).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(") ")
                .map(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    fn gone_within(pids: &[u32], limit: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if pids.iter().all(|pid| !alive(*pid)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Starts a program that starts a grandchild and prints both pids.
    fn start() -> (std::process::Child, Vec<u32>) {
        let mut child = guarded("sh")
            .args(["-c", "sleep 300 & echo $$ $!; wait"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let pids = line
            .split_whitespace()
            .map(|pid| pid.parse().unwrap())
            .collect();
        (child, pids)
    }

    #[test]
    fn closing_the_lifeline_stops_the_program_and_what_it_started() {
        let (mut child, pids) = start();
        assert!(pids.iter().all(|pid| alive(*pid)));
        drop(child.stdin.take());
        assert!(gone_within(&pids, Duration::from_secs(10)), "{pids:?}");
        child.wait().unwrap();
    }

    /// How many processes `pid` is the parent of (from `/proc`, which gVisor has too).
    fn children_of(pid: u32) -> usize {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| {
                let stat = std::fs::read_to_string(entry.ok()?.path().join("stat")).ok()?;
                let (_, rest) = stat.rsplit_once(") ")?;
                let parent: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
                (parent == pid).then_some(())
            })
            .count()
    }

    #[test]
    fn a_killed_wrapper_still_stops_them_once_the_lifeline_closes() {
        let (mut child, pids) = start();
        // The wrapper starts the program, then its watcher: the program's first line can come
        // before the watcher exists, and a wrapper killed in that moment leaves no one to read
        // the lifeline (a window of a fork, which the test would hit one run in fifteen). Kill
        // it once both run, as a harness's kill would almost always find it.
        let started = Instant::now();
        while children_of(child.id()) < 2 && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // As the kernel closes our end when we die.
        drop(child.stdin.take());
        assert!(gone_within(&pids, Duration::from_secs(10)), "{pids:?}");
    }

    #[test]
    fn a_program_ends_with_the_process_that_started_it() {
        // A parent that starts the program and exits at once, printing its pid.
        let program = ended_with_parent("sleep")
            .arg("300")
            .get_program()
            .to_owned();
        let args: Vec<_> = ended_with_parent("sleep")
            .arg("300")
            .get_args()
            .map(ToOwned::to_owned)
            .collect();
        let output = Command::new("sh")
            // (It waits a moment: the parent-death signal is armed by setpriv, after the fork.)
            .args(["-c", "\"$@\" >/dev/null 2>&1 & echo $!; sleep 1", "sh"])
            .arg(program)
            .args(args)
            .output()
            .unwrap();
        let pid: u32 = String::from_utf8(output.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(gone_within(&[pid], Duration::from_secs(10)), "{pid}");
    }

    #[test]
    fn a_program_that_exits_ends_the_wrapper_with_its_status() {
        let mut child = guarded("sh").args(["-c", "exit 3"]).spawn().unwrap();
        // Held while waiting (`Child::wait` would close it first, and stop the program).
        let _lifeline = child.stdin.take();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(3));
    }
}
