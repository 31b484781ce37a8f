//! The repository: the only module that combines storage, crypto, codec and
//! format. It loads and saves typed objects; every byte read from storage is
//! authenticated before it is decoded, and every decode error names the
//! object it came from.

mod blob_io;
mod cache;
mod foreign;
mod id_sets;
mod index;
mod index_io;
mod init_options;
mod keys;
mod lock;
mod packer;
mod records;
mod snapshots;
mod verify;
mod verify_pieces;

#[cfg(feature = "internals")]
pub use index_io::INDEX_FILE_BLOBS;
pub use index_io::IndexWriter;

pub use records::RecordEntry;
#[cfg(feature = "internals")]
pub use records::{RECORDS_KEPT, UnreadableRecord};
pub use snapshots::{SnapshotEntry, UnreadableSnapshot};

use std::sync::{Arc, RwLock};

use rayon::prelude::*;

#[cfg(feature = "internals")]
pub use id_sets::BlobIdSet;
pub use id_sets::DedupSet;
pub use index::{BlobLocation, MasterIndex};
pub use init_options::InitOptions;
pub use keys::{Credential, KeyInfo, NewKey};
#[cfg(feature = "internals")]
pub use lock::STALE_AFTER_SECS;
pub(crate) use lock::is_stale;
pub use lock::{BACKUP_WAITS_FOR, LockGuard, LockHolder, LockKind};
pub use packer::{Packer, PackerOptions};

use crate::backend::{Backend, BackendError, FileType, Storage};
use crate::chunk::ChunkerConfig;
use crate::codec;
use crate::crypto::keys::{BlobIdentity, MasterKey, SecretKey};
use crate::error::{Error, Result};
use crate::format::config::Config;
use crate::format::pack::PackEntry;
use crate::format::{BlobType, FormatError};
use crate::id::{BlobId, Id, KeyId, PackId};
use cache::Cache;
pub(crate) use cache::default_dir as default_cache_dir;

/// Files of one type: those that loaded, and each that did not with its error.
pub(crate) type LoadedAll<T> = (Vec<(Id, T)>, Vec<(Id, Error)>);

/// A pack read in full: its header entries, and each damaged blob with its error.
pub type VerifiedPack = (Vec<PackEntry>, Vec<(PackEntry, Error)>);

struct Inner {
    backend: Arc<dyn Backend>,
    /// Parallel uploads.
    connections: usize,
    /// The local cache of a remote repository.
    cache: Option<Cache>,
    key: MasterKey,
    key_id: KeyId,
    config: Config,
    chunker: ChunkerConfig,
    /// Cached master index; cleared when this handle writes an index file.
    index: RwLock<Option<Arc<MasterIndex>>>,
}

/// An open (unlocked) repository. Cheap to clone; safe to share across threads.
#[derive(Clone)]
pub struct Repository {
    inner: Arc<Inner>,
    /// Whether this handle reads through the cache (see [`Self::without_cache`]).
    cached: bool,
    /// How long taking a lock waits for a conflicting one to go away
    /// (`None`: backups wait up to `BACKUP_WAITS_FOR`, others not at all).
    lock_retry: Option<std::time::Duration>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("location", &self.location())
            .field("id", &self.inner.config.id)
            .finish()
    }
}

impl Repository {
    /// Creates a repository on an empty storage location, protected by `first_key`.
    ///
    /// Order: layout, key file, then config (a location with a config is a
    /// repository, so a crash leaves either nothing or a usable repository).
    ///
    /// # Errors
    /// [`Error::RepositoryExists`] when a config or key is already there;
    /// [`Error::InvalidInput`] for bad options; storage errors.
    pub fn init(
        storage: &Storage,
        opts: &InitOptions,
        first_key: &NewKey,
        holder: &LockHolder,
    ) -> Result<Self> {
        let backend = storage.backend().clone();
        let mut config = Config::new(opts.chunker, opts.compression, opts.pack_size);
        if let Some(b) = &opts.blob_identity {
            config.chunker = b.params;
            config.version = crate::format::SHARED_IDS_VERSION;
            let mut keys = b.id.expose().to_vec();
            keys.extend_from_slice(b.chunker.expose());
            config.blob_keys = Some(serde_bytes::ByteBuf::from(keys));
        }
        if opts.append_only {
            config.version = crate::format::APPEND_ONLY_VERSION;
            config.append_only = true;
        }
        config
            .validate()
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        let location = backend.location();
        let exists = |ft| backend.list(ft).map(|l| !l.is_empty());
        match exists(FileType::Config) {
            Ok(true) => return Err(Error::RepositoryExists { location }),
            Ok(false) | Err(BackendError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if exists(FileType::Key).unwrap_or(false) {
            return Err(Error::RepositoryExists { location });
        }
        backend.create_layout()?;
        let key = MasterKey::generate();
        let key_file = keys::build_key_file(&key, first_key, holder)?;
        let key_id = KeyId(Id::hash_of(&key_file));
        backend.write_new(FileType::Key, &key_id.to_hex(), &key_file)?;
        // (a version-3 config holds the shared blob keys: wiped after use)
        let plain = zeroize::Zeroizing::new(config.encode());
        let sealed = codec::seal_file(&key, FileType::Config, &plain, 0);
        backend.write_new(FileType::Config, "config", &sealed)?;
        Self::assemble(storage, key, key_id, config)
    }

    /// Opens a repository with a passphrase or identity.
    ///
    /// # Errors
    /// [`Error::NoRepository`], [`Error::WrongPassword`], or
    /// [`Error::Corrupt`] when the config does not authenticate.
    pub fn open(storage: &Storage, credential: &Credential<'_>) -> Result<Self> {
        let backend = storage.backend().clone();
        let sealed_config = match backend.read(FileType::Config, "config") {
            Ok(b) => b,
            Err(BackendError::NotFound { .. }) => {
                return Err(Error::NoRepository {
                    location: backend.location(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let (key, key_id) = match keys::unlock(backend.as_ref(), credential) {
            Err(e) => {
                return Err(
                    match foreign::foreign_tool(backend.as_ref(), &sealed_config) {
                        Some(tool) => Error::ForeignRepository {
                            location: backend.location(),
                            tool,
                        },
                        None => e,
                    },
                );
            }
            Ok(k) => k,
        };
        let plain = codec::open_file(&key, FileType::Config, &sealed_config)
            .map(zeroize::Zeroizing::new)
            .map_err(|e| Error::corrupt("config", "config", e))?;
        let config = Config::decode(&plain).map_err(|e| Error::corrupt("config", "config", e))?;
        Self::assemble(storage, key, key_id, config)
    }

    fn assemble(
        storage: &Storage,
        mut key: MasterKey,
        key_id: KeyId,
        mut config: Config,
    ) -> Result<Self> {
        if let Some(keys) = config.blob_keys.take() {
            // (the config a caller sees never holds them)
            let keys = zeroize::Zeroizing::new(keys.into_vec());
            let bad = || {
                let e = FormatError::Invalid {
                    what: "config",
                    msg: "blob_keys of the wrong length".into(),
                };
                Error::corrupt("config", "config", e)
            };
            key.id = SecretKey::from_slice(&keys[..32.min(keys.len())]).ok_or_else(bad)?;
            key.chunker = SecretKey::from_slice(keys.get(32..).unwrap_or(&[])).ok_or_else(bad)?;
        }
        let backend = storage.bounded_backend();
        let cache = storage
            .cache_dir()
            .and_then(|base| Cache::open(base, &config.id.to_hex()));
        let chunker = ChunkerConfig::new(config.chunker, &key.chunker).map_err(|m| {
            Error::corrupt(
                "config",
                "config",
                FormatError::Invalid {
                    what: "config",
                    msg: m,
                },
            )
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                connections: storage.connections(),
                cache,
                key,
                key_id,
                config,
                chunker,
                index: RwLock::new(None),
            }),
            cached: true,
            lock_retry: None,
        })
    }

    /// This repository read without its local cache: what `check`,
    /// `repair` and drills use, since they must see what the storage holds.
    #[must_use]
    pub fn without_cache(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            cached: false,
            lock_retry: self.lock_retry,
        }
    }

    /// This repository, with locks that wait up to `retry` for a
    /// conflicting lock to be released (checking again with a growing
    /// pause, at most 10 s) before failing with [`Error::Locked`]. By
    /// default only a backup waits (up to [`BACKUP_WAITS_FOR`], for a
    /// prune that deletes at once); everything else fails at once.
    #[must_use]
    pub fn with_lock_retry(mut self, retry: std::time::Duration) -> Self {
        self.lock_retry = Some(retry);
        self
    }

    /// How many requests go to the storage at once (and uploads run).
    pub(crate) fn connections(&self) -> usize {
        self.inner.connections
    }

    /// The cache, when this handle reads through one.
    fn cache(&self) -> Option<&Cache> {
        self.inner.cache.as_ref().filter(|_| self.cached)
    }

    /// Where the repository lives.
    #[must_use]
    pub fn location(&self) -> String {
        self.inner.backend.location()
    }

    /// The repository config.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The id of the key file that opened this repository.
    #[must_use]
    pub fn key_id(&self) -> KeyId {
        self.inner.key_id
    }

    /// This repository's blob identity, for a new repository that should
    /// chunk and name data the same way (`init --copy-chunker-params`).
    /// Whoever opens that repository can then compute this one's chunk
    /// boundaries and blob ids, though not read its data (docs/format.md).
    #[must_use]
    pub fn blob_identity(&self) -> BlobIdentity {
        BlobIdentity {
            id: self.inner.key.id.clone(),
            chunker: self.inner.key.chunker.clone(),
            params: self.inner.config.chunker,
        }
    }

    /// The keyed chunker for this repository.
    #[must_use]
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn chunker(&self) -> &ChunkerConfig {
        &self.inner.chunker
    }

    /// The id a blob with this plaintext has in this repository.
    #[must_use]
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn blob_id(&self, plaintext: &[u8]) -> BlobId {
        crate::crypto::hash::blob_id(&self.inner.key.id, plaintext)
    }

    /// Compresses and seals a blob for storing.
    #[must_use]
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn seal_blob(&self, blob_type: BlobType, id: &BlobId, plaintext: &[u8]) -> Vec<u8> {
        codec::seal_blob(
            &self.inner.key,
            blob_type,
            id,
            plaintext,
            self.inner.config.compression,
        )
    }

    /// [`Self::seal_blob`] into `out` (cleared first), for callers that
    /// seal many blobs and reuse one buffer.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn seal_blob_into(
        &self,
        blob_type: BlobType,
        id: &BlobId,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) {
        codec::seal_blob_into(
            &self.inner.key,
            blob_type,
            id,
            plaintext,
            self.inner.config.compression,
            &crate::crypto::rng::bytes(),
            out,
        );
    }

    /// The storage backend.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    pub(crate) fn key(&self) -> &MasterKey {
        &self.inner.key
    }

    /// Names of all objects of a type, as ids (other names are skipped).
    ///
    /// # Errors
    /// Storage errors.
    pub fn list_ids(&self, ft: FileType) -> Result<Vec<Id>> {
        Ok(self
            .inner
            .backend
            .list(ft)?
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect())
    }

    /// Removes a stored object; removing an absent one is not an error.
    /// Callers delete only what something durable has replaced.
    ///
    /// # Errors
    /// Storage errors.
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn remove_file(&self, ft: FileType, id: &Id) -> Result<()> {
        let path = ft.path(&id.to_hex());
        self.refuse_if_append_only(&format!("removing {path}"))?;
        Ok(self.inner.backend.remove(ft, &id.to_hex())?)
    }

    /// Whether this repository is append-only (`init --append-only`): rdr
    /// deletes nothing from it but its own lock files.
    #[must_use]
    pub fn append_only(&self) -> bool {
        self.inner.config.append_only
    }

    /// [`Error::AppendOnly`] naming `what` when the repository is
    /// append-only.
    ///
    /// # Errors
    /// As above.
    pub fn refuse_if_append_only(&self, what: &str) -> Result<()> {
        if self.append_only() {
            return Err(Error::AppendOnly {
                location: self.inner.backend.location(),
                what: what.to_owned(),
            });
        }
        Ok(())
    }

    /// The size of a stored object in bytes.
    ///
    /// # Errors
    /// [`Error::Backend`] (not found, or the storage failed).
    pub fn stat_file(&self, ft: FileType, id: &Id) -> Result<u64> {
        Ok(self.inner.backend.stat(ft, &id.to_hex())?)
    }

    /// Loads any blob the index lists, data or tree, verified against its id.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no index lists it, [`Error::Corrupt`] when it
    /// fails to open or verify.
    pub fn read_blob(&self, id: &BlobId) -> Result<Vec<u8>> {
        let loc = self
            .index()?
            .lookup(id)
            .ok_or_else(|| Error::NotFound(format!("blob {id} is not in the index")))?;
        self.load_blob_at(id, &loc)
    }

    /// Resolves a unique hex prefix of an object's id.
    ///
    /// # Errors
    /// [`Error::NotFound`] for no match, [`Error::InvalidInput`] when ambiguous.
    pub fn find_id(&self, ft: FileType, prefix: &str) -> Result<Id> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidInput(format!(
                "{prefix:?} is not a hex id or id prefix"
            )));
        }
        let matches: Vec<Id> = self
            .list_ids(ft)?
            .into_iter()
            .filter(|id| id.to_hex().starts_with(&prefix))
            .collect();
        match matches.as_slice() {
            [one] => Ok(*one),
            [] => Err(Error::NotFound(format!(
                "no {} with id {prefix}",
                ft.name()
            ))),
            _ => Err(Error::InvalidInput(format!(
                "{} id prefix {prefix} is ambiguous ({} matches)",
                ft.name(),
                matches.len()
            ))),
        }
    }

    /// Loads every file of a type in parallel: the ones that load, and the
    /// decode errors of those that do not (each naming its file). A file
    /// deleted while listing is skipped; a storage error stops it all.
    pub(crate) fn load_all<T: Send>(
        &self,
        ft: FileType,
        load: impl Fn(&Id) -> Result<T> + Sync,
    ) -> Result<LoadedAll<T>> {
        let ids = self.list_ids(ft)?;
        if let Some(c) = self
            .cache()
            .filter(|_| ft != FileType::Pack && Cache::holds(ft))
        {
            c.retain(ft, &ids.iter().map(Id::to_hex).collect());
        }
        let loaded: Vec<(Id, Result<T>)> = ids.par_iter().map(|id| (*id, load(id))).collect();
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for (id, r) in loaded {
            match r {
                Ok(v) => ok.push((id, v)),
                Err(Error::Backend(BackendError::NotFound { .. })) => {}
                Err(e @ Error::Backend(_)) => return Err(e),
                Err(e) => bad.push((id, e)),
            }
        }
        Ok((ok, bad))
    }

    /// Seals and stores a file, named by the hash of its stored bytes.
    pub(crate) fn save_file(&self, ft: FileType, payload: &[u8]) -> Result<Id> {
        let sealed = codec::seal_file(&self.inner.key, ft, payload, self.inner.config.compression);
        let id = Id::hash_of(&sealed);
        let name = id.to_hex();
        match self.inner.backend.write_new(ft, &name, &sealed) {
            // The name is the hash of these bytes: an object of that name
            // and size is this one, stored by an earlier attempt whose
            // answer was lost (a retried write on a store that enforces
            // create-if-absent).
            Err(BackendError::AlreadyExists { .. })
                if self.inner.backend.stat(ft, &name)? == sealed.len() as u64 =>
            {
                Ok(id)
            }
            other => other.map(|()| id).map_err(Error::from),
        }
    }

    /// Loads, verifies the name of, and opens a sealed file.
    pub(crate) fn load_file(&self, ft: FileType, id: &Id) -> Result<Vec<u8>> {
        let name = id.to_hex();
        let cache = self.cache().filter(|_| Cache::holds(ft));
        if let Some(bytes) = cache.and_then(|c| c.get(ft, &name)) {
            match codec::open_file(&self.inner.key, ft, &bytes) {
                Ok(plain) => return Ok(plain),
                Err(_) => cache.into_iter().for_each(|c| c.remove(ft, &name)),
            }
        }
        let bytes = self.inner.backend.read(ft, &name)?;
        if Id::hash_of(&bytes) != *id {
            let noun = codec::file_noun(ft);
            return Err(Error::corrupt(
                noun,
                id,
                FormatError::Invalid {
                    what: noun,
                    msg: "content does not match its name (hash mismatch)".into(),
                },
            ));
        }
        let plain = codec::open_file(&self.inner.key, ft, &bytes)
            .map_err(|e| Error::corrupt(codec::file_noun(ft), id, e))?;
        if let Some(c) = cache {
            c.put(ft, &name, &bytes);
        }
        Ok(plain)
    }

    /// A packer that writes new packs to this repository.
    #[must_use]
    #[cfg_attr(feature = "internals", visibility::make(pub))]
    pub(crate) fn packer(&self, opts: PackerOptions) -> Packer {
        Packer::new(self.clone(), opts)
    }
}

/// A damaged blob, named with its pack.
fn blob_error(id: &BlobId, pack: &PackId, e: FormatError) -> Error {
    Error::corrupt("blob", format!("{id} (in pack {})", pack.short()), e)
}

/// A repository on a fresh memory backend, passphrase "pw", cheap scrypt.
#[cfg(test)]
pub(crate) fn test_repo(opts: &InitOptions) -> Repository {
    let key = NewKey::Passphrase {
        passphrase: "pw".to_owned().into(),
        log_n: 10,
    };
    let backend = Arc::new(crate::backend::MemoryBackend::new().expect("memory backend"));
    Repository::init(
        &Storage::from_backend(backend),
        opts,
        &key,
        &LockHolder::current(),
    )
    .expect("init")
}

#[cfg(test)]
mod tests;
