//! Arguments of `rdr generate` and `rdr mount`.

use std::path::PathBuf;

/// Arguments of `rdr generate`: shell completions and man pages, made from
/// the CLI definition itself.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  rdr generate --bash-completion /etc/bash_completion.d/rdr
  rdr generate --zsh-completion ~/.zfunc/_rdr --fish-completion ~/.config/fish/completions/rdr.fish
  rdr generate --man /usr/local/share/man/man1")]
pub struct GenerateArgs {
    /// Write the bash completion script to FILE ("-": standard output).
    #[arg(long, value_name = "FILE")]
    pub bash_completion: Option<PathBuf>,
    /// Write the zsh completion script to FILE ("-": standard output).
    #[arg(long, value_name = "FILE")]
    pub zsh_completion: Option<PathBuf>,
    /// Write the fish completion script to FILE ("-": standard output).
    #[arg(long, value_name = "FILE")]
    pub fish_completion: Option<PathBuf>,
    /// Write a man page per command (rdr.1, rdr-backup.1, …) into DIR.
    #[arg(long, value_name = "DIR")]
    pub man: Option<PathBuf>,
}

/// Arguments of `rdr mount`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Layout (as restic's):
  ids/<short id>/...       the files of each snapshot
  snapshots/<time>         links to ids/, and snapshots/latest
  hosts/<host>/<time>      per host, with a latest link
  tags/<tag>/<time>        per tag, with a latest link

File contents are read on demand (only the chunks a read touches), through
a cache of at most 32 MiB. Needs /dev/fuse; as a user, fusermount3 (Debian
package fuse3). Ctrl-C or `umount MOUNTPOINT` ends it.")]
pub struct MountArgs {
    /// An empty directory to mount on.
    pub mountpoint: PathBuf,
    /// Let other users read the mount (needs user_allow_other in /etc/fuse.conf unless root).
    #[arg(long)]
    pub allow_other: bool,
    /// Requests served at once.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub threads: usize,
}
