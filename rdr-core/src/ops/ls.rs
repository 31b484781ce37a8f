//! `ls`: the entries of a snapshot below a path.

use crate::error::Result;
use crate::format::snapshot::Snapshot;
use crate::format::tree::{Node, NodeKind};
use crate::ops::nav;
use crate::repo::Repository;

pub use super::report_json::node_json;

/// Calls `visit(path, node)` for `path` itself (unless it is the root) and,
/// for a directory, every entry below it (only the direct children unless
/// `recursive`), in name order.
///
/// # Errors
/// [`crate::Error::NotFound`] for a missing path; tree load errors.
pub fn ls(
    repo: &Repository,
    snap: &Snapshot,
    path: &str,
    recursive: bool,
    visit: &mut dyn FnMut(&[u8], &Node),
) -> Result<()> {
    let base = nav::normalize(path.as_bytes());
    let node = nav::lookup(repo, snap.tree, &base)?;
    if !base.is_empty() {
        visit(&base, &node);
    }
    if let (NodeKind::Dir, Some(sub)) = (node.kind, node.subtree) {
        nav::walk(repo, sub, &base, &mut |p, n| {
            visit(p, n);
            Ok(recursive)
        })?;
    }
    Ok(())
}
