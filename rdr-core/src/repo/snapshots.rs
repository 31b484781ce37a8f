//! Snapshot files and tree blobs: load, save, list.

use super::Repository;
use crate::backend::FileType;
use crate::error::{Error, Result};
use crate::format::BlobType;
use crate::format::snapshot::Snapshot;
use crate::format::tree::Tree;
use crate::id::{BlobId, SnapshotId};

/// A snapshot and its id.
pub type SnapshotEntry = (SnapshotId, Snapshot);

/// A snapshot file that does not decode, and why.
pub type UnreadableSnapshot = (SnapshotId, Error);

impl Repository {
    /// Stores a snapshot file. Call only after the index files naming every
    /// blob it references are stored.
    ///
    /// # Errors
    /// Storage errors.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn save_snapshot(&self, snapshot: &Snapshot) -> Result<SnapshotId> {
        self.save_file(FileType::Snapshot, &snapshot.encode())
            .map(SnapshotId)
    }

    /// Loads one snapshot.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the snapshot, or storage errors.
    pub fn load_snapshot(&self, id: &SnapshotId) -> Result<Snapshot> {
        let plain = self.load_file(FileType::Snapshot, &id.0)?;
        Snapshot::decode(&plain).map_err(|e| Error::corrupt("snapshot", id, e))
    }

    /// All snapshots, oldest first. A snapshot deleted while listing is
    /// skipped; a damaged one is an error naming it.
    ///
    /// # Errors
    /// [`Error::Corrupt`] or storage errors.
    pub fn snapshots(&self) -> Result<Vec<(SnapshotId, Snapshot)>> {
        let (all, damaged) = self.snapshots_readable()?;
        match damaged.into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(all),
        }
    }

    /// All snapshots that load, oldest first, and the errors of those that
    /// do not (each naming its snapshot): for choosing snapshots to
    /// restore, list or back up against, where one damaged snapshot must
    /// not block the others. (`check` reports the damage; `prune` uses
    /// [`Repository::snapshots`], which refuses to go on.)
    ///
    /// # Errors
    /// Storage errors.
    pub fn snapshots_readable(&self) -> Result<(Vec<SnapshotEntry>, Vec<UnreadableSnapshot>)> {
        let (loaded, bad) = self.load_all(FileType::Snapshot, |id| {
            self.load_snapshot(&SnapshotId(*id))
        })?;
        let mut all: Vec<SnapshotEntry> = loaded
            .into_iter()
            .map(|(id, s)| (SnapshotId(id), s))
            .collect();
        all.sort_by(|a, b| a.1.time.cmp(&b.1.time).then(a.0.cmp(&b.0)));
        let damaged = bad.into_iter().map(|(id, e)| (SnapshotId(id), e)).collect();
        Ok((all, damaged))
    }

    /// Deletes a snapshot file (its data stays until `prune`).
    ///
    /// # Errors
    /// Storage errors.
    pub fn remove_snapshot(&self, id: &SnapshotId) -> Result<()> {
        self.remove_file(FileType::Snapshot, &id.0)
    }

    /// Loads and validates a tree blob.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no index lists it, [`Error::Corrupt`] naming
    /// the tree.
    pub fn load_tree(&self, id: &BlobId) -> Result<Tree> {
        let plain = self.load_blob(BlobType::Tree, id)?;
        Tree::decode(&plain).map_err(|e| Error::corrupt("tree", id, e))
    }
}
