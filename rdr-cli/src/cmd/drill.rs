//! `rdr drill`: a timed, verified restore into scratch space.

use std::time::Instant;

use anyhow::{Context, Result};
use rdr_core::ops::drill::{DrillOptions, DrillReport, drill};
use rdr_core::ops::metrics::write_atomically;
use rdr_core::ops::select::choose_snapshot;
use rdr_core::time::{format_duration, format_ns, now_ns};

use super::{filter, human_bytes, open};
use crate::cli::{Args, DrillArgs};
use crate::exit;
use crate::progress::{Mode, Reporter};

pub fn run(args: &Args, a: &DrillArgs) -> Result<i32> {
    // the recovery clock starts now: unlocking the key is part of a restore
    let started = (Instant::now(), now_ns());
    let repo = open(args)?;
    let chosen = choose_snapshot(&repo, &a.snapshot, &filter(&a.filter))?;
    super::warn_unreadable(&chosen);
    let (id, snap) = (chosen.id, &chosen.snapshot);
    let mut opts = DrillOptions {
        target: a.target.clone(),
        keep: a.keep,
        health_cmd: a.health_cmd.clone(),
        health_timeout: a.health_timeout,
        rto: a.rto,
        started: Some(started),
        ..DrillOptions::default()
    };
    if let Some(d) = &a.scratch_dir {
        opts.scratch_parent.clone_from(d);
    }
    let progress = Reporter::new(Mode::from(args.output), "drill");
    let res = drill(&repo, id, snap, &opts, &progress);
    progress.finish();
    let r = res?;
    // stored first: the outcome must be visible to `status` on any host
    if let Err(e) = repo.save_record(&r.record()) {
        eprintln!("warning: the drill record could not be stored in the repository: {e}");
    }
    let json = r.to_json();
    if let Some(path) = &a.report {
        let text = serde_json::to_string_pretty(&json)? + "\n";
        write_atomically(path, &text)
            .with_context(|| format!("writing the drill report {}", path.display()))?;
    }
    if args.output.json {
        println!("{json}");
    } else {
        print_human(&r);
    }
    Ok(if !r.passed() {
        exit::DRILL_FAILED
    } else if chosen.unreadable.is_empty() {
        0
    } else {
        exit::INCOMPLETE
    })
}

fn print_human(r: &DrillReport) {
    if r.snapshot_tags.iter().any(|t| t == "repaired") {
        eprintln!(
            "warning: snapshot {} was made by repair snapshots: it is degraded (data was lost from it)",
            r.snapshot.short()
        );
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    for e in &r.errors {
        eprintln!("error: {e}");
    }
    let p = &r.phases;
    println!(
        "drill of snapshot {} ({}, {}, {})",
        r.snapshot.short(),
        format_ns(r.snapshot_time),
        r.snapshot_host,
        r.snapshot_paths.join(", ")
    );
    println!(
        "  restored {} ({} verified), {}, {} other, {}, {} into {}{}",
        super::counted(r.files, "file"),
        r.files_verified,
        super::counted(r.dirs, "dir"),
        r.others,
        super::counted(r.links, "link"),
        human_bytes(r.bytes),
        r.target.display(),
        if r.kept { " (kept)" } else { " (removed)" }
    );
    println!(
        "  load {:.2}s  fetch {:.2}s  decrypt {:.2}s  write {:.2}s  verify {:.2}s  health {:.2}s",
        p.load, p.fetch, p.decrypt, p.write, p.verify, p.health
    );
    if let Some(h) = &r.health {
        let how = match (h.timed_out, h.exit_code) {
            (true, _) => "timed out".to_owned(),
            (false, Some(c)) => format!("exited {c}"),
            (false, None) => "was killed".to_owned(),
        };
        println!("  health command {how}");
        if !h.passed() && !h.output.is_empty() {
            for line in h
                .output
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .iter()
                .rev()
            {
                println!("    | {line}");
            }
        }
    }
    let rto = r.rto.map_or(String::new(), |s| {
        format!(
            " (RTO {})",
            format_duration(std::time::Duration::from_secs_f64(s))
        )
    });
    println!(
        "{} in {:.2}s{rto}",
        if r.passed() { "PASSED" } else { "FAILED" },
        r.total
    );
}
