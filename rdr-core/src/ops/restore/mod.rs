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
//! Planning is pure: `plan.rs` turns the snapshot's trees into the
//! entries to create (with target paths, include/exclude applied through
//! `ops::filter`), and `jobs.rs` turns the files' layouts into per-pack
//! lists of blobs with the file offsets each goes to. `execute.rs` carries
//! the plan out; the data phase (step 2) is in `data.rs`, the read-back in
//! `verify.rs`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::format::snapshot::Snapshot;
use crate::ops::fsmeta;
use crate::ops::progress::Progress;
use crate::repo::Repository;
use execute::execute;
use plan::plan;

mod beneath;
mod data;
mod execute;
mod existing;
mod jobs;
mod plan;
#[cfg(test)]
mod plan_tests;
mod sink;
mod verify;

pub use sink::WriteMethod;

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
    /// What to do with files already at a restored path.
    pub overwrite: Overwrite,
    /// Remove what is in the target's restored folders (and the target
    /// itself) but not in the snapshot, so the target mirrors it.
    pub delete: bool,
    /// Change nothing: report what would be written, kept and deleted.
    pub dry_run: bool,
    /// Through the page cache, or past it.
    pub write_method: WriteMethod,
}

/// What a restore does with a file already at a path it restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overwrite {
    /// Write every file again.
    Always,
    /// Write files whose content differs (the default; identical files are
    /// skipped, so a re-run after an interruption is cheap).
    #[default]
    IfChanged,
    /// Write a file only when the snapshot's copy is newer (by mtime) than
    /// the one on disk.
    IfNewer,
    /// Never replace an existing file.
    Never,
}

impl Overwrite {
    /// Parses `always`, `if-changed`, `if-newer` or `never`.
    ///
    /// # Errors
    /// A message naming the text for anything else.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        match s {
            "always" => Ok(Self::Always),
            "if-changed" => Ok(Self::IfChanged),
            "if-newer" => Ok(Self::IfNewer),
            "never" => Ok(Self::Never),
            _ => Err(format!(
                "overwrite {s:?}: use always, if-changed, if-newer or never"
            )),
        }
    }
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
            overwrite: Overwrite::default(),
            delete: false,
            dry_run: false,
            write_method: WriteMethod::default(),
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
    /// Of those, written past the page cache ([`WriteMethod`]).
    pub bytes_direct: u64,
    /// Files already identical on disk (not written again).
    pub files_skipped: u64,
    /// Their bytes.
    pub bytes_skipped: u64,
    /// Existing files kept as they are by the overwrite policy.
    pub files_kept: u64,
    /// Paths removed because the snapshot does not have them (`delete`),
    /// or that would be (`dry_run`).
    pub deleted: Vec<String>,
    /// Whether this was a dry run: nothing was written or removed, and
    /// `files`, `bytes_written` and `deleted` say what would be.
    pub dry_run: bool,
    /// Files read back and found identical (with `verify`).
    pub files_verified: u64,
    /// Metadata that could not be applied (the content is restored).
    pub warnings: Vec<String>,
    /// Entries whose content could not be restored, or that failed
    /// verification. Non-empty means the restore is not complete.
    pub errors: Vec<String>,
    /// Where the time went.
    pub timings: RestoreTimings,
    /// Wall-clock time of the whole restore.
    pub elapsed: Duration,
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
    // a damaged index file is left out and its packs read from their
    // headers: one bad file must not stop the restore of every snapshot
    let (index, index_warnings) = repo.index_for_reading()?;
    let plan = plan(repo, snap.tree, subpath, opts)?;
    if opts.delete && !(opts.include.is_empty() && opts.exclude.is_empty()) {
        return Err(crate::error::Error::InvalidInput(
            "delete mirrors the whole snapshot: it cannot be combined with include or exclude"
                .into(),
        ));
    }
    let mut report = if opts.dry_run {
        existing::dry_run(repo, &index, &plan, opts)?
    } else {
        execute(repo, &index, &plan, opts, progress, started)?
    };
    report.warnings.extend(index_warnings);
    report.elapsed = started.elapsed();
    Ok(report)
}
