//! On-disk format v1: bytes ↔ plaintext structures, with no I/O.
//!
//! Every decoder is `decode(&[u8]) -> Result<T, FormatError>` and checks
//! lengths before it slices. docs/format.md specifies every byte; the test
//! vectors under tests/vectors/ pin it. Depends on `id` and `chunk` (for the
//! chunker parameters stored in the config).

pub mod config;
pub mod index;
pub mod keyfile;
pub mod lock;
pub mod pack;
pub mod record;
pub mod snapshot;
pub mod tree;

use serde::{Serialize, de::DeserializeOwned};

/// The repository format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Repository format version written by `init` (the config's `version`):
/// 2 pads packs (docs/format.md §6). Version-1 repositories stay readable
/// and keep being written as version 1.
pub const REPO_VERSION: u32 = 2;
/// The repository format of a repository that shares its blob identity
/// (id and chunker keys) with another (`init --copy-chunker-params`):
/// version 2 plus the config's `blob_keys`.
pub const SHARED_IDS_VERSION: u32 = 3;
/// The repository format of an append-only repository (`init
/// --append-only`): version 3's config with `append_only` set and
/// `blob_keys` optional. Builds that read at most version 3 refuse it, so
/// none of them deletes from it.
pub const APPEND_ONLY_VERSION: u32 = 4;

/// Errors decoding repository bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Fewer bytes than the structure needs.
    #[error("{what} truncated: need {need} bytes, have {have}")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// Bytes left over after the structure.
    #[error("{what}: {extra} unexpected trailing bytes")]
    Trailing {
        /// What was being decoded.
        what: &'static str,
        /// Bytes left over.
        extra: usize,
    },
    /// A magic number did not match.
    #[error("{what}: bad magic (not an rdr object, or another format)")]
    BadMagic {
        /// What was being decoded.
        what: &'static str,
    },
    /// A version this build does not know.
    #[error("{what}: unsupported version {version} (this build reads version {FORMAT_VERSION})")]
    UnsupportedVersion {
        /// What was being decoded.
        what: &'static str,
        /// The version found.
        version: u32,
    },
    /// The CBOR structure did not match the expected schema.
    #[error("{what}: invalid CBOR: {msg}")]
    Cbor {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's message.
        msg: String,
    },
    /// A field holds a value that is not allowed.
    #[error("{what}: {msg}")]
    Invalid {
        /// What was being decoded.
        what: &'static str,
        /// What is wrong.
        msg: String,
    },
    /// A size exceeds its limit.
    #[error("{what}: size {len} exceeds the limit of {max}")]
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// The size found.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// An unknown compression codec byte.
    #[error("unknown compression codec {0}")]
    UnknownCodec(u8),
    /// A zstd frame failed to decompress.
    #[error("decompression failed: {0}")]
    Decompress(String),
    /// Authentication of sealed bytes failed (the object is named by the caller).
    #[error("authentication failed (corrupted, or not sealed by this repository's key)")]
    Unauthenticated {
        /// What was being opened.
        what: &'static str,
    },
    /// A blob's content does not hash to its id.
    #[error("blob content does not match its id")]
    IdMismatch,
}

/// The two kinds of blob. Data and tree blobs go to separate packs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum BlobType {
    /// A chunk of file content.
    Data,
    /// A directory listing (tree).
    Tree,
}

impl BlobType {
    /// The byte that encodes this type in pack headers, index files and AAD.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Self::Data => 0,
            Self::Tree => 1,
        }
    }

    /// Decodes a type byte.
    ///
    /// # Errors
    /// [`FormatError::Invalid`] for an unknown code.
    pub fn from_code(code: u8) -> Result<Self, FormatError> {
        match code {
            0 => Ok(Self::Data),
            1 => Ok(Self::Tree),
            c => Err(FormatError::Invalid {
                what: "blob type",
                msg: format!("unknown blob type {c}"),
            }),
        }
    }

    /// Lowercase name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Tree => "tree",
        }
    }
}

/// Encodes a value as CBOR.
pub(crate) fn to_cbor<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and our types serialize infallibly.
    if let Err(e) = ciborium::into_writer(v, &mut out) {
        unreachable_cbor(&e.to_string());
    }
    out
}

#[cold]
fn unreachable_cbor(msg: &str) -> ! {
    panic!("CBOR encoding into memory failed: {msg}")
}

/// Decodes CBOR, rejecting trailing bytes.
pub(crate) fn from_cbor<T: DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, FormatError> {
    let mut rd = bytes;
    let v = ciborium::de::from_reader_with_recursion_limit(&mut rd, 64).map_err(|e| {
        FormatError::Cbor {
            what,
            msg: e.to_string(),
        }
    })?;
    if !rd.is_empty() {
        return Err(FormatError::Trailing {
            what,
            extra: rd.len(),
        });
    }
    Ok(v)
}

/// Reads a little-endian u32 at `at`.
pub(crate) fn le_u32(what: &'static str, b: &[u8], at: usize) -> Result<u32, FormatError> {
    let s = b.get(at..at + 4).ok_or(FormatError::Truncated {
        what,
        need: at + 4,
        have: b.len(),
    })?;
    let mut w = [0u8; 4];
    w.copy_from_slice(s);
    Ok(u32::from_le_bytes(w))
}
