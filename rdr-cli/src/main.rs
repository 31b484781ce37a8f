//! `rdr`: the command-line interface over rdr-core's public API.
//!
//! This binary only parses arguments, gathers credentials and renders
//! reports; all logic lives in rdr-core.

mod cli;
mod cmd;
mod credentials;
mod exit;
mod progress;
mod quote;

use clap::Parser;

fn main() {
    // no core file may hold the master key, whatever happens later
    for warning in rdr_core::process::harden() {
        eprintln!("rdr: warning: {warning}");
    }
    let args = cli::Args::parse();
    let code = match cmd::run(&args) {
        Ok(code) => code,
        // the reader of our output went away (`rdr find ... | head -1`):
        // end quietly, as Unix tools do
        Err(e) if broken_pipe(&e) => 0,
        Err(e) => {
            eprintln!("rdr: error: {}", describe(&e));
            if let Some(hint) = exit::advice_for(&e) {
                eprintln!("rdr: hint: {hint}");
            }
            exit::code_for(&e)
        }
    };
    std::process::exit(code);
}

/// The error and its causes, each said once: a cause whose text the
/// message already holds (a context that quotes its source) is skipped.
fn describe(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Whether writing our output failed because its reader closed the pipe.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
