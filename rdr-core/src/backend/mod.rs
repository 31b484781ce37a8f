//! Storage: named, opaque byte objects on OpenDAL.
//!
//! A backend moves bytes by [`FileType`] and name and knows nothing of keys,
//! formats or compression. Objects are immutable: [`Backend::write_new`]
//! never overwrites. Depends on nothing else in the crate.

#[cfg(any(feature = "azure", feature = "gcs", feature = "b2"))]
mod cloud;
mod conformance;
mod direct;
mod hooked;
mod layout;
mod limited;
mod local;
mod local_staged;
mod memory;
mod opendal_ops;
#[cfg(feature = "any-remote")]
mod remote;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "sftp")]
mod sftp;
mod staged;
mod storage;
mod throttled;
#[cfg(feature = "webdav")]
mod webdav;

pub use crate::kind::FileType;
#[cfg(feature = "internals")]
pub use conformance::run_conformance;
#[cfg(any(test, feature = "internals"))]
pub use hooked::Hooked;
#[cfg(feature = "internals")]
pub use hooked::{RemoveHook, WriteHook};
pub use local::LocalBackend;
pub use memory::MemoryBackend;
pub use staged::{FileStaged, MemoryStaged, Staged};
pub use storage::Storage;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The object does not exist.
    #[error("{path}: not found")]
    NotFound {
        /// Object path.
        path: String,
    },
    /// The object exists and objects are never overwritten.
    #[error("{path}: already exists")]
    AlreadyExists {
        /// Object path.
        path: String,
    },
    /// A ranged read returned fewer bytes than asked for.
    #[error("{path}: short read at offset {offset}: wanted {wanted} bytes, got {got}")]
    ShortRead {
        /// Object path.
        path: String,
        /// Start of the range.
        offset: u64,
        /// Bytes requested.
        wanted: u64,
        /// Bytes returned.
        got: u64,
    },
    /// Any other storage failure, after retries.
    #[error("{op} {path}: {message}")]
    Io {
        /// The operation.
        op: &'static str,
        /// Object path.
        path: String,
        /// What the storage said.
        message: String,
    },
    /// The storage refused to delete an object: append-only or
    /// object-locked storage, or credentials that may not delete.
    #[error(
        "{path}: the storage refused the deletion (append-only or object-locked storage, or credentials that may not delete): {message}"
    )]
    DeleteRefused {
        /// Object path.
        path: String,
        /// What the storage said.
        message: String,
    },
    /// The backend could not be set up.
    #[error("storage setup: {0}")]
    Setup(String),
    /// The location's kind of storage is not compiled into this build.
    #[error("{scheme} storage is not available in this build of rdr")]
    Unsupported {
        /// The location's scheme (`s3`, `sftp`, ...).
        scheme: &'static str,
    },
}

/// Result type of the storage layer.
pub type BackendResult<T> = Result<T, BackendError>;

/// Storage of immutable named objects.
pub trait Backend: Send + Sync {
    /// A human-readable location (for messages).
    fn location(&self) -> String;

    /// Prepares an empty repository's layout (directories where needed).
    ///
    /// # Errors
    /// [`BackendError`] when the storage refuses.
    fn create_layout(&self) -> BackendResult<()>;

    /// Names of all objects of a type (unordered).
    ///
    /// # Errors
    /// [`BackendError`] when the listing fails.
    fn list(&self, ft: FileType) -> BackendResult<Vec<String>>;

    /// [`Backend::list`] with each object's size where the listing gives
    /// it (`None`: ask [`Backend::stat`]). Object stores list sizes, so
    /// the sizes of 60,000 packs cost 60 listing requests, not 60,000
    /// more. The default knows no sizes.
    ///
    /// # Errors
    /// [`BackendError`] when the listing fails.
    fn list_sizes(&self, ft: FileType) -> BackendResult<Vec<(String, Option<u64>)>> {
        Ok(self.list(ft)?.into_iter().map(|n| (n, None)).collect())
    }

    /// Size of an object in bytes.
    ///
    /// # Errors
    /// [`BackendError::NotFound`] when absent.
    fn stat(&self, ft: FileType, name: &str) -> BackendResult<u64>;

    /// The whole object.
    ///
    /// # Errors
    /// [`BackendError::NotFound`] when absent.
    fn read(&self, ft: FileType, name: &str) -> BackendResult<Vec<u8>>;

    /// `len` bytes from `offset`; fewer bytes than asked for is an error.
    ///
    /// # Errors
    /// [`BackendError::NotFound`] or [`BackendError::ShortRead`].
    fn read_range(&self, ft: FileType, name: &str, offset: u64, len: u64)
    -> BackendResult<Vec<u8>>;

    /// [`Backend::read_range`] into a buffer that holds the range from
    /// `start` on (`(buffer, start)`), so a backend that reads whole
    /// aligned blocks need not copy the range out. The default is
    /// `(read_range(..), 0)`.
    ///
    /// # Errors
    /// As [`Backend::read_range`].
    fn read_range_at(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
    ) -> BackendResult<(Vec<u8>, usize)> {
        Ok((self.read_range(ft, name, offset, len)?, 0))
    }

    /// [`Backend::read_range_at`] into `spare` where the backend can (a
    /// buffer from an earlier read, handed back): repeated large reads
    /// then neither allocate nor zero memory. The default ignores it.
    ///
    /// # Errors
    /// As [`Backend::read_range`].
    fn read_range_reusing(
        &self,
        ft: FileType,
        name: &str,
        offset: u64,
        len: u64,
        spare: Vec<u8>,
    ) -> BackendResult<(Vec<u8>, usize)> {
        drop(spare);
        self.read_range_at(ft, name, offset, len)
    }

    /// Stores a new object durably; fails if it already exists.
    ///
    /// # Errors
    /// [`BackendError::AlreadyExists`] when present.
    fn write_new(&self, ft: FileType, name: &str, data: &[u8]) -> BackendResult<()>;

    /// [`Backend::write_new`] of the concatenation of `parts`, taking them:
    /// remote stores send them without a copy, and parts of 1 MiB spare the
    /// allocator the 16 MiB blocks that fragment it.
    ///
    /// # Errors
    /// As [`Backend::write_new`].
    fn write_new_parts(&self, ft: FileType, name: &str, parts: Vec<Vec<u8>>) -> BackendResult<()> {
        match <[Vec<u8>; 1]>::try_from(parts) {
            Ok([one]) => self.write_new(ft, name, &one),
            Err(parts) => self.write_new(ft, name, &parts.concat()),
        }
    }

    /// Starts a new object whose name is known only once all its bytes are
    /// written (a pack, named by the hash of its content): the bytes go to
    /// the returned [`Staged`], which [`Staged::commit`] stores as
    /// [`Backend::write_new`] would. The default keeps the bytes in memory;
    /// the local backend writes them to a temporary file as they come, so
    /// a pack being filled costs no memory.
    ///
    /// # Errors
    /// [`BackendError`] when the staging area cannot be created.
    fn stage(&self, ft: FileType) -> BackendResult<Box<dyn Staged>> {
        Ok(Box::new(MemoryStaged::new(ft)))
    }

    /// Removes an object; removing an absent object is not an error.
    ///
    /// # Errors
    /// [`BackendError`] when the storage refuses.
    fn remove(&self, ft: FileType, name: &str) -> BackendResult<()>;

    /// Removes temporary files (the staging area a killed writer left
    /// behind) not modified for `older_than`; returns how many. Storage
    /// without a staging area has nothing to remove.
    ///
    /// # Errors
    /// [`BackendError`] when listing or removing fails.
    fn remove_stale_tmp(&self, older_than: std::time::Duration) -> BackendResult<usize> {
        let _ = older_than;
        Ok(0)
    }
}
