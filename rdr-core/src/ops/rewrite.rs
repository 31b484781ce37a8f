//! `rewrite`: drop paths from existing snapshots (a secret or a huge file
//! backed up by mistake), and optionally give them another host or time.
//!
//! Each snapshot that changes is written again as a new snapshot with the
//! tag [`REWRITE_TAG`], `original` pointing at the first version, the
//! patterns added to its `excludes` and its `bytes_total` reduced by what
//! was dropped. Unchanged subtrees keep their ids, so the new trees cost a
//! few kilobytes. Order: new tree packs, their index, the new snapshots,
//! then (with `forget`) the originals. The dropped data stays in the packs
//! while any snapshot uses it: to purge a secret, rewrite every snapshot
//! holding it with `forget`, then `prune`.
//!
//! A rewrite that would leave a snapshot empty is refused (that is what
//! `forget` is for), before anything is written.

use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::format::BlobType;
use crate::format::index::IndexFile;
use crate::format::snapshot::Snapshot;
use crate::format::tree::{NodeKind, Tree};
use crate::id::{BlobId, SnapshotId};
use crate::ops::filter::Patterns;
use crate::ops::nav;
use crate::repo::{LockHolder, LockKind, MasterIndex, Packer, PackerOptions, Repository};

/// The tag of a rewritten snapshot.
pub const REWRITE_TAG: &str = "rewrite";

/// Settings of `rewrite`.
#[derive(Debug, Clone, Default)]
pub struct RewriteOptions {
    /// Patterns of the paths to drop (backup's exclude syntax: `/` anchors
    /// at the root, `*` stays within a name, `**` crosses directories).
    pub exclude: Vec<String>,
    /// Case-insensitive patterns of paths to drop.
    pub iexclude: Vec<String>,
    /// Record this host name instead.
    pub new_host: Option<String>,
    /// Record this time (ns since the epoch) instead.
    pub new_time: Option<i64>,
    /// Remove each original once its rewritten snapshot is saved.
    pub forget: bool,
    /// Report, change nothing.
    pub dry_run: bool,
}

/// One snapshot that changed.
#[derive(Debug, Clone)]
pub struct RewrittenSnapshot {
    /// The snapshot as it was.
    pub original: SnapshotId,
    /// Its rewritten copy (none in a dry run).
    pub new: Option<SnapshotId>,
    /// The paths dropped (a directory stands for everything under it).
    pub dropped: Vec<Vec<u8>>,
    /// Files dropped, counting those inside dropped directories.
    pub files_dropped: u64,
    /// Their bytes.
    pub bytes_dropped: u64,
}

/// What `rewrite` did.
#[derive(Debug, Clone, Default)]
pub struct RewriteReport {
    /// Snapshots that changed.
    pub rewritten: Vec<RewrittenSnapshot>,
    /// Snapshots left as they were (nothing matched, same host and time).
    pub unchanged: usize,
    /// Originals removed (`forget`).
    pub forgotten: usize,
    /// Whether this was a dry run (nothing written or removed).
    pub dry_run: bool,
}

/// Rewrites `snapshots` (see the module docs), taking the lock it needs:
/// a backup's lock, or with `forget` an exclusive one that may delete.
///
/// # Errors
/// [`Error::InvalidInput`] for a bad pattern or when a snapshot would be
/// left empty; [`Error::Locked`]; [`Error::AppendOnly`] for `forget` on an
/// append-only repository; tree load and storage errors.
pub fn rewrite(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    opts: &RewriteOptions,
    holder: &LockHolder,
) -> Result<RewriteReport> {
    let patterns = Patterns::new(&opts.exclude, &opts.iexclude)?;
    let _lock = if opts.forget && !opts.dry_run {
        repo.lock_to_delete(LockKind::Exclusive, holder, "rewrite --forget")?
    } else {
        repo.lock(LockKind::Backup, holder)?
    };
    let index = repo.reload_index()?;
    let mut pruner = Pruner {
        repo,
        index: &index,
        patterns: &patterns,
        memo: HashMap::new(),
        new_trees: Vec::new(),
        depth: 0,
    };
    let mut report = RewriteReport {
        dry_run: opts.dry_run,
        ..RewriteReport::default()
    };
    let mut new_snaps = Vec::new();
    for (id, snap) in snapshots {
        let cut = pruner.tree(snap.tree, b"")?;
        let root = cut.id.unwrap_or(snap.tree);
        let host = opts.new_host.as_ref().unwrap_or(&snap.hostname);
        let time = opts.new_time.unwrap_or(snap.time);
        if cut.id.is_none() && *host == snap.hostname && time == snap.time {
            report.unchanged += 1;
            continue;
        }
        if cut.id.is_some() && all_dropped(&snap.paths, &cut.dropped) {
            return Err(Error::InvalidInput(format!(
                "rewrite would leave snapshot {} empty: every path it backed up matches; \
                 remove it with `rdr forget {}` instead",
                id.short(),
                id.short()
            )));
        }
        let mut s = snap.clone();
        s.tree = root;
        s.hostname.clone_from(host);
        s.time = time;
        s.original = Some(snap.original.unwrap_or(*id));
        if cut.id.is_some() {
            s.excludes.extend(opts.exclude.iter().cloned());
            s.excludes.extend(
                opts.iexclude
                    .iter()
                    .map(|p| format!("(case-insensitive) {p}")),
            );
            s.summary.bytes_total = s.summary.bytes_total.saturating_sub(cut.bytes);
        }
        if !s.tags.iter().any(|t| t == REWRITE_TAG) {
            s.tags.push(REWRITE_TAG.to_owned());
            s.tags.sort();
        }
        new_snaps.push((*id, s));
        report.rewritten.push(RewrittenSnapshot {
            original: *id,
            new: None,
            dropped: cut.dropped,
            files_dropped: cut.files,
            bytes_dropped: cut.bytes,
        });
    }
    if opts.dry_run || new_snaps.is_empty() {
        return Ok(report);
    }
    // data first: the new trees and their index, then the snapshots
    let trees = std::mem::take(&mut pruner.new_trees);
    save_trees(repo, &index, trees)?;
    for ((old, snap), r) in new_snaps.iter().zip(&mut report.rewritten) {
        r.new = Some(repo.save_snapshot(snap)?);
        if opts.forget {
            repo.remove_snapshot(old)?;
            report.forgotten += 1;
        }
    }
    Ok(report)
}

fn save_trees(repo: &Repository, index: &MasterIndex, trees: Vec<Tree>) -> Result<()> {
    let packer: Packer = repo.packer(PackerOptions::default());
    let mut added = HashSet::new();
    for tree in trees {
        let bytes = tree.encode();
        let id = repo.blob_id(&bytes);
        if index.contains(&id) || !added.insert(id) {
            continue;
        }
        let sealed = repo.seal_blob(BlobType::Tree, &id, &bytes);
        let raw = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        packer.add(BlobType::Tree, id, &sealed, raw)?;
    }
    let packs = packer.finish()?;
    if !packs.is_empty() {
        let mut f = IndexFile::new();
        f.packs = packs;
        repo.save_index(&f)?;
    }
    Ok(())
}

/// A tree after the cut: its new id (`None`: unchanged) and what was
/// dropped below it (paths absolute).
#[derive(Clone, Default)]
struct Cut {
    id: Option<BlobId>,
    dropped: Vec<Vec<u8>>,
    files: u64,
    bytes: u64,
}

struct Pruner<'a> {
    repo: &'a Repository,
    index: &'a MasterIndex,
    patterns: &'a Patterns,
    /// (tree, its path) → its cut: patterns match whole paths, so the same
    /// tree under another path may be cut differently.
    memo: HashMap<(BlobId, Vec<u8>), Cut>,
    /// Trees to store, in the order made (children before parents).
    new_trees: Vec<Tree>,
    /// Trees open above the current one (bounded by `nav::MAX_DEPTH`).
    depth: usize,
}

impl Pruner<'_> {
    fn tree(&mut self, id: BlobId, path: &[u8]) -> Result<Cut> {
        let key = (id, path.to_vec());
        if let Some(c) = self.memo.get(&key) {
            return Ok(c.clone());
        }
        if self.depth >= nav::MAX_DEPTH {
            return Err(nav::too_deep(path));
        }
        self.depth += 1;
        let c = self.cut(id, path);
        self.depth -= 1;
        let c = c?;
        self.memo.insert(key, c.clone());
        Ok(c)
    }

    fn cut(&mut self, id: BlobId, path: &[u8]) -> Result<Cut> {
        let mut tree = self.repo.load_tree(&id)?;
        let mut out = Cut::default();
        let mut changed = false;
        let mut kept = Vec::with_capacity(tree.nodes.len());
        for mut node in std::mem::take(&mut tree.nodes) {
            let full = nav::join(if path.is_empty() { b"/" } else { path }, &node.name);
            if self.patterns.matches_bytes(&full) {
                let (files, bytes) = match (node.kind, node.subtree) {
                    (NodeKind::Dir, Some(sub)) => crate::ops::stats::tree_size(self.repo, sub)?,
                    (NodeKind::File, _) => (1, node.size),
                    _ => (0, 0),
                };
                out.files += files;
                out.bytes += bytes;
                out.dropped.push(full);
                changed = true;
                continue;
            }
            if let Some(sub) = node.subtree {
                let c = self.tree(sub, &full)?;
                out.files += c.files;
                out.bytes += c.bytes;
                out.dropped.extend(c.dropped);
                if let Some(new) = c.id {
                    node.subtree = Some(new);
                    changed = true;
                }
            }
            kept.push(node);
        }
        tree.nodes = kept;
        if changed {
            let bytes = tree.encode();
            let new = self.repo.blob_id(&bytes);
            out.id = Some(new);
            if !self.index.contains(&new) {
                self.new_trees.push(tree);
            }
        }
        Ok(out)
    }
}

/// Whether every backed-up path was dropped, itself or with a directory
/// above it.
fn all_dropped(paths: &[String], dropped: &[Vec<u8>]) -> bool {
    !paths.is_empty()
        && paths.iter().all(|p| {
            let p = nav::normalize(p.as_bytes());
            dropped.iter().any(|d| {
                p == *d
                    || (p.starts_with(d) && (d.ends_with(b"/") || p.get(d.len()) == Some(&b'/')))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_empty_when_each_path_or_a_parent_was_dropped() {
        let d = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(all_dropped(&p(&["/srv/data"]), &d(&["/srv"])));
        assert!(all_dropped(&p(&["/srv/data"]), &d(&["/srv/data"])));
        assert!(all_dropped(&p(&["/appdb.sql"]), &d(&["/appdb.sql"])));
        assert!(!all_dropped(&p(&["/srv/data"]), &d(&["/srv/data/secret"])));
        assert!(!all_dropped(&p(&["/srv/database"]), &d(&["/srv/data"])));
        assert!(!all_dropped(&p(&["/a", "/b"]), &d(&["/a"])));
        assert!(all_dropped(&p(&["/a", "/b/c"]), &d(&["/a", "/b"])));
        assert!(!all_dropped(&[], &d(&["/a"])));
    }
}
