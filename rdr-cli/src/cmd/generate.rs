//! `rdr generate`: shell completions and man pages from the CLI definition.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Args, GenerateArgs};

fn write_to(path: &Path, what: &str, bytes: &[u8]) -> Result<()> {
    if path.as_os_str() == "-" {
        std::io::stdout().lock().write_all(bytes)?;
        return Ok(());
    }
    std::fs::write(path, bytes).with_context(|| format!("writing the {what} to {}", path.display()))
}

fn completion(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), "rdr", &mut out);
    out
}

/// One page per command and subcommand, named as git names its pages.
fn man_pages(cmd: &clap::Command, name: &str, dir: &Path, written: &mut usize) -> Result<()> {
    let cmd = cmd.clone().name(name.to_owned());
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    *written += 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        man_pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

pub fn run(a: &GenerateArgs) -> Result<i32> {
    let mut any = false;
    for (file, shell) in [
        (&a.bash_completion, Shell::Bash),
        (&a.zsh_completion, Shell::Zsh),
        (&a.fish_completion, Shell::Fish),
    ] {
        if let Some(f) = file {
            write_to(f, &format!("{shell} completion"), &completion(shell))?;
            any = true;
        }
    }
    if let Some(dir) = &a.man {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the man page directory {}", dir.display()))?;
        let mut cmd = Args::command();
        cmd.build();
        let mut n = 0;
        man_pages(&cmd, "rdr", dir, &mut n)?;
        if !super::quiet() {
            eprintln!("wrote {n} man pages to {}", dir.display());
        }
        any = true;
    }
    if !any {
        bail!(
            "nothing to generate: give --bash-completion, --zsh-completion, --fish-completion or --man"
        );
    }
    Ok(0)
}
