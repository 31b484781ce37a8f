//! Arguments of `rdr generate`.

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
