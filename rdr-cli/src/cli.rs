//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// rdr: deduplicating, encrypted backups built for disaster recovery.
///
/// The repository comes from -r/--repo or RDR_REPOSITORY. The password comes
/// from --password-file (RDR_PASSWORD_FILE), --password-command
/// (RDR_PASSWORD_COMMAND), RDR_PASSWORD, or a prompt on a terminal; an age
/// identity file (--identity-file, RDR_IDENTITY_FILE) opens X25519 keys.
#[derive(Debug, Parser)]
#[command(name = "rdr", version, propagate_version = true, max_term_width = 100)]
pub struct Args {
    /// Repository location (a local directory).
    #[arg(
        short = 'r',
        long = "repo",
        env = "RDR_REPOSITORY",
        global = true,
        value_name = "LOCATION"
    )]
    pub repo: Option<String>,

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

    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new repository.
    Init(InitArgs),
    /// Manage key slots (passphrases and X25519 recipients).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print repository objects, for debugging.
    #[command(subcommand)]
    Cat(CatCommand),
    /// Remove stale lock files (live locks are kept).
    Unlock,
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
    /// Target size of data packs.
    #[arg(long, value_name = "SIZE", default_value = "16MiB")]
    pub pack_size: String,
    #[command(flatten)]
    pub kdf: KdfArgs,
}

/// scrypt work factor for new passphrase slots.
#[derive(Debug, clap::Args)]
pub struct KdfArgs {
    /// scrypt work factor log2(N) for new passphrase keys (18 ≈ 1 s, 256 MiB).
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
