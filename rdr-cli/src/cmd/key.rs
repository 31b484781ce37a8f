//! `rdr key add|list|remove|passwd`

use anyhow::{Result, bail};
use rdr_core::FileType;
use rdr_core::{KeyId, LockHolder, NewKey};

use super::open;
use crate::cli::{Args, KeyCommand, NewKeyArgs};
use crate::credentials;

fn new_key(a: &NewKeyArgs) -> Result<NewKey> {
    let mut recipients = credentials::recipients(&a.recipients, a.recipients_file.as_deref())?;
    if let Some(path) = &a.generate_identity {
        recipients.push(credentials::write_new_identity(path)?);
    }
    if !recipients.is_empty() {
        if a.new_password_file.is_some() {
            bail!("give either a new password or recipients, not both");
        }
        return Ok(NewKey::Recipients(recipients));
    }
    let pw = credentials::new_password(a.new_password_file.as_deref())?;
    Ok(NewKey::Passphrase {
        passphrase: pw,
        log_n: a.kdf.kdf_log_n,
    })
}

pub fn run(args: &Args, cmd: &KeyCommand) -> Result<()> {
    let repo = open(args)?;
    let holder = LockHolder::current();
    match cmd {
        KeyCommand::Add(a) => {
            let id = repo.add_key(&new_key(a)?, &holder)?;
            eprintln!("added key {}", id.short());
            println!("{id}");
        }
        KeyCommand::List { json } => {
            let keys = repo.keys()?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&keys)?);
                return Ok(());
            }
            println!(
                "  {:<10} {:<11} {:<20} {:<24} recipients",
                "id", "kind", "created (UTC)", "user@host"
            );
            for k in keys {
                let mark = if k.current { "*" } else { " " };
                match &k.meta {
                    Some(m) => println!(
                        "{mark} {:<10} {:<11} {:<20} {:<24} {}",
                        k.id.short(),
                        format!("{:?}", m.kind).to_lowercase(),
                        unix_to_utc(m.created),
                        format!("{}@{}", m.user, m.host),
                        m.recipients.join(",")
                    ),
                    None => println!(
                        "{mark} {:<10} unreadable: {}",
                        k.id.short(),
                        k.error.unwrap_or_default()
                    ),
                }
            }
        }
        KeyCommand::Remove { id } => {
            let id = KeyId(repo.find_id(FileType::Key, id)?);
            repo.remove_key(&id)?;
            eprintln!("removed key {}", id.short());
        }
        KeyCommand::Passwd {
            new_password_file,
            kdf,
        } => {
            let pw = credentials::new_password(new_password_file.as_deref())?;
            let id = repo.change_key(
                &NewKey::Passphrase {
                    passphrase: pw,
                    log_n: kdf.kdf_log_n,
                },
                &holder,
            )?;
            eprintln!(
                "password changed: key {} replaced by {}",
                repo.key_id().short(),
                id.short()
            );
            println!("{id}");
        }
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS` for a Unix time (UTC).
fn unix_to_utc(t: i64) -> String {
    rdr_core::time::format_unix(t)
}
