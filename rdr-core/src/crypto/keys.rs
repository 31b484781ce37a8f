//! The repository master key and the independent subkeys derived from it.
//!
//! The master secret is 32 random bytes. Every subkey is
//! `blake3::derive_key(context, master)` with its own context string, so
//! knowing one subkey reveals nothing about another or about the master.

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Context of the data encryption key (XChaCha20-Poly1305).
pub const CTX_DATA: &str = "rdr 2026-11-22 v1 data encryption key";
/// Context of the blob-id MAC key (keyed BLAKE3).
pub const CTX_ID: &str = "rdr 2026-11-22 v1 blob id key";
/// Context of the chunker secret (gear table).
pub const CTX_CHUNKER: &str = "rdr 2026-11-22 v1 chunker gear key";
/// Context of the pack-assignment key (keyed order of blobs across packs).
pub const CTX_PACK_ORDER: &str = "rdr 2026-11-22 v1 pack order key";

/// A 32-byte secret that is wiped from memory when dropped and never printed.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    #[cfg(any(test, feature = "internals"))]
    /// Wraps raw key bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    /// Copies key bytes (from a sealed config); `None` unless 32 bytes.
    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    /// The raw bytes (for handing to a primitive).
    #[must_use]
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Clone for SecretKey {
    fn clone(&self) -> Self {
        Self(self.0)
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// What decides a repository's chunk boundaries and blob ids: its chunker
/// parameters, chunker key and blob id key. A repository created with
/// another's blob identity (`init --copy-chunker-params`) chunks and names
/// data exactly as that one does, so copies between them and backups into
/// either deduplicate; its data key stays its own.
#[derive(Clone)]
pub struct BlobIdentity {
    pub(crate) id: SecretKey,
    pub(crate) chunker: SecretKey,
    pub(crate) params: crate::chunk::ChunkerParams,
}

impl std::fmt::Debug for BlobIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobIdentity")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// The repository master key with its derived subkeys.
pub struct MasterKey {
    master: SecretKey,
    /// Encrypts every blob and every repository file.
    pub data: SecretKey,
    /// Keys the BLAKE3 that computes blob ids.
    pub id: SecretKey,
    /// Seeds the chunker's secret gear table.
    pub chunker: SecretKey,
    /// Keys the spreading of a file's chunks across open packs.
    pub pack_order: SecretKey,
}

impl MasterKey {
    /// A fresh random master key.
    #[must_use]
    pub fn generate() -> Self {
        let raw = Zeroizing::new(super::rng::bytes::<32>());
        Self::from_secret(*raw)
    }

    /// Rebuilds the key set from the 32-byte master secret.
    #[must_use]
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let derive = |ctx: &str| SecretKey(blake3::derive_key(ctx, &secret));
        Self {
            data: derive(CTX_DATA),
            id: derive(CTX_ID),
            chunker: derive(CTX_CHUNKER),
            pack_order: derive(CTX_PACK_ORDER),
            master: SecretKey(secret),
        }
    }

    /// The master secret itself, for wrapping into a key file.
    #[must_use]
    pub fn secret(&self) -> &[u8; 32] {
        self.master.expose()
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subkeys_are_distinct_and_deterministic() {
        let a = MasterKey::from_secret([7; 32]);
        let b = MasterKey::from_secret([7; 32]);
        assert_eq!(a.data.expose(), b.data.expose());
        let all = [
            a.data.expose(),
            a.id.expose(),
            a.chunker.expose(),
            a.pack_order.expose(),
            a.secret(),
        ];
        for i in 0..all.len() {
            for j in i + 1..all.len() {
                assert_ne!(all[i], all[j]);
            }
        }
    }

    #[test]
    fn debug_is_redacted() {
        let k = MasterKey::from_secret([1; 32]);
        assert_eq!(format!("{k:?}"), "MasterKey(<redacted>)");
        assert!(!format!("{:?}", k.data).contains('1'));
    }
}
