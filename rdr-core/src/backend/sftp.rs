//! SFTP through OpenDAL's sftp service, which drives the user's OpenSSH
//! client (`ssh` on the `PATH`): host aliases, ports, users, keys, the
//! agent and `known_hosts` all come from the OpenSSH configuration, as
//! with restic. Host keys are checked strictly: an unknown or changed host
//! key is refused, never added.
//!
//! SFTP writes land in place, so a new object is written to `tmp/` and
//! renamed into place once complete ([`WriteMode::ViaTmp`]).

use super::opendal_ops::WriteMode;
use super::remote::Remote;
use super::{BackendError, BackendResult};

/// How to reach an SFTP directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SftpConfig {
    /// What `ssh` is given: a host or alias, or `ssh://[USER@]HOST:PORT`.
    pub(crate) destination: String,
    /// Login name, when the location names one.
    pub(crate) user: Option<String>,
    /// Absolute directory on the server.
    pub(crate) root: String,
}

impl SftpConfig {
    /// The configuration of `sftp:[user@]host[:port]:path`.
    ///
    /// # Errors
    /// [`BackendError::Setup`] for a relative path: OpenDAL's SFTP service
    /// resolves paths from `/`, not from the login directory.
    pub(crate) fn new(
        user: Option<&str>,
        host: &str,
        port: Option<u16>,
        path: &str,
    ) -> BackendResult<Self> {
        if !path.starts_with('/') {
            return Err(BackendError::Setup(format!(
                "sftp: the path {path:?} is relative; give the absolute directory \
                 (sftp:{host}:/home/USER/{path})"
            )));
        }
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let destination = match port {
            Some(p) => match user {
                Some(u) => format!("ssh://{u}@{bracketed}:{p}"),
                None => format!("ssh://{bracketed}:{p}"),
            },
            None => host.to_owned(),
        };
        Ok(Self {
            destination,
            user: user.map(str::to_owned),
            root: path.to_owned(),
        })
    }

    fn builder(&self) -> opendal::services::Sftp {
        let mut b = opendal::services::Sftp::default()
            .endpoint(&self.destination)
            .root(&self.root)
            .known_hosts_strategy("strict");
        if let Some(u) = &self.user {
            b = b.user(u);
        }
        b
    }
}

/// A directory on an SFTP server; `ssh` starts with the first request.
///
/// # Errors
/// [`BackendError::Setup`] when OpenDAL refuses the configuration.
pub(crate) fn connect(cfg: &SftpConfig, location: String) -> BackendResult<Remote> {
    Remote::new(cfg.builder(), location, WriteMode::ViaTmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_leave_the_rest_to_the_openssh_config() {
        let c = SftpConfig::new(None, "backup-host", None, "/srv/rdr").unwrap();
        assert_eq!(c.destination, "backup-host");
        assert_eq!(c.user, None);
        assert_eq!(c.root, "/srv/rdr");
        let c = SftpConfig::new(Some("ops"), "10.0.0.5", None, "/r").unwrap();
        assert_eq!(c.destination, "10.0.0.5");
        assert_eq!(c.user.as_deref(), Some("ops"));
        let c = SftpConfig::new(Some("ops"), "::1", Some(2222), "/r").unwrap();
        assert_eq!(c.destination, "ssh://ops@[::1]:2222");
        let c = SftpConfig::new(None, "h", Some(22), "/r").unwrap();
        assert_eq!(c.destination, "ssh://h:22");
    }

    #[test]
    fn relative_paths_are_refused_with_the_absolute_form() {
        let e = SftpConfig::new(None, "h", None, "backups/repo").unwrap_err();
        assert!(
            e.to_string().contains("sftp:h:/home/USER/backups/repo"),
            "{e}"
        );
    }
}
