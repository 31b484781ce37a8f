//! What a restore does with what is already in the target: the overwrite
//! policy per file, `delete` (removing what the snapshot does not have),
//! and the dry run that reports both without changing anything.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::beneath::Beneath;
use super::plan::{FileEntry, Plan};
use super::verify::file_matches;
use super::{Overwrite, RestoreOptions, RestoreReport};
use crate::error::{Error, Result};
use crate::ops::content::Layout;
use crate::repo::{MasterIndex, Repository};

/// What becomes of one file of the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// Write it.
    Write,
    /// The file on disk already holds this content: skip it.
    Identical,
    /// A file is there and the overwrite policy keeps it.
    Kept,
}

/// Decides for `f` under the overwrite policy, looking at what is at its
/// path (nothing there: write).
pub(super) fn decide(
    repo: &Repository,
    fs: &Beneath,
    f: &FileEntry,
    layout: &Layout,
    overwrite: Overwrite,
) -> Decision {
    let Ok(st) = fs.lstat(&f.path) else {
        return Decision::Write;
    };
    let on_disk = st
        .st_mtime
        .saturating_mul(1_000_000_000)
        .saturating_add(st.st_mtime_nsec);
    match overwrite {
        Overwrite::Never => Decision::Kept,
        Overwrite::IfNewer if on_disk >= f.mtime() => Decision::Kept,
        Overwrite::Always => Decision::Write,
        Overwrite::IfNewer | Overwrite::IfChanged => {
            if matches!(file_matches(repo, fs, &f.path, f.size, layout), Ok(true)) {
                Decision::Identical
            } else {
                Decision::Write
            }
        }
    }
}

/// Every path the restore creates.
fn planned(plan: &Plan) -> HashSet<&Path> {
    let dirs = plan.dirs.iter().map(|d| d.path.as_path());
    let others = plan.others.iter().map(|o| o.path.as_path());
    let files = plan.files.iter().map(|f| f.path.as_path());
    let links = plan.links.iter().map(|(_, p)| p.as_path());
    dirs.chain(others).chain(files).chain(links).collect()
}

/// Removes (or, in a dry run, lists) what is in the target and in the
/// restored folders but not in the snapshot. Folders not in the snapshot
/// go with everything below them.
pub(super) fn delete_extra(
    fs: &Beneath,
    plan: &Plan,
    target: &Path,
    dry_run: bool,
    report: &mut RestoreReport,
) -> Result<()> {
    let keep = planned(plan);
    let folders = std::iter::once(target).chain(plan.dirs.iter().map(|d| d.path.as_path()));
    for dir in folders {
        let names = match fs.list(dir) {
            Ok(n) => n,
            // a folder the restore did not create (dry run) has nothing to delete
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(dir.display(), e)),
        };
        for name in names {
            let path: PathBuf = dir.join(&name);
            if keep.contains(path.as_path()) {
                continue;
            }
            if !dry_run {
                fs.clear(&path, false)
                    .map_err(|e| Error::io(path.display(), e))?;
            }
            report.deleted.push(path.display().to_string());
        }
    }
    report.deleted.sort();
    Ok(())
}

/// A restore that changes nothing: what would be written, skipped, kept
/// and deleted.
pub(super) fn dry_run(
    repo: &Repository,
    index: &MasterIndex,
    plan: &Plan,
    opts: &RestoreOptions,
) -> Result<RestoreReport> {
    let fs =
        Beneath::open_existing(&opts.target).map_err(|e| Error::io(opts.target.display(), e))?;
    let mut report = RestoreReport {
        dry_run: true,
        dirs: plan.dirs.len() as u64,
        others: plan.others.len() as u64,
        links: plan.links.len() as u64,
        ..RestoreReport::default()
    };
    for f in &plan.files {
        let lay = match f.layout(index, &f.path.display().to_string()) {
            Ok(l) => l,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        report.files += 1;
        let decision = fs.as_ref().map_or(Decision::Write, |fs| {
            decide(repo, fs, f, &lay, opts.overwrite)
        });
        match decision {
            Decision::Write => report.bytes_written += f.size,
            Decision::Identical => {
                report.files_skipped += 1;
                report.bytes_skipped += f.size;
            }
            Decision::Kept => report.files_kept += 1,
        }
    }
    if opts.delete
        && let Some(fs) = &fs
    {
        delete_extra(fs, plan, &opts.target, true, &mut report)?;
    }
    Ok(report)
}
