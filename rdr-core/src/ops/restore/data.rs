//! The data phase of a restore: each pack is read once with ranged reads
//! of neighbouring blobs, in parallel; every blob is opened (decrypted,
//! checked against its id) and its pieces are written with positioned
//! writes. Damage in one range or blob does not stop the others.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::jobs::BlobJob;
use super::plan::FileEntry;
use super::sink::Sink;
use crate::id::PackId;
use crate::ops::progress::Progress;
use crate::repo::Repository;

/// Blobs closer than this in a pack are fetched with one read.
const MAX_GAP: u32 = 256 << 10;
/// Upper bound of one ranged read.
const MAX_RANGE: u64 = 4 << 20;

/// What the data phase did, and the workers' time in each step.
pub(super) struct DataOutcome {
    pub(super) written: u64,
    pub(super) errors: Vec<String>,
    pub(super) fetch: Duration,
    pub(super) decrypt: Duration,
    pub(super) write: Duration,
}

/// Restores every pack's blobs, in parallel on the current thread pool.
pub(super) fn run(
    repo: &Repository,
    sink: &Sink<'_>,
    packs: &mut [(PackId, Vec<BlobJob>)],
    jobs: &[FileEntry],
    progress: &dyn Progress,
) -> DataOutcome {
    let clock = StepClock::default();
    let written = AtomicU64::new(0);
    let errors = Mutex::new(Vec::<String>::new());
    let ctx = PackCtx {
        repo,
        sink,
        jobs,
        written: &written,
        clock: &clock,
        progress,
    };
    packs
        .par_iter_mut()
        .for_each_init(Vec::new, |scratch, (pack, blobs)| {
            if progress.is_cancelled() {
                return;
            }
            let errs = restore_pack(&ctx, pack, blobs, scratch);
            if !errs.is_empty() {
                errors
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend(errs);
            }
        });
    DataOutcome {
        written: written.load(Ordering::Relaxed),
        errors: errors
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        fetch: StepClock::read(&clock.fetch),
        decrypt: StepClock::read(&clock.decrypt),
        write: StepClock::read(&clock.write),
    }
}

/// Worker time per step of the data phase, in nanoseconds.
#[derive(Default)]
struct StepClock {
    fetch: AtomicU64,
    decrypt: AtomicU64,
    write: AtomicU64,
}

impl StepClock {
    fn add(counter: &AtomicU64, since: Instant) {
        let ns = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counter.fetch_add(ns, Ordering::Relaxed);
    }

    fn read(counter: &AtomicU64) -> Duration {
        Duration::from_nanos(counter.load(Ordering::Relaxed))
    }
}

/// Reads the needed blobs of one pack in ranges and writes them out. A
/// range that does not read (a truncated or damaged pack) is read again
/// blob by blob, and a damaged blob does not stop the others: everything
/// readable is restored. Returns a message per failure, naming the files.
fn restore_pack(
    ctx: &PackCtx<'_>,
    pack: &PackId,
    blobs: &mut [BlobJob],
    scratch: &mut Vec<u8>,
) -> Vec<String> {
    let repo = ctx.repo;
    let jobs = ctx.jobs;
    blobs.sort_by_key(|b| b.loc.offset);
    let mut errors = Vec::new();
    // decompressed blobs land here; raw ones are written from the range
    let mut i = 0;
    while i < blobs.len() {
        let start = blobs[i].loc.offset;
        let mut end = start + blobs[i].loc.length;
        let mut j = i + 1;
        while j < blobs.len()
            && blobs[j].loc.offset <= end.saturating_add(MAX_GAP)
            && u64::from(blobs[j].loc.offset + blobs[j].loc.length - start) <= MAX_RANGE
        {
            end = end.max(blobs[j].loc.offset + blobs[j].loc.length);
            j += 1;
        }
        let t = Instant::now();
        let read = repo.read_pack_range_at(pack, u64::from(start), u64::from(end - start));
        StepClock::add(&ctx.clock.fetch, t);
        match read {
            Ok((mut bytes, base)) => {
                for b in &blobs[i..j] {
                    let at = base + (b.loc.offset - start) as usize;
                    let sealed = bytes
                        .get_mut(at..at + b.loc.length as usize)
                        .unwrap_or_default();
                    if let Err(e) = write_blob(ctx, b, sealed, scratch) {
                        errors.push(e);
                    }
                }
            }
            // a range that does not read: each blob on its own
            Err(_) if j - i > 1 => {
                for b in &blobs[i..j] {
                    let one = repo
                        .read_pack_range(pack, u64::from(b.loc.offset), u64::from(b.loc.length))
                        .map_err(|e| needed_by(&format!("pack {}: {e}", pack.short()), b, jobs))
                        .and_then(|mut sealed| write_blob(ctx, b, &mut sealed, scratch));
                    if let Err(e) = one {
                        errors.push(e);
                    }
                }
            }
            Err(e) => errors.push(needed_by(
                &format!("pack {}: {e}", pack.short()),
                &blobs[i],
                jobs,
            )),
        }
        i = j;
    }
    errors
}

/// `msg`, naming the files that needed the blob.
fn needed_by(msg: &str, b: &BlobJob, jobs: &[FileEntry]) -> String {
    let files: Vec<String> = b
        .targets
        .iter()
        .map(|t| jobs[t.file].path.display().to_string())
        .collect();
    format!("{msg} (needed by {})", files.join(", "))
}

/// What the workers of the data phase share.
struct PackCtx<'a> {
    repo: &'a Repository,
    sink: &'a Sink<'a>,
    jobs: &'a [FileEntry],
    written: &'a AtomicU64,
    clock: &'a StepClock,
    progress: &'a dyn Progress,
}

/// Opens one sealed blob (in place, decompressing into `scratch`) and
/// writes its pieces into the files needing them.
fn write_blob(
    ctx: &PackCtx<'_>,
    b: &BlobJob,
    sealed: &mut [u8],
    scratch: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    let (jobs, written, progress) = (ctx.jobs, ctx.written, ctx.progress);
    let t = Instant::now();
    let plain = ctx.repo.open_blob_in(&b.id, &b.loc, sealed, scratch);
    StepClock::add(&ctx.clock.decrypt, t);
    let plain = plain.map_err(|e| needed_by(&e.to_string(), b, jobs))?;
    let started = Instant::now();
    let res = b.targets.iter().try_for_each(|t| {
        let job = &jobs[t.file];
        let s = t.start as usize;
        let piece = plain
            .get(s..s + t.len as usize)
            .ok_or_else(|| format!("{}: blob shorter than indexed", job.path.display()))?;
        ctx.sink.write(t.file, piece, t.offset)?;
        written.fetch_add(t.len, Ordering::Relaxed);
        progress.advance(0, t.len);
        Ok(())
    });
    StepClock::add(&ctx.clock.write, started);
    res
}
