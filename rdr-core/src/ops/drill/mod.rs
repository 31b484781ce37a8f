//! `drill`: prove that a snapshot can be recovered, and measure how long it
//! takes. The snapshot is restored into an isolated scratch directory (or
//! an empty `target`), every entry is read back and compared with the
//! snapshot, an optional health command runs against the restored data,
//! and the scratch data is removed unless asked to keep it.
//!
//! The clock starts when the caller says the operator's job started
//! ([`DrillOptions::started`], before the repository was opened), so the
//! total is the recovery time achieved. A drill never stops at the first
//! problem: every failure lands in [`DrillReport::errors`], and the caller
//! stores [`DrillReport::record`] in the repository for `status`.

mod health;
mod report;

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use health::{HealthOutcome, OUTPUT_KEPT};
pub use report::DrillReport;

use crate::error::{Error, Result};
use crate::format::record::DrillPhases;
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;
use crate::ops::progress::Progress;
use crate::ops::restore::{RestoreOptions, RestoreReport, restore};
use crate::repo::Repository;
use crate::time::{format_duration, now_ns};

/// Settings of a drill.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// Restore here (must be missing or empty); `None`: a fresh directory
    /// under [`DrillOptions::scratch_parent`].
    pub target: Option<PathBuf>,
    /// Where scratch directories are made (default: the temp directory).
    pub scratch_parent: PathBuf,
    /// Keep the restored data afterwards.
    pub keep: bool,
    /// Shell command run in the restored directory afterwards; it sees
    /// `RDR_DRILL_TARGET`, `RDR_DRILL_SNAPSHOT` and `RDR_DRILL_PATHS`.
    pub health_cmd: Option<String>,
    /// The health command is stopped after this long.
    pub health_timeout: Option<Duration>,
    /// The drill fails when the total time exceeds this.
    pub rto: Option<Duration>,
    /// Parallel pack reads.
    pub threads: usize,
    /// When the recovery started (default: when [`drill`] is called).
    pub started: Option<(Instant, i64)>,
}

impl Default for DrillOptions {
    fn default() -> Self {
        Self {
            target: None,
            scratch_parent: std::env::temp_dir(),
            keep: false,
            health_cmd: None,
            health_timeout: None,
            rto: None,
            threads: 4,
            started: None,
        }
    }
}

/// Runs a drill of snapshot `id`.
///
/// # Errors
/// Only when there is nowhere to restore to (the target is not empty or
/// cannot be made); everything after that is reported in the report.
pub fn drill(
    repo: &Repository,
    id: SnapshotId,
    snap: &Snapshot,
    opts: &DrillOptions,
    progress: &dyn Progress,
) -> Result<DrillReport> {
    // what the storage holds, not the local cache
    let repo = &repo.without_cache();
    let (t0, start_ns) = opts.started.unwrap_or_else(|| (Instant::now(), now_ns()));
    progress.phase("load");
    let (target, created) = prepare_target(opts, &id)?;
    let mut r = DrillReport::new(id, snap, target.clone(), start_ns);
    if let Some(e) = space_problem(&target, snap) {
        r.errors.push(e);
    } else {
        run_restore(repo, snap, &target, opts, t0, &mut r, progress);
    }
    let restored_ok = r.errors.is_empty();
    if let (Some(cmd), true) = (&opts.health_cmd, restored_ok) {
        progress.phase("health");
        let t = Instant::now();
        let env = [
            ("RDR_DRILL_TARGET", target.display().to_string()),
            ("RDR_DRILL_SNAPSHOT", id.to_hex()),
            ("RDR_DRILL_PATHS", snap.paths.join("\n")),
        ];
        match health::run(cmd, &target, &env, opts.health_timeout, progress) {
            Ok(h) => {
                r.errors.extend(h.failure());
                r.health = Some(h);
            }
            Err(e) => r.errors.push(e),
        }
        r.phases.health = t.elapsed().as_secs_f64();
    } else if opts.health_cmd.is_some() {
        r.warnings
            .push("the health command did not run: the restore failed".into());
    }
    let total = t0.elapsed();
    r.total = total.as_secs_f64();
    r.end = now_ns();
    if let Some(rto) = opts.rto {
        r.rto = Some(rto.as_secs_f64());
        if total > rto {
            r.errors.push(format!(
                "the recovery took {}, longer than the RTO of {}",
                format_duration(total),
                format_duration(rto)
            ));
        }
    }
    if progress.is_cancelled() {
        r.errors.push("the drill was interrupted".into());
    }
    if opts.keep {
        r.kept = true;
    } else if let Err(e) = remove_restored(&target, created) {
        r.warnings.push(format!(
            "the scratch directory {} could not be removed: {e}",
            target.display()
        ));
        r.kept = true;
    }
    Ok(r)
}

/// Restores and verifies, filling in the load, fetch, decrypt, write and
/// verify phases.
fn run_restore(
    repo: &Repository,
    snap: &Snapshot,
    target: &Path,
    opts: &DrillOptions,
    t0: Instant,
    r: &mut DrillReport,
    progress: &dyn Progress,
) {
    let mut ro = RestoreOptions::new(target);
    ro.verify = true;
    ro.threads = opts.threads;
    let before = t0.elapsed();
    progress.phase("restore");
    match restore(repo, snap, "", &ro, progress) {
        Ok(rep) => {
            r.phases = phases(before, &rep);
            r.worker = [rep.timings.fetch, rep.timings.decrypt, rep.timings.write]
                .map(|d| d.as_secs_f64());
            r.files = rep.files;
            r.dirs = rep.dirs;
            r.links = rep.links;
            r.others = rep.others;
            r.bytes = rep.bytes_written + rep.bytes_skipped;
            r.files_verified = rep.files_verified;
            // messages name snapshot paths, not the scratch copy that is removed
            let shown = target.display().to_string();
            let strip = |m: String| m.replace(&shown, "");
            r.errors.extend(rep.errors.into_iter().map(strip));
            r.warnings.extend(rep.warnings.into_iter().map(strip));
        }
        Err(e) => {
            r.phases.load = t0.elapsed().as_secs_f64();
            r.errors.push(format!("restore: {e}"));
        }
    }
}

/// The drill's phases from a restore: the data phase's wall time is shared
/// among fetch, decrypt and write by the workers' time in each.
fn phases(before_restore: Duration, rep: &RestoreReport) -> DrillPhases {
    let t = &rep.timings;
    let busy = (t.fetch + t.decrypt + t.write).as_secs_f64();
    let data = t.data.as_secs_f64();
    let share = |d: Duration| {
        if busy > 0.0 {
            data * d.as_secs_f64() / busy
        } else {
            0.0
        }
    };
    let write = if busy > 0.0 { share(t.write) } else { data };
    DrillPhases {
        load: (before_restore + t.prepare).as_secs_f64(),
        fetch: share(t.fetch),
        decrypt: share(t.decrypt),
        write: write + t.finish.as_secs_f64(),
        verify: t.verify.as_secs_f64(),
        health: 0.0,
    }
}

/// Makes the directory to restore into: the given target, which must be
/// missing or empty, or a fresh private directory under the scratch parent.
/// Also says whether the directory was made here (then it is removed
/// afterwards; otherwise only what is in it).
fn prepare_target(opts: &DrillOptions, id: &SnapshotId) -> Result<(PathBuf, bool)> {
    let io_err = |p: &Path, e: io::Error| Error::io(p.display(), e);
    if let Some(t) = &opts.target {
        let created = match std::fs::read_dir(t) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(Error::InvalidInput(format!(
                        "drill target {} is not empty: a drill restores into an empty \
                         directory and removes what it restored afterwards",
                        t.display()
                    )));
                }
                false
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(t)
                    .map_err(|e| io_err(t, e))?;
                true
            }
            Err(e) => return Err(io_err(t, e)),
        };
        let abs = std::path::absolute(t).map_err(|e| io_err(t, e))?;
        return Ok((abs, created));
    }
    let rnd: [u8; 6] = crate::crypto::rng::bytes();
    let name = format!(
        "rdr-drill-{}-{}",
        id.short(),
        rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let dir = opts.scratch_parent.join(name);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(|e| io_err(&dir, e))?;
    let abs = std::path::absolute(&dir).map_err(|e| io_err(&dir, e))?;
    Ok((abs, true))
}

/// An error when the target's file system has less free space than the
/// snapshot's logical size.
fn space_problem(target: &Path, snap: &Snapshot) -> Option<String> {
    let need = snap.summary.bytes_total;
    let st = nix::sys::statvfs::statvfs(target).ok()?;
    // (the field types differ between platforms)
    #[allow(clippy::useless_conversion)]
    let free = u64::from(st.blocks_available()).saturating_mul(u64::from(st.fragment_size()));
    (free < need).then(|| {
        format!(
            "{} has {free} bytes free but the snapshot holds {need} bytes: choose a larger \
             file system with --target",
            target.display()
        )
    })
}

/// Removes what a drill restored: the whole directory when the drill made
/// it, else its contents.
fn remove_restored(target: &Path, created: bool) -> io::Result<()> {
    if created {
        return remove_tree(target);
    }
    for e in std::fs::read_dir(target)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            remove_tree(&e.path())?;
        } else {
            std::fs::remove_file(e.path())?;
        }
    }
    Ok(())
}

/// Removes a restored tree, also when it holds read-only directories.
fn remove_tree(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            make_writable(path);
            std::fs::remove_dir_all(path)
        }
    }
}

fn make_writable(dir: &Path) {
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                make_writable(&e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_read_only_trees() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t");
        std::fs::create_dir_all(t.join("a/b")).unwrap();
        std::fs::write(t.join("a/b/f"), "x").unwrap();
        for d in ["a/b", "a"] {
            std::fs::set_permissions(t.join(d), std::fs::Permissions::from_mode(0o500)).unwrap();
        }
        remove_tree(&t).unwrap();
        assert!(!t.exists());
        remove_tree(&t).unwrap();
    }

    #[test]
    fn a_target_must_be_empty() {
        let dir = tempfile::tempdir().unwrap();
        let opts = DrillOptions {
            target: Some(dir.path().to_path_buf()),
            ..DrillOptions::default()
        };
        let id = SnapshotId::default();
        assert_eq!(
            prepare_target(&opts, &id).unwrap(),
            (dir.path().to_path_buf(), false)
        );
        std::fs::write(dir.path().join("x"), "").unwrap();
        let e = prepare_target(&opts, &id).unwrap_err().to_string();
        assert!(e.contains("not empty"), "{e}");
        let fresh = DrillOptions {
            scratch_parent: dir.path().to_path_buf(),
            ..DrillOptions::default()
        };
        let (a, made) = prepare_target(&fresh, &id).unwrap();
        assert!(made);
        let (b, _) = prepare_target(&fresh, &id).unwrap();
        assert_ne!(a, b);
        assert_eq!(
            std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}
