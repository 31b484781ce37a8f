//! [`Storage`]: the one place where a [`Location`] becomes a backend.

use std::sync::Arc;

use super::{Backend, BackendError, FileType, LocalBackend, MemoryBackend};
use crate::error::Result;
use crate::location::Location;

/// The storage a repository lives on, reached from a [`Location`]; pass it
/// to [`crate::Repository::init`] or [`crate::Repository::open`]. Cheap to
/// clone (the connection is shared).
#[derive(Clone)]
pub struct Storage {
    backend: Arc<dyn Backend>,
    remote: bool,
    cache: Option<std::path::PathBuf>,
    connections: Option<usize>,
    /// Bytes per second up and down (`None`: as fast as it goes).
    limits: (Option<u64>, Option<u64>),
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("location", &self.backend.location())
            .finish()
    }
}

impl Storage {
    /// Connects to the storage at `location`. Credentials for remote
    /// storage come from the environment variables of its ecosystem, never
    /// from the location: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_PROFILE` for S3; the OpenSSH
    /// configuration for SFTP; `RDR_WEBDAV_USERNAME`/`RDR_WEBDAV_PASSWORD`
    /// or `RDR_WEBDAV_TOKEN` for WebDAV; `AZURE_ACCOUNT_NAME` with
    /// `AZURE_ACCOUNT_KEY` or `AZURE_ACCOUNT_SAS`;
    /// `GOOGLE_APPLICATION_CREDENTIALS` or `GOOGLE_ACCESS_TOKEN`;
    /// `B2_ACCOUNT_ID`, `B2_ACCOUNT_KEY` and `B2_BUCKET_ID`
    /// (docs/backends.md). No request is made until the first operation.
    ///
    /// # Errors
    /// [`crate::Error::Backend`] when the storage cannot be set up, or its
    /// scheme is not compiled into this build.
    pub fn connect(location: &Location) -> Result<Self> {
        Self::connect_with(location, &|name| std::env::var(name).ok())
    }

    /// The location schemes this build can reach (`local` always; the
    /// others are cargo features of rdr-core).
    #[must_use]
    pub fn schemes() -> Vec<&'static str> {
        let mut out = vec!["local"];
        for (on, name) in [
            (cfg!(feature = "s3"), "s3"),
            (cfg!(feature = "sftp"), "sftp"),
            (cfg!(feature = "webdav"), "webdav"),
            (cfg!(feature = "azure"), "azure"),
            (cfg!(feature = "gcs"), "gcs"),
            (cfg!(feature = "b2"), "b2"),
        ] {
            if on {
                out.push(name);
            }
        }
        out
    }

    /// [`Self::connect`] with the variables looked up by `var` instead of
    /// in the process environment (for programs that keep credentials
    /// elsewhere).
    ///
    /// # Errors
    /// As [`Self::connect`].
    pub fn connect_with(location: &Location, var: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let backend: Arc<dyn Backend> = match location {
            Location::Local { path } => Arc::new(LocalBackend::new(path)?),
            #[cfg(feature = "s3")]
            Location::S3 {
                endpoint,
                bucket,
                prefix,
            } => {
                let cfg = super::s3::S3Config::new(endpoint.as_ref(), bucket, prefix, var)?;
                Arc::new(super::s3::connect(&cfg, location.to_string())?)
            }
            #[cfg(feature = "sftp")]
            Location::Sftp {
                user,
                host,
                port,
                path,
            } => {
                let cfg = super::sftp::SftpConfig::new(user.as_deref(), host, *port, path)?;
                Arc::new(super::sftp::connect(&cfg, location.to_string())?)
            }
            #[cfg(feature = "webdav")]
            Location::WebDav { endpoint, path } => {
                let cfg = super::webdav::WebDavConfig::new(endpoint, path, var)?;
                Arc::new(super::webdav::connect(&cfg, location.to_string())?)
            }
            #[cfg(feature = "azure")]
            Location::Azure { container, path } => Arc::new(
                super::cloud::CloudConfig::azure(container, path, var)?
                    .connect(location.to_string())?,
            ),
            #[cfg(feature = "gcs")]
            Location::Gcs { bucket, path } => Arc::new(
                super::cloud::CloudConfig::gcs(bucket, path, var)?.connect(location.to_string())?,
            ),
            #[cfg(feature = "b2")]
            Location::B2 { bucket, path } => Arc::new(
                super::cloud::CloudConfig::b2(bucket, path, var)?.connect(location.to_string())?,
            ),
            #[allow(unreachable_patterns)]
            other => {
                let _ = var;
                return Err(BackendError::Unsupported {
                    scheme: other.scheme(),
                }
                .into());
            }
        };
        Ok(Self {
            backend,
            remote: !matches!(location, Location::Local { .. }),
            cache: None,
            connections: None,
            limits: (None, None),
        })
    }

    /// Empty storage in memory, for tests and examples: it is gone when the
    /// last clone is dropped.
    ///
    /// # Errors
    /// [`crate::Error::Backend`] when the memory service cannot be built.
    pub fn memory() -> Result<Self> {
        Ok(Self::from_backend(Arc::new(MemoryBackend::new()?)))
    }

    /// Storage over any backend (tests wrap backends to inject faults).
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn from_backend(backend: Arc<dyn Backend>) -> Self {
        Self {
            backend,
            remote: false,
            cache: None,
            connections: None,
            limits: (None, None),
        }
    }

    /// Sends at most `n` requests to the storage at once (at least 1):
    /// uploads, downloads, listings and removals share the bound, so at
    /// most `n` packs are in flight. The default is
    /// [`Self::DEFAULT_CONNECTIONS`] for local storage and
    /// [`Self::DEFAULT_REMOTE_CONNECTIONS`] for remote storage.
    #[must_use]
    pub fn with_connections(mut self, n: usize) -> Self {
        self.connections = Some(n.max(1));
        self
    }

    /// Paces the bytes sent to the storage to `upload` and those read from
    /// it to `download` bytes per second (`None`: unpaced), over all
    /// threads together; for a link shared with other work. Uploads are
    /// paced a write at a time as packs are staged; see the `throttled`
    /// backend for how.
    #[must_use]
    pub fn with_rate_limits(mut self, upload: Option<u64>, download: Option<u64>) -> Self {
        self.limits = (upload, download);
        self
    }

    /// Parallel uploads to a local directory (reads are not bounded unless
    /// [`Self::with_connections`] asks).
    pub const DEFAULT_CONNECTIONS: usize = 2;
    /// Requests in flight to remote storage.
    pub const DEFAULT_REMOTE_CONNECTIONS: usize = 2;

    /// How many requests go to the storage at once (and uploads run).
    pub(crate) fn connections(&self) -> usize {
        self.connections.unwrap_or(if self.remote {
            Self::DEFAULT_REMOTE_CONNECTIONS
        } else {
            Self::DEFAULT_CONNECTIONS
        })
    }

    /// Keeps a local cache of the repository's index, snapshot and tree
    /// data under `dir` (one directory per repository inside): once warm,
    /// listing snapshots, browsing trees and a no-change backup read no
    /// pack data from the storage. Every cached entry is checked when read;
    /// a damaged one is fetched again. Meant for remote storage.
    #[must_use]
    pub fn with_cache(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.cache = Some(dir.into());
        self
    }

    /// The usual cache directory: `RDR_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/rdr`, else `$HOME/.cache/rdr`.
    #[must_use]
    pub fn default_cache_dir() -> Option<std::path::PathBuf> {
        crate::repo::default_cache_dir(&|n| std::env::var(n).ok())
    }

    /// Where the cache lives, if any.
    pub(crate) fn cache_dir(&self) -> Option<&std::path::Path> {
        self.cache.as_deref()
    }

    /// Whether the storage is reached over a network (not a local
    /// directory or memory).
    #[must_use]
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    /// Where the storage is, for messages (never with credentials).
    #[must_use]
    pub fn describe(&self) -> String {
        self.backend.location()
    }

    /// Whether a repository (its config) is there. Cheap: no password needed,
    /// so a caller can say "no repository" before asking for one.
    ///
    /// # Errors
    /// [`crate::Error::Backend`] when the storage cannot be listed.
    pub fn has_repository(&self) -> Result<bool> {
        match self.backend.list(FileType::Config) {
            Ok(names) => Ok(!names.is_empty()),
            Err(BackendError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The backend a repository on it uses: with at most
    /// [`Self::connections`] requests in flight, for remote storage or
    /// when asked.
    /// And paced to the rate limits, when set.
    pub(crate) fn bounded_backend(&self) -> Arc<dyn Backend> {
        let bounded: Arc<dyn Backend> = if self.remote || self.connections.is_some() {
            Arc::new(super::limited::Limited::new(
                Arc::clone(&self.backend),
                self.connections(),
            ))
        } else {
            Arc::clone(&self.backend)
        };
        match self.limits {
            (None, None) => bounded,
            (up, down) => Arc::new(super::throttled::Throttled::new(bounded, up, down)),
        }
    }

    /// The backend behind it.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(not(feature = "sftp"))]
    fn remote_schemes_not_compiled_in_are_named() {
        let loc = Location::parse("sftp:host:/srv").unwrap();
        let err = Storage::connect(&loc).unwrap_err();
        assert!(err.to_string().contains("sftp"), "{err}");
        assert!(matches!(
            err,
            crate::Error::Backend(BackendError::Unsupported { scheme: "sftp" })
        ));
    }

    #[test]
    fn local_storage_knows_whether_a_repository_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::connect(&Location::local(dir.path().join("repo"))).unwrap();
        assert!(!s.has_repository().unwrap());
        assert!(s.describe().contains("repo"));
        let m = Storage::memory().unwrap();
        assert!(!m.has_repository().unwrap());
    }
}
