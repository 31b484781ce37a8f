//! `tag`: change a snapshot's tags. Snapshots are immutable, so the edited
//! record is written as a new snapshot (with `original` pointing at the
//! first version) before the old file is removed.

use crate::error::Result;
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;
use crate::repo::{LockHolder, LockKind, Repository};

/// A tag edit.
#[derive(Debug, Clone, Default)]
pub struct TagChange {
    /// Tags to add.
    pub add: Vec<String>,
    /// Tags to remove.
    pub remove: Vec<String>,
    /// Replace all tags with these (applied first).
    pub set: Option<Vec<String>>,
}

/// Applies `change` to each snapshot. Returns (old id, new id) for the
/// snapshots that changed; unchanged ones are left alone.
///
/// # Errors
/// [`crate::Error::Locked`] while a prune or forget runs; storage errors.
pub fn tag(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    change: &TagChange,
    holder: &LockHolder,
) -> Result<Vec<(SnapshotId, SnapshotId)>> {
    let mut changed = Vec::new();
    for (id, snap) in snapshots {
        let mut tags = change.set.clone().unwrap_or_else(|| snap.tags.clone());
        tags.extend(change.add.iter().cloned());
        tags.retain(|t| !change.remove.contains(t));
        tags.sort();
        tags.dedup();
        if tags == snap.tags {
            continue;
        }
        let mut new: Snapshot = snap.clone();
        new.tags = tags;
        new.original = Some(snap.original.unwrap_or(*id));
        changed.push((*id, new));
    }
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    // a changed snapshot replaces the old one, which is deleted
    let _lock = repo.lock_to_delete(LockKind::Exclusive, holder, "tag")?;
    let mut out = Vec::new();
    for (id, new) in changed {
        let new_id = repo.save_snapshot(&new)?;
        repo.remove_snapshot(&id)?;
        out.push((id, new_id));
    }
    Ok(out)
}
