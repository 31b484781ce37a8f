//! `stats`: sizes of a set of snapshots: what a restore would write, the
//! unique data they reference, and what it takes in the repository.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::NodeKind;
use crate::id::{BlobId, SnapshotId};
use crate::repo::Repository;

/// Sizes of a set of snapshots.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatsReport {
    /// Snapshots counted.
    pub snapshots: u64,
    /// Files over all snapshots (a file in two snapshots counts twice).
    pub files: u64,
    /// Bytes a restore of every snapshot would write.
    pub restore_size: u64,
    /// Distinct file contents (restic's files-by-contents: two files with
    /// the same bytes count once, wherever and whenever they are).
    pub unique_files: u64,
    /// Their bytes.
    pub unique_files_size: u64,
    /// Distinct blobs referenced (data and tree).
    pub unique_blobs: u64,
    /// Their plaintext bytes.
    pub unique_raw: u64,
    /// Their stored bytes (compressed and sealed).
    pub unique_stored: u64,
    /// restore_size / unique_raw.
    pub dedup_ratio: f64,
    /// unique_raw / unique_stored.
    pub compression_ratio: f64,
}

struct Counter<'a> {
    repo: &'a Repository,
    memo: HashMap<BlobId, (u64, u64)>,
    blobs: HashSet<BlobId>,
    /// The contents seen (a hash of the blob list and size).
    contents: HashSet<crate::id::Id>,
    unique_files_size: u64,
    /// Trees open above the current one (bounded by `nav::MAX_DEPTH`).
    depth: usize,
}

impl<'a> Counter<'a> {
    fn new(repo: &'a Repository) -> Self {
        Counter {
            repo,
            memo: HashMap::new(),
            blobs: HashSet::new(),
            contents: HashSet::new(),
            unique_files_size: 0,
            depth: 0,
        }
    }

    /// (files, bytes) below a tree, memoized by tree id.
    fn tree(&mut self, id: BlobId) -> Result<(u64, u64)> {
        if let Some(v) = self.memo.get(&id) {
            return Ok(*v);
        }
        self.blobs.insert(id);
        let t = self.repo.load_tree(&id)?;
        let (mut files, mut bytes) = (0, 0);
        for n in &t.nodes {
            match n.kind {
                NodeKind::File => {
                    files += 1;
                    bytes += n.size;
                    self.blobs.extend(n.content.iter().copied());
                    let mut key = Vec::with_capacity(8 + 32 * n.content.len());
                    key.extend_from_slice(&n.size.to_le_bytes());
                    for b in &n.content {
                        key.extend_from_slice(&b.0.0);
                    }
                    if self.contents.insert(crate::id::Id::hash_of(&key)) {
                        self.unique_files_size += n.size;
                    }
                }
                NodeKind::Dir => {
                    if let Some(s) = n.subtree {
                        if self.depth >= crate::ops::nav::MAX_DEPTH {
                            return Err(crate::ops::nav::too_deep(&n.name));
                        }
                        self.depth += 1;
                        let below = self.tree(s);
                        self.depth -= 1;
                        let (f, b) = below?;
                        files += f;
                        bytes += b;
                    }
                }
                _ => {}
            }
        }
        self.memo.insert(id, (files, bytes));
        Ok((files, bytes))
    }
}

/// Files and bytes below a tree (what a restore of it writes).
pub(crate) fn tree_size(repo: &Repository, tree: BlobId) -> Result<(u64, u64)> {
    let mut c = Counter::new(repo);
    c.tree(tree)
}

/// Computes the sizes of `snapshots`.
///
/// # Errors
/// Tree load errors; [`Error::NotFound`] for a blob missing from the index.
pub fn stats(repo: &Repository, snapshots: &[(SnapshotId, Snapshot)]) -> Result<StatsReport> {
    let mut c = Counter::new(repo);
    let mut r = StatsReport::default();
    for (_, s) in snapshots {
        let (f, b) = c.tree(s.tree)?;
        r.snapshots += 1;
        r.files += f;
        r.restore_size += b;
    }
    let index = repo.index()?;
    for id in &c.blobs {
        let loc = index
            .lookup(id)
            .ok_or_else(|| Error::NotFound(format!("blob {id} is not in the index")))?;
        r.unique_raw += u64::from(loc.raw_length);
        r.unique_stored += u64::from(loc.length);
    }
    r.unique_blobs = c.blobs.len() as u64;
    r.unique_files = c.contents.len() as u64;
    r.unique_files_size = c.unique_files_size;
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    r.dedup_ratio = ratio(r.restore_size, r.unique_raw);
    r.compression_ratio = ratio(r.unique_raw, r.unique_stored);
    Ok(r)
}
