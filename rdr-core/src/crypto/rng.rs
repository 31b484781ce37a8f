//! The one place where randomness enters rdr: nonces, keys and ids.

use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;

/// Fills `buf` from the operating system's CSPRNG.
pub fn fill(buf: &mut [u8]) {
    OsRng.fill_bytes(buf);
}

/// Returns `N` random bytes.
#[must_use]
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    fill(&mut b);
    b
}
