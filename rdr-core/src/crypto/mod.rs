//! Cryptography: the master key and its subkeys, XChaCha20-Poly1305 sealing,
//! keyed BLAKE3 blob ids, and age wrapping of the master key.
//!
//! Pure code: no I/O. Randomness comes only from [`rng`].
//! Depends on `id` only.

pub mod aead;
pub mod hash;
pub mod keys;
pub mod rng;
pub mod wrap;

/// Errors of the crypto layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Authentication failed: the data was modified, or another key sealed it.
    #[error("authentication failed (data corrupted, or sealed under another key)")]
    Unauthenticated,
    /// The sealed data is shorter than nonce plus tag.
    #[error("sealed data too short: {len} bytes, need at least {min}")]
    TooShort {
        /// Bytes present.
        len: usize,
        /// Minimum length.
        min: usize,
    },
    /// The passphrase or identity does not open this key file.
    #[error("wrong password or identity")]
    WrongKey,
    /// The age layer failed for another reason.
    #[error("age: {0}")]
    Age(String),
    /// An identity file could not be parsed.
    #[error("invalid identity file: {0}")]
    Identity(String),
    /// A recipient string could not be parsed.
    #[error("invalid recipient {0:?}: expected an age X25519 recipient (age1...)")]
    Recipient(String),
}
