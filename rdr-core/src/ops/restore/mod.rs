//! `restore`: a snapshot (or a part of it) back onto the local file system.
//!
//! 1. Walk the selected trees; create directories, symlinks and special
//!    files; create regular files at their size (holes stay holes).
//!    Files already identical (a re-run after an interruption) are skipped.
//! 2. Group every needed blob by pack, and read each pack once, in
//!    parallel, with ranged reads of neighbouring blobs. Each blob is
//!    verified against its id before its bytes are written.
//! 3. Hard links, then metadata: files first, directories deepest first
//!    (so writing children does not disturb a directory's times).
//! 4. With `verify`, read everything back and compare with the blob ids.
//!
//! The data phase (step 2) is in `data.rs`, the read-back in `verify.rs`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::format::tree::NodeKind;
use crate::id::{BlobId, PackId};
use crate::ops::content::Piece;
use crate::ops::fsmeta;
use crate::ops::progress::Progress;
use crate::repo::Repository;
use data::{BlobJob, Target};
use plan::plan;
use verify::file_matches;

mod data;
mod plan;
mod verify;

/// Options of a restore.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Directory to restore into (created if missing).
    pub target: PathBuf,
    /// Restore only paths matching these patterns (and what is below them).
    pub include: Vec<String>,
    /// Skip paths matching these patterns.
    pub exclude: Vec<String>,
    /// Read everything back after writing and compare with the blob ids.
    pub verify: bool,
    /// Restore owners (default: when running as root).
    pub owners: bool,
    /// Parallel pack reads.
    pub threads: usize,
}

impl RestoreOptions {
    /// Defaults for restoring into `target`.
    #[must_use]
    pub fn new(target: impl Into<PathBuf>) -> Self {
        Self {
            target: target.into(),
            include: Vec::new(),
            exclude: Vec::new(),
            verify: false,
            owners: fsmeta::is_root(),
            threads: 4,
        }
    }
}

/// The outcome of a restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    /// Regular files restored (including skipped identical ones).
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Symlinks, fifos and devices.
    pub others: u64,
    /// Hard links made.
    pub links: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Files already identical on disk (not written again).
    pub files_skipped: u64,
    /// Their bytes.
    pub bytes_skipped: u64,
    /// Files read back and found identical (with `verify`).
    pub files_verified: u64,
    /// Metadata that could not be applied (the content is restored).
    pub warnings: Vec<String>,
    /// Entries whose content could not be restored, or that failed
    /// verification. Non-empty means the restore is not complete.
    pub errors: Vec<String>,
    /// Where the time went.
    pub timings: RestoreTimings,
}

/// Where a restore's time went. `prepare`, `data`, `finish` and `verify`
/// are consecutive wall-clock phases; `fetch`, `decrypt` and `write` are
/// the time the parallel workers of the data phase spent in each step,
/// summed over workers (so they can add up to more than `data`).
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreTimings {
    /// Loading trees, creating directories, special files and empty files.
    pub prepare: Duration,
    /// The data phase: reading packs and writing file contents.
    pub data: Duration,
    /// Worker time reading packs from storage.
    pub fetch: Duration,
    /// Worker time opening blobs (decrypt, decompress, verify the id).
    pub decrypt: Duration,
    /// Worker time writing file contents.
    pub write: Duration,
    /// Hard links and metadata.
    pub finish: Duration,
    /// Reading everything back (with `verify`).
    pub verify: Duration,
}

fn open_nofollow(path: &Path, write: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

/// Removes whatever is at `path` unless it is a directory and `keep_dir`.
fn clear(path: &Path, keep_dir: bool) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() && keep_dir => Ok(()),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Restores `subpath` of `snap` (empty: everything) into `opts.target`.
/// Each snapshot path is recreated under the target (a backup of
/// /srv/data restores to TARGET/srv/data); with a subpath, what is below
/// it lands directly in the target.
///
/// # Errors
/// Repository errors before any content is written; a blob that fails to
/// load later is reported in [`RestoreReport::errors`] and the rest of the
/// restore goes on.
pub fn restore(
    repo: &Repository,
    snap: &Snapshot,
    subpath: &str,
    opts: &RestoreOptions,
    progress: &dyn Progress,
) -> Result<RestoreReport> {
    let started = Instant::now();
    let index = repo.index()?;
    let plan = plan(repo, snap, subpath, opts)?;
    let mut report = RestoreReport::default();
    let io_err = |p: &Path, e: io::Error| Error::io(p.display(), e);
    std::fs::create_dir_all(&opts.target).map_err(|e| io_err(&opts.target, e))?;

    // 1. Directories, then symlinks and special files.
    for d in &plan.dirs {
        clear(&d.path, true).map_err(|e| io_err(&d.path, e))?;
        if !d.path.is_dir() {
            std::fs::create_dir_all(&d.path).map_err(|e| io_err(&d.path, e))?;
        }
        report.dirs += 1;
    }
    for o in &plan.others {
        if let Some(parent) = o.path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        }
        clear(&o.path, false).map_err(|e| io_err(&o.path, e))?;
        let res = match o.node.kind {
            NodeKind::Symlink => {
                let t = o
                    .node
                    .target
                    .as_deref()
                    .map(|t| t.to_vec())
                    .unwrap_or_default();
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&t), &o.path)
            }
            NodeKind::Socket => continue,
            _ => fsmeta::make_special(&o.path, &o.node),
        };
        match res {
            Ok(()) => report.others += 1,
            Err(e) => report.warnings.push(format!("{}: {e}", o.path.display())),
        }
        progress.advance(1, 0);
    }

    // 2. Files: skip identical ones, create the rest, plan blob reads.
    let total: u64 = plan.files.iter().map(|f| f.size).sum();
    progress.total(plan.files.len() as u64 + plan.others.len() as u64, total);
    let mut by_pack: HashMap<PackId, Vec<BlobJob>> = HashMap::new();
    let mut where_blob: HashMap<BlobId, (PackId, usize)> = HashMap::new();
    for (fi, f) in plan.files.iter().enumerate() {
        if progress.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let shown = f.path.display().to_string();
        // a file whose blobs are not all indexed is reported, and the rest
        // of the snapshot is still restored
        let lay = match f.layout(&index, &shown) {
            Ok(l) => l,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        report.files += 1;
        if let Some(parent) = f.path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        }
        if matches!(file_matches(repo, &f.path, f.size, &lay), Ok(true)) {
            report.files_skipped += 1;
            report.bytes_skipped += f.size;
            progress.advance(1, f.size);
            continue;
        }
        clear(&f.path, false).map_err(|e| io_err(&f.path, e))?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&f.path)
            .map_err(|e| io_err(&f.path, e))?;
        file.set_len(f.size).map_err(|e| io_err(&f.path, e))?;
        for p in &lay.pieces {
            if let Piece::Data {
                blob,
                start,
                len,
                offset,
            } = *p
            {
                let (id, loc) = lay.blobs[blob];
                let t = Target {
                    file: fi,
                    start,
                    len,
                    offset,
                };
                match where_blob.get(&id) {
                    Some((pack, i)) => by_pack.entry(*pack).or_default()[*i].targets.push(t),
                    None => {
                        let v = by_pack.entry(loc.pack).or_default();
                        where_blob.insert(id, (loc.pack, v.len()));
                        v.push(BlobJob {
                            id,
                            loc,
                            targets: vec![t],
                        });
                    }
                }
            }
        }
        progress.advance(1, 0);
    }
    drop(where_blob);

    // 3. Read packs in parallel and write blobs.
    report.timings.prepare = started.elapsed();
    let data_started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| Error::InvalidInput(format!("thread pool: {e}")))?;
    let mut packs: Vec<(PackId, Vec<BlobJob>)> = by_pack.into_iter().collect();
    packs.sort_by_key(|(p, _)| *p);
    let data = pool.install(|| data::run(repo, &mut packs, &plan.files, progress));
    if progress.is_cancelled() {
        return Err(Error::Cancelled);
    }
    report.bytes_written = data.written;
    report.errors = data.errors;
    report.timings.data = data_started.elapsed();
    report.timings.fetch = data.fetch;
    report.timings.decrypt = data.decrypt;
    report.timings.write = data.write;
    let finish_started = Instant::now();

    // 4. Hard links.
    for (first, path) in &plan.links {
        let res = clear(path, false).and_then(|()| std::fs::hard_link(first, path));
        match res {
            Ok(()) => report.links += 1,
            Err(e) => report
                .errors
                .push(format!("{}: hard link: {e}", path.display())),
        }
    }

    // 5. Metadata: files and others, then directories deepest first.
    let metas = plan.files.iter().map(|f| (&f.path, f.meta()));
    let others = plan
        .others
        .iter()
        .filter(|o| o.node.kind != NodeKind::Socket);
    for (path, meta) in metas.chain(others.map(|o| (&o.path, (&o.node).into()))) {
        for w in fsmeta::apply(path, &meta, opts.owners) {
            report.warnings.push(format!("{}: {w}", path.display()));
        }
    }
    for d in plan.dirs.iter().rev() {
        for w in fsmeta::apply(&d.path, &(&d.node).into(), opts.owners) {
            report.warnings.push(format!("{}: {w}", d.path.display()));
        }
    }

    report.timings.finish = finish_started.elapsed();

    // 6. Verify.
    let verify_started = Instant::now();
    if opts.verify {
        let (verified, errors) = pool.install(|| verify::verify(repo, &index, &plan));
        report.files_verified = verified;
        report.errors.extend(errors);
    }
    report.timings.verify = verify_started.elapsed();
    Ok(report)
}
