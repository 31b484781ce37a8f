//! Which indexed blobs the snapshots use: a walk of every snapshot's trees
//! that sets one bit per blob position of the master index (10 million blobs
//! cost 1.25 MB). Shared by `prune` and `check`.

use std::collections::HashSet;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::format::BlobType;
use crate::format::snapshot::Snapshot;
use crate::format::tree::Tree;
use crate::id::{BlobId, SnapshotId};
use crate::repo::{MasterIndex, Repository};

/// A bit per blob position.
#[derive(Debug, Clone)]
pub struct BlobBits {
    words: Vec<u64>,
}

impl BlobBits {
    /// All clear, for `n` positions.
    #[must_use]
    pub fn new(n: usize) -> Self {
        Self {
            words: vec![0; n.div_ceil(64)],
        }
    }

    /// Sets a bit; true when it was clear.
    pub fn set(&mut self, pos: usize) -> bool {
        let (w, b) = (pos / 64, 1u64 << (pos % 64));
        match self.words.get_mut(w) {
            Some(word) if *word & b == 0 => {
                *word |= b;
                true
            }
            _ => false,
        }
    }

    /// Whether a bit is set.
    #[must_use]
    pub fn get(&self, pos: usize) -> bool {
        self.words
            .get(pos / 64)
            .is_some_and(|w| w & (1u64 << (pos % 64)) != 0)
    }
}

/// A blob a tree references that the index does not hold, or a tree that
/// does not load.
#[derive(Debug)]
pub struct Damage {
    /// The blob.
    pub blob: BlobId,
    /// Why it is unusable.
    pub error: Error,
}

/// The result of a walk.
#[derive(Debug)]
pub struct Usage {
    /// Used blobs, by master-index position.
    pub used: BlobBits,
    /// Number of distinct used blobs.
    pub used_count: usize,
    /// Missing or unreadable blobs (each once).
    pub damage: Vec<Damage>,
}

/// Walks the trees of `snapshots`, each tree once, level by level, loading
/// a bounded batch of trees in parallel. With `stop_on_damage`, the first missing or unreadable blob
/// ends the walk with its error.
///
/// # Errors
/// The first damage when `stop_on_damage`; otherwise only storage failures
/// are returned (damage is collected).
pub fn mark_used(
    repo: &Repository,
    index: &MasterIndex,
    snapshots: &[(SnapshotId, Snapshot)],
    stop_on_damage: bool,
) -> Result<Usage> {
    let mut walk = Walk {
        usage: Usage {
            used: BlobBits::new(index.len()),
            used_count: 0,
            damage: Vec::new(),
        },
        index,
        stop_on_damage,
        seen_missing: HashSet::new(),
    };
    let mut level: Vec<BlobId> = snapshots.iter().map(|(_, s)| s.tree).collect();
    while !level.is_empty() {
        // mark this level's trees; load those seen for the first time
        let mut todo = Vec::new();
        for id in level.drain(..) {
            if walk.mark(id, BlobType::Tree)? {
                todo.push(id);
            }
        }
        // a few trees per thread at a time, each reduced to what the walk
        // needs, so memory does not grow with the width of a level
        let batch = rayon::current_num_threads().max(1) * TREES_PER_THREAD;
        for ids in todo.chunks(batch) {
            let loaded: Vec<(BlobId, Result<Digest>)> = ids
                .par_iter()
                .map(|id| (*id, repo.load_tree(id).map(|t| Digest::of(&t, index))))
                .collect();
            for (id, digest) in loaded {
                let digest = match digest {
                    Ok(d) => d,
                    // a pack gone from storage is damage; other storage
                    // failures end the walk
                    Err(e) if is_storage_failure(&e) => return Err(e),
                    Err(error) => {
                        walk.damaged(id, error)?;
                        continue;
                    }
                };
                level.extend(digest.subtrees);
                for pos in digest.data {
                    walk.mark_position(pos as usize);
                }
                for id in digest.missing {
                    walk.missing(id, BlobType::Data)?;
                }
            }
        }
    }
    Ok(walk.usage)
}

/// Trees each thread loads per batch of the walk.
const TREES_PER_THREAD: usize = 4;

/// What the walk needs of a tree: its subtrees, its data blobs as index
/// positions (4 bytes each), and the data blobs the index lacks.
struct Digest {
    subtrees: Vec<BlobId>,
    data: Vec<u32>,
    missing: Vec<BlobId>,
}

impl Digest {
    fn of(tree: &Tree, index: &MasterIndex) -> Self {
        let mut d = Self {
            subtrees: Vec::new(),
            data: Vec::with_capacity(tree.nodes.iter().map(|n| n.content.len()).sum()),
            missing: Vec::new(),
        };
        for node in &tree.nodes {
            d.subtrees.extend(node.subtree);
            for b in &node.content {
                // (positions fit in u32: the index's radix table is u32)
                match index.position(b).and_then(|p| u32::try_from(p).ok()) {
                    Some(pos) => d.data.push(pos),
                    None => d.missing.push(*b),
                }
            }
        }
        d
    }
}

fn is_storage_failure(e: &Error) -> bool {
    e.kind() == crate::ErrorKind::Storage
}

struct Walk<'a> {
    usage: Usage,
    index: &'a MasterIndex,
    stop_on_damage: bool,
    seen_missing: HashSet<BlobId>,
}

impl Walk<'_> {
    /// Marks a blob used; true when it was indexed and not yet marked.
    fn mark(&mut self, id: BlobId, blob_type: BlobType) -> Result<bool> {
        match self.index.position(&id) {
            Some(pos) => Ok(self.mark_position(pos)),
            None => self.missing(id, blob_type).map(|()| false),
        }
    }

    /// Marks the blob at an index position used; true when it was not yet.
    fn mark_position(&mut self, pos: usize) -> bool {
        let first = self.usage.used.set(pos);
        if first {
            self.usage.used_count += 1;
        }
        first
    }

    /// Records a referenced blob the index lacks (once per blob).
    fn missing(&mut self, id: BlobId, blob_type: BlobType) -> Result<()> {
        if self.seen_missing.insert(id) {
            let error = Error::NotFound(format!(
                "{} blob {id} is not in the index",
                blob_type.name()
            ));
            self.damaged(id, error)?;
        }
        Ok(())
    }

    fn damaged(&mut self, blob: BlobId, error: Error) -> Result<()> {
        if self.stop_on_damage {
            return Err(error);
        }
        self.usage.damage.push(Damage { blob, error });
        Ok(())
    }
}
