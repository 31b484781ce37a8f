//! `rdr repair index`

use anyhow::Result;
use rdr_core::ops::repair::{RepairIndexOptions, repair_index};
use rdr_core::{LockHolder, LockKind};
use serde_json::json;

use super::open;
use crate::cli::{Args, RepairCommand, RepairIndexArgs};
use crate::progress::{Mode, Reporter};

pub fn run(args: &Args, cmd: &RepairCommand) -> Result<i32> {
    match cmd {
        RepairCommand::Index(a) => index(args, a),
    }
}

fn index(args: &Args, a: &RepairIndexArgs) -> Result<i32> {
    let repo = open(args)?;
    let lock = repo.lock(LockKind::Exclusive, &LockHolder::current())?;
    let progress = Reporter::new(Mode::from(a.output), "repair index");
    let opts = RepairIndexOptions {
        read_data: a.read_data,
        dry_run: a.dry_run,
    };
    let r = repair_index(&repo, &opts, &progress, &lock)?;
    progress.finish();
    if a.output.json {
        println!(
            "{}",
            json!({
                "dry_run": a.dry_run, "packs": r.packs, "blobs": r.blobs,
                "salvaged_packs": r.salvaged_packs.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "blobs_salvaged": r.blobs_salvaged,
                "blobs_lost": r.blobs_lost.iter().map(|(b, e)| json!({"blob": b.to_string(), "error": e})).collect::<Vec<_>>(),
                "index_files_written": r.index_files_written,
                "index_files_removed": r.index_files_removed,
            })
        );
    } else {
        let would = if a.dry_run { "would be " } else { "" };
        for (b, e) in &r.blobs_lost {
            eprintln!("lost blob {b}: {e}");
        }
        for p in &r.salvaged_packs {
            eprintln!("damaged pack {p}: readable blobs copied out, pack {would}removed");
        }
        println!(
            "{} packs, {} blobs indexed; {} damaged packs, {} blobs salvaged, {} lost; {} index files {would}written, {} {would}removed",
            r.packs,
            r.blobs,
            r.salvaged_packs.len(),
            r.blobs_salvaged,
            r.blobs_lost.len(),
            r.index_files_written,
            r.index_files_removed
        );
        if !r.blobs_lost.is_empty() {
            println!(
                "some blobs are lost: `rdr check` names the snapshots and files that used them"
            );
        }
    }
    Ok(0)
}
