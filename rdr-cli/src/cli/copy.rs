//! Arguments of `rdr copy` and of the source repository it reads.

use std::path::PathBuf;

use super::FilterArgs;

/// The repository to read from (`copy`, `init --from-repo`), with its own
/// credentials, as restic names them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FromRepoArgs {
    /// Source repository location.
    #[arg(
        long,
        env = "RDR_FROM_REPOSITORY",
        value_name = "LOCATION",
        hide_env_values = true
    )]
    pub from_repo: Option<String>,
    /// Read the source repository's password from the first line of this file
    /// (RDR_FROM_PASSWORD also works).
    #[arg(
        long,
        env = "RDR_FROM_PASSWORD_FILE",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub from_password_file: Option<PathBuf>,
    /// Run this shell command and read the source repository's password from its output.
    #[arg(
        long,
        env = "RDR_FROM_PASSWORD_COMMAND",
        value_name = "COMMAND",
        hide_env_values = true
    )]
    pub from_password_command: Option<String>,
    /// Open the source repository with this age identity file.
    #[arg(
        long,
        env = "RDR_FROM_IDENTITY_FILE",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub from_identity_file: Option<PathBuf>,
}

/// Arguments of `rdr copy`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  rdr -r s3:https://s3.example.com/bucket/rdr copy --from-repo /srv/backup
  rdr -r sftp://backup@offsite/rdr copy --from-repo /srv/backup --host db1 latest

Blobs are re-encrypted with the destination's keys and keep the source's
chunking. Each copy records the id of its original, so copying again copies
nothing. Only the data the destination lacks is read and uploaded.

Exit codes: 0 copied (or nothing to copy); 130 interrupted (no snapshot for
the unfinished copy; the data uploaded so far is reused by the next copy);
1 other errors.")]
pub struct CopyArgs {
    /// Source snapshots (ids, unique prefixes or `latest`); default: all
    /// that match the filter.
    #[arg(value_name = "SNAPSHOT")]
    pub snapshots: Vec<String>,
    #[command(flatten)]
    pub from: FromRepoArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Report what would be copied; store nothing.
    #[arg(short = 'n', long)]
    pub dry_run: bool,
}
