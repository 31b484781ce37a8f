//! `rdr restore` and `rdr dump`.

use std::io::Write;

use anyhow::{Result, bail};
use rdr_core::ops::dump::{Archive, dump_archive};
use rdr_core::ops::restore::{Overwrite, RestoreOptions, WriteMethod, restore};
use rdr_core::ops::select::{choose_snapshot, split_reference};

use super::{counted, filter, human_bytes, open};
use crate::cli::{Args, DumpArgs, RestoreArgs};
use crate::exit;
use crate::progress::{Mode, Reporter};

pub fn run(args: &Args, a: &RestoreArgs) -> Result<i32> {
    let repo = open(args)?;
    let (reference, subpath) = split_reference(&a.snapshot);
    let chosen = choose_snapshot(&repo, reference, &filter(&a.filter))?;
    super::warn_unreadable(&chosen);
    let (id, snap) = (chosen.id, &chosen.snapshot);
    let mut opts = RestoreOptions::new(&a.target);
    opts.include.clone_from(&a.include);
    opts.exclude.clone_from(&a.exclude);
    opts.verify = a.verify;
    opts.overwrite = Overwrite::parse(&a.overwrite).map_err(anyhow::Error::msg)?;
    opts.delete = a.delete;
    opts.dry_run = a.dry_run;
    opts.write_method = WriteMethod::parse(&a.write_method).map_err(anyhow::Error::msg)?;
    let progress = Reporter::new(Mode::from(args.output), "restore");
    let res = restore(&repo, snap, subpath, &opts, &progress);
    progress.finish();
    let r = res?;
    let secs = r.elapsed.as_secs_f64();
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    for e in &r.errors {
        eprintln!("error: {e}");
    }
    if progress.mode() == Mode::Json {
        let mut v = r.to_json();
        v["snapshot_id"] = id.to_hex().into();
        println!("{v}");
    } else if a.dry_run {
        for d in &r.deleted {
            println!("would delete {d}");
        }
        eprintln!(
            "dry run of snapshot {} into {}: would write {} of {} ({}); {} identical, {} kept; would delete {}",
            id.short(),
            a.target.display(),
            r.files - r.files_skipped - r.files_kept,
            counted(r.files, "file"),
            human_bytes(r.bytes_written),
            r.files_skipped,
            r.files_kept,
            super::plural(r.deleted.len(), "entry", "entries")
        );
    } else if !super::quiet() {
        for d in &r.deleted {
            eprintln!("deleted {d}");
        }
        if r.files_kept > 0 {
            eprintln!(
                "{} kept as they were (--overwrite {})",
                super::plural(
                    usize::try_from(r.files_kept).unwrap_or(usize::MAX),
                    "existing file",
                    "existing files"
                ),
                a.overwrite
            );
        }
        eprintln!(
            "restored snapshot {} to {}: {}, {}, {} other, {}; wrote {} in {secs:.2}s",
            id.short(),
            a.target.display(),
            counted(r.files, "file"),
            counted(r.dirs, "dir"),
            r.others,
            counted(r.links, "hard link"),
            human_bytes(r.bytes_written)
        );
        if args.output.verbose {
            eprintln!(
                "{} written past the page cache (--write-method {})",
                human_bytes(r.bytes_direct),
                a.write_method
            );
        }
        if r.files_skipped > 0 {
            eprintln!(
                "{} ({}) already identical, skipped",
                counted(r.files_skipped, "file"),
                human_bytes(r.bytes_skipped)
            );
        }
        if a.verify {
            eprintln!("verified {}", counted(r.files_verified, "file"));
        }
    }
    if !r.errors.is_empty() {
        bail!(
            "{} entries could not be restored or verified",
            r.errors.len()
        );
    }
    Ok(if r.warnings.is_empty() && chosen.unreadable.is_empty() {
        0
    } else {
        exit::INCOMPLETE
    })
}

pub fn dump_cmd(args: &Args, a: &DumpArgs) -> Result<i32> {
    let repo = open(args)?;
    let (reference, sub) = split_reference(&a.snapshot);
    let chosen = choose_snapshot(&repo, reference, &filter(&a.filter))?;
    super::warn_unreadable(&chosen);
    let snap = &chosen.snapshot;
    let path = if sub.is_empty() {
        a.path.clone()
    } else {
        format!("{sub}/{}", a.path)
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let archive = Archive::parse(&a.archive).map_err(anyhow::Error::msg)?;
    let outcome = dump_archive(&repo, snap, &path, archive, &mut out)?;
    out.flush()?;
    for w in &outcome.warnings {
        eprintln!("rdr: warning: {w}");
    }
    Ok(
        if chosen.unreadable.is_empty() && outcome.warnings.is_empty() {
            0
        } else {
            exit::INCOMPLETE
        },
    )
}
