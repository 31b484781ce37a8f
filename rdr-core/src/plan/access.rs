//! Opening a plan's repository: its storage variables from its `env_file`
//! (then the process environment), its password or identity from the
//! source the plan names. Secrets stay in memory that is wiped.

use std::collections::BTreeMap;
use std::path::Path;

use zeroize::Zeroizing;

use super::{Credentials, RepositorySpec};
use crate::error::{Error, Result};
use crate::repo::{Credential, Repository};
use crate::{Location, Storage};

/// `KEY=VALUE` lines (blank lines and `#` comments skipped; `export ` and
/// quotes around the value allowed, as in a systemd or shell env file).
fn read_env_file(path: &Path) -> Result<BTreeMap<String, Zeroizing<String>>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("reading env file {}", path.display()), e))?,
    );
    let mut vars = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err(Error::InvalidInput(format!(
                "env file {} line {}: not KEY=VALUE",
                path.display(),
                n + 1
            )));
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v);
        vars.insert(k.trim().to_owned(), Zeroizing::new(v.to_owned()));
    }
    Ok(vars)
}

/// Opens the repository of `spec`, with the local cache under `cache` for
/// remote storage.
///
/// # Errors
/// [`Error::NoRepository`], [`Error::WrongPassword`], storage errors, or
/// errors reading the credentials.
pub fn open_repository(spec: &RepositorySpec, cache: Option<&Path>) -> Result<Repository> {
    let location = Location::parse(&spec.location)?;
    let vars = match &spec.env_file {
        Some(f) => read_env_file(f)?,
        None => BTreeMap::new(),
    };
    let lookup = |name: &str| {
        vars.get(name)
            .map(|v| v.to_string())
            .or_else(|| std::env::var(name).ok())
    };
    let mut storage = Storage::connect_with(&location, &lookup)?;
    if let Some(dir) = cache
        && storage.is_remote()
    {
        storage = storage.with_cache(dir);
    }
    if !storage.has_repository()? {
        return Err(Error::NoRepository {
            location: storage.describe(),
        });
    }
    let password = match &spec.credentials {
        Credentials::PasswordFile(f) => crate::secrets::read_password_file(f)?,
        Credentials::PasswordCommand(c) => crate::secrets::run_password_command(c)?,
        Credentials::IdentityFile(f) => {
            let ids = crate::secrets::read_identity_file(f)?;
            return Repository::open(&storage, &Credential::Identities(&ids));
        }
        Credentials::Environment => match std::env::var("RDR_PASSWORD") {
            Ok(p) if !p.is_empty() => Zeroizing::new(p),
            _ => {
                return Err(Error::InvalidInput(format!(
                    "repository {}: no password_file, password_command or identity_file in \
                     the plan, and RDR_PASSWORD is not set",
                    spec.name
                )));
            }
        },
    };
    Repository::open(&storage, &Credential::Passphrase(&password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_as_systemd_and_shells_write_them() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("env");
        std::fs::write(
            &f,
            "# S3\nAWS_ACCESS_KEY_ID=AK\nexport AWS_SECRET_ACCESS_KEY=\"s e\"\n\nR='x'\n",
        )
        .unwrap();
        let v = read_env_file(&f).unwrap();
        assert_eq!(v["AWS_ACCESS_KEY_ID"].as_str(), "AK");
        assert_eq!(v["AWS_SECRET_ACCESS_KEY"].as_str(), "s e");
        assert_eq!(v["R"].as_str(), "x");
        std::fs::write(&f, "oops\n").unwrap();
        let e = read_env_file(&f).unwrap_err().to_string();
        assert!(e.contains("line 1") && !e.contains("oops"), "{e}");
    }
}
