//! The settings chosen when a repository is created.

use crate::backend::Storage;
use crate::chunk::ChunkerParams;
use crate::crypto::keys::BlobIdentity;

/// Settings chosen at `init`.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Chunk size parameters.
    pub chunker: ChunkerParams,
    /// zstd level (0 = off).
    pub compression: i32,
    /// Target data pack size in bytes.
    pub pack_size: u32,
    /// Chunk and name data as another repository does (its
    /// [`super::Repository::blob_identity`]); `chunker` is then ignored.
    pub blob_identity: Option<BlobIdentity>,
    /// Record that rdr must never delete from this repository (format
    /// version 4): forget, prune, repair index, tag and key changes are
    /// refused on it, before they change anything.
    pub append_only: bool,
}

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            chunker: ChunkerParams::default(),
            compression: 3,
            pack_size: 16 << 20,
            blob_identity: None,
            append_only: false,
        }
    }
}

impl InitOptions {
    /// The defaults for a repository on `storage`: 16 MiB data packs on a
    /// local disk, 8 MiB on remote storage, where each pack in upload is
    /// held in memory (measured on S3: as fast as 16 MiB, with 13 MB less
    /// peak memory; docs/performance.md).
    #[must_use]
    pub fn for_storage(storage: &Storage) -> Self {
        Self {
            pack_size: if storage.is_remote() {
                8 << 20
            } else {
                16 << 20
            },
            ..Self::default()
        }
    }
}
