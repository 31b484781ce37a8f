//! `forget`: remove snapshots, by id or by a retention [`Policy`] applied
//! per group. Only snapshot files are removed; `prune` reclaims the data.

use jiff::tz::TimeZone;

use super::policy::{Policy, PolicyInput, apply};
use super::select::{GroupBy, GroupKey, SnapshotFilter, list_snapshots};
use crate::error::{Error, Result};
use crate::format::snapshot::Snapshot;
use crate::id::SnapshotId;
use crate::repo::{LockGuard, Repository};

pub use super::report_json::removed_json;

/// How `forget` applies a policy.
#[derive(Debug, Clone)]
pub struct ForgetOptions {
    /// The retention policy (must not be empty).
    pub policy: Policy,
    /// Groups the policy applies to separately.
    pub group_by: GroupBy,
    /// Only snapshots passing this filter are considered.
    pub filter: SnapshotFilter,
    /// Zone of the time buckets.
    pub time_zone: TimeZone,
    /// The current time, ns since the Unix epoch: snapshots dated at or after
    /// it (a host whose clock runs ahead) are never the reference of the
    /// `within` rules.
    pub now: i64,
    /// Decide and report, remove nothing.
    pub dry_run: bool,
    /// Allow a policy to remove every snapshot of a group.
    pub allow_empty: bool,
}

/// One snapshot's fate.
#[derive(Debug, Clone)]
pub struct ForgetEntry {
    /// Snapshot id.
    pub id: SnapshotId,
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Why it is kept (empty when removed).
    pub reasons: Vec<String>,
}

/// The verdicts of one group, oldest first.
#[derive(Debug, Clone)]
pub struct ForgetGroup {
    /// The group.
    pub key: GroupKey,
    /// Kept snapshots.
    pub keep: Vec<ForgetEntry>,
    /// Removed snapshots.
    pub remove: Vec<ForgetEntry>,
}

/// What `forget` did (or would do, in a dry run).
#[derive(Debug, Clone, Default)]
pub struct ForgetReport {
    /// Per group.
    pub groups: Vec<ForgetGroup>,
    /// Snapshots removed (0 in a dry run).
    pub removed: usize,
    /// Whether this was a dry run (nothing removed).
    pub dry_run: bool,
}

/// Applies a policy. Every group is decided before anything is removed, so
/// a refused group leaves the repository untouched.
///
/// # Errors
/// [`Error::InvalidInput`] for an empty policy, or when the policy would
/// remove a whole group without `allow_empty`; storage errors.
pub fn forget(repo: &Repository, opts: &ForgetOptions, lock: &LockGuard) -> Result<ForgetReport> {
    if opts.policy.is_empty() {
        return Err(Error::InvalidInput("no retention policy given".into()));
    }
    let snaps = list_snapshots(repo, &opts.filter)?;
    let mut report = ForgetReport {
        dry_run: opts.dry_run,
        ..ForgetReport::default()
    };
    for (key, members) in opts.group_by.group(snaps) {
        let inputs: Vec<PolicyInput> = members
            .iter()
            .map(|(_, s)| PolicyInput {
                time: s.time,
                tags: s.tags.clone(),
            })
            .collect();
        let verdicts = apply(&inputs, &opts.policy, &opts.time_zone, opts.now);
        let mut group = ForgetGroup {
            key,
            keep: Vec::new(),
            remove: Vec::new(),
        };
        for ((id, snapshot), v) in members.into_iter().zip(verdicts) {
            let e = ForgetEntry {
                id,
                snapshot,
                reasons: v.reasons,
            };
            if v.keep {
                group.keep.push(e);
            } else {
                group.remove.push(e);
            }
        }
        if group.keep.is_empty() && !opts.allow_empty {
            return Err(Error::WouldEmptyGroup {
                group: describe(&group.key),
                snapshots: group.remove.len(),
            });
        }
        report.groups.push(group);
    }
    if !opts.dry_run && report.groups.iter().any(|g| !g.remove.is_empty()) {
        lock.ensure_deletable("forget")?;
        for g in &report.groups {
            for e in &g.remove {
                repo.remove_snapshot(&e.id)?;
                report.removed += 1;
            }
        }
    }
    Ok(report)
}

fn describe(key: &GroupKey) -> String {
    let s = key.to_string();
    if s.is_empty() { "(all)".into() } else { s }
}

/// Removes the named snapshots (all are loaded first, so an unknown id
/// removes nothing). Returns them.
///
/// # Errors
/// [`Error::NotFound`] for an unknown id; storage errors.
pub fn forget_ids(
    repo: &Repository,
    ids: &[SnapshotId],
    dry_run: bool,
    lock: &LockGuard,
) -> Result<Vec<(SnapshotId, Snapshot)>> {
    let snaps = ids
        .iter()
        .map(|id| Ok((*id, repo.load_snapshot(id)?)))
        .collect::<Result<Vec<_>>>()?;
    if !dry_run {
        lock.ensure_deletable("forget")?;
        for (id, _) in &snaps {
            repo.remove_snapshot(id)?;
        }
    }
    Ok(snaps)
}
