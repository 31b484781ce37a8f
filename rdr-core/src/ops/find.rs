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

/// What `find` found: the matches, and the snapshots it could not search
/// to the end (a damaged or hostile tree), each with the error. The
/// matches found in those before the error are kept.
#[derive(Debug, Clone, Default)]
pub struct FindReport {
    /// Matching entries, snapshot by snapshot in the order given.
    pub matches: Vec<FindMatch>,
    /// Snapshots whose search stopped at an error.
    pub errors: Vec<(SnapshotId, String)>,
}

/// Finds entries matching any of `patterns` (exclude-pattern syntax: a
/// pattern without a leading `/` matches at any depth, so `*.sql` or
/// `appdb.sql` find a file anywhere) in each of `snapshots`. A snapshot
/// that cannot be searched is reported and the others still are.
///
/// # Errors
/// A bad pattern ([`crate::Error::InvalidInput`]).
pub fn find(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    patterns: &[String],
    ignore_case: bool,
) -> Result<FindReport> {
    let set = if ignore_case {
        Patterns::new(&[], patterns)?
    } else {
        Patterns::new(patterns, &[])?
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (id, snap) in snapshots {
        let walked = nav::walk(repo, snap.tree, b"", &mut |p, n| {
            if set.matches_bytes(p) {
                out.push(FindMatch {
                    snapshot: *id,
                    path: p.to_vec(),
                    node: n.clone(),
                });
            }
            Ok(true)
        });
        if let Err(e) = walked {
            errors.push((*id, e.to_string()));
        }
    }
    Ok(FindReport {
        matches: out,
        errors,
    })
}
