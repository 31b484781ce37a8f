//! # rdr-core
//!
//! The library behind `rdr`: a content-addressed, deduplicating, encrypted
//! backup repository. Data is split into content-defined chunks (FastCDC
//! with a secret gear table), identified by keyed BLAKE3, compressed (zstd),
//! sealed (XChaCha20-Poly1305) and packed into immutable pack files on any
//! storage OpenDAL reaches. The master key is wrapped with age (passphrase
//! or X25519), one key file per slot.
//!
//! A backup of a directory and its restore, on an in-memory repository:
//!
//! ```
//! use std::sync::Arc;
//! use rdr_core::ops::backup::{BackupOptions, BackupSource, backup};
//! use rdr_core::ops::{progress::NoProgress, restore::{RestoreOptions, restore}};
//! use rdr_core::{backend::MemoryBackend, Credential, InitOptions, LockHolder, NewKey, Repository};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let storage = Arc::new(MemoryBackend::new()?);
//! let key = NewKey::Passphrase { passphrase: "correct horse".to_owned().into(), log_n: 10 };
//! Repository::init(storage.clone(), &InitOptions::default(), &key, &LockHolder::current())?;
//! let repo = Repository::open(storage, &Credential::Passphrase("correct horse"))?;
//!
//! // Back up: chunk, hash, dedup, compress, seal, pack, upload, index, snapshot.
//! let src = tempfile::tempdir()?;
//! std::fs::write(src.path().join("app.conf"), "port = 5432\n")?;
//! let source = BackupSource::Paths(vec![src.path().to_path_buf()]);
//! let report = backup(&repo, source, &BackupOptions::default(), &NoProgress)?;
//!
//! // Restore elsewhere: every chunk is verified against its id before it is written.
//! let target = tempfile::tempdir()?;
//! restore(&repo, &report.snapshot, "", &RestoreOptions::new(target.path()), &NoProgress)?;
//! let copy = target.path().join(src.path().strip_prefix("/")?).join("app.conf");
//! assert_eq!(std::fs::read_to_string(copy)?, "port = 5432\n");
//! # Ok(()) }
//! ```
//!
//! ## Layers
//! * `id`, `error`: vocabulary.
//! * [`format`], [`crypto`], [`codec`], [`chunk`], [`compress`]: pure code, no I/O.
//! * [`backend`]: storage of opaque named objects (knows no crypto).
//! * [`repo`]: the only place that combines storage, crypto and format.
//! * [`ops`]: backup, restore, dump, ls, diff, find, stats, tag, built on
//!   [`repo`]; progress flows through [`ops::progress::Progress`].
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
/// The time-zone crate the retention policy uses (re-exported so callers pass the same `TimeZone`).
pub use jiff;
pub use repo::{
    BlobIdSet, Credential, DedupSet, InitOptions, KeyInfo, Location, LockGuard, LockHolder,
    LockKind, MasterIndex, NewKey, Packer, PackerOptions, Repository,
};
