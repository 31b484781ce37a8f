//! This process and the processes it starts: keeping rdr's secrets out of
//! both core files and children.
//!
//! * [`harden`] stops the kernel from writing a core file of this process
//!   (which would hold the master key): `RLIMIT_CORE` 0 for plain core
//!   files and `PR_SET_DUMPABLE` 0 for a piped `core_pattern`
//!   (systemd-coredump, apport), which ignores the limit. It also keeps
//!   other processes of the same user from attaching with ptrace.
//! * [`command`] starts a child (`--stdin-from-command`, a drill's health
//!   command, a password command) without rdr's secrets in its
//!   environment: `sh -c env` run as a backup source used to store
//!   `RDR_PASSWORD` inside the backup.

use std::ffi::OsStr;
use std::process::Command;

/// Variables that hold rdr's secrets or the storage credentials rdr reads:
/// never passed to a child process.
pub const SECRET_VARIABLES: &[&str] = &[
    "RDR_PASSWORD",
    "RDR_FROM_PASSWORD",
    "RDR_WEBDAV_PASSWORD",
    "RDR_WEBDAV_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Disables core dumps of this process (see the module docs). Returns
/// what could not be done, for a warning; on failure rdr still runs.
#[must_use]
pub fn harden() -> Vec<String> {
    use nix::sys::resource::{Resource, setrlimit};
    let mut failed = Vec::new();
    if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, 0) {
        failed.push(format!("cannot disable core files (RLIMIT_CORE): {e}"));
    }
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        failed.push(format!("cannot disable core dumps (PR_SET_DUMPABLE): {e}"));
    }
    failed
}

/// A [`Command`] for `program` whose environment lacks every variable in
/// [`SECRET_VARIABLES`].
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for v in SECRET_VARIABLES {
        cmd.env_remove(v);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_do_not_inherit_secret_variables() {
        let cmd = command("sh");
        let removed: Vec<_> = cmd
            .get_envs()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.to_owned())
            .collect();
        for v in SECRET_VARIABLES {
            assert!(removed.iter().any(|k| k == v), "{v} is passed on");
        }
    }

    #[test]
    fn harden_disables_core_files() {
        assert!(harden().is_empty(), "{:?}", harden());
        let (soft, hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_CORE).unwrap();
        assert_eq!((soft, hard), (0, 0));
        assert!(!nix::sys::prctl::get_dumpable().unwrap());
    }
}
