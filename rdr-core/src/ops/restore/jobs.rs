//! Which blob goes where: the data part of a restore plan. Pure: from each
//! file's layout (its blobs with their index locations, and its pieces with
//! holes) it builds, per pack, the blobs to read in pack order, each with
//! every file offset its bytes go to. A blob shared by several files or
//! places is read once. Holes are not written (the file is created at its
//! size, so they stay holes).

use std::collections::HashMap;

use crate::id::{BlobId, PackId};
use crate::ops::content::{Layout, Piece};
use crate::repo::BlobLocation;

/// Where a piece of a blob goes: `len` bytes from `start` in the blob, to
/// `offset` in the file at index `file` of the plan's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) file: usize,
    pub(super) start: u64,
    pub(super) len: u64,
    pub(super) offset: u64,
}

/// One blob to read, and where its bytes go.
#[derive(Debug, Clone)]
pub(super) struct BlobJob {
    pub(super) id: BlobId,
    pub(super) loc: BlobLocation,
    pub(super) targets: Vec<Target>,
}

/// The blobs of one pack, in pack order.
pub(super) type PackJobs = (PackId, Vec<BlobJob>);

/// Gathers the blob jobs of the files a restore writes, one file at a time
/// (so a file's layout need not outlive its turn).
#[derive(Default)]
pub(super) struct PackGrouper {
    by_pack: HashMap<PackId, Vec<BlobJob>>,
    /// Where each blob's job is: its pack and position there.
    seen: HashMap<BlobId, (PackId, usize)>,
}

impl PackGrouper {
    /// Adds the data pieces of the file at index `file` of the plan.
    pub(super) fn add_file(&mut self, file: usize, layout: &Layout) {
        for p in &layout.pieces {
            let Piece::Data {
                blob,
                start,
                len,
                offset,
            } = *p
            else {
                continue;
            };
            let (id, loc) = layout.blobs[blob];
            let t = Target {
                file,
                start,
                len,
                offset,
            };
            match self.seen.get(&id) {
                Some((pack, i)) => {
                    if let Some(job) = self.by_pack.get_mut(pack).and_then(|v| v.get_mut(*i)) {
                        job.targets.push(t);
                    }
                }
                None => {
                    let v = self.by_pack.entry(loc.pack).or_default();
                    self.seen.insert(id, (loc.pack, v.len()));
                    v.push(BlobJob {
                        id,
                        loc,
                        targets: vec![t],
                    });
                }
            }
        }
    }

    /// The jobs, blobs in offset order within each pack, and packs in the
    /// order of the first file piece each serves: the order a backup
    /// wrote them in, mostly. Neighbouring blobs of a file are then
    /// restored close together in time, so the partial blocks between
    /// them are not held for long (`sink.rs`), and the packs are read in
    /// the order they were laid down on the disk.
    pub(super) fn finish(self) -> Vec<PackJobs> {
        let mut packs: Vec<PackJobs> = self.by_pack.into_iter().collect();
        for (_, blobs) in &mut packs {
            blobs.sort_by_key(|b| b.loc.offset);
        }
        packs.sort_by_cached_key(|(p, blobs)| {
            let first = (blobs.iter().flat_map(|b| &b.targets))
                .map(|t| (t.file, t.offset))
                .min();
            (first, *p)
        });
        packs
    }
}
