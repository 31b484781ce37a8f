//! # rdr-core
//!
//! The library behind `rdr`: a content-addressed, deduplicating, encrypted
//! backup repository. Data is split into content-defined chunks (FastCDC
//! with a secret gear table), identified by keyed BLAKE3, compressed (zstd),
//! sealed (XChaCha20-Poly1305) and packed into immutable pack files on any
//! storage OpenDAL reaches. The master key is wrapped with age (passphrase
//! or X25519), one key file per slot.
//!
//! ```
//! use std::sync::Arc;
//! use rdr_core::{backend::MemoryBackend, BlobType, Credential, InitOptions, LockHolder, NewKey, PackerOptions, Repository};
//!
//! # fn main() -> Result<(), rdr_core::Error> {
//! let storage = Arc::new(MemoryBackend::new()?);
//! let key = NewKey::Passphrase { passphrase: "correct horse".to_owned().into(), log_n: 10 };
//! Repository::init(storage.clone(), &InitOptions::default(), &key, &LockHolder::current())?;
//!
//! // Store a blob: hash, seal, pack, upload, then index it.
//! let repo = Repository::open(storage.clone(), &Credential::Passphrase("correct horse"))?;
//! let data = b"pg_dump output ...".to_vec();
//! let id = repo.blob_id(&data);
//! let packer = repo.packer(PackerOptions::default());
//! packer.add(BlobType::Data, id, &repo.seal_blob(BlobType::Data, &id, &data), data.len() as u32)?;
//! let mut index = rdr_core::format::index::IndexFile::new();
//! index.packs = packer.finish()?;
//! repo.save_index(&index)?;
//!
//! // Read it back from a fresh session: the blob is verified against its id.
//! let repo = Repository::open(storage, &Credential::Passphrase("correct horse"))?;
//! assert_eq!(repo.load_blob(BlobType::Data, &id)?, data);
//! # Ok(()) }
//! ```
//!
//! ## Layers
//! * `id`, `error`: vocabulary.
//! * [`format`], [`crypto`], [`codec`], [`chunk`], [`compress`]: pure code, no I/O.
//! * [`backend`]: storage of opaque named objects (knows no crypto).
//! * [`repo`]: the only place that combines storage, crypto and format.
//!
//! See docs/architecture.md and docs/format.md in the repository.

#![deny(missing_docs)]

pub mod backend;
pub mod chunk;
pub mod codec;
pub mod compress;
pub mod crypto;
mod error;
pub mod format;
mod id;
pub mod ops;
pub mod repo;
pub mod time;

pub use crypto::wrap::{DEFAULT_LOG_N, Identities, Recipient, generate_identity, parse_recipient};
pub use error::{Error, ErrorKind, Result};
pub use format::BlobType;
pub use format::config::Config;
pub use id::{BlobId, ID_LEN, Id, IndexId, KeyId, LockId, PackId, ParseIdError, SnapshotId};
pub use repo::{
    BlobIdSet, Credential, DedupSet, InitOptions, KeyInfo, Location, LockGuard, LockHolder,
    LockKind, MasterIndex, NewKey, Packer, PackerOptions, Repository,
};
