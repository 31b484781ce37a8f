//! The public error type of rdr-core, returned by the repository and the
//! operations. Lower layers have their own enums ([`FormatError`],
//! [`CryptoError`], [`BackendError`]) that convert into it with context.

use crate::backend::BackendError;
use crate::crypto::CryptoError;
use crate::format::FormatError;
use crate::id::{KeyId, PackId};
use crate::location::LocationError;

/// Coarse classes of [`Error`], stable for programs (the CLI maps them to
/// exit codes, the C ABI to error codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No repository at the location.
    NoRepository,
    /// A repository (or object) already exists where a new one was wanted.
    AlreadyExists,
    /// No key file opens with the given password or identity.
    WrongPassword,
    /// A lock held by someone else prevents the operation.
    Locked,
    /// Repository data failed to decode or authenticate.
    Corrupt,
    /// The storage failed.
    Storage,
    /// The caller asked for something invalid.
    InvalidInput,
    /// Something named does not exist.
    NotFound,
    /// A local I/O error (outside the repository storage).
    Io,
    /// The operation was interrupted (SIGINT or a caller's cancel).
    Cancelled,
    /// The data source failed: a backup command exited non-zero.
    SourceFailed,
    /// Deleting was refused: the repository is append-only, or the storage
    /// (append-only or object-locked, or credentials that may not delete)
    /// refused it. Nothing was changed.
    DeletionRefused,
}

/// Errors of rdr-core's public API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No repository at the location.
    #[error("no repository at {location}")]
    NoRepository {
        /// Where we looked.
        location: String,
    },
    /// `init` found an existing repository.
    #[error("a repository already exists at {location}")]
    RepositoryExists {
        /// Where.
        location: String,
    },
    /// No key file opens with the credential.
    #[error("wrong password or identity: none of the {keys} key files in {location} opens with it")]
    WrongPassword {
        /// Where.
        location: String,
        /// How many key files were tried.
        keys: usize,
    },
    /// The repository is locked.
    #[error("repository is locked: {holder}")]
    Locked {
        /// Who holds the conflicting lock.
        holder: String,
    },
    /// A repository object is corrupt.
    #[error("{}: {source}", object_name(kind, id))]
    Corrupt {
        /// Object kind ("pack", "index file", "blob", ...).
        kind: &'static str,
        /// Object id or name.
        id: String,
        /// What is wrong.
        source: FormatError,
    },
    /// The storage failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A repository location does not parse.
    #[error(transparent)]
    Location(#[from] LocationError),
    /// A key-wrapping failure other than a wrong password.
    #[error("{context}: {source}")]
    Crypto {
        /// What was being done.
        context: String,
        /// The crypto error.
        source: CryptoError,
    },
    /// The caller asked for something invalid.
    #[error("{0}")]
    InvalidInput(String),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Local I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The operation was cancelled; what was uploaded is indexed, no
    /// snapshot was written.
    #[error("interrupted: no snapshot was written (data uploaded so far is kept for the next run)")]
    Cancelled,
    /// Packs the index lists and snapshots use are missing from storage,
    /// so an operation that would rewrite the index refused to run.
    #[error(
        "pack {first} is listed in the index and holds blobs that snapshots use, but it is missing from storage ({count} such packs)"
    )]
    PacksMissing {
        /// The first missing pack.
        first: PackId,
        /// How many are missing.
        count: usize,
    },
    /// A retention policy would remove every snapshot of a group, and the
    /// caller did not allow that; nothing was removed.
    #[error(
        "the policy would remove all {snapshots} snapshots of group {group}; nothing was removed"
    )]
    WouldEmptyGroup {
        /// The group (host, paths, tags).
        group: String,
        /// Its snapshots.
        snapshots: usize,
    },
    /// The key that opened this session cannot remove itself.
    #[error("key {} opened this session and cannot remove itself", .key.short())]
    KeyInUse {
        /// The key.
        key: KeyId,
    },
    /// The data source failed (for example `pg_dump` exited non-zero).
    #[error("{0}; no snapshot was written")]
    SourceFailed(String),
    /// The location holds another tool's repository.
    #[error(
        "{location} is a {tool} repository, not an rdr one: rdr does not read {tool}'s format (use {tool} for it)"
    )]
    ForeignRepository {
        /// Where.
        location: String,
        /// Whose ("restic", "Borg").
        tool: &'static str,
    },
    /// The repository was created append-only (`init --append-only`):
    /// rdr deletes nothing from it, and refused `what` before changing
    /// anything.
    #[error(
        "{location} is an append-only repository: {what} would delete from it; nothing was changed"
    )]
    AppendOnly {
        /// The repository.
        location: String,
        /// What was refused ("prune", "forget", ...).
        what: String,
    },
}

fn object_name(kind: &str, id: &str) -> String {
    if id.is_empty() || id == kind {
        kind.to_owned()
    } else {
        format!("{kind} {id}")
    }
}

impl Error {
    /// The class of this error.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NoRepository { .. } => ErrorKind::NoRepository,
            Self::RepositoryExists { .. } => ErrorKind::AlreadyExists,
            Self::WrongPassword { .. } => ErrorKind::WrongPassword,
            Self::Locked { .. } => ErrorKind::Locked,
            Self::Corrupt { .. } => ErrorKind::Corrupt,
            Self::Backend(BackendError::NotFound { .. }) => ErrorKind::NotFound,
            Self::Backend(BackendError::DeleteRefused { .. }) | Self::AppendOnly { .. } => {
                ErrorKind::DeletionRefused
            }
            Self::Backend(BackendError::Unsupported { .. }) | Self::Location(_) => {
                ErrorKind::InvalidInput
            }
            Self::Backend(_) => ErrorKind::Storage,
            Self::Crypto { .. } => ErrorKind::Corrupt,
            Self::InvalidInput(_)
            | Self::WouldEmptyGroup { .. }
            | Self::KeyInUse { .. }
            | Self::ForeignRepository { .. } => ErrorKind::InvalidInput,
            Self::NotFound(_) | Self::PacksMissing { .. } => ErrorKind::NotFound,
            Self::Io { .. } => ErrorKind::Io,
            Self::Cancelled => ErrorKind::Cancelled,
            Self::SourceFailed(_) => ErrorKind::SourceFailed,
        }
    }

    pub(crate) fn io(context: impl std::fmt::Display, source: std::io::Error) -> Self {
        Self::Io {
            context: context.to_string(),
            source,
        }
    }

    pub(crate) fn corrupt(kind: &'static str, id: impl ToString, source: FormatError) -> Self {
        Self::Corrupt {
            kind,
            id: id.to_string(),
            source,
        }
    }
}

impl From<CryptoError> for Error {
    fn from(source: CryptoError) -> Self {
        Self::Crypto {
            context: "key".into(),
            source,
        }
    }
}

/// Result type of rdr-core's public API.
pub type Result<T, E = Error> = std::result::Result<T, E>;
