//! `prune`: reclaim the space of data no snapshot uses, without ever
//! deleting what a snapshot (or a backup still running) needs.
//!
//! One run, under the exclusive lock:
//! 1. list the snapshots, load the index, list the packs in storage (in
//!    that order), mark the blobs the snapshots use (a bit per blob);
//! 2. decide each pack's fate (`plan`): keep; repack (copy its used blobs
//!    to new packs, then mark it); mark (no used blob); delete (marked by an
//!    earlier prune at least the grace period ago, and still holding no blob
//!    a snapshot needs); revive (marked, but a snapshot now uses a blob only
//!    it holds: a backup that was running reused it);
//! 3. write the new packs, then the compacted index, whose last file
//!    supersedes every index file read in step 1;
//! 4. only then delete the packs due for deletion, then the old index files.
//!
//! A crash at any point leaves every snapshot readable: nothing is deleted
//! before the index that no longer needs it is durable, and the marks of
//! packs being deleted stay in the new index so that the next prune
//! finishes the job. docs/architecture.md gives the argument why no
//! interleaving with backups loses a referenced blob.

mod plan;
mod rewrite;

use std::time::Duration;

use rayon::prelude::*;

pub use plan::Tally;

use crate::error::{Error, Result};
use crate::id::PackId;
use crate::kind::FileType;
use crate::ops::progress::Progress;
use crate::ops::usage::mark_used;
use crate::repo::{LockGuard, LockKind, Repository};

/// How much unused data may stay in packs that are kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxUnused {
    /// Percent of the repository's used size (restic's rule).
    Percent(f64),
    /// Absolute bytes.
    Bytes(u64),
    /// No repacking.
    Unlimited,
}

impl MaxUnused {
    /// Parses `unlimited`, a percentage (`5%`, 0 <= P < 100) or a size
    /// (`100MiB`), as `prune --max-unused` takes it.
    ///
    /// # Errors
    /// A message naming the text when it is none of those.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("unlimited") {
            return Ok(Self::Unlimited);
        }
        if let Some(p) = t.strip_suffix('%') {
            let p: f64 = p
                .trim()
                .parse()
                .map_err(|_| format!("max-unused {s:?}: not a percentage"))?;
            if !(0.0..100.0).contains(&p) {
                return Err(format!("max-unused {s:?}: must be between 0% and 100%"));
            }
            return Ok(Self::Percent(p));
        }
        crate::units::parse_size(t).map(Self::Bytes)
    }
}

/// Prune settings.
#[derive(Debug, Clone)]
pub struct PruneOptions {
    /// Unused data tolerated in kept packs (default 5%).
    pub max_unused: MaxUnused,
    /// At most this many used bytes are copied by repacking.
    pub max_repack_bytes: Option<u64>,
    /// How long a marked pack waits before deletion (default 24 h; must be
    /// longer than any backup).
    pub grace: Duration,
    /// Delete unused packs now instead of marking them: only for a
    /// repository with no other writer.
    pub instant_delete: bool,
    /// Decide and report, change nothing.
    pub dry_run: bool,
}

impl PruneOptions {
    /// Takes the lock this prune needs, after checking that the repository
    /// and the storage allow deletion (so a refusal changes nothing):
    /// shared for a dry run (it only reads); with `instant_delete`, one
    /// that excludes backups; otherwise one that excludes backups when no
    /// backup runs now (the prune then deletes in this run, and a backup
    /// that starts meanwhile waits for it), else one that lets backups run
    /// (unused packs are marked and deleted once the grace period is over).
    ///
    /// # Errors
    /// [`Error::Locked`], [`Error::AppendOnly`], or the storage's refusal.
    pub fn lock(&self, repo: &Repository, holder: &crate::repo::LockHolder) -> Result<LockGuard> {
        if self.dry_run {
            return repo.lock(LockKind::Shared, holder);
        }
        if self.instant_delete {
            return repo.lock_to_delete(LockKind::ExclusiveWithBackups, holder, "prune");
        }
        let at_once = repo.clone().with_lock_retry(Duration::ZERO);
        match at_once.lock_to_delete(LockKind::ExclusiveWithBackups, holder, "prune") {
            Err(Error::Locked { .. }) => repo.lock_to_delete(LockKind::Exclusive, holder, "prune"),
            other => other,
        }
    }
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self {
            max_unused: MaxUnused::Percent(5.0),
            max_repack_bytes: None,
            grace: Duration::from_secs(24 * 3600),
            instant_delete: false,
            dry_run: false,
        }
    }
}

/// What a prune found and did.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    /// Snapshots whose trees were walked.
    pub snapshots: usize,
    /// Blobs in the index.
    pub blobs: usize,
    /// Blobs a snapshot uses.
    pub blobs_used: usize,
    /// Packs in storage and their bytes, before.
    pub size_before: Tally,
    /// Packs deleted (marked earlier, grace over; or instantly).
    pub deleted: Tally,
    /// Packs marked for deletion by a later prune.
    pub marked: Tally,
    /// Marked packs still in their grace period.
    pub waiting: Tally,
    /// Marked packs a snapshot needs again (unmarked).
    pub revived: Tally,
    /// Packs repacked (their used blobs copied; the pack marked, or deleted
    /// in this run with `instant_delete`).
    pub repacked: Tally,
    /// Used bytes copied by repacking.
    pub repack_copied_bytes: u64,
    /// New packs written.
    pub written: Tally,
    /// Used bytes (sealed blobs) in the repository.
    pub used_bytes: u64,
    /// Unused bytes left in kept packs.
    pub unused_after: u64,
    /// Bytes in storage after this run.
    pub size_after: u64,
    /// Stale temporary files removed from the storage's staging area.
    pub tmp_removed: usize,
    /// Bytes in storage once every mark is acted on.
    pub size_final: u64,
    /// Index files written and removed.
    pub index_files_written: usize,
    /// Index files removed.
    pub index_files_removed: usize,
    /// Whether this was a dry run (nothing written or deleted).
    pub dry_run: bool,
}

/// Runs a prune under `lock` (an exclusive lock the caller holds; with
/// `instant_delete`, one of kind [`LockKind::ExclusiveWithBackups`], as a
/// running backup may be about to reference what would be deleted).
///
/// # Errors
/// [`Error::InvalidInput`] for an instant deletion under a lock that lets
/// backups run.
/// [`Error::Corrupt`] / [`Error::NotFound`] when a snapshot's tree or blob
/// is missing or damaged (nothing is changed: run `check`, then `repair`);
/// storage errors. Any error leaves the repository consistent.
pub fn prune(
    repo: &Repository,
    opts: &PruneOptions,
    progress: &dyn Progress,
    lock: &LockGuard,
) -> Result<PruneReport> {
    // under a lock that excludes backups, nothing can start referencing
    // what is unused now: delete it in this run, grace period or not
    let upgraded;
    let opts = if !opts.dry_run && lock.kind() == LockKind::ExclusiveWithBackups {
        upgraded = PruneOptions {
            instant_delete: true,
            ..opts.clone()
        };
        &upgraded
    } else {
        opts
    };
    if opts.instant_delete && !opts.dry_run && lock.kind() != LockKind::ExclusiveWithBackups {
        return Err(Error::InvalidInput(
            "an instant deletion needs a lock that excludes backups (LockKind::ExclusiveWithBackups)"
                .into(),
        ));
    }
    if !opts.dry_run {
        // storage that refuses deletion is found before anything is written
        lock.ensure_deletable("prune")?;
    }
    let now = crate::time::now_ns() / 1_000_000_000;
    // Snapshots first, then the index: a backup writes its index before its
    // snapshot, so every blob a listed snapshot uses is in this index.
    let snapshots = repo.snapshots()?;
    let index = repo.reload_index()?;
    let stored = repo.pack_sizes()?;
    let usage = mark_used(repo, &index, &snapshots, true)?;
    let packs = plan::pack_use(&index, &usage.used);
    let plan = plan::plan(&index, &packs, &stored, opts, now);
    if let Some(p) = plan.missing_used.first() {
        return Err(Error::PacksMissing {
            first: *p,
            count: plan.missing_used.len(),
        });
    }
    let mut report = PruneReport {
        snapshots: snapshots.len(),
        blobs: index.len(),
        blobs_used: usage.used_count,
        size_before: Tally {
            packs: stored.len() as u64,
            bytes: plan.size_before,
        },
        deleted: plan.deleted,
        marked: plan.marked,
        waiting: plan.waiting,
        revived: plan.revived,
        repacked: plan.repacked,
        repack_copied_bytes: plan.repack_used_bytes,
        used_bytes: plan.used_bytes,
        unused_after: plan.unused_after,
        dry_run: opts.dry_run,
        ..PruneReport::default()
    };
    report.size_after = size_after(&plan, plan.repack_used_bytes);
    report.size_final = final_size(report.size_after, &plan);
    if opts.dry_run {
        return Ok(report);
    }
    progress.total(plan.repack.len() as u64, plan.repack_used_bytes);
    let new_packs = rewrite::repack(repo, &index, &usage.used, &plan, progress)?;
    report.written = Tally {
        packs: new_packs.len() as u64,
        bytes: new_packs
            .iter()
            .map(|p| p.blobs.iter().map(|b| u64::from(b.length)).sum::<u64>())
            .sum(),
    };
    let written = rewrite::write_index(repo, &index, &plan, new_packs)?;
    report.index_files_written = written.len();
    // The new index is durable: now the deletions.
    let doomed: Vec<PackId> = plan
        .fates
        .iter()
        .filter(|(_, f)| plan.deletes(**f))
        .map(|(id, _)| *id)
        .collect();
    doomed
        .par_iter()
        .try_for_each(|id| repo.remove_file(FileType::Pack, &id.0))?;
    for id in index.files() {
        repo.remove_file(FileType::Index, &id.0)?;
        report.index_files_removed += 1;
    }
    report.size_after = size_after(&plan, report.written.bytes);
    report.size_final = final_size(report.size_after, &plan);
    report.tmp_removed = clear_stale_tmp(repo)?;
    // (writing the index cleared this handle's cached index)
    Ok(report)
}

/// How long a temporary file must sit unmodified before prune removes it.
const TMP_STALE_AFTER: Duration = Duration::from_secs(3600);

/// Removes what killed writers left in the storage's staging area: files
/// untouched for an hour, and only while no live backup holds a lock (a
/// backup reading a slow source may hold a staged pack open for longer).
fn clear_stale_tmp(repo: &Repository) -> Result<usize> {
    let now = crate::time::now_ns() / 1_000_000_000;
    let holder = crate::repo::LockHolder::current();
    let backup_running = repo.locks()?.into_iter().any(|(_, info)| {
        info.is_ok_and(|i| i.backup && !crate::repo::is_stale(&i, &holder.host, now))
    });
    if backup_running {
        return Ok(0);
    }
    Ok(repo.backend().remove_stale_tmp(TMP_STALE_AFTER)?)
}

/// Bytes in storage once this run is done, given the bytes it writes.
fn size_after(plan: &plan::Plan, written: u64) -> u64 {
    let repacked_deleted = if plan.instant { plan.repacked.bytes } else { 0 };
    plan.size_before
        .saturating_sub(plan.deleted.bytes)
        .saturating_sub(repacked_deleted)
        + written
}

/// Bytes in storage once every mark is acted on.
fn final_size(after: u64, plan: &plan::Plan) -> u64 {
    let repacked_marked = if plan.instant { 0 } else { plan.repacked.bytes };
    after
        .saturating_sub(plan.marked.bytes)
        .saturating_sub(plan.waiting.bytes)
        .saturating_sub(repacked_marked)
}
