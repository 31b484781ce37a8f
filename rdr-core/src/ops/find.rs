//! `find`: which snapshots hold paths matching a pattern.

use crate::error::Result;
use crate::format::snapshot::Snapshot;
use crate::format::tree::Node;
use crate::id::SnapshotId;
use crate::ops::filter::Patterns;
use crate::ops::nav;
use crate::repo::Repository;

/// A matching entry.
#[derive(Debug, Clone)]
pub struct FindMatch {
    /// The snapshot holding it.
    pub snapshot: SnapshotId,
    /// Its path (bytes).
    pub path: Vec<u8>,
    /// The entry.
    pub node: Node,
}

/// Finds entries matching any of `patterns` (exclude-pattern syntax: a
/// pattern without a leading `/` matches at any depth, so `*.sql` or
/// `appdb.sql` find a file anywhere) in each of `snapshots`.
///
/// # Errors
/// A bad pattern ([`crate::Error::InvalidInput`]), tree load errors.
pub fn find(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    patterns: &[String],
    ignore_case: bool,
) -> Result<Vec<FindMatch>> {
    let set = if ignore_case {
        Patterns::new(&[], patterns)?
    } else {
        Patterns::new(patterns, &[])?
    };
    let mut out = Vec::new();
    for (id, snap) in snapshots {
        nav::walk(repo, snap.tree, b"", &mut |p, n| {
            if set.matches_bytes(p) {
                out.push(FindMatch {
                    snapshot: *id,
                    path: p.to_vec(),
                    node: n.clone(),
                });
            }
            Ok(true)
        })?;
    }
    Ok(out)
}
