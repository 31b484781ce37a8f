//! One module per command; each turns arguments into rdr-core calls and
//! renders the result.

mod backup;
mod cat;
mod copy;
mod drill;
mod generate;
mod init;
mod key;
mod maintain;
mod mount;
mod plan;
mod query;
mod repair;
mod restore;
mod rewrite;
mod snapshots;
mod status;

use anyhow::{Context, Result, bail};
use rdr_core::{Credential, Location, Repository, Storage};

use rdr_core::ops::select::SnapshotFilter;

use crate::cli::{Args, Command, FilterArgs};
use crate::credentials;

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `-q` asked for results and errors only (no summaries).
pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Runs the parsed command; returns the exit code.
pub fn run(args: &Args) -> Result<i32> {
    QUIET.store(args.output.quiet, std::sync::atomic::Ordering::Relaxed);
    match &args.command {
        Command::Init(a) => init::run(args, a).map(|()| 0),
        Command::Key(k) => key::run(args, k).map(|()| 0),
        Command::Cat(c) => cat::run(args, c).map(|()| 0),
        Command::Version => {
            println!(
                "rdr {} on {}/{}; repository formats 1 to {}; backends: {}",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH,
                rdr_core::NEWEST_REPOSITORY_VERSION,
                rdr_core::Storage::schemes().join(", ")
            );
            Ok(0)
        }
        Command::Generate(a) => generate::run(a),
        Command::Mount(a) => mount::run(args, a),
        Command::Unlock => {
            let repo = open(args)?;
            let removed = repo.remove_stale_locks(&rdr_core::LockHolder::current())?;
            eprintln!("removed {} stale lock(s)", removed.len());
            for id in removed {
                println!("{id}");
            }
            Ok(0)
        }
        Command::Backup(a) => backup::run(args, a),
        Command::Copy(a) => copy::run(args, a),
        Command::Restore(a) => restore::run(args, a),
        Command::Dump(a) => restore::dump_cmd(args, a),
        Command::Snapshots(a) => snapshots::run(args, a),
        Command::Ls(a) => query::ls_cmd(args, a),
        Command::Diff(a) => query::diff_cmd(args, a),
        Command::Find(a) => query::find_cmd(args, a),
        Command::Stats(a) => query::stats_cmd(args, a),
        Command::Tag(a) => snapshots::tag_cmd(args, a),
        Command::Rewrite(a) => rewrite::run(args, a),
        Command::Forget(a) => maintain::forget_cmd(args, a),
        Command::Prune(a) => maintain::prune_cmd(args, a),
        Command::Check(a) => maintain::check_cmd(args, a),
        Command::Repair(r) => repair::run(args, r),
        Command::Drill(a) => drill::run(args, a),
        Command::Status(a) => status::run(args, a),
        Command::Plan(p) => plan::run(args, p),
    }
}

/// The snapshot filter of the filter options.
pub fn filter(f: &FilterArgs) -> SnapshotFilter {
    SnapshotFilter::from_options(&f.hosts, &f.tags, &f.paths)
}

/// Tag options as tag sets: each option is a comma-separated set (all its
/// tags), repeated options are alternatives.
pub fn tag_sets(options: &[String]) -> Vec<Vec<String>> {
    SnapshotFilter::from_options(&[], options, &[]).tags
}

/// The storage named by -r/--repo.
pub fn storage(args: &Args) -> Result<Storage> {
    let text = match (&args.repo, &args.repository_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => repository_file(f)?,
        (None, None) => {
            bail!("no repository given: use -r/--repo or --repository-file, or set RDR_REPOSITORY")
        }
    };
    let text = &text;
    // the parse error never repeats the location (it may hold a pasted secret)
    let location = Location::parse(text).context("repository location")?;
    let storage = Storage::connect(&location).with_context(|| format!("repository {location}"))?;
    Ok(tune(args, storage))
}

/// The cache, the connections and the rate limits the options ask for.
fn tune(args: &Args, mut storage: Storage) -> Storage {
    if let Some(dir) = Storage::default_cache_dir()
        && storage.is_remote()
        && !args.no_cache
    {
        storage = storage.with_cache(dir);
    }
    if let Some(n) = args.connections {
        storage = storage.with_connections(n);
    }
    let kib = |v: Option<u64>| v.map(|k| k.saturating_mul(1024));
    storage.with_rate_limits(kib(args.limit_upload), kib(args.limit_download))
}

/// The location in the first line of a repository file.
fn repository_file(f: &std::path::Path) -> Result<String> {
    let text = std::fs::read_to_string(f)
        .with_context(|| format!("reading repository file {}", f.display()))?;
    match text.lines().next().map(str::trim) {
        Some(line) if !line.is_empty() => Ok(line.to_owned()),
        _ => bail!("repository file {} is empty", f.display()),
    }
}

/// Opens the repository with the identity file if one is given, else the
/// password; its locks wait as long as --retry-lock says (by default only
/// a backup waits, for a prune that deletes at once).
pub fn open(args: &Args) -> Result<Repository> {
    let storage = storage(args)?;
    let repo = open_storage(&storage, args.identity_file.as_deref(), || {
        credentials::password(args, false)
    })?;
    Ok(match args.retry_lock {
        Some(d) => repo.with_lock_retry(d),
        None => repo,
    })
}

fn open_storage(
    storage: &Storage,
    identity_file: Option<&std::path::Path>,
    password: impl FnOnce() -> Result<zeroize::Zeroizing<String>>,
) -> Result<Repository> {
    if let Some(f) = identity_file {
        let ids = credentials::identities(f)?;
        return Ok(Repository::open(storage, &Credential::Identities(&ids))?);
    }
    // Fail fast with the right exit code before asking for a password; a
    // storage error (permissions, I/O) is reported as itself, not as "no repository".
    if !storage.has_repository()? {
        return Err(rdr_core::Error::NoRepository {
            location: storage.describe(),
        }
        .into());
    }
    let pw = password()?;
    Ok(Repository::open(storage, &Credential::Passphrase(&pw))?)
}

/// Opens the source repository of `copy` and `init --from-repo`.
pub fn open_source(args: &Args, from: &crate::cli::FromRepoArgs) -> Result<Repository> {
    let Some(text) = &from.from_repo else {
        bail!("no source repository given: use --from-repo or set RDR_FROM_REPOSITORY");
    };
    let location = Location::parse(text).context("source repository location")?;
    let storage =
        Storage::connect(&location).with_context(|| format!("source repository {location}"))?;
    let storage = tune(args, storage);
    open_storage(&storage, from.from_identity_file.as_deref(), || {
        credentials::source_password(from)
    })
    .with_context(|| format!("source repository {location}"))
}

/// The exclude patterns, case-sensitive and not, with those of the
/// exclude files (one per line, blank lines and `#` comments skipped).
pub fn read_patterns(a: &crate::cli::ExcludeArgs) -> Result<(Vec<String>, Vec<String>)> {
    let read = |given: &[String], files: &[std::path::PathBuf]| -> Result<Vec<String>> {
        let mut out = given.to_vec();
        for f in files {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("reading exclude file {}", f.display()))?;
            out.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_owned),
            );
        }
        Ok(out)
    };
    Ok((
        read(&a.exclude, &a.exclude_file)?,
        read(&a.iexclude, &a.iexclude_file)?,
    ))
}

/// "1 snapshot", "2 snapshots": a count and a noun that takes an s.
pub fn counted(n: impl TryInto<u64>, noun: &str) -> String {
    let n: u64 = n.try_into().unwrap_or(u64::MAX);
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// "1 snapshot", "2 snapshots".
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Parses a size such as `512KiB`, `16MiB`, `1M`, `4096`.
pub fn parse_size(s: &str) -> Result<u64> {
    rdr_core::parse_size(s).map_err(anyhow::Error::msg)
}

/// Formats a byte count for people.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Warns about each snapshot file that could not be read while choosing
/// a snapshot (`latest` may then not be the newest backup).
pub fn warn_unreadable(chosen: &rdr_core::ops::select::Chosen) {
    for w in chosen.warnings() {
        eprintln!("rdr: warning: {w}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512KiB").unwrap(), 512 << 10);
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("").is_err());
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
