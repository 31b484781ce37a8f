//! `diff`: what changed between two snapshots. Identical subtrees (same
//! tree blob id) are skipped without loading them.

use serde::Serialize;

use crate::error::Result;
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind, Tree};

use crate::id::BlobId;
use crate::ops::nav;
use crate::repo::Repository;

/// The kind of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Only in the second snapshot (`+`).
    Added,
    /// Only in the first (`-`).
    Removed,
    /// Content or type changed (`M`).
    Modified,
    /// Only metadata changed: mode, owner, times, xattrs (`U`).
    Metadata,
}

impl ChangeKind {
    /// The one-letter marker (restic's).
    #[must_use]
    pub fn marker(self) -> char {
        match self {
            Self::Added => '+',
            Self::Removed => '-',
            Self::Modified => 'M',
            Self::Metadata => 'U',
        }
    }
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Path in the snapshots (bytes).
    pub path: Vec<u8>,
    /// What changed.
    pub kind: ChangeKind,
    /// Whether the entry is a directory (in the snapshot that has it).
    pub is_dir: bool,
}

/// Totals of a diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiffStats {
    /// Entries added.
    pub added: u64,
    /// Entries removed.
    pub removed: u64,
    /// Entries modified.
    pub modified: u64,
    /// Entries with only metadata changes.
    pub metadata: u64,
    /// File bytes added (new files and new sizes of modified ones).
    pub bytes_added: u64,
    /// File bytes removed.
    pub bytes_removed: u64,
}

/// A diff's result.
#[derive(Debug, Clone, Default)]
pub struct DiffReport {
    /// Changes in path order.
    pub changes: Vec<Change>,
    /// Totals.
    pub stats: DiffStats,
}

struct Differ<'a> {
    repo: &'a Repository,
    out: DiffReport,
}

impl Differ<'_> {
    fn record(&mut self, path: Vec<u8>, kind: ChangeKind, node: &Node) {
        let s = &mut self.out.stats;
        match kind {
            ChangeKind::Added => {
                s.added += 1;
                s.bytes_added += file_size(node);
            }
            ChangeKind::Removed => {
                s.removed += 1;
                s.bytes_removed += file_size(node);
            }
            ChangeKind::Modified => s.modified += 1,
            ChangeKind::Metadata => s.metadata += 1,
        }
        self.out.changes.push(Change {
            path,
            kind,
            is_dir: node.kind == NodeKind::Dir,
        });
    }

    /// Records `node` and everything below it as added or removed.
    fn whole(&mut self, path: Vec<u8>, node: &Node, kind: ChangeKind) -> Result<()> {
        self.record(path.clone(), kind, node);
        if let Some(sub) = node.subtree.filter(|_| node.kind == NodeKind::Dir) {
            let tree = self.repo.load_tree(&sub)?;
            for n in &tree.nodes {
                self.whole(nav::join(&path, &n.name), n, kind)?;
            }
        }
        Ok(())
    }

    fn trees(&mut self, prefix: &[u8], a: Option<BlobId>, b: Option<BlobId>) -> Result<()> {
        if a == b {
            return Ok(());
        }
        let load = |id: Option<BlobId>| -> Result<Tree> {
            id.map_or_else(|| Ok(Tree::default()), |id| self.repo.load_tree(&id))
        };
        let (ta, tb) = (load(a)?, load(b)?);
        let (mut i, mut j) = (0, 0);
        while i < ta.nodes.len() || j < tb.nodes.len() {
            let (na, nb) = (ta.nodes.get(i), tb.nodes.get(j));
            let ord = match (na, nb) {
                (Some(x), Some(y)) => x.name.cmp(&y.name),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match ord {
                std::cmp::Ordering::Less => {
                    let n = &ta.nodes[i];
                    self.whole(nav::join(prefix, &n.name), n, ChangeKind::Removed)?;
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    let n = &tb.nodes[j];
                    self.whole(nav::join(prefix, &n.name), n, ChangeKind::Added)?;
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    let (x, y) = (&ta.nodes[i], &tb.nodes[j]);
                    self.pair(nav::join(prefix, &x.name), x, y)?;
                    i += 1;
                    j += 1;
                }
            }
        }
        Ok(())
    }

    fn pair(&mut self, path: Vec<u8>, x: &Node, y: &Node) -> Result<()> {
        if x.kind != y.kind {
            self.whole(path.clone(), x, ChangeKind::Removed)?;
            return self.whole(path, y, ChangeKind::Added);
        }
        let content_differs = x.kind == NodeKind::File
            && (x.content != y.content || x.holes != y.holes || x.size != y.size);
        if content_differs {
            self.out.stats.bytes_added += y.size;
            self.out.stats.bytes_removed += x.size;
            self.record(path.clone(), ChangeKind::Modified, y);
        } else if x.metadata_differs(y) {
            self.record(path.clone(), ChangeKind::Metadata, y);
        }
        if x.kind == NodeKind::Dir {
            self.trees(&path, x.subtree, y.subtree)?;
        }
        Ok(())
    }
}

fn file_size(n: &Node) -> u64 {
    if n.kind == NodeKind::File { n.size } else { 0 }
}

/// Compares `a_path` of snapshot `a` (before) with `b_path` of `b` (after);
/// empty paths compare whole snapshots. Changes are named by `b`'s paths.
///
/// # Errors
/// [`crate::Error::NotFound`] for a missing path; tree load errors.
pub fn diff(
    repo: &Repository,
    a: &Snapshot,
    a_path: &str,
    b: &Snapshot,
    b_path: &str,
) -> Result<DiffReport> {
    let prefix = nav::normalize(b_path.as_bytes());
    let x = nav::lookup(repo, a.tree, &nav::normalize(a_path.as_bytes()))?;
    let y = nav::lookup(repo, b.tree, &prefix)?;
    let mut d = Differ {
        repo,
        out: DiffReport::default(),
    };
    if x.kind == NodeKind::Dir && y.kind == NodeKind::Dir {
        d.trees(&prefix, x.subtree, y.subtree)?;
    } else {
        d.pair(prefix, &x, &y)?;
    }
    Ok(d.out)
}
