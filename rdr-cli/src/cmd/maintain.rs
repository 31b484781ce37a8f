//! `rdr forget`, `rdr prune` and `rdr check`: retention and maintenance.

use anyhow::{Result, bail};
use rdr_core::jiff::tz::TimeZone;
use rdr_core::ops::check::{CheckOptions, ReadData, check};
use rdr_core::ops::forget::{ForgetOptions, forget, forget_ids, removed_json};
use rdr_core::ops::policy::{KeepCount, KeepDuration, Policy};
use rdr_core::ops::prune::{MaxUnused, PruneOptions, PruneReport, Tally, prune};
use rdr_core::ops::select::GroupBy;
use rdr_core::time::{now_ns, rfc3339_ns};
use rdr_core::{LockHolder, LockKind, SnapshotId};

use super::{counted, filter, human_bytes, open, parse_size, tag_sets};
use crate::cli::{Args, CheckArgs, ForgetArgs, PruneArgs, PruneOpts};
use crate::exit;
use crate::progress::{Mode, Reporter};

fn count(v: Option<&String>) -> Result<KeepCount> {
    v.map_or(Ok(KeepCount::None), |s| {
        KeepCount::parse(s).map_err(anyhow::Error::msg)
    })
}

fn duration(v: Option<&String>) -> Result<Option<KeepDuration>> {
    v.map(|s| KeepDuration::parse(s).map_err(anyhow::Error::msg))
        .transpose()
}

fn policy(a: &ForgetArgs) -> Result<Policy> {
    Ok(Policy {
        last: count(a.keep_last.as_ref())?,
        hourly: count(a.keep_hourly.as_ref())?,
        daily: count(a.keep_daily.as_ref())?,
        weekly: count(a.keep_weekly.as_ref())?,
        monthly: count(a.keep_monthly.as_ref())?,
        yearly: count(a.keep_yearly.as_ref())?,
        within: duration(a.keep_within.as_ref())?,
        within_hourly: duration(a.keep_within_hourly.as_ref())?,
        within_daily: duration(a.keep_within_daily.as_ref())?,
        within_weekly: duration(a.keep_within_weekly.as_ref())?,
        within_monthly: duration(a.keep_within_monthly.as_ref())?,
        within_yearly: duration(a.keep_within_yearly.as_ref())?,
        tags: tag_sets(&a.keep_tag),
    })
}

fn prune_options(o: &PruneOpts, dry_run: bool) -> Result<PruneOptions> {
    let max_unused = MaxUnused::parse(&o.max_unused).map_err(|e| anyhow::anyhow!("--{e}"))?;
    Ok(PruneOptions {
        max_unused,
        max_repack_bytes: o.max_repack_size.as_deref().map(parse_size).transpose()?,
        grace: rdr_core::time::parse_duration(&o.grace)
            .map_err(|e| anyhow::anyhow!("--grace: {e}"))?,
        instant_delete: o.instant_delete,
        dry_run,
    })
}

/// `rdr forget`.
pub fn forget_cmd(args: &Args, a: &ForgetArgs) -> Result<i32> {
    let repo = open(args)?;
    let p = policy(a)?;
    if a.snapshots.is_empty() && p.is_empty() {
        bail!("nothing to forget: give snapshot ids or a policy (--keep-last, --keep-daily, …)");
    }
    if !a.snapshots.is_empty() && !p.is_empty() {
        bail!("give either snapshot ids or a policy, not both");
    }
    // checked before anything is removed
    let prune_opts = a
        .prune
        .then(|| prune_options(&a.prune_opts, false))
        .transpose()?
        .filter(|_| !a.dry_run);
    if a.prune && a.dry_run && !args.output.json {
        eprintln!("--prune is skipped in a dry run (no snapshot is removed)");
    }
    // a dry run removes nothing: a shared lock lets it run beside backups
    let lock = if a.dry_run {
        repo.lock(LockKind::Shared, &LockHolder::current())?
    } else if let Some(o) = &prune_opts {
        o.lock(&repo, &LockHolder::current())?
    } else {
        repo.lock_to_delete(LockKind::Exclusive, &LockHolder::current(), "forget")?
    };
    let json = args.output.json;
    let removed;
    if a.snapshots.is_empty() {
        let opts = ForgetOptions {
            policy: p,
            group_by: GroupBy::parse(&a.group_by)?,
            filter: filter(&a.filter),
            time_zone: TimeZone::system(),
            now: now_ns(),
            dry_run: a.dry_run,
            allow_empty: a.allow_empty,
        };
        let report = forget(&repo, &opts, &lock)?;
        removed = report.groups.iter().map(|g| g.remove.len()).sum::<usize>();
        if json {
            println!("{}", report.to_json());
        } else {
            for g in &report.groups {
                let key = g.key.to_string();
                if !key.is_empty() {
                    println!("{key}");
                }
                println!("keep {}:", counted(g.keep.len(), "snapshot"));
                for e in &g.keep {
                    println!(
                        "  {}  {}  {}",
                        e.id.short(),
                        rfc3339_ns(e.snapshot.time),
                        e.reasons.join(", ")
                    );
                }
                println!("remove {}:", counted(g.remove.len(), "snapshot"));
                for e in &g.remove {
                    println!("  {}  {}", e.id.short(), rfc3339_ns(e.snapshot.time));
                }
                println!();
            }
        }
    } else {
        let ids = a
            .snapshots
            .iter()
            .map(|r| Ok(SnapshotId(repo.find_id(rdr_core::FileType::Snapshot, r)?)))
            .collect::<Result<Vec<_>>>()?;
        let gone = forget_ids(&repo, &ids, a.dry_run, &lock)?;
        removed = gone.len();
        if json {
            println!("{}", removed_json(&gone, a.dry_run));
        } else {
            for (id, s) in &gone {
                println!("removed {}  {}", id.short(), rfc3339_ns(s.time));
            }
        }
    }
    if !json && !super::quiet() {
        let verb = if a.dry_run { "would remove" } else { "removed" };
        eprintln!("{verb} {}", counted(removed, "snapshot"));
    }
    if let Some(opts) = prune_opts {
        let progress = Reporter::new(Mode::from(args.output), "prune");
        let report = prune(&repo, &opts, &progress, &lock)?;
        progress.finish();
        print_prune(&report, json);
    }
    Ok(0)
}

/// `rdr prune`.
pub fn prune_cmd(args: &Args, a: &PruneArgs) -> Result<i32> {
    let repo = open(args)?;
    let opts = prune_options(&a.prune, a.dry_run)?;
    let lock = opts.lock(&repo, &LockHolder::current())?;
    let progress = Reporter::new(Mode::from(args.output), "prune");
    let report = prune(&repo, &opts, &progress, &lock)?;
    progress.finish();
    print_prune(&report, args.output.json);
    Ok(0)
}

fn print_prune(r: &PruneReport, json: bool) {
    if json {
        println!("{}", r.to_json());
        return;
    }
    if super::quiet() {
        return;
    }
    let t = |x: Tally| format!("{}, {}", counted(x.packs, "pack"), human_bytes(x.bytes));
    let would = if r.dry_run { "would be " } else { "" };
    println!(
        "repository: {} in use by {} ({} of {} used)",
        human_bytes(r.used_bytes),
        counted(r.snapshots, "snapshot"),
        r.blobs_used,
        counted(r.blobs, "blob")
    );
    println!("before:       {}", t(r.size_before));
    println!("{would}deleted:  {}", t(r.deleted));
    println!(
        "{would}repacked: {} ({} copied)",
        t(r.repacked),
        human_bytes(r.repack_copied_bytes)
    );
    println!(
        "{would}marked:   {} (deleted by a prune after the grace period)",
        t(r.marked)
    );
    println!(
        "waiting:      {} (marked earlier, grace period not over)",
        t(r.waiting)
    );
    if r.revived.packs > 0 {
        println!(
            "revived:      {} (a snapshot uses them again)",
            t(r.revived)
        );
    }
    if r.tmp_removed > 0 {
        println!(
            "removed {} stale temporary files (left by interrupted writes)",
            r.tmp_removed
        );
    }
    println!(
        "size after:   {}; once marked packs are deleted: {} ({} unused left)",
        human_bytes(r.size_after),
        human_bytes(r.size_final),
        human_bytes(r.unused_after)
    );
}

/// `rdr check`.
pub fn check_cmd(args: &Args, a: &CheckArgs) -> Result<i32> {
    let repo = open(args)?;
    let read_data = if a.read_data {
        Some(ReadData::All)
    } else if let Some(s) = &a.read_data_subset {
        Some(parse_subset(s)?)
    } else {
        None
    };
    let lock = repo.lock(LockKind::Shared, &LockHolder::current())?;
    let progress = Reporter::new(Mode::from(args.output), "check");
    let opts = CheckOptions { read_data };
    let report = check(&repo, &opts, &progress, &lock)?;
    progress.finish();
    // the outcome is kept in the repository for `status` on any host
    if let Err(e) = repo.save_record(&report.record(&opts)) {
        eprintln!("warning: the check record could not be stored: {e}");
    }
    if args.output.json {
        println!("{}", report.to_json());
    } else {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
        for e in &report.errors {
            eprintln!("error: {e}");
        }
        for d in &report.damaged {
            eprintln!("damaged blob {}: {}", d.blob, d.reason);
            for (snap, path) in &d.used_by {
                eprintln!("  snapshot {} {}", snap.short(), crate::quote::quote(path));
            }
        }
        if !super::quiet() {
            print_check_summary(&report, read_data.is_some());
        }
        if !report.is_ok() {
            println!("{} found", counted(report.errors.len(), "error"));
        }
    }
    Ok(if report.is_ok() { 0 } else { exit::DAMAGED })
}

fn print_check_summary(report: &rdr_core::ops::check::CheckReport, read_data: bool) {
    println!(
        "{}, {}, {}, {} ({} used){}",
        counted(report.index_files, "index file"),
        counted(report.packs, "pack"),
        counted(report.snapshots, "snapshot"),
        counted(report.blobs, "blob"),
        report.blobs_used,
        if read_data {
            format!(
                "; read {} ({})",
                counted(report.packs_read, "pack"),
                human_bytes(report.bytes_read)
            )
        } else {
            String::new()
        }
    );
    if report.is_ok() {
        println!("no errors found");
    }
}

fn parse_subset(s: &str) -> Result<ReadData> {
    ReadData::parse(s)
        .map_err(|e| anyhow::anyhow!("--{}", e.replace("read-data subset", "read-data-subset")))
}
