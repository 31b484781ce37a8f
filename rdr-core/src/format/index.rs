//! Index files: which pack holds each blob, at which offset.
//!
//! CBOR map `{version, supersedes, packs, obsolete}`; each pack is
//! `{id, blobs}` and each blob a 5-element array
//! `[type, id, offset, length, raw_length]` to keep large indexes compact.
//! `supersedes` lists index files this one replaces (compaction);
//! `obsolete` lists packs marked for deletion by a two-phase prune.

use serde::{Deserialize, Serialize};

use super::pack::PackEntry;
use super::{BlobType, FORMAT_VERSION, FormatError, from_cbor, to_cbor};
use crate::id::{BlobId, IndexId, PackId};

/// One blob's location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    into = "(u8, BlobId, u32, u32, u32)",
    try_from = "(u8, BlobId, u32, u32, u32)"
)]
pub struct IndexBlob {
    /// Data or tree.
    pub blob_type: BlobType,
    /// Blob id.
    pub id: BlobId,
    /// Offset of the sealed blob in its pack.
    pub offset: u32,
    /// Sealed length.
    pub length: u32,
    /// Plaintext length.
    pub raw_length: u32,
}

impl From<&PackEntry> for IndexBlob {
    fn from(e: &PackEntry) -> Self {
        Self {
            blob_type: e.blob_type,
            id: e.id,
            offset: e.offset,
            length: e.length,
            raw_length: e.raw_length,
        }
    }
}

impl From<IndexBlob> for (u8, BlobId, u32, u32, u32) {
    fn from(b: IndexBlob) -> Self {
        (b.blob_type.code(), b.id, b.offset, b.length, b.raw_length)
    }
}

impl TryFrom<(u8, BlobId, u32, u32, u32)> for IndexBlob {
    type Error = FormatError;
    fn try_from(
        (t, id, offset, length, raw_length): (u8, BlobId, u32, u32, u32),
    ) -> Result<Self, FormatError> {
        Ok(Self {
            blob_type: BlobType::from_code(t)?,
            id,
            offset,
            length,
            raw_length,
        })
    }
}

/// The blobs of one pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexPack {
    /// Pack id.
    pub id: PackId,
    /// Blobs in pack order.
    pub blobs: Vec<IndexBlob>,
}

/// A pack that a prune marked for deletion, and when (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObsoletePack {
    /// Pack id.
    pub id: PackId,
    /// Unix time of the marking.
    pub marked_at: i64,
}

/// An index file's plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IndexFile {
    /// Format version.
    pub version: u32,
    /// Index files this one replaces.
    pub supersedes: Vec<IndexId>,
    /// Packs and their blobs.
    pub packs: Vec<IndexPack>,
    /// Packs marked for deletion.
    pub obsolete: Vec<ObsoletePack>,
}

impl IndexFile {
    /// An empty index file of the current version.
    #[must_use]
    pub fn new() -> Self {
        Self {
            version: FORMAT_VERSION,
            ..Self::default()
        }
    }

    /// Number of blob entries.
    #[must_use]
    pub fn blob_count(&self) -> usize {
        self.packs.iter().map(|p| p.blobs.len()).sum()
    }

    /// CBOR encoding.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    /// Decodes an index file.
    ///
    /// # Errors
    /// [`FormatError`] for malformed CBOR or an unknown version.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let f: Self = from_cbor("index file", bytes)?;
        if f.version != FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion {
                what: "index file",
                version: f.version,
            });
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    #[test]
    fn round_trip() {
        let mut f = IndexFile::new();
        f.supersedes.push(IndexId(Id([9; 32])));
        f.packs.push(IndexPack {
            id: PackId(Id([1; 32])),
            blobs: vec![IndexBlob {
                blob_type: BlobType::Tree,
                id: BlobId(Id([2; 32])),
                offset: 0,
                length: 60,
                raw_length: 80,
            }],
        });
        f.obsolete.push(ObsoletePack {
            id: PackId(Id([3; 32])),
            marked_at: 1_700_000_000,
        });
        let b = f.encode();
        assert_eq!(IndexFile::decode(&b).unwrap(), f);
        assert!(IndexFile::decode(&b[..b.len() - 1]).is_err());
    }
}
