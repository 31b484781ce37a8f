//! `rdr snapshots` and `rdr tag`, and the JSON form of a snapshot.

use anyhow::{Result, bail};
use rdr_core::Snapshot;
use rdr_core::ops::select::snapshot_groups_json;
use rdr_core::ops::select::{GroupBy, find_snapshot};
use rdr_core::ops::tag::{TagChange, tag};
use rdr_core::time::format_ns;
use rdr_core::{LockHolder, Repository, SnapshotId};

use super::{filter, human_bytes, open};
use crate::cli::{Args, FilterArgs, SnapshotsArgs, TagArgs};

/// Resolves explicit ids, or lists the filtered snapshots. A listing warns
/// about every snapshot file that could not be read, naming it; the count
/// of those comes back too (a command then exits 3).
pub fn select(
    repo: &Repository,
    ids: &[String],
    f: &FilterArgs,
) -> Result<(Vec<(SnapshotId, Snapshot)>, usize)> {
    let flt = filter(f);
    if ids.is_empty() {
        let (all, bad) = repo.snapshots_readable()?;
        for (id, e) in &bad {
            eprintln!(
                "rdr: warning: snapshot file snapshots/{} could not be read and is not listed: {e}",
                id.to_hex()
            );
        }
        let chosen = all.into_iter().filter(|(_, s)| flt.matches(s)).collect();
        return Ok((chosen, bad.len()));
    }
    let chosen = ids
        .iter()
        .map(|r| Ok(find_snapshot(repo, r, &flt)?))
        .collect::<Result<_>>()?;
    Ok((chosen, 0))
}

pub fn run(args: &Args, a: &SnapshotsArgs) -> Result<i32> {
    let repo = open(args)?;
    let by = GroupBy::parse(a.group_by.as_deref().unwrap_or(""))?;
    let (all, unreadable) = select(&repo, &a.ids, &a.filter)?;
    let code = if unreadable == 0 {
        0
    } else {
        crate::exit::INCOMPLETE
    };
    let groups = by.group_latest(all, a.latest);
    if args.output.json {
        let out = snapshot_groups_json(&groups, by != GroupBy::default());
        println!("{out}");
        return Ok(code);
    }
    let mut count = 0;
    for (key, v) in &groups {
        if !key.is_empty() {
            println!("{key}");
        }
        if a.compact {
            println!("{:<10} {:<19} {:<16} Tags", "ID", "Time", "Host");
            for (id, s) in v {
                println!(
                    "{:<10} {:<19} {:<16} {}",
                    id.short(),
                    format_ns(s.time),
                    s.hostname,
                    s.tags.join(",")
                );
                count += 1;
            }
            continue;
        }
        println!(
            "{:<10} {:<19} {:<16} {:<16} {:>10}  Paths",
            "ID", "Time", "Host", "Tags", "Size"
        );
        println!("{}", "-".repeat(90));
        for (id, s) in v {
            let mut flags = String::new();
            if s.incomplete.is_some() {
                flags.push_str(" (incomplete)");
            }
            if s.is_degraded() {
                flags.push_str(" (repaired: degraded)");
            }
            println!(
                "{:<10} {:<19} {:<16} {:<16} {:>10}  {}{flags}",
                id.short(),
                format_ns(s.time),
                s.hostname,
                s.tags.join(","),
                human_bytes(s.summary.bytes_total),
                s.paths.join(" ")
            );
            count += 1;
        }
        println!();
    }
    println!("{}", super::plural(count, "snapshot", "snapshots"));
    Ok(code)
}

pub fn tag_cmd(args: &Args, a: &TagArgs) -> Result<i32> {
    if a.add.is_empty() && a.remove.is_empty() && a.set.is_empty() {
        bail!("nothing to do: give --add, --remove or --set");
    }
    let split = |v: &[String]| -> Vec<String> {
        v.iter()
            .flat_map(|t| t.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let repo = open(args)?;
    let (snaps, _) = select(&repo, &a.snapshots, &a.filter)?;
    let change = TagChange {
        add: split(&a.add),
        remove: split(&a.remove),
        set: (!a.set.is_empty()).then(|| split(&a.set)),
    };
    let changed = tag(&repo, &snaps, &change, &LockHolder::current())?;
    for (old, new) in &changed {
        eprintln!("snapshot {} -> {}", old.short(), new.short());
    }
    eprintln!("{} changed", super::counted(changed.len(), "snapshot"));
    Ok(0)
}
