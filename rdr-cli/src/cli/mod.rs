//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod backup;
mod copy;
mod generate;
mod maintain;
mod plan;

pub use backup::{BackupArgs, ExcludeArgs};
pub use copy::{CopyArgs, FromRepoArgs};
pub use generate::{GenerateArgs, MountArgs};
pub use plan::PlanCommand;

pub use maintain::{
    CheckArgs, DrillArgs, ForgetArgs, PruneArgs, PruneOpts, RepairCommand, RepairIndexArgs,
    RepairSnapshotsArgs, RewriteArgs, StatusArgs,
};

/// rdr: deduplicating, encrypted backups built for disaster recovery.
///
/// The repository comes from -r/--repo or RDR_REPOSITORY. The password comes
/// from --password-file (RDR_PASSWORD_FILE), --password-command
/// (RDR_PASSWORD_COMMAND), RDR_PASSWORD, or a prompt on a terminal; an age
/// identity file (--identity-file, RDR_IDENTITY_FILE) opens X25519 keys.
#[derive(Debug, Parser)]
#[command(
    name = "rdr",
    version,
    propagate_version = true,
    max_term_width = 100,
    next_help_heading = "Global options"
)]
pub struct Args {
    /// Repository location: a directory, or s3:, sftp:, webdav:, … (docs/backends.md).
    #[arg(
        short = 'r',
        long = "repo",
        env = "RDR_REPOSITORY",
        hide_env_values = true,
        global = true,
        value_name = "LOCATION"
    )]
    pub repo: Option<String>,

    /// Read the repository location from the first line of this file.
    #[arg(
        long,
        env = "RDR_REPOSITORY_FILE",
        hide_env_values = true,
        global = true,
        value_name = "FILE",
        conflicts_with = "repo"
    )]
    pub repository_file: Option<PathBuf>,

    /// Wait up to DURATION (e.g. 30s, 10m) for a lock another process
    /// holds to be released, instead of failing at once.
    #[arg(long, global = true, value_name = "DURATION", value_parser = maintain::duration)]
    pub retry_lock: Option<std::time::Duration>,

    /// Read the password from the first line of this file.
    #[arg(
        long,
        env = "RDR_PASSWORD_FILE",
        global = true,
        value_name = "FILE",
        hide_env_values = true
    )]
    pub password_file: Option<PathBuf>,

    /// Run this shell command and read the password from its output.
    #[arg(
        long,
        env = "RDR_PASSWORD_COMMAND",
        global = true,
        value_name = "COMMAND",
        hide_env_values = true
    )]
    pub password_command: Option<String>,

    /// Open the repository with an age identity file (age-keygen format) instead of a password.
    #[arg(
        long,
        env = "RDR_IDENTITY_FILE",
        global = true,
        value_name = "FILE",
        hide_env_values = true
    )]
    pub identity_file: Option<PathBuf>,

    /// Do not use the local cache of a remote repository (index, snapshots
    /// and trees under RDR_CACHE_DIR, else $XDG_CACHE_HOME/rdr or
    /// ~/.cache/rdr).
    #[arg(long, global = true)]
    pub no_cache: bool,

    /// Requests to the storage at once: uploads, downloads, listings
    /// [default: 2; reads to a local directory are not bounded].
    #[arg(
        long,
        global = true,
        value_name = "N",
        env = "RDR_CONNECTIONS",
        hide_env_values = true
    )]
    pub connections: Option<usize>,

    /// Send at most this many KiB/s to the storage, over all connections.
    #[arg(
        long,
        global = true,
        value_name = "KiB/s",
        env = "RDR_LIMIT_UPLOAD",
        hide_env_values = true,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub limit_upload: Option<u64>,

    /// Read at most this many KiB/s from the storage, over all connections.
    #[arg(
        long,
        global = true,
        value_name = "KiB/s",
        env = "RDR_LIMIT_DOWNLOAD",
        hide_env_values = true,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub limit_download: Option<u64>,

    #[command(flatten)]
    pub output: OutputArgs,

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new repository.
    Init(InitArgs),
    /// Back up files and directories, standard input, or a command's output.
    Backup(BackupArgs),
    /// Copy snapshots from another repository (--from-repo) into this one.
    Copy(CopyArgs),
    /// Restore a snapshot (or SNAPSHOT:SUBPATH) into a directory.
    Restore(RestoreArgs),
    /// Write one file of a snapshot to standard output (a directory as tar).
    Dump(DumpArgs),
    /// List snapshots.
    Snapshots(SnapshotsArgs),
    /// List the files of a snapshot.
    Ls(LsArgs),
    /// Show what changed between two snapshots.
    Diff(DiffArgs),
    /// Find which snapshots hold paths matching a pattern.
    Find(FindArgs),
    /// Sizes: restore size, unique and stored data, dedup and compression ratios.
    Stats(StatsArgs),
    /// Add, remove or replace snapshot tags.
    Tag(TagArgs),
    /// Drop paths from existing snapshots (a secret backed up by mistake);
    /// the originals stay unless --forget.
    Rewrite(RewriteArgs),
    /// Remove snapshots by id or by a retention policy (then `prune`).
    Forget(ForgetArgs),
    /// Reclaim the space of data no snapshot uses (crash-safe, two-phase).
    Prune(PruneArgs),
    /// Verify the repository's structure, and with --read-data its contents.
    Check(CheckArgs),
    /// Repair a damaged repository: rebuild the index, rewrite snapshots.
    #[command(subcommand)]
    Repair(RepairCommand),
    /// Restore drill: restore into scratch space, verify, run a health check, time it.
    Drill(DrillArgs),
    /// Freshness against the RPO, and the last check and drill (also as Prometheus metrics).
    Status(StatusArgs),
    /// The recovery plan: check it against the repositories, run it, drill it (docs/plan.md).
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Manage key slots (passphrases and X25519 recipients).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print repository objects, for debugging.
    #[command(subcommand)]
    Cat(CatCommand),
    /// Remove stale lock files (live locks are kept).
    Unlock,
    /// Print the version, the platform, the repository formats read and the storage backends built in.
    Version,
    /// Write shell completions (bash, zsh, fish) and man pages.
    Generate(GenerateArgs),
    /// Mount the repository read-only (FUSE): snapshots by id, time, host and tag.
    Mount(MountArgs),
}

/// Which snapshots to consider (also decides what `latest` means).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Only snapshots from this host (repeatable).
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Only snapshots with these tags; a comma-separated list needs all of
    /// them, repeating the option allows any of the lists.
    #[arg(long = "tag", value_name = "TAG[,TAG...]")]
    pub tags: Vec<String>,
    /// Only snapshots of this path (repeatable: all of them).
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
}

/// Output style.
#[derive(Debug, Clone, Copy, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct OutputArgs {
    /// Print JSON: a command's result, and line-delimited status messages
    /// while it runs.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print progress even when stderr is not a terminal.
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,
    /// Print no progress and no summary: only results and errors.
    #[arg(short = 'q', long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// Arguments of `rdr restore`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each snapshot path is recreated under the target: a backup of /srv/data
restores to TARGET/srv/data. With SNAPSHOT:SUBPATH, what is below SUBPATH lands
directly in TARGET. Re-running a restore skips files that are already identical.

Exit codes: 0 restored; 3 restored, but some metadata could not be applied;
1 some content could not be restored or verified (each is named)."
)]
pub struct RestoreArgs {
    /// Snapshot id, unique prefix or `latest`, optionally with :SUBPATH.
    #[arg(value_name = "SNAPSHOT[:SUBPATH]")]
    pub snapshot: String,
    /// Directory to restore into.
    #[arg(short = 't', long, value_name = "DIR")]
    pub target: PathBuf,
    /// Restore only paths matching PATTERN (and what is below them).
    #[arg(short = 'i', long = "include", value_name = "PATTERN")]
    pub include: Vec<String>,
    /// Do not restore paths matching PATTERN.
    #[arg(short = 'e', long = "exclude", value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Read everything back after writing and compare with the snapshot.
    #[arg(long)]
    pub verify: bool,
    /// What to do with files already in the target: always (write them
    /// again), if-changed (write those whose content differs), if-newer
    /// (only when the snapshot's copy is newer), never (keep them).
    #[arg(long, value_name = "WHEN", default_value = "if-changed",
          value_parser = ["always", "if-changed", "if-newer", "never"])]
    pub overwrite: String,
    /// Remove files and folders in the target that are not in the
    /// snapshot, so the target mirrors it (not with --include/--exclude).
    #[arg(long)]
    pub delete: bool,
    /// Change nothing: say what would be written, kept and deleted.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
    /// How file contents are written: auto (files of 1 MiB or more past
    /// the page cache when a quick probe of the target finds that faster),
    /// buffered (through the page cache), direct (past it, or fail).
    #[arg(long, value_name = "METHOD", default_value = "auto", env = "RDR_WRITE_METHOD",
          value_parser = ["auto", "buffered", "direct"])]
    pub write_method: String,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Arguments of `rdr dump`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  rdr dump latest appdb.sql | psql appdb
  rdr dump latest /srv/www --archive zip > www.zip")]
pub struct DumpArgs {
    /// Snapshot id, unique prefix or `latest`.
    pub snapshot: String,
    /// Path in the snapshot (a file, or a directory for a tar or zip stream).
    pub path: String,
    /// How a directory is written: tar (every kind of entry, owners, hard
    /// links) or zip (files, folders and symlinks).
    #[arg(long, value_name = "FORMAT", default_value = "tar", value_parser = ["tar", "zip"])]
    pub archive: String,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Arguments of `rdr snapshots`.
#[derive(Debug, clap::Args)]
pub struct SnapshotsArgs {
    /// Only these snapshots (ids or prefixes).
    #[arg(value_name = "SNAPSHOT")]
    pub ids: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Group by any of host, paths, tags (comma-separated).
    #[arg(short = 'g', long, value_name = "FIELDS")]
    pub group_by: Option<String>,
    /// Only the latest N snapshots of each group.
    #[arg(long, value_name = "N")]
    pub latest: Option<usize>,
    /// One short line per snapshot: id, time, host and tags.
    #[arg(short = 'c', long)]
    pub compact: bool,
}

/// Arguments of `rdr ls`.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Snapshot id, unique prefix or `latest`.
    pub snapshot: String,
    /// List below this path only.
    #[arg(default_value = "/")]
    pub path: String,
    /// Only the entries directly in PATH.
    #[arg(long)]
    pub no_recursive: bool,
    /// Long listing: mode, owner, size, time.
    #[arg(short = 'l', long)]
    pub long: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Arguments of `rdr diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The older snapshot (SNAPSHOT[:SUBPATH]).
    pub first: String,
    /// The newer snapshot (SNAPSHOT[:SUBPATH]).
    pub second: String,
}

/// Arguments of `rdr find`.
#[derive(Debug, clap::Args)]
pub struct FindArgs {
    /// Patterns (`*.sql` anywhere, `/srv/x/*` anchored); with --blob,
    /// --tree or --pack, object ids or their prefixes.
    #[arg(required = true)]
    pub patterns: Vec<String>,
    /// The arguments are data blob ids: find the files that use them.
    #[arg(long, group = "object")]
    pub blob: bool,
    /// The arguments are tree ids: find the folders they describe.
    #[arg(long, group = "object")]
    pub tree: bool,
    /// The arguments are pack ids: find what uses any blob they hold
    /// (after `check` names a damaged pack).
    #[arg(long, group = "object")]
    pub pack: bool,
    /// Ignore case.
    #[arg(short = 'i', long)]
    pub ignore_case: bool,
    /// Only search these snapshots.
    #[arg(short = 's', long = "snapshot", value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Arguments of `rdr stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Snapshots to count (default: all that pass the filters).
    pub snapshots: Vec<String>,
    /// Which sizes: restore-size (what a restore writes), files-by-contents
    /// (each distinct file content once), raw-data (the unique data, before
    /// and after compression); all of them when not given.
    #[arg(long, value_name = "MODE", value_parser = ["restore-size", "files-by-contents", "raw-data"])]
    pub mode: Option<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Arguments of `rdr tag`.
#[derive(Debug, clap::Args)]
pub struct TagArgs {
    /// Snapshots to change (default: all that pass the filters).
    pub snapshots: Vec<String>,
    /// Tags to add (repeatable or comma-separated).
    #[arg(long, value_name = "TAG")]
    pub add: Vec<String>,
    /// Tags to remove.
    #[arg(long, value_name = "TAG")]
    pub remove: Vec<String>,
    /// Replace all tags with these.
    #[arg(long, value_name = "TAG")]
    pub set: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Arguments of `rdr init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Protect the repository with an X25519 key for this age recipient
    /// (age1...) instead of a password; repeatable.
    #[arg(long = "recipient", value_name = "AGE_RECIPIENT")]
    pub recipients: Vec<String>,
    /// Read age recipients from a file (one per line, # comments).
    #[arg(long, value_name = "FILE")]
    pub recipients_file: Option<PathBuf>,
    /// Minimum chunk size (e.g. 512KiB).
    #[arg(long, value_name = "SIZE", default_value = "512KiB")]
    pub chunk_min: String,
    /// Average chunk size.
    #[arg(long, value_name = "SIZE", default_value = "1MiB")]
    pub chunk_avg: String,
    /// Maximum chunk size (at most 8MiB).
    #[arg(long, value_name = "SIZE", default_value = "8MiB")]
    pub chunk_max: String,
    /// zstd compression level (0 = off, 1..22; negative = faster).
    #[arg(long, default_value_t = 3, allow_hyphen_values = true)]
    pub compression: i32,
    /// Target size of data packs [default: 16MiB on a local disk, 8MiB on
    /// remote storage].
    #[arg(long, value_name = "SIZE")]
    pub pack_size: Option<String>,
    /// Chunk and name data exactly as the --from-repo repository does, so
    /// that copies between the two and backups into either deduplicate
    /// (the new repository then holds that one's chunker and blob id keys;
    /// its data key is its own).
    #[arg(long, requires = "from_repo")]
    pub copy_chunker_params: bool,
    /// Make an immutable copy: rdr will never delete from this repository
    /// (forget, prune, repair index, tag and key changes are refused). Use
    /// it with storage credentials that cannot delete either.
    #[arg(long)]
    pub append_only: bool,
    #[command(flatten)]
    pub from: FromRepoArgs,
    #[command(flatten)]
    pub kdf: KdfArgs,
}

/// scrypt work factor for new passphrase slots.
#[derive(Debug, clap::Args)]
pub struct KdfArgs {
    /// scrypt work factor log2(N) for new passphrase keys: 15 = 32 MiB, ~0.1 s per
    /// attempt; use 18 (256 MiB, ~0.7 s) or more for a passphrase a person chose.
    #[arg(long, value_name = "LOG_N", default_value_t = rdr_core::DEFAULT_LOG_N)]
    pub kdf_log_n: u8,
}

/// Where a new key comes from.
#[derive(Debug, clap::Args)]
pub struct NewKeyArgs {
    /// Read the new password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub new_password_file: Option<PathBuf>,
    /// Add an X25519 key for this age recipient (age1...); repeatable.
    #[arg(long = "recipient", value_name = "AGE_RECIPIENT")]
    pub recipients: Vec<String>,
    /// Read age recipients from a file (one per line).
    #[arg(long, value_name = "FILE")]
    pub recipients_file: Option<PathBuf>,
    /// Generate a new X25519 identity, write it to FILE (mode 0600, age-keygen
    /// format; keep it off-site) and add a key for it.
    #[arg(long, value_name = "FILE")]
    pub generate_identity: Option<PathBuf>,
    #[command(flatten)]
    pub kdf: KdfArgs,
}

/// `rdr key ...`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Add a key slot: a new password, or an X25519 recipient.
    Add(NewKeyArgs),
    /// List key slots.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a key slot (not the one in use, not the last one).
    Remove {
        /// Key id or unique prefix.
        id: String,
    },
    /// Change the password of the key in use (adds the new key, then removes the old one).
    Passwd {
        /// Read the new password from the first line of this file.
        #[arg(long, value_name = "FILE")]
        new_password_file: Option<PathBuf>,
        #[command(flatten)]
        kdf: KdfArgs,
    },
}

/// `rdr cat ...`
#[derive(Debug, Subcommand)]
pub enum CatCommand {
    /// The repository config.
    Config {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// An index file.
    Index {
        /// Index file id or unique prefix.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A pack's header (its blob list).
    PackHeader {
        /// Pack id or unique prefix.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A blob's plaintext, to standard output.
    Blob {
        /// Full blob id.
        id: String,
    },
}
