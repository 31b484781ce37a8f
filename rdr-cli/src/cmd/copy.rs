//! `rdr copy`.

use anyhow::Result;
use rdr_core::ops::copy::{CopyOptions, CopyReport, copy};
use rdr_core::ops::select::find_snapshot;

use super::{filter, human_bytes, open, open_source};
use crate::cli::{Args, CopyArgs};
use crate::progress::{Mode, Reporter};

pub fn run(args: &Args, a: &CopyArgs) -> Result<i32> {
    let src = open_source(args, &a.from)?;
    let dst = open(args)?;
    let filter = filter(&a.filter);
    let mut snapshots = Vec::new();
    for s in &a.snapshots {
        snapshots.push(find_snapshot(&src, s, &filter)?.0);
    }
    let opts = CopyOptions {
        snapshots,
        filter,
        dry_run: a.dry_run,
        ..CopyOptions::default()
    };
    let progress = Reporter::new(Mode::from(args.output), "copy");
    let res = copy(&src, &dst, &opts, &progress);
    progress.finish();
    let report = res?;
    render(&report, progress.mode(), a.dry_run);
    Ok(0)
}

fn render(r: &CopyReport, mode: Mode, dry_run: bool) {
    if mode == Mode::Json {
        println!("{}", r.to_json());
        return;
    }
    if super::quiet() {
        for t in r.copied.iter().filter_map(|c| c.target) {
            println!("{t}");
        }
        return;
    }
    for s in &r.skipped {
        eprintln!("snapshot {} is already in the destination", s.short());
    }
    for c in &r.copied {
        match c.target {
            Some(t) => {
                eprintln!("snapshot {} copied to {}", c.source.short(), t.short());
                println!("{t}");
            }
            None => eprintln!("snapshot {} would be copied", c.source.short()),
        }
    }
    if r.adopted_packs > 0 {
        eprintln!(
            "adopted {} an interrupted copy or backup had uploaded but not indexed",
            super::counted(r.adopted_packs, "pack")
        );
    }
    let verb = if dry_run { "would add" } else { "added" };
    eprintln!(
        "{} snapshot(s) copied, {} already there; read {}, {verb} {} ({} stored) in {:.2}s",
        r.copied.len(),
        r.skipped.len(),
        human_bytes(r.bytes_read),
        human_bytes(r.bytes_added),
        human_bytes(r.bytes_added_stored),
        r.seconds
    );
}
