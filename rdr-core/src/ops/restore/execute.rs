//! Carrying out a restore plan on the local file system, in the order the
//! module docs give: entries, files and their data, links, metadata, and
//! the optional read-back. Everything that decides *what* to do is in
//! `plan.rs` and `jobs.rs`; this file only does it.

use std::collections::HashSet;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Instant;

use super::beneath::Beneath;
use super::existing::{Decision, decide, delete_extra};
use super::jobs::{PackGrouper, PackJobs};
use super::plan::Plan;
use super::sink::{DIRECT_MIN, Sink};
use super::{RestoreOptions, RestoreReport, data, verify};
use crate::error::{Error, Result};
use crate::format::tree::NodeKind;
use crate::ops::fsmeta;
use crate::ops::progress::Progress;
use crate::repo::{MasterIndex, Repository};

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
    let fs = Beneath::open(&opts.target).map_err(|e| io_err(&opts.target, e))?;
    create_entries(&fs, plan, &mut report, progress)?;
    let (mut packs, untouched) = create_files(&fs, repo, index, plan, opts, &mut report, progress)?;

    // Read packs in parallel and write blobs.
    report.timings.prepare = started.elapsed();
    let data_started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| Error::InvalidInput(format!("thread pool: {e}")))?;
    let large: u64 = (packs.iter().flat_map(|(_, blobs)| blobs))
        .flat_map(|b| &b.targets)
        .filter(|t| plan.files[t.file].size >= DIRECT_MIN)
        .map(|t| t.len)
        .sum();
    let sink = Sink::new(&fs, &plan.files, opts.write_method, large);
    sink.preallocate(&packs);
    let mut data = pool.install(|| data::run(repo, &sink, &mut packs, &plan.files, progress));
    let direct = sink.direct_bytes.load(std::sync::atomic::Ordering::Relaxed);
    data.errors.extend(sink.finish());
    if progress.is_cancelled() {
        return Err(Error::Cancelled);
    }
    report.bytes_written = data.written;
    report.bytes_direct = direct;
    report.errors.extend(data.errors);
    report.timings.data = data_started.elapsed();
    report.timings.fetch = data.fetch;
    report.timings.decrypt = data.decrypt;
    report.timings.write = data.write;

    let finish_started = Instant::now();
    // after the data is written, before directory times are set
    if opts.delete {
        delete_extra(&fs, plan, &opts.target, false, &mut report)?;
    }
    link_and_apply_metadata(&fs, plan, &untouched, opts, &mut report);
    report.timings.finish = finish_started.elapsed();

    let verify_started = Instant::now();
    if opts.verify {
        let (verified, errors) = pool.install(|| verify::verify(repo, &fs, index, plan));
        report.files_verified = verified;
        report.errors.extend(errors);
    }
    report.timings.verify = verify_started.elapsed();
    Ok(report)
}

/// Directories, then symlinks and special files.
fn create_entries(
    fs: &Beneath,
    plan: &Plan,
    report: &mut RestoreReport,
    progress: &dyn Progress,
) -> Result<()> {
    for d in &plan.dirs {
        fs.clear(&d.path, true).map_err(|e| io_err(&d.path, e))?;
        fs.mkdir_all(&d.path).map_err(|e| io_err(&d.path, e))?;
        report.dirs += 1;
    }
    for o in &plan.others {
        if let Some(parent) = o.path.parent() {
            fs.mkdir_all(parent).map_err(|e| io_err(parent, e))?;
        }
        fs.clear(&o.path, false).map_err(|e| io_err(&o.path, e))?;
        let res = match o.node.kind {
            NodeKind::Symlink => {
                let t: &[u8] = o.node.target.as_deref().map_or(&[], |t| t.as_slice());
                fs.symlink(std::ffi::OsStr::from_bytes(t), &o.path)
            }
            NodeKind::Socket => continue,
            _ => fs.at(&o.path, |dir, name| {
                fsmeta::make_special_at(dir, name, &o.node)
            }),
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
/// interruption) are skipped, those the overwrite policy keeps are left
/// alone, the rest created at their size; returns the blob jobs of the
/// files to write, and the files left untouched (kept, or that cannot be
/// restored), which get no metadata either.
/// A file whose blobs are not all indexed is reported (and left as it is
/// on disk), and the rest of the snapshot is still restored.
fn create_files(
    fs: &Beneath,
    repo: &Repository,
    index: &MasterIndex,
    plan: &Plan,
    opts: &RestoreOptions,
    report: &mut RestoreReport,
    progress: &dyn Progress,
) -> Result<(Vec<PackJobs>, HashSet<usize>)> {
    let mut untouched = HashSet::new();
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
                untouched.insert(fi);
                continue;
            }
        };
        report.files += 1;
        if let Some(parent) = f.path.parent() {
            fs.mkdir_all(parent).map_err(|e| io_err(parent, e))?;
        }
        match decide(repo, fs, f, &lay, opts.overwrite) {
            Decision::Identical => {
                report.files_skipped += 1;
                report.bytes_skipped += f.size;
                progress.advance(1, f.size);
                continue;
            }
            Decision::Kept => {
                report.files_kept += 1;
                untouched.insert(fi);
                progress.advance(1, f.size);
                continue;
            }
            Decision::Write => {}
        }
        fs.clear(&f.path, false).map_err(|e| io_err(&f.path, e))?;
        let file = fs.create_file(&f.path).map_err(|e| io_err(&f.path, e))?;
        file.set_len(f.size).map_err(|e| io_err(&f.path, e))?;
        jobs.add_file(fi, &lay);
        progress.advance(1, 0);
    }
    Ok((jobs.finish(), untouched))
}

/// Hard links, then metadata: files and others, then directories deepest
/// first (so writing children does not disturb a directory's times). A file
/// that could not be restored gets neither: whatever is at its path keeps
/// its own times, rather than looking restored.
fn link_and_apply_metadata(
    fs: &Beneath,
    plan: &Plan,
    failed: &HashSet<usize>,
    opts: &RestoreOptions,
    report: &mut RestoreReport,
) {
    let failed_paths: HashSet<&Path> = failed
        .iter()
        .map(|&i| plan.files[i].path.as_path())
        .collect();
    for (first, path) in &plan.links {
        if failed_paths.contains(first.as_path()) {
            continue;
        }
        let res = fs
            .clear(path, false)
            .and_then(|()| fs.hard_link(first, path));
        match res {
            Ok(()) => report.links += 1,
            Err(e) => report
                .errors
                .push(format!("{}: hard link: {e}", path.display())),
        }
    }
    let metas = (plan.files.iter().enumerate())
        .filter(|(i, _)| !failed.contains(i))
        .map(|(_, f)| (&f.path, f.meta()));
    let others = plan
        .others
        .iter()
        .filter(|o| o.node.kind != NodeKind::Socket);
    let dirs = plan.dirs.iter().rev().map(|d| (&d.path, (&d.node).into()));
    let all = metas
        .chain(others.map(|o| (&o.path, (&o.node).into())))
        .chain(dirs);
    for (path, meta) in all {
        let res = fs.at(path, |dir, name| {
            Ok(fsmeta::apply_at(dir, name, &meta, opts.owners))
        });
        let warnings = res.unwrap_or_else(|e| vec![e.to_string()]);
        for w in warnings {
            report.warnings.push(format!("{}: {w}", path.display()));
        }
    }
}
