//! Passwords from a file or a command, and age identity files, for the
//! front ends and the recovery plan: a password is the first line only,
//! never echoed, wiped when dropped. Messages name the file or say "the
//! password command", never the secret.

use std::path::Path;
use std::process::Stdio;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

fn first_line(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.lines().next().unwrap_or("").to_owned())
}

/// The first line of a password file.
///
/// # Errors
/// [`Error::Io`] when it cannot be read, [`Error::InvalidInput`] when its
/// first line is empty.
pub fn read_password_file(path: &Path) -> Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading password file {}", path.display()), e))?,
    );
    let pw = first_line(&text);
    if pw.is_empty() {
        return Err(Error::InvalidInput(format!(
            "password file {} is empty",
            path.display()
        )));
    }
    Ok(pw)
}

/// The first line a shell command (`sh -c`) prints. Its standard input and
/// error are this process's, so it may prompt.
///
/// # Errors
/// [`Error::Io`] when it cannot start, [`Error::InvalidInput`] when it
/// fails or prints nothing.
pub fn run_password_command(cmd: &str) -> Result<Zeroizing<String>> {
    let out = crate::process::command("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Error::io("running the password command", e))?;
    if !out.status.success() {
        return Err(Error::InvalidInput(format!(
            "the password command failed ({})",
            out.status
        )));
    }
    let text = Zeroizing::new(String::from_utf8(out.stdout).map_err(|_| {
        Error::InvalidInput("the password command printed non-UTF-8 output".into())
    })?);
    let pw = first_line(&text);
    if pw.is_empty() {
        return Err(Error::InvalidInput(
            "the password command printed nothing".into(),
        ));
    }
    Ok(pw)
}

/// The age identities in an identity file.
///
/// # Errors
/// [`Error::Io`] when it cannot be read, [`Error::Crypto`] when it holds
/// no usable identity.
pub fn read_identity_file(path: &Path) -> Result<crate::Identities> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading identity file {}", path.display()), e))?,
    );
    crate::Identities::parse(&text).map_err(|source| Error::Crypto {
        context: format!("identity file {}", path.display()),
        source,
    })
}

/// Creates a new age identity file at `path` (mode 0600, never
/// overwriting an existing file, synced) and returns its recipient: the
/// public key a key slot is made for (`init` or `key add`). Keep the file
/// off-site: it opens the repository without a password.
///
/// # Errors
/// [`Error::Io`] when the file exists or cannot be written.
pub fn write_new_identity(path: &Path) -> Result<crate::Recipient> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let created = format!("{} UTC", crate::time::format_ns(crate::time::now_ns()));
    let (text, recipient) = crate::generate_identity(&created);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("creating identity file {}", path.display()), e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(format!("writing identity file {}", path.display()), e))?;
    Ok(recipient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_identity_files_are_private_and_never_overwritten() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("id");
        let r = write_new_identity(&f).unwrap();
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read_identity_file(&f).unwrap().recipients(), &[r]);
        assert!(write_new_identity(&f).is_err());
    }

    #[test]
    fn first_lines_only_and_empty_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "secret\nsecond\n").unwrap();
        assert_eq!(*read_password_file(&f).unwrap(), "secret");
        std::fs::write(&f, "\n").unwrap();
        let e = read_password_file(&f).unwrap_err().to_string();
        assert!(e.contains("is empty"), "{e}");
        assert_eq!(*run_password_command("printf 'a b\\nc'").unwrap(), "a b");
        assert!(run_password_command("exit 3").is_err());
        assert!(run_password_command("true").is_err());
    }
}
