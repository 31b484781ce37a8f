//! `rdr backup`.

use anyhow::{Context, Result, bail};
use rdr_core::ops::backup::{BackupOptions, BackupReport, BackupSource, ExcludeOptions, backup};
use rdr_core::ops::select::{SnapshotFilter, find_snapshot};

use super::{human_bytes, open, parse_size, read_patterns};
use crate::cli::{Args, BackupArgs};
use crate::exit;
use crate::progress::{Mode, Reporter};

/// How a --files-from* file separates and marks its paths.
#[derive(Clone, Copy)]
enum ListStyle {
    Commented,
    Verbatim,
    Raw,
}

/// The paths listed in the --files-from* files.
fn listed_paths(a: &BackupArgs) -> Result<Vec<std::path::PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    let lists = a
        .files_from
        .iter()
        .map(|f| (f, ListStyle::Commented))
        .chain(
            a.files_from_verbatim
                .iter()
                .map(|f| (f, ListStyle::Verbatim)),
        )
        .chain(a.files_from_raw.iter().map(|f| (f, ListStyle::Raw)));
    for (f, style) in lists {
        let bytes = if f.as_os_str() == "-" {
            let mut b = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)
                .context("reading the path list from standard input")?;
            b
        } else {
            std::fs::read(f).with_context(|| format!("reading path list {}", f.display()))?
        };
        let sep = if matches!(style, ListStyle::Raw) {
            b'\0'
        } else {
            b'\n'
        };
        for item in bytes.split(|&b| b == sep) {
            let item = match style {
                ListStyle::Commented => {
                    let t = item.trim_ascii();
                    if t.is_empty() || t.starts_with(b"#") {
                        continue;
                    }
                    t
                }
                ListStyle::Verbatim => item.strip_suffix(b"\r").unwrap_or(item),
                ListStyle::Raw => item,
            };
            if !item.is_empty() {
                out.push(std::ffi::OsStr::from_bytes(item).into());
            }
        }
    }
    Ok(out)
}

fn options(args: &BackupArgs, repo: &rdr_core::Repository) -> Result<BackupOptions> {
    let mut o = BackupOptions {
        program_version: format!("rdr {}", env!("CARGO_PKG_VERSION")),
        ..BackupOptions::default()
    };
    if let Some(h) = &args.host {
        o.host.clone_from(h);
    }
    o.tags.clone_from(&args.tags);
    if let Some(t) = &args.time {
        o.time = Some(rdr_core::time::parse_utc(t).map_err(anyhow::Error::msg)?);
    }
    if let Some(p) = &args.parent {
        o.parent = Some(find_snapshot(repo, p, &SnapshotFilter::default())?.0);
    }
    o.force = args.force;
    o.dry_run = args.dry_run;
    o.index_interval = args.checkpoint_interval;
    let (patterns, ipatterns) = read_patterns(&args.excludes)?;
    o.excludes = ExcludeOptions {
        patterns,
        ipatterns,
        caches: args.exclude_caches,
        if_present: args.exclude_if_present.clone(),
        larger_than: args
            .exclude_larger_than
            .as_deref()
            .map(parse_size)
            .transpose()?,
        one_file_system: args.one_file_system,
    };
    Ok(o)
}

pub fn run(args: &Args, a: &BackupArgs) -> Result<i32> {
    let source = if a.stdin_from_command {
        if a.command.is_empty() {
            bail!("--stdin-from-command needs the command after `--`");
        }
        BackupSource::Command {
            filename: a.stdin_filename.clone(),
            argv: a.command.clone(),
        }
    } else if a.stdin {
        if !a.paths.is_empty() {
            bail!("--stdin takes no paths");
        }
        BackupSource::Stream {
            filename: a.stdin_filename.clone(),
            reader: Box::new(std::io::stdin()),
        }
    } else {
        if !a.command.is_empty() {
            bail!("a command after `--` needs --stdin-from-command");
        }
        let mut paths = a.paths.clone();
        paths.extend(listed_paths(a)?);
        if paths.is_empty() {
            bail!("nothing to back up: give paths, --files-from, --stdin or --stdin-from-command");
        }
        BackupSource::Paths(paths)
    };
    let repo = open(args)?;
    let opts = options(a, &repo)?;
    let progress = Reporter::new(Mode::from(args.output), "backup");
    let res = backup(&repo, source, &opts, &progress);
    progress.finish();
    let report = res?;
    render(&report, progress.mode(), a.dry_run);
    Ok(if report.is_incomplete() {
        exit::INCOMPLETE
    } else {
        0
    })
}

fn render(r: &BackupReport, mode: Mode, dry_run: bool) {
    let s = &r.snapshot.summary;
    let secs = (s.end - s.start) as f64 / 1e9;
    if mode == Mode::Json {
        println!("{}", r.to_json());
        return;
    }
    if super::quiet() {
        if r.is_incomplete() {
            eprintln!("warning: {} entries could not be read", r.warnings.len());
        }
        if let Some(id) = r.id {
            println!("{id}");
        }
        return;
    }
    if let Some(st) = &r.snapshot.stream {
        eprintln!(
            "stream {}: {} bytes, blake3 {}",
            st.filename,
            st.bytes,
            st.blake3
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
    } else {
        eprintln!(
            "Files: {:>8} new, {:>8} changed, {:>8} unchanged",
            s.files_new, s.files_changed, s.files_unchanged
        );
        eprintln!(
            "Dirs:  {:>8} new, {:>8} changed, {:>8} unchanged",
            s.dirs_new, s.dirs_changed, s.dirs_unchanged
        );
    }
    if r.adopted_packs > 0 {
        eprintln!(
            "adopted {} an interrupted backup had uploaded but not indexed",
            super::counted(r.adopted_packs, "pack")
        );
    }
    let verb = if dry_run { "Would add" } else { "Added" };
    eprintln!(
        "{verb} to the repository: {} ({} stored)",
        human_bytes(s.bytes_added),
        human_bytes(s.bytes_added_stored)
    );
    eprintln!("processed {} in {secs:.2}s", human_bytes(s.bytes_total));
    if r.is_incomplete() {
        eprintln!(
            "warning: {} entries could not be read; the snapshot is marked incomplete",
            r.warnings.len()
        );
    }
    match r.id {
        Some(id) => {
            eprintln!("snapshot {} saved", id.short());
            println!("{id}");
        }
        None => eprintln!("dry run: nothing was stored"),
    }
}
