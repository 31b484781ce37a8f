//! The data phase of a restore: each pack is read once with ranged reads
//! of neighbouring blobs, the reads in parallel; every blob is opened
//! (decrypted, checked against its id) and its pieces are written with
//! positioned writes. Damage in one range or blob does not stop the others.

use std::ops::Range;
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
/// Upper bound of the plaintext one read carries. Blobs that compress
/// well (a SQL dump's 1 MiB chunks seal to ~9 KiB) would otherwise put a
/// whole pack's decompression and writing behind one read, on one worker:
/// a 652 MiB dump sits in two packs.
const MAX_PLAIN: u64 = 16 << 20;

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
    for (_, blobs) in packs.iter_mut() {
        blobs.sort_by_key(|b| b.loc.offset);
    }
    // the reads of all packs, in pack order: the unit of parallel work
    let work: Vec<(&PackId, &[BlobJob])> = (packs.iter())
        .flat_map(|(pack, blobs)| reads(blobs).into_iter().map(move |r| (pack, &blobs[r])))
        .collect();
    work.par_iter()
        .for_each_init(Vec::new, |scratch, (pack, blobs)| {
            if progress.is_cancelled() {
                return;
            }
            let errs = restore_range(&ctx, pack, blobs, scratch);
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

/// Splits one pack's blobs (in offset order) into reads: runs of
/// neighbouring blobs (gaps under `MAX_GAP`), each read at most
/// `MAX_RANGE` long and carrying at most `MAX_PLAIN` of plaintext. A blob
/// longer than a bound is a read of its own.
fn reads(blobs: &[BlobJob]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < blobs.len() {
        let start = u64::from(blobs[i].loc.offset);
        let mut end = start + u64::from(blobs[i].loc.length);
        let mut plain = u64::from(blobs[i].loc.raw_length);
        let mut j = i + 1;
        while let Some(b) = blobs.get(j) {
            let (off, len) = (u64::from(b.loc.offset), u64::from(b.loc.length));
            let fits = off <= end.saturating_add(u64::from(MAX_GAP))
                && (off + len).saturating_sub(start) <= MAX_RANGE
                && plain + u64::from(b.loc.raw_length) <= MAX_PLAIN;
            if !fits {
                break;
            }
            end = end.max(off + len);
            plain += u64::from(b.loc.raw_length);
            j += 1;
        }
        out.push(i..j);
        i = j;
    }
    out
}

/// Reads one run of a pack's blobs (from [`reads`]) with one ranged read
/// and writes them out. A range that does not read (a truncated or
/// damaged pack) is read again blob by blob, and a damaged blob does not
/// stop the others: everything readable is restored. Returns a message
/// per failure, naming the files.
fn restore_range(
    ctx: &PackCtx<'_>,
    pack: &PackId,
    blobs: &[BlobJob],
    scratch: &mut Vec<u8>,
) -> Vec<String> {
    let (repo, jobs) = (ctx.repo, ctx.jobs);
    let mut errors = Vec::new();
    let (Some(first), Some(last)) = (blobs.first(), blobs.last()) else {
        return errors;
    };
    let start = first.loc.offset;
    let end = (blobs.iter())
        .map(|b| b.loc.offset + b.loc.length)
        .max()
        .unwrap_or(last.loc.offset + last.loc.length);
    let t = Instant::now();
    // decompressed blobs land in `scratch`; raw ones are written from the range
    let read = repo.read_pack_range_at(pack, u64::from(start), u64::from(end - start));
    StepClock::add(&ctx.clock.fetch, t);
    match read {
        Ok((mut bytes, base)) => {
            for b in blobs {
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
        Err(_) if blobs.len() > 1 => {
            for b in blobs {
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
            first,
            jobs,
        )),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::BlobType;
    use crate::id::{BlobId, Id};
    use crate::repo::BlobLocation;

    /// Blobs laid end to end from offset 0, with these sealed and plain
    /// lengths.
    fn blobs(lens: &[(u32, u32)]) -> Vec<BlobJob> {
        let mut at = 0;
        (lens.iter().enumerate())
            .map(|(n, &(length, raw_length))| {
                let loc = BlobLocation {
                    pack: PackId(Id([1; 32])),
                    blob_type: BlobType::Data,
                    offset: at,
                    length,
                    raw_length,
                };
                at += length;
                BlobJob {
                    id: BlobId(Id([n as u8; 32])),
                    loc,
                    targets: Vec::new(),
                }
            })
            .collect()
    }

    #[test]
    fn reads_are_bounded_by_range_and_by_plaintext() {
        // incompressible 1 MiB blobs: four to a 4 MiB read
        let b = blobs(&[(1 << 20, 1 << 20); 10]);
        assert_eq!(reads(&b), vec![0..4, 4..8, 8..10]);
        // a dump's blobs seal to ~9 KiB: 16 MiB of plaintext per read,
        // not the whole pack behind one read
        let b = blobs(&[(9 << 10, 1 << 20); 40]);
        assert_eq!(reads(&b), vec![0..16, 16..32, 32..40]);
        // a blob larger than both bounds is a read of its own
        let b = blobs(&[(100, 100), (5 << 20, 20 << 20), (100, 100)]);
        assert_eq!(reads(&b), vec![0..1, 1..2, 2..3]);
        assert!(reads(&[]).is_empty());
    }

    #[test]
    fn a_gap_past_the_limit_splits_a_read() {
        let mut b = blobs(&[(1000, 1000); 3]);
        b[2].loc.offset += 2 * MAX_GAP + 1;
        b[1].loc.offset += MAX_GAP;
        assert_eq!(reads(&b), vec![0..2, 2..3]);
    }
}
