//! `rdr repair index` and `rdr repair snapshots`

use anyhow::Result;
use rdr_core::ops::repair::{
    RepairIndexOptions, RepairSnapshotsOptions, repair_index, repair_snapshots,
};
use rdr_core::{LockHolder, LockKind, SnapshotId};

use super::{counted, open};
use crate::cli::{Args, RepairCommand, RepairIndexArgs, RepairSnapshotsArgs};
use crate::progress::{Mode, Reporter};

pub fn run(args: &Args, cmd: &RepairCommand) -> Result<i32> {
    match cmd {
        RepairCommand::Index(a) => index(args, a),
        RepairCommand::Snapshots(a) => snapshots(args, a),
    }
}

fn snapshots(args: &Args, a: &RepairSnapshotsArgs) -> Result<i32> {
    let repo = open(args)?;
    let me = LockHolder::current();
    let lock = if a.forget && !a.dry_run {
        repo.lock_to_delete(LockKind::Exclusive, &me, "repair snapshots --forget")?
    } else {
        repo.lock(LockKind::Exclusive, &me)?
    };
    let (mut snaps, mut unreadable) = repo.snapshots_readable()?;
    if !a.ids.is_empty() {
        let wanted: Vec<SnapshotId> = a
            .ids
            .iter()
            .map(|s| {
                repo.find_id(rdr_core::FileType::Snapshot, s)
                    .map(SnapshotId)
            })
            .collect::<rdr_core::Result<_>>()?;
        snaps.retain(|(id, _)| wanted.contains(id));
        unreadable.retain(|(id, _)| wanted.contains(id));
    }
    let opts = RepairSnapshotsOptions {
        forget: a.forget,
        dry_run: a.dry_run,
    };
    let r = repair_snapshots(&repo, &snaps, &unreadable, &opts, &lock)?;
    let text = |p: &[u8]| crate::quote::quote(p).into_owned();
    if args.output.json {
        println!("{}", r.to_json());
    } else {
        for s in &r.repaired {
            match s.new {
                Some(n) => println!("snapshot {} repaired as {}", s.original.short(), n.short()),
                None => println!("snapshot {} would be repaired", s.original.short()),
            }
            for (p, kept, was) in &s.truncated {
                println!("  truncated {} ({kept} of {was} bytes kept)", text(p));
            }
            for p in &s.emptied {
                println!("  emptied   {}", text(p));
            }
        }
        for (id, e) in &r.unreadable {
            println!(
                "snapshot {} does not decode ({e}){}",
                id.short(),
                if a.forget && !a.dry_run {
                    ": removed"
                } else {
                    ": remove it with --forget"
                }
            );
        }
        println!(
            "{} repaired, {} whole, {} removed",
            counted(r.repaired.len(), "snapshot"),
            r.whole,
            counted(r.forgotten, "original")
        );
    }
    Ok(0)
}

fn index(args: &Args, a: &RepairIndexArgs) -> Result<i32> {
    let repo = open(args)?;
    let me = LockHolder::current();
    let lock = if a.dry_run {
        repo.lock(LockKind::Exclusive, &me)?
    } else {
        // it replaces the index files
        repo.lock_to_delete(LockKind::Exclusive, &me, "repair index")?
    };
    let progress = Reporter::new(Mode::from(args.output), "repair index");
    let opts = RepairIndexOptions {
        read_data: a.read_data,
        dry_run: a.dry_run,
    };
    let r = repair_index(&repo, &opts, &progress, &lock)?;
    progress.finish();
    if args.output.json {
        println!("{}", r.to_json());
    } else {
        let would = if a.dry_run { "would be " } else { "" };
        for (b, e) in &r.blobs_lost {
            eprintln!("lost blob {b}: {e}");
        }
        for p in &r.salvaged_packs {
            eprintln!("damaged pack {p}: readable blobs copied out, pack {would}removed");
        }
        println!(
            "{}, {} indexed; {}, {} salvaged, {} lost; {} {would}written, {} {would}removed",
            counted(r.packs, "pack"),
            counted(r.blobs, "blob"),
            counted(r.salvaged_packs.len(), "damaged pack"),
            counted(r.blobs_salvaged, "blob"),
            r.blobs_lost.len(),
            counted(r.index_files_written, "index file"),
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
