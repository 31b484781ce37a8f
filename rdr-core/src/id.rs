//! Identifiers: the 32-byte [`Id`] and the typed ids built on it.
//!
//! Chunk and tree ids are keyed BLAKE3 hashes of a blob's plaintext; the ids
//! of stored files (packs, index files, snapshots, locks, key files) are the
//! plain BLAKE3 hash of the stored bytes. Depends on nothing else in the crate.

use std::fmt;
use std::str::FromStr;

/// Length of an [`Id`] in bytes.
pub const ID_LEN: usize = 32;

/// A 32-byte identifier, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Id(pub [u8; ID_LEN]);

impl Id {
    /// The plain (unkeyed) BLAKE3 hash of `bytes`: the name of a stored file.
    #[must_use]
    pub fn hash_of(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// The id as lowercase hex.
    #[must_use]
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(ID_LEN * 2);
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        s
    }

    /// The first eight hex digits, for messages and short listings.
    #[must_use]
    pub fn short(&self) -> String {
        let mut s = self.to_hex();
        s.truncate(8);
        s
    }

    /// Builds an id from a slice that must be exactly [`ID_LEN`] bytes long.
    #[must_use]
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; ID_LEN]>::try_from(bytes).ok().map(Self)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The text given to [`Id::from_str`] was not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid id {0:?}: expected 64 hex digits")]
pub struct ParseIdError(pub String);

impl FromStr for Id {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseIdError(s.chars().take(80).collect());
        let bytes = s.as_bytes();
        if bytes.len() != ID_LEN * 2 {
            return Err(err());
        }
        let mut out = [0u8; ID_LEN];
        for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            let hi = hex_val(pair[0]).ok_or_else(err)?;
            let lo = hex_val(pair[1]).ok_or_else(err)?;
            *o = (hi << 4) | lo;
        }
        Ok(Self(out))
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

/// CBOR (and other binary formats) store an id as a 32-byte byte string;
/// human-readable formats (JSON) as hex.
impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 32-byte id")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Id, E> {
                Id::from_slice(v).ok_or_else(|| E::invalid_length(v.len(), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Id, E> {
                v.parse().map_err(E::custom)
            }
        }
        if d.is_human_readable() {
            d.deserialize_str(V)
        } else {
            d.deserialize_bytes(V)
        }
    }
}

/// Declares a typed id: a newtype over [`Id`] so that, say, a pack id is
/// never passed where a chunk id is expected.
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Id);

        impl $name {
            /// The id as lowercase hex.
            #[must_use]
            pub fn to_hex(&self) -> String {
                self.0.to_hex()
            }
            /// The first eight hex digits.
            #[must_use]
            pub fn short(&self) -> String {
                self.0.short()
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.short())
            }
        }
        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}

typed_id!(
    /// The id of a blob (a data chunk or a tree): keyed BLAKE3 of its plaintext.
    BlobId
);
typed_id!(
    /// The id of a pack file: BLAKE3 of the pack's bytes.
    PackId
);
typed_id!(
    /// The id of an index file: BLAKE3 of the stored bytes.
    IndexId
);
typed_id!(
    /// The id of a snapshot file: BLAKE3 of the stored bytes.
    SnapshotId
);
typed_id!(
    /// The id of a key file: BLAKE3 of the stored bytes.
    KeyId
);
typed_id!(
    /// The id of a lock file: BLAKE3 of the stored bytes.
    LockId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let id = Id::hash_of(b"abc");
        let s = id.to_hex();
        assert_eq!(s.len(), 64);
        assert_eq!(s.parse::<Id>().unwrap(), id);
        assert_eq!(id.short(), &s[..8]);
    }

    #[test]
    fn rejects_bad_hex() {
        assert!("zz".parse::<Id>().is_err());
        assert!("g".repeat(64).parse::<Id>().is_err());
        assert!("ab".repeat(33).parse::<Id>().is_err());
    }
}
