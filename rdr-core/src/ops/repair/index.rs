//! `repair index`: rebuild the index from what storage holds.
//!
//! Every pack's header is read (with `read_data`, the whole pack, and every
//! blob is opened and verified). A pack that is whole is indexed as its
//! header says. A damaged pack (missing header, truncated, a blob that
//! does not open) is *salvaged*: each blob that still opens — located by
//! its header, or by the old index files when the header is gone — is
//! copied into a new pack, and the damaged pack is deleted. Order, as in
//! prune: new packs, then the new index (its last file supersedes every old
//! index file), then the old index files and the damaged packs go.
//! Obsolete marks of packs that are still stored are kept.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::error::Result;
use crate::format::index::{IndexBlob, IndexPack, ObsoletePack};
use crate::id::{BlobId, IndexId, PackId};
use crate::kind::FileType;
use crate::ops::progress::Progress;
use crate::repo::{BlobLocation, IndexWriter, LockGuard, PackerOptions, Repository};

/// Settings of `repair index`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RepairIndexOptions {
    /// Read every pack in full and verify every blob (finds damage inside
    /// packs; without it only packs whose header is unreadable are
    /// salvaged).
    pub read_data: bool,
    /// Report, change nothing.
    pub dry_run: bool,
}

/// What `repair index` did.
#[derive(Debug, Clone, Default)]
pub struct RepairIndexReport {
    /// Packs in storage.
    pub packs: usize,
    /// Blobs in the new index.
    pub blobs: usize,
    /// Damaged packs whose readable blobs were copied out (then deleted).
    pub salvaged_packs: Vec<PackId>,
    /// Blobs copied out of damaged packs.
    pub blobs_salvaged: usize,
    /// Blobs of damaged packs that did not open (lost), with why.
    pub blobs_lost: Vec<(BlobId, String)>,
    /// Index files written.
    pub index_files_written: usize,
    /// Old index files removed.
    pub index_files_removed: usize,
    /// Whether this was a dry run (nothing written or removed).
    pub dry_run: bool,
}

/// What reading one pack found.
enum PackState {
    Whole(IndexPack),
    /// Header entries (if the header reads), and the error.
    Damaged(Option<IndexPack>, String),
}

/// Rebuilds the index (see the module docs). `_lock` must be exclusive.
///
/// # Errors
/// Storage errors (damage is repaired, not an error).
pub fn repair_index(
    repo: &Repository,
    opts: &RepairIndexOptions,
    progress: &dyn Progress,
    lock: &LockGuard,
) -> Result<RepairIndexReport> {
    if !opts.dry_run {
        // it replaces index files: refused where nothing may be deleted
        lock.ensure_deletable("repair index")?;
    }
    // what the storage holds, not the local cache
    let repo = &repo.without_cache();
    let stored = repo.pack_sizes()?;
    let old_files: Vec<IndexId> = repo
        .list_ids(FileType::Index)?
        .into_iter()
        .map(IndexId)
        .collect();
    // marks of the old index, best effort (damaged files are left out)
    let marks: HashMap<PackId, i64> = repo
        .load_index(true)
        .map(|l| l.index.obsolete_marks().clone())
        .unwrap_or_default();
    let mut report = RepairIndexReport {
        packs: stored.len(),
        dry_run: opts.dry_run,
        ..RepairIndexReport::default()
    };
    let mut ids: Vec<(&PackId, u64)> = stored.iter().map(|(p, s)| (p, *s)).collect();
    ids.sort();
    progress.total(ids.len() as u64, ids.iter().map(|i| i.1).sum());
    let states: Vec<(PackId, PackState)> = ids
        .par_iter()
        .map(|(id, size)| {
            let state = read_pack(repo, id, *size, opts.read_data);
            progress.advance(1, *size);
            (**id, state)
        })
        .collect();
    let mut whole = Vec::new();
    let mut damaged: Vec<(PackId, Option<IndexPack>, String)> = Vec::new();
    for (id, st) in states {
        match st {
            PackState::Whole(p) => whole.push(p),
            PackState::Damaged(h, e) => damaged.push((id, h, e)),
        }
    }
    let have: HashSet<BlobId> = whole
        .iter()
        .flat_map(|p| p.blobs.iter().map(|b| b.id))
        .collect();
    let new_packs = if damaged.is_empty() {
        Vec::new()
    } else {
        salvage(repo, &old_files, &damaged, &have, opts.dry_run, &mut report)?
    };
    report.salvaged_packs = damaged.iter().map(|d| d.0).collect();
    report.blobs = have.len() + report.blobs_salvaged;
    if opts.dry_run {
        return Ok(report);
    }
    // the new index
    let gone: HashSet<PackId> = report.salvaged_packs.iter().copied().collect();
    let obsolete: Vec<ObsoletePack> = marks
        .iter()
        .filter(|(p, _)| stored.contains_key(p) && !gone.contains(p))
        .map(|(id, at)| ObsoletePack {
            id: *id,
            marked_at: *at,
        })
        .collect();
    let mut w = IndexWriter::new(repo);
    for p in whole.into_iter().chain(new_packs) {
        w.push(p)?;
    }
    report.index_files_written = w.finish(old_files.clone(), obsolete)?.len();
    // durable: now the old files and the damaged packs
    for f in &old_files {
        repo.remove_file(FileType::Index, &f.0)?;
        report.index_files_removed += 1;
    }
    for p in &report.salvaged_packs {
        repo.remove_file(FileType::Pack, &p.0)?;
    }
    repo.reload_index()?;
    Ok(report)
}

fn read_pack(repo: &Repository, id: &PackId, size: u64, read_data: bool) -> PackState {
    let as_index = |entries: &[crate::format::pack::PackEntry]| IndexPack {
        id: *id,
        blobs: entries.iter().map(IndexBlob::from).collect(),
    };
    if !read_data {
        return match repo.load_pack_header_sized(id, size) {
            Ok(h) => PackState::Whole(as_index(&h)),
            Err(e) => PackState::Damaged(None, e.to_string()),
        };
    }
    // (a pack larger than the repository's packs can be is read in pieces)
    match repo.read_verify_pack(id, size) {
        Ok(((h, bad), _)) if bad.is_empty() => PackState::Whole(as_index(&h)),
        Ok(((h, bad), _)) => PackState::Damaged(Some(as_index(&h)), bad[0].1.to_string()),
        // hash mismatch or unreadable header: the header, if it reads
        Err(e) => PackState::Damaged(
            repo.load_pack_header_sized(id, size)
                .ok()
                .map(|h| as_index(&h)),
            e.to_string(),
        ),
    }
}

/// Copies the blobs of damaged packs that still open into new packs.
fn salvage(
    repo: &Repository,
    old_files: &[IndexId],
    damaged: &[(PackId, Option<IndexPack>, String)],
    have: &HashSet<BlobId>,
    dry_run: bool,
    report: &mut RepairIndexReport,
) -> Result<Vec<IndexPack>> {
    // entries of packs whose header is gone, from the old index files
    let headless: HashSet<PackId> = damaged
        .iter()
        .filter(|d| d.1.is_none())
        .map(|d| d.0)
        .collect();
    let mut from_index: HashMap<PackId, IndexPack> = HashMap::new();
    if !headless.is_empty() {
        for f in old_files {
            let Ok(file) = repo.load_index_file(f) else {
                continue;
            };
            for p in file.packs {
                if headless.contains(&p.id) {
                    from_index.entry(p.id).or_insert(p);
                }
            }
        }
    }
    let packer = (!dry_run).then(|| repo.packer(PackerOptions::default()));
    let mut copied: HashSet<BlobId> = HashSet::new();
    for (id, header, _) in damaged {
        let Some(entries) = header.as_ref().or_else(|| from_index.get(id)) else {
            continue;
        };
        for b in &entries.blobs {
            if have.contains(&b.id) || copied.contains(&b.id) {
                continue;
            }
            let loc = BlobLocation {
                pack: *id,
                blob_type: b.blob_type,
                offset: b.offset,
                length: b.length,
                raw_length: b.raw_length,
            };
            let sealed = repo
                .read_pack_range(id, u64::from(b.offset), u64::from(b.length))
                .and_then(|s| repo.open_blob(&b.id, &loc, &s).map(|_| s));
            match sealed {
                Ok(s) => {
                    if let Some(p) = &packer {
                        p.add(b.blob_type, b.id, &s, b.raw_length)?;
                    }
                    copied.insert(b.id);
                }
                Err(e) => report.blobs_lost.push((b.id, e.to_string())),
            }
        }
    }
    report.blobs_salvaged = copied.len();
    match packer {
        Some(p) => p.finish(),
        None => Ok(Vec::new()),
    }
}
