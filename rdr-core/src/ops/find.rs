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
    Ok(search(repo, snapshots, |p, _| set.matches_bytes(p)))
}

/// The entries of `snapshots` for which `wanted` holds; a snapshot that
/// cannot be searched to the end is reported with its error.
fn search(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    wanted: impl Fn(&[u8], &Node) -> bool,
) -> FindReport {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (id, snap) in snapshots {
        let walked = nav::walk(repo, snap.tree, b"", &mut |p, n| {
            if wanted(p, n) {
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
    FindReport {
        matches: out,
        errors,
    }
}

/// What [`find_objects`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// Data blobs: the files whose content uses them.
    Blob,
    /// Tree blobs: the folders they describe.
    Tree,
    /// Packs: the files and folders using any blob the pack holds.
    Pack,
}

/// Finds the entries of `snapshots` that use the objects named by `ids`
/// (ids or unique prefixes; blob and tree prefixes match any id they
/// start), as `find --blob|--tree|--pack` does: the way from a damaged
/// pack or blob to the files it affects. A snapshot that cannot be
/// searched is reported and the others still are.
///
/// # Errors
/// [`crate::Error::InvalidInput`] for an id that is not hex;
/// [`crate::Error::NotFound`] for a pack prefix that names no pack;
/// errors reading a pack's header.
pub fn find_objects(
    repo: &Repository,
    snapshots: &[(SnapshotId, Snapshot)],
    kind: ObjectKind,
    ids: &[String],
) -> Result<FindReport> {
    let mut prefixes = Vec::new();
    for id in ids {
        let p = id.trim().to_ascii_lowercase();
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(crate::Error::InvalidInput(format!(
                "{id:?} is not an id (hex)"
            )));
        }
        prefixes.push(p);
    }
    // a pack stands for every blob it holds, named in full
    let mut exact = std::collections::HashSet::new();
    if kind == ObjectKind::Pack {
        for p in &prefixes {
            let id = crate::id::PackId(repo.find_id(crate::kind::FileType::Pack, p)?);
            exact.extend(repo.load_pack_header(&id)?.into_iter().map(|e| e.id));
        }
    }
    let hit = |want: ObjectKind, id: &crate::id::BlobId| match kind {
        ObjectKind::Pack => exact.contains(id),
        k if k == want => {
            let hex = id.to_hex();
            prefixes.iter().any(|p| hex.starts_with(p.as_str()))
        }
        _ => false,
    };
    Ok(search(repo, snapshots, |_, n| {
        n.content.iter().any(|b| hit(ObjectKind::Blob, b))
            || n.subtree.as_ref().is_some_and(|t| hit(ObjectKind::Tree, t))
    }))
}
