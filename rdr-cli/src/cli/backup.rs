//! Arguments of `rdr backup`, and the exclude patterns it shares with
//! `rdr rewrite`.

use std::path::PathBuf;

/// Arguments of `rdr backup`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  rdr backup /etc /srv/data --exclude '*.tmp' --tag daily
  pg_dump appdb | rdr backup --stdin --stdin-filename appdb.sql
  rdr backup --stdin-from-command --stdin-filename appdb.sql -- pg_dump appdb

Exit codes: 0 snapshot saved; 3 saved but incomplete (some entries could not
be read; each is named on stderr); 130 interrupted (no snapshot; the data
uploaded so far is indexed and reused by the next run); 1 other errors.")]
pub struct BackupArgs {
    /// Files and directories to back up.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also back up the paths listed in FILE, one per line ("-" reads
    /// standard input); empty lines and lines starting with # are skipped,
    /// surrounding spaces removed. Paths are taken as written (no glob
    /// expansion). Repeatable.
    #[arg(long, value_name = "FILE")]
    pub files_from: Vec<PathBuf>,
    /// Like --files-from, but every line is a path exactly as written
    /// (no comments, spaces kept).
    #[arg(long, value_name = "FILE")]
    pub files_from_verbatim: Vec<PathBuf>,
    /// Like --files-from-verbatim, with paths separated by NUL bytes (as
    /// `find -print0` writes them), so any file name works.
    #[arg(long, value_name = "FILE")]
    pub files_from_raw: Vec<PathBuf>,
    /// Back up standard input as one file (named by --stdin-filename).
    #[arg(long, conflicts_with = "stdin_from_command")]
    pub stdin: bool,
    /// Back up the output of the command given after `--`; a non-zero exit
    /// of the command fails the backup and writes no snapshot.
    #[arg(long)]
    pub stdin_from_command: bool,
    /// File name of the stream in the snapshot.
    #[arg(long, value_name = "NAME", default_value = "stdin")]
    pub stdin_filename: String,
    /// The command for --stdin-from-command (after `--`).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
    /// Host name to record (default: this machine's).
    #[arg(long)]
    pub host: Option<String>,
    /// Tag the snapshot (repeatable, or comma-separated).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Snapshot time instead of now (UTC, YYYY-MM-DD HH:MM:SS).
    #[arg(long, value_name = "TIME")]
    pub time: Option<String>,
    /// Parent snapshot for change detection (default: the latest with the
    /// same host and paths).
    #[arg(long, value_name = "SNAPSHOT")]
    pub parent: Option<String>,
    /// Read every file, even those the parent says are unchanged.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub excludes: ExcludeArgs,
    /// Skip the contents of directories holding a CACHEDIR.TAG.
    #[arg(long)]
    pub exclude_caches: bool,
    /// Skip the contents of directories holding a file of this name.
    #[arg(long, value_name = "NAME")]
    pub exclude_if_present: Vec<String>,
    /// Skip files larger than SIZE (e.g. 2GiB).
    #[arg(long, value_name = "SIZE")]
    pub exclude_larger_than: Option<String>,
    /// Do not cross file system boundaries.
    #[arg(short = 'x', long)]
    pub one_file_system: bool,
    /// Do everything but store: report what would be added.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// Index what was uploaded at least this often (e.g. 30s, 5m), so an
    /// interrupted backup resumes from there instead of uploading it again.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = super::maintain::duration)]
    pub checkpoint_interval: std::time::Duration,
}

/// The exclude patterns of `backup` and `rewrite`.
#[derive(Debug, clap::Args)]
pub struct ExcludeArgs {
    /// Exclude paths matching PATTERN (repeatable; `*.tmp` matches at any
    /// depth, `/srv/cache` only there; `**` crosses directories).
    #[arg(short = 'e', long = "exclude", value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Like --exclude, ignoring case.
    #[arg(long = "iexclude", value_name = "PATTERN")]
    pub iexclude: Vec<String>,
    /// Read exclude patterns from a file (one per line, # comments).
    #[arg(long = "exclude-file", value_name = "FILE")]
    pub exclude_file: Vec<PathBuf>,
    /// Read case-insensitive exclude patterns from a file.
    #[arg(long = "iexclude-file", value_name = "FILE")]
    pub iexclude_file: Vec<PathBuf>,
}
