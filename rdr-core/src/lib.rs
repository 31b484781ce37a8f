//! # rdr-core
//!
//! The library behind `rdr`: a content-addressed, deduplicating, encrypted
//! backup repository. Data is split into content-defined chunks (FastCDC
//! with a secret gear table), identified by keyed BLAKE3, compressed (zstd),
//! sealed (XChaCha20-Poly1305) and packed into immutable pack files on any
//! storage OpenDAL reaches. The master key is wrapped with age (passphrase
//! or X25519), one key file per slot.
//!
//! A backup of a directory and its restore, on a local repository:
//!
//! ```
//! use rdr_core::ops::backup::{BackupOptions, BackupSource, backup};
//! use rdr_core::ops::restore::{RestoreOptions, restore};
//! use rdr_core::{Credential, InitOptions, Location, LockHolder, NewKey, NoProgress, Repository, Storage};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("repo");
//! let storage = Storage::connect(&Location::local(path))?; // or Location::parse("s3:...")
//! let key = NewKey::Passphrase { passphrase: "correct horse".to_owned().into(), log_n: 10 };
//! Repository::init(&storage, &InitOptions::default(), &key, &LockHolder::current())?;
//! let repo = Repository::open(&storage, &Credential::Passphrase("correct horse"))?;
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
//! ## The API
//! Everything an embedder needs is re-exported here, at the crate root:
//! * where a repository lives: [`Location`] (restic's syntax) and
//!   [`Storage`], the connection a location gives;
//! * the repository: [`Repository`] (init, open, keys, locks, snapshots),
//!   [`InitOptions`], [`Credential`], [`NewKey`];
//! * what it stores: ids ([`SnapshotId`], [`BlobId`], ...), [`Snapshot`],
//!   [`Tree`], [`Node`], [`Record`], [`Config`];
//! * errors: [`Error`], with a stable [`ErrorKind`] for programs.
//!
//! The operations are in [`ops`], one module each: a function taking an
//! options struct and returning a report that serializes to JSON (so every
//! front end shows the same facts); progress flows through [`Progress`].
//! [`time`] parses and prints the durations and timestamps they take.
//!
//! The API listing checked in beside this crate (`public-api.txt`) is the
//! surface, and a test compares it with the code. The `internals` feature
//! exposes the layers below (storage, crypto, codec, format) to this
//! workspace's benches, fuzz targets and tests; it carries no stability
//! promise and is never on by default.
//!
//! ## Layers (docs/architecture.md)
//! * `id`, `kind`, `location`, `error`: vocabulary.
//! * `format`, `crypto`, `codec`, `chunk`, `compress`: pure code, no I/O.
//! * `backend`: storage of opaque named objects (knows no crypto).
//! * `repo`: the only place that combines storage, crypto and format.
//! * [`ops`]: the operations, built on `repo`.

#![deny(missing_docs)]

// The layers below the API: private, or public for this workspace's
// benches, fuzz targets and tests with the `internals` feature.
#[cfg(feature = "internals")]
pub mod backend;
#[cfg(not(feature = "internals"))]
mod backend;
#[cfg(feature = "internals")]
pub mod chunk;
#[cfg(not(feature = "internals"))]
mod chunk;
#[cfg(feature = "internals")]
pub mod codec;
#[cfg(not(feature = "internals"))]
mod codec;
#[cfg(feature = "internals")]
pub mod compress;
#[cfg(not(feature = "internals"))]
mod compress;
#[cfg(feature = "internals")]
pub mod crypto;
#[cfg(not(feature = "internals"))]
mod crypto;
#[cfg(feature = "internals")]
pub mod format;
#[cfg(not(feature = "internals"))]
mod format;
#[cfg(feature = "internals")]
pub mod repo;
#[cfg(not(feature = "internals"))]
mod repo;

mod aligned;
mod error;
mod id;
mod kind;
mod location;
pub mod ops;
pub mod plan;
pub mod process;
pub mod secrets;
pub mod time;
mod units;

pub use backend::{BackendError, Storage};
pub use chunk::ChunkerParams;
pub use crypto::CryptoError;
pub use crypto::keys::BlobIdentity;
pub use crypto::wrap::{DEFAULT_LOG_N, Identities, Recipient, generate_identity, parse_recipient};
pub use error::{Error, ErrorKind, Result};
pub use format::config::Config;
pub use format::index::{IndexBlob, IndexFile, IndexPack, ObsoletePack};
pub use format::keyfile::{KeyKind, KeyMeta};
pub use format::pack::PackEntry;
pub use format::record::{CheckRecord, DrillPhases, DrillRecord, Record, RecordKind};
pub use format::snapshot::{Incomplete, Snapshot, StreamInfo, Summary};
pub use format::tree::{Node, NodeKind, Tree, Xattr};
pub use format::{BlobType, FormatError};
pub use id::{BlobId, ID_LEN, Id, IndexId, KeyId, LockId, PackId, ParseIdError, SnapshotId};
/// The time-zone crate the retention policy uses (re-exported so callers pass the same `TimeZone`).
pub use jiff;

/// The newest repository format version this build reads and writes
/// (docs/format.md; it reads every version from 1).
pub const NEWEST_REPOSITORY_VERSION: u32 = format::APPEND_ONLY_VERSION;
pub use kind::FileType;
pub use location::{Endpoint, Location, LocationError};
pub use ops::progress::{JsonProgress, NoProgress, Progress};
pub use repo::{
    BACKUP_WAITS_FOR, Credential, InitOptions, KeyInfo, LockGuard, LockHolder, LockKind, NewKey,
    Repository, SnapshotEntry, UnreadableSnapshot,
};
pub use units::parse_size;
