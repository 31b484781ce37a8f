//! Snapshot files and tree blobs: load, save, list.

use rayon::prelude::*;

use super::Repository;
use crate::backend::{BackendError, FileType};
use crate::codec::FileKind;
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
    pub fn save_snapshot(&self, snapshot: &Snapshot) -> Result<SnapshotId> {
        self.save_file(FileType::Snapshot, FileKind::Snapshot, &snapshot.encode())
            .map(SnapshotId)
    }

    /// Loads one snapshot.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the snapshot, or storage errors.
    pub fn load_snapshot(&self, id: &SnapshotId) -> Result<Snapshot> {
        let plain = self.load_file(FileType::Snapshot, FileKind::Snapshot, &id.0)?;
        Snapshot::decode(&plain).map_err(|e| Error::corrupt("snapshot", id, e))
    }

    /// All snapshots, oldest first. A snapshot deleted while listing is
    /// skipped; a damaged one is an error naming it.
    ///
    /// # Errors
    /// [`Error::Corrupt`] or storage errors.
    pub fn snapshots(&self) -> Result<Vec<(SnapshotId, Snapshot)>> {
        let ids = self.list_ids(FileType::Snapshot)?;
        let loaded: Vec<Option<(SnapshotId, Snapshot)>> = ids
            .par_iter()
            .map(|id| {
                let id = SnapshotId(*id);
                match self.load_snapshot(&id) {
                    Ok(s) => Ok(Some((id, s))),
                    Err(Error::Backend(BackendError::NotFound { .. })) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .collect::<Result<_>>()?;
        let mut all: Vec<_> = loaded.into_iter().flatten().collect();
        all.sort_by(|a, b| a.1.time.cmp(&b.1.time).then(a.0.cmp(&b.0)));
        Ok(all)
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
        let ids = self.list_ids(FileType::Snapshot)?;
        let loaded: Vec<(SnapshotId, Result<Snapshot>)> = ids
            .par_iter()
            .map(|id| {
                let id = SnapshotId(*id);
                (id, self.load_snapshot(&id))
            })
            .collect();
        let mut all: Vec<SnapshotEntry> = Vec::new();
        let mut damaged = Vec::new();
        for (id, r) in loaded {
            match r {
                Ok(s) => all.push((id, s)),
                Err(Error::Backend(BackendError::NotFound { .. })) => {}
                Err(e @ Error::Backend(_)) => return Err(e),
                Err(e) => damaged.push((id, e)),
            }
        }
        all.sort_by(|a, b| a.1.time.cmp(&b.1.time).then(a.0.cmp(&b.0)));
        Ok((all, damaged))
    }

    /// Deletes a snapshot file (its data stays until `prune`).
    ///
    /// # Errors
    /// Storage errors.
    pub fn remove_snapshot(&self, id: &SnapshotId) -> Result<()> {
        Ok(self.backend().remove(FileType::Snapshot, &id.to_hex())?)
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
