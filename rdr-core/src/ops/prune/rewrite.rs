//! The writing half of a prune: copy used blobs out of packs being
//! repacked, then write the compacted index.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::plan::Plan;
use crate::error::{Error, Result};
use crate::format::index::{IndexPack, ObsoletePack};
use crate::id::{BlobId, IndexId, PackId};
use crate::ops::progress::Progress;
use crate::ops::usage::BlobBits;
use crate::repo::{BlobLocation, IndexWriter, MasterIndex, PackerOptions, Repository};

/// Reads of a pack are merged across gaps up to this size.
const READ_GAP: u64 = 1 << 20;

/// Copies the used blobs of the packs chosen for repacking into new packs,
/// verifying each one. Returns the new packs.
pub(crate) fn repack(
    repo: &Repository,
    index: &MasterIndex,
    used: &BlobBits,
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<Vec<IndexPack>> {
    if plan.repack.is_empty() {
        return Ok(Vec::new());
    }
    // used blobs of each pack to repack, by offset
    let mut by_pack: HashMap<u32, Vec<(usize, BlobLocation)>> = HashMap::new();
    for pos in 0..index.len() {
        if !used.get(pos) {
            continue;
        }
        if let (Some(no), Some(loc)) = (index.pack_number_at(pos), index.location_at(pos))
            && plan.repack.contains(&no)
        {
            by_pack.entry(no).or_default().push((pos, loc));
        }
    }
    let packer = repo.packer(PackerOptions::default());
    let jobs: Vec<(u32, Vec<(usize, BlobLocation)>)> = by_pack.into_iter().collect();
    jobs.into_par_iter()
        .try_for_each(|(_, mut blobs)| -> Result<()> {
            blobs.sort_by_key(|(_, l)| l.offset);
            let Some(pack) = blobs.first().map(|(_, l)| l.pack) else {
                return Ok(());
            };
            // the master index keeps id prefixes; the header has the full ids
            let ids: HashMap<u32, BlobId> = repo
                .load_pack_header(&pack)?
                .into_iter()
                .map(|e| (e.offset, e.id))
                .collect();
            let mut i = 0;
            while i < blobs.len() {
                // one ranged read for a run of blobs with small gaps
                let start = u64::from(blobs[i].1.offset);
                let mut end = start + u64::from(blobs[i].1.length);
                let mut j = i + 1;
                while j < blobs.len()
                    && u64::from(blobs[j].1.offset) <= end + READ_GAP
                    && end - start < (32 << 20)
                {
                    end = u64::from(blobs[j].1.offset) + u64::from(blobs[j].1.length);
                    j += 1;
                }
                let bytes = repo.read_pack_range(&pack, start, end - start)?;
                for (pos, loc) in &blobs[i..j] {
                    let from = usize::try_from(u64::from(loc.offset) - start).unwrap_or(usize::MAX);
                    let sealed = bytes
                        .get(from..from + loc.length as usize)
                        .ok_or_else(|| Error::NotFound(format!("pack {pack}: short read")))?;
                    let id = ids
                        .get(&loc.offset)
                        .copied()
                        .filter(|id| index.position(id) == Some(*pos))
                        .ok_or_else(|| mismatch(&pack, loc.offset))?;
                    repo.open_blob(&id, loc, sealed)?;
                    packer.add(loc.blob_type, id, sealed, loc.raw_length)?;
                    progress.advance(1, u64::from(loc.length));
                }
                i = j;
            }
            Ok(())
        })?;
    packer.finish()
}

fn mismatch(pack: &PackId, offset: u32) -> Error {
    Error::corrupt(
        "pack",
        pack,
        crate::format::FormatError::Invalid {
            what: "pack header",
            msg: format!("no header entry at offset {offset} matches the index"),
        },
    )
}

/// Writes the compacted index: every pack that stays (with all its blob
/// entries), the new packs, and the marks. All files but the last
/// supersede nothing; the last supersedes every index file the prune read,
/// so readers switch to the new index at once when it lands.
pub(crate) fn write_index(
    repo: &Repository,
    index: &MasterIndex,
    plan: &Plan,
    new_packs: Vec<IndexPack>,
) -> Result<Vec<IndexId>> {
    let old_files = index.files();
    let mut w = IndexWriter::new(repo);
    let mut emitted: HashSet<PackId> = HashSet::new();
    for file_id in old_files {
        if index.is_superseded(file_id) {
            continue;
        }
        let file = repo.load_index_file(file_id)?;
        for p in file.packs {
            if plan.indexes(plan.fates.get(&p.id)) && emitted.insert(p.id) {
                w.push(p)?;
            }
        }
    }
    for p in new_packs {
        w.push(p)?;
    }
    let marks: Vec<ObsoletePack> = plan
        .marks
        .iter()
        .map(|(id, at)| ObsoletePack {
            id: *id,
            marked_at: *at,
        })
        .collect();
    w.finish(old_files.to_vec(), marks)
}
