//! `check --read-data`: reading the packs and verifying them, readers and
//! verifiers side by side (see [`read_and_verify`]).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use super::check::ReadData;
use crate::error::Result;
use crate::id::{BlobId, PackId};
use crate::ops::progress::Progress;
use crate::repo::Repository;

/// Reads and verifies the packs `rd` selects: per pack, what was found.
pub(super) fn read_data(
    repo: &Repository,
    stored: &HashMap<PackId, u64>,
    rd: ReadData,
    progress: &dyn Progress,
) -> Vec<(PackId, PackRead, bool)> {
    let mut chosen: Vec<(&PackId, u64)> = stored
        .iter()
        .filter(|(id, _)| rd.selects(id))
        .map(|(id, s)| (id, *s))
        .collect();
    chosen.sort();
    progress.total(chosen.len() as u64, chosen.iter().map(|c| c.1).sum());
    let mut results = read_and_verify(repo, &chosen, progress);
    results.sort_by_key(|r| r.0);
    results
}

/// What reading one pack found: the pack's own error, and damaged blobs.
pub(super) type PackRead = (Option<String>, Vec<(BlobId, String)>);

/// A pack as read for verification (`Repository::fetch_pack`).
type Fetched = Result<Option<(Vec<u8>, usize)>>;

/// Reads the packs on one thread per connection and verifies them on one
/// per core: each reader hands its pack to a free verifier and reads the
/// next, so the storage stays busy while the cores verify, and at most a
/// pack per reader and per core is in memory. Measured on the project's
/// 2-vCPU VM (docs/performance.md): a 1 GiB random-data check is bound
/// by the disk's reads, a 1.5 GB tree by zstd decompression and hashing.
/// Returns, per pack: what was found, and whether it was verified in
/// pieces (too large to read whole).
fn read_and_verify(
    repo: &Repository,
    chosen: &[(&PackId, u64)],
    progress: &dyn Progress,
) -> Vec<(PackId, PackRead, bool)> {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::sync_channel(0);
    // verified packs' buffers go back to the readers: reading into them
    // allocates and zeroes nothing, and the heaps do not fragment
    let (give_back, spares) = std::sync::mpsc::channel::<Vec<u8>>();
    let spares = Mutex::new(spares);
    let verify = |(id, size, mut fetched): (PackId, u64, Fetched)| {
        let checked = fetched.as_mut().map_err(|e| e.to_string()).and_then(|f| {
            let bytes = f
                .as_mut()
                .map(|(b, at)| b.get_mut(*at..).unwrap_or_default());
            repo.verify_fetched(&id, size, bytes)
                .map_err(|e| e.to_string())
        });
        let (out, pieced) = match checked {
            Err(e) => ((Some(e), Vec::new()), false),
            Ok(((_, bad), pieced)) => {
                let bad = bad.into_iter().map(|(e, err)| (e.id, err.to_string()));
                ((None, bad.collect()), pieced)
            }
        };
        if let Ok(Some((buf, _))) = fetched {
            let _ = give_back.send(buf);
        }
        progress.advance(1, size);
        (id, out, pieced)
    };
    std::thread::scope(|s| {
        for _ in 0..repo.connections().max(1) {
            let (tx, next, spares) = (tx.clone(), &next, &spares);
            s.spawn(move || {
                while let Some(&(id, size)) = chosen.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if progress.is_cancelled() {
                        break;
                    }
                    let spare = spares
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .try_recv()
                        .unwrap_or_default();
                    let fetched = repo.fetch_pack(id, size, spare);
                    if tx.send((*id, size, fetched)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        match rayon::ThreadPoolBuilder::new().num_threads(cores).build() {
            Ok(pool) => pool.install(|| rx.into_iter().par_bridge().map(verify).collect()),
            Err(_) => rx.into_iter().map(verify).collect(),
        }
    })
}
