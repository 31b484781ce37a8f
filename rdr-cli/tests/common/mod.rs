//! Shared harness of the CLI integration tests: a temp dir with a
//! repository, and helpers to run the real `rdr` binary.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const PASSWORD: &str = "test password";

pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A temp dir under the target dir (a real disk: xattrs, sparse files)
    /// with an initialized repository (cheap KDF).
    pub fn new() -> Self {
        Self::with_init(&[])
    }

    pub fn with_init(extra: &[&str]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rdr-it-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let e = Self { dir };
        let mut args = vec!["init", "--kdf-log-n", "10"];
        args.extend_from_slice(extra);
        e.ok(&args);
        e
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn repo(&self) -> PathBuf {
        self.path("repo")
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rdr"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RDR_PASSWORD", PASSWORD)
            .arg("-r")
            .arg(self.repo())
            .args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Starts rdr with stdin, stdout and stderr piped.
    pub fn spawn_piped(&self, args: &[&str]) -> std::process::Child {
        self.cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self.spawn_piped(args);
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    }

    /// Runs and asserts exit 0; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_ok(&o, args);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `backup --json` summary line.
    pub fn backup_json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["backup", "--json"];
        a.extend_from_slice(args);
        last_json(&self.ok(&a))
    }

    pub fn snapshots(&self) -> Vec<serde_json::Value> {
        let out = self.ok(&["snapshots", "--json"]);
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// Bytes of all files under the repository's data/.
    pub fn repo_data_bytes(&self) -> u64 {
        dir_bytes(&self.repo().join("data"))
    }

    pub fn count(&self, sub: &str) -> usize {
        std::fs::read_dir(self.repo().join(sub)).map_or(0, |d| d.count())
    }
}

pub fn assert_ok(o: &Output, args: &[&str]) {
    assert!(
        o.status.success(),
        "rdr {args:?} exited {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

pub fn last_json(out: &str) -> serde_json::Value {
    let line = out
        .lines()
        .rev()
        .find(|l| l.contains("\"summary\""))
        .unwrap_or_else(|| panic!("no summary in {out}"));
    serde_json::from_str(line).unwrap()
}

pub fn dir_bytes(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = e.metadata().unwrap();
            n += if m.is_dir() {
                dir_bytes(&e.path())
            } else {
                m.len()
            };
        }
    }
    n
}

/// Deterministic pseudo-random bytes (BLAKE3 XOF: fast even in debug builds).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.finalize_xof().fill(&mut out);
    out
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
