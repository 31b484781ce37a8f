//! Gathering secrets: passwords from a file, a command, RDR_PASSWORD or a
//! terminal prompt; identities from an age identity file. Secrets never come
//! from argv and never appear in messages.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result, bail};
use zeroize::Zeroizing;

use crate::cli::Args;

/// Reads the first line of a password file.
pub fn read_password_file(path: &Path) -> Result<Zeroizing<String>> {
    Ok(rdr_core::secrets::read_password_file(path)?)
}

fn run_password_command(cmd: &str) -> Result<Zeroizing<String>> {
    Ok(rdr_core::secrets::run_password_command(cmd)?)
}

fn prompt(message: &str) -> Result<Zeroizing<String>> {
    Ok(Zeroizing::new(
        rpassword::prompt_password(message).context("reading the password from the terminal")?,
    ))
}

/// Prompts on the terminal, optionally twice; refuses an empty or mismatched password.
fn prompt_checked(first: &str, again: Option<&str>) -> Result<Zeroizing<String>> {
    let p = prompt(first)?;
    if let Some(again) = again
        && *prompt(again)? != *p
    {
        bail!("passwords do not match");
    }
    if p.is_empty() {
        bail!("empty password");
    }
    Ok(p)
}

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Where one repository's password may come from, in order.
struct Sources<'a> {
    file: Option<&'a Path>,
    command: Option<&'a str>,
    /// The variable holding the password itself.
    variable: &'static str,
    /// The prompt on a terminal.
    prompt: &'static str,
    /// The error when none gives one.
    missing: &'static str,
}

fn password_from(s: &Sources<'_>, confirm: bool) -> Result<Zeroizing<String>> {
    if let Some(f) = s.file {
        return read_password_file(f);
    }
    if let Some(c) = s.command {
        return run_password_command(c);
    }
    if let Ok(p) = std::env::var(s.variable)
        && !p.is_empty()
    {
        return Ok(Zeroizing::new(p));
    }
    if interactive() {
        return prompt_checked(s.prompt, confirm.then_some("enter password again: "));
    }
    bail!("{}", s.missing)
}

/// The password that opens (or, for `init`, protects) the repository.
pub fn password(args: &Args, confirm: bool) -> Result<Zeroizing<String>> {
    let sources = Sources {
        file: args.password_file.as_deref(),
        command: args.password_command.as_deref(),
        variable: "RDR_PASSWORD",
        prompt: "enter password for repository: ",
        missing: "no password given: use --password-file, --password-command, RDR_PASSWORD_FILE, RDR_PASSWORD_COMMAND or RDR_PASSWORD, or run on a terminal",
    };
    password_from(&sources, confirm)
}

/// The password of the source repository (`copy`, `init --from-repo`).
pub fn source_password(from: &crate::cli::FromRepoArgs) -> Result<Zeroizing<String>> {
    let sources = Sources {
        file: from.from_password_file.as_deref(),
        command: from.from_password_command.as_deref(),
        variable: "RDR_FROM_PASSWORD",
        prompt: "enter password for the source repository: ",
        missing: "no password for the source repository: use --from-password-file, --from-password-command, RDR_FROM_PASSWORD_FILE, RDR_FROM_PASSWORD_COMMAND or RDR_FROM_PASSWORD, or run on a terminal",
    };
    password_from(&sources, false)
}

/// A new password for `key add` / `key passwd`.
pub fn new_password(file: Option<&Path>) -> Result<Zeroizing<String>> {
    if let Some(f) = file {
        return read_password_file(f);
    }
    if interactive() {
        return prompt_checked("enter new password: ", Some("enter new password again: "));
    }
    bail!("no new password given: use --new-password-file, or run on a terminal")
}

/// Parses age recipients from flags and a recipients file.
pub fn recipients(list: &[String], file: Option<&Path>) -> Result<Vec<rdr_core::Recipient>> {
    let mut all: Vec<String> = list.to_vec();
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading recipients file {}", f.display()))?;
        all.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    all.iter()
        .map(|r| rdr_core::parse_recipient(r).map_err(anyhow::Error::from))
        .collect()
}

/// Creates a new age identity file (0600, never overwriting) and returns its recipient.
pub fn write_new_identity(path: &Path) -> Result<rdr_core::Recipient> {
    let recipient = rdr_core::secrets::write_new_identity(path)?;
    eprintln!(
        "wrote a new identity to {} (public key {recipient}): keep it off-site",
        path.display()
    );
    Ok(recipient)
}

/// Loads an age identity file.
pub fn identities(path: &Path) -> Result<rdr_core::Identities> {
    Ok(rdr_core::secrets::read_identity_file(path)?)
}
