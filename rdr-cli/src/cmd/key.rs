//! `rdr key add|list|remove|passwd`

use anyhow::{Result, bail};
use rdr_core::backend::FileType;
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

/// `YYYY-MM-DD HH:MM:SS` for a Unix time (UTC), without a date library.
pub fn unix_to_utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc() {
        assert_eq!(super::unix_to_utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::unix_to_utc(1_763_769_600), "2025-11-22 00:00:00");
    }
}
