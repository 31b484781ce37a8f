//! `rdr rewrite`.

use anyhow::{Result, bail};
use rdr_core::LockHolder;
use rdr_core::ops::rewrite::{RewriteOptions, rewrite};

use super::snapshots::select;
use super::{human_bytes, open, plural, quiet, read_patterns};
use crate::cli::{Args, RewriteArgs};

pub fn run(args: &Args, a: &RewriteArgs) -> Result<i32> {
    let (exclude, iexclude) = read_patterns(&a.excludes)?;
    let new_time = a
        .new_time
        .as_deref()
        .map(rdr_core::time::parse_utc)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    if exclude.is_empty() && iexclude.is_empty() && a.new_host.is_none() && new_time.is_none() {
        bail!("nothing to do: give --exclude, --exclude-file, --new-host or --new-time");
    }
    let repo = open(args)?;
    let (snaps, _) = select(&repo, &a.snapshots, &a.filter)?;
    let opts = RewriteOptions {
        exclude,
        iexclude,
        new_host: a.new_host.clone(),
        new_time,
        forget: a.forget,
        dry_run: a.dry_run,
    };
    let r = rewrite(&repo, &snaps, &opts, &LockHolder::current())?;
    if args.output.json {
        println!("{}", r.to_json());
        return Ok(0);
    }
    for s in &r.rewritten {
        match s.new {
            Some(n) => println!("snapshot {} rewritten as {}", s.original.short(), n.short()),
            None => println!("snapshot {} would be rewritten", s.original.short()),
        }
        for p in &s.dropped {
            println!("  dropped {}", crate::quote::quote(p));
        }
    }
    if !quiet() {
        let files: u64 = r.rewritten.iter().map(|s| s.files_dropped).sum();
        let bytes: u64 = r.rewritten.iter().map(|s| s.bytes_dropped).sum();
        let verb = if r.dry_run {
            "would be rewritten"
        } else {
            "rewritten"
        };
        println!(
            "{} {verb} ({} of {} dropped), {} unchanged, {} removed",
            plural(r.rewritten.len(), "snapshot", "snapshots"),
            plural(
                usize::try_from(files).unwrap_or(usize::MAX),
                "file",
                "files"
            ),
            human_bytes(bytes),
            r.unchanged,
            plural(r.forgotten, "original", "originals"),
        );
        if !r.dry_run && !r.rewritten.is_empty() {
            if a.forget {
                println!("the dropped data leaves the storage at the next `rdr prune`");
            } else {
                println!(
                    "the originals are kept: remove them (`rdr forget`, or rewrite with --forget) and prune to purge the data"
                );
            }
        }
    }
    Ok(0)
}
