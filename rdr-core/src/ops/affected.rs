//! Which snapshots and paths a set of damaged blobs takes away: what
//! `check` reports for each damaged blob, and what `repair snapshots`
//! rewrites. Each distinct tree is read once, however many snapshots share
//! it; trees that do not load are themselves reported (as the directory
//! that holds them).

use std::collections::HashMap;
use std::sync::Arc;

use crate::format::snapshot::Snapshot;
use crate::id::{BlobId, SnapshotId};
use crate::ops::nav;
use crate::repo::Repository;

/// A path in a snapshot that a damaged blob makes unrestorable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffectedPath {
    /// The snapshot.
    pub snapshot: SnapshotId,
    /// The file (or directory, when its tree is damaged), from the
    /// snapshot's root.
    pub path: Vec<u8>,
    /// The damaged blob.
    pub blob: BlobId,
}

/// Entries under one tree, relative to it: (path, damaged blob).
type Found = Arc<Vec<(Vec<u8>, BlobId)>>;

/// Finds every path of `snapshots` that uses a blob `damaged` says is, or a tree
/// that does not load. At most `limit` paths per damaged blob are kept
/// (the first found), so a blob shared by a million files does not flood
/// the report.
#[must_use]
pub fn affected_paths(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    damaged: &dyn Fn(&BlobId) -> bool,
    limit: usize,
) -> Vec<AffectedPath> {
    let mut memo: HashMap<BlobId, Found> = HashMap::new();
    let mut out = Vec::new();
    let mut per_blob: HashMap<BlobId, usize> = HashMap::new();
    for (sid, snap) in snapshots {
        let found = if damaged(&snap.tree) {
            Arc::new(vec![(b"/".to_vec(), snap.tree)])
        } else {
            under(repo, snap.tree, damaged, &mut memo)
        };
        for (path, blob) in found.iter() {
            let path = if path.is_empty() {
                b"/".to_vec()
            } else {
                path.clone()
            };
            let n = per_blob.entry(*blob).or_default();
            if *n < limit {
                *n += 1;
                out.push(AffectedPath {
                    snapshot: *sid,
                    path,
                    blob: *blob,
                });
            }
        }
    }
    out
}

/// Damaged entries under `tree` (paths start with `/`, relative to it).
fn under(
    repo: &Repository,
    tree: BlobId,
    damaged: &dyn Fn(&BlobId) -> bool,
    memo: &mut HashMap<BlobId, Found>,
) -> Found {
    if let Some(f) = memo.get(&tree) {
        return Arc::clone(f);
    }
    let mut found = Vec::new();
    match repo.load_tree(&tree) {
        // the caller reports the directory holding an unloadable tree
        Err(_) => found.push((Vec::new(), tree)),
        Ok(t) => {
            for node in &t.nodes {
                let path = nav::join(b"/", &node.name);
                if let Some(b) = node.content.iter().find(|b| damaged(b)) {
                    found.push((path.clone(), *b));
                }
                if let Some(sub) = node.subtree {
                    if damaged(&sub) {
                        found.push((path, sub));
                        continue;
                    }
                    for (p, b) in under(repo, sub, damaged, memo).iter() {
                        let mut full = path.clone();
                        full.extend_from_slice(p);
                        found.push((full, *b));
                    }
                }
            }
        }
    }
    let found = Arc::new(found);
    memo.insert(tree, Arc::clone(&found));
    found
}
