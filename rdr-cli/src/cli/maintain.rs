//! Arguments of the maintenance and recovery-proof commands: forget,
//! prune, check, repair, rewrite, drill, status.

use std::path::PathBuf;

use clap::Subcommand;

use super::FilterArgs;

/// Options of `rdr prune` (also used by `forget --prune`).
#[derive(Debug, Clone, clap::Args)]
pub struct PruneOpts {
    /// Unused data tolerated in kept packs: a percentage of the used size,
    /// a size (e.g. 100MiB), or "unlimited" (no repacking).
    #[arg(long, default_value = "5%", value_name = "LIMIT")]
    pub max_unused: String,
    /// Copy at most this much data when repacking (e.g. 2GiB).
    #[arg(long, value_name = "SIZE")]
    pub max_repack_size: Option<String>,
    /// How long packs marked for deletion wait before a later prune deletes
    /// them; must exceed the longest backup (e.g. 24h, 2d).
    #[arg(long, default_value = "24h", value_name = "DURATION")]
    pub grace: String,
    /// Delete unused data now instead of marking it. Only safe when nothing
    /// else writes to the repository (no backup is running).
    #[arg(long)]
    pub instant_delete: bool,
}

/// Arguments of `rdr prune`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "When no backup is running, prune deletes what no snapshot uses in the same run
(a backup that starts meanwhile waits for it). While a backup runs, prune marks
those packs instead and a later prune deletes them once the grace period is
over, so the running backup never loses data.
Partly used packs are repacked when their unused data exceeds --max-unused."
)]
pub struct PruneArgs {
    #[command(flatten)]
    pub prune: PruneOpts,
    /// Show what would be deleted and repacked; change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}

/// Arguments of `rdr forget`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Policies apply per group (--group-by, default host,paths), as in restic.
Counts take a number or \"unlimited\"; durations are like 7d, 24h, 1y6m (y, m, d, h)
and are measured from the newest snapshot of the group dated before now: snapshots
dated in the future (a host whose clock runs ahead) are kept but never the reference.
Time buckets use the local time zone of this machine (TZ, else /etc/localtime).
docs/retention.md has the rules and how they match restic's."
)]
pub struct ForgetArgs {
    /// Snapshots to remove (instead of a policy).
    pub snapshots: Vec<String>,
    /// Keep the newest N snapshots.
    #[arg(long, value_name = "N")]
    pub keep_last: Option<String>,
    /// Keep the newest snapshot of each of the last N hours.
    #[arg(long, value_name = "N")]
    pub keep_hourly: Option<String>,
    /// … of each of the last N days.
    #[arg(long, value_name = "N")]
    pub keep_daily: Option<String>,
    /// … of each of the last N ISO weeks.
    #[arg(long, value_name = "N")]
    pub keep_weekly: Option<String>,
    /// … of each of the last N months.
    #[arg(long, value_name = "N")]
    pub keep_monthly: Option<String>,
    /// … of each of the last N years.
    #[arg(long, value_name = "N")]
    pub keep_yearly: Option<String>,
    /// Keep every snapshot within DURATION of the newest.
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// Keep the newest snapshot of each hour within DURATION of the newest.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_hourly: Option<String>,
    /// … of each day within DURATION.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_daily: Option<String>,
    /// … of each week within DURATION.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_weekly: Option<String>,
    /// … of each month within DURATION.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_monthly: Option<String>,
    /// … of each year within DURATION.
    #[arg(long, value_name = "DURATION")]
    pub keep_within_yearly: Option<String>,
    /// Keep snapshots with these tags (comma-separated: all of them; repeatable: any).
    #[arg(long, value_name = "TAG[,TAG...]")]
    pub keep_tag: Vec<String>,
    /// Group snapshots by these fields before applying the policy.
    #[arg(long, default_value = "host,paths", value_name = "host,paths,tags")]
    pub group_by: String,
    /// Allow the policy to remove every snapshot of a group.
    #[arg(long)]
    pub allow_empty: bool,
    /// Show what would be removed; change nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Run prune afterwards, under the same lock.
    #[arg(long)]
    pub prune: bool,
    #[command(flatten)]
    pub prune_opts: PruneOpts,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Arguments of `rdr check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Also read every pack and verify every blob.
    #[arg(long)]
    pub read_data: bool,
    /// Read only part of the data: N/M (run 1/M … M/M to cover everything)
    /// or a percentage such as 10%.
    #[arg(long, value_name = "N/M|P%", conflicts_with = "read_data")]
    pub read_data_subset: Option<String>,
}

/// Parses a positive duration such as `15m`, `24h`, `7d`.
pub(crate) fn duration(s: &str) -> Result<std::time::Duration, String> {
    match rdr_core::time::parse_duration(s)? {
        d if d.is_zero() => Err(format!("{s:?}: the duration must be positive")),
        d => Ok(d),
    }
}

/// Arguments of `rdr drill`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  rdr drill latest --rto 15m --report drill.json
  rdr drill --host db1 --health-cmd ./check-restored-db.sh --health-timeout 30m

The health command runs with `sh -c` in the restored directory, with
RDR_DRILL_TARGET (that directory), RDR_DRILL_SNAPSHOT (the snapshot id) and
RDR_DRILL_PATHS (the snapshot's paths, one per line) set; exit status 0 means
healthy. The clock starts when the command starts (opening the repository
counts), so the total is the recovery time achieved. The outcome is stored in
the repository for `rdr status`.

Exit codes: 0 the drill passed; 5 it failed (each reason is printed and in the
report); 1 it could not start.")]
pub struct DrillArgs {
    /// Snapshot id, unique prefix or `latest`.
    #[arg(value_name = "SNAPSHOT", default_value = "latest")]
    pub snapshot: String,
    /// Restore into this directory (must be missing or empty) instead of
    /// a fresh one under --scratch-dir.
    #[arg(short = 't', long, value_name = "DIR")]
    pub target: Option<PathBuf>,
    /// Where scratch directories are made [default: $TMPDIR or /tmp].
    #[arg(long, value_name = "DIR", conflicts_with = "target")]
    pub scratch_dir: Option<PathBuf>,
    /// Keep the restored data afterwards.
    #[arg(long)]
    pub keep: bool,
    /// Shell command that checks the restored data (exit 0 = healthy).
    #[arg(long, value_name = "CMD")]
    pub health_cmd: Option<String>,
    /// Stop the health command (and what it started) after this long.
    #[arg(long, value_name = "DURATION", value_parser = duration, requires = "health_cmd")]
    pub health_timeout: Option<std::time::Duration>,
    /// Fail the drill when it takes longer than this (e.g. 15m, 2h).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub rto: Option<std::time::Duration>,
    /// Write the JSON report (docs/drill-report.md) to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

fn rpo_rule(s: &str) -> Result<rdr_core::ops::status::RpoRule, String> {
    rdr_core::ops::status::RpoRule::parse(s)
}

/// Arguments of `rdr status`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example (cron, every 5 minutes):
  rdr status --rpo 24h --drill-max-age 8d --prometheus /var/lib/node_exporter/rdr.prom
  rdr status --rpo host=db1,paths=/appdb.sql:15m --rpo 24h

Drills count per group: a group is drilled when one of its own snapshots
was; drilling another group's snapshot never makes it look drilled.

Exit codes: 0 healthy; 6 a group is older than the RPO, or the last check or
drill failed, or one is older than its limit (each problem is printed);
1 the repository could not be read.")]
pub struct StatusArgs {
    /// Recovery point objective: a group whose newest snapshot is older is
    /// stale. Repeatable; `host=db1,paths=/appdb.sql:15m` holds only the
    /// groups it selects (keys host, paths, tags) to its own RPO, the first
    /// match wins, and a bare duration is for the others.
    #[arg(long, value_name = "[SELECTOR:]DURATION", value_parser = rpo_rule)]
    pub rpo: Vec<rdr_core::ops::status::RpoRule>,
    /// A problem when no check has passed within this long.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub check_max_age: Option<std::time::Duration>,
    /// A problem when no drill has passed within this long.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub drill_max_age: Option<std::time::Duration>,
    /// Group snapshots by these fields.
    #[arg(
        long,
        value_name = "host,paths,tags",
        default_value = "host,paths,tags"
    )]
    pub group_by: String,
    /// Also write node_exporter textfile metrics to FILE (atomically).
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// `rdr repair` subcommands.
#[derive(Debug, Subcommand)]
pub enum RepairCommand {
    /// Rebuild the index from the packs in storage: whole packs are indexed
    /// from their headers; the readable blobs of damaged packs are copied
    /// into new packs and the damaged packs removed.
    Index(RepairIndexArgs),
    /// Write repaired copies of snapshots that use lost blobs (files cut
    /// before the first lost blob, lost directories empty; tagged
    /// `repaired`), after `repair index`.
    Snapshots(RepairSnapshotsArgs),
}

/// Arguments of `rdr repair snapshots`.
#[derive(Debug, clap::Args)]
pub struct RepairSnapshotsArgs {
    /// Snapshots to repair (default: all that need it).
    #[arg(value_name = "SNAPSHOT")]
    pub ids: Vec<String>,
    /// Remove each original once its repaired copy is saved, and snapshot
    /// files that do not decode at all.
    #[arg(long)]
    pub forget: bool,
    /// Report what would be done; change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

/// Arguments of `rdr repair index`.
#[derive(Debug, clap::Args)]
pub struct RepairIndexArgs {
    /// Read every pack and verify every blob (finds damage inside packs).
    #[arg(long)]
    pub read_data: bool,
    /// Report what would be done; change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

/// Arguments of `rdr rewrite`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  rdr rewrite --exclude /srv/app/.env --forget        drop a file from every snapshot
  rdr rewrite latest --host db1 --exclude '*.key' -n  show what would be dropped
To purge the data from storage, rewrite every snapshot that holds it with --forget, then run `rdr prune`.")]
pub struct RewriteArgs {
    /// Snapshots to rewrite (default: all that pass the filters).
    #[arg(value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
    /// Paths to drop.
    #[command(flatten)]
    pub excludes: super::ExcludeArgs,
    /// Record this host name in the rewritten snapshots.
    #[arg(long, value_name = "HOST")]
    pub new_host: Option<String>,
    /// Record this time in the rewritten snapshots (UTC, YYYY-MM-DD HH:MM:SS).
    #[arg(long, value_name = "TIME")]
    pub new_time: Option<String>,
    /// Remove each original once its rewritten copy is saved.
    #[arg(long)]
    pub forget: bool,
    /// Report what would be dropped; change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
}
