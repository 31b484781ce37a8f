//! The health command of a drill: a shell command run against the restored
//! data (start a database on it, count rows), in its own process group so
//! that a timeout or a cancel stops everything it started.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::ops::progress::Progress;

/// Bytes of the command's output kept (the end of it).
pub const OUTPUT_KEPT: usize = 16 << 10;

/// How the health command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthOutcome {
    /// The command line, as given.
    pub command: String,
    /// Its exit code; `None` when a signal ended it.
    pub exit_code: Option<i32>,
    /// Killed because it ran past its time limit.
    pub timed_out: bool,
    /// The last [`OUTPUT_KEPT`] bytes of its standard output and error.
    pub output: String,
}

impl HealthOutcome {
    /// Whether the command exited with status 0.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// Why it failed, in one line (with the last line of its output).
    #[must_use]
    pub fn failure(&self) -> Option<String> {
        if self.passed() {
            return None;
        }
        let how = if self.timed_out {
            "ran past its time limit and was killed".to_owned()
        } else {
            match self.exit_code {
                Some(c) => format!("exited with status {c}"),
                None => "was killed by a signal".to_owned(),
            }
        };
        let last = self
            .output
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Some(if last.is_empty() {
            format!("health command {how}")
        } else {
            format!("health command {how}: {}", last.trim())
        })
    }
}

/// The end of a stream, bounded.
#[derive(Default)]
struct Tail(Vec<u8>);

impl Tail {
    fn push(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
        if self.0.len() > 2 * OUTPUT_KEPT {
            let cut = self.0.len() - OUTPUT_KEPT;
            self.0.drain(..cut);
        }
    }

    fn text(&self) -> String {
        let start = self.0.len().saturating_sub(OUTPUT_KEPT);
        String::from_utf8_lossy(&self.0[start..]).into_owned()
    }
}

fn drain(
    mut from: impl Read + Send + 'static,
    into: Arc<Mutex<Tail>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Ok(mut t) = into.lock() {
                        t.push(&buf[..n]);
                    }
                }
            }
        }
    })
}

/// Stops the command's process group: SIGTERM, then SIGKILL after 5 s.
fn stop(child: &mut Child) {
    let Ok(raw) = i32::try_from(child.id()) else {
        let _ = child.kill();
        return;
    };
    let group = Pid::from_raw(raw);
    let _ = killpg(group, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = killpg(group, Signal::SIGKILL);
    let _ = child.wait();
}

/// Runs `command` with `sh -c` in `dir`, with `env` added to its
/// environment and no standard input. Returns when it exits, when
/// `timeout` passes, or when `progress` asks to cancel (then the whole
/// process group is stopped).
///
/// # Errors
/// The message of a failure to start the shell.
pub fn run(
    command: &str,
    dir: &Path,
    env: &[(&str, String)],
    timeout: Option<Duration>,
    progress: &dyn Progress,
) -> Result<HealthOutcome, String> {
    let fail = |e: io::Error| format!("health command could not start: sh: {e}");
    // one pipe for both streams keeps their order (as `2>&1` would)
    let (reader, writer) = io::pipe().map_err(fail)?;
    let mut cmd = crate::process::command("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer.try_clone().map_err(fail)?))
        .stderr(Stdio::from(writer))
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let spawned = cmd.spawn();
    // the command holds the pipe's write ends until it is dropped
    drop(cmd);
    let mut child = spawned.map_err(fail)?;
    let tail = Arc::new(Mutex::new(Tail::default()));
    let readers = [drain(reader, Arc::clone(&tail))];
    let started = Instant::now();
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(_) => break None,
        }
        if timeout.is_some_and(|t| started.elapsed() > t) {
            timed_out = true;
            stop(&mut child);
            break None;
        }
        if progress.is_cancelled() {
            stop(&mut child);
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // a background process that keeps the pipes open must not hang the drill
    let deadline = Instant::now() + Duration::from_secs(2);
    for r in readers {
        while !r.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let output = tail.lock().map(|t| t.text()).unwrap_or_default();
    Ok(HealthOutcome {
        command: command.to_owned(),
        exit_code: status.and_then(|s| s.code()),
        timed_out,
        output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::progress::NoProgress;

    fn sh(cmd: &str, timeout: Option<Duration>) -> HealthOutcome {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), "restored\n").unwrap();
        run(
            cmd,
            dir.path(),
            &[("RDR_DRILL_TARGET", dir.path().display().to_string())],
            timeout,
            &NoProgress,
        )
        .unwrap()
    }

    #[test]
    fn passes_and_fails_with_the_last_line() {
        let ok = sh("cat f && test -d \"$RDR_DRILL_TARGET\"", None);
        assert!(ok.passed(), "{ok:?}");
        assert_eq!(ok.output, "restored\n");
        let bad = sh("echo counting; echo 'rows: 0' >&2; exit 3", None);
        assert_eq!(bad.exit_code, Some(3));
        assert_eq!(
            bad.failure().unwrap(),
            "health command exited with status 3: rows: 0"
        );
    }

    #[test]
    fn a_timeout_kills_the_whole_group() {
        let out = sh(
            "sleep 30 & sleep 30; echo never",
            Some(Duration::from_millis(300)),
        );
        assert!(out.timed_out);
        assert!(!out.passed());
        assert!(out.failure().unwrap().contains("time limit"));
        assert!(!out.output.contains("never"));
    }

    #[test]
    fn keeps_only_the_end_of_long_output() {
        let out = sh("yes abcdefgh | head -c 100000; echo END", None);
        assert!(out.passed());
        assert!(out.output.len() <= OUTPUT_KEPT);
        assert!(out.output.ends_with("END\n"));
    }
}
