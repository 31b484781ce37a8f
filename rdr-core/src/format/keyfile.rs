//! Key files (`keys/`): one age-wrapped copy of the master secret each.
//!
//! Layout: `"RDRKEY" ‖ version (1) = 1 ‖ reserved (1) = 0 ‖ age length (u32 LE)
//! ‖ age file ‖ sealed metadata`. The metadata (who added the key, when, of
//! which kind) is sealed with the repository's data key, so the storage
//! learns nothing from it while any unlocked client can list every key.

use serde::{Deserialize, Serialize};

use super::{FormatError, from_cbor, le_u32, to_cbor};

/// Magic at the start of a key file.
pub const MAGIC: &[u8; 6] = b"RDRKEY";
/// Key file container version.
pub const VERSION: u8 = 1;
/// Upper bound on the age part (an age file for a few recipients is < 4 KiB).
pub const MAX_AGE_LEN: u32 = 1 << 20;

/// A key file split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// The age file wrapping the master secret.
    pub age: Vec<u8>,
    /// Sealed CBOR [`KeyMeta`].
    pub sealed_meta: Vec<u8>,
}

impl KeyFile {
    /// Lays the parts out.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.age.len() + self.sealed_meta.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(0);
        out.extend_from_slice(
            &u32::try_from(self.age.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        out.extend_from_slice(&self.age);
        out.extend_from_slice(&self.sealed_meta);
        out
    }

    /// Splits a key file.
    ///
    /// # Errors
    /// [`FormatError`] for a bad magic, version or length.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        const WHAT: &str = "key file";
        if bytes.len() < 12 {
            return Err(FormatError::Truncated {
                what: WHAT,
                need: 12,
                have: bytes.len(),
            });
        }
        if &bytes[..6] != MAGIC {
            return Err(FormatError::BadMagic { what: WHAT });
        }
        if bytes[6] != VERSION || bytes[7] != 0 {
            return Err(FormatError::UnsupportedVersion {
                what: WHAT,
                version: u32::from(bytes[6]),
            });
        }
        let age_len = le_u32(WHAT, bytes, 8)?;
        if age_len > MAX_AGE_LEN {
            return Err(FormatError::TooLarge {
                what: "key file age part",
                len: u64::from(age_len),
                max: u64::from(MAX_AGE_LEN),
            });
        }
        let end = 12 + age_len as usize;
        let age = bytes.get(12..end).ok_or(FormatError::Truncated {
            what: WHAT,
            need: end,
            have: bytes.len(),
        })?;
        Ok(Self {
            age: age.to_vec(),
            sealed_meta: bytes[end..].to_vec(),
        })
    }
}

/// Kinds of key slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// scrypt passphrase.
    Passphrase,
    /// X25519 recipients (age identity files).
    X25519,
}

/// Metadata of a key slot (sealed inside the key file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMeta {
    /// Passphrase or X25519.
    pub kind: KeyKind,
    /// Unix time of creation.
    pub created: i64,
    /// Host that added the key.
    pub host: String,
    /// User that added the key.
    pub user: String,
    /// For X25519 slots, the `age1...` recipients.
    pub recipients: Vec<String>,
}

impl KeyMeta {
    /// CBOR encoding.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        to_cbor(self)
    }

    /// Decodes key metadata.
    ///
    /// # Errors
    /// [`FormatError`] for malformed CBOR.
    pub fn decode(bytes: &[u8]) -> Result<Self, FormatError> {
        from_cbor("key metadata", bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_round_trip() {
        let k = KeyFile {
            age: b"age-bytes".to_vec(),
            sealed_meta: b"meta".to_vec(),
        };
        let b = k.encode();
        assert_eq!(KeyFile::decode(&b).unwrap(), k);
        assert!(KeyFile::decode(&b[..15]).is_err());
        let mut bad = b.clone();
        bad[0] = b'X';
        assert!(matches!(
            KeyFile::decode(&bad),
            Err(FormatError::BadMagic { .. })
        ));
    }
}
