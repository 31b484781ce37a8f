//! Carrying out a restore plan on the local file system, in the order the
//! module docs give: entries, files and their data, links, metadata, and
//! the optional read-back. Everything that decides *what* to do is in
//! `plan.rs` and `jobs.rs`; this file only does it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Instant;

use super::jobs::{PackGrouper, PackJobs};
use super::plan::Plan;
use super::verify::file_matches;
use super::{RestoreOptions, RestoreReport, data, verify};
use crate::error::{Error, Result};
use crate::format::tree::NodeKind;
use crate::ops::fsmeta;
use crate::ops::progress::Progress;
use crate::repo::{MasterIndex, Repository};

pub(super) fn open_nofollow(path: &Path, write: bool) -> io::Result<File> {
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

fn io_err(p: &Path, e: io::Error) -> Error {
    Error::io(p.display(), e)
}

/// Carries out `plan`; `started` is when planning began (for the timings).
pub(super) fn execute(
    repo: &Repository,
    index: &MasterIndex,
    plan: &Plan,
    opts: &RestoreOptions,
    progress: &dyn Progress,
    started: Instant,
) -> Result<RestoreReport> {
    let mut report = RestoreReport::default();
    std::fs::create_dir_all(&opts.target).map_err(|e| io_err(&opts.target, e))?;
    create_entries(plan, &mut report, progress)?;
    let mut packs = create_files(repo, index, plan, &mut report, progress)?;

    // Read packs in parallel and write blobs.
    report.timings.prepare = started.elapsed();
    let data_started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| Error::InvalidInput(format!("thread pool: {e}")))?;
    let data = pool.install(|| data::run(repo, &mut packs, &plan.files, progress));
    if progress.is_cancelled() {
        return Err(Error::Cancelled);
    }
    report.bytes_written = data.written;
    report.errors.extend(data.errors);
    report.timings.data = data_started.elapsed();
    report.timings.fetch = data.fetch;
    report.timings.decrypt = data.decrypt;
    report.timings.write = data.write;

    let finish_started = Instant::now();
    link_and_apply_metadata(plan, opts, &mut report);
    report.timings.finish = finish_started.elapsed();

    let verify_started = Instant::now();
    if opts.verify {
        let (verified, errors) = pool.install(|| verify::verify(repo, index, plan));
        report.files_verified = verified;
        report.errors.extend(errors);
    }
    report.timings.verify = verify_started.elapsed();
    Ok(report)
}

/// Directories, then symlinks and special files.
fn create_entries(plan: &Plan, report: &mut RestoreReport, progress: &dyn Progress) -> Result<()> {
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
                let t: &[u8] = o.node.target.as_deref().map_or(&[], |t| t.as_slice());
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(t), &o.path)
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
    Ok(())
}

/// Regular files: those already identical on disk (a re-run after an
/// interruption) are skipped, the rest created at their size; returns the
/// blob jobs of the files to write. A file whose blobs are not all indexed
/// is reported, and the rest of the snapshot is still restored.
fn create_files(
    repo: &Repository,
    index: &MasterIndex,
    plan: &Plan,
    report: &mut RestoreReport,
    progress: &dyn Progress,
) -> Result<Vec<PackJobs>> {
    let total: u64 = plan.files.iter().map(|f| f.size).sum();
    progress.total(plan.files.len() as u64 + plan.others.len() as u64, total);
    let mut jobs = PackGrouper::default();
    for (fi, f) in plan.files.iter().enumerate() {
        if progress.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let lay = match f.layout(index, &f.path.display().to_string()) {
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
        jobs.add_file(fi, &lay);
        progress.advance(1, 0);
    }
    Ok(jobs.finish())
}

/// Hard links, then metadata: files and others, then directories deepest
/// first (so writing children does not disturb a directory's times).
fn link_and_apply_metadata(plan: &Plan, opts: &RestoreOptions, report: &mut RestoreReport) {
    for (first, path) in &plan.links {
        let res = clear(path, false).and_then(|()| std::fs::hard_link(first, path));
        match res {
            Ok(()) => report.links += 1,
            Err(e) => report
                .errors
                .push(format!("{}: hard link: {e}", path.display())),
        }
    }
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
}
