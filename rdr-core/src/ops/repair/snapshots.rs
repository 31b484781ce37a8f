//! `repair snapshots`: for each snapshot that uses a blob the index lacks
//! (run `repair index`, with `--read-data` for damage inside packs, first),
//! write a new snapshot in which
//!
//! * a file with a missing data blob is truncated before that blob, and
//! * a directory whose tree is missing or does not load is empty,
//!
//! each marked with the extended attribute [`REPAIRED_XATTR`] (restored
//! with the file, saying what was lost), the snapshot tagged
//! [`REPAIRED_TAG`] and pointing to the original. Unchanged subtrees keep
//! their ids. Order: new tree packs, their index, the new snapshots, then
//! (with `forget`) the originals are removed, and so are snapshot files
//! that do not decode at all (nothing in them can be recovered).

use std::collections::{HashMap, HashSet};

use serde_bytes::ByteBuf;

use crate::error::Result;
use crate::format::BlobType;
use crate::format::index::IndexFile;
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind, Tree, Xattr};
use crate::id::{BlobId, SnapshotId};
use crate::ops::nav;
use crate::repo::{LockGuard, MasterIndex, Packer, PackerOptions, Repository};

/// The tag of a repaired snapshot.
pub const REPAIRED_TAG: &str = "repaired";

/// The extended attribute marking a truncated file or emptied directory.
pub const REPAIRED_XATTR: &str = "user.rdr.repaired";

/// Settings of `repair snapshots`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RepairSnapshotsOptions {
    /// Remove each original once its repaired snapshot is saved.
    pub forget: bool,
    /// Report, change nothing.
    pub dry_run: bool,
}

/// One snapshot that needed repair.
#[derive(Debug, Clone)]
pub struct RepairedSnapshot {
    /// The damaged snapshot.
    pub original: SnapshotId,
    /// Its repaired copy (none in a dry run).
    pub new: Option<SnapshotId>,
    /// Files truncated (path, bytes kept, bytes before).
    pub truncated: Vec<(Vec<u8>, u64, u64)>,
    /// Directories emptied.
    pub emptied: Vec<Vec<u8>>,
}

/// What `repair snapshots` did.
#[derive(Debug, Clone, Default)]
pub struct RepairSnapshotsReport {
    /// Snapshots that needed repair.
    pub repaired: Vec<RepairedSnapshot>,
    /// Snapshots that were whole.
    pub whole: usize,
    /// Originals removed (`forget`).
    pub forgotten: usize,
    /// Snapshot files that do not decode, with why (removed with `forget`).
    pub unreadable: Vec<(SnapshotId, String)>,
    /// Whether this was a dry run (nothing written or removed).
    pub dry_run: bool,
}

/// Repairs `snapshots` (see the module docs); with `unreadable`, also
/// reports (and with `forget` removes) snapshot files that do not decode.
/// `_lock` must be exclusive.
///
/// # Errors
/// Storage errors.
pub fn repair_snapshots(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    unreadable: &[(SnapshotId, crate::Error)],
    opts: &RepairSnapshotsOptions,
    lock: &LockGuard,
) -> Result<RepairSnapshotsReport> {
    if opts.forget && !opts.dry_run {
        lock.ensure_deletable("repair snapshots --forget")?;
    }
    // what the storage holds, not the local cache
    let repo = &repo.without_cache();
    let index = repo.reload_index()?;
    let mut fixer = Fixer {
        repo,
        index: &index,
        packer: (!opts.dry_run).then(|| repo.packer(PackerOptions::default())),
        memo: HashMap::new(),
        added: HashSet::new(),
        depth: 0,
    };
    let mut report = RepairSnapshotsReport {
        unreadable: unreadable
            .iter()
            .map(|(id, e)| (*id, e.to_string()))
            .collect(),
        dry_run: opts.dry_run,
        ..RepairSnapshotsReport::default()
    };
    let mut new_snaps: Vec<(SnapshotId, Snapshot)> = Vec::new();
    for (id, snap) in snapshots {
        let fixed = fixer.fixed(snap.tree)?;
        let Some(root) = fixed.id else {
            report.whole += 1;
            continue;
        };
        let mut s = snap.clone();
        s.tree = root;
        if !s.tags.iter().any(|t| t == REPAIRED_TAG) {
            s.tags.push(REPAIRED_TAG.to_owned());
            s.tags.sort();
        }
        s.original = Some(snap.original.unwrap_or(*id));
        new_snaps.push((*id, s));
        let root_path = |p: Vec<u8>| if p.is_empty() { b"/".to_vec() } else { p };
        report.repaired.push(RepairedSnapshot {
            original: *id,
            new: None,
            truncated: fixed.truncated,
            emptied: fixed.emptied.into_iter().map(root_path).collect(),
        });
    }
    let Some(packer) = fixer.packer.take() else {
        return Ok(report);
    };
    let packs = packer.finish()?;
    if !packs.is_empty() {
        let mut f = IndexFile::new();
        f.packs = packs;
        repo.save_index(&f)?;
    }
    for ((old, snap), r) in new_snaps.iter_mut().zip(&mut report.repaired) {
        // the size of what is left, so status and the metrics show what a
        // restore of the repaired snapshot really gives back
        snap.summary.bytes_total = crate::ops::stats::tree_size(repo, snap.tree)?.1;
        r.new = Some(repo.save_snapshot(snap)?);
        if opts.forget {
            repo.remove_snapshot(old)?;
            report.forgotten += 1;
        }
    }
    if opts.forget {
        for (id, _) in unreadable {
            repo.remove_snapshot(id)?;
            report.forgotten += 1;
        }
    }
    Ok(report)
}

struct Fixer<'a> {
    repo: &'a Repository,
    index: &'a MasterIndex,
    packer: Option<Packer>,
    /// Tree id → how it was repaired.
    memo: HashMap<BlobId, Fixed>,
    /// Trees added to the packer.
    added: HashSet<BlobId>,
    /// Trees open above the current one (bounded by `nav::MAX_DEPTH`).
    depth: usize,
}

/// A tree's repair: its new id (`None`: whole), and what it lost, with
/// paths relative to it (an empty path: the tree itself).
#[derive(Clone, Default)]
struct Fixed {
    id: Option<BlobId>,
    truncated: Vec<(Vec<u8>, u64, u64)>,
    emptied: Vec<Vec<u8>>,
}

fn mark(node: &mut Node, what: String) {
    node.xattrs
        .retain(|x| x.name.as_slice() != REPAIRED_XATTR.as_bytes());
    node.xattrs.push(Xattr {
        name: ByteBuf::from(REPAIRED_XATTR.as_bytes().to_vec()),
        value: ByteBuf::from(what.into_bytes()),
    });
}

fn under(dir: &[u8], p: &[u8]) -> Vec<u8> {
    let mut full = dir.to_vec();
    full.extend_from_slice(p);
    full
}

impl Fixer<'_> {
    fn fixed(&mut self, id: BlobId) -> Result<Fixed> {
        if let Some(f) = self.memo.get(&id) {
            return Ok(f.clone());
        }
        let f = self.fix(id)?;
        self.memo.insert(id, f.clone());
        Ok(f)
    }

    fn fix(&mut self, id: BlobId) -> Result<Fixed> {
        let mut out = Fixed::default();
        let usable = self
            .index
            .lookup(&id)
            .is_some_and(|l| l.blob_type == BlobType::Tree);
        let loaded = if usable {
            self.repo.load_tree(&id).ok()
        } else {
            None
        };
        let Some(mut tree) = loaded else {
            // emptied; the parent marks the directory's node
            out.emptied.push(Vec::new());
            out.id = Some(self.save(&Tree::default())?);
            return Ok(out);
        };
        let mut changed = false;
        for node in &mut tree.nodes {
            let path = nav::join(b"/", &node.name);
            if node.kind == NodeKind::File
                && let Some((kept, was, blob)) = self.truncate(node)
            {
                mark(
                    node,
                    format!("truncated from {was} to {kept} bytes: blob {blob} is lost"),
                );
                out.truncated.push((path.clone(), kept, was));
                changed = true;
            }
            if let Some(sub) = node.subtree {
                if self.depth >= crate::ops::nav::MAX_DEPTH {
                    return Err(crate::ops::nav::too_deep(&path));
                }
                self.depth += 1;
                let f = self.fixed(sub);
                self.depth -= 1;
                let f = f?;
                for (p, kept, was) in f.truncated {
                    out.truncated.push((under(&path, &p), kept, was));
                }
                for p in f.emptied {
                    if p.is_empty() {
                        mark(
                            node,
                            "directory lost: its tree is missing or damaged".into(),
                        );
                    }
                    out.emptied.push(under(&path, &p));
                }
                if let Some(new) = f.id {
                    node.subtree = Some(new);
                    changed = true;
                }
            }
        }
        if changed {
            out.id = Some(self.save(&tree)?);
        }
        Ok(out)
    }

    /// Truncates a file before its first missing blob: (bytes kept, bytes
    /// before, the blob), or `None` when every blob is indexed.
    fn truncate(&self, node: &mut Node) -> Option<(u64, u64, BlobId)> {
        let lengths: Vec<Option<u64>> = node
            .content
            .iter()
            .map(|b| {
                self.index
                    .lookup(b)
                    .filter(|l| l.blob_type == BlobType::Data)
                    .map(|l| u64::from(l.raw_length))
            })
            .collect();
        let cut = lengths.iter().position(Option::is_none)?;
        let lost = node.content[cut];
        let mut data: u64 = lengths[..cut].iter().flatten().sum();
        // place the kept data around the holes that come before its end
        let mut holes = std::mem::take(&mut node.holes);
        holes.sort_unstable();
        let mut off = 0u64;
        let mut kept_holes = Vec::new();
        for (start, len) in holes {
            let gap = start.saturating_sub(off);
            if gap >= data {
                break;
            }
            data -= gap;
            off = start + len;
            kept_holes.push((start, len));
        }
        let was = node.size;
        node.size = off + data;
        node.holes = kept_holes;
        node.content.truncate(cut);
        Some((node.size, was, lost))
    }

    fn save(&mut self, tree: &Tree) -> Result<BlobId> {
        let bytes = tree.encode();
        let id = self.repo.blob_id(&bytes);
        if let Some(p) = &self.packer
            && !self.index.contains(&id)
            && self.added.insert(id)
        {
            let sealed = self.repo.seal_blob(BlobType::Tree, &id, &bytes);
            let raw = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
            p.add(BlobType::Tree, id, &sealed, raw)?;
        }
        Ok(id)
    }
}
