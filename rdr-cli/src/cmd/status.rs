//! `rdr status`: freshness against the RPO, the last check and drill, and
//! the Prometheus textfile.

use anyhow::{Context, Result};
use rdr_core::Record;
use rdr_core::ops::metrics::{prometheus_text, write_atomically};
use rdr_core::ops::select::GroupBy;
use rdr_core::ops::status::{StatusOptions, describe, status};
use rdr_core::time::{format_duration, format_ns};

use super::{filter, human_bytes, open};
use crate::cli::{Args, StatusArgs};
use crate::exit;

pub fn run(args: &Args, a: &StatusArgs) -> Result<i32> {
    let repo = open(args)?;
    let (defaults, rules): (Vec<_>, Vec<_>) = a.rpo.iter().cloned().partition(|r| r.is_default());
    let opts = StatusOptions {
        rpo: defaults.last().map(|r| r.rpo),
        rpo_rules: rules,
        check_max_age: a.check_max_age,
        drill_max_age: a.drill_max_age,
        group_by: GroupBy::parse(&a.group_by)?,
        filter: filter(&a.filter),
        now: None,
    };
    let r = status(&repo, &opts)?;
    let repo_id = repo.config().id.short();
    if let Some(path) = &a.prometheus {
        write_atomically(path, &prometheus_text(&r, &repo_id))
            .with_context(|| format!("writing metrics to {}", path.display()))?;
    }
    if args.output.json {
        println!("{}", r.to_json());
    } else {
        println!(
            "repository {repo_id} ({}): {} in packs",
            repo.location(),
            human_bytes(r.repository_size)
        );
        for g in &r.groups {
            let mut verdict = match (g.stale, g.rpo) {
                (true, Some(rpo)) => format!("STALE (RPO {})", format_duration(rpo)),
                (false, Some(rpo)) => format!("ok (RPO {})", format_duration(rpo)),
                _ => String::new(),
            };
            if g.degraded {
                verdict.push_str(" DEGRADED (repaired)");
            }
            println!(
                "{}: {}, newest {} {} ({} old, {}) {verdict}",
                describe(&g.key),
                super::plural(g.snapshots, "snapshot", "snapshots"),
                g.latest.short(),
                format_ns(g.latest_time),
                format_duration(g.age),
                human_bytes(g.latest_size)
            );
            println!("  last drill of this group: {}", last(&g.drill, r.now));
        }
        let now = r.now;
        println!("last check: {}", last(&r.check, now));
        println!("last drill: {}", last(&r.drill, now));
        for u in &r.unreadable {
            eprintln!("warning: {u}");
        }
        for p in &r.problems {
            eprintln!("problem: {p}");
        }
        if r.healthy() {
            println!("status: healthy");
        } else {
            println!("status: {} problem(s)", r.problems.len());
        }
    }
    Ok(if r.healthy() { 0 } else { exit::UNHEALTHY })
}

/// "passed 2026-11-22 03:00:00 on host (5h ago)", with the last pass when
/// the newest one failed.
fn last((last, passed): &(Option<Record>, Option<Record>), now: i64) -> String {
    let ago = |r: &Record| {
        format_duration(std::time::Duration::from_nanos(
            u64::try_from(now.saturating_sub(r.end)).unwrap_or(0),
        ))
    };
    let one = |r: &Record| {
        let detail = match (&r.check, &r.drill) {
            (Some(c), _) => format!(", read-data {}", c.read_data),
            (_, Some(d)) => format!(", snapshot {}, took {:.1}s", d.snapshot.short(), d.total),
            _ => String::new(),
        };
        format!(
            "{} {} on {} ({} ago{detail})",
            if r.ok { "passed" } else { "FAILED" },
            format_ns(r.end),
            r.hostname,
            ago(r)
        )
    };
    match (last, passed) {
        (None, _) => "never".into(),
        // (`one` begins with the outcome, which "last passed" already says)
        (Some(l), Some(p)) if !l.ok => format!(
            "{}; last passed {}",
            one(l),
            one(p).trim_start_matches("passed ")
        ),
        (Some(l), _) => one(l),
    }
}
