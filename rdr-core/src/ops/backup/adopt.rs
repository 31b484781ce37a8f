//! Adopting what a killed backup uploaded. A backup indexes its packs
//! every `index_interval`; a backup killed with kill -9 leaves the packs
//! it uploaded since its last index file in storage, listed by no index,
//! and its backup lock, stale once its process is gone. The next backup
//! that finds such a stale backup lock lists the packs no index names,
//! checks each one's header (authenticated, and within the pack), writes
//! one index file for those that pass and removes the stale backup locks:
//! their blobs then deduplicate like any others, instead of being
//! uploaded again while the orphans wait for `prune`.
//!
//! Only a stale backup lock starts the search, so a backup after a clean
//! one costs no pack listing. A live backup's packs that are not indexed
//! yet may be adopted too: the two index files then name the same pack,
//! which the index merges (and prune compacts).

use std::collections::HashSet;

use rayon::prelude::*;

use crate::error::Result;
use crate::format::index::{IndexBlob, IndexFile, IndexPack};
use crate::id::PackId;
use crate::kind::FileType;
use crate::repo::{LockHolder, Repository, is_stale};

/// What adoption did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Adopted {
    /// Packs now indexed.
    pub packs: usize,
    /// Orphan packs whose header did not read (left for prune).
    pub rejected: usize,
}

/// Adopts the packs of killed backups (see the module docs).
///
/// # Errors
/// Storage errors, or a damaged index (which maintenance must repair).
pub(crate) fn adopt_orphans(repo: &Repository, holder: &LockHolder) -> Result<Adopted> {
    let now = crate::time::now_ns() / 1_000_000_000;
    let dead: Vec<_> = repo
        .locks()?
        .into_iter()
        .filter(|(_, info)| {
            info.as_ref()
                .is_ok_and(|i| i.backup && is_stale(i, &holder.host, now))
        })
        .map(|(id, _)| id)
        .collect();
    if dead.is_empty() {
        return Ok(Adopted::default());
    }
    let index = repo.index()?;
    let known: HashSet<PackId> = index.packs().iter().copied().collect();
    drop(index);
    let orphans: Vec<PackId> = repo
        .list_ids(FileType::Pack)?
        .into_iter()
        .map(PackId)
        .filter(|p| !known.contains(p))
        .collect();
    let read: Vec<Option<IndexPack>> = orphans
        .par_iter()
        .map(|id| {
            let header = repo.load_pack_header(id).ok()?;
            Some(IndexPack {
                id: *id,
                blobs: header.iter().map(IndexBlob::from).collect(),
            })
        })
        .collect();
    let rejected = read.iter().filter(|p| p.is_none()).count();
    let mut file = IndexFile::new();
    file.packs = read.into_iter().flatten().collect();
    let packs = file.packs.len();
    if packs > 0 {
        repo.save_index(&file)?;
    }
    for id in dead {
        // storage that refuses deletion keeps it: it stays stale, harmless
        let _ = repo.backend().remove(FileType::Lock, &id.to_hex());
    }
    Ok(Adopted { packs, rejected })
}
