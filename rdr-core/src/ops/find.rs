//! `find`: which snapshots hold paths matching a pattern.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::Result;
use crate::format::snapshot::Snapshot;
use crate::format::tree::Node;
use crate::id::SnapshotId;
use crate::ops::backup::build_set;
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
        build_set(&[], patterns)?
    } else {
        build_set(patterns, &[])?
    };
    let mut out = Vec::new();
    for (id, snap) in snapshots {
        nav::walk(repo, snap.tree, b"", &mut |p, n| {
            if set.is_match(Path::new(std::ffi::OsStr::from_bytes(p))) {
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
