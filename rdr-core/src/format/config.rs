//! The repository config: identity and the parameters every writer must use.

use serde::{Deserialize, Serialize};

use serde_bytes::ByteBuf;

use super::{
    APPEND_ONLY_VERSION, FORMAT_VERSION, FormatError, REPO_VERSION, SHARED_IDS_VERSION, from_cbor,
    to_cbor,
};
use crate::chunk::ChunkerParams;
use crate::id::Id;

/// Smallest allowed target pack size.
pub const MIN_PACK_SIZE: u32 = 1 << 20;
/// Largest allowed target pack size.
pub const MAX_PACK_SIZE: u32 = 512 << 20;

/// Repository config (`config`, sealed). Written once by `init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Repository format version: 1, 2 (packs padded; `REPO_VERSION`),
    /// 3 (version 2 with `blob_keys`; `SHARED_IDS_VERSION`), or 4 (append
    /// only, `blob_keys` optional; `APPEND_ONLY_VERSION`).
    pub version: u32,
    /// Random repository id.
    pub id: Id,
    /// Chunker parameters.
    pub chunker: ChunkerParams,
    /// zstd level for blobs and files; 0 stores everything raw.
    pub compression: i32,
    /// Target size of data packs in bytes.
    pub data_pack_size: u32,
    /// Target size of tree packs in bytes.
    pub tree_pack_size: u32,
    /// Version 3 only: the blob id key and the chunker key, taken from the
    /// repository this one shares its blob identity with (64 bytes: id key
    /// then chunker key). They replace the keys derived from this
    /// repository's master secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_keys: Option<ByteBuf>,
    /// Version 4 only, and then true: rdr deletes nothing from this
    /// repository (`init --append-only`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub append_only: bool,
}

impl Config {
    /// A new config with a random id and the given parameters.
    #[must_use]
    pub fn new(chunker: ChunkerParams, compression: i32, data_pack_size: u32) -> Self {
        Self {
            version: REPO_VERSION,
            id: Id(crate::crypto::rng::bytes()),
            chunker,
            compression,
            data_pack_size,
            tree_pack_size: (data_pack_size / 4).max(MIN_PACK_SIZE),
            blob_keys: None,
            append_only: false,
        }
    }

    /// CBOR encoding.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    /// Decodes and validates a config.
    ///
    /// # Errors
    /// [`FormatError`] for malformed CBOR, an unknown version or values out of range.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        let c: Self = from_cbor("config", bytes)?;
        if !(FORMAT_VERSION..=APPEND_ONLY_VERSION).contains(&c.version) {
            return Err(FormatError::UnsupportedVersion {
                what: "config",
                version: c.version,
            });
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks every parameter's range.
    ///
    /// # Errors
    /// [`FormatError::Invalid`] naming the bad value.
    pub fn validate(&self) -> Result<(), FormatError> {
        let inv = |msg: String| FormatError::Invalid {
            what: "config",
            msg,
        };
        self.chunker.validate().map_err(inv)?;
        match (&self.blob_keys, self.version) {
            (None, v) if v <= REPO_VERSION || v == APPEND_ONLY_VERSION => {}
            (Some(k), SHARED_IDS_VERSION | APPEND_ONLY_VERSION) if k.len() == 64 => {}
            (Some(k), SHARED_IDS_VERSION | APPEND_ONLY_VERSION) => {
                return Err(inv(format!("blob_keys of {} bytes, not 64", k.len())));
            }
            (None, v) => return Err(inv(format!("version {v} without blob_keys"))),
            (Some(_), v) => return Err(inv(format!("blob_keys in a version-{v} config"))),
        }
        if self.append_only != (self.version == APPEND_ONLY_VERSION) {
            return Err(inv(format!(
                "append_only {} in a version-{} config",
                self.append_only, self.version
            )));
        }
        if !(-7..=22).contains(&self.compression) {
            return Err(inv(format!(
                "compression level {} outside -7..22",
                self.compression
            )));
        }
        for (name, v) in [
            ("data pack size", self.data_pack_size),
            ("tree pack size", self.tree_pack_size),
        ] {
            if !(MIN_PACK_SIZE..=MAX_PACK_SIZE).contains(&v) {
                return Err(inv(format!("{name} {v} outside 1 MiB..512 MiB")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_keys_exactly_in_version_3() {
        let mut c = Config::new(ChunkerParams::default(), 3, 16 << 20);
        assert_eq!(Config::decode(&c.encode()).unwrap(), c);
        c.blob_keys = Some(ByteBuf::from(vec![7u8; 64]));
        assert!(
            Config::decode(&c.encode()).is_err(),
            "keys in a version-2 config"
        );
        c.version = SHARED_IDS_VERSION;
        assert_eq!(Config::decode(&c.encode()).unwrap(), c);
        c.blob_keys = Some(ByteBuf::from(vec![7u8; 63]));
        assert!(Config::decode(&c.encode()).is_err(), "short keys");
        c.blob_keys = None;
        assert!(
            Config::decode(&c.encode()).is_err(),
            "version 3 without keys"
        );
        c.version = 5;
        assert!(Config::decode(&c.encode()).is_err());
    }

    #[test]
    fn append_only_exactly_in_version_4_with_or_without_keys() {
        let mut c = Config::new(ChunkerParams::default(), 3, 16 << 20);
        c.append_only = true;
        assert!(Config::decode(&c.encode()).is_err(), "append_only in v2");
        c.version = APPEND_ONLY_VERSION;
        assert_eq!(Config::decode(&c.encode()).unwrap(), c);
        c.blob_keys = Some(ByteBuf::from(vec![7u8; 64]));
        assert_eq!(Config::decode(&c.encode()).unwrap(), c);
        c.blob_keys = Some(ByteBuf::from(vec![7u8; 65]));
        assert!(Config::decode(&c.encode()).is_err(), "long keys");
        c.blob_keys = None;
        c.append_only = false;
        assert!(Config::decode(&c.encode()).is_err(), "v4 without the flag");
        // a version-2 config does not carry the field at all
        let v2 = Config::new(ChunkerParams::default(), 3, 16 << 20);
        let value: ciborium::Value = ciborium::de::from_reader(&v2.encode()[..]).unwrap();
        let text = format!("{value:?}");
        assert!(!text.contains("append_only"), "{text}");
    }
}
