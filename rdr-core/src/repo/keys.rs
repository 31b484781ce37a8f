//! Key slots: add, list, remove, and unlock with a passphrase or identity.
//! Adding or removing a key never re-encrypts data: every slot wraps the
//! same master secret.

use rayon::prelude::*;

use super::{LockHolder, Repository};
use crate::backend::{Backend, BackendError, FileType};
use crate::codec;
use crate::crypto::keys::MasterKey;
use crate::crypto::wrap::{self, Identities, Recipient, Unlocker};
use crate::error::{Error, Result};
use crate::format::keyfile::{KeyFile, KeyKind, KeyMeta};
use crate::id::{Id, KeyId};

/// What opens the repository.
pub enum Credential<'a> {
    /// A passphrase (scrypt slots).
    Passphrase(&'a str),
    /// age identities (X25519 slots).
    Identities(&'a Identities),
}

/// A new key slot to add.
pub enum NewKey {
    /// A passphrase slot, scrypt work factor `log_n` (see
    /// [`wrap::DEFAULT_LOG_N`]).
    Passphrase {
        /// The passphrase.
        passphrase: zeroize::Zeroizing<String>,
        /// scrypt work factor (log2 N), 10..=22.
        log_n: u8,
    },
    /// An X25519 slot for these recipients.
    Recipients(Vec<Recipient>),
}

/// A key slot as listed by [`Repository::keys`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyInfo {
    /// Key file id.
    pub id: KeyId,
    /// Whether this slot opened the repository in this session.
    pub current: bool,
    /// Slot metadata, when it authenticates.
    pub meta: Option<KeyMeta>,
    /// Why the metadata could not be read, if it could not.
    pub error: Option<String>,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

pub(super) fn build_key_file(
    key: &MasterKey,
    new: &NewKey,
    holder: &LockHolder,
) -> Result<Vec<u8>> {
    let crypto = |context: &str| {
        let context = context.to_owned();
        move |source| Error::Crypto { context, source }
    };
    let (age, kind, recipients) = match new {
        NewKey::Passphrase { passphrase, log_n } => {
            if !(10..=wrap::MAX_LOG_N).contains(log_n) {
                return Err(Error::InvalidInput(format!(
                    "scrypt work factor {log_n} outside 10..={}",
                    wrap::MAX_LOG_N
                )));
            }
            if passphrase.is_empty() {
                return Err(Error::InvalidInput("empty passphrase".into()));
            }
            let age = wrap::wrap_passphrase(key.secret(), passphrase, *log_n)
                .map_err(crypto("wrapping the master key"))?;
            (age, KeyKind::Passphrase, vec![])
        }
        NewKey::Recipients(rs) => {
            if rs.is_empty() {
                return Err(Error::InvalidInput("no recipients given".into()));
            }
            let age = wrap::wrap_recipients(key.secret(), rs)
                .map_err(crypto("wrapping the master key"))?;
            (
                age,
                KeyKind::X25519,
                rs.iter().map(ToString::to_string).collect(),
            )
        }
    };
    let meta = KeyMeta {
        kind,
        created: unix_now(),
        host: holder.host.clone(),
        user: holder.user.clone(),
        recipients,
    };
    let sealed_meta = codec::seal_file(key, FileType::Key, &meta.encode(), 0);
    Ok(KeyFile { age, sealed_meta }.encode())
}

/// Tries every key file (in parallel: scrypt is slow by design) and returns
/// the master key of the first that opens.
pub(super) fn unlock(
    backend: &dyn Backend,
    credential: &Credential<'_>,
) -> Result<(MasterKey, KeyId)> {
    let names = backend.list(FileType::Key)?;
    let unlocker = match credential {
        Credential::Passphrase(p) => Unlocker::Passphrase(p),
        Credential::Identities(i) => Unlocker::Identities(i),
    };
    let found = names.par_iter().find_map_any(|name| {
        let bytes = backend.read(FileType::Key, name).ok()?;
        let kf = KeyFile::decode(&bytes).ok()?;
        let secret = wrap::unwrap(&kf.age, &unlocker).ok()?;
        let key = MasterKey::from_secret(*secret);
        // A slot from another repository would unwrap but not authenticate
        // its metadata under this master key's data key.
        codec::open_file(&key, FileType::Key, &kf.sealed_meta).ok()?;
        Some((key, KeyId(Id::hash_of(&bytes))))
    });
    found.ok_or_else(|| Error::WrongPassword {
        location: backend.location(),
        keys: names.len(),
    })
}

impl Repository {
    /// Adds a key slot for the same master key.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty passphrase or recipient list; storage errors.
    pub fn add_key(&self, new: &NewKey, holder: &LockHolder) -> Result<KeyId> {
        let bytes = build_key_file(self.key(), new, holder)?;
        let id = KeyId(Id::hash_of(&bytes));
        self.backend()
            .write_new(FileType::Key, &id.to_hex(), &bytes)?;
        Ok(id)
    }

    /// Lists every key slot with its metadata.
    ///
    /// # Errors
    /// Storage errors.
    pub fn keys(&self) -> Result<Vec<KeyInfo>> {
        let mut out = Vec::new();
        for id in self.list_ids(FileType::Key)? {
            let id = KeyId(id);
            let read = self
                .backend()
                .read(FileType::Key, &id.to_hex())
                .map_err(|e| e.to_string())
                .and_then(|b| KeyFile::decode(&b).map_err(|e| e.to_string()))
                .and_then(|kf| {
                    codec::open_file(self.key(), FileType::Key, &kf.sealed_meta)
                        .map_err(|e| e.to_string())
                })
                .and_then(|plain| KeyMeta::decode(&plain).map_err(|e| e.to_string()));
            let (meta, error) = match read {
                Ok(m) => (Some(m), None),
                Err(e) => (None, Some(e)),
            };
            out.push(KeyInfo {
                id,
                current: id == self.key_id(),
                meta,
                error,
            });
        }
        out.sort_by_key(|k| (k.meta.as_ref().map_or(0, |m| m.created), k.id));
        Ok(out)
    }

    /// Removes a key slot. The slot that opened this session and the last
    /// remaining slot cannot be removed.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for those two cases, [`Error::NotFound`] for
    /// an unknown id.
    pub fn remove_key(&self, id: &KeyId) -> Result<()> {
        let all = self.list_ids(FileType::Key)?;
        if !all.contains(&id.0) {
            return Err(Error::NotFound(format!("no key {id}")));
        }
        if *id == self.key_id() {
            return Err(Error::KeyInUse { key: *id });
        }
        if all.len() <= 1 {
            return Err(Error::InvalidInput(
                "refusing to remove the last key".into(),
            ));
        }
        self.remove_file(FileType::Key, &id.0)?;
        Ok(())
    }

    /// Replaces the current key slot with a new one: the new slot is stored
    /// durably before the old one is removed.
    ///
    /// # Errors
    /// As [`Repository::add_key`].
    pub fn change_key(&self, new: &NewKey, holder: &LockHolder) -> Result<KeyId> {
        // the old key would stay valid beside the new one
        self.refuse_if_append_only("changing the key (the old key file would have to go)")?;
        let id = self.add_key(new, holder)?;
        match self
            .backend()
            .remove(FileType::Key, &self.key_id().to_hex())
        {
            Ok(()) | Err(BackendError::NotFound { .. }) => Ok(id),
            Err(e) => Err(e.into()),
        }
    }
}
