//! Navigating snapshot trees: resolving a path to a node and walking a
//! tree depth-first. Paths inside a snapshot are byte strings with `/`.

use crate::error::{Error, Result};
use crate::format::tree::{Node, NodeKind, Tree};
use crate::id::BlobId;
use crate::repo::Repository;

/// Where trees come from: the repository, or (in tests of pure planning
/// code) a map in memory.
pub(crate) trait Trees {
    /// Loads and validates a tree.
    ///
    /// # Errors
    /// [`Error::NotFound`] when it is not there, [`Error::Corrupt`] naming it.
    fn tree(&self, id: &BlobId) -> Result<Tree>;
}

impl Trees for Repository {
    fn tree(&self, id: &BlobId) -> Result<Tree> {
        self.load_tree(id)
    }
}

/// A synthetic directory node standing for a snapshot's root tree.
#[must_use]
pub fn root_node(tree: BlobId) -> Node {
    let mut n = Node::new(b"", NodeKind::Dir);
    n.mode = 0o755;
    n.subtree = Some(tree);
    n
}

/// Splits a snapshot path into its names (empty and `.` parts dropped).
#[must_use]
pub fn components(path: &[u8]) -> Vec<&[u8]> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect()
}

/// A snapshot path in canonical form: `/a/b` (empty for the root), with
/// empty and `.` parts dropped. Bytes are kept exactly.
#[must_use]
pub fn normalize(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len() + 1);
    for c in components(path) {
        out.push(b'/');
        out.extend_from_slice(c);
    }
    out
}

/// Finds the node at `path` below the tree `root` (the root itself for an
/// empty path or `/`).
///
/// # Errors
/// [`Error::NotFound`] naming the path, or tree load errors.
pub fn lookup<T: Trees + ?Sized>(trees: &T, root: BlobId, path: &[u8]) -> Result<Node> {
    let mut node = root_node(root);
    for name in components(path) {
        let sub = match (node.kind, node.subtree) {
            (NodeKind::Dir, Some(s)) => s,
            _ => {
                return Err(Error::NotFound(format!(
                    "{}: not a directory in the snapshot",
                    String::from_utf8_lossy(path)
                )));
            }
        };
        let tree = trees.tree(&sub)?;
        node = tree.get(name).cloned().ok_or_else(|| {
            Error::NotFound(format!(
                "{}: no such file or directory in the snapshot",
                String::from_utf8_lossy(path)
            ))
        })?;
    }
    Ok(node)
}

/// Joins a parent path and a name.
#[must_use]
pub fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(parent.len() + 1 + name.len());
    p.extend_from_slice(parent);
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// How deep trees may nest below a snapshot's root. A path that deep is
/// already past what Linux resolves in one call (PATH_MAX is 4096 bytes);
/// deeper nesting is a damaged or hostile snapshot, refused with an error
/// rather than a stack overflow.
pub const MAX_DEPTH: usize = 1024;

/// The error for a tree nested deeper than [`MAX_DEPTH`] at `path`.
pub(crate) fn too_deep(path: &[u8]) -> Error {
    Error::InvalidInput(format!(
        "{}: trees nested more than {MAX_DEPTH} levels deep (a damaged or hostile snapshot)",
        String::from_utf8_lossy(&path[..path.len().min(200)])
    ))
}

/// Walks the entries below directory tree `tree` in name order, depth
/// first, calling `visit(path, node)`; `visit` returns whether to descend
/// into a directory. Iterative: the depth costs heap, not stack.
///
/// # Errors
/// Tree load errors, nesting deeper than [`MAX_DEPTH`], or the first error
/// of `visit`.
pub fn walk<T: Trees + ?Sized>(
    trees: &T,
    tree: BlobId,
    prefix: &[u8],
    visit: &mut dyn FnMut(&[u8], &Node) -> Result<bool>,
) -> Result<()> {
    // one frame per open directory: its tree, the next entry, its path
    let mut stack: Vec<(Tree, usize, Vec<u8>)> = vec![(trees.tree(&tree)?, 0, prefix.to_vec())];
    while let Some((t, next, dir)) = stack.last_mut() {
        let Some(n) = t.nodes.get(*next) else {
            stack.pop();
            continue;
        };
        *next += 1;
        let path = join(dir, &n.name);
        let descend = visit(&path, n)?;
        if descend
            && n.kind == NodeKind::Dir
            && let Some(sub) = n.subtree
        {
            if stack.len() >= MAX_DEPTH {
                return Err(too_deep(&path));
            }
            let sub = trees.tree(&sub)?;
            stack.push((sub, 0, path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_helpers() {
        assert_eq!(
            components(b"/srv//data/./x"),
            vec![&b"srv"[..], b"data", b"x"]
        );
        assert!(components(b"/").is_empty());
        assert_eq!(normalize(b"srv//d\xff/./x/"), b"/srv/d\xff/x");
        assert!(normalize(b"/").is_empty());
        assert_eq!(join(b"/", b"a"), b"/a");
        assert_eq!(join(b"/a", b"b"), b"/a/b");
    }
}
