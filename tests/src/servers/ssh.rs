//! OpenSSH's sshd on 127.0.0.1 for SFTP, and a client configuration that
//! reaches it by a host alias, as a user's `~/.ssh/config` would.
//!
//! OpenSSH reads `~/.ssh/config` from the account's home directory, not
//! from `$HOME`, so the tests put a wrapper named `ssh` first on the `PATH`
//! (see [`SshServer::path`]) that adds `-F` with the test's config: rdr
//! runs `ssh` from the `PATH` as restic does, and sees an alias, a key and
//! a `known_hosts` file that exist nowhere else.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Server, free_port};

/// The host alias of the test server in its client configuration.
pub const ALIAS: &str = "rdr-sftp-test";

/// An sshd with one authorized key, serving SFTP on 127.0.0.1.
pub struct SshServer {
    server: Option<Server>,
    /// The port it listens on.
    pub port: u16,
    dir: tempfile::TempDir,
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (Debian's openssh-client)")
        .success();
    assert!(ok, "ssh-keygen failed");
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl SshServer {
    /// Starts sshd with fresh host and client keys.
    ///
    /// # Panics
    /// When sshd (Debian's openssh-server) is missing or does not start.
    #[must_use]
    pub fn start() -> Self {
        Self::start_with("")
    }

    /// An append-only server: its SFTP subsystem refuses every removal
    /// (`internal-sftp -P remove,rmdir`), as for a user who may add files
    /// but not delete them.
    ///
    /// # Panics
    /// As [`Self::start`].
    #[must_use]
    pub fn append_only() -> Self {
        Self::start_with(" -P remove,rmdir")
    }

    fn start_with(sftp_flags: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).expect("authorized_keys");
        fs::create_dir(d.join("data")).expect("data dir");
        let port = free_port();
        fs::write(
            d.join("sshd_config"),
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
                 PidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n\
                 PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
                 StrictModes no\nUsePAM no\nSubsystem sftp internal-sftp{sftp_flags}\n",
                d = d.display()
            ),
        )
        .expect("sshd_config");
        let host_pub = fs::read_to_string(d.join("host_key.pub")).expect("host key");
        let mut fields = host_pub.split_whitespace();
        let (kind, key) = (fields.next().unwrap_or(""), fields.next().unwrap_or(""));
        fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {kind} {key}\n"),
        )
        .expect("known_hosts");
        fs::write(
            d.join("ssh_config"),
            format!(
                "Host {ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n\
                 \x20 IdentityFile {d}/client_key\n  IdentitiesOnly yes\n\
                 \x20 UserKnownHostsFile {d}/known_hosts\n  BatchMode yes\n",
                user = user(),
                d = d.display()
            ),
        )
        .expect("ssh_config");
        fs::create_dir(d.join("bin")).expect("bin dir");
        let wrapper = d.join("bin/ssh");
        fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -F '{}/ssh_config' \"$@\"\n",
                d.display()
            ),
        )
        .expect("ssh wrapper");
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).expect("chmod");
        // sshd wants its privilege-separation directory
        let _ = fs::create_dir_all("/run/sshd");
        let mut s = Self {
            server: None,
            port,
            dir,
        };
        s.restart();
        s
    }

    /// Starts sshd again on the same port and keys (after [`Self::kill`]).
    ///
    /// # Panics
    /// As [`Self::start`].
    pub fn restart(&mut self) {
        let d = self.dir.path();
        let log = fs::File::create(d.join("sshd.log")).expect("log");
        let mut cmd = Command::new("/usr/sbin/sshd");
        cmd.arg("-D")
            .arg("-e")
            .arg("-f")
            .arg(d.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.server = Some(Server::start("sshd", cmd, self.port));
    }

    /// Stops sshd and every session it serves.
    pub fn kill(&mut self) {
        self.server = None;
    }

    /// `PATH` with the `ssh` wrapper first: give it to rdr's process.
    #[must_use]
    pub fn path(&self) -> OsString {
        let mut p = OsString::from(self.dir.path().join("bin"));
        p.push(":");
        p.push(std::env::var_os("PATH").unwrap_or_default());
        p
    }

    /// The repository location `name` on the server, through the alias.
    #[must_use]
    pub fn location(&self, name: &str) -> String {
        format!("sftp:{ALIAS}:{}", self.data_dir().join(name).display())
    }

    /// The `ssh` processes still running with this server's client
    /// configuration (rdr must leave none behind).
    #[must_use]
    pub fn clients_left(&self) -> Vec<String> {
        let config = self.dir.path().join("ssh_config");
        let mut left = Vec::new();
        for _ in 0..50 {
            left = super::processes_with(&config.display().to_string())
                .into_iter()
                .filter(|c| c.starts_with("/usr/bin/ssh "))
                .collect();
            if left.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        left
    }

    /// The directory the repositories live in.
    #[must_use]
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}
